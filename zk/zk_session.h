/*
 * zk_session.h - one ZooKeeper session, driven by the caller's libev loop.
 *
 * Wraps the single-threaded C client (libzookeeper_st): the session puts an
 * ev_prepare (re-evaluates zookeeper_interest() before every poll), an ev_io
 * (the client's socket, which changes on every reconnect) and an ev_timer
 * (the deadline the client asks for) on the caller's loop, and calls
 * zookeeper_process() from them. There are no threads: every completion and
 * watch callback runs from inside ev_run() on that loop.
 *
 * The rules of DESIGN.md ("Coordination: the ZooKeeper layout"):
 *  - A connection loss is not a session loss. Reads (zk_get,
 *    zk_get_children, zk_exists) and zk_create_path are re-sent after the
 *    client reconnects, until their deadline (zk_session_set_read_timeout);
 *    only then do they fail with BROOK_ERR__CONNECTION_LOSS. Writes
 *    (zk_create, zk_set, zk_delete, zk_multi) complete with
 *    BROOK_ERR__CONNECTION_LOSS at once: the write may or may not have been
 *    applied, and only the caller knows whether repeating it is safe.
 *  - On session expiry every ephemeral node and watch of the old session is
 *    gone. The session closes the old handle, completes its outstanding
 *    requests with BROOK_ERR__SESSION_EXPIRED, drops its watches (their
 *    callbacks are never called), calls on_session_expired, and opens a new
 *    session; once connected, on_session_established(is_new_session = 1)
 *    tells owners to re-create ephemerals, re-read state and re-arm watches.
 *  - Watches fire once. Each zk_get/zk_get_children/zk_exists with a watch
 *    callback registers its own one-shot watch; the handler re-reads and
 *    re-arms.
 *
 * Request contract: an operation returning BROOK_ERR_NO_ERROR calls its
 * completion exactly once, later, from the loop; any other return means the
 * completion will never be called. Watch callbacks are called at most once.
 *
 * Paths are absolute and follow ZooKeeper's rules (no empty, "." or ".."
 * component, no trailing '/' except for a sequential create); a bad one is
 * refused with BROOK_ERR__INVALID_ARG. Under a chroot connect string they
 * are relative to the chroot, and so are the paths callbacks receive.
 *
 * Blocking: the C client resolves the connect string's host names with
 * getaddrinfo() when it (re)connects, and zk_session_free() flushes the
 * close request (bounded by the client at 3 s); use IP addresses or local
 * names where that matters.
 *
 * Ownership: the session copies every path and buffer it is given. Data,
 * stats, paths and child names passed to callbacks belong to the session and
 * are valid only during the callback. zk_session_free() completes every
 * outstanding request with BROOK_ERR__CLOSED and drops watches silently; it
 * may be called from inside a callback, in which case those completions run
 * right after that callback returns. zk_session_free(NULL) is a no-op.
 */
#ifndef BROOK_ZK_SESSION_H
#define BROOK_ZK_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"

struct ev_loop;

typedef struct zk_session zk_session_t;
typedef struct zk_multi zk_multi_t;

/* The znode metadata ZooKeeper returns with reads and writes (its Stat). */
typedef struct zk_stat {
	int64_t czxid, mzxid, pzxid;
	int64_t ctime_ms, mtime_ms;
	int32_t version;           /* data version: for zk_set/zk_delete checks */
	int32_t cversion;          /* children version */
	int32_t aversion;
	int64_t ephemeral_owner;   /* session id, 0 for persistent nodes */
	int32_t data_length;
	int32_t num_children;
} zk_stat_t;

typedef enum zk_state {
	ZK_STATE_CONNECTING,       /* no usable connection; requests wait */
	ZK_STATE_CONNECTED,
	ZK_STATE_EXPIRED,          /* between expiry and the new handle */
	ZK_STATE_CLOSED,           /* zk_session_free() was called */
} zk_state_t;

typedef enum zk_event {
	ZK_EVENT_CREATED = 1,
	ZK_EVENT_DELETED,
	ZK_EVENT_CHANGED,
	ZK_EVENT_CHILD,
} zk_event_t;

