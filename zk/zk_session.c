/*
 * zk_session.c - a ZooKeeper session on the caller's libev loop.
 *
 * How the single-threaded client is driven (its own cli.c does the same
 * with select()):
 *
 *   prepare (before every poll):
 *       zookeeper_interest(zh, &fd, &interest, &tv)  -- connects, pings,
 *                                                        notices timeouts
 *       ev_io on fd for interest, ev_timer for tv
 *   io ready:
 *       zookeeper_process(zh, events)                -- reads replies, runs
 *                                                        completions/watchers
 *   timer:
 *       nothing; waking up makes the next prepare run interest again
 *
 * Both library calls may run our completions and watchers, which run user
 * callbacks, which may issue requests or free the session. So every entry
 * from libev is bracketed by enter()/leave(): work that must not happen
 * while the library is on the stack (closing an expired handle, re-sending
 * reads after a reconnect, freeing the session) is flagged and done by the
 * outermost leave().
 *
 * The library closes and reopens its socket behind our back, often with the
 * same fd number. An epoll set silently forgets a closed fd, so a watcher
 * left armed on a recycled number would never fire: until the connection is
 * established the io watcher is re-armed (ev_io_set) on every prepare, and
 * afterwards whenever fd, events or state change.
 *
 * Request lifecycle: an operation makes a zk_req_t and queues it on
 * s->outbox; the next prepare hands it to the library (zoo_a*), whose
 * completion context it is. Before that it reads whatever the socket holds,
 * so a connection the server closed is noticed through the library's normal
 * error path rather than by a failing send (see flush_outbox()). Reads that
 * fail with a connection loss move to s->retry and go back to the outbox on
 * the next CONNECTED event, until their deadline. A watch context belongs to
 * its request until the library registers it (the read succeeded), then to
 * s->watches until it fires or the handle is closed; the library never frees
 * watcher contexts, so we do.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ev.h>
#include <zookeeper/zookeeper.h>

#include "errstr.h"
#include "zk_session.h"

/* Longest path zk_create_path() accepts (ZooKeeper's own limit is the
 * 1 MB packet size; ours keeps the prefix buffer on the stack). */
#define ZK_PATH_BUF 4096

typedef enum req_kind {
	REQ_GET,
	REQ_CHILDREN,
	REQ_EXISTS,
	REQ_CREATE_PATH,
	REQ_CREATE,
	REQ_SET,
	REQ_DELETE,
	REQ_MULTI,
} req_kind_t;

typedef struct zk_watch {
	zk_session_t *s;
	zk_watch_cb *cb;
	void *opaque;
	struct zk_watch *prev, *next;
} zk_watch_t;

typedef struct zk_req {
	zk_session_t *s;
	req_kind_t kind;
	char *path;
	char *data;
	int len;                      /* -1: no data */
	int version;
	int mode;                     /* ZOO_* create mode */
	size_t step;                  /* create_path: end of the prefix in flight */
	ev_tstamp deadline;           /* retryable kinds: give up after this */
	zk_watch_t *watch;            /* owned until the library registers it */
	zk_multi_t *multi;
	union {
		zk_data_cb *data;
		zk_children_cb *children;
		zk_stat_cb *stat;
		zk_create_cb *create;
		zk_void_cb *vcb;
		zk_multi_cb *multi;
	} cb;
	void *opaque;
	struct zk_req *prev, *next;   /* in s->outbox or s->retry */
} zk_req_t;

/* A FIFO of requests (outbox, retry). */
typedef struct req_list {
	zk_req_t *head, *tail;
} req_list_t;

typedef struct multi_op {
	int type;                     /* ZOO_CREATE_OP, ... */
	char *path;
	char *data;
	int len;
	int version;
	int mode;
	char *created;                /* create: result path buffer */
	int created_size;
	struct Stat stat;             /* set: result stat */
} multi_op_t;

struct zk_multi {
	size_t cnt, cap;
	multi_op_t *ops;
	zoo_op_t *zops;
	zoo_op_result_t *results;
	int submitted;
	int completed;
	brook_err_t err;
	int failed_op;
};

struct zk_session {
	struct ev_loop *loop;
	char *connect;
	int session_timeout_ms;
	int read_timeout_ms;
	zk_session_callbacks_t cbs;
	void *opaque;

	zhandle_t *zh;
	zk_state_t state;
	int have_session;
	int64_t session_id;
	unsigned char passwd[ZK_PASSWD_LEN];
	uint64_t generation;
	int negotiated_timeout_ms;

	ev_prepare prepare;
	ev_io io;
	ev_timer timer;               /* the client's own deadline */
	ev_timer retry_timer;         /* earliest read deadline in s->retry */
	ev_timer reopen_timer;        /* zookeeper_init failed; try again */
	int io_fd, io_events, io_zstate;

	zk_watch_t *watches;          /* registered with the current handle */
	req_list_t outbox;            /* waiting for the next prepare */
	req_list_t retry;             /* reads waiting for a connection */

	int depth;                    /* enter()/leave() nesting */
	int expired;                  /* handle reported expiry: reopen */
	int free_requested;
	brook_err_t closing_err;      /* what ZCLOSING completions report */
};

static void outbox_push(zk_req_t *r);
static brook_err_t open_handle(zk_session_t *s, char *errstr, size_t errstr_size);

/* --- errors and small helpers -------------------------------------------- */

/* ZooKeeper return codes onto brook's enum. A timeout of the client's own
 * receive deadline (ZOPERATIONTIMEOUT) and a moved session are connection
 * problems like any other: the session itself may be fine. So is
 * ZRUNTIMEINCONSISTENCY as a request's result: the client reports it when a
 * reply does not match the oldest request in flight, which happens after
 * the 3.8 client dropped a connection without failing its requests (see
 * sync_state()); it then resets the connection and fails them all. (Inside
 * a multi it marks rolled-back operations; multi_done() handles that.) */
static brook_err_t map_rc(const zk_session_t *s, int rc)
{
	switch (rc) {
	case ZOK: return BROOK_ERR_NO_ERROR;
	case ZNONODE: return BROOK_ERR__NOENT;
	case ZNODEEXISTS: return BROOK_ERR__EXISTS;
	case ZBADVERSION: return BROOK_ERR__VERSION;
	case ZCONNECTIONLOSS:
	case ZOPERATIONTIMEOUT:
	case ZSESSIONMOVED:
	case ZRUNTIMEINCONSISTENCY:
		return BROOK_ERR__CONNECTION_LOSS;
	case ZSESSIONEXPIRED:
	case ZINVALIDSTATE:
		return BROOK_ERR__SESSION_EXPIRED;
	case ZCLOSING:
		return s ? s->closing_err : BROOK_ERR__CLOSED;
	case ZBADARGUMENTS:
	case ZNOCHILDRENFOREPHEMERALS:
	case ZINVALIDACL:
		return BROOK_ERR__INVALID_ARG;
	case ZMARSHALLINGERROR:
		return BROOK_ERR__NOMEM;
	default:
		return BROOK_ERR__ZK;
	}
}

