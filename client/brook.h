/*
 * brook.h - the public interface of libbrook, brook's client library.
 *
 * This is the only header applications include. It holds the project-wide
 * error enum shared by the wire protocol, the broker, the library and the
 * CLI: codes >= 0 travel on the wire and keep Kafka's numbers so a Kafka user
 * reads them at a glance; codes < 0 are local to one process (librdkafka's
 * convention) and never sent.
 *
 * Ownership: strings returned by brook_err_name()/brook_err_str() are static.
 */
#ifndef BROOK_H
#define BROOK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message). One table, expanded into the enum and into the
 * name/message lookups, so the three can never drift apart. */
#define BROOK_ERR_TABLE(X) \
	/* Local errors: never on the wire. */ \
	X(_BAD_MSG,            -199, "Malformed or undecodable data") \
	X(_NOMEM,              -198, "Out of memory") \
	X(_IO,                 -197, "I/O error") \
	X(_INVALID_ARG,        -196, "Invalid argument") \
	X(_NOENT,              -195, "No such file, node or entry") \
	X(_EXISTS,             -194, "Already exists") \
	X(_TIMED_OUT,          -193, "Local: operation timed out") \
	X(_TRANSPORT,          -192, "Broker transport failure") \
	X(_CONFIG,             -191, "Invalid configuration") \
	X(_ZK,                 -190, "ZooKeeper error") \
	X(_CONNECTION_LOSS,    -189, "ZooKeeper connection lost (session may survive)") \
	X(_SESSION_EXPIRED,    -188, "ZooKeeper session expired") \
	X(_NO_SPACE,           -187, "No space left on device") \
	X(_CORRUPT,            -186, "Corrupt data on disk") \
	X(_UNKNOWN_CODEC,      -185, "Unknown or unsupported compression codec") \
	X(_PARTITION_EOF,      -184, "Reached the end of the partition") \
	X(_STATE,              -183, "Operation not valid in the current state") \
	X(_QUEUE_FULL,         -182, "Local queue is full") \
	X(_READ_ONLY,          -181, "Read-only file system or directory") \
	X(_NOT_OURS,           -180, "File or directory does not belong to this log") \
	X(_VERSION,            -179, "Version check failed (concurrent update)") \
	X(_CLOSED,             -178, "Handle was closed") \
	X(_FENCED,             -177, "Commit refused: this member no longer owns the partition") \
	X(_NO_OFFSET,          -176, "No committed offset and auto.offset.reset=none") \
	/* Wire errors: Kafka's numbers. */ \
	X(UNKNOWN_SERVER_ERROR,        -1, "Unexpected server error") \
	X(NO_ERROR,                     0, "Success") \
	X(OFFSET_OUT_OF_RANGE,          1, "Offset out of range") \
	X(CORRUPT_MESSAGE,              2, "Message failed its CRC check or is otherwise corrupt") \
	X(UNKNOWN_TOPIC_OR_PARTITION,   3, "Unknown topic or partition") \
	X(INVALID_FETCH_SIZE,           4, "Invalid fetch size") \
	X(LEADER_NOT_AVAILABLE,         5, "Leader not available") \
	X(NOT_LEADER_OR_FOLLOWER,       6, "Broker is not the leader or follower for this partition") \
	X(REQUEST_TIMED_OUT,            7, "Request timed out") \
	X(BROKER_NOT_AVAILABLE,         8, "Broker not available") \
	X(REPLICA_NOT_AVAILABLE,        9, "Replica not available") \
	X(MESSAGE_TOO_LARGE,           10, "Message larger than the broker accepts") \
	X(STALE_CONTROLLER_EPOCH,      11, "Request from a stale controller epoch") \
	X(NETWORK_EXCEPTION,           13, "Network error") \
	X(INVALID_TOPIC_EXCEPTION,     17, "Invalid topic name") \
	X(RECORD_LIST_TOO_LARGE,       18, "Record batch list larger than the broker accepts") \
	X(NOT_ENOUGH_REPLICAS,         19, "Fewer in-sync replicas than min.insync.replicas") \
	X(NOT_ENOUGH_REPLICAS_AFTER_APPEND, 20, "Written, but fewer in-sync replicas than required") \
	X(INVALID_REQUIRED_ACKS,       21, "Invalid acks value") \
	X(INVALID_TIMESTAMP,           32, "Invalid timestamp") \
	X(UNSUPPORTED_VERSION,         35, "Unsupported API or API version") \
	X(TOPIC_ALREADY_EXISTS,        36, "Topic already exists") \
	X(INVALID_PARTITIONS,          37, "Invalid number of partitions") \
	X(INVALID_REPLICATION_FACTOR,  38, "Invalid replication factor") \
	X(INVALID_REPLICA_ASSIGNMENT,  39, "Invalid replica assignment") \
	X(INVALID_CONFIG,              40, "Invalid configuration") \
	X(NOT_CONTROLLER,              41, "Broker is not the controller") \
	X(INVALID_REQUEST,             42, "Invalid or malformed request") \
	X(OUT_OF_ORDER_SEQUENCE_NUMBER, 45, "Producer sequence number out of order") \
	X(DUPLICATE_SEQUENCE_NUMBER,   46, "Duplicate producer sequence number") \
	X(INVALID_PRODUCER_EPOCH,      47, "Producer epoch is stale") \
	X(KAFKA_STORAGE_ERROR,         56, "Storage error on the broker") \
	X(UNKNOWN_PRODUCER_ID,         59, "Unknown producer id") \
	X(FENCED_LEADER_EPOCH,         74, "Leader epoch is older than the broker's") \
	X(UNKNOWN_LEADER_EPOCH,        75, "Leader epoch is newer than the broker's") \
	X(UNSUPPORTED_COMPRESSION_TYPE, 76, "Unsupported compression type") \
	X(INVALID_RECORD,              87, "Invalid record")

