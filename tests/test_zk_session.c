/*
 * test_zk_session.c - the ZooKeeper session layer against a real 3-server
 * ensemble: every operation, watches, multi, chroot, a killed server (the
 * session survives) and an expired session (it is replaced and ephemerals
 * are re-created).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "harness.h"
#include "harness_zk.h"
#include "zk_json.h"
#include "zk_paths.h"
#include "zk_session.h"

#define SESSION_TIMEOUT_MS 4000
#define WAIT_MS 20000

static harness_zk_t *ens;
static struct ev_loop *loop;

/* Session state changes, counted. */
typedef struct counters {
	int connected, disconnected, expired, established, established_new;
	char server[64];
	/* test_session_expiry: re-create this ephemeral on every new session */
	const char *ephemeral;
	int ephemeral_created;
	brook_err_t ephemeral_err;
} counters_t;

/* The result of one request, and of the watch it may have left. */
typedef struct result {
	int done;
	brook_err_t err;
	char data[1024];
	size_t len;
	int has_data;
	zk_stat_t stat;
	int has_stat;
	char path[512];
	size_t nchildren;
	char children[32][64];
	const zk_multi_t *multi;
	int multi_failed_op;
	brook_err_t multi_results[8];
	char multi_created[8][128];
	/* watch */
	int watch_fired;
	zk_event_t watch_event;
	char watch_path[512];
} result_t;

static void on_connected(zk_session_t *s, const char *server, void *opaque)
{
	counters_t *c = opaque;

	(void)s;
	c->connected++;
	snprintf(c->server, sizeof(c->server), "%s", server);
}

static void on_disconnected(zk_session_t *s, void *opaque)
{
	(void)s;
	((counters_t *)opaque)->disconnected++;
}

static void on_expired(zk_session_t *s, void *opaque)
{
	(void)s;
	((counters_t *)opaque)->expired++;
}

static void ephemeral_created(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	counters_t *c = opaque;

	(void)s;
	(void)path;
	c->ephemeral_err = err;
	c->ephemeral_created++;
}

static void on_established(zk_session_t *s, int is_new, void *opaque)
{
	counters_t *c = opaque;

	c->established++;
	if (!is_new)
		return;
	c->established_new++;
	/* What a broker does: a new session has none of our ephemerals. */
	if (c->ephemeral)
		CU_ASSERT_EQUAL(zk_create(s, c->ephemeral, "me", 2, ZK_EPHEMERAL, ephemeral_created, c),
				BROOK_ERR_NO_ERROR);
}

static const zk_session_callbacks_t cbs = {
	.on_connected = on_connected,
	.on_disconnected = on_disconnected,
	.on_session_expired = on_expired,
	.on_session_established = on_established,
};

static zk_session_t *open_session(const char *chroot, counters_t *c)
{
	char connect[256], errstr[256];
	zk_session_t *s = NULL;

	snprintf(connect, sizeof(connect), "%s%s", harness_zk_connect_string(ens), chroot ? chroot : "");
	memset(c, 0, sizeof(*c));
	CU_ASSERT_EQUAL_FATAL(zk_session_new(loop, connect, SESSION_TIMEOUT_MS, &cbs, c, &s, errstr,
					     sizeof(errstr)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_session_wait_connected(s, WAIT_MS), BROOK_ERR_NO_ERROR);
	return s;
}

/* --- request callbacks and synchronous wrappers ---------------------------- */

static void reset(result_t *r)
{
	r->done = 0;
	r->err = BROOK_ERR__STATE;
	r->has_data = r->has_stat = 0;
	r->len = r->nchildren = 0;
	r->path[0] = '\0';
}

static void data_cb(zk_session_t *s, brook_err_t err, const char *data, size_t len,
		    const zk_stat_t *stat, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->err = err;
	if (!err) {
		CU_ASSERT(len < sizeof(r->data));
		memcpy(r->data, data ? data : "", len < sizeof(r->data) ? len : 0);
		r->len = len;
		r->has_data = 1;
		r->stat = *stat;
		r->has_stat = 1;
	}
	r->done = 1;
}

static void children_cb(zk_session_t *s, brook_err_t err, const char *const *names, size_t count,
			const zk_stat_t *stat, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->err = err;
	r->nchildren = count;
	for (size_t i = 0; i < count && i < 32; i++)
		snprintf(r->children[i], sizeof(r->children[i]), "%s", names[i]);
	if (stat) {
		r->stat = *stat;
		r->has_stat = 1;
	}
	r->done = 1;
}

static void stat_cb(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->err = err;
	if (stat) {
		r->stat = *stat;
		r->has_stat = 1;
	}
	r->done = 1;
}

static void create_cb(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->err = err;
	snprintf(r->path, sizeof(r->path), "%s", path ? path : "");
	r->done = 1;
}

static void void_cb(zk_session_t *s, brook_err_t err, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->err = err;
	r->done = 1;
}

static void multi_cb(zk_session_t *s, brook_err_t err, const zk_multi_t *m, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->err = err;
	r->multi_failed_op = zk_multi_failed_op(m);
	for (size_t i = 0; i < zk_multi_count(m) && i < 8; i++) {
		const char *p = zk_multi_created_path(m, i);

		r->multi_results[i] = zk_multi_result(m, i);
		snprintf(r->multi_created[i], sizeof(r->multi_created[i]), "%s", p ? p : "");
	}
	r->done = 1;
}

static void watch_cb(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->watch_fired++;
	r->watch_event = event;
	snprintf(r->watch_path, sizeof(r->watch_path), "%s", path);
}

/* Waits for the request started with `err`; returns its completion's error. */
static brook_err_t finish(zk_session_t *s, brook_err_t err, result_t *r)
{
	if (err)
		return err;
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &r->done, WAIT_MS), BROOK_ERR_NO_ERROR);
	return r->err;
}