static int is_loss(int rc)
{
	return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONMOVED ||
	       rc == ZRUNTIMEINCONSISTENCY;
}

static int is_retryable(req_kind_t kind)
{
	return kind == REQ_GET || kind == REQ_CHILDREN || kind == REQ_EXISTS ||
	       kind == REQ_CREATE_PATH;
}


static void stat_from(zk_stat_t *out, const struct Stat *st)
{
	out->czxid = st->czxid;
	out->mzxid = st->mzxid;
	out->pzxid = st->pzxid;
	out->ctime_ms = st->ctime;
	out->mtime_ms = st->mtime;
	out->version = st->version;
	out->cversion = st->cversion;
	out->aversion = st->aversion;
	out->ephemeral_owner = st->ephemeralOwner;
	out->data_length = st->dataLength;
	out->num_children = st->numChildren;
}

static ev_tstamp now(zk_session_t *s)
{
	ev_now_update(s->loop);
	return ev_now(s->loop);
}

/* Set from BROOK_ZK_LOG_LEVEL=info|debug: state changes are logged too. */
static int log_states;

/* Every state change goes through here (names: zk_state_name()). By
 * default the session logs nothing itself: its callbacks tell the owner,
 * which logs in its own words.
 *
 *   CONNECTING --connected--> CONNECTED --connection lost--> CONNECTING
 *   CONNECTING/CONNECTED --expired--> EXPIRED --new handle--> CONNECTING
 *   any --zk_session_free()--> CLOSED */
static void set_state(zk_session_t *s, zk_state_t state)
{
	if (log_states && state != s->state)
		fprintf(stderr, "INFO [zk] session %#llx: %s -> %s\n",
			(unsigned long long)s->session_id, zk_state_name(s->state),
			zk_state_name(state));
	s->state = state;
}

/* Makes the loop iterate at once, so the prepare watcher re-evaluates the
 * client's interest after we queued requests or swapped handles from a
 * place where the current iteration's prepare has already run. */
static void kick(zk_session_t *s)
{
	if (s->free_requested)
		return;
	ev_timer_stop(s->loop, &s->timer);
	ev_timer_set(&s->timer, 0., 0.);
	ev_timer_start(s->loop, &s->timer);
}

/* --- logging of the ZooKeeper client itself ------------------------------ */

/* The client logs at INFO to stderr by default, several lines per
 * reconnect. WARN keeps what matters; BROOK_ZK_LOG_LEVEL=error|warn|info|
 * debug overrides it when debugging. */
static void setup_client_logging(void)
{
	static int done;
	const char *env = getenv("BROOK_ZK_LOG_LEVEL");
	ZooLogLevel level = ZOO_LOG_LEVEL_WARN;

	if (done)
		return;
	done = 1;
	if (env) {
		if (strcasecmp(env, "error") == 0)
			level = ZOO_LOG_LEVEL_ERROR;
		else if (strcasecmp(env, "info") == 0)
			level = ZOO_LOG_LEVEL_INFO;
		else if (strcasecmp(env, "debug") == 0)
			level = ZOO_LOG_LEVEL_DEBUG;
	}
	log_states = level >= ZOO_LOG_LEVEL_INFO;
	zoo_set_log_stream(stderr);
	zoo_set_debug_level(level);
}

/* While no server is reachable the client retries every
 * session_timeout/60 ms and logs two lines per server and round: dozens of
 * lines a second. At most ZK_LOG_BURST lines per second get through; the
 * rest are counted and summed up in one line. */
#define ZK_LOG_BURST 5

static void client_log(const char *message)
{
	static time_t window;
	static int in_window;
	static unsigned long suppressed;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec != window) {
		if (suppressed)
			fprintf(stderr, "WARN [zk] suppressed %lu ZooKeeper client log lines (over %d a second)\n",
				suppressed, ZK_LOG_BURST);
		window = ts.tv_sec;
		in_window = 0;
		suppressed = 0;
	}
	if (in_window++ < ZK_LOG_BURST || getenv("BROOK_ZK_LOG_LEVEL"))
		fprintf(stderr, "%s\n", message);
	else
		suppressed++;
}

/* --- requests ------------------------------------------------------------- */

static void watch_free(zk_watch_t *w)
{
	free(w);
}

static void req_free(zk_req_t *r)
{
	if (!r)
		return;
	free(r->path);
	free(r->data);
	watch_free(r->watch);
	zk_multi_free(r->multi);
	free(r);
}

static zk_req_t *req_new(zk_session_t *s, req_kind_t kind, const char *path, zk_watch_cb *watch,
			 void *opaque)
{
	zk_req_t *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->s = s;
	r->kind = kind;
	r->len = -1;
	r->version = -1;
	r->opaque = opaque;
	if (path && !(r->path = strdup(path)))
		goto fail;
	if (watch) {
		if (!(r->watch = calloc(1, sizeof(*r->watch))))
			goto fail;
		r->watch->s = s;
		r->watch->cb = watch;
		r->watch->opaque = opaque;
	}
	if (is_retryable(kind))
		r->deadline = now(s) + s->read_timeout_ms / 1000.0;
	return r;
fail:
	req_free(r);
	return NULL;
}

static brook_err_t req_set_data(zk_req_t *r, const void *data, size_t len)
{
	/* jute sizes are int32, and a server refuses more than 1 MB anyway. */
	if (len > INT32_MAX)
		return BROOK_ERR__INVALID_ARG;
	if (!data)
		return BROOK_ERR_NO_ERROR;
	r->data = malloc(len ? len : 1);
	if (!r->data)
		return BROOK_ERR__NOMEM;
	memcpy(r->data, data, len);
	r->len = (int)len;
	return BROOK_ERR_NO_ERROR;
}

static void watch_link(zk_session_t *s, zk_watch_t *w)
{
	w->prev = NULL;
	w->next = s->watches;
	if (s->watches)
		s->watches->prev = w;
	s->watches = w;
}

