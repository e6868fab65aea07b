/*
 * group_admin.h - consumer-group administration on the ZooKeeper layout of
 * DESIGN.md (/consumers/<g>/ids|owners|offsets), as Kafka's ZooKeeper-era
 * kafka-consumer-groups.sh --zookeeper did it: list groups, describe one
 * (committed offsets, owners, members, log end offsets and lag), reset a
 * topic's committed offsets, delete a group. Used by `brook groups`, and
 * meant for the group consumer (offset reads, ListOffsets at the leader).
 *
 * Calls look synchronous like admin.h's: they issue ZooKeeper requests on
 * an existing zk_session_t and run its loop until they complete or
 * `timeout_ms` (a bound per call) passes (BROOK_ERR__TIMED_OUT); never
 * call them from a callback or on the broker's loop thread. ListOffsets
 * goes to each partition's leader over conn.h connections on a private
 * libev loop that lives only during the call.
 *
 * Errors: _NOENT (no such group), _STATE (the group has members, for
 * reset and delete), UNKNOWN_TOPIC_OR_PARTITION, _BAD_MSG (a znode that
 * does not decode, named in errstr), _VERSION (offsets changed while we
 * computed new ones: run again), and the session's errors; one human line
 * in errstr.
 *
 * Ownership: inputs are only read. Results are heap objects the caller
 * frees with their x_free (x_free(NULL) is a no-op).
 */
#ifndef BROOK_GROUP_ADMIN_H
#define BROOK_GROUP_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "zk_json.h"
#include "zk_session.h"

/* Operations per zk_multi when deleting a group: far below ZooKeeper's
 * 1 MB request limit (jute.maxbuffer) even with long paths. */
#define GROUP_ADMIN_MULTI_BATCH 200

/* --- list ------------------------------------------------------------------ */

typedef struct group_list {
	size_t cnt;
	char **names;                /* sorted */
} group_list_t;

/* The children of /consumers (none, or no /consumers: an empty list). */
brook_err_t group_admin_list(zk_session_t *zk, group_list_t **out, int timeout_ms, char *errstr,
			     size_t errstr_size);
void group_list_free(group_list_t *l);

/* --- ListOffsets at the leaders ----------------------------------------------- */

/* One offset to look up: fill topic, partition and timestamp
 * (PROTO_TS_LATEST: the high watermark, what consumers can read;
 * PROTO_TS_EARLIEST: the log start). The call sets err and offset. */
typedef struct group_offset_query {
	const char *topic;
	int32_t partition;
	int64_t timestamp;
	brook_err_t err;             /* per partition: UNKNOWN_TOPIC_OR_PARTITION,
				      * LEADER_NOT_AVAILABLE, BROKER_NOT_AVAILABLE,
				      * _TRANSPORT, _TIMED_OUT, the broker's code */
	int64_t offset;              /* -1 unless err is NO_ERROR */
} group_offset_query_t;

/* Finds each partition's leader (partition state znode) and its endpoint
 * (/brokers/ids), then asks the leaders, all at once, within timeout_ms.
 * Per-partition failures (an unreachable leader, an unknown topic) are
 * left in the queries; the call itself fails only when ZooKeeper cannot
 * be read or memory runs out. */
brook_err_t group_admin_list_offsets(zk_session_t *zk, group_offset_query_t *q, size_t n,
				     int timeout_ms, char *errstr, size_t errstr_size);

/* --- describe --------------------------------------------------------------------- */

typedef struct group_partition {
	char *topic;
	int32_t partition;
	int64_t offset;              /* committed, -1: none */
	int32_t offset_version;      /* zkVersion of the offset znode, -1: none */
	char *owner;                 /* owning member id, NULL: none */
	int64_t log_end_offset;      /* leader's high watermark, -1: unknown */
} group_partition_t;

typedef struct group_member {
	char *id;
	zk_consumer_member_t *reg;   /* decoded registration */
} group_member_t;

typedef struct group_info {
	char *name;
	size_t member_cnt;
	group_member_t *members;     /* sorted by id */
	size_t partition_cnt;
	group_partition_t *partitions; /* sorted by topic, then partition */
} group_info_t;

/* Every partition that has an offset or an owner in the group, and the
 * members. With with_log_end, also each partition's log end offset
 * (group_admin_list_offsets; an unreachable leader leaves -1). */
brook_err_t group_admin_describe(zk_session_t *zk, const char *group, int with_log_end,
				 group_info_t **out, int timeout_ms, char *errstr,
				 size_t errstr_size);
void group_info_free(group_info_t *g);

/* --- reset-offsets ------------------------------------------------------------------ */

typedef enum group_reset_how {
	GROUP_RESET_EARLIEST,
	GROUP_RESET_LATEST,
	GROUP_RESET_TO_OFFSET,       /* value, clamped to [earliest, latest] */
	GROUP_RESET_SHIFT_BY,        /* committed + value, clamped likewise */
} group_reset_how_t;

typedef struct group_reset_result {
	char *topic;
	int32_t cnt;                 /* the topic's partitions */
	int64_t *new_offsets;        /* [cnt] */
} group_reset_result_t;

/* Computes the new committed offset of every partition of `topic` from
 * the leaders' earliest and latest offsets and, unless dry_run, writes
 * them all in one zk_multi: a set conditional on the version read for an
 * existing offset znode, a create for a missing one. Refused with _STATE
 * while /consumers/<g>/ids has children (members would overwrite the
 * offsets). Errors also: _NOENT (no such group), _INVALID_ARG
 * (--shift-by on a partition without a committed offset, as Kafka),
 * _TRANSPORT & co. (a leader did not answer: nothing is written),
 * _VERSION (an offset changed meanwhile: nothing is written). */
brook_err_t group_admin_reset_offsets(zk_session_t *zk, const char *group, const char *topic,
				      group_reset_how_t how, int64_t value, int dry_run,
				      group_reset_result_t **out, int timeout_ms, char *errstr,
				      size_t errstr_size);
void group_reset_result_free(group_reset_result_t *r);

/* --- delete -------------------------------------------------------------------------- */

/* Deletes /consumers/<g> and everything below it, deepest first, in
 * zk_multi batches of GROUP_ADMIN_MULTI_BATCH. Refused with _STATE while
 * the group has members; a member that joins meanwhile makes the last
 * batch (which removes .../ids) fail, so a live member is never orphaned.
 * *deleted: znodes removed. Errors: _NOENT (no such group). */
brook_err_t group_admin_delete(zk_session_t *zk, const char *group, size_t *deleted,
			       int timeout_ms, char *errstr, size_t errstr_size);

#endif /* BROOK_GROUP_ADMIN_H */