typedef enum brook_err {
#define BROOK_ERR_ENUM_(name, value, msg) BROOK_ERR_##name = value,
	BROOK_ERR_TABLE(BROOK_ERR_ENUM_)
#undef BROOK_ERR_ENUM_
} brook_err_t;

/* Symbolic name without the BROOK_ERR_ prefix ("NOT_LEADER_OR_FOLLOWER"),
 * or "ERR_<n>" style "UNKNOWN" for codes outside the table. */
const char *brook_err_name(brook_err_t err);

/* Human-readable message for the code. */
const char *brook_err_str(brook_err_t err);

/* Maps errno to the closest brook error (ENOSPC -> _NO_SPACE, ...). */
brook_err_t brook_err_from_errno(int errnum);

/* ======================================================================
 * The client library: settings, producer, simple consumer.
 *
 * Threads: every producer or consumer handle runs ONE background I/O thread
 * with its own event loop; it owns the broker connections and the metadata.
 * All functions below may be called from any application thread at the
 * same time, except the _free functions, which must be the last call on a
 * handle. Application callbacks (delivery reports) never run on the I/O
 * thread: they run inside brook_poll() / brook_producer_flush() /
 * brook_producer_free() on the thread that called them. Only the log
 * callback runs on the I/O thread.
 *
 * Ownership: handles copy the settings and every byte they are given; the
 * caller keeps what it passed in. Pointers handed to callbacks are valid
 * only during the call. A consumed message belongs to the caller until
 * brook_message_free().
 * ====================================================================== */

/* ---- settings ---- */

/* Client settings, with Kafka's names and meanings (bootstrap.servers,
 * client.id, acks, linger.ms, batch.size, compression.type, ...; see
 * brook_conf_print_help() or README.md for the full table). */
typedef struct brook_conf brook_conf_t;

/* Every setting at its default; NULL when out of memory. */
brook_conf_t *brook_conf_new(void);
/* A deep copy; NULL when out of memory. */
brook_conf_t *brook_conf_dup(const brook_conf_t *conf);
void brook_conf_free(brook_conf_t *conf);

/* Sets one setting from text. BROOK_ERR__INVALID_ARG for an unknown key,
 * BROOK_ERR_INVALID_CONFIG for a bad value, with the reason in errstr
 * ("linger.ms: must be an integer between 0 and 900000 (got \"x\")"). */
brook_err_t brook_conf_set(brook_conf_t *conf, const char *key, const char *value,
			   char *errstr, size_t errstr_size);
