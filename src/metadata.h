/*
 * metadata.h - the broker's cached view of the cluster: live brokers, the
 * controller, every topic's replica assignment and each partition's state
 * znode. broker_zk.c fills it from ZooKeeper; the request handlers answer
 * Metadata from it and the broker decides from it which partitions it
 * hosts and leads. Pure data: no I/O, no ZooKeeper calls.
 *
 * Ownership: the metadata_t owns everything it points to. Pointers it hands
 * out (topics, partitions, brokers) stay valid until the next setter call;
 * on the broker that means until the next on_metadata. Not thread-safe:
 * it lives on the loop thread.
 */
#ifndef BROOK_METADATA_H
#define BROOK_METADATA_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "zk_json.h"

typedef struct md_broker {
	int32_t id;
	char host[256];
	int32_t port;
	int has_rack;
	char rack[256];
} md_broker_t;

typedef struct md_partition {
	int32_t id;
	int32_t nreplicas;
	int32_t *replicas;      /* assignment order; first = preferred leader */
	int has_state;          /* the state znode exists */
	int32_t leader;         /* -1: none */
	int32_t leader_epoch, controller_epoch;
	int32_t state_version;  /* the state znode's zkVersion, for conditional writes */
	int32_t nisr;
	int32_t *isr;
} md_partition_t;

typedef struct md_topic {
	char name[250];
	int32_t npartitions;
	md_partition_t *partitions; /* [npartitions], partitions[i].id == i */
	/* /config/topics/<t>, as raw Kafka names and string values: the
	 * broker parses them against its own defaults (broker.c), so a bad
	 * value costs only that key. NULL: no overrides (or not read yet). */
	zk_topic_config_t *config;
	int config_known;           /* the config znode has been read (or found
				     * missing) since the topic appeared */
	uint64_t config_seq;        /* new (never 0, never reused in this view)
				     * whenever config or config_known changes,
				     * so a user can tell it has seen this one */
} md_topic_t;

typedef struct metadata {
	char cluster_id[64];
	int32_t controller_id;      /* -1: none */
	size_t nbrokers;
	md_broker_t *brokers;       /* sorted by id */
	size_t ntopics;
	md_topic_t **topics;        /* sorted by name */
	uint64_t config_seq;        /* the last md_topic_t.config_seq handed out */
} metadata_t;

/* An empty view (no brokers, no topics, no controller); NULL without
 * memory. metadata_free(NULL) is a no-op. */
metadata_t *metadata_new(void);
void metadata_free(metadata_t *md);

/* Lookups; NULL when absent. */
const md_topic_t *metadata_topic(const metadata_t *md, const char *name);
const md_partition_t *metadata_partition(const metadata_t *md, const char *topic,
					 int32_t partition);
const md_broker_t *metadata_broker(const metadata_t *md, int32_t id);
/* 1 when broker `id` is registered (its /brokers/ids node exists). */
int metadata_broker_alive(const metadata_t *md, int32_t id);

/* The leader the cluster should use for p. With a state znode: its leader
 * if that broker is alive, else -1 (offline: no unclean election). Without
 * one (no controller has written it yet): the first live replica in
 * assignment order, else -1. */
int32_t metadata_effective_leader(const metadata_t *md, const md_topic_t *t,
				  const md_partition_t *p);

/* --- setters (broker_zk.c); each returns whether anything changed ---- */

/* "" clears it; an id longer than the field is refused (_INVALID_ARG). */
brook_err_t metadata_set_cluster_id(metadata_t *md, const char *id);
int metadata_set_controller(metadata_t *md, int32_t id);

/* Replaces the whole broker list (copied, sorted by id; a duplicate id is
 * _INVALID_ARG and leaves the list as it was). */
brook_err_t metadata_set_brokers(metadata_t *md, const md_broker_t *brokers, size_t n,
				 int *changed);
/* Adds or replaces one broker. */
brook_err_t metadata_set_broker(metadata_t *md, const md_broker_t *b, int *changed);
int metadata_remove_broker(metadata_t *md, int32_t id);

/* Adds the topic or replaces its assignment. Partitions that still exist
 * keep their known state even when their replica list changed: the state
 * znode is separate from the assignment and only its own watch may change
 * what we know of it. Partitions beyond the new count are dropped. The
 * config overrides stay as they were (their znode is separate too); a new
 * topic starts with none and config_known 0. */
brook_err_t metadata_set_topic(metadata_t *md, const char *name, const zk_topic_assignment_t *a,
			       int *changed);
int metadata_remove_topic(metadata_t *md, const char *name);

/* Records the topic's config overrides, as read from /config/topics/<t>
 * (NULL or an empty config: the znode is missing or lists none). The
 * entries are copied; the caller keeps `config`. Sets config_known and,
 * when the overrides differ from what was known (names and values, in any
 * order) or were not known yet, a new config_seq and *changed = 1. _NOENT
 * when the topic is unknown; on _NOMEM the view is unchanged. */
brook_err_t metadata_set_topic_config(metadata_t *md, const char *name,
				      const zk_topic_config_t *config, int *changed);

/* Records the state znode of topic/partition (zk_version: its stat's
 * version). _NOENT when the topic or partition is unknown. */
brook_err_t metadata_set_partition_state(metadata_t *md, const char *topic, int32_t partition,
					 const zk_partition_state_t *st, int32_t zk_version,
					 int *changed);
/* The state znode does not exist (any more). */
int metadata_clear_partition_state(metadata_t *md, const char *topic, int32_t partition);

#endif /* BROOK_METADATA_H */
