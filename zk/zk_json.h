/*
 * zk_json.h - the JSON payloads of brook's znodes, in Apache Kafka's
 * (ZooKeeper mode) shapes, so that anyone who knows zkCli.sh and Kafka can
 * read a brook cluster (DESIGN.md, "Coordination: the ZooKeeper layout").
 *
 * Decoders read data that a human may have edited with zkCli.sh: they check
 * every type and range, accept the extra fields newer Kafka versions add,
 * and on anything wrong return BROOK_ERR__BAD_MSG with the field and the
 * reason in errstr. Encoders write exactly Kafka's field names and shapes
 * and refuse (BROOK_ERR__INVALID_ARG) a struct that would not decode.
 *
 * Ownership: encoders return a malloc'd NUL-terminated string the caller
 * free()s. Fixed-size structs (broker, partition state, controller, cluster
 * id) are filled in place and own nothing. The variable-size ones (topic
 * assignment, topic config, consumer member) are heap objects with x_new /
 * x_free (x_free(NULL) is a no-op); a decoder hands a new one to the caller.
 */
#ifndef BROOK_ZK_JSON_H
#define BROOK_ZK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"

#define ZK_HOST_MAX 255             /* DNS name limit */
#define ZK_LISTENER_MAX 63          /* listener name, "BROOK" */
#define ZK_RACK_MAX 255
#define ZK_BROKER_MAX_ENDPOINTS 8
#define ZK_MAX_REPLICAS 64          /* replicas of one partition, ISR size */
#define ZK_MAX_PARTITIONS 100000    /* partitions of one topic */
#define ZK_CLUSTER_ID_MAX 64
#define ZK_CONFIG_NAME_MAX 255
#define ZK_CONFIG_VALUE_MAX 4096

/* One listener of a broker, "BROOK://host:port" on the wire. */
typedef struct zk_endpoint {
	char listener[ZK_LISTENER_MAX + 1];
	char host[ZK_HOST_MAX + 1];        /* may be "" (all interfaces) */
	int32_t port;                      /* 0..65535 */
} zk_endpoint_t;

/* /brokers/ids/<id> (ephemeral):
 * {"version":4,"host":"h","port":9092,"endpoints":["BROOK://h:9092"],
 *  "jmx_port":-1,"timestamp":"1548342545232","rack":null}
 * Kafka writes "host":null,"port":-1 when it has no PLAINTEXT listener;
 * that decodes to host "" and port -1. */
typedef struct zk_broker_reg {
	int32_t version;                   /* we write 4; 1..5 decode */
	char host[ZK_HOST_MAX + 1];
	int32_t port;                      /* -1 only with host "" */
	int endpoint_cnt;
	zk_endpoint_t endpoints[ZK_BROKER_MAX_ENDPOINTS];
	int32_t jmx_port;                  /* -1: none */
	int64_t timestamp_ms;              /* 0 when absent */
	int has_rack;                      /* 0: "rack":null */
	char rack[ZK_RACK_MAX + 1];
} zk_broker_reg_t;

brook_err_t zk_json_broker_decode(const char *data, size_t len, zk_broker_reg_t *out,
				  char *errstr, size_t errstr_size);
brook_err_t zk_json_broker_encode(const zk_broker_reg_t *b, char **out);

/* Parses "LISTENER://host:port" ("[v6addr]:port" too). */
brook_err_t zk_endpoint_parse(const char *s, zk_endpoint_t *ep, char *errstr, size_t errstr_size);

/* /brokers/topics/<t> (persistent):
 * {"version":1,"partitions":{"0":[1,2,3],"1":[2,3,1]}}
 * Partitions are numbered 0..partition_cnt-1 without gaps; each replica
 * list is non-empty, has no duplicates, and its first broker is the
 * preferred leader. */
typedef struct zk_replica_list {
	int32_t cnt;
	int32_t *ids;
} zk_replica_list_t;

typedef struct zk_topic_assignment {
	int32_t version;                   /* we write 1; 1..3 decode */
	int32_t partition_cnt;
	zk_replica_list_t *partitions;     /* [partition_cnt] */
	int32_t *ids_storage;              /* every list's ids, one block */
} zk_topic_assignment_t;

/* Every partition gets replication_factor slots (ids zeroed) to fill in.
 * NULL on bad sizes or out of memory. */
zk_topic_assignment_t *zk_topic_assignment_new(int32_t partition_cnt, int32_t replication_factor);
void zk_topic_assignment_free(zk_topic_assignment_t *a);
brook_err_t zk_json_topic_assignment_decode(const char *data, size_t len,
					    zk_topic_assignment_t **out,
					    char *errstr, size_t errstr_size);
brook_err_t zk_json_topic_assignment_encode(const zk_topic_assignment_t *a, char **out);

/* /brokers/topics/<t>/partitions/<p>/state (persistent, always written with
 * a version check):
 * {"controller_epoch":7,"leader":1,"version":1,"leader_epoch":3,"isr":[1,2]}
 * leader -1 means no leader (the partition is offline). */
