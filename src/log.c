/* log.c - a partition log: segments, append, read, retention, recovery. */
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "log_file.h"

void log_config_default(log_config_t *cfg)
{
	cfg->segment_bytes = 1ull << 30;
	cfg->roll_ms = 7LL * 24 * 3600 * 1000;
	cfg->retention_bytes = -1;
	cfg->retention_ms = 7LL * 24 * 3600 * 1000;
	cfg->index_interval_bytes = 4096;
	cfg->flush_interval_messages = INT64_MAX;
	cfg->flush_interval_ms = INT64_MAX;
}

void log_set_config(log_t *log, const log_config_t *cfg)
{
	/* Every use of cfg reads log->cfg at the time (should_roll, the
	 * retention and flush checks, segment appends), so a copy is all a
	 * change needs. */
	log->cfg = *cfg;
}

uint64_t log_size_bytes(const log_t *log)
{
	uint64_t total = 0;

	for (size_t i = 0; i < log->nsegs; i++)
		total += log->segs[i]->size;
	return total;
}

static log_segment_t *active(const log_t *log)
{
	return log->segs[log->nsegs - 1];
}

static brook_err_t push_segment(log_t *log, log_segment_t *seg)
{
	if (log->nsegs == log->segs_cap) {
		size_t ncap = log->segs_cap ? log->segs_cap * 2 : 8;
		log_segment_t **n = realloc(log->segs, ncap * sizeof(*n));
		if (!n)
			return BROOK_ERR__NOMEM;
		log->segs = n;
		log->segs_cap = ncap;
	}
	log->segs[log->nsegs++] = seg;
	return BROOK_ERR_NO_ERROR;
}

/* Unlinks and forgets segment i; readers holding a ref keep the fd. */
static void drop_segment(log_t *log, size_t i)
{
	log_segment_unlink(log->segs[i]);
	log_segment_unref(log->segs[i]);
	memmove(&log->segs[i], &log->segs[i + 1], (log->nsegs - i - 1) * sizeof(*log->segs));
	log->nsegs--;
}

void log_free(log_t *log)
{
	if (!log)
		return;
	for (size_t i = 0; i < log->nsegs; i++)
		log_segment_unref(log->segs[i]);
	free(log->segs);
	free(log->dir);
	free(log);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* "00000000000000001234.log" -> 1234; only exactly 20 digits count. */
static int parse_segment_name(const char *name, const char *ext, int64_t *base)
{
	size_t elen = strlen(ext);
	int64_t v = 0;

	if (strlen(name) != 20 + elen || strcmp(name + 20, ext) != 0)
		return 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		if (v > (INT64_MAX - (name[i] - '0')) / 10)
			return 0;
		v = v * 10 + (name[i] - '0');
	}
	*base = v;
	return 1;
}

/* Lists the base offsets of the .log files in dir, sorted. Index files
 * without a segment are removed: they index nothing. */
