/*
 * zk_paths.h - the znode paths of DESIGN.md ("Coordination: the ZooKeeper
 * layout"), which are Kafka's ZooKeeper-mode paths, and the names that go
 * into them.
 *
 * Builders write a NUL-terminated path into the caller's buffer and return
 * BROOK_ERR__INVALID_ARG when it does not fit (the buffer then holds an
 * empty string, never a truncated path), BROOK_ERR_INVALID_TOPIC_EXCEPTION
 * for a bad topic name and BROOK_ERR__INVALID_ARG for a bad group, member,
 * id or partition. ZK_PATH_MAX always suffices for valid names.
 * Paths are relative to the chroot of the connect string, if any.
 *
 * Ownership: nothing is allocated; the caller owns every buffer.
 */
#ifndef BROOK_ZK_PATHS_H
#define BROOK_ZK_PATHS_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"

/* Longest path a builder produces from valid names: two 249-byte topic
 * names would be the worst case, and group/member names are capped at
 * ZK_NAME_MAX, so 1024 leaves room. */
#define ZK_PATH_MAX 1024
/* Kafka's limit on topic names (Topic.MAX_NAME_LENGTH). */
#define ZK_TOPIC_MAX 249
/* Our cap on group and member ids used as path components. */
#define ZK_NAME_MAX 255

/* Fixed znodes and folders. */
#define ZK_PATH_CLUSTER_ID          "/cluster/id"
#define ZK_PATH_BROKER_IDS          "/brokers/ids"
#define ZK_PATH_TOPICS              "/brokers/topics"
#define ZK_PATH_CONTROLLER          "/controller"
#define ZK_PATH_CONTROLLER_EPOCH    "/controller_epoch"
#define ZK_PATH_CONFIG_TOPICS       "/config/topics"
#define ZK_PATH_DELETE_TOPICS       "/admin/delete_topics"
#define ZK_PATH_ISR_CHANGE          "/isr_change_notification"
/* Prefix for zk_create(..., ZK_SEQUENTIAL): ZooKeeper appends 10 digits. */
#define ZK_PATH_ISR_CHANGE_PREFIX   "/isr_change_notification/isr_change_"
#define ZK_PATH_PRODUCER_ID_BLOCK   "/latest_producer_id_block"
#define ZK_PATH_PREFERRED_ELECTION  "/admin/preferred_replica_election"
#define ZK_PATH_CONSUMERS           "/consumers"

/* BROOK_ERR_NO_ERROR when `topic` is a valid topic name: 1..249 bytes of
 * [a-zA-Z0-9._-], and neither "." nor "..". Otherwise
 * BROOK_ERR_INVALID_TOPIC_EXCEPTION with the reason in errstr. */
brook_err_t zk_topic_validate(const char *topic, char *errstr, size_t errstr_size);

/* BROOK_ERR_NO_ERROR when `name` can be one znode path component (a group
 * or member id): 1..ZK_NAME_MAX bytes, no '/', no control characters, not
 * "." or "..". Otherwise BROOK_ERR__INVALID_ARG with the reason. */
brook_err_t zk_name_validate(const char *name, char *errstr, size_t errstr_size);

/* Parses a child name that is a decimal id (a broker id under
 * /brokers/ids, a partition under .../partitions): digits only, no sign,
 * no leading zeros, at most INT32_MAX. BROOK_ERR__BAD_MSG otherwise. */
brook_err_t zk_path_parse_id(const char *name, int32_t *id);

/* /brokers/ids/<id> */
brook_err_t zk_path_broker(char *buf, size_t size, int32_t broker_id);
/* /brokers/topics/<t> */
brook_err_t zk_path_topic(char *buf, size_t size, const char *topic);
/* /brokers/topics/<t>/partitions */
brook_err_t zk_path_partitions(char *buf, size_t size, const char *topic);
/* /brokers/topics/<t>/partitions/<p> */
brook_err_t zk_path_partition(char *buf, size_t size, const char *topic, int32_t partition);
/* /brokers/topics/<t>/partitions/<p>/state */
brook_err_t zk_path_partition_state(char *buf, size_t size, const char *topic, int32_t partition);
/* /config/topics/<t> */
brook_err_t zk_path_topic_config(char *buf, size_t size, const char *topic);
/* /admin/delete_topics/<t> */
brook_err_t zk_path_delete_topic(char *buf, size_t size, const char *topic);
/* /consumers/<g> */
brook_err_t zk_path_group(char *buf, size_t size, const char *group);
/* /consumers/<g>/ids */
brook_err_t zk_path_group_ids(char *buf, size_t size, const char *group);
/* /consumers/<g>/ids/<m> */
brook_err_t zk_path_group_member(char *buf, size_t size, const char *group, const char *member);
/* /consumers/<g>/owners/<t> */
brook_err_t zk_path_group_owners(char *buf, size_t size, const char *group, const char *topic);
/* /consumers/<g>/owners/<t>/<p> */
brook_err_t zk_path_group_owner(char *buf, size_t size, const char *group, const char *topic,
				int32_t partition);
/* /consumers/<g>/offsets/<t> */
brook_err_t zk_path_group_offsets(char *buf, size_t size, const char *group, const char *topic);
/* /consumers/<g>/offsets/<t>/<p> */
brook_err_t zk_path_group_offset(char *buf, size_t size, const char *group, const char *topic,
				 int32_t partition);

#endif /* BROOK_ZK_PATHS_H */