/* The current value of a setting as text; _INVALID_ARG for an unknown key. */
brook_err_t brook_conf_get(const brook_conf_t *conf, const char *key, char *buf, size_t size);
/* One block per setting: name, type and range, default, description. */
void brook_conf_print_help(FILE *out);

/* Log levels, as syslog's. */
enum { BROOK_LOG_ERR = 3, BROOK_LOG_WARNING = 4, BROOK_LOG_INFO = 6, BROOK_LOG_DEBUG = 7 };
/* Called on the I/O thread for every event at or below the log_level
 * setting; `facility` is the subsystem ("conn", "metadata", "producer",
 * "consumer"). Must not block and must not call back into the handle. The
 * default (cb NULL) writes "WARN [brook conn] ..." lines to stderr. */
typedef void (brook_log_cb)(int level, const char *facility, const char *message, void *opaque);
void brook_conf_set_log_cb(brook_conf_t *conf, brook_log_cb *cb, void *opaque);

/* ---- producer ---- */

typedef struct brook_producer brook_producer_t;

/* Let the partitioner choose: murmur2 of the key (Kafka's default
 * partitioner, so keys land on the partitions Kafka's clients pick), or,
 * for a NULL key, a "sticky" partition among those with a leader that
 * changes with every batch. */
#define BROOK_PARTITION_UA (-1)

/* The outcome of one message: err BROOK_ERR_NO_ERROR and the offset the
 * broker gave it (-1 with acks=0, which gets no answer), or why it failed
 * after retries. Every message accepted by brook_produce() gets exactly one
 * report. topic, key and value point to the library's copies and are valid
 * only during the call. */
typedef void (brook_delivery_cb)(brook_err_t err, const char *topic, int32_t partition,
				 int64_t offset, const void *key, size_t key_len,
				 const void *value, size_t value_len, void *opaque);

/* A producer connected to bootstrap.servers (which must be set). Returns
 * NULL with the reason in errstr on a bad setting or when out of resources. */
brook_producer_t *brook_producer_new(const brook_conf_t *conf, char *errstr, size_t errstr_size);

/* Queues one message, copying topic, key and value; returns at once.
 * partition: >= 0, or BROOK_PARTITION_UA. key NULL: null key (not the empty
 * one); value NULL: null value (a tombstone). timestamp_ms 0: now.
 * Errors: _QUEUE_FULL when queue.buffering.max.messages or
 * queue.buffering.max.kbytes is reached (call brook_poll() and try again),
 * MESSAGE_TOO_LARGE over message.max.bytes, _INVALID_ARG, _NOMEM, _CLOSED.
 * On an error no report will come. cb may be NULL (no report wanted). */
brook_err_t brook_produce(brook_producer_t *p, const char *topic, int32_t partition,
			  const void *key, size_t key_len, const void *value, size_t value_len,
			  int64_t timestamp_ms, brook_delivery_cb *cb, void *opaque);

/* Calls the delivery callbacks of finished messages, waiting up to
 * timeout_ms (0: do not wait; < 0: until one arrives) for the first one.
 * Returns the number of callbacks called. Applications that pass a
 * callback must call this regularly: reports count against the queue
 * limits until they are served. */
int brook_poll(brook_producer_t *p, int timeout_ms);

/* Sends everything queued at once (ignoring linger.ms) and waits until
 * every message has its report served (callbacks run here), or
 * timeout_ms passes (< 0: no limit; delivery.timeout.ms bounds it anyway):
 * BROOK_ERR__TIMED_OUT then. */
brook_err_t brook_producer_flush(brook_producer_t *p, int timeout_ms);

/* Messages accepted and not yet reported (including unserved reports). */
int brook_producer_outq_len(brook_producer_t *p);

/* Stops the I/O thread and frees the producer. It does not flush: call
 * brook_producer_flush() first. Messages still queued or in flight are
 * reported with BROOK_ERR__CLOSED, from this call. NULL is a no-op. */
void brook_producer_free(brook_producer_t *p);

/* ---- consumer (simple: explicit assignment, no groups yet) ---- */

typedef struct brook_consumer brook_consumer_t;