static brook_err_t list_segments(const char *dir, int64_t **bases, size_t *n,
				 char *errstr, size_t errstr_size)
{
	size_t cap = 16, count = 0;
	int64_t *arr = malloc(cap * sizeof(*arr));
	struct dirent *de;
	DIR *d;

	if (!arr)
		return BROOK_ERR__NOMEM;
	d = opendir(dir);
	if (!d) {
		int e = errno;
		free(arr);
		log_file_err(errstr, errstr_size, dir, "cannot read log folder: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	while ((de = readdir(d))) {
		int64_t base;

		if (parse_segment_name(de->d_name, ".log", &base)) {
			if (count == cap) {
				int64_t *na = realloc(arr, cap * 2 * sizeof(*arr));
				if (!na) {
					closedir(d);
					free(arr);
					return BROOK_ERR__NOMEM;
				}
				arr = na;
				cap *= 2;
			}
			arr[count++] = base;
		} else if (parse_segment_name(de->d_name, ".index", &base) ||
			   parse_segment_name(de->d_name, ".timeindex", &base)) {
			char path[4096];
			struct stat st;

			snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", dir, base);
			if (stat(path, &st) != 0 && errno == ENOENT) {
				snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
				unlink(path);
			}
		}
	}
	closedir(d);
	qsort(arr, count, sizeof(*arr), cmp_i64);
	*bases = arr;
	*n = count;
	return BROOK_ERR_NO_ERROR;
}

static void note_repair(log_open_report_t *rep, const char *path, const char *why)
{
	if (rep->reason[0] == '\0')
		snprintf(rep->reason, sizeof(rep->reason), "%s: %s", path, why);
}

brook_err_t log_open(const char *dir, const log_config_t *cfg, int64_t recovery_point,
		     int clean_shutdown, int64_t now_ms, log_t **out, log_open_report_t *report,
		     char *errstr, size_t errstr_size)
{
	log_open_report_t dummy;
	log_open_report_t *rep = report ? report : &dummy;
	int64_t *bases = NULL;
	size_t nbases = 0, first_recover = 0;
	brook_err_t err;
	int cut = 0;
	log_t *log;

	memset(rep, 0, sizeof(*rep));
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		int e = errno;
		log_file_err(errstr, errstr_size, dir, "cannot create log folder: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	log = calloc(1, sizeof(*log));
	if (!log || !(log->dir = strdup(dir))) {
		free(log);
		return BROOK_ERR__NOMEM;
	}
	log->cfg = *cfg;
	log->last_flush_ms = now_ms;
	err = list_segments(dir, &bases, &nbases, errstr, errstr_size);
	if (err)
		goto fail;

	/* Recovery starts at the segment holding the recovery point: every
	 * byte before it was flushed, every byte after may be torn. */
	for (size_t i = 0; i < nbases; i++)
		if (bases[i] <= recovery_point)
			first_recover = i;

	for (size_t i = 0; i < nbases; i++) {
		int64_t min_offset = log->nsegs ? active(log)->next_offset : 0;
		log_segment_recovery_t rec;
		log_segment_t *seg;
		int rebuilt = 0;

		if (cut) {
			/* Everything after the first invalid byte is the invalid
			 * tail that recovery is defined to cut. */
			char path[4096];

			log_segment_name(path, sizeof(path), dir, bases[i]);
			strncat(path, ".log", sizeof(path) - strlen(path) - 1);
			unlink(path);
			path[strlen(path) - 4] = '\0';
			log_index_unlink(path);
			rep->deleted_segments++;
			continue;
		}
		err = log_segment_open(dir, bases[i], &seg, errstr, errstr_size);
		if (err)
			goto fail;
		if (log->nsegs && bases[i] < min_offset) {
			log_file_err(errstr, errstr_size, seg->log_path,
				     "segment starts at offset %" PRId64 " inside the previous segment"
				     " (which ends at %" PRId64 ")", bases[i], min_offset);
			log_segment_unref(seg);
			err = BROOK_ERR__NOT_OURS;
			goto fail;
		}
		if (clean_shutdown || i < first_recover) {
			err = log_segment_load(seg, min_offset, cfg->index_interval_bytes, &rebuilt, &rec,
					       errstr, errstr_size);
			if (rebuilt) {
				rep->rebuilt_indexes++;
				note_repair(rep, seg->path, "index missing or damaged, rebuilt");
			}
		} else {
			err = log_segment_recover(seg, min_offset, cfg->index_interval_bytes, &rec,
						  errstr, errstr_size);
			rebuilt = 1;
		}
		if (err) {
			log_segment_unref(seg);
			goto fail;
		}
		if (rebuilt) {
			rep->recovered_segments++;
			rep->scanned_bytes += rec.valid_bytes;
			if (rec.truncated_bytes) {
				rep->truncated_bytes += rec.truncated_bytes;
				note_repair(rep, seg->log_path, rec.reason);
				cut = 1;
			}
		}
		err = push_segment(log, seg);
		if (err) {
			log_segment_unref(seg);
			goto fail;
		}
	}
	if (log->nsegs == 0) {
		log_segment_t *seg;

		err = log_segment_create(dir, 0, &seg, errstr, errstr_size);
		if (err)
			goto fail;
		err = push_segment(log, seg);
		if (err) {
			log_segment_unref(seg);
			goto fail;
		}
	}
	rep->segments = (int)log->nsegs;
	log->log_start_offset = log->segs[0]->base_offset;
	log->recovery_point = recovery_point < log_end_offset(log) ? recovery_point : log_end_offset(log);
	if (log->recovery_point < log->log_start_offset)
		log->recovery_point = log->log_start_offset;
	free(bases);
	*out = log;
	return BROOK_ERR_NO_ERROR;
fail:
	free(bases);
	log_free(log);
	return err;
}

brook_err_t log_close(log_t *log, char *errstr, size_t errstr_size)
{
	brook_err_t err = BROOK_ERR_NO_ERROR;

	for (size_t i = 0; i < log->nsegs && !err; i++)
		err = log_segment_flush(log->segs[i], 1, errstr, errstr_size);
	log_free(log);
	return err;
}

/* fdatasync the rolled segments still unflushed. Called at the next roll,
 * by when the writeback started at their own roll has usually finished, so
 * this rarely waits; it is what lets the recovery point advance without a
 * flush policy, as Kafka's background flush after a roll does. */
static brook_err_t flush_rolled(log_t *log, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i + 1 < log->nsegs; i++) {
		brook_err_t err;

		if (!log->segs[i]->unflushed)
			continue;
		err = log_segment_flush(log->segs[i], 1, errstr, errstr_size);
		if (err)
			return err;
	}
	if (log->recovery_point < active(log)->base_offset)
		log->recovery_point = active(log)->base_offset;
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t roll_at(log_t *log, int64_t base, char *errstr, size_t errstr_size)
{
	log_segment_t *old = active(log), *seg;
	brook_err_t err;

	if (old->size == 0)
		return BROOK_ERR_NO_ERROR;
	err = flush_rolled(log, errstr, errstr_size);
	if (err)
		return err;
	/* Start writeback of the segment we leave without waiting for it;
	 * the next roll (or a flush) makes it durable. */
	err = log_segment_write_index(old, 0, errstr, errstr_size);
	if (err)
		return err;
	sync_file_range(old->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	err = log_segment_create(log->dir, base, &seg, errstr, errstr_size);
	if (err)
		return err;
	err = push_segment(log, seg);
	if (err) {
		log_segment_unlink(seg);
		log_segment_unref(seg);
		return err;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_roll(log_t *log, char *errstr, size_t errstr_size)
{
	return roll_at(log, log_end_offset(log), errstr, errstr_size);
}

static int should_roll(const log_t *log, size_t len, int64_t last_offset, int64_t now_ms)
{
	const log_segment_t *seg = active(log);

	if (seg->size == 0)
		return 0;
	return seg->size + len > log->cfg.segment_bytes ||
	       (seg->first_batch_time >= 0 && now_ms - seg->first_batch_time >= log->cfg.roll_ms) ||
	       last_offset - seg->base_offset > (int64_t)UINT32_MAX ||
	       seg->size + len > UINT32_MAX;
}

/* Decodes every record of one batch so a count that disagrees with the
 * bytes, or compressed flags on bytes that do not inflate, never reach the
 * log: consumers would fail on them forever. */
static brook_err_t validate_records(const uint8_t *batch, size_t size, size_t max_inflated)
{
	record_batch_reader_t r;
	record_t rec;
	brook_err_t err;

	err = record_batch_reader_init(&r, batch, size, max_inflated);
	if (err)
		return err;
	while ((err = record_batch_reader_next(&r, &rec)) == BROOK_ERR_NO_ERROR)
		;
	record_batch_reader_destroy(&r);
	return err == BROOK_ERR__PARTITION_EOF ? BROOK_ERR_NO_ERROR : err;
}

/* Walks and verifies every batch of an append before a byte is written. */
static brook_err_t validate_batches(log_t *log, uint8_t *buf, size_t len,
				    const log_append_opts_t *opts, log_append_info_t *info,
				    char *errstr, size_t errstr_size)
{
	int64_t next = log_end_offset(log);
	size_t off = 0;

	memset(info, 0, sizeof(*info));
	info->first_offset = -1;
	info->max_timestamp = -1;
	if (len == 0) {
		snprintf(errstr, errstr_size, "%s: empty record set", log->dir);
		return BROOK_ERR_INVALID_RECORD;
	}
	if (len > INT32_MAX) {
		snprintf(errstr, errstr_size, "%s: record set of %zu bytes", log->dir, len);
		return BROOK_ERR_RECORD_LIST_TOO_LARGE;
	}
	while (off < len) {
		record_batch_header_t h;
		brook_err_t err;
		size_t size;

		err = record_batch_header_parse(buf + off, len - off, &h);
		if (err || record_batch_size(&h) > len - off) {
			snprintf(errstr, errstr_size, "%s: batch %d at byte %zu is truncated or malformed",
				 log->dir, info->batches, off);
			return BROOK_ERR_CORRUPT_MESSAGE;
		}
		size = record_batch_size(&h);
		err = record_batch_verify(buf + off, size, &h);
		if (err) {
			snprintf(errstr, errstr_size, "%s: batch %d at byte %zu: %s", log->dir,
				 info->batches, off, brook_err_str(err));
			return err == BROOK_ERR_UNSUPPORTED_COMPRESSION_TYPE ? err
									   : BROOK_ERR_CORRUPT_MESSAGE;
		}
		if (size > log->cfg.segment_bytes) {
			snprintf(errstr, errstr_size, "%s: batch of %zu bytes exceeds log.segment.bytes",
				 log->dir, size);
			return BROOK_ERR_RECORD_LIST_TOO_LARGE;
		}
		if (opts->assign_offsets) {
			if (h.record_count <= 0 || h.last_offset_delta != h.record_count - 1) {
				snprintf(errstr, errstr_size,
					 "%s: batch %d has %d records but lastOffsetDelta %d",
					 log->dir, info->batches, h.record_count, h.last_offset_delta);
				return BROOK_ERR_INVALID_RECORD;
			}
			if (opts->max_inflated &&
			    (err = validate_records(buf + off, size, opts->max_inflated))) {
				snprintf(errstr, errstr_size,
					 "%s: batch %d at byte %zu: records do not decode: %s",
					 log->dir, info->batches, off, brook_err_str(err));
				return err == BROOK_ERR__NOMEM ? err : BROOK_ERR_CORRUPT_MESSAGE;
			}
			record_batch_set_base_offset(buf + off, next);
			record_batch_set_leader_epoch(buf + off, opts->leader_epoch);
			h.base_offset = next;
		} else if (h.base_offset < next) {
			snprintf(errstr, errstr_size,
				 "%s: batch offset %" PRId64 " is below the log end %" PRId64,
				 log->dir, h.base_offset, next);
			return BROOK_ERR_INVALID_RECORD;
		}
		if (info->first_offset < 0)
			info->first_offset = h.base_offset;
		next = record_batch_last_offset(&h) + 1;
		info->last_offset = next - 1;
		info->batches++;
		info->records += h.record_count;
		if (h.max_timestamp > info->max_timestamp)
			info->max_timestamp = h.max_timestamp;
		off += size;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_append(log_t *log, uint8_t *buf, size_t len, const log_append_opts_t *opts,
		       log_append_info_t *info, char *errstr, size_t errstr_size)
{
	brook_err_t err;

	err = validate_batches(log, buf, len, opts, info, errstr, errstr_size);
	if (err)
		return err;
	if (should_roll(log, len, info->last_offset, opts->now_ms) ||
	    (info->first_offset > log_end_offset(log) && active(log)->size > 0 &&
	     info->last_offset - active(log)->base_offset > (int64_t)UINT32_MAX)) {
		/* a follower's batches may start past the log end; the new
		 * segment starts where they do */
		err = roll_at(log, info->first_offset, errstr, errstr_size);
		if (err)
			return err;
	}
	err = log_segment_append(active(log), buf, len, log->cfg.index_interval_bytes,
				 errstr, errstr_size);
	if (err)
		return err;
	log->unflushed_messages += info->records;
	return log_maybe_flush(log, opts->now_ms, errstr, errstr_size);
}

brook_err_t log_flush(log_t *log, int64_t now_ms, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < log->nsegs; i++) {
		log_segment_t *seg = log->segs[i];
		brook_err_t err;

		if (!seg->unflushed)
			continue;
		/* The active segment's index is rebuilt by recovery anyway, so
		 * only its data needs to reach the disk. */
		err = log_segment_flush(seg, i + 1 < log->nsegs, errstr, errstr_size);
		if (err)
			return err;
	}
	log->recovery_point = log_end_offset(log);
	log->unflushed_messages = 0;
	log->last_flush_ms = now_ms;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_maybe_flush(log_t *log, int64_t now_ms, char *errstr, size_t errstr_size)
{
	if (log->unflushed_messages == 0)
		return BROOK_ERR_NO_ERROR;
	if (log->unflushed_messages >= log->cfg.flush_interval_messages ||
	    (log->cfg.flush_interval_ms != INT64_MAX &&
	     now_ms - log->last_flush_ms >= log->cfg.flush_interval_ms))
		return log_flush(log, now_ms, errstr, errstr_size);
	return BROOK_ERR_NO_ERROR;
}

/* Index of the last segment whose base offset <= offset. */
static size_t segment_for(const log_t *log, int64_t offset)
{
	size_t lo = 0, hi = log->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (log->segs[mid]->base_offset <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

brook_err_t log_read(log_t *log, int64_t offset, size_t max_bytes, int64_t upper_offset,
		     log_read_result_t *out, char *errstr, size_t errstr_size)
{
	int64_t end = log_end_offset(log);

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->first_offset = offset;
	if (offset < log->log_start_offset || offset > end) {
		snprintf(errstr, errstr_size,
			 "%s: offset %" PRId64 " outside [%" PRId64 ", %" PRId64 "]",
			 log->dir, offset, log->log_start_offset, end);
		return BROOK_ERR_OFFSET_OUT_OF_RANGE;
	}
	if (offset == end || offset >= upper_offset)
		return BROOK_ERR_NO_ERROR;
	for (size_t i = segment_for(log, offset); i < log->nsegs; i++) {
		log_segment_t *seg = log->segs[i];
		record_batch_header_t h;
		uint64_t pos;
		size_t len;
		brook_err_t err;

		err = log_segment_find(seg, offset, &pos, &h, errstr, errstr_size);
		if (err == BROOK_ERR__PARTITION_EOF)
			continue; /* offset falls in a gap after this segment */
		if (err)
			return err;
		err = log_segment_extent(seg, pos, &h, max_bytes, upper_offset, &len,
					 errstr, errstr_size);
		if (err || len == 0)
			return err;
		log_segment_ref(seg);
		out->seg = seg;
		out->fd = seg->fd;
		out->position = pos;
		out->length = len;
		out->first_offset = h.base_offset;
		return BROOK_ERR_NO_ERROR;
	}
	return BROOK_ERR_NO_ERROR;
}

void log_read_release(log_read_result_t *r)
{
	if (!r)
		return;
	log_segment_unref(r->seg);
	r->seg = NULL;
	r->fd = -1;
}

/* First record with timestamp >= ts in the batch at pos. */
static brook_err_t first_record_at_time(log_segment_t *seg, uint64_t pos,
					const record_batch_header_t *h, int64_t ts,
					int64_t *offset, int64_t *found_ts, char *errstr,
					size_t errstr_size)
{
	size_t size = record_batch_size(h), got;
	record_batch_reader_t rd;
	uint8_t *buf = malloc(size);
	brook_err_t err;
	record_t rec;

	if (!buf)
		return BROOK_ERR__NOMEM;
	err = log_file_pread(seg->fd, buf, size, pos, &got, seg->log_path, errstr, errstr_size);
	if (!err && got != size)
		err = BROOK_ERR__CORRUPT;
	if (!err)
		err = record_batch_reader_init(&rd, buf, size, 1u << 30);
	if (err) {
		free(buf);
		log_file_err(errstr, errstr_size, seg->log_path,
			     "cannot decode batch at position %" PRIu64, pos);
		return err == BROOK_ERR__NOMEM ? err : BROOK_ERR__CORRUPT;
	}
	/* the header's maxTimestamp said some record qualifies */
	*offset = record_batch_last_offset(h);
	*found_ts = h->max_timestamp;
	while ((err = record_batch_reader_next(&rd, &rec)) == BROOK_ERR_NO_ERROR) {
		if (rec.timestamp >= ts) {
			*offset = rec.offset;
			*found_ts = rec.timestamp;
			break;
		}
	}
	record_batch_reader_destroy(&rd);
	free(buf);
	return err == BROOK_ERR_NO_ERROR || err == BROOK_ERR__PARTITION_EOF ? BROOK_ERR_NO_ERROR
									     : BROOK_ERR__CORRUPT;
}

brook_err_t log_offset_for_time(log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts,
				char *errstr, size_t errstr_size)
{
	*offset = -1;
	*found_ts = -1;
	for (size_t i = 0; i < log->nsegs; i++) {
		log_segment_t *seg = log->segs[i];
		record_batch_header_t h;
		int64_t from;
		uint64_t pos;
		brook_err_t err;

		if (seg->max_timestamp < ts)
			continue;
		from = log_index_lookup_time(&seg->idx, ts);
		pos = from < 0 ? 0 : log_index_lookup(&seg->idx, from, NULL);
		for (;;) {
			err = log_segment_header_at(seg, pos, &h, errstr, errstr_size);
			if (err == BROOK_ERR__PARTITION_EOF)
				break;
			if (err)
				return err;
			if (h.max_timestamp >= ts)
				return first_record_at_time(seg, pos, &h, ts, offset, found_ts, errstr,
							    errstr_size);
			pos += record_batch_size(&h);
		}
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_truncate_fully(log_t *log, int64_t start_offset, char *errstr, size_t errstr_size)
{
	log_segment_t *seg;
	brook_err_t err;

	while (log->nsegs > 0)
		drop_segment(log, log->nsegs - 1);
	err = log_segment_create(log->dir, start_offset, &seg, errstr, errstr_size);
	if (!err)
		err = push_segment(log, seg);
	if (err)
		return err; /* the log is unusable; the caller takes the partition offline */
	log->log_start_offset = start_offset;
	log->recovery_point = start_offset;
	log->unflushed_messages = 0;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_truncate_to(log_t *log, int64_t offset, char *errstr, size_t errstr_size)
{
	brook_err_t err;

	if (offset >= log_end_offset(log))
		return BROOK_ERR_NO_ERROR;
	if (offset < log->log_start_offset)
		return log_truncate_fully(log, offset, errstr, errstr_size);
	/* As Kafka: a segment starting exactly at the cut stays, emptied, so
	 * the next append keeps its base offset. */
	while (log->nsegs > 1 && active(log)->base_offset > offset)
		drop_segment(log, log->nsegs - 1);
	err = log_segment_truncate_to(active(log), offset, log->cfg.index_interval_bytes,
				      errstr, errstr_size);
	if (err)
		return err;
	if (log->recovery_point > log_end_offset(log))
		log->recovery_point = log_end_offset(log);
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_apply_retention(log_t *log, int64_t now_ms, int64_t upper_offset, int *deleted,
				char *errstr, size_t errstr_size)
{
	uint64_t total = log_size_bytes(log);
	brook_err_t err;

	*deleted = 0;
	for (;;) {
		log_segment_t *seg = log->segs[0];
		int by_size = log->cfg.retention_bytes >= 0 &&
			      total - seg->size >= (uint64_t)log->cfg.retention_bytes;
		int by_time = log->cfg.retention_ms >= 0 && seg->max_timestamp >= 0 &&
			      now_ms - seg->max_timestamp > log->cfg.retention_ms;

		if (seg->size == 0 || (!by_size && !by_time) || seg->next_offset > upper_offset)
			break;
		if (log->nsegs == 1) {
			/* Only an expired active segment goes, through a roll;
			 * the log never shrinks below retention.bytes by it. */
			if (!by_time)
				break;
			err = log_roll(log, errstr, errstr_size);
			if (err)
				return err;
		}
		total -= seg->size;
		drop_segment(log, 0);
		(*deleted)++;
	}
	log->log_start_offset = log->segs[0]->base_offset;
	if (log->recovery_point < log->log_start_offset)
		log->recovery_point = log->log_start_offset;
	return BROOK_ERR_NO_ERROR;
}