static void watch_unlink(zk_session_t *s, zk_watch_t *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		s->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

/* The library registered the request's watch when the read succeeded (for
 * exists, also when the node is missing): from now on s->watches owns it. */
static void watch_adopt(zk_req_t *r, int rc)
{
	int registered = rc == ZOK || (r->kind == REQ_EXISTS && rc == ZNONODE);

	if (r->watch && registered) {
		watch_link(r->s, r->watch);
		r->watch = NULL;
	}
}

static void list_push(req_list_t *l, zk_req_t *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

static void list_remove(req_list_t *l, zk_req_t *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
}

static zk_req_t *list_pop(req_list_t *l)
{
	zk_req_t *r = l->head;

	if (r)
		list_remove(l, r);
	return r;
}

static void retry_timer_arm(zk_session_t *s)
{
	ev_tstamp first = 0;

	ev_timer_stop(s->loop, &s->retry_timer);
	if (!s->retry.head || s->free_requested)
		return;
	for (zk_req_t *r = s->retry.head; r; r = r->next)
		if (first == 0 || r->deadline < first)
			first = r->deadline;
	first -= ev_now(s->loop);
	ev_timer_set(&s->retry_timer, first > 0 ? first : 0., 0.);
	ev_timer_start(s->loop, &s->retry_timer);
}

static void retry_push(zk_req_t *r)
{
	list_push(&r->s->retry, r);
	retry_timer_arm(r->s);
}

/* Calls the request's completion with an error and no data, then frees it. */
static void req_fail(zk_req_t *r, brook_err_t err)
{
	zk_session_t *s = r->s;

	switch (r->kind) {
	case REQ_GET:
		r->cb.data(s, err, NULL, 0, NULL, r->opaque);
		break;
	case REQ_CHILDREN:
		r->cb.children(s, err, NULL, 0, NULL, r->opaque);
		break;
	case REQ_EXISTS:
	case REQ_SET:
		r->cb.stat(s, err, NULL, r->opaque);
		break;
	case REQ_CREATE:
		r->cb.create(s, err, NULL, r->opaque);
		break;
	case REQ_DELETE:
	case REQ_CREATE_PATH:
		r->cb.vcb(s, err, r->opaque);
		break;
	case REQ_MULTI:
		r->multi->completed = 1;
		r->multi->err = err;
		r->multi->failed_op = -1;
		r->cb.multi(s, err, r->multi, r->opaque);
		break;
	}
	req_free(r);
}

static void list_fail_all(req_list_t *l, brook_err_t err)
{
	zk_req_t *r;

	while ((r = list_pop(l)))
		req_fail(r, err);
}

/* A retryable request that lost its connection waits for the next one,
 * unless its deadline passed or the session is going away. Returns 1 when
 * the request was parked (the caller must not touch it any more). */
static int maybe_retry(zk_req_t *r, int rc)
{
	zk_session_t *s = r->s;

	if (!is_loss(rc) || !is_retryable(r->kind) || s->free_requested || s->expired ||
	    now(s) >= r->deadline)
		return 0;
	retry_push(r);
	return 1;
}

/* The error a completion reports: once zk_session_free() was called, every
 * outstanding request reports BROOK_ERR__CLOSED whatever the server said. */
static brook_err_t completion_err(zk_req_t *r, int rc)
{
	return r->s->free_requested ? BROOK_ERR__CLOSED : map_rc(r->s, rc);
}

static void data_done(int rc, const char *value, int value_len, const struct Stat *stat,
		      const void *data)
{
	zk_req_t *r = (zk_req_t *)data;
	brook_err_t err;
	zk_stat_t st;

	watch_adopt(r, rc);
	if (maybe_retry(r, rc))
		return;
	err = completion_err(r, rc);
	if (err || !stat) {
		req_fail(r, err ? err : BROOK_ERR__ZK);
		return;
	}
	stat_from(&st, stat);
	r->cb.data(r->s, err, value_len > 0 ? value : NULL, value_len > 0 ? (size_t)value_len : 0,
		   &st, r->opaque);
	req_free(r);
}

static void children_done(int rc, const struct String_vector *strings, const struct Stat *stat,
			  const void *data)
{
	zk_req_t *r = (zk_req_t *)data;
	brook_err_t err;
	zk_stat_t st;

	watch_adopt(r, rc);
	if (maybe_retry(r, rc))
		return;
	err = completion_err(r, rc);
	if (err || !stat) {
		req_fail(r, err ? err : BROOK_ERR__ZK);
		return;
	}
	stat_from(&st, stat);
	r->cb.children(r->s, err, strings ? (const char *const *)strings->data : NULL,
		       strings && strings->count > 0 ? (size_t)strings->count : 0, &st, r->opaque);
	req_free(r);
}

static void stat_done(int rc, const struct Stat *stat, const void *data)
{
	zk_req_t *r = (zk_req_t *)data;
	brook_err_t err;
	zk_stat_t st;

	watch_adopt(r, rc);
	if (maybe_retry(r, rc))
		return;
	err = completion_err(r, rc);
	if (err || !stat) {
		req_fail(r, err ? err : BROOK_ERR__ZK);
		return;
	}
	stat_from(&st, stat);
	r->cb.stat(r->s, err, &st, r->opaque);
	req_free(r);
}

static void create_done(int rc, const char *path, const void *data)
{
	zk_req_t *r = (zk_req_t *)data;
	brook_err_t err = completion_err(r, rc);

	if (err) {
		req_fail(r, err);
		return;
	}
	r->cb.create(r->s, err, path, r->opaque);
	req_free(r);
}

static void void_done(int rc, const void *data)
{
	zk_req_t *r = (zk_req_t *)data;

	r->cb.vcb(r->s, completion_err(r, rc), r->opaque);
	req_free(r);
}

/* End of the next prefix of a create_path request: "/a/b/c" yields 2, 4, 6. */
static size_t next_step(const char *path, size_t step)
{
	const char *slash = strchr(path + step + 1, '/');

	return slash ? (size_t)(slash - path) : strlen(path);
}

static void create_path_done(int rc, const char *created, const void *data)
{
	zk_req_t *r = (zk_req_t *)data;

	if (maybe_retry(r, rc))
		return;
	if ((rc != ZOK && rc != ZNODEEXISTS) || r->s->free_requested) {
		req_fail(r, completion_err(r, rc));
		return;
	}
	if (r->path[r->step] == '\0') {
		r->cb.vcb(r->s, BROOK_ERR_NO_ERROR, r->opaque);
		req_free(r);
		return;
	}
	r->step = next_step(r->path, r->step);
	outbox_push(r);
}

static void multi_done(int rc, const void *data)
{
	zk_req_t *r = (zk_req_t *)data;
	zk_multi_t *m = r->multi;
	brook_err_t err = completion_err(r, rc);

	m->completed = 1;
	m->err = err;
	m->failed_op = -1;
	/* On a real failure the server reports the failing operation's code
	 * and ZRUNTIMEINCONSISTENCY (or ZOK!) for the rolled-back others. */
	if (err && !is_loss(rc) && rc != ZCLOSING && rc != ZSESSIONEXPIRED && !r->s->free_requested) {
		for (size_t i = 0; i < m->cnt; i++) {
			if (m->results[i].err != ZOK && m->results[i].err != ZRUNTIMEINCONSISTENCY) {
				m->failed_op = (int)i;
				break;
			}
		}
	}
	r->cb.multi(r->s, err, m, r->opaque);
	req_free(r);
}

/* Watchers: the session's own (session events) and one per watch. */

static void watch_fired(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	zk_watch_t *w = ctx;
	zk_session_t *s = w->s;
	zk_event_t ev;

	(void)zh;
	(void)state;
	/* The library also shows every session event to every registered
	 * watch; the session callbacks report those. */
	if (type == ZOO_SESSION_EVENT)
		return;
	watch_unlink(s, w);
	if (type == ZOO_CREATED_EVENT)
		ev = ZK_EVENT_CREATED;
	else if (type == ZOO_DELETED_EVENT)
		ev = ZK_EVENT_DELETED;
	else if (type == ZOO_CHANGED_EVENT)
		ev = ZK_EVENT_CHANGED;
	else if (type == ZOO_CHILD_EVENT)
		ev = ZK_EVENT_CHILD;
	else
		ev = 0; /* ZOO_NOTWATCHING_EVENT: the watch was removed */
	if (ev && !s->free_requested && !s->expired)
		w->cb(s, ev, path ? path : "", w->opaque);
	watch_free(w);
}

static void session_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	zk_session_t *s = ctx;

	(void)path;
	if (type != ZOO_SESSION_EVENT || zh != s->zh || s->free_requested)
		return;
	if (state == ZOO_CONNECTED_STATE) {
		const clientid_t *cid = zoo_client_id(zh);
		int is_new = !s->have_session || cid->client_id != s->session_id;
		char server[128];

		s->have_session = 1;
		s->session_id = cid->client_id;
		memcpy(s->passwd, cid->passwd, ZK_PASSWD_LEN);
		s->negotiated_timeout_ms = zoo_recv_timeout(zh);
		set_state(s, ZK_STATE_CONNECTED);
		if (is_new)
			s->generation++;
		snprintf(server, sizeof(server), "%s", zoo_get_current_server(zh));
		if (s->cbs.on_connected)
			s->cbs.on_connected(s, server, s->opaque);
		if (s->cbs.on_session_established && !s->free_requested)
			s->cbs.on_session_established(s, is_new, s->opaque);
	} else if (state == ZOO_CONNECTING_STATE) {
		if (s->state == ZK_STATE_CONNECTED) {
			set_state(s, ZK_STATE_CONNECTING);
			if (s->cbs.on_disconnected)
				s->cbs.on_disconnected(s, s->opaque);
		}
	} else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
		/* The handle is dead; it is closed and replaced in leave(), once
		 * the library is no longer on the stack. */
		set_state(s, ZK_STATE_EXPIRED);
		s->expired = 1;
	}
}