static brook_err_t s_get(zk_session_t *s, const char *path, zk_watch_cb *w, result_t *r)
{
	reset(r);
	return finish(s, zk_get(s, path, w, data_cb, r), r);
}

static brook_err_t s_children(zk_session_t *s, const char *path, zk_watch_cb *w, result_t *r)
{
	reset(r);
	return finish(s, zk_get_children(s, path, w, children_cb, r), r);
}

static brook_err_t s_exists(zk_session_t *s, const char *path, zk_watch_cb *w, result_t *r)
{
	reset(r);
	return finish(s, zk_exists(s, path, w, stat_cb, r), r);
}

static brook_err_t s_create(zk_session_t *s, const char *path, const char *data, int flags,
			    result_t *r)
{
	reset(r);
	return finish(s, zk_create(s, path, data, data ? strlen(data) : 0, flags, create_cb, r), r);
}

static brook_err_t s_set(zk_session_t *s, const char *path, const char *data, int version,
			 result_t *r)
{
	reset(r);
	return finish(s, zk_set(s, path, data, strlen(data), version, stat_cb, r), r);
}

static brook_err_t s_delete(zk_session_t *s, const char *path, int version, result_t *r)
{
	reset(r);
	return finish(s, zk_delete(s, path, version, void_cb, r), r);
}

static brook_err_t s_mkdirs(zk_session_t *s, const char *path, result_t *r)
{
	reset(r);
	return finish(s, zk_create_path(s, path, void_cb, r), r);
}

/* A session may read from a follower that has not applied another
 * session's write yet (ZooKeeper orders reads per client, not across
 * clients): wait, with a deadline, until `path` reads as `want`. */
static brook_err_t wait_get(zk_session_t *s, const char *path, brook_err_t want, result_t *r)
{
	int never = 0;
	brook_err_t err = BROOK_ERR__TIMED_OUT;

	for (int i = 0; i < 200; i++) {
		if ((err = s_get(s, path, NULL, r)) == want)
			break;
		zk_run_until(s, &never, 50);
	}
	return err;
}

static int has_child(const result_t *r, const char *name)
{
	for (size_t i = 0; i < r->nchildren; i++)
		if (strcmp(r->children[i], name) == 0)
			return 1;
	return 0;
}

/* --- tests ------------------------------------------------------------------- */

