/*
 * broker_zk.h - the broker's ZooKeeper side: startup (chroot, Kafka's
 * persistent paths, /cluster/id, meta.properties in every log dir, the
 * ephemeral /brokers/ids/<id>), and the cluster view (metadata.h) kept
 * current by watches on /brokers/ids, /brokers/topics, every topic, every
 * topic's config overrides (/config/topics/<t>), every partition state
 * and /controller. Everything runs on the broker's loop with asynchronous
 * ZooKeeper calls; results arrive through callbacks.
 *
 * DESIGN.md's rules, as applied here: a connection loss keeps the view and
 * keeps serving; a session expiry re-registers, re-reads everything and
 * re-arms every watch (the view is kept meanwhile). A write that fails
 * with a connection loss is checked by reading back before it is retried.
 *
 * The one blocking step is reading and writing meta.properties (a few
 * hundred bytes, fsynced) once per startup, before the broker serves.
 *
 * Ownership: broker_zk_t owns its session and the metadata; the pointer
 * broker_zk_metadata() returns is valid until broker_zk_free(), and what
 * it points to changes only between callbacks (see metadata.h). Strings
 * passed to callbacks are valid during the call. Callbacks may call
 * broker_zk_free(). Not thread-safe.
 */
#ifndef BROOK_BROKER_ZK_H
#define BROOK_BROKER_ZK_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "metadata.h"
#include "zk_json.h"
#include "zk_session.h"

struct ev_loop;

typedef struct broker_zk broker_zk_t;

typedef struct broker_zk_callbacks {
	/* The cluster view changed (coalesced: at most once per loop
	 * iteration), a topic's config overrides included. Not called
	 * before the first registration; one call follows every
	 * on_registered. Registering waits for the view's reads, topic
	 * configs included (a failed read is retried later and then
	 * reported here). */
	void (*on_metadata)(void *opaque);
	/* The broker must stop: ZooKeeper unreachable at startup, id taken,
	 * log dir of another cluster, unreadable /cluster/id. Nothing more
	 * happens after it; the owner still calls broker_zk_free(). */
	void (*on_fatal)(void *opaque, brook_err_t err, const char *reason);
	/* /brokers/ids/<id> exists for our session: once at startup (after the
	 * view was loaded) and again after each re-registration. */
	void (*on_registered)(void *opaque);
} broker_zk_callbacks_t;

/* Checks and copies the arguments (connect: "h1:2181,h2:2181/chroot";
 * endpoints: the advertised listeners, the first one is also the
 * registration's host/port); nothing happens until broker_zk_start().
 * _INVALID_ARG with the reason in errstr. */
brook_err_t broker_zk_new(struct ev_loop *loop, const char *connect, int session_timeout_ms,
			  int connection_timeout_ms, int32_t broker_id,
			  const char *const *log_dirs, int nlog_dirs,
			  const zk_endpoint_t *endpoints, int nendpoints, const char *rack,
			  const broker_zk_callbacks_t *cb, void *opaque, broker_zk_t **out,
			  char *errstr, size_t errstr_size);

/* Starts connecting; the rest of startup runs on the loop:
 *   connect (on_fatal after connection_timeout_ms)
 *   -> create the chroot if missing -> create Kafka's persistent paths
 *   -> read or create /cluster/id -> check/write meta.properties
 *   -> read the view and arm the watches -> register -> on_registered.
 * A registration owned by another session is retried until 1.5 session
 * timeouts have passed (a kill -9'd predecessor's node lingers until its
 * session expires), then on_fatal. _STATE when called twice. */
brook_err_t broker_zk_start(broker_zk_t *bz);

const metadata_t *broker_zk_metadata(const broker_zk_t *bz);
/* "" until /cluster/id has been read. */
const char *broker_zk_cluster_id(const broker_zk_t *bz);
/* 1 while /brokers/ids/<id> is known to exist for our current session. */
int broker_zk_registered(const broker_zk_t *bz);
/* The session (for the controller, which shares it; and for tests).
 * NULL before broker_zk_start(). */
zk_session_t *broker_zk_session(const broker_zk_t *bz);

/* Creates /brokers/topics/<t>/partitions/<p>/state as
 * {"controller_epoch":0,"leader":<self>,"version":1,"leader_epoch":0,
 *  "isr":[<self>]} unless it exists (someone else's state wins; not an
 * error). brookd no longer calls it (the controller writes every state);
 * the broker_zk tests use it to make state znodes appear. Asynchronous; the result shows in the view (then
 * on_metadata). NO_ERROR also when there is nothing to do (state known,
 * or a claim in flight); _UNKNOWN_TOPIC_OR_PARTITION when the view does
 * not have it; _STATE when not registered. */
brook_err_t broker_zk_claim_partition(broker_zk_t *bz, const char *topic, int32_t partition);

/* Clean shutdown: closes the session, which deletes /brokers/ids/<id> at
 * once (bounded: the client flushes the close for at most 3 s). No
 * callback runs afterwards. broker_zk_free(NULL) is a no-op. */
void broker_zk_free(broker_zk_t *bz);

#endif /* BROOK_BROKER_ZK_H */