/* --- issuing -------------------------------------------------------------- */

static int issue(zk_req_t *r)
{
	zk_session_t *s = r->s;
	watcher_fn wfn = r->watch ? watch_fired : NULL;
	char prefix[ZK_PATH_BUF];

	switch (r->kind) {
	case REQ_GET:
		return zoo_awget(s->zh, r->path, wfn, r->watch, data_done, r);
	case REQ_CHILDREN:
		return zoo_awget_children2(s->zh, r->path, wfn, r->watch, children_done, r);
	case REQ_EXISTS:
		return zoo_awexists(s->zh, r->path, wfn, r->watch, stat_done, r);
	case REQ_CREATE:
		return zoo_acreate(s->zh, r->path, r->data, r->len, &ZOO_OPEN_ACL_UNSAFE, r->mode,
				   create_done, r);
	case REQ_SET:
		return zoo_aset(s->zh, r->path, r->data, r->len, r->version, stat_done, r);
	case REQ_DELETE:
		return zoo_adelete(s->zh, r->path, r->version, void_done, r);
	case REQ_CREATE_PATH:
		if (r->step >= sizeof(prefix))
			return ZBADARGUMENTS;
		memcpy(prefix, r->path, r->step);
		prefix[r->step] = '\0';
		return zoo_acreate(s->zh, prefix, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
				   create_path_done, r);
	case REQ_MULTI:
		return zoo_amulti(s->zh, (int)r->multi->cnt, r->multi->zops, r->multi->results,
				  multi_done, r);
	}
	return ZBADARGUMENTS;
}

/* Queues a request for the next prepare. Without a live handle (between a
 * failed zookeeper_init and the next attempt) retryable requests wait for
 * one and writes fail; an expired handle refuses everything until it is
 * replaced. */
static brook_err_t submit(zk_req_t *r)
{
	zk_session_t *s = r->s;

	if (s->free_requested)
		return BROOK_ERR__CLOSED;
	if (s->state == ZK_STATE_EXPIRED)
		return BROOK_ERR__SESSION_EXPIRED;
	if (!s->zh) {
		if (!is_retryable(r->kind))
			return BROOK_ERR__CONNECTION_LOSS;
		retry_push(r);
		return BROOK_ERR_NO_ERROR;
	}
	outbox_push(r);
	return BROOK_ERR_NO_ERROR;
}

static void outbox_push(zk_req_t *r)
{
	list_push(&r->s->outbox, r);
	kick(r->s);
}

/* --- the libev side ------------------------------------------------------- */

static void arm_io(zk_session_t *s, int fd, int interest, int zstate)
{
	int events = ((interest & ZOOKEEPER_READ) ? EV_READ : 0) |
		     ((interest & ZOOKEEPER_WRITE) ? EV_WRITE : 0);

	if (fd < 0 || events == 0) {
		ev_io_stop(s->loop, &s->io);
		s->io_fd = -1;
		s->io_events = 0;
		return;
	}
	if (ev_is_active(&s->io) && fd == s->io_fd && events == s->io_events &&
	    zstate == ZOO_CONNECTED_STATE && s->io_zstate == zstate)
		return;
	ev_io_stop(s->loop, &s->io);
	ev_io_set(&s->io, fd, events);
	ev_io_start(s->loop, &s->io);
	s->io_fd = fd;
	s->io_events = events;
	s->io_zstate = zstate;
}

static void destroy(zk_session_t *s);

static void close_handle(zk_session_t *s, brook_err_t why)
{
	zhandle_t *zh = s->zh;
	zk_watch_t *w;

	if (!zh)
		return;
	/* Stop watching the fd before the library closes it. */
	ev_io_stop(s->loop, &s->io);
	s->io_fd = -1;
	s->zh = NULL;
	s->closing_err = why;
	/* Runs every outstanding completion with ZCLOSING. */
	zookeeper_close(zh);
	/* The library freed its watch tables but never our contexts. */
	while ((w = s->watches)) {
		watch_unlink(s, w);
		watch_free(w);
	}
	/* Requests it never saw end the same way. */
	list_fail_all(&s->outbox, why);
}

