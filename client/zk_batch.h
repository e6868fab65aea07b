/*
 * zk_batch.h - synchronous-looking batches of asynchronous ZooKeeper
 * requests, for tools (admin.c, group_admin.c).
 *
 * A call is a few rounds of ZooKeeper requests. The requests of one round
 * go out together in a batch (describing a topic with 1000 partitions is
 * one round trip for the states, not 1000), and the call runs the
 * session's loop until the batch completes or the call's deadline passes.
 * Like zk_run_until(), never wait on a batch from a callback or on the
 * broker's loop thread.
 *
 * Ownership: the caller owns a batch from zkb_batch_new() and frees it
 * with zkb_batch_free() after zkb_batch_wait() returned BROOK_ERR_NO_ERROR
 * (results it takes out of a request, it NULLs there). A batch that times
 * out is abandoned: the caller must not touch it again; its completions
 * still arrive later (at the latest when the session is freed, with
 * _CLOSED) and the last one frees it, so a slow ZooKeeper can never make a
 * callback write into a stack frame that is gone.
 */
#ifndef BROOK_ZK_BATCH_H
#define BROOK_ZK_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "zk_session.h"

/* --- deadlines -------------------------------------------------------------- */

typedef struct zkb_deadline {
	int64_t at_ms;     /* CLOCK_MONOTONIC */
	int timeout_ms;    /* for messages */
} zkb_deadline_t;

/* Starts a deadline timeout_ms from now; timeout_ms <= 0 means
 * ADMIN_TIMEOUT_MS_DEFAULT. */
void zkb_deadline_init(zkb_deadline_t *d, int timeout_ms);

/* Milliseconds until the deadline, 0 once it passed. */
int zkb_deadline_left(const zkb_deadline_t *d);

/* --- request batches ------------------------------------------------------- */

typedef struct zkb_batch zkb_batch_t;

/* The result of one request; what is filled depends on the request. The
 * batch owns data and names until the caller takes (and NULLs) them. */
typedef struct zkb_req {
	zkb_batch_t *batch;
	brook_err_t err;         /* BROOK_ERR__STATE until completed */
	char *data;              /* zk_get: a NUL-terminated copy */
	size_t len;
	zk_stat_t stat;          /* zk_get, zk_exists */
	int has_stat;
	char **names;            /* zk_get_children: copies */
	size_t name_cnt;
	int failed_op;           /* zk_multi; -1 if none */
} zkb_req_t;

struct zkb_batch {
	size_t cnt;
	size_t pending;          /* submitted, not completed */
	int abandoned;           /* the caller timed out; the last completion frees */
	int done;
	zkb_req_t reqs[];
};

/* A batch of cnt requests, or NULL when out of memory. */
zkb_batch_t *zkb_batch_new(size_t cnt);

/* Frees b and every result still in it; zkb_batch_free(NULL) is a no-op. */
void zkb_batch_free(zkb_batch_t *b);

/* Records what a zk_* call returned: a request that was not accepted gets
 * its error now and no completion will ever come. */
void zkb_req_submitted(zkb_req_t *r, brook_err_t err);

/* Runs the loop until every submitted request of b completed. On timeout
 * b is abandoned (the caller must not touch it again) and
 * BROOK_ERR__TIMED_OUT is returned; otherwise the caller reads the results
 * and frees b. */
brook_err_t zkb_batch_wait(zk_session_t *zk, zkb_batch_t *b, const zkb_deadline_t *d);

/* Completions for the zk_* calls; the opaque is the zkb_req_t. */
void zkb_on_data(zk_session_t *s, brook_err_t err, const char *data, size_t len,
		 const zk_stat_t *stat, void *opaque);
void zkb_on_children(zk_session_t *s, brook_err_t err, const char *const *names, size_t count,
		     const zk_stat_t *stat, void *opaque);
void zkb_on_stat(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque);
void zkb_on_create(zk_session_t *s, brook_err_t err, const char *path, void *opaque);
void zkb_on_void(zk_session_t *s, brook_err_t err, void *opaque);
void zkb_on_multi(zk_session_t *s, brook_err_t err, const zk_multi_t *m, void *opaque);

/* --- helpers ------------------------------------------------------------- */

/* Frees an array of cnt strings such as zkb_req_t.names; NULL is a no-op. */
void zkb_names_free(char **names, size_t cnt);

/* qsort() comparator for an array of strings. */
int zkb_cmp_str(const void *a, const void *b);

/* "<path>: <reason>" for a failed request into errstr; returns err. */
brook_err_t zkb_path_error(char *errstr, size_t errstr_size, const char *path, brook_err_t err,
			   const zkb_deadline_t *d);

/* "out of memory" into errstr; returns BROOK_ERR__NOMEM. */
brook_err_t zkb_nomem(char *errstr, size_t errstr_size);

#endif
