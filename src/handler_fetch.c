/* handler_fetch.c - Fetch: long poll, and record bytes by sendfile(2).
 *
 * A fetch that finds fewer than min_bytes waits (Kafka's delayed fetch):
 * it is re-checked after every append to one of its partitions and
 * answered at max_wait_ms at the latest. The request is copied into the
 * waiter, because the frame is gone once the handler returns.
 */
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "blog.h"
#include "handler.h"
#include "replica.h"

typedef struct fetch_part {
	char topic[LOG_TOPIC_MAX + 1];
	int32_t partition;
	int64_t offset;
	int32_t max_bytes;
	int topic_first;  /* first partition of its topic */
	int topic_parts;  /* on topic_first: partitions of the topic */
} fetch_part_t;

struct fetch_waiter {
	broker_t *b;
	fetch_waiter_t *prev, *next;
	net_resp_t *resp;
	ev_timer timer;
	int32_t replica_id, min_bytes, max_bytes;
	double max_wait_s;
	int ntopics;
	size_t nparts;
	fetch_part_t parts[];
};

static brook_err_t parse(const msgpack_object *body, fetch_waiter_t **out, char *err,
			 size_t errsize)
{
	const msgpack_object_array *topics;
	fetch_waiter_t *w;
	size_t n = 0, k = 0;
	int64_t v;
	brook_err_t e;

	if ((e = proto_get_array(body, "topics", 1, &topics, err, errsize)))
		return e;
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object_array *ps;

		if ((e = proto_get_array(&topics->ptr[i], "partitions", 1, &ps, err, errsize)))
			return e;
		n += ps->size;
	}
	if (!(w = calloc(1, sizeof(*w) + n * sizeof(fetch_part_t))))
		return BROOK_ERR__NOMEM;
	w->nparts = n;
	w->replica_id = -1;
	w->min_bytes = 1;
	w->max_bytes = 52428800; /* Kafka's fetch.max.bytes default */
	v = 500;
	if ((e = proto_get_i32(body, "replica_id", 0, &w->replica_id, err, errsize)) ||
	    (e = proto_get_int(body, "max_wait_ms", 0, 0, INT32_MAX, &v, err, errsize)) ||
	    (e = proto_get_i32(body, "min_bytes", 0, &w->min_bytes, err, errsize)) ||
	    (e = proto_get_i32(body, "max_bytes", 0, &w->max_bytes, err, errsize)))
		goto fail;
	w->max_wait_s = (double)v / 1000.0;
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object_array *ps;
		const char *name;
		uint32_t nlen;

		proto_get_array(&topics->ptr[i], "partitions", 1, &ps, err, errsize);
		if ((e = proto_get_str(&topics->ptr[i], "name", 1, &name, &nlen, err, errsize)))
			goto fail;
		if (ps->size == 0)
			continue;
		w->ntopics++;
		for (uint32_t j = 0; j < ps->size; j++) {
			fetch_part_t *fp = &w->parts[k++];
			int64_t off = 0, max = 1048576;

			if ((e = proto_get_i32(&ps->ptr[j], "partition", 1, &fp->partition, err,
					       errsize)) ||
			    (e = proto_get_int(&ps->ptr[j], "fetch_offset", 1, INT64_MIN, INT64_MAX,
					       &off, err, errsize)) ||
			    (e = proto_get_int(&ps->ptr[j], "partition_max_bytes", 0, 0, INT32_MAX,
					       &max, err, errsize)))
				goto fail;
			/* An over-long name cannot exist; it answers as unknown. */
			if (proto_copy_str(name, nlen, fp->topic, sizeof(fp->topic)))
				fp->topic[0] = 0;
			fp->offset = off;
			fp->max_bytes = (int32_t)max;
			fp->topic_first = j == 0;
			fp->topic_parts = j == 0 ? (int)ps->size : 0;
		}
	}
	*out = w;
	return BROOK_ERR_NO_ERROR;
fail:
	free(w);
	return e;
}

static int64_t upper_bound(const fetch_waiter_t *w, const partition_t *p)
{
	/* Consumers see only what is below the high watermark; followers
	 * read up to the log end. */
	return w->replica_id >= 0 ? INT64_MAX : p->high_watermark;
}

/* Bytes a response would carry now; -1 when a partition has an error
 * (which is answered at once, as Kafka does). */
static int64_t available(broker_t *b, const fetch_waiter_t *w)
{
	int64_t total = 0;

	for (size_t i = 0; i < w->nparts; i++) {
		const fetch_part_t *fp = &w->parts[i];
		partition_t *p;
		log_read_result_t r;

		if (handler_partition_error(b, fp->topic, strlen(fp->topic), fp->partition, &p))
			return -1;
		if (log_read(p->log, fp->offset, (size_t)fp->max_bytes, upper_bound(w, p), &r, NULL,
			     0))
			return -1;
		total += (int64_t)r.length;
		log_read_release(&r);
	}
	return total;
}

static void release_segment(void *ref)
{
	log_segment_unref(ref);
}