static void handle_expiry(zk_session_t *s)
{
	char errstr[256];

	s->expired = 0;
	close_handle(s, BROOK_ERR__SESSION_EXPIRED);
	list_fail_all(&s->retry, BROOK_ERR__SESSION_EXPIRED);
	ev_timer_stop(s->loop, &s->retry_timer);
	s->have_session = 0;
	s->session_id = 0;
	memset(s->passwd, 0, sizeof(s->passwd));
	if (s->free_requested)
		return;
	set_state(s, ZK_STATE_CONNECTING);
	if (open_handle(s, errstr, sizeof(errstr)) != BROOK_ERR_NO_ERROR) {
		fprintf(stderr, "WARN [zk] cannot open a new session: %s; retrying in 1 s\n", errstr);
		ev_timer_stop(s->loop, &s->reopen_timer);
		ev_timer_set(&s->reopen_timer, 1., 0.);
		ev_timer_start(s->loop, &s->reopen_timer);
	}
	if (s->cbs.on_session_expired)
		s->cbs.on_session_expired(s, s->opaque);
}

/* Re-sends the reads that lost their connection, oldest first. */
static void resend(zk_session_t *s)
{
	zk_req_t *r;

	while ((r = list_pop(&s->retry)))
		outbox_push(r);
	ev_timer_stop(s->loop, &s->retry_timer);
}

/* Hands the queued requests to the library. First it reads what the socket
 * already holds: if the server closed the connection, the library then
 * notices through its receive path, which fails the requests in flight and
 * announces the disconnect. Sending first would hit EPIPE inside zoo_a*(),
 * where the 3.8 client just closes the socket, telling nobody and leaking
 * its input buffer. */
static void flush_outbox(zk_session_t *s)
{
	zhandle_t *zh = s->zh;
	zk_req_t *r;

	if (!s->outbox.head || !zh)
		return;
	if (zoo_state(zh) == ZOO_CONNECTED_STATE && s->io_fd >= 0) {
		struct pollfd pfd = { .fd = s->io_fd, .events = POLLIN };
		int rc = ZOK;

		if (poll(&pfd, 1, 0) > 0) {
			for (int i = 0; i < 64 && rc == ZOK && s->zh == zh && !s->expired &&
			     !s->free_requested && zoo_state(zh) == ZOO_CONNECTED_STATE; i++)
				rc = zookeeper_process(zh, ZOOKEEPER_READ);
		}
	}
	while (s->zh == zh && !s->expired && !s->free_requested && (r = list_pop(&s->outbox))) {
		int rc = issue(r);

		if (rc != ZOK)
			req_fail(r, map_rc(s, rc));
	}
}

/* The 3.8 client does not always announce a lost connection: when a send
 * fails inside zoo_aget() and friends it closes the socket and moves to
 * ZOO_NOTCONNECTED_STATE without a session event, and it fails the
 * requests in flight only later. So after every library call we compare
 * its state with ours and report the disconnect ourselves. */
static void sync_state(zk_session_t *s)
{
	if (!s->zh || s->state != ZK_STATE_CONNECTED || s->expired || s->free_requested)
		return;
	if (zoo_state(s->zh) == ZOO_CONNECTED_STATE)
		return;
	set_state(s, ZK_STATE_CONNECTING);
	if (s->cbs.on_disconnected)
		s->cbs.on_disconnected(s, s->opaque);
}

static void enter(zk_session_t *s)
{
	s->depth++;
}

/* Leaves a dispatch. The outermost one does the deferred work, staying
 * "inside" (depth 1) while it runs so callbacks it triggers cannot recurse
 * into here, and finally frees the session if asked to. Returns 1 when the
 * session was freed. */
static int leave(zk_session_t *s)
{
	if (s->depth > 1) {
		s->depth--;
		return 0;
	}
	for (int guard = 0; guard < 16 && !s->free_requested; guard++) {
		if (s->expired) {
			handle_expiry(s);
			kick(s);
		} else if (s->retry.head && s->state == ZK_STATE_CONNECTED && s->zh) {
			resend(s);
		} else {
			break;
		}
	}
	s->depth--;
	if (s->free_requested) {
		destroy(s);
		return 1;
	}
	return 0;
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	zk_session_t *s = w->data;
	struct timeval tv = { 0, 0 };
	int fd = -1, interest = 0, rc;
	zhandle_t *zh = s->zh;

	(void)loop;
	(void)revents;
	if (!zh)
		return;
	enter(s);
	flush_outbox(s);
	if (s->zh != zh || s->expired || s->free_requested) {
		leave(s);
		return;
	}
	rc = zookeeper_interest(zh, &fd, &interest, &tv);
	if (s->zh == zh && !s->expired && !s->free_requested) {
		double after;

		if (rc == ZINVALIDSTATE && !s->expired) {
			/* Unrecoverable handle whose event we did not see. */
			set_state(s, ZK_STATE_EXPIRED);
			s->expired = 1;
		}
		if (rc != ZOK) {
			/* The library closed the socket (failed connect, receive
			 * timeout); it picks the next server on the next call.
			 * A short pause keeps a persistent failure from spinning. */
			fd = -1;
			interest = 0;
			if (tv.tv_sec == 0 && tv.tv_usec < 10000)
				tv.tv_usec = 10000;
		}
		arm_io(s, fd, interest, zoo_state(zh));
		after = (double)tv.tv_sec + tv.tv_usec / 1e6;
		ev_timer_stop(s->loop, &s->timer);
		ev_timer_set(&s->timer, after, 0.);
		ev_timer_start(s->loop, &s->timer);
		sync_state(s);
		/* Callbacks run by interest() may have queued requests. */
		if (s->outbox.head)
			kick(s);
	}
	leave(s);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	zk_session_t *s = w->data;
	zhandle_t *zh = s->zh;
	int events = 0, rc;

	(void)loop;
	if (!zh || (revents & EV_ERROR)) {
		/* libev found the fd invalid: the library closed it. The next
		 * prepare arms the watcher on whatever the library uses now. */
		ev_io_stop(s->loop, &s->io);
		s->io_fd = -1;
		return;
	}
	if (revents & EV_READ)
		events |= ZOOKEEPER_READ;
	if (revents & EV_WRITE)
		events |= ZOOKEEPER_WRITE;
	enter(s);
	rc = zookeeper_process(zh, events);
	/* zookeeper_process() reads at most one reply per call. Draining what
	 * is already in the socket saves a loop iteration per reply; ZNOTHING
	 * ends it as soon as the socket is empty. */
	for (int i = 0; i < 64 && rc == ZOK && (events & ZOOKEEPER_READ) && s->zh == zh &&
	     !s->expired && !s->free_requested && zoo_state(zh) == ZOO_CONNECTED_STATE; i++)
		rc = zookeeper_process(zh, ZOOKEEPER_READ);
	if (s->zh == zh)
		sync_state(s);
	leave(s);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* Nothing to do: the loop woke up, so prepare_cb runs
	 * zookeeper_interest() again, which sends pings and notices timeouts. */
	(void)loop;
	(void)w;
	(void)revents;
}

static void retry_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	zk_session_t *s = w->data;
	zk_req_t *r, *next;
	ev_tstamp t = ev_now(loop);

	(void)revents;
	enter(s);
	for (r = s->retry.head; r; r = next) {
		next = r->next;
		if (r->deadline <= t && !s->free_requested) {
			list_remove(&s->retry, r);
			req_fail(r, BROOK_ERR__CONNECTION_LOSS);
		}
	}
	retry_timer_arm(s);
	leave(s);
}

