/*
 * zk_batch.c - synchronous-looking batches of asynchronous ZooKeeper
 * requests (zk_batch.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "errstr.h"
#include "zk_batch.h"

/* --- deadlines -------------------------------------------------------------- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void zkb_deadline_init(zkb_deadline_t *d, int timeout_ms)
{
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : ADMIN_TIMEOUT_MS_DEFAULT;
	d->at_ms = mono_ms() + d->timeout_ms;
}

int zkb_deadline_left(const zkb_deadline_t *d)
{
	int64_t left = d->at_ms - mono_ms();

	return left > 0 ? (int)left : 0;
}

/* --- request batches ------------------------------------------------------- */

void zkb_names_free(char **names, size_t cnt)
{
	for (size_t i = 0; names && i < cnt; i++)
		free(names[i]);
	free(names);
}

int zkb_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void zkb_batch_free(zkb_batch_t *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->cnt; i++) {
		free(b->reqs[i].data);
		zkb_names_free(b->reqs[i].names, b->reqs[i].name_cnt);
	}
	free(b);
}

zkb_batch_t *zkb_batch_new(size_t cnt)
{
	zkb_batch_t *b = calloc(1, sizeof(*b) + cnt * sizeof(zkb_req_t));

	if (!b)
		return NULL;
	b->cnt = cnt;
	for (size_t i = 0; i < cnt; i++) {
		b->reqs[i].batch = b;
		b->reqs[i].err = BROOK_ERR__STATE;
		b->reqs[i].failed_op = -1;
	}
	return b;
}

void zkb_req_submitted(zkb_req_t *r, brook_err_t err)
{
	if (err)
		r->err = err;
	else
		r->batch->pending++;
}

static void req_complete(zkb_req_t *r)
{
	zkb_batch_t *b = r->batch;

	if (--b->pending > 0)
		return;
	b->done = 1;
	if (b->abandoned)
		zkb_batch_free(b);
}

void zkb_on_data(zk_session_t *s, brook_err_t err, const char *data, size_t len,
		 const zk_stat_t *stat, void *opaque)
{
	zkb_req_t *r = opaque;

	(void)s;
	if (!r->batch->abandoned) {
		r->err = err;
		if (!err) {
			if (!(r->data = malloc(len + 1))) {
				r->err = BROOK_ERR__NOMEM;
			} else {
				if (len)
					memcpy(r->data, data, len);
				r->data[len] = '\0';
				r->len = len;
			}
		}
		if (stat) {
			r->stat = *stat;
			r->has_stat = 1;
		}
	}
	req_complete(r);
}

void zkb_on_children(zk_session_t *s, brook_err_t err, const char *const *names, size_t count,
		     const zk_stat_t *stat, void *opaque)
{
	zkb_req_t *r = opaque;

	(void)s;
	(void)stat;
	if (!r->batch->abandoned) {
		r->err = err;
		if (!err && count) {
			if (!(r->names = calloc(count, sizeof(*r->names)))) {
				r->err = BROOK_ERR__NOMEM;
			} else {
				r->name_cnt = count;
				for (size_t i = 0; i < count; i++)
					if (!(r->names[i] = strdup(names[i])))
						r->err = BROOK_ERR__NOMEM;
			}
		}
	}
	req_complete(r);
}

void zkb_on_stat(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	zkb_req_t *r = opaque;

	(void)s;
	if (!r->batch->abandoned) {
		r->err = err;
		if (stat) {
			r->stat = *stat;
			r->has_stat = 1;
		}
	}
	req_complete(r);
}

void zkb_on_create(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	zkb_req_t *r = opaque;

	(void)s;
	(void)path;
	if (!r->batch->abandoned)
		r->err = err;
	req_complete(r);
}

void zkb_on_void(zk_session_t *s, brook_err_t err, void *opaque)
{
	zkb_req_t *r = opaque;

	(void)s;
	if (!r->batch->abandoned)
		r->err = err;
	req_complete(r);
}

void zkb_on_multi(zk_session_t *s, brook_err_t err, const zk_multi_t *m, void *opaque)
{
	zkb_req_t *r = opaque;

	(void)s;
	if (!r->batch->abandoned) {
		r->err = err;
		r->failed_op = m ? zk_multi_failed_op(m) : -1;
	}
	req_complete(r);
}

brook_err_t zkb_batch_wait(zk_session_t *zk, zkb_batch_t *b, const zkb_deadline_t *d)
{
	int left;

	if (b->pending == 0)
		return BROOK_ERR_NO_ERROR;
	if ((left = zkb_deadline_left(d)) > 0)
		zk_run_until(zk, &b->done, left);
	if (b->done)
		return BROOK_ERR_NO_ERROR;
	b->abandoned = 1;
	return BROOK_ERR__TIMED_OUT;
}

/* --- errors ---------------------------------------------------------------- */

brook_err_t zkb_path_error(char *errstr, size_t errstr_size, const char *path, brook_err_t err,
			   const zkb_deadline_t *d)
{
	switch (err) {
	case BROOK_ERR__TIMED_OUT:
		brook_errstr_at(errstr, errstr_size, path,
				"no answer from ZooKeeper within %d ms", d->timeout_ms);
		break;
	case BROOK_ERR__CONNECTION_LOSS:
		brook_errstr_at(errstr, errstr_size, path,
				"lost the connection to ZooKeeper (a write may or may not "
				"have been applied)");
		break;
	default:
		brook_errstr_at(errstr, errstr_size, path, "%s", brook_err_str(err));
		break;
	}
	return err;
}

brook_err_t zkb_nomem(char *errstr, size_t errstr_size)
{
	brook_errstr(errstr, errstr_size, "out of memory");
	return BROOK_ERR__NOMEM;
}
