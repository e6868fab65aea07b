/*
 * admin.h - topic administration through ZooKeeper, as Kafka's --zookeeper
 * tools (AdminZkClient, TopicCommand) do it: create, list, describe, add
 * partitions to and request deletion of topics; read the registered brokers,
 * the controller and the cluster id. Used by `brook topics|cluster`, and
 * meant for libbrook's admin API and the controller as well.
 *
 * Calls look synchronous: each one issues its ZooKeeper requests on an
 * existing zk_session_t and runs that session's loop until they complete or
 * `timeout_ms` (the bound for the whole call) passes, which returns
 * BROOK_ERR__TIMED_OUT. So, like zk_run_until(), never call them from a
 * callback or on the broker's loop thread. A request left behind by a
 * timeout owns its own state and is cleaned up when it completes or when
 * the session is freed.
 *
 * Topic deletion is a request, as in Kafka: admin_topic_delete() only
 * creates /admin/delete_topics/<t>; the controller (watching that folder)
 * deletes the topic's znodes and logs and then removes the request. Until
 * a controller does, admin_topic_delete_pending(), admin_topic_list() and
 * admin_topic_describe() show the topic as marked for deletion.
 *
 * Errors are Kafka's codes where Kafka has one (TOPIC_ALREADY_EXISTS,
 * INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_REPLICA_ASSIGNMENT,
 * INVALID_CONFIG, INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION),
 * otherwise the session's (_CONNECTION_LOSS, _TIMED_OUT, _BAD_MSG for a
 * znode that does not decode, ...), with one human line in errstr.
 *
 * Ownership: inputs are only read. Results (admin_topic_list_t,
 * admin_topic_info_t, admin_broker_list_t, assignments) are heap objects
 * the caller frees with their x_free (x_free(NULL) is a no-op).
 */
#ifndef BROOK_ADMIN_H
#define BROOK_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "conf.h"
#include "zk_json.h"
#include "zk_session.h"

struct ev_loop;

/* Bound used by the CLI for connecting and for each call. */
#define ADMIN_TIMEOUT_MS_DEFAULT 10000
/* Session timeout the CLI asks for: within what every ZooKeeper grants by
 * default (2..20 ticks) and long enough for a slow ensemble. */
#define ADMIN_SESSION_TIMEOUT_MS 10000

/* start_index / replica_shift: pick at random, as Kafka does. */
#define ADMIN_RANDOM (-1)

/* --- sessions for tools ------------------------------------------------- */

/* admin_session_open flags. */
#define ADMIN_SESSION_QUIET 0x1  /* silence the ZooKeeper client's own log
				  * (unless BROOK_ZK_LOG_LEVEL is set), so a
				  * tool's only error line is its own; the
				  * client's level is process-wide, so this
				  * is for tools, never for the broker */

/* Opens a session on `loop` and waits until it is connected, at most
 * timeout_ms. The connect string is checked first, its host names resolved
 * (blocking: this is for tools), so a typo gets one clear error
 * (_INVALID_ARG). BROOK_ERR__TIMED_OUT: "cannot connect to ZooKeeper at
 * <connect> within 10 s". The caller frees *out with zk_session_free(). */
brook_err_t admin_session_open(struct ev_loop *loop, const char *connect, int timeout_ms,
			       int flags, zk_session_t **out, char *errstr, size_t errstr_size);

/* mkdir -p of the persistent folders Kafka keeps (/brokers/ids,
 * /brokers/topics, /config/topics, /admin/delete_topics, /consumers).
 * Create, alter and delete call it themselves. */
brook_err_t admin_ensure_paths(zk_session_t *zk, int timeout_ms, char *errstr, size_t errstr_size);

/* --- replica assignment (pure, no ZooKeeper) ----------------------------- */

/* Kafka's rack-unaware AdminUtils.assignReplicasToBrokers. With the broker
 * ids sorted (done here, on a copy) and n of them:
 *   the shift starts at replica_shift and grows by one every n partitions;
 *   partition p's first replica is brokers[(start_index + p) % n];
 *   its replica j+1 is brokers[(first + 1 + (shift + j) % (n - 1)) % n].
 * start_index and replica_shift are >= 0, or ADMIN_RANDOM. The result
 * holds `partitions` lists, for partition ids first_partition,
 * first_partition + 1, ... (first_partition > 0 when adding partitions;
 * it takes part in the formula above). Errors: INVALID_PARTITIONS
 * (partitions < 1 or too many), INVALID_REPLICATION_FACTOR (< 1 or more
 * than the brokers; errstr names both numbers), _INVALID_ARG (duplicate
 * or negative broker ids, bad start values). */
brook_err_t admin_assign_replicas(const int32_t *brokers, size_t broker_cnt, int32_t partitions,
				  int32_t replication_factor, int32_t start_index,
				  int32_t replica_shift, int32_t first_partition,
				  zk_topic_assignment_t **out, char *errstr, size_t errstr_size);