static void reopen_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	zk_session_t *s = w->data;
	char errstr[256];

	(void)loop;
	(void)revents;
	if (s->zh || s->free_requested)
		return;
	if (open_handle(s, errstr, sizeof(errstr)) != BROOK_ERR_NO_ERROR) {
		ev_timer_set(&s->reopen_timer, 1., 0.);
		ev_timer_start(s->loop, &s->reopen_timer);
	}
}

static brook_err_t open_handle(zk_session_t *s, char *errstr, size_t errstr_size)
{
	zhandle_t *zh;

	errno = 0;
	zh = zookeeper_init2(s->connect, session_event, s->session_timeout_ms, NULL, s,
			     ZOO_NO_LOG_CLIENTENV, client_log);
	if (!zh) {
		brook_errstr(errstr, errstr_size, "zookeeper_init(\"%s\"): %s", s->connect,
			errno ? strerror(errno) : "failed");
		return errno == EINVAL ? BROOK_ERR__INVALID_ARG : BROOK_ERR__ZK;
	}
	/* By default the 3.8 client re-resolves every host of the connect
	 * string (getaddrinfo) on each zookeeper_interest() call, that is on
	 * every loop iteration. -1 limits that to reconnects, as the Java
	 * client does. */
	zoo_set_servers_resolution_delay(zh, -1);
	s->zh = zh;
	s->io_fd = -1;
	s->io_zstate = 0;
	kick(s);
	return BROOK_ERR_NO_ERROR;
}

/* --- lifecycle ------------------------------------------------------------ */

brook_err_t zk_session_new(struct ev_loop *loop, const char *connect, int session_timeout_ms,
			   const zk_session_callbacks_t *cbs, void *opaque, zk_session_t **out,
			   char *errstr, size_t errstr_size)
{
	zk_session_t *s;
	brook_err_t err;

	*out = NULL;
	if (!loop || !connect || !*connect || session_timeout_ms <= 0) {
		brook_errstr(errstr, errstr_size, "zk_session_new: %s",
			!connect || !*connect ? "empty connect string" : "bad arguments");
		return BROOK_ERR__INVALID_ARG;
	}
	setup_client_logging();
	s = calloc(1, sizeof(*s));
	if (!s || !(s->connect = strdup(connect))) {
		free(s);
		brook_errstr(errstr, errstr_size, "out of memory");
		return BROOK_ERR__NOMEM;
	}
	s->loop = loop;
	s->session_timeout_ms = session_timeout_ms;
	s->read_timeout_ms = 2 * session_timeout_ms;
	if (cbs)
		s->cbs = *cbs;
	s->opaque = opaque;
	s->state = ZK_STATE_CONNECTING;
	s->closing_err = BROOK_ERR__CLOSED;
	s->io_fd = -1;

	ev_prepare_init(&s->prepare, prepare_cb);
	s->prepare.data = s;
	ev_io_init(&s->io, io_cb, -1, EV_READ);
	s->io.data = s;
	ev_timer_init(&s->timer, timer_cb, 0., 0.);
	s->timer.data = s;
	ev_timer_init(&s->retry_timer, retry_timer_cb, 0., 0.);
	s->retry_timer.data = s;
	ev_timer_init(&s->reopen_timer, reopen_timer_cb, 0., 0.);
	s->reopen_timer.data = s;

	if ((err = open_handle(s, errstr, errstr_size)) != BROOK_ERR_NO_ERROR) {
		free(s->connect);
		free(s);
		return err;
	}
	ev_prepare_start(loop, &s->prepare);
	*out = s;
	return BROOK_ERR_NO_ERROR;
}

static void destroy(zk_session_t *s)
{
	s->free_requested = 1;
	set_state(s, ZK_STATE_CLOSED);
	/* Completions run below and may call zk_session_free() again; the
	 * depth keeps them from recursing into destroy(). */
	s->depth++;
	ev_prepare_stop(s->loop, &s->prepare);
	ev_io_stop(s->loop, &s->io);
	ev_timer_stop(s->loop, &s->timer);
	ev_timer_stop(s->loop, &s->retry_timer);
	ev_timer_stop(s->loop, &s->reopen_timer);
	close_handle(s, BROOK_ERR__CLOSED);
	list_fail_all(&s->outbox, BROOK_ERR__CLOSED);
	list_fail_all(&s->retry, BROOK_ERR__CLOSED);
	free(s->connect);
	free(s);
}

void zk_session_free(zk_session_t *s)
{
	if (!s || s->free_requested)
		return;
	if (s->depth > 0) {
		/* Inside a callback: leave() frees it once the stack unwinds. */
		s->free_requested = 1;
		set_state(s, ZK_STATE_CLOSED);
		return;
	}
	destroy(s);
}

void zk_session_set_read_timeout(zk_session_t *s, int timeout_ms)
{
	if (s && timeout_ms > 0)
		s->read_timeout_ms = timeout_ms;
}

zk_state_t zk_session_state(const zk_session_t *s)
{
	return s->state;
}

const char *zk_state_name(zk_state_t state)
{
	static const char *names[] = {
		[ZK_STATE_CONNECTING] = "CONNECTING",
		[ZK_STATE_CONNECTED] = "CONNECTED",
		[ZK_STATE_EXPIRED] = "EXPIRED",
		[ZK_STATE_CLOSED] = "CLOSED",
	};

	return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "UNKNOWN";
}

const char *zk_event_name(zk_event_t event)
{
	switch (event) {
	case ZK_EVENT_CREATED: return "CREATED";
	case ZK_EVENT_DELETED: return "DELETED";
	case ZK_EVENT_CHANGED: return "CHANGED";
	case ZK_EVENT_CHILD: return "CHILD";
	}
	return "UNKNOWN";
}

int64_t zk_session_id(const zk_session_t *s)
{
	return s->have_session ? s->session_id : 0;
}

brook_err_t zk_session_credentials(const zk_session_t *s, int64_t *id,
				   unsigned char passwd[ZK_PASSWD_LEN])
{
	if (!s->have_session)
		return BROOK_ERR__STATE;
	*id = s->session_id;
	memcpy(passwd, s->passwd, ZK_PASSWD_LEN);
	return BROOK_ERR_NO_ERROR;
}

uint64_t zk_session_generation(const zk_session_t *s)
{
	return s->generation;
}

brook_err_t zk_session_current_server(const zk_session_t *s, char *buf, size_t size)
{
	const char *server;
	int n;

	if (!s->zh || s->state != ZK_STATE_CONNECTED)
		return BROOK_ERR__STATE;
	server = zoo_get_current_server(s->zh);
	if (!server)
		return BROOK_ERR__STATE;
	n = snprintf(buf, size, "%s", server);
	if (n < 0 || (size_t)n >= size)
		return BROOK_ERR__INVALID_ARG;
	return BROOK_ERR_NO_ERROR;
}