static void test_bad_arguments(void)
{
	zk_session_t *s = (zk_session_t *)1;
	char errstr[128];

	CU_ASSERT_EQUAL(zk_session_new(loop, "", 4000, NULL, NULL, &s, errstr, sizeof(errstr)),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(zk_session_new(loop, "127.0.0.1:1", 0, NULL, NULL, &s, errstr, sizeof(errstr)),
			BROOK_ERR__INVALID_ARG);
	zk_session_free(NULL);
}

static void test_basic_ops(void)
{
	counters_t c;
	zk_session_t *s = open_session(NULL, &c);
	result_t r, r2;
	char seq1[512];
	int64_t id;
	unsigned char pw[ZK_PASSWD_LEN];

	CU_ASSERT_EQUAL(zk_session_state(s), ZK_STATE_CONNECTED);
	CU_ASSERT_STRING_EQUAL(zk_state_name(zk_session_state(s)), "CONNECTED");
	CU_ASSERT_EQUAL(c.connected, 1);
	CU_ASSERT_EQUAL(c.established_new, 1);
	CU_ASSERT_EQUAL(zk_session_generation(s), 1);
	CU_ASSERT(zk_session_id(s) != 0);
	CU_ASSERT_EQUAL(zk_session_credentials(s, &id, pw), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(id, zk_session_id(s));
	CU_ASSERT(zk_session_timeout(s) > 0 && zk_session_timeout(s) <= SESSION_TIMEOUT_MS);
	CU_ASSERT(harness_zk_server_of(ens, c.server) >= 1);
	{
		char server[64];

		CU_ASSERT_EQUAL(zk_session_current_server(s, server, sizeof(server)),
				BROOK_ERR_NO_ERROR);
		CU_ASSERT_STRING_EQUAL(server, c.server);
		CU_ASSERT_EQUAL(zk_session_current_server(s, server, 4), BROOK_ERR__INVALID_ARG);
	}

	CU_ASSERT_EQUAL(s_mkdirs(s, "/t1/basic", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_mkdirs(s, "/t1/basic", &r), BROOK_ERR_NO_ERROR); /* idempotent */
	CU_ASSERT_EQUAL(s_create(s, "/t1/basic/n", "v1", ZK_PERSISTENT, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(r.path, "/t1/basic/n");
	CU_ASSERT_EQUAL(s_create(s, "/t1/basic/n", "v1", ZK_PERSISTENT, &r), BROOK_ERR__EXISTS);
	CU_ASSERT_EQUAL(s_create(s, "/t1/nothere/n", "v1", ZK_PERSISTENT, &r), BROOK_ERR__NOENT);

	CU_ASSERT_EQUAL(s_get(s, "/t1/basic/n", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.len, 2);
	CU_ASSERT(memcmp(r.data, "v1", 2) == 0);
	CU_ASSERT_EQUAL(r.stat.version, 0);
	CU_ASSERT_EQUAL(r.stat.ephemeral_owner, 0);

	/* Conditional writes. */
	CU_ASSERT_EQUAL(s_set(s, "/t1/basic/n", "v2", 0, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.stat.version, 1);
	CU_ASSERT_EQUAL(s_set(s, "/t1/basic/n", "v3", 0, &r), BROOK_ERR__VERSION);
	CU_ASSERT_EQUAL(s_set(s, "/t1/basic/n", "v3", ZK_ANY_VERSION, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.stat.version, 2);
	CU_ASSERT_EQUAL(s_get(s, "/t1/basic/n", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT(r.len == 2 && memcmp(r.data, "v3", 2) == 0);

	CU_ASSERT_EQUAL(s_exists(s, "/t1/basic/n", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT(r.has_stat && r.stat.version == 2 && r.stat.data_length == 2);
	CU_ASSERT_EQUAL(s_exists(s, "/t1/basic/missing", NULL, &r), BROOK_ERR__NOENT);
	CU_ASSERT_FALSE(r.has_stat);
	CU_ASSERT_EQUAL(s_get(s, "/t1/basic/missing", NULL, &r), BROOK_ERR__NOENT);

	/* Sequential nodes, with the prefix Kafka uses for ISR changes. */
	CU_ASSERT_EQUAL(s_create(s, "/t1/basic/isr_change_", "{}", ZK_SEQUENTIAL, &r),
			BROOK_ERR_NO_ERROR);
	snprintf(seq1, sizeof(seq1), "%s", r.path);
	CU_ASSERT_EQUAL(strlen(seq1), strlen("/t1/basic/isr_change_") + 10);
	CU_ASSERT_EQUAL(s_create(s, "/t1/basic/isr_change_", "{}", ZK_SEQUENTIAL, &r2),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT(strcmp(r2.path, seq1) > 0);
	/* A sequential create may end in '/': the name is the number. */
	CU_ASSERT_EQUAL(s_mkdirs(s, "/t1/queue", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, "/t1/queue/", "x", ZK_SEQUENTIAL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(strlen(r.path), strlen("/t1/queue/") + 10);

	/* A node without data. */
	CU_ASSERT_EQUAL(s_create(s, "/t1/basic/empty", NULL, ZK_PERSISTENT, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_get(s, "/t1/basic/empty", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.len, 0);

	CU_ASSERT_EQUAL(s_children(s, "/t1/basic", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.nchildren, 4);
	CU_ASSERT(has_child(&r, "n") && has_child(&r, "empty") && has_child(&r, seq1 + 10));
	CU_ASSERT_EQUAL(r.stat.num_children, 4);
	CU_ASSERT_EQUAL(s_children(s, "/t1/none", NULL, &r), BROOK_ERR__NOENT);

	CU_ASSERT_EQUAL(s_delete(s, "/t1/basic/n", 1, &r), BROOK_ERR__VERSION);
	CU_ASSERT_EQUAL(s_delete(s, "/t1/basic/n", 2, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_get(s, "/t1/basic/n", NULL, &r), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(s_delete(s, "/t1/basic/n", ZK_ANY_VERSION, &r), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(s_delete(s, "/t1/basic", ZK_ANY_VERSION, &r), BROOK_ERR__ZK); /* not empty */

	/* Refused up front: the completion is never called. */
	CU_ASSERT_EQUAL(zk_get(s, "relative", NULL, data_cb, &r), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_get(s, "/trailing/", NULL, data_cb, &r), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_create(s, "/x", "", 0, 99, create_cb, &r), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_create_path(s, "/", void_cb, &r), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_create_path(s, "/a//b", void_cb, &r), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_get(s, "/a/./b", NULL, data_cb, &r), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_get(s, "/a/..", NULL, data_cb, &r), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_set(s, "/a\nb", "", 0, 0, stat_cb, &r), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_create(s, "/t1/", "", 0, ZK_PERSISTENT, create_cb, &r),
			BROOK_ERR__INVALID_ARG);
	zk_session_free(s);
}

static void test_watches(void)
{
	counters_t ca, cb2;
	zk_session_t *s = open_session(NULL, &ca);
	zk_session_t *other = open_session(NULL, &cb2);
	result_t w1, w2, w3, w4, w5, r;

	memset(&w1, 0, sizeof(w1));
	memset(&w2, 0, sizeof(w2));
	memset(&w3, 0, sizeof(w3));
	memset(&w4, 0, sizeof(w4));
	memset(&w5, 0, sizeof(w5));
	CU_ASSERT_EQUAL(s_mkdirs(s, "/t2", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, "/t2/w", "a", ZK_PERSISTENT, &r), BROOK_ERR_NO_ERROR);

	/* Data watch: fires once, for our own change. */
	CU_ASSERT_EQUAL(s_get(s, "/t2/w", watch_cb, &w1), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_set(s, "/t2/w", "b", ZK_ANY_VERSION, &r), BROOK_ERR_NO_ERROR);
	/* ZooKeeper delivers the event before the reply to a later read. */
	CU_ASSERT_EQUAL(s_get(s, "/t2/w", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(w1.watch_fired, 1);
	CU_ASSERT_EQUAL(w1.watch_event, ZK_EVENT_CHANGED);
	CU_ASSERT_STRING_EQUAL(w1.watch_path, "/t2/w");
	CU_ASSERT_EQUAL(s_set(s, "/t2/w", "c", ZK_ANY_VERSION, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_get(s, "/t2/w", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(w1.watch_fired, 1); /* one-shot */

	/* Child watch. */
	CU_ASSERT_EQUAL(s_children(s, "/t2", watch_cb, &w2), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, "/t2/c", "", ZK_PERSISTENT, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &w2.watch_fired, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(w2.watch_event, ZK_EVENT_CHILD);
	CU_ASSERT_STRING_EQUAL(w2.watch_path, "/t2");

	/* Exists watch on a missing node, triggered by another client. */
	CU_ASSERT_EQUAL(s_exists(s, "/t2/later", watch_cb, &w3), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(s_create(other, "/t2/later", "x", ZK_PERSISTENT, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &w3.watch_fired, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(w3.watch_event, ZK_EVENT_CREATED);

	/* Two watches on one node, deleted by the other client: each fires
	 * once with DELETED. */
	CU_ASSERT_EQUAL(s_get(s, "/t2/later", watch_cb, &w4), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_exists(s, "/t2/later", watch_cb, &w5), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_delete(other, "/t2/later", ZK_ANY_VERSION, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &w4.watch_fired, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &w5.watch_fired, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(w4.watch_event, ZK_EVENT_DELETED);
	CU_ASSERT_EQUAL(w5.watch_event, ZK_EVENT_DELETED);

	/* A watch left armed when the session is freed is dropped silently
	 * (the sanitizer build checks that nothing leaks). */
	CU_ASSERT_EQUAL(s_get(s, "/t2/w", watch_cb, &w1), BROOK_ERR_NO_ERROR);
	zk_session_free(other);
	zk_session_free(s);
	CU_ASSERT_EQUAL(w1.watch_fired, 1);
}

static void test_multi(void)
{
	counters_t c;
	zk_session_t *s = open_session(NULL, &c);
	result_t r;
	zk_multi_t *m;

	CU_ASSERT_EQUAL(s_mkdirs(s, "/t3", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, "/t3/a", "0", ZK_PERSISTENT, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, "/t3/b", "0", ZK_PERSISTENT, &r), BROOK_ERR_NO_ERROR);

	/* All or nothing, with version checks: Kafka's offset commit shape. */
	m = zk_multi_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(zk_multi_add_check(m, "/t3/b", 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_multi_add_set(m, "/t3/a", "1", 1, 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_multi_add_create(m, "/t3/c", "new", 3, ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_multi_add_create(m, "/t3/s-", NULL, 0, ZK_SEQUENTIAL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_multi_add_delete(m, "/t3/b", 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_multi_add_create(m, "relative", NULL, 0, 0), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_multi_count(m), 5);
	CU_ASSERT_EQUAL(zk_multi_result(m, 0), BROOK_ERR__STATE);
	reset(&r);
	CU_ASSERT_EQUAL(finish(s, zk_multi(s, m, multi_cb, &r), &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.multi_failed_op, -1);
	CU_ASSERT_EQUAL(r.multi_results[1], BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(r.multi_created[2], "/t3/c");
	CU_ASSERT_EQUAL(strlen(r.multi_created[3]), strlen("/t3/s-") + 10);
	CU_ASSERT_STRING_EQUAL(r.multi_created[0], "");
	CU_ASSERT_EQUAL(s_get(s, "/t3/a", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT(r.len == 1 && r.data[0] == '1' && r.stat.version == 1);
	CU_ASSERT_EQUAL(s_get(s, "/t3/b", NULL, &r), BROOK_ERR__NOENT);

	/* A stale version check fails the whole multi: nothing applied. */
	m = zk_multi_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	zk_multi_add_create(m, "/t3/d", "x", 1, ZK_PERSISTENT);
	zk_multi_add_check(m, "/t3/a", 0);
	zk_multi_add_set(m, "/t3/c", "changed", 7, ZK_ANY_VERSION);
	reset(&r);
	CU_ASSERT_EQUAL(finish(s, zk_multi(s, m, multi_cb, &r), &r), BROOK_ERR__VERSION);
	CU_ASSERT_EQUAL(r.multi_failed_op, 1);
	CU_ASSERT_EQUAL(r.multi_results[1], BROOK_ERR__VERSION);
	CU_ASSERT_EQUAL(r.multi_results[0], BROOK_ERR__ZK);
	CU_ASSERT_EQUAL(r.multi_results[2], BROOK_ERR__ZK);
	CU_ASSERT_STRING_EQUAL(r.multi_created[0], "");
	CU_ASSERT_EQUAL(s_get(s, "/t3/d", NULL, &r), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(s_get(s, "/t3/c", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT(r.len == 3 && memcmp(r.data, "new", 3) == 0);

	/* Creating an existing node fails it too. */
	m = zk_multi_new();
	zk_multi_add_set(m, "/t3/a", "2", 1, 1);
	zk_multi_add_create(m, "/t3/c", NULL, 0, ZK_PERSISTENT);
	reset(&r);
	CU_ASSERT_EQUAL(finish(s, zk_multi(s, m, multi_cb, &r), &r), BROOK_ERR__EXISTS);
	CU_ASSERT_EQUAL(r.multi_failed_op, 1);

	/* An empty multi is refused (and freed). */
	CU_ASSERT_EQUAL(zk_multi(s, zk_multi_new(), multi_cb, &r), BROOK_ERR__INVALID_ARG);
	zk_multi_free(NULL);
	zk_session_free(s);
}

static void test_chroot(void)
{
	counters_t c, cc;
	zk_session_t *root = open_session(NULL, &c);
	zk_session_t *s;
	result_t r, w;
	zk_broker_reg_t reg, back;
	char path[ZK_PATH_MAX], *json = NULL, errstr[256];

	memset(&w, 0, sizeof(w));
	/* The chroot node must exist before a chrooted client can use it. */
	CU_ASSERT_EQUAL(s_mkdirs(root, "/brook", &r), BROOK_ERR_NO_ERROR);
	s = open_session("/brook", &cc);

	CU_ASSERT_EQUAL(s_mkdirs(s, ZK_PATH_BROKER_IDS, &r), BROOK_ERR_NO_ERROR);
	memset(&reg, 0, sizeof(reg));
	reg.version = 4;
	strcpy(reg.host, "127.0.0.1");
	reg.port = 9092;
	reg.endpoint_cnt = 1;
	strcpy(reg.endpoints[0].listener, "BROOK");
	strcpy(reg.endpoints[0].host, "127.0.0.1");
	reg.endpoints[0].port = 9092;
	reg.jmx_port = -1;
	reg.timestamp_ms = 1700000000000LL;
	CU_ASSERT_EQUAL_FATAL(zk_json_broker_encode(&reg, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_path_broker(path, sizeof(path), 1), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, path, json, ZK_EPHEMERAL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(r.path, "/brokers/ids/1");
	free(json);

	/* Seen from outside the chroot, under /brook. */
	CU_ASSERT_EQUAL(wait_get(root, "/brook/brokers/ids/1", BROOK_ERR_NO_ERROR, &r),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.stat.ephemeral_owner, zk_session_id(s));
	CU_ASSERT_EQUAL(zk_json_broker_decode(r.data, r.len, &back, errstr, sizeof(errstr)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(back.endpoints[0].listener, "BROOK");
	CU_ASSERT_EQUAL(back.port, 9092);

	CU_ASSERT_EQUAL(s_children(s, "/", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT(has_child(&r, "brokers"));

	/* Sequential names and watch paths come back relative to the chroot. */
	CU_ASSERT_EQUAL(s_mkdirs(s, ZK_PATH_ISR_CHANGE, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, ZK_PATH_ISR_CHANGE_PREFIX, "{}", ZK_SEQUENTIAL, &r),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT(strncmp(r.path, ZK_PATH_ISR_CHANGE_PREFIX, strlen(ZK_PATH_ISR_CHANGE_PREFIX)) == 0);
	CU_ASSERT_EQUAL(s_exists(s, "/brokers/ids/2", watch_cb, &w), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(s_create(root, "/brook/brokers/ids/2", "{}", ZK_EPHEMERAL, &r),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &w.watch_fired, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(w.watch_path, "/brokers/ids/2");

	/* The ephemeral goes with its session. */
	zk_session_free(s);
	CU_ASSERT_EQUAL(wait_get(root, "/brook/brokers/ids/1", BROOK_ERR__NOENT, &r),
			BROOK_ERR__NOENT);
	zk_session_free(root);
}

static void test_server_killed(void)
{
	counters_t c;
	zk_session_t *s = open_session(NULL, &c);
	result_t r, pending, w;
	int64_t id;
	int victim, now_on;

	memset(&w, 0, sizeof(w));
	CU_ASSERT_EQUAL(s_mkdirs(s, "/t5", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, "/t5/eph", "alive", ZK_EPHEMERAL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, "/t5/data", "0", ZK_PERSISTENT, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_get(s, "/t5/data", watch_cb, &w), BROOK_ERR_NO_ERROR);
	id = zk_session_id(s);
	victim = harness_zk_server_of(ens, c.server);
	CU_ASSERT_FATAL(victim >= 1);
	fprintf(stderr, "test: connected to server %d (%s); killing it\n", victim, c.server);

	CU_ASSERT_EQUAL_FATAL(harness_zk_kill(ens, victim), 0);
	/* A read issued now, while the client has not even noticed the loss,
	 * is retried on the next server and succeeds. */
	reset(&pending);
	CU_ASSERT_EQUAL(zk_get(s, "/t5/eph", NULL, data_cb, &pending), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &pending.done, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(pending.err, BROOK_ERR_NO_ERROR);
	CU_ASSERT(pending.len == 5 && memcmp(pending.data, "alive", 5) == 0);
	CU_ASSERT_EQUAL(pending.stat.ephemeral_owner, id);

	/* Same session, reconnected elsewhere; nothing expired. */
	CU_ASSERT_EQUAL(c.disconnected, 1);
	CU_ASSERT_EQUAL(c.connected, 2);
	CU_ASSERT_EQUAL(c.established, 2);
	CU_ASSERT_EQUAL(c.established_new, 1);
	CU_ASSERT_EQUAL(c.expired, 0);
	CU_ASSERT_EQUAL(zk_session_id(s), id);
	CU_ASSERT_EQUAL(zk_session_generation(s), 1);
	now_on = harness_zk_server_of(ens, c.server);
	CU_ASSERT(now_on >= 1 && now_on != victim);
	fprintf(stderr, "test: session 0x%llx survived on server %d\n", (unsigned long long)id, now_on);

	/* Writes work, and the watch set before the loss still fires (the
	 * client re-registers it on the new server). */
	CU_ASSERT_EQUAL(s_set(s, "/t5/data", "1", 0, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &w.watch_fired, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(w.watch_event, ZK_EVENT_CHANGED);
	CU_ASSERT_EQUAL(s_exists(s, "/t5/eph", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.stat.ephemeral_owner, id);

	CU_ASSERT_EQUAL(harness_zk_restart(ens, victim), 0);
	zk_session_free(s);
}

static void test_session_expiry(void)
{
	counters_t c;
	zk_session_t *s;
	result_t r, old_watch, pending;
	int64_t old_id;
	unsigned char pw[ZK_PASSWD_LEN];
	char errstr[256];

	memset(&c, 0, sizeof(c));
	memset(&old_watch, 0, sizeof(old_watch));
	c.ephemeral = "/t6/eph";
	CU_ASSERT_EQUAL_FATAL(zk_session_new(loop, harness_zk_connect_string(ens), SESSION_TIMEOUT_MS,
					     &cbs, &c, &s, errstr, sizeof(errstr)), BROOK_ERR_NO_ERROR);
	/* The first on_session_established tries to create /t6/eph before
	 * /t6 exists; create the parent and the node by hand this once. */
	CU_ASSERT_EQUAL_FATAL(zk_session_wait_connected(s, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &c.ephemeral_created, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.ephemeral_err, BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(s_mkdirs(s, "/t6", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, "/t6/eph", "me", ZK_EPHEMERAL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_create(s, "/t6/data", "0", ZK_PERSISTENT, &r), BROOK_ERR_NO_ERROR);
	/* A watch of the old session: it must never fire. */
	CU_ASSERT_EQUAL(s_get(s, "/t6/data", watch_cb, &old_watch), BROOK_ERR_NO_ERROR);

	old_id = zk_session_id(s);
	CU_ASSERT_EQUAL(zk_session_credentials(s, &old_id, pw), BROOK_ERR_NO_ERROR);
	c.ephemeral_created = 0;
	fprintf(stderr, "test: expiring session 0x%llx\n", (unsigned long long)old_id);
	CU_ASSERT_EQUAL_FATAL(harness_zk_expire_session(harness_zk_connect_string(ens), old_id, pw,
							WAIT_MS), 0);

	/* A read in flight across the expiry ends with _SESSION_EXPIRED or,
	 * if it was sent on the new session, succeeds; it never hangs. */
	reset(&pending);
	CU_ASSERT_EQUAL(zk_get(s, "/t6/data", NULL, data_cb, &pending), BROOK_ERR_NO_ERROR);

	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &c.ephemeral_created, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.ephemeral_err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.expired, 1);
	CU_ASSERT_EQUAL(c.established_new, 2);
	CU_ASSERT_EQUAL(zk_session_generation(s), 2);
	CU_ASSERT(zk_session_id(s) != 0 && zk_session_id(s) != old_id);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &pending.done, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT(pending.err == BROOK_ERR__SESSION_EXPIRED || pending.err == BROOK_ERR_NO_ERROR);
	fprintf(stderr, "test: new session 0x%llx (read in flight: %s)\n",
		(unsigned long long)zk_session_id(s), brook_err_name(pending.err));

	/* The re-created ephemeral belongs to the new session. */
	CU_ASSERT_EQUAL(s_get(s, "/t6/eph", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.stat.ephemeral_owner, zk_session_id(s));

	/* The old session's watch is gone and never called. */
	CU_ASSERT_EQUAL(s_set(s, "/t6/data", "1", ZK_ANY_VERSION, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_get(s, "/t6/data", NULL, &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(old_watch.watch_fired, 0);
	zk_session_free(s);
}

static void test_no_quorum(void)
{
	counters_t c;
	zk_session_t *s = open_session(NULL, &c);
	result_t r, wr, rd;
	int a, b, on;

	CU_ASSERT_EQUAL(s_mkdirs(s, "/t7", &r), BROOK_ERR_NO_ERROR);
	on = harness_zk_server_of(ens, c.server);
	/* Kill the two servers the client is not on: the third loses its
	 * quorum, stops serving and drops the client. */
	a = on == 1 ? 2 : 1;
	b = on == 3 ? 2 : 3;
	CU_ASSERT_EQUAL_FATAL(harness_zk_kill(ens, a), 0);
	CU_ASSERT_EQUAL_FATAL(harness_zk_kill(ens, b), 0);

	/* A write reports the loss to the caller; a read waits for its
	 * deadline, then reports it too. */
	zk_session_set_read_timeout(s, 1500);
	reset(&wr);
	reset(&rd);
	CU_ASSERT_EQUAL(zk_set(s, "/t7", "x", 1, ZK_ANY_VERSION, stat_cb, &wr), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_get(s, "/t7", NULL, data_cb, &rd), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &wr.done, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wr.err, BROOK_ERR__CONNECTION_LOSS);
	CU_ASSERT_EQUAL_FATAL(zk_run_until(s, &rd.done, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(rd.err, BROOK_ERR__CONNECTION_LOSS);
	CU_ASSERT(c.disconnected >= 1);

	/* Back to a quorum: the client reconnects (the session may or may not
	 * have outlived the outage, and either is handled). */
	zk_session_set_read_timeout(s, 2 * SESSION_TIMEOUT_MS);
	CU_ASSERT_EQUAL(harness_zk_restart(ens, a), 0);
	CU_ASSERT_EQUAL(harness_zk_restart(ens, b), 0);
	CU_ASSERT_EQUAL(zk_session_wait_connected(s, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(s_get(s, "/t7", NULL, &r), BROOK_ERR_NO_ERROR);
	fprintf(stderr, "test: after the outage: %d expiries, %d new sessions\n", c.expired,
		c.established_new);
	zk_session_free(s);
}

/* zk_session_free from inside a completion: the other request in flight
 * completes with _CLOSED once the callback returns; nothing else runs. */
static zk_session_t *freed_in_cb;

static void free_in_cb(zk_session_t *s, brook_err_t err, const char *data, size_t len,
		       const zk_stat_t *stat, void *opaque)
{
	result_t *r = opaque;

	(void)data;
	(void)len;
	(void)stat;
	r->err = err;
	r->done = 1;
	zk_session_free(s);
	freed_in_cb = NULL;
}

static void test_free_with_requests(void)
{
	counters_t c;
	zk_session_t *s = open_session(NULL, &c);
	result_t r1, r2;
	int spins = 0;

	/* Freed outside any callback: the completions run during the free,
	 * and the watch the read asked for is dropped without a call. */
	memset(&r1, 0, sizeof(r1));
	reset(&r1);
	reset(&r2);
	CU_ASSERT_EQUAL(zk_get(s, "/", watch_cb, data_cb, &r1), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_create_path(s, "/t8/a/b", void_cb, &r2), BROOK_ERR_NO_ERROR);
	zk_session_free(s);
	CU_ASSERT(r1.done && r1.err == BROOK_ERR__CLOSED);
	CU_ASSERT(r2.done && r2.err == BROOK_ERR__CLOSED);
	CU_ASSERT_EQUAL(r1.watch_fired, 0);

	/* Freed inside a callback. */
	s = open_session(NULL, &c);
	freed_in_cb = s;
	memset(&r2, 0, sizeof(r2));
	reset(&r1);
	reset(&r2);
	CU_ASSERT_EQUAL(zk_get(s, "/", NULL, free_in_cb, &r1), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_get_children(s, "/", watch_cb, children_cb, &r2), BROOK_ERR_NO_ERROR);
	/* Run the bare loop: the session dies during the run. */
	while (!(r1.done && r2.done) && spins++ < 1000)
		ev_run(loop, EVRUN_ONCE);
	CU_ASSERT_PTR_NULL(freed_in_cb);
	CU_ASSERT_EQUAL(r1.err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r2.err, BROOK_ERR__CLOSED);
	CU_ASSERT_EQUAL(r2.watch_fired, 0);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "bad arguments", test_bad_arguments },
		{ "create, get, set, exists, children, delete", test_basic_ops },
		{ "one-shot watches", test_watches },
		{ "multi with version checks", test_multi },
		{ "chroot connect string", test_chroot },
		{ "killed server: the session survives", test_server_killed },
		{ "session expiry: new session, ephemerals re-created", test_session_expiry },
		{ "no quorum: writes and reads report the loss", test_no_quorum },
		{ "free with requests in flight", test_free_with_requests },
		{ NULL, NULL },
	};
	int rc;

	if (harness_zk_start(3, &ens) != 0) {
		fprintf(stderr, "test_zk_session: cannot start a ZooKeeper ensemble\n");
		return 1;
	}
	fprintf(stderr, "test_zk_session: ensemble at %s\n", harness_zk_connect_string(ens));
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop) {
		harness_zk_stop(ens);
		return 1;
	}
	rc = harness_run("zk_session", tests);
	ev_loop_destroy(loop);
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	return rc;
}
