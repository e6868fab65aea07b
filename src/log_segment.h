/*
 * log_segment.h - one segment of a partition log: the .log file of whole
 * RecordBatch v2 batches named by its base offset, with its indexes.
 *
 * Appends go to the end with pwrite; a failed write is cut back so no
 * partial batch ever stays behind. Recovery scans the file, checks every
 * batch CRC, rebuilds the indexes and truncates at the first bad byte.
 *
 * Ownership: a segment is reference counted. The log holds one reference;
 * a reader that hands the fd to sendfile takes another (log_segment_ref) so
 * retention or truncation may unlink the files while the bytes are still
 * being sent: the fd is closed when the last reference goes. Not
 * thread-safe: the broker touches segments from its loop thread only.
 */
#ifndef BROOK_LOG_SEGMENT_H
#define BROOK_LOG_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "log_index.h"
#include "record.h"

typedef struct log_segment {
	int refcnt;
	int fd;
	int64_t base_offset;
	int64_t next_offset;        /* last offset + 1; base_offset when empty */
	uint64_t size;              /* bytes of whole batches */
	char *path;                 /* "<dir>/<20-digit base offset>", no extension */
	char *log_path;             /* path + ".log" */
	log_index_t idx;
	uint64_t bytes_since_index; /* bytes appended since the last index entry */
	int64_t max_timestamp;      /* largest batch maxTimestamp; -1 when empty */
	int64_t last_batch_offset;  /* base offset of the last batch; -1 when empty */
	int64_t first_batch_time;   /* maxTimestamp of the first batch, for log.roll.ms */
	int unflushed;              /* appended since the last fdatasync */
	int deleted;
} log_segment_t;

/* Builds "<dir>/<base offset as 20 digits>" into buf. */
int log_segment_name(char *buf, size_t size, const char *dir, int64_t base_offset);

/* Creates a new empty segment; fails if its file exists. */
brook_err_t log_segment_create(const char *dir, int64_t base_offset, log_segment_t **out,
			       char *errstr, size_t errstr_size);

/* Opens an existing segment file without reading it (see load/recover). */
brook_err_t log_segment_open(const char *dir, int64_t base_offset, log_segment_t **out,
			     char *errstr, size_t errstr_size);

/* Outcome of a recovery scan. */
typedef struct log_segment_recovery {
	uint64_t valid_bytes;     /* the prefix of whole, CRC-valid batches */
	uint64_t truncated_bytes; /* bytes cut after it */
	int32_t batches;
	char reason[256];         /* why the scan stopped early, when it did */
} log_segment_recovery_t;

/* Scans the whole file, verifying each batch's header, CRC and offsets
 * (base offsets increase and are >= min_offset), rebuilds both indexes and
 * truncates the file after the last valid batch. BROOK_ERR__NOT_OURS when
 * the file starts with a full header that is not a batch of this segment
 * (wrong magic or base offset): then nothing is cut. */
brook_err_t log_segment_recover(log_segment_t *seg, int64_t min_offset, uint32_t index_interval,
				log_segment_recovery_t *rec, char *errstr, size_t errstr_size);

/* Opens a segment that was cleanly closed or lies before the recovery
 * point: loads the index files and scans only the batch headers after the
 * last index entry. Falls back to log_segment_recover when an index file is
 * missing or damaged (*rebuilt is set; errstr says why). */
brook_err_t log_segment_load(log_segment_t *seg, int64_t min_offset, uint32_t index_interval,
			     int *rebuilt, log_segment_recovery_t *rec,
			     char *errstr, size_t errstr_size);

/* Appends `len` bytes of whole, already validated batches (with their final
 * base offsets written in) and indexes them. On a write error the file is
 * cut back to its previous size and the segment is unchanged. */
brook_err_t log_segment_append(log_segment_t *seg, const uint8_t *buf, size_t len,
			       uint32_t index_interval, char *errstr, size_t errstr_size);

/* Reads the batch header at byte position pos. _PARTITION_EOF at the end
 * of the segment, _CORRUPT when the header does not parse. */
brook_err_t log_segment_header_at(log_segment_t *seg, uint64_t pos, record_batch_header_t *h,
				  char *errstr, size_t errstr_size);

/* Position of the first batch whose last offset >= offset, and its header.
 * _PARTITION_EOF when no such batch is in this segment. */
brook_err_t log_segment_find(log_segment_t *seg, int64_t offset, uint64_t *pos,
			     record_batch_header_t *h, char *errstr, size_t errstr_size);

/* Starting with the batch at pos (header h), extends over whole batches up
 * to max_bytes (the first batch always counts, so a consumer can progress
 * past a batch larger than its buffer) whose last offset < upper_offset.
 * Returns the byte length (0 when the first batch is above upper_offset). */
brook_err_t log_segment_extent(log_segment_t *seg, uint64_t pos, const record_batch_header_t *h,
			       size_t max_bytes, int64_t upper_offset, size_t *len,
			       char *errstr, size_t errstr_size);

/* Removes every batch whose last offset >= offset (so a batch holding
 * offset goes whole) and drops their index entries. */
brook_err_t log_segment_truncate_to(log_segment_t *seg, int64_t offset, uint32_t index_interval,
				    char *errstr, size_t errstr_size);

/* fdatasync the data; with write_index also write and sync the indexes
 * (a rolled segment, which recovery will trust from then on). */
brook_err_t log_segment_flush(log_segment_t *seg, int write_index, char *errstr, size_t errstr_size);

/* Writes the index files without syncing anything (clean close, roll). */
brook_err_t log_segment_write_index(log_segment_t *seg, int sync, char *errstr, size_t errstr_size);

/* Unlinks the files; the fd stays open for readers still holding a ref. */
void log_segment_unlink(log_segment_t *seg);

void log_segment_ref(log_segment_t *seg);
/* Drops a reference; frees the segment (closing its fd) at zero. NULL ok. */
void log_segment_unref(log_segment_t *seg);

#endif /* BROOK_LOG_SEGMENT_H */