int zk_session_timeout(const zk_session_t *s)
{
	return s->negotiated_timeout_ms;
}

struct ev_loop *zk_session_loop(const zk_session_t *s)
{
	return s->loop;
}

/* --- operations ------------------------------------------------------------ */

/* Common tail of every operation: submit, or free the request when the
 * library refused it (the completion is then never called). */
static brook_err_t start(zk_req_t *r)
{
	brook_err_t err = submit(r);

	if (err)
		req_free(r);
	return err;
}

/* ZooKeeper's rules (isValidPath), checked here so that a bad path is
 * refused by the call rather than reported by a completion: absolute, no
 * empty, "." or ".." component, no control characters, no trailing '/'
 * (except that a sequential create may end in '/': "/queue/" makes
 * "/queue/0000000001"). */
static int valid_path(const char *path, int sequential)
{
	size_t len;

	if (!path || path[0] != '/')
		return 0;
	len = strlen(path);
	if (len >= ZK_PATH_BUF)
		return 0;
	if (len == 1)
		return !sequential;
	if (path[len - 1] == '/' && !sequential)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c == '/' && i + 1 < len) {
			const char *comp = path + i + 1;

			if (comp[0] == '/' || (comp[0] == '.' && (comp[1] == '/' || comp[1] == '\0')) ||
			    (comp[0] == '.' && comp[1] == '.' && (comp[2] == '/' || comp[2] == '\0')))
				return 0;
		}
	}
	return 1;
}

static int path_ok(const char *path)
{
	return valid_path(path, 0);
}

brook_err_t zk_get(zk_session_t *s, const char *path, zk_watch_cb *watch, zk_data_cb *cb,
		   void *opaque)
{
	zk_req_t *r;

	if (!s || !path_ok(path) || !cb)
		return BROOK_ERR__INVALID_ARG;
	if (!(r = req_new(s, REQ_GET, path, watch, opaque)))
		return BROOK_ERR__NOMEM;
	r->cb.data = cb;
	return start(r);
}

brook_err_t zk_get_children(zk_session_t *s, const char *path, zk_watch_cb *watch,
			    zk_children_cb *cb, void *opaque)
{
	zk_req_t *r;

	if (!s || !path_ok(path) || !cb)
		return BROOK_ERR__INVALID_ARG;
	if (!(r = req_new(s, REQ_CHILDREN, path, watch, opaque)))
		return BROOK_ERR__NOMEM;
	r->cb.children = cb;
	return start(r);
}

brook_err_t zk_exists(zk_session_t *s, const char *path, zk_watch_cb *watch, zk_stat_cb *cb,
		      void *opaque)
{
	zk_req_t *r;

	if (!s || !path_ok(path) || !cb)
		return BROOK_ERR__INVALID_ARG;
	if (!(r = req_new(s, REQ_EXISTS, path, watch, opaque)))
		return BROOK_ERR__NOMEM;
	r->cb.stat = cb;
	return start(r);
}

static int create_mode(int flags)
{
	return ((flags & ZK_EPHEMERAL) ? ZOO_EPHEMERAL : ZOO_PERSISTENT) |
	       ((flags & ZK_SEQUENTIAL) ? ZOO_SEQUENCE : 0);
}

brook_err_t zk_create(zk_session_t *s, const char *path, const void *data, size_t len, int flags,
		      zk_create_cb *cb, void *opaque)
{
	zk_req_t *r;
	brook_err_t err;

	if (!s || !cb || (flags & ~(ZK_EPHEMERAL | ZK_SEQUENTIAL)) ||
	    !valid_path(path, flags & ZK_SEQUENTIAL))
		return BROOK_ERR__INVALID_ARG;
	if (!(r = req_new(s, REQ_CREATE, path, NULL, opaque)))
		return BROOK_ERR__NOMEM;
	r->cb.create = cb;
	r->mode = create_mode(flags);
	if ((err = req_set_data(r, data, len))) {
		req_free(r);
		return err;
	}
	return start(r);
}

brook_err_t zk_set(zk_session_t *s, const char *path, const void *data, size_t len, int version,
		   zk_stat_cb *cb, void *opaque)
{
	zk_req_t *r;
	brook_err_t err;

	if (!s || !path_ok(path) || !cb || version < -1)
		return BROOK_ERR__INVALID_ARG;
	if (!(r = req_new(s, REQ_SET, path, NULL, opaque)))
		return BROOK_ERR__NOMEM;
	r->cb.stat = cb;
	r->version = version;
	if ((err = req_set_data(r, data, len))) {
		req_free(r);
		return err;
	}
	return start(r);
}

brook_err_t zk_delete(zk_session_t *s, const char *path, int version, zk_void_cb *cb, void *opaque)
{
	zk_req_t *r;

	if (!s || !path_ok(path) || !cb || version < -1)
		return BROOK_ERR__INVALID_ARG;
	if (!(r = req_new(s, REQ_DELETE, path, NULL, opaque)))
		return BROOK_ERR__NOMEM;
	r->cb.vcb = cb;
	r->version = version;
	return start(r);
}

brook_err_t zk_create_path(zk_session_t *s, const char *path, zk_void_cb *cb, void *opaque)
{
	zk_req_t *r;
	size_t len;

	if (!s || !path_ok(path) || !cb)
		return BROOK_ERR__INVALID_ARG;
	/* "/" has nothing to create. */
	len = strlen(path);
	if (len < 2)
		return BROOK_ERR__INVALID_ARG;
	if (!(r = req_new(s, REQ_CREATE_PATH, path, NULL, opaque)))
		return BROOK_ERR__NOMEM;
	r->cb.vcb = cb;
	r->step = next_step(r->path, 0);
	return start(r);
}

/* --- multi ------------------------------------------------------------------ */

zk_multi_t *zk_multi_new(void)
{
	zk_multi_t *m = calloc(1, sizeof(*m));

	if (m)
		m->failed_op = -1;
	return m;
}

void zk_multi_free(zk_multi_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cnt; i++) {
		free(m->ops[i].path);
		free(m->ops[i].data);
		free(m->ops[i].created);
	}
	free(m->ops);
	free(m->zops);
	free(m->results);
	free(m);
}

static multi_op_t *multi_add(zk_multi_t *m, int type, const char *path, const void *data,
			     size_t len, int sequential, brook_err_t *err)
{
	multi_op_t *op;

	*err = BROOK_ERR__INVALID_ARG;
	if (!m || m->submitted || !valid_path(path, sequential) || len > INT32_MAX)
		return NULL;
	*err = BROOK_ERR__NOMEM;
	if (m->cnt == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4;
		multi_op_t *ops = realloc(m->ops, cap * sizeof(*ops));

		if (!ops)
			return NULL;
		m->ops = ops;
		m->cap = cap;
	}
	op = &m->ops[m->cnt];
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->len = -1;
	op->version = -1;
	if (!(op->path = strdup(path)))
		return NULL;
	if (data) {
		if (!(op->data = malloc(len ? len : 1))) {
			free(op->path);
			return NULL;
		}
		memcpy(op->data, data, len);
		op->len = (int)len;
	}
	m->cnt++;
	*err = BROOK_ERR_NO_ERROR;
	return op;
}