static void respond(broker_t *b, fetch_waiter_t *w)
{
	msgpack_packer pk;
	int64_t left = w->max_bytes;

	msgpack_packer_init(&pk, net_resp_buf(w->resp), proto_buf_write);
	msgpack_pack_map(&pk, 3);
	proto_pack_kv_int(&pk, "throttle_time_ms", 0);
	proto_pack_kv_int(&pk, "error_code", BROOK_ERR_NO_ERROR);
	proto_pack_key(&pk, "responses");
	msgpack_pack_array(&pk, (size_t)w->ntopics);
	for (size_t i = 0; i < w->nparts; i++) {
		const fetch_part_t *fp = &w->parts[i];
		log_read_result_t r = { .seg = NULL, .length = 0 };
		partition_t *p;
		brook_err_t err;
		int64_t hwm = -1, lso = -1;

		if (fp->topic_first) {
			msgpack_pack_map(&pk, 2);
			proto_pack_kv_str(&pk, "name", fp->topic);
			proto_pack_key(&pk, "partitions");
			msgpack_pack_array(&pk, (size_t)fp->topic_parts);
		}
		err = handler_partition_error(b, fp->topic, strlen(fp->topic), fp->partition, &p);
		if (!err) {
			hwm = p->high_watermark;
			lso = p->log->log_start_offset;
			/* Past the response limit a partition still answers,
			 * with no records (the first one always gets a batch). */
			if (left > 0 || i == 0) {
				size_t max = (size_t)(fp->max_bytes < left ? fp->max_bytes : left);

				err = log_read(p->log, fp->offset, max ? max : 1, upper_bound(w, p),
					       &r, NULL, 0);
				if (err && err != BROOK_ERR_OFFSET_OUT_OF_RANGE)
					err = BROOK_ERR_KAFKA_STORAGE_ERROR;
			}
		}
		msgpack_pack_map(&pk, 6);
		proto_pack_kv_int(&pk, "partition_index", fp->partition);
		proto_pack_kv_int(&pk, "error_code", err);
		proto_pack_kv_int(&pk, "high_watermark", hwm);
		proto_pack_kv_int(&pk, "last_stable_offset", hwm);
		proto_pack_kv_int(&pk, "log_start_offset", lso);
		proto_pack_key(&pk, "records");
		if (err || !r.seg || r.length == 0) {
			msgpack_pack_bin(&pk, 0);
			log_read_release(&r);
			continue;
		}
		msgpack_pack_bin(&pk, r.length);
		if (net_resp_add_file(w->resp, r.fd, r.position, r.length, release_segment, r.seg)) {
			/* cannot splice: the frame would be short, so fail it */
			log_read_release(&r);
			net_resp_buf(w->resp)->failed = 1;
			break;
		}
		left -= (int64_t)r.length;
	}
	handler_finish(w->resp);
}

static void waiter_unlink(fetch_waiter_t *w)
{
	broker_t *b = w->b;

	if (w->prev)
		w->prev->next = w->next;
	else if (b->waiters == w)
		b->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	ev_timer_stop(b->loop, &w->timer);
}

static void waiter_complete(fetch_waiter_t *w)
{
	waiter_unlink(w);
	respond(w->b, w);
	free(w);
}

static void on_fetch_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	waiter_complete(t->data);
}

/* The connection closed under a waiting fetch. */
static void on_cancel(void *arg)
{
	fetch_waiter_t *w = arg;

	waiter_unlink(w);
	free(w);
}

/* Answering may run other requests (the connection resumes reading),
 * which may append and come back here, or close connections and cancel
 * other waiters; so after each answer the scan starts again from the head
 * of the list as it is then. */
void broker_partition_appended(broker_t *b, partition_t *p)
{
	fetch_waiter_t *w;

restart:
	for (w = b->waiters; w; w = w->next) {
		for (size_t i = 0; i < w->nparts; i++) {
			int64_t avail;

			if (w->parts[i].partition != p->id || strcmp(w->parts[i].topic, p->topic))
				continue;
			avail = available(b, w);
			if (avail < 0 || avail >= w->min_bytes) {
				waiter_complete(w);
				goto restart;
			}
			break;
		}
	}
}

void handler_fetch(handler_ctx_t *ctx)
{
	fetch_waiter_t *w;
	char err[256];
	brook_err_t e;
	int64_t avail;

	if ((e = parse(ctx->req->body, &w, err, sizeof(err)))) {
		if (e == BROOK_ERR__NOMEM)
			snprintf(err, sizeof(err), "out of memory");
		handler_reject(ctx, err);
		return;
	}
	w->b = ctx->b;
	w->resp = ctx->resp;
	if (w->replica_id >= 0) {
		/* A follower's fetch offset is its log end: the leader's
		 * view of it, the ISR and the high watermark move here. */
		for (size_t i = 0; i < w->nparts; i++) {
			partition_t *p;

			if (!handler_partition_error(ctx->b, w->parts[i].topic,
						     strlen(w->parts[i].topic), w->parts[i].partition,
						     &p))
				replica_follower_fetched(ctx->b, p, w->replica_id, w->parts[i].offset);
		}
	}
	avail = available(ctx->b, w);
	if (avail < 0 || avail >= w->min_bytes || w->max_wait_s <= 0. || w->nparts == 0) {
		respond(ctx->b, w);
		free(w);
		return;
	}
	ev_timer_init(&w->timer, on_fetch_timeout, w->max_wait_s, 0.);
	w->timer.data = w;
	ev_timer_start(ctx->b->loop, &w->timer);
	net_resp_set_cancel(ctx->resp, on_cancel, w);
	w->next = ctx->b->waiters;
	if (w->next)
		w->next->prev = w;
	ctx->b->waiters = w;
}
