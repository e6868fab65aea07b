/*
 * leader_epoch.h - the leader-epoch cache of one partition (Kafka's
 * LeaderEpochFileCache): which leader epoch started at which offset, so a
 * follower of a new leader truncates to the end of the last epoch both logs
 * share instead of to its high watermark (DESIGN.md, "Replication").
 *
 * The cache lives in memory and in <partition dir>/leader-epoch-checkpoint,
 * in Kafka's checkpoint text format:
 *
 *   0            version
 *   2            number of entries
 *   0 0          epoch start_offset
 *   3 1200
 *
 * Entries are sorted, epochs and start offsets both strictly increasing.
 * Every call that changes them rewrites the file (write-through: write,
 * fsync, rename, fsync the folder). Epoch changes are rare, so a few fsyncs
 * per leader change buy a file that always matches what the cache answered.
 * That fsync blocks: call the mutators where blocking on disk is allowed.
 *
 * Ownership: the cache is owned by its caller (the partition) and freed with
 * leader_epoch_free(); it copies the folder path and keeps no fd open. It is
 * not thread-safe: one thread at a time.
 */
#ifndef BROOK_LEADER_EPOCH_H
#define BROOK_LEADER_EPOCH_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"

#define LEADER_EPOCH_CHECKPOINT "leader-epoch-checkpoint"

/* Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
#define LEADER_EPOCH_UNDEFINED (-1)
#define LEADER_EPOCH_UNDEFINED_OFFSET (-1)

typedef struct leader_epoch leader_epoch_t;

/* Loads <partition_dir>/leader-epoch-checkpoint; a missing or zero-length
 * file is an empty cache (Kafka creates the file empty). A malformed file is
 * BROOK_ERR__CORRUPT with "path:line: reason" in errstr; the file is left
 * alone for the caller to judge. */
brook_err_t leader_epoch_open(const char *partition_dir, leader_epoch_t **out,
			      char *errstr, size_t errstr_size);

/* NULL is a no-op. Writes nothing: the file is always current, except
 * after a failed write (see leader_epoch_flush). */
void leader_epoch_free(leader_epoch_t *le);

/*
 * Records that `epoch` starts at `start_offset`. Called by a leader when it
 * takes over (with its log end offset) and by a follower for each appended
 * batch (its partition leader epoch at its base offset).
 *
 * Kafka's rule: nothing to do when epoch is the latest epoch and
 * start_offset is not below its start. Otherwise entries that would break
 * the ordering (epoch >= the new epoch, or start_offset >= the new start)
 * are removed from the end, then the entry is appended; removing more than
 * a same-offset placeholder is logged as a warning, as Kafka does.
 * Negative epoch or offset: BROOK_ERR__INVALID_ARG, cache unchanged.
 */
brook_err_t leader_epoch_assign(leader_epoch_t *le, int32_t epoch, int64_t start_offset,
				char *errstr, size_t errstr_size);

/* *epoch = the latest epoch, or LEADER_EPOCH_UNDEFINED when the cache is
 * empty. */
void leader_epoch_latest(const leader_epoch_t *le, int32_t *epoch);

/*
 * Kafka's endOffsetFor, the answer to OffsetForLeaderEpoch: the largest
 * epoch <= requested_epoch and the offset where it ended. The latest epoch
 * has not ended: it runs to log_end_offset. UNDEFINED pairs (-1, -1) for an
 * undefined request, an empty cache or an epoch above the latest. Below the
 * first entry Kafka answers (requested_epoch, first start offset): older
 * epochs were deleted by retention, and the follower must not keep more than
 * the leader's log start.
 */
void leader_epoch_end_offset_for(const leader_epoch_t *le, int32_t requested_epoch,
				 int64_t log_end_offset, int32_t *found_epoch,
				 int64_t *end_offset);

/* After the log was truncated to end_offset: drops entries starting at or
 * after it. A negative end_offset is ignored, as in Kafka. */
brook_err_t leader_epoch_truncate_from_end(leader_epoch_t *le, int64_t end_offset,
					   char *errstr, size_t errstr_size);

/* After the log start moved to start_offset (retention, DeleteRecords):
 * drops the entries that ended before it and moves the start of the entry
 * covering it up to start_offset. A negative start_offset is ignored. */
brook_err_t leader_epoch_truncate_from_start(leader_epoch_t *le, int64_t start_offset,
					     char *errstr, size_t errstr_size);

/* After the whole log was deleted or truncated to nothing. */
brook_err_t leader_epoch_clear(leader_epoch_t *le, char *errstr, size_t errstr_size);

/*
 * When a write fails, the call returns the error from log_file_replace()
 * (BROOK_ERR__NO_SPACE, BROOK_ERR__READ_ONLY, BROOK_ERR__IO...) but the
 * cache keeps the change: the log it describes has changed already, and
 * answering from the old entries would be wrong. The cache is then marked
 * stale; the next mutation or leader_epoch_flush() writes it again.
 * leader_epoch_flush() is a no-op when the file is current.
 */
brook_err_t leader_epoch_flush(leader_epoch_t *le, char *errstr, size_t errstr_size);

/* Nonzero after a failed write, until a write succeeds. */
int leader_epoch_stale(const leader_epoch_t *le);

/* For tests and debugging: entries in order. Returns -1 when i >= count. */
size_t leader_epoch_count(const leader_epoch_t *le);
int leader_epoch_entry(const leader_epoch_t *le, size_t i, int32_t *epoch, int64_t *start_offset);

#endif /* BROOK_LEADER_EPOCH_H */