/* Logical start offsets for brook_consumer_assign(). */
#define BROOK_OFFSET_BEGINNING (-2)
#define BROOK_OFFSET_END (-1)
/* The last n messages: BROOK_OFFSET_TAIL(n) starts n before the end
 * (clamped to the beginning), librdkafka's encoding. */
#define BROOK_OFFSET_TAIL_BASE (-2000)
#define BROOK_OFFSET_TAIL(n) (BROOK_OFFSET_TAIL_BASE - (int64_t)(n))

/* One record header; value NULL when null. Not NUL-terminated. */
typedef struct brook_header {
	const char *key;
	size_t key_len;
	const void *value;
	size_t value_len;
} brook_header_t;

/* One consumed message, or an event when err is not BROOK_ERR_NO_ERROR:
 * BROOK_ERR__PARTITION_EOF (the partition reached its high watermark;
 * offset is the next offset to come), or an error for topic/partition
 * (partition -1 and topic NULL for errors not tied to one), described in
 * errstr. key/value NULL mean null. Everything lives in the one allocation
 * brook_message_free() releases. */
typedef struct brook_message {
	brook_err_t err;
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t timestamp;   /* ms since the epoch; -1 when none */
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	size_t header_count;
	const brook_header_t *headers;
	const char *errstr;  /* events only; NULL for messages */
} brook_message_t;

/* A consumer connected to bootstrap.servers; NULL with errstr on failure. */
brook_consumer_t *brook_consumer_new(const brook_conf_t *conf, char *errstr, size_t errstr_size);

/* Adds topic/partition (partition -1: every partition of the topic) to the
 * assignment, starting at `offset`: absolute (>= 0), BROOK_OFFSET_BEGINNING,
 * BROOK_OFFSET_END or BROOK_OFFSET_TAIL(n). Assigning a partition again
 * restarts it at the new offset. Blocks until the cluster's metadata
 * knows the topic, at most topic.metadata.propagation.max.ms: then
 * UNKNOWN_TOPIC_OR_PARTITION (or the error that kept the cluster
 * unreachable). A start offset outside the log follows auto.offset.reset. */
brook_err_t brook_consumer_assign(brook_consumer_t *c, const char *topic, int32_t partition,
				  int64_t offset, char *errstr, size_t errstr_size);

/* Number of partitions assigned so far. */
int brook_consumer_assignment_count(brook_consumer_t *c);

/* The next message or event, waiting up to timeout_ms (< 0: no limit).
 * BROOK_ERR_NO_ERROR with *out set (check (*out)->err for events), or
 * BROOK_ERR__TIMED_OUT with *out NULL. Messages of one partition come in
 * offset order; the library fetches ahead up to queued.max.messages.kbytes. */
brook_err_t brook_consumer_poll(brook_consumer_t *c, int timeout_ms, brook_message_t **out);

/* NULL is a no-op. */
void brook_message_free(brook_message_t *m);

/* Stops the I/O thread and frees the consumer with every message it still
 * queues. NULL is a no-op. */
void brook_consumer_free(brook_consumer_t *c);

/* ======================================================================
 * The group consumer: subscribe instead of assign, and the group (every
 * consumer with the same group.id) shares the subscribed topics' partitions
 * through ZooKeeper (zookeeper.connect), as Kafka's ZooKeeper-era consumer
 * did (README.md "Consumer groups"). Each partition is consumed by exactly
 * one member at a time; when members come and go or partitions are added,
 * only the partitions that change owner stop, the others keep flowing.
 *
 * Rebalance and commit callbacks run on the application thread, inside
 * brook_consumer_poll() (and brook_consumer_close()), never on the I/O
 * thread; they may call brook_consumer_commit() (sync or async) but not
 * poll or close.
 * ====================================================================== */

/* "No offset": a partition with nothing committed yet. */
#define BROOK_OFFSET_INVALID (-1001)

/* A partition and an offset: the next offset to consume (Kafka's meaning of
 * a committed offset: the last processed message's offset + 1). */
typedef struct brook_topic_partition {
	const char *topic;
	int32_t partition;
	int64_t offset;
	brook_err_t err;      /* per-partition result where a call reports one */
} brook_topic_partition_t;

