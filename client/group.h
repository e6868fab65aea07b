/*
 * group.h - the group consumer's side of a brook_consumer_t: membership in
 * /consumers/<g>/ids, rebalancing on ZooKeeper watches, partition ownership
 * through /consumers/<g>/owners, and fenced offset commits to
 * /consumers/<g>/offsets (DESIGN.md "Consumer groups", README.md).
 *
 * Threads: the ZooKeeper session runs on the consumer's I/O thread loop;
 * everything in group_t that is not marked "shared" belongs to that
 * thread. The application thread reaches the group only through the
 * group_app_* functions, which take the consumer's lock themselves or say
 * they expect it held. Rebalance and commit callbacks run on the
 * application thread, from group_app_run_events().
 *
 * Ownership: the group copies the subscription; the consumer owns the
 * group (group_free() after the I/O thread stopped). Partitions reach the
 * fetcher through consumer_tp_add()/consumer_tp_remove() (consumer.h).
 */
#ifndef BROOK_GROUP_H
#define BROOK_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"

typedef struct group group_t;
struct client;

/* App thread: checks the settings and the subscription (names or '^'
 * regular expressions) and builds the group; nothing happens until the
 * I/O thread calls group_serve(). */
brook_err_t group_new(brook_consumer_t *c, struct client *cl, const brook_conf_t *conf,
		      const char *const *topics, size_t cnt, group_t **out, char *errstr,
		      size_t errstr_size);

/* I/O thread, before every loop iteration blocks: starts the session on
 * the first call, takes commit and release requests, runs the automatic
 * commit. Returns when it must run again (conn_now_ms() clock). */
int64_t group_serve(group_t *g, int64_t now);

/* App thread, consumer lock held: poll() was entered, so every message it
 * returned before is processed (the automatic commit's position). */
void group_app_poll_begin_locked(group_t *g);
/* App thread, consumer lock held: poll() returns m. */
void group_app_on_message_locked(group_t *g, const brook_message_t *m);
/* App thread, consumer lock held: rebalance or commit events wait. */
int group_app_has_events_locked(const group_t *g);
/* App thread, lock NOT held: runs waiting rebalance and commit callbacks
 * (and the automatic commit that follows a revocation). Returns how many. */
int group_app_run_events(group_t *g);

brook_err_t group_app_commit(group_t *g, const brook_topic_partition_t *offsets, size_t cnt,
			     int async);
brook_err_t group_app_committed(group_t *g, const char *topic, int32_t partition,
				int64_t *offset, int timeout_ms);
brook_err_t group_app_assignment(group_t *g, brook_topic_partition_t **parts, size_t *cnt);
void group_app_member_id(group_t *g, char *buf, size_t size);
/* Leaves the group (see brook_consumer_close()); idempotent. */
brook_err_t group_app_close(group_t *g);

/* After the I/O thread stopped: closes the session and frees everything.
 * NULL is a no-op. */
void group_free(group_t *g);

#endif /* BROOK_GROUP_H */
