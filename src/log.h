/*
 * log.h - one partition's log: a folder of segments named by base offset.
 *
 * Append validates and stamps batches (offsets, leader epoch) and writes
 * them to the active segment, rolling by size, age or offset range.
 * Reads return (segment, position, length) for sendfile(2). Retention
 * deletes whole segments by size and age. Recovery after an unclean stop
 * scans from the recovery point, verifies every CRC and cuts the invalid
 * tail (and any segment after it), so the log is exactly its valid prefix.
 *
 * Flush policy (DESIGN.md): log.flush.interval.messages and
 * log.flush.interval.ms; by default both are unlimited and durability comes
 * from replication and the OS, as in Kafka. Every flush advances the
 * recovery point, which the log dir checkpoints.
 *
 * Ownership: the log owns its segments; log_read() hands out a segment
 * reference that the caller drops with log_read_release(). Not thread-safe.
 */
#ifndef BROOK_LOG_H
#define BROOK_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "log_segment.h"

typedef struct log_config {
	uint64_t segment_bytes;          /* log.segment.bytes */
	int64_t roll_ms;                 /* log.roll.ms */
	int64_t retention_bytes;         /* log.retention.bytes, -1 = unlimited */
	int64_t retention_ms;            /* log.retention.ms, -1 = unlimited */
	uint32_t index_interval_bytes;   /* log.index.interval.bytes */
	int64_t flush_interval_messages; /* log.flush.interval.messages */
	int64_t flush_interval_ms;       /* log.flush.interval.ms */
} log_config_t;

/* Kafka's defaults: 1 GiB segments, 7-day roll and retention, no size
 * retention, an index entry every 4 KiB, flushing left to the OS. */
void log_config_default(log_config_t *cfg);

typedef struct log {
	char *dir;
	log_config_t cfg;
	log_segment_t **segs;   /* sorted by base offset; the last is active */
	size_t nsegs, segs_cap;
	int64_t log_start_offset;
	int64_t recovery_point; /* everything below is known to be on disk */
	int64_t unflushed_messages;
	int64_t last_flush_ms;
} log_t;

/* What log_open found and repaired, for the broker's log lines. */
typedef struct log_open_report {
	int segments;
	int recovered_segments;   /* scanned with CRC checks */
	int rebuilt_indexes;      /* index files missing or damaged */
	int deleted_segments;     /* after a corrupt one */
	uint64_t truncated_bytes;
	uint64_t scanned_bytes;
	char reason[512];         /* first repair, "path: why" */
} log_open_report_t;

/* Opens (creating if needed) the log in dir. Segments at or after the one
 * holding recovery_point are recovered; when clean_shutdown is set the
 * indexes are trusted instead (and still checked). Fails with a message
 * naming the file on anything it cannot repair without losing valid data:
 * a segment that is not ours, an unreadable folder. */
brook_err_t log_open(const char *dir, const log_config_t *cfg, int64_t recovery_point,
		     int clean_shutdown, int64_t now_ms, log_t **out, log_open_report_t *report,
		     char *errstr, size_t errstr_size);

/* Flushes everything and writes the indexes, then frees the log. The
 * caller checkpoints log_end_offset() as the recovery point. */
brook_err_t log_close(log_t *log, char *errstr, size_t errstr_size);

/* Frees without flushing (as a crash would leave the files). NULL ok. */
void log_free(log_t *log);

typedef struct log_append_opts {
	int assign_offsets;   /* leader: stamp offsets; follower: keep them */
	int32_t leader_epoch; /* stamped into every batch when assign_offsets */
	int64_t now_ms;
	/* leader appends of client data walk every record too (a count that
	 * lies, a codec flag on plain bytes); decompression stops here */
	size_t max_inflated;
} log_append_opts_t;

typedef struct log_append_info {
	int64_t first_offset;
	int64_t last_offset;
	int32_t batches;
	int32_t records;
	int64_t max_timestamp;
} log_append_info_t;

/* Appends buf[0..len): one or more whole RecordBatch v2 batches. Every
 * batch is verified (header, CRC, codec) before anything is written; one
 * bad batch rejects the whole append (CORRUPT_MESSAGE, INVALID_RECORD,
 * UNSUPPORTED_COMPRESSION_TYPE). With assign_offsets the batches get
 * consecutive offsets from the log end (buf is modified in place); without
 * it their offsets must start at or after the log end. Disk errors
 * (_NO_SPACE, _IO) leave the log as it was. */
brook_err_t log_append(log_t *log, uint8_t *buf, size_t len, const log_append_opts_t *opts,
		       log_append_info_t *info, char *errstr, size_t errstr_size);

typedef struct log_read_result {
	log_segment_t *seg;   /* referenced; NULL when nothing to send */
	int fd;
	uint64_t position;
	size_t length;
	int64_t first_offset; /* base offset of the first batch sent */
} log_read_result_t;

/* Whole batches starting with the one holding `offset`, at most max_bytes
 * (but at least one batch), none reaching upper_offset (the high watermark
 * for consumers, INT64_MAX for followers). OFFSET_OUT_OF_RANGE below the log
 * start or above the log end; reading exactly at the end (or at the upper
 * bound) returns length 0. */
brook_err_t log_read(log_t *log, int64_t offset, size_t max_bytes, int64_t upper_offset,
		     log_read_result_t *out, char *errstr, size_t errstr_size);
void log_read_release(log_read_result_t *r);

/* The offset of the first record with timestamp >= ts (ListOffsets by
 * time) and that record's own timestamp (Kafka answers with it), or -1 and
 * -1 when every record is older. */
brook_err_t log_offset_for_time(log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts,
				char *errstr, size_t errstr_size);

/* Removes every batch holding an offset >= offset (whole batches, so the
 * log may end a little below offset); used by replication. */
brook_err_t log_truncate_to(log_t *log, int64_t offset, char *errstr, size_t errstr_size);

/* Deletes the whole log content and restarts it empty at start_offset
 * (a follower far behind a leader whose log start moved past it). */
brook_err_t log_truncate_fully(log_t *log, int64_t start_offset, char *errstr, size_t errstr_size);

/* Starts a new segment at the log end (no-op when the active one is empty). */
brook_err_t log_roll(log_t *log, char *errstr, size_t errstr_size);

/* Deletes whole segments from the start while log.retention.bytes or
 * log.retention.ms says so, never past upper_offset (the high watermark)
 * and never the last segment (an expired active segment is rolled first).
 * *deleted gets the count. */
brook_err_t log_apply_retention(log_t *log, int64_t now_ms, int64_t upper_offset, int *deleted,
				char *errstr, size_t errstr_size);

/* Replaces the log's settings (a topic's overrides over the broker's
 * defaults, changed at run time). Nothing is rewritten: each setting takes
 * effect where the log next consults it: segment.bytes and roll.ms at the
 * next append's roll check, retention at the next log_apply_retention(),
 * the flush policy at the next append or log_maybe_flush(), the index
 * interval for bytes appended from now on. cfg is copied. */
void log_set_config(log_t *log, const log_config_t *cfg);

/* Flushes when the flush policy says so (messages or time). */
brook_err_t log_maybe_flush(log_t *log, int64_t now_ms, char *errstr, size_t errstr_size);
/* fdatasync every unflushed segment and advance the recovery point. */
brook_err_t log_flush(log_t *log, int64_t now_ms, char *errstr, size_t errstr_size);

static inline int64_t log_end_offset(const log_t *log)
{
	return log->segs[log->nsegs - 1]->next_offset;
}

uint64_t log_size_bytes(const log_t *log);

#endif /* BROOK_LOG_H */