/* zk_create flags. */
#define ZK_PERSISTENT 0
#define ZK_EPHEMERAL  1
#define ZK_SEQUENTIAL 2

/* Any version, for zk_set/zk_delete/zk_multi. */
#define ZK_ANY_VERSION (-1)

#define ZK_PASSWD_LEN 16

/* State changes, all optional. Called from the loop, in this order for a
 * connect: on_connected, then on_session_established. */
typedef struct zk_session_callbacks {
	/* Connected (or reconnected) to `server` ("127.0.0.1:2181"). */
	void (*on_connected)(zk_session_t *s, const char *server, void *opaque);
	/* The connection dropped; the session may well survive. Reads wait. */
	void (*on_disconnected)(zk_session_t *s, void *opaque);
	/* The session is gone with its ephemerals and watches; a new one is
	 * being opened. */
	void (*on_session_expired)(zk_session_t *s, void *opaque);
	/* A connection is usable. is_new_session is 1 for the first session
	 * and after every expiry (re-create ephemerals, re-read, re-arm
	 * watches), 0 when the same session reconnected (nothing was lost). */
	void (*on_session_established)(zk_session_t *s, int is_new_session, void *opaque);
} zk_session_callbacks_t;

/* Completions. `err` is BROOK_ERR_NO_ERROR, _NOENT, _EXISTS, _VERSION,
 * _CONNECTION_LOSS, _SESSION_EXPIRED, _CLOSED, _INVALID_ARG or _ZK. */
typedef void (zk_data_cb)(zk_session_t *s, brook_err_t err, const char *data, size_t len,
			  const zk_stat_t *stat, void *opaque);
typedef void (zk_children_cb)(zk_session_t *s, brook_err_t err, const char *const *names,
			      size_t count, const zk_stat_t *stat, void *opaque);
/* zk_exists (stat NULL with _NOENT) and zk_set. */
typedef void (zk_stat_cb)(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque);
/* `path` is the created node's path (with the sequence number). */
typedef void (zk_create_cb)(zk_session_t *s, brook_err_t err, const char *path, void *opaque);
typedef void (zk_void_cb)(zk_session_t *s, brook_err_t err, void *opaque);
/* `m` holds the per-operation results (zk_multi_result). */
typedef void (zk_multi_cb)(zk_session_t *s, brook_err_t err, const zk_multi_t *m, void *opaque);
/* A watch fired for `path` (relative to the chroot). */
typedef void (zk_watch_cb)(zk_session_t *s, zk_event_t event, const char *path, void *opaque);

/* Opens a session to `connect` ("h1:2181,h2:2181,h3:2181", optionally with
 * a chroot suffix "/brook") and starts connecting on `loop`. Returns
 * BROOK_ERR__INVALID_ARG (bad arguments or connect string) or
 * BROOK_ERR__ZK with errstr set; *out is NULL then. The session keeps
 * watchers active on the loop until it is freed. */
brook_err_t zk_session_new(struct ev_loop *loop, const char *connect, int session_timeout_ms,
			   const zk_session_callbacks_t *cbs, void *opaque, zk_session_t **out,
			   char *errstr, size_t errstr_size);
void zk_session_free(zk_session_t *s);

/* How long reads wait across reconnects before they fail with
 * BROOK_ERR__CONNECTION_LOSS. Default: twice the session timeout. */
void zk_session_set_read_timeout(zk_session_t *s, int timeout_ms);

zk_state_t zk_session_state(const zk_session_t *s);
const char *zk_state_name(zk_state_t state);
const char *zk_event_name(zk_event_t event);
/* The current session id, 0 before the first connect. */
int64_t zk_session_id(const zk_session_t *s);
/* Id and password of the current session (what ZooKeeper needs to resume
 * it); BROOK_ERR__STATE before the first connect. */
brook_err_t zk_session_credentials(const zk_session_t *s, int64_t *id,
				   unsigned char passwd[ZK_PASSWD_LEN]);
/* Number of sessions established so far: 1 after the first connect, +1 on
 * every expiry and re-establishment. */
