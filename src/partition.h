/*
 * partition.h - the partitions this broker hosts: each a log plus the
 * replication state the request handlers and replica.c need: the state
 * znode as last seen (leader, epoch, ISR and its zkVersion), and on a
 * leader what each follower has fetched; on a follower, where it fetches.
 *
 * The high watermark is the smallest log end offset over the ISR (the
 * leader's own included) and only grows while this broker leads; with an
 * ISR of one it is the leader's log end, Kafka's rule.
 *
 * Settings: the broker's defaults overridden by the topic's config
 * (/config/topics/<t>), computed by broker.c. The log's own settings live
 * in log->cfg; the produce path reads the two below.
 *
 * Ownership: the table owns its partition_t entries; each log belongs to
 * the log dir it lives in (log_dir.h), the partition only points at it.
 */
#ifndef BROOK_PARTITION_H
#define BROOK_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "leader_epoch.h"
#include "log.h"
#include "log_checkpoint.h"
#include "log_dir.h"

#define PARTITION_MAX_REPLICAS 64

/* What a leader knows of one follower (Kafka's Replica). */
typedef struct follower {
	int32_t id;
	int64_t leo;                /* -1: has not fetched since we lead */
	int64_t last_caught_up_ms;  /* last time its fetch reached our log end */
	int64_t last_fetch_leader_leo; /* our log end when it last fetched */
	int64_t last_fetch_ms;
} follower_t;

typedef struct partition {
	char topic[LOG_TOPIC_MAX + 1];
	int32_t id;
	log_t *log;
	log_dir_t *dir;
	int is_leader;
	int32_t leader_epoch;
	int64_t high_watermark;
	int seen;               /* reconcile mark */
	int offline;            /* storage error: refuses reads and writes */

	/* settings (broker defaults, then the topic's overrides) */
	int32_t min_insync_replicas;  /* min.insync.replicas */
	int32_t max_message_bytes;    /* max.message.bytes (message.max.bytes) */
	uint64_t config_seq;    /* the md_topic_t.config_seq applied; 0: none */
	int config_known;       /* the topic's overrides were known when applied;
				 * until then it does not take writes */

	/* the assignment and the state znode, as the view last showed them */
	int32_t leader_id;      /* -1: none */
	int32_t controller_epoch;
	int32_t state_version;  /* zkVersion, for the leader's ISR writes */
	int32_t nreplicas, nisr;
	int32_t replicas[PARTITION_MAX_REPLICAS];
	int32_t isr[PARTITION_MAX_REPLICAS];

	/* leader side */
	follower_t followers[PARTITION_MAX_REPLICAS];
	int32_t nfollowers;
	int isr_write_inflight;  /* one ISR change at a time */

	/* follower side (replica.c's fetchers) */
	int32_t fetch_from;      /* leader we fetch from, -1: none */
	int32_t fetch_epoch;     /* leader epoch we fetch under */
	int fetch_error;         /* last fetch failed for this partition */
	int truncating;          /* asking the leader where our logs agree */

	leader_epoch_t *epochs;  /* leader-epoch-checkpoint; NULL if unreadable */
} partition_t;

typedef struct partition_table {
	partition_t **parts;    /* sorted by (topic, id) */
	size_t n, cap;
} partition_table_t;

void partition_table_init(partition_table_t *t);
/* Frees the entries and their leader-epoch caches (not their logs). */
void partition_table_destroy(partition_table_t *t);

partition_t *partition_find(const partition_table_t *t, const char *topic, int32_t id);
/* Looks up by a not NUL-terminated name (straight from a request). */
partition_t *partition_findn(const partition_table_t *t, const char *topic, size_t len,
			     int32_t id);
/* Adds an entry for log (already opened or created in dir). */
brook_err_t partition_add(partition_table_t *t, const char *topic, int32_t id, log_t *log,
			  log_dir_t *dir, partition_t **out);
void partition_remove(partition_table_t *t, partition_t *p);
/* The hosted partitions of `topic` are t->parts[*first .. *first + n),
 * n being the return value (0: none). */
size_t partition_topic_range(const partition_table_t *t, const char *topic, size_t *first);

#endif
