/*
 * partition.h - the partitions this broker hosts: each a log plus the
 * replication state the request handlers need (leader or not, leader
 * epoch, high watermark).
 *
 * Until replication exists the leader's high watermark is its log end: the
 * ISR is the leader alone, so acks=all is satisfied by the leader's write,
 * which is exactly Kafka's rule for an ISR of one.
 *
 * Ownership: the table owns its partition_t entries; each log belongs to
 * the log dir it lives in (log_dir.h), the partition only points at it.
 */
#ifndef BROOK_PARTITION_H
#define BROOK_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "log_checkpoint.h"
#include "log_dir.h"

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
} partition_t;

typedef struct partition_table {
	partition_t **parts;    /* sorted by (topic, id) */
	size_t n, cap;
} partition_table_t;

void partition_table_init(partition_table_t *t);
/* Frees the entries (not their logs). */
void partition_table_destroy(partition_table_t *t);

partition_t *partition_find(const partition_table_t *t, const char *topic, int32_t id);
/* Looks up by a not NUL-terminated name (straight from a request). */
partition_t *partition_findn(const partition_table_t *t, const char *topic, size_t len,
			     int32_t id);
/* Adds an entry for log (already opened or created in dir). */
brook_err_t partition_add(partition_table_t *t, const char *topic, int32_t id, log_t *log,
			  log_dir_t *dir, partition_t **out);
void partition_remove(partition_table_t *t, partition_t *p);

#endif
