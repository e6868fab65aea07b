/*
 * log_checkpoint.h - Kafka's offset checkpoint files, used for
 * recovery-point-offset-checkpoint and replication-offset-checkpoint:
 *
 *   0                      version
 *   2                      number of entries
 *   orders 0 1234          topic, partition, offset
 *   orders 1 99
 *
 * Files are replaced atomically (write, fsync, rename). Parsing is strict:
 * a file a human edited wrongly is reported as "path:line: reason".
 *
 * Ownership: log_checkpoint_read() returns a malloc'd array the caller frees.
 */
#ifndef BROOK_LOG_CHECKPOINT_H
#define BROOK_LOG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"

#define LOG_TOPIC_MAX 249

typedef struct log_checkpoint_entry {
	char topic[LOG_TOPIC_MAX + 1];
	int32_t partition;
	int64_t offset;
} log_checkpoint_entry_t;

/* BROOK_ERR__NOENT when the file does not exist (a new log dir). */
brook_err_t log_checkpoint_read(const char *path, log_checkpoint_entry_t **entries, size_t *n,
				char *errstr, size_t errstr_size);

brook_err_t log_checkpoint_write(const char *path, const log_checkpoint_entry_t *entries, size_t n,
				 char *errstr, size_t errstr_size);

/* Topic names as Kafka allows them: [a-zA-Z0-9._-]{1,249}, not "." or "..". */
int log_topic_valid(const char *topic, size_t len);

/* Splits a partition folder name "<topic>-<partition>" (at the last '-').
 * Returns 0 on success, -1 when the name does not have that form. */
int log_parse_partition_dir(const char *name, char topic[LOG_TOPIC_MAX + 1], int32_t *partition);

/* Parses a whole decimal int64 (optional '-'), rejecting junk and overflow. */
int log_parse_i64(const char *s, size_t len, int64_t *out);

#endif /* BROOK_LOG_CHECKPOINT_H */