/* Parses Kafka's --replica-assignment text: partitions separated by ',',
 * replicas of one partition by ':' ("1:2,2:3,3:1"); blanks around numbers
 * are allowed. Every partition must list the same number of replicas,
 * without duplicates. Errors: INVALID_REPLICA_ASSIGNMENT. */
brook_err_t admin_parse_replica_assignment(const char *text, zk_topic_assignment_t **out,
					   char *errstr, size_t errstr_size);

/* Checks an explicit assignment against the registered brokers: at least
 * one partition, the same replica count everywhere, no duplicate broker in
 * a list, every broker registered. Errors: INVALID_REPLICA_ASSIGNMENT. */
brook_err_t admin_assignment_validate(const zk_topic_assignment_t *a, const int32_t *brokers,
				      size_t broker_cnt, char *errstr, size_t errstr_size);

/* The assignment of a topic grown to `partitions`, Kafka's addPartitions:
 * existing partitions are copied unchanged; new ones come from
 * `explicit_a` when given (it lists every partition, and its lists for the
 * existing ones must equal the current ones), else from
 * admin_assign_replicas() with partition 0's replica count, start index
 * and shift = the index of the first sorted broker whose id is >= the
 * current leader of partition 0, and first_partition = the current count.
 * Errors: INVALID_PARTITIONS (not an increase), and those of the functions
 * above. */
brook_err_t admin_assignment_extend(const zk_topic_assignment_t *existing, int32_t partitions,
				    const int32_t *brokers, size_t broker_cnt,
				    const zk_topic_assignment_t *explicit_a,
				    zk_topic_assignment_t **out, char *errstr, size_t errstr_size);

/* --- topic-level configuration -------------------------------------------- */

/* The per-topic overrides Kafka knows by these names (LogConfig), with
 * Kafka's defaults. The broker fills one per partition: its own defaults
 * first, then admin_topic_conf_apply() with /config/topics/<t>. */
typedef struct admin_topic_conf {
	char *cleanup_policy;                 /* cleanup.policy: "delete" only */
	int64_t retention_ms;                 /* retention.ms, -1: forever */
	int64_t retention_bytes;              /* retention.bytes, -1: no limit */
	int32_t segment_bytes;                /* segment.bytes */
	int64_t segment_ms;                   /* segment.ms */
	int32_t min_insync_replicas;          /* min.insync.replicas */
	int unclean_leader_election_enable;   /* unclean.leader.election.enable */
	int32_t max_message_bytes;            /* max.message.bytes */
	char *compression_type;               /* compression.type */
	int32_t index_interval_bytes;         /* index.interval.bytes */
	int64_t flush_messages;               /* flush.messages */
	int64_t flush_ms;                     /* flush.ms */
} admin_topic_conf_t;

/* The conf.h table over admin_topic_conf_t (for conf_init, conf_set,
 * conf_print_help and the docs). Static; never freed. */
const conf_def_t *admin_topic_config_table(void);

/* Applies overrides to a conf_init()ed struct. Errors: INVALID_CONFIG
 * "<key>: <reason>" (unknown key, bad value, a policy brook does not
 * implement); on error conf may hold some of the overrides. */
brook_err_t admin_topic_conf_apply(admin_topic_conf_t *conf, const zk_topic_config_t *overrides,
				   char *errstr, size_t errstr_size);

/* Validates overrides and returns them normalised (values as the table
 * prints them, "true" rather than "TRUE"), in the given order, in a new
 * config for /config/topics/<t>. Errors as admin_topic_conf_apply(). */
brook_err_t admin_topic_config_validate(const zk_topic_config_t *in, zk_topic_config_t **out,
					char *errstr, size_t errstr_size);

/* --- topics ---------------------------------------------------------------- */

/* What admin_topic_create() makes. Start from ADMIN_TOPIC_SPEC_INIT. */
typedef struct admin_topic_spec {
	int32_t partitions;                       /* ignored with `assignment` */
	int32_t replication_factor;               /* ignored with `assignment` */
	const zk_topic_assignment_t *assignment;  /* explicit, or NULL */
	const zk_topic_config_t *config;          /* overrides, or NULL */
	int32_t start_index;                      /* ADMIN_RANDOM or fixed */
	int32_t replica_shift;                    /* ADMIN_RANDOM or fixed */
	int if_not_exists;                        /* an existing topic is fine */
} admin_topic_spec_t;

#define ADMIN_TOPIC_SPEC_INIT { .partitions = 1, .replication_factor = 1, \
	.start_index = ADMIN_RANDOM, .replica_shift = ADMIN_RANDOM }

/* Creates a topic: validates name, config and assignment against the
 * registered brokers, then writes /config/topics/<t> (when there are
 * overrides) and /brokers/topics/<t> in one zk_multi; a stale config left
 * by an earlier topic of that name is replaced or removed in the same
 * multi. Errors: INVALID_TOPIC_EXCEPTION (bad name, or one that collides
 * with an existing topic once '.' and '_' are treated alike, as Kafka
 * refuses), TOPIC_ALREADY_EXISTS (exists, or is marked for deletion; with
 * if_not_exists only the latter), INVALID_CONFIG, INVALID_PARTITIONS,
 * INVALID_REPLICATION_FACTOR, INVALID_REPLICA_ASSIGNMENT. On
 * _CONNECTION_LOSS the topic may or may not have been created. */