brook_err_t zk_multi_add_create(zk_multi_t *m, const char *path, const void *data, size_t len,
				int flags)
{
	brook_err_t err;
	multi_op_t *op;

	if (flags & ~(ZK_EPHEMERAL | ZK_SEQUENTIAL))
		return BROOK_ERR__INVALID_ARG;
	if (!(op = multi_add(m, ZOO_CREATE_OP, path, data, len, flags & ZK_SEQUENTIAL, &err)))
		return err;
	op->mode = create_mode(flags);
	/* Room for the 10-digit sequence suffix ZooKeeper may append. */
	op->created_size = (int)strlen(path) + 16;
	if (!(op->created = calloc(1, (size_t)op->created_size))) {
		free(op->path);
		free(op->data);
		m->cnt--;
		return BROOK_ERR__NOMEM;
	}
	return BROOK_ERR_NO_ERROR;
}

/* set, delete and check: an op that names a path and an expected version. */
static brook_err_t multi_add_versioned(zk_multi_t *m, int type, const char *path,
				       const void *data, size_t len, int version)
{
	brook_err_t err;
	multi_op_t *op;

	if (version < -1)
		return BROOK_ERR__INVALID_ARG;
	if (!(op = multi_add(m, type, path, data, len, 0, &err)))
		return err;
	op->version = version;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t zk_multi_add_set(zk_multi_t *m, const char *path, const void *data, size_t len,
			     int version)
{
	return multi_add_versioned(m, ZOO_SETDATA_OP, path, data, len, version);
}

brook_err_t zk_multi_add_delete(zk_multi_t *m, const char *path, int version)
{
	return multi_add_versioned(m, ZOO_DELETE_OP, path, NULL, 0, version);
}

brook_err_t zk_multi_add_check(zk_multi_t *m, const char *path, int version)
{
	return multi_add_versioned(m, ZOO_CHECK_OP, path, NULL, 0, version);
}

size_t zk_multi_count(const zk_multi_t *m)
{
	return m ? m->cnt : 0;
}

brook_err_t zk_multi_result(const zk_multi_t *m, size_t i)
{
	if (!m || i >= m->cnt)
		return BROOK_ERR__INVALID_ARG;
	if (!m->completed)
		return BROOK_ERR__STATE;
	if (!m->err)
		return BROOK_ERR_NO_ERROR;
	if (m->failed_op < 0)
		return m->err;           /* the whole multi failed (connection, ...) */
	return (int)i == m->failed_op ? m->err : BROOK_ERR__ZK;
}

int zk_multi_failed_op(const zk_multi_t *m)
{
	return m && m->completed ? m->failed_op : -1;
}

const char *zk_multi_created_path(const zk_multi_t *m, size_t i)
{
	if (!m || i >= m->cnt || !m->completed || m->err || m->ops[i].type != ZOO_CREATE_OP)
		return NULL;
	return m->ops[i].created;
}

/* Builds the library's op array from our copies; it must stay put until
 * the completion, which is why the multi travels with the request. */
static brook_err_t multi_prepare(zk_multi_t *m)
{
	m->zops = calloc(m->cnt, sizeof(*m->zops));
	m->results = calloc(m->cnt, sizeof(*m->results));
	if (!m->zops || !m->results)
		return BROOK_ERR__NOMEM;
	for (size_t i = 0; i < m->cnt; i++) {
		multi_op_t *op = &m->ops[i];

		if (op->type == ZOO_CREATE_OP)
			zoo_create_op_init(&m->zops[i], op->path, op->data, op->len,
					   &ZOO_OPEN_ACL_UNSAFE, op->mode, op->created,
					   op->created_size);
		else if (op->type == ZOO_SETDATA_OP)
			zoo_set_op_init(&m->zops[i], op->path, op->data, op->len, op->version,
					&op->stat);
		else if (op->type == ZOO_DELETE_OP)
			zoo_delete_op_init(&m->zops[i], op->path, op->version);
		else
			zoo_check_op_init(&m->zops[i], op->path, op->version);
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t zk_multi(zk_session_t *s, zk_multi_t *m, zk_multi_cb *cb, void *opaque)
{
	zk_req_t *r;
	brook_err_t err;

	if (!s || !m || !cb || m->cnt == 0 || m->cnt > INT32_MAX || m->submitted) {
		zk_multi_free(m);
		return BROOK_ERR__INVALID_ARG;
	}
	if (!(r = req_new(s, REQ_MULTI, NULL, NULL, opaque))) {
		zk_multi_free(m);
		return BROOK_ERR__NOMEM;
	}
	r->multi = m;
	r->cb.multi = cb;
	m->submitted = 1;
	if ((err = multi_prepare(m))) {
		req_free(r);
		return err;
	}
	return start(r);
}

/* --- blocking helpers ---------------------------------------------------------- */

static void wait_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	*(int *)w->data = 1;
}

/* Runs `loop` until cond(arg) holds or timeout_ms passes. */
static brook_err_t run_until(struct ev_loop *loop, int (*cond)(const void *), const void *arg,
			     int timeout_ms)
{
	ev_timer t;
	int fired = 0;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	ev_now_update(loop);
	ev_timer_init(&t, wait_timeout_cb, timeout_ms > 0 ? timeout_ms / 1000.0 : 0., 0.);
	t.data = &fired;
	ev_timer_start(loop, &t);
	while (!cond(arg)) {
		if (fired) {
			err = BROOK_ERR__TIMED_OUT;
			break;
		}
		ev_run(loop, EVRUN_ONCE);
	}
	ev_timer_stop(loop, &t);
	return err;
}

static int is_connected_cond(const void *arg)
{
	return ((const zk_session_t *)arg)->state == ZK_STATE_CONNECTED;
}

static int flag_cond(const void *arg)
{
	return *(const volatile int *)arg != 0;
}

brook_err_t zk_session_wait_connected(zk_session_t *s, int timeout_ms)
{
	if (!s || s->free_requested)
		return BROOK_ERR__INVALID_ARG;
	return run_until(s->loop, is_connected_cond, s, timeout_ms);
}

brook_err_t zk_run_until(zk_session_t *s, const volatile int *done, int timeout_ms)
{
	/* Only the loop is taken from s: a callback may free the session
	 * while we run. */
	if (!s || !done)
		return BROOK_ERR__INVALID_ARG;
	return run_until(s->loop, flag_cond, (const void *)done, timeout_ms);
}