/* Rebalance callbacks. on_revoke gets the partitions this member loses (the
 * others stay and keep flowing: cooperative rebalancing), before they go;
 * commit what was processed here (with enable.auto.commit the library
 * commits the positions right after the callback returns). on_assign gets
 * the partitions gained, with the offset consumption starts from
 * (BROOK_OFFSET_INVALID when nothing was committed and auto.offset.reset
 * decides). On a ZooKeeper session expiry the member has lost everything
 * before it could commit: on_revoke is called with err _FENCED in every
 * entry, and commits for those partitions are refused. */
typedef void (brook_rebalance_cb)(brook_consumer_t *c, const brook_topic_partition_t *parts,
				  size_t cnt, void *opaque);
void brook_conf_set_rebalance_cb(brook_conf_t *conf, brook_rebalance_cb *on_assign,
				 brook_rebalance_cb *on_revoke, void *opaque);

/* Result of an asynchronous or automatic commit: err is the overall
 * result, offsets[i].err each partition's (_FENCED for a partition this
 * member no longer owned). */
typedef void (brook_commit_cb)(brook_consumer_t *c, brook_err_t err,
			       const brook_topic_partition_t *offsets, size_t cnt, void *opaque);
void brook_conf_set_offset_commit_cb(brook_conf_t *conf, brook_commit_cb *cb, void *opaque);

/* Joins group.id (which must be set, with zookeeper.connect) subscribed to
 * `topics`; a name starting with '^' is a POSIX extended regular
 * expression matched against every topic (topics created later that match
 * are picked up). Once per consumer, and not together with
 * brook_consumer_assign(). Returns at once; partitions arrive through
 * on_assign and brook_consumer_poll(). Errors: _INVALID_ARG (bad name or
 * expression, or called twice), _CONFIG (group.id or zookeeper.connect
 * missing), _NOMEM; errstr says why. */
brook_err_t brook_consumer_subscribe(brook_consumer_t *c, const char *const *topics,
				     size_t cnt, char *errstr, size_t errstr_size);

/* Commits offsets to ZooKeeper (/consumers/<g>/offsets/<t>/<p>), fenced:
 * refused with _FENCED for partitions this member does not own (any more).
 * offsets NULL: the current position of every owned partition (what
 * brook_consumer_poll() has returned so far). async 0: waits for the
 * result (at most zookeeper.session.timeout.ms x 2: _TIMED_OUT); async 1:
 * returns at once and the offset commit callback reports the result from
 * a later poll. Errors also: _STATE (not subscribed or closed), _NOMEM. */
brook_err_t brook_consumer_commit(brook_consumer_t *c, const brook_topic_partition_t *offsets,
				  size_t cnt, int async);
/* Commits m->offset + 1 for m's partition. */
brook_err_t brook_consumer_commit_message(brook_consumer_t *c, const brook_message_t *m,
					  int async);

/* The committed offset of a partition as ZooKeeper has it now
 * (BROOK_OFFSET_INVALID when none); _STATE when not subscribed. */
brook_err_t brook_consumer_committed(brook_consumer_t *c, const char *topic, int32_t partition,
				     int64_t *offset, int timeout_ms);

/* The partitions this member owns now, sorted by topic and partition, with
 * their positions (BROOK_OFFSET_INVALID until known). *parts is one
 * allocation to free() (NULL with *cnt 0 when none). */
brook_err_t brook_consumer_assignment(brook_consumer_t *c, brook_topic_partition_t **parts,
				      size_t *cnt);

/* This member's id in the group ("<group>_<host>-<ms>-<hex>"); empty
 * until registered. A new id is taken after a session expiry. */
void brook_consumer_member_id(brook_consumer_t *c, char *buf, size_t size);

/* Leaves the group cleanly: on_revoke for everything owned (plus the
 * automatic commit with enable.auto.commit), owner znodes and the member
 * znode deleted so the others take over at once, session closed. Bounded
 * by zookeeper.session.timeout.ms. brook_consumer_free() does this too;
 * calling close first lets the application see the callbacks and the
 * result. Non-group consumers: a no-op. */
brook_err_t brook_consumer_close(brook_consumer_t *c);

#ifdef __cplusplus
}
#endif
#endif /* BROOK_H */