brook_err_t admin_topic_create(zk_session_t *zk, const char *topic, const admin_topic_spec_t *spec,
			       int timeout_ms, char *errstr, size_t errstr_size);

typedef struct admin_topic_list {
	size_t cnt;
	char **names;                /* sorted */
	int *marked_for_deletion;    /* [cnt]: 1 when a deletion is pending */
} admin_topic_list_t;

/* Every topic under /brokers/topics (none yet: an empty list). */
brook_err_t admin_topic_list(zk_session_t *zk, admin_topic_list_t **out, int timeout_ms,
			     char *errstr, size_t errstr_size);
void admin_topic_list_free(admin_topic_list_t *l);

typedef struct admin_partition_info {
	int has_state;               /* 0: no state znode (no leader yet) */
	zk_partition_state_t state;  /* leader -1: offline */
} admin_partition_info_t;

typedef struct admin_topic_info {
	char *name;
	int marked_for_deletion;
	zk_topic_assignment_t *assignment;     /* partition p's replicas */
	admin_partition_info_t *partitions;    /* [assignment->partition_cnt] */
	zk_topic_config_t *config;             /* overrides; empty when none */
} admin_topic_info_t;

/* Assignment, each partition's state znode and the config overrides.
 * Errors: UNKNOWN_TOPIC_OR_PARTITION, _BAD_MSG naming the znode. */
brook_err_t admin_topic_describe(zk_session_t *zk, const char *topic, admin_topic_info_t **out,
				 int timeout_ms, char *errstr, size_t errstr_size);
void admin_topic_info_free(admin_topic_info_t *t);

/* Kafka's preferred-replica election through ZooKeeper: writes
 * /admin/preferred_replica_election = {"version":1,"partitions":[{"topic":
 * t,"partition":p},...]} for every partition of `topic` (NULL: of every
 * topic), then waits (within timeout_ms) until the controller has acted
 * and removed the node. *count: partitions asked for. Errors:
 * UNKNOWN_TOPIC_OR_PARTITION, _EXISTS (an election is already pending),
 * _TIMED_OUT (no controller took it: the node stays for the next one). */
brook_err_t admin_preferred_election(zk_session_t *zk, const char *topic, int *count,
				     int timeout_ms, char *errstr, size_t errstr_size);
/* Kafka's replication factor of a topic: partition 0's replica count. */
int32_t admin_topic_info_replication_factor(const admin_topic_info_t *t);

/* Grows the topic to `partitions` (admin_assignment_extend(); explicit_a
 * may be NULL) and writes /brokers/topics/<t> conditionally on the version
 * it read. Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION
 * (queued for deletion), INVALID_PARTITIONS (not an increase),
 * INVALID_REPLICATION_FACTOR, INVALID_REPLICA_ASSIGNMENT, _VERSION (the
 * topic changed meanwhile: read again and retry). */
brook_err_t admin_topic_alter_partitions(zk_session_t *zk, const char *topic, int32_t partitions,
					 const zk_topic_assignment_t *explicit_a, int timeout_ms,
					 char *errstr, size_t errstr_size);

/* Requests deletion: creates /admin/delete_topics/<t> (empty, persistent).
 * Errors: UNKNOWN_TOPIC_OR_PARTITION, _EXISTS (already marked). */
brook_err_t admin_topic_delete(zk_session_t *zk, const char *topic, int timeout_ms, char *errstr,
			       size_t errstr_size);

/* *pending = 1 while /admin/delete_topics/<t> exists. */
brook_err_t admin_topic_delete_pending(zk_session_t *zk, const char *topic, int *pending,
				       int timeout_ms, char *errstr, size_t errstr_size);

/* --- cluster ----------------------------------------------------------------- */

typedef struct admin_broker_list {
	size_t cnt;
	zk_broker_reg_t *brokers;    /* sorted by id */
	int32_t *ids;                /* [cnt], ids[i] is brokers[i]'s id */
} admin_broker_list_t;

/* The registrations under /brokers/ids (none: an empty list). A broker
 * that disappears while being read is left out. */
brook_err_t admin_brokers_list(zk_session_t *zk, admin_broker_list_t **out, int timeout_ms,
			       char *errstr, size_t errstr_size);
void admin_broker_list_free(admin_broker_list_t *l);

/* The controller's broker id from /controller, -1 when there is none. */
brook_err_t admin_controller_get(zk_session_t *zk, int32_t *broker_id, int timeout_ms,
				 char *errstr, size_t errstr_size);

/* The id in /cluster/id into buf ("" when there is none yet). */
brook_err_t admin_cluster_id_get(zk_session_t *zk, char *buf, size_t size, int timeout_ms,
				 char *errstr, size_t errstr_size);

#endif /* BROOK_ADMIN_H */
