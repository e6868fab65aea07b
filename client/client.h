/*
 * client.h - what producer and consumer handles share: the settings, ONE
 * background I/O thread running its own libev loop, the broker connections
 * (conn.h) and the metadata of the topics the handle uses (client_md.h).
 *
 * Threads: the application's threads talk to the I/O thread only through
 * queues guarded by `lock` and a wakeup (client_wakeup(), an ev_async);
 * answers come back through queues guarded by the same lock and `cond`.
 * Everything else in client_t (brokers, metadata, the role's per-partition
 * state) belongs to the I/O thread alone: functions marked "I/O thread"
 * must only be called from role callbacks.
 *
 * Lifecycle: client_init() -> client_start() -> ... -> client_stop() (joins
 * the thread) -> client_close_conns() (outstanding requests complete with
 * BROOK_ERR__CLOSED, on the caller's thread, so roles can take their
 * contexts back) -> the role frees its own state -> client_destroy().
 */
#ifndef BROOK_CLIENT_H
#define BROOK_CLIENT_H

#include <pthread.h>
#include <stdint.h>

#include <ev.h>

#include "brook.h"
#include "client_conf.h"
#include "conn.h"
#include "client_md.h"

typedef struct client client_t;

typedef struct client_role {
	const char *name; /* "producer", "consumer": the log facility */
	/* I/O thread, before every loop iteration blocks: take work from the
	 * application's queues and send what is ready. Returns the next time
	 * (conn_now_ms() clock) it must run again even if nothing happens,
	 * or INT64_MAX. */
	int64_t (*serve)(client_t *c, int64_t now);
	/* I/O thread: a Metadata response updated the cache. */
	void (*on_metadata)(client_t *c);
} client_role_t;

typedef struct client_broker {
	int32_t id;       /* node id; bootstrap servers get -1, -2, ... */
	conn_t *conn;
} client_broker_t;

struct client {
	client_conf_t conf;
	brook_log_cb *log_cb;
	void *log_opaque;
	const client_role_t *role;
	void *role_state;

	/* shared with the application threads */
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* CLOCK_MONOTONIC: see client_cond_wait() */
	int terminate;

	/* the I/O thread's own */
	struct ev_loop *loop;
	pthread_t thread;
	int thread_started;
	ev_async wakeup;
	ev_prepare prepare;
	ev_timer serve_timer;
	ev_timer md_timer;

	client_broker_t **brokers;
	size_t broker_cnt, broker_cap;
	size_t md_rr;             /* round-robin start for metadata requests */

	client_md_cache_t md;
	char **want;              /* topics whose metadata the role needs */
	size_t want_cnt, want_cap;
	int md_inflight;
	int md_forced;            /* a refresh was asked for and not sent yet */
	int64_t md_last_request;
	int64_t md_last_ok;
	brook_err_t md_last_err;  /* of the last failed request, for messages */
	char md_last_errstr[512];
};

/* Copies conf, parses bootstrap.servers, creates the loop. The thread is
 * not running yet. On error c needs no cleanup. */
brook_err_t client_init(client_t *c, const brook_conf_t *conf, int producer,
			const client_role_t *role, void *role_state, char *errstr,
			size_t errstr_size);
brook_err_t client_start(client_t *c, char *errstr, size_t errstr_size);
/* Any thread: makes the I/O thread run role->serve soon. */
void client_wakeup(client_t *c);
void client_stop(client_t *c);
void client_close_conns(client_t *c);
void client_destroy(client_t *c);

/* Waits on c->cond (lock held) until abs_ms on the conn_now_ms() clock
 * (INT64_MAX: no limit). Returns 0, or ETIMEDOUT. */
int client_cond_wait(client_t *c, int64_t abs_ms);
/* Deadline for an application call's timeout_ms (< 0: none). */
int64_t client_deadline(int timeout_ms);

void client_log(client_t *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* I/O thread: asks for the topic's metadata from now on. */
void client_want_topic(client_t *c, const char *topic);
/* I/O thread: a refresh soon, at most one per retry.backoff.ms. */
void client_md_refresh(client_t *c, const char *reason);
/* I/O thread: the cached metadata of a topic, NULL before any answer. */
const client_md_topic_t *client_md_topic(client_t *c, const char *topic);
/* I/O thread: the connection to broker node_id, NULL when unknown. */
conn_t *client_broker_conn(client_t *c, int32_t node_id);

/* Parses "host:port" ("[v6]:port" too) into host (size bytes) and port. */
brook_err_t client_parse_hostport(const char *s, size_t len, char *host, size_t size,
				  int *port);

/* Real-time milliseconds since the epoch (message timestamps). */
int64_t client_wallclock_ms(void);

#endif