uint64_t zk_session_generation(const zk_session_t *s);
/* The server the client is connected (or connecting) to, "ip:port".
 * BROOK_ERR__STATE when there is none, _INVALID_ARG when buf is small. */
brook_err_t zk_session_current_server(const zk_session_t *s, char *buf, size_t size);
/* Negotiated session timeout (what the server granted), 0 before connect. */
int zk_session_timeout(const zk_session_t *s);
struct ev_loop *zk_session_loop(const zk_session_t *s);

/* Reads. With a non-NULL watch, a one-shot watch is left on the node (on
 * its children for zk_get_children) when the read succeeds (and, for
 * zk_exists, also when the node does not exist). */
brook_err_t zk_get(zk_session_t *s, const char *path, zk_watch_cb *watch, zk_data_cb *cb,
		   void *opaque);
brook_err_t zk_get_children(zk_session_t *s, const char *path, zk_watch_cb *watch,
			    zk_children_cb *cb, void *opaque);
brook_err_t zk_exists(zk_session_t *s, const char *path, zk_watch_cb *watch, zk_stat_cb *cb,
		      void *opaque);

/* Writes. flags: ZK_PERSISTENT or ZK_EPHEMERAL, optionally | ZK_SEQUENTIAL.
 * data may be NULL (a node without data). */
brook_err_t zk_create(zk_session_t *s, const char *path, const void *data, size_t len, int flags,
		      zk_create_cb *cb, void *opaque);
/* Conditional on `version` (ZK_ANY_VERSION: unconditional); a mismatch
 * completes with BROOK_ERR__VERSION. */
brook_err_t zk_set(zk_session_t *s, const char *path, const void *data, size_t len, int version,
		   zk_stat_cb *cb, void *opaque);
brook_err_t zk_delete(zk_session_t *s, const char *path, int version, zk_void_cb *cb, void *opaque);

/* mkdir -p: creates `path` and every missing parent as empty persistent
 * nodes; nodes that exist already are fine. Idempotent, so it is retried
 * across connection losses like a read. Under a chroot, the chroot node
 * itself must exist. */
brook_err_t zk_create_path(zk_session_t *s, const char *path, zk_void_cb *cb, void *opaque);

/* Atomic multi-operation (zoo_multi): build it, then submit it with
 * zk_multi(), which takes ownership of `m` whatever it returns. Either every
 * operation is applied or none; err is the first failing operation's error
 * and zk_multi_failed_op() says which one it was. */
zk_multi_t *zk_multi_new(void);
void zk_multi_free(zk_multi_t *m);
brook_err_t zk_multi_add_create(zk_multi_t *m, const char *path, const void *data, size_t len,
				int flags);
brook_err_t zk_multi_add_set(zk_multi_t *m, const char *path, const void *data, size_t len,
			     int version);
brook_err_t zk_multi_add_delete(zk_multi_t *m, const char *path, int version);
/* Fails the whole multi unless `path` is at `version`. */
brook_err_t zk_multi_add_check(zk_multi_t *m, const char *path, int version);
size_t zk_multi_count(const zk_multi_t *m);
/* After completion: the result of operation i (BROOK_ERR__ZK for an
 * operation rolled back because another one failed). */
brook_err_t zk_multi_result(const zk_multi_t *m, size_t i);
/* Index of the operation that made the multi fail, or -1. */
int zk_multi_failed_op(const zk_multi_t *m);
/* After a successful completion: the path a create operation made. */
const char *zk_multi_created_path(const zk_multi_t *m, size_t i);
brook_err_t zk_multi(zk_session_t *s, zk_multi_t *m, zk_multi_cb *cb, void *opaque);

/* Blocking helpers for CLI tools and tests: they run the session's loop
 * (ev_run with EVRUN_ONCE) until the condition holds or the time is up,
 * and return BROOK_ERR__TIMED_OUT in that case. Never use them from a
 * callback or in the broker. */
brook_err_t zk_session_wait_connected(zk_session_t *s, int timeout_ms);
brook_err_t zk_run_until(zk_session_t *s, const volatile int *done, int timeout_ms);

#endif /* BROOK_ZK_SESSION_H */
