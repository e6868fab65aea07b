/*
 * log_dir.h - one log.dirs folder and the partition logs inside it (what
 * Kafka calls the LogManager, for one directory).
 *
 * Opening checks that the folder exists and is writable, reads the
 * recovery-point checkpoint and the clean-shutdown marker, and opens every
 * "<topic>-<partition>" folder, recovering what an unclean stop may have
 * torn. Anything it cannot use (a folder whose name does not parse, a
 * partition whose files are not ours) is reported through the warn
 * callback with the path and the reason and left untouched; the rest of
 * the folder still loads.
 *
 * Ownership: the log_dir owns its logs; log_dir_close() flushes them,
 * checkpoints and marks the shutdown clean. Not thread-safe.
 */
#ifndef BROOK_LOG_DIR_H
#define BROOK_LOG_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "log.h"
#include "log_checkpoint.h"

#define LOG_DIR_RECOVERY_CHECKPOINT "recovery-point-offset-checkpoint"
#define LOG_DIR_CLEAN_SHUTDOWN ".brook_cleanshutdown"

typedef void (log_dir_warn_cb)(void *opaque, const char *msg);

typedef struct log_dir_partition {
	char topic[LOG_TOPIC_MAX + 1];
	int32_t partition;
	log_t *log;
} log_dir_partition_t;

typedef struct log_dir {
	char *path;
	log_config_t cfg;
	log_dir_partition_t *parts;
	size_t nparts, parts_cap;
	int had_clean_shutdown;
	log_dir_warn_cb *warn;
	void *opaque;
} log_dir_t;

/* Opens path (which must exist and be writable) and loads every partition. */
brook_err_t log_dir_open(const char *path, const log_config_t *cfg, int64_t now_ms,
			 log_dir_warn_cb *warn, void *opaque, log_dir_t **out,
			 char *errstr, size_t errstr_size);

/* The loaded log of topic/partition, or NULL. */
log_t *log_dir_get(log_dir_t *ld, const char *topic, int32_t partition);

/* Creates (or returns the existing) log of topic/partition. */
brook_err_t log_dir_create_log(log_dir_t *ld, const char *topic, int32_t partition, int64_t now_ms,
			       log_t **out, char *errstr, size_t errstr_size);

/* Deletes topic/partition: frees its log (reads in flight keep their
 * segment files open) and removes its folder, renamed to
 * "<topic>-<p>.<now_ms>-delete" first. _NOENT when not loaded here. */
brook_err_t log_dir_delete_log(log_dir_t *ld, const char *topic, int32_t partition, int64_t now_ms,
			       char *errstr, size_t errstr_size);

/* Writes the recovery points of every log (periodically, and at close). */
brook_err_t log_dir_checkpoint(log_dir_t *ld, char *errstr, size_t errstr_size);

/* Closes every log, checkpoints and leaves the clean-shutdown marker so the
 * next start skips recovery. Frees ld even on error. */
brook_err_t log_dir_close(log_dir_t *ld, char *errstr, size_t errstr_size);

/* Frees without flushing or marking a clean shutdown (a crash). NULL ok. */
void log_dir_free(log_dir_t *ld);

#endif /* BROOK_LOG_DIR_H */
