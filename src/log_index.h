/*
 * log_index.h - a segment's sparse offset index and time index.
 *
 * Both are sorted arrays kept in memory and written whole to disk when the
 * segment rolls, flushes or closes. The files are only an accelerator: a
 * missing, half-written or inconsistent index is detected on load and
 * rebuilt from the segment, never trusted.
 *
 * On-disk entries (big-endian, Kafka's layout):
 *   .index      relativeOffset uint32, position uint32            (8 bytes)
 *   .timeindex  timestamp int64, relativeOffset uint32            (12 bytes)
 * An offset entry points at the start of the batch whose base offset it
 * names; a time entry (T, O) says every batch up to and including the one at
 * base offset O has a max timestamp <= T.
 *
 * Ownership: the index owns its arrays; log_index_free(NULL) is a no-op.
 */
#ifndef BROOK_LOG_INDEX_H
#define BROOK_LOG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"

#define LOG_INDEX_ENTRY_SIZE 8
#define LOG_TIMEINDEX_ENTRY_SIZE 12

typedef struct log_offset_entry {
	uint32_t rel_offset;
	uint32_t position;
} log_offset_entry_t;

typedef struct log_time_entry {
	int64_t timestamp;
	uint32_t rel_offset;
} log_time_entry_t;

typedef struct log_index {
	int64_t base_offset;
	log_offset_entry_t *off;
	size_t noff, off_cap;
	log_time_entry_t *time;
	size_t ntime, time_cap;
} log_index_t;

void log_index_init(log_index_t *idx, int64_t base_offset);
void log_index_destroy(log_index_t *idx);
void log_index_clear(log_index_t *idx);

/* Adds an offset entry; entries must increase in both offset and position
 * (BROOK_ERR__INVALID_ARG otherwise). */
brook_err_t log_index_add_offset(log_index_t *idx, int64_t offset, uint32_t position);
/* Adds a time entry when timestamp is larger than the last one; a no-op
 * otherwise, since only increasing maxima carry information. */
brook_err_t log_index_add_time(log_index_t *idx, int64_t timestamp, int64_t offset);

/* Position of the batch with the largest indexed base offset <= offset
 * (0 when there is none): where a scan for `offset` may start. */
uint32_t log_index_lookup(const log_index_t *idx, int64_t offset, int64_t *found_offset);

/* Offset of the last time entry whose timestamp is < ts, or -1: batches up
 * to and including that one cannot hold a record with timestamp >= ts. */
int64_t log_index_lookup_time(const log_index_t *idx, int64_t ts);

/* Drops every entry naming an offset >= offset (truncation). */
void log_index_truncate(log_index_t *idx, int64_t offset);

/* Largest timestamp indexed so far, or -1. */
int64_t log_index_max_timestamp(const log_index_t *idx);

/* Writes both files whole (the path names without extension: "<dir>/<base>").
 * fsync when sync is set. */
brook_err_t log_index_write(const log_index_t *idx, const char *path_noext, int sync,
			    char *errstr, size_t errstr_size);

/* Loads both files and checks them against a segment of seg_size bytes:
 * whole entries, strictly increasing, positions inside the segment.
 * BROOK_ERR__NOENT when a file is missing, BROOK_ERR__CORRUPT when one is
 * damaged (errstr says which and why); the index is left empty then. */
brook_err_t log_index_load(log_index_t *idx, const char *path_noext, uint64_t seg_size,
			   char *errstr, size_t errstr_size);

/* Removes both files; missing files are fine. */
void log_index_unlink(const char *path_noext);

#endif /* BROOK_LOG_INDEX_H */