typedef struct zk_partition_state {
	int32_t version;                   /* we write 1 */
	int32_t controller_epoch;
	int32_t leader;
	int32_t leader_epoch;
	int32_t isr_cnt;
	int32_t isr[ZK_MAX_REPLICAS];
} zk_partition_state_t;

brook_err_t zk_json_partition_state_decode(const char *data, size_t len, zk_partition_state_t *out,
					   char *errstr, size_t errstr_size);
brook_err_t zk_json_partition_state_encode(const zk_partition_state_t *st, char **out);

/* /controller (ephemeral): {"version":1,"brokerid":2,"timestamp":"<ms>"} */
typedef struct zk_controller {
	int32_t version;                   /* we write 1 */
	int32_t broker_id;
	int64_t timestamp_ms;              /* 0 when absent */
} zk_controller_t;

brook_err_t zk_json_controller_decode(const char *data, size_t len, zk_controller_t *out,
				      char *errstr, size_t errstr_size);
brook_err_t zk_json_controller_encode(const zk_controller_t *c, char **out);

/* /controller_epoch (persistent): the epoch as decimal text, "7". */
brook_err_t zk_json_controller_epoch_decode(const char *data, size_t len, int32_t *epoch,
					    char *errstr, size_t errstr_size);
brook_err_t zk_json_controller_epoch_encode(int32_t epoch, char **out);

/* /consumers/<g>/offsets/<t>/<p> (persistent): next offset, decimal text. */
brook_err_t zk_json_offset_decode(const char *data, size_t len, int64_t *offset,
				  char *errstr, size_t errstr_size);
brook_err_t zk_json_offset_encode(int64_t offset, char **out);

/* /cluster/id (persistent): {"version":"1","id":"<id>"}; Kafka writes the
 * version as a string here. */
typedef struct zk_cluster_id {
	char id[ZK_CLUSTER_ID_MAX + 1];
} zk_cluster_id_t;

brook_err_t zk_json_cluster_id_decode(const char *data, size_t len, zk_cluster_id_t *out,
				      char *errstr, size_t errstr_size);
brook_err_t zk_json_cluster_id_encode(const zk_cluster_id_t *c, char **out);

/* /config/topics/<t> (persistent):
 * {"version":1,"config":{"retention.ms":"86400000",...}}; Kafka keeps every
 * value as a string. Entries keep insertion (or document) order. */
typedef struct zk_config_entry {
	char *name;
	char *value;
} zk_config_entry_t;

typedef struct zk_topic_config {
	int32_t version;                   /* we write 1 */
	size_t cnt, cap;
	zk_config_entry_t *entries;
} zk_topic_config_t;

zk_topic_config_t *zk_topic_config_new(void);
void zk_topic_config_free(zk_topic_config_t *c);
/* Adds or replaces one entry (both strings are copied). */
brook_err_t zk_topic_config_set(zk_topic_config_t *c, const char *name, const char *value);
/* The value of `name`, or NULL; owned by the config. */
const char *zk_topic_config_get(const zk_topic_config_t *c, const char *name);
brook_err_t zk_json_topic_config_decode(const char *data, size_t len, zk_topic_config_t **out,
					char *errstr, size_t errstr_size);
brook_err_t zk_json_topic_config_encode(const zk_topic_config_t *c, char **out);

/* /consumers/<g>/ids/<member> (ephemeral):
 * {"version":1,"subscription":{"orders":1},"pattern":"static",
 *  "timestamp":"<ms>"}
 * With pattern "static" the keys are topic names; with "white_list" or
 * "black_list" they are regular expressions. The value is the number of
 * streams (>= 1). */
typedef struct zk_subscription {
	char *topic;
	int32_t streams;
} zk_subscription_t;

typedef struct zk_consumer_member {
	int32_t version;                   /* we write 1 */
	char pattern[16];                  /* "static", "white_list", "black_list" */
	int64_t timestamp_ms;
	size_t sub_cnt, sub_cap;
	zk_subscription_t *subs;
} zk_consumer_member_t;

/* A member with pattern "static" and no subscriptions. */
zk_consumer_member_t *zk_consumer_member_new(void);
void zk_consumer_member_free(zk_consumer_member_t *m);
brook_err_t zk_consumer_member_subscribe(zk_consumer_member_t *m, const char *topic, int32_t streams);
brook_err_t zk_json_consumer_member_decode(const char *data, size_t len, zk_consumer_member_t **out,
					   char *errstr, size_t errstr_size);
brook_err_t zk_json_consumer_member_encode(const zk_consumer_member_t *m, char **out);

/* /admin/preferred_replica_election (Kafka's): {"version":1,"partitions":
 * [{"topic":t,"partition":p},...]}. The distinct topic names it lists
 * (the election runs per topic); free with zk_json_election_topics_free. */
brook_err_t zk_json_election_topics_decode(const char *data, size_t len, char ***topics,
					   size_t *n, char *errstr, size_t errstr_size);
void zk_json_election_topics_free(char **topics, size_t n);

#endif /* BROOK_ZK_JSON_H */
