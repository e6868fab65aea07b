/* log_segment.c - one segment file: append, scan, recover, truncate. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log_file.h"
#include "log_segment.h"

/* Recovery reads the file in chunks this large; batches larger than a chunk
 * grow the buffer to fit them. */
#define SCAN_CHUNK (8u << 20)

int log_segment_name(char *buf, size_t size, const char *dir, int64_t base_offset)
{
	int n = snprintf(buf, size, "%s/%020" PRId64, dir, base_offset);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static brook_err_t segment_alloc(const char *dir, int64_t base_offset, int flags,
				 log_segment_t **out, char *errstr, size_t errstr_size)
{
	log_segment_t *seg = calloc(1, sizeof(*seg));
	char path[4096];
	struct stat st;

	if (!seg)
		return BROOK_ERR__NOMEM;
	seg->fd = -1;
	if (log_segment_name(path, sizeof(path), dir, base_offset) != 0 ||
	    !(seg->path = strdup(path)) ||
	    asprintf(&seg->log_path, "%s.log", path) < 0) {
		seg->log_path = NULL;
		log_segment_unref(seg);
		return BROOK_ERR__NOMEM;
	}
	seg->refcnt = 1;
	seg->base_offset = base_offset;
	seg->next_offset = base_offset;
	seg->max_timestamp = -1;
	seg->last_batch_offset = -1;
	seg->first_batch_time = -1;
	log_index_init(&seg->idx, base_offset);
	seg->fd = open(seg->log_path, flags | O_RDWR | O_CLOEXEC, 0644);
	if (seg->fd < 0 || fstat(seg->fd, &st) != 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, seg->log_path, "cannot %s segment: %s",
			     (flags & O_CREAT) ? "create" : "open", strerror(e));
		log_segment_unref(seg);
		return brook_err_from_errno(e);
	}
	seg->size = (uint64_t)st.st_size;
	*out = seg;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_segment_create(const char *dir, int64_t base_offset, log_segment_t **out,
			       char *errstr, size_t errstr_size)
{
	char path[4096];

	/* A leftover index of an earlier segment with this base would be
	 * loaded as ours later; a new segment starts with none. */
	if (log_segment_name(path, sizeof(path), dir, base_offset) == 0)
		log_index_unlink(path);
	return segment_alloc(dir, base_offset, O_CREAT | O_EXCL, out, errstr, errstr_size);
}

brook_err_t log_segment_open(const char *dir, int64_t base_offset, log_segment_t **out,
			     char *errstr, size_t errstr_size)
{
	return segment_alloc(dir, base_offset, 0, out, errstr, errstr_size);
}

void log_segment_ref(log_segment_t *seg)
{
	seg->refcnt++;
}

void log_segment_unref(log_segment_t *seg)
{
	if (!seg || --seg->refcnt > 0)
		return;
	if (seg->fd >= 0)
		close(seg->fd);
	log_index_destroy(&seg->idx);
	free(seg->path);
	free(seg->log_path);
	free(seg);
}

/* Bookkeeping for one batch at pos, shared by append, recovery and load so
 * the three build identical indexes. */
static brook_err_t account_batch(log_segment_t *seg, const record_batch_header_t *h,
				 uint64_t pos, uint32_t index_interval)
{
	brook_err_t err;

	if (pos > 0 && seg->bytes_since_index >= index_interval) {
		err = log_index_add_offset(&seg->idx, h->base_offset, (uint32_t)pos);
		if (err)
			return err;
		if (seg->last_batch_offset >= 0 && seg->max_timestamp >= 0) {
			err = log_index_add_time(&seg->idx, seg->max_timestamp, seg->last_batch_offset);
			if (err)
				return err;
		}
		seg->bytes_since_index = 0;
	}
	if (pos == 0)
		seg->first_batch_time = h->max_timestamp;
	if (h->max_timestamp > seg->max_timestamp)
		seg->max_timestamp = h->max_timestamp;
	seg->last_batch_offset = h->base_offset;
	seg->next_offset = record_batch_last_offset(h) + 1;
	seg->bytes_since_index += record_batch_size(h);
	return BROOK_ERR_NO_ERROR;
}

static void reset_stats(log_segment_t *seg)
{
	log_index_clear(&seg->idx);
	seg->next_offset = seg->base_offset;
	seg->max_timestamp = -1;
	seg->last_batch_offset = -1;
	seg->first_batch_time = -1;
	seg->bytes_since_index = 0;
}

/* A batch must stay addressable by the 32-bit relative offsets and
 * positions of the index. */
static int batch_fits(const log_segment_t *seg, const record_batch_header_t *h, uint64_t pos)
{
	return h->base_offset >= seg->base_offset &&
	       record_batch_last_offset(h) - seg->base_offset <= (int64_t)UINT32_MAX &&
	       pos + record_batch_size(h) <= UINT32_MAX;
}

brook_err_t log_segment_recover(log_segment_t *seg, int64_t min_offset, uint32_t index_interval,
				log_segment_recovery_t *rec, char *errstr, size_t errstr_size)
{
	size_t cap = SCAN_CHUNK, have = 0;
	uint64_t pos = 0, win = 0; /* buffer holds file bytes [win, win + have) */
	uint8_t *buf;
	struct stat st;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	memset(rec, 0, sizeof(*rec));
	if (fstat(seg->fd, &st) != 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, seg->log_path, "stat failed: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	seg->size = (uint64_t)st.st_size;
	reset_stats(seg);
	if (seg->size == 0)
		return BROOK_ERR_NO_ERROR;
	buf = malloc(cap);
	if (!buf)
		return BROOK_ERR__NOMEM;
	posix_fadvise(seg->fd, 0, 0, POSIX_FADV_SEQUENTIAL);

	while (pos < seg->size) {
		record_batch_header_t h;
		size_t need = RECORD_BATCH_HEADER_SIZE, bsize;

		if (seg->size - pos < need) {
			snprintf(rec->reason, sizeof(rec->reason),
				 "torn batch header at position %" PRIu64, pos);
			break;
		}
		for (int pass = 0; pass < 2; pass++) {
			/* make [pos, pos + need) resident, refilling at pos */
			if (pos < win || pos + need > win + have) {
				if (need > cap) {
					uint8_t *nb = realloc(buf, need);
					if (!nb) {
						err = BROOK_ERR__NOMEM;
						goto out;
					}
					buf = nb;
					cap = need;
				}
				win = pos;
				err = log_file_pread(seg->fd, buf, cap, win, &have, seg->log_path,
						     errstr, errstr_size);
				if (err)
					goto out;
			}
			if (pass == 1)
				break;
			if (record_batch_header_parse(buf + (pos - win), need, &h) != BROOK_ERR_NO_ERROR) {
				int magic = buf[pos - win + 16];

				if (pos == 0 && magic != RECORD_BATCH_MAGIC) {
					log_file_err(errstr, errstr_size, seg->log_path,
						     "not a RecordBatch v2 segment (magic %d at position 0)",
						     magic);
					err = BROOK_ERR__NOT_OURS;
					goto out;
				}
				snprintf(rec->reason, sizeof(rec->reason),
					 "invalid batch header at position %" PRIu64, pos);
				goto stop;
			}
			if (pos == 0 && h.base_offset != seg->base_offset) {
				log_file_err(errstr, errstr_size, seg->log_path,
					     "first batch has base offset %" PRId64 ", expected %" PRId64
					     ": not this segment's data", h.base_offset, seg->base_offset);
				err = BROOK_ERR__NOT_OURS;
				goto out;
			}
			bsize = record_batch_size(&h);
			if (bsize > seg->size - pos) {
				snprintf(rec->reason, sizeof(rec->reason),
					 "torn batch at position %" PRIu64 ": %zu bytes claimed, %" PRIu64
					 " on disk", pos, bsize, seg->size - pos);
				goto stop;
			}
			need = bsize;
		}
		bsize = need;
		if (record_batch_verify(buf + (pos - win), bsize, &h) != BROOK_ERR_NO_ERROR) {
			snprintf(rec->reason, sizeof(rec->reason),
				 "batch at position %" PRIu64 " (offset %" PRId64 ") fails its CRC check",
				 pos, h.base_offset);
			break;
		}
		if (h.base_offset < min_offset || h.base_offset < seg->next_offset ||
		    !batch_fits(seg, &h, pos)) {
			snprintf(rec->reason, sizeof(rec->reason),
				 "batch at position %" PRIu64 " has offset %" PRId64
				 ", out of sequence after %" PRId64, pos, h.base_offset, seg->next_offset);
			break;
		}
		err = account_batch(seg, &h, pos, index_interval);
		if (err)
			goto out;
		rec->batches++;
		pos += bsize;
	}
stop:
	rec->valid_bytes = pos;
	if (pos < seg->size) {
		rec->truncated_bytes = seg->size - pos;
		if (ftruncate(seg->fd, (off_t)pos) != 0) {
			int e = errno;
			log_file_err(errstr, errstr_size, seg->log_path, "cannot truncate: %s", strerror(e));
			err = brook_err_from_errno(e);
			goto out;
		}
		seg->size = pos;
	}
	seg->unflushed = rec->truncated_bytes > 0;
out:
	free(buf);
	return err;
}

brook_err_t log_segment_header_at(log_segment_t *seg, uint64_t pos, record_batch_header_t *h,
				  char *errstr, size_t errstr_size)
{
	uint8_t hb[RECORD_BATCH_HEADER_SIZE];
	size_t got;
	brook_err_t err;

	if (pos >= seg->size)
		return BROOK_ERR__PARTITION_EOF;
	err = log_file_pread(seg->fd, hb, sizeof(hb), pos, &got, seg->log_path, errstr, errstr_size);
	if (err)
		return err;
	if (got < sizeof(hb) || record_batch_header_parse(hb, got, h) != BROOK_ERR_NO_ERROR ||
	    record_batch_size(h) > seg->size - pos) {
		log_file_err(errstr, errstr_size, seg->log_path,
			     "invalid batch header at position %" PRIu64, pos);
		return BROOK_ERR__CORRUPT;
	}
	return BROOK_ERR_NO_ERROR;
}

/* Re-derives next offset, max timestamp and the index cursor from the
 * indexes plus a header-only scan after the last offset entry. */
static brook_err_t rescan_tail(log_segment_t *seg, uint32_t index_interval,
			       char *errstr, size_t errstr_size)
{
	record_batch_header_t h;
	uint64_t pos = 0;
	brook_err_t err;

	seg->next_offset = seg->base_offset;
	seg->last_batch_offset = -1;
	seg->max_timestamp = log_index_max_timestamp(&seg->idx);
	seg->first_batch_time = -1;
	seg->bytes_since_index = 0;
	if (seg->size == 0)
		return BROOK_ERR_NO_ERROR;
	err = log_segment_header_at(seg, 0, &h, errstr, errstr_size);
	if (err)
		return err;
	seg->first_batch_time = h.max_timestamp;
	if (seg->idx.noff > 0) {
		pos = seg->idx.off[seg->idx.noff - 1].position;
		/* the entry's own batch was counted when it was indexed */
		seg->bytes_since_index = 0;
	}
	while (pos < seg->size) {
		err = log_segment_header_at(seg, pos, &h, errstr, errstr_size);
		if (err)
			return err;
		if (h.base_offset < seg->next_offset || !batch_fits(seg, &h, pos)) {
			log_file_err(errstr, errstr_size, seg->log_path,
				     "batch at position %" PRIu64 " out of sequence", pos);
			return BROOK_ERR__CORRUPT;
		}
		if (h.max_timestamp > seg->max_timestamp)
			seg->max_timestamp = h.max_timestamp;
		seg->last_batch_offset = h.base_offset;
		seg->next_offset = record_batch_last_offset(&h) + 1;
		seg->bytes_since_index += record_batch_size(&h);
		pos += record_batch_size(&h);
	}
	(void)index_interval;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_segment_load(log_segment_t *seg, int64_t min_offset, uint32_t index_interval,
			     int *rebuilt, log_segment_recovery_t *rec,
			     char *errstr, size_t errstr_size)
{
	brook_err_t err;

	*rebuilt = 0;
	memset(rec, 0, sizeof(*rec));
	err = log_index_load(&seg->idx, seg->path, seg->size, errstr, errstr_size);
	if (!err)
		err = rescan_tail(seg, index_interval, errstr, errstr_size);
	if (!err && seg->size > 0 && seg->next_offset <= min_offset)
		err = BROOK_ERR__CORRUPT;
	if (err == BROOK_ERR__NOMEM)
		return err;
	if (err) {
		*rebuilt = 1;
		return log_segment_recover(seg, min_offset, index_interval, rec,
					   errstr, errstr_size);
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_segment_append(log_segment_t *seg, const uint8_t *buf, size_t len,
			       uint32_t index_interval, char *errstr, size_t errstr_size)
{
	uint64_t start = seg->size;
	brook_err_t err;
	size_t off = 0;

	err = log_file_pwrite(seg->fd, buf, len, start, seg->log_path, errstr, errstr_size);
	if (err) {
		/* Cut back so no partial batch is ever left for readers or
		 * recovery; if even that fails recovery will cut it later. */
		if (ftruncate(seg->fd, (off_t)start) != 0)
			seg->unflushed = 1;
		return err;
	}
	seg->size += len;
	seg->unflushed = 1;
	while (off < len) {
		record_batch_header_t h;

		if (record_batch_header_parse(buf + off, len - off, &h) != BROOK_ERR_NO_ERROR)
			return BROOK_ERR__INVALID_ARG; /* caller promised whole batches */
		err = account_batch(seg, &h, start + off, index_interval);
		if (err)
			return err;
		off += record_batch_size(&h);
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_segment_find(log_segment_t *seg, int64_t offset, uint64_t *pos,
			     record_batch_header_t *h, char *errstr, size_t errstr_size)
{
	uint64_t p;
	brook_err_t err;

	if (offset >= seg->next_offset)
		return BROOK_ERR__PARTITION_EOF;
	p = log_index_lookup(&seg->idx, offset, NULL);
	for (;;) {
		err = log_segment_header_at(seg, p, h, errstr, errstr_size);
		if (err)
			return err;
		if (record_batch_last_offset(h) >= offset) {
			*pos = p;
			return BROOK_ERR_NO_ERROR;
		}
		p += record_batch_size(h);
	}
}

brook_err_t log_segment_extent(log_segment_t *seg, uint64_t pos, const record_batch_header_t *h,
			       size_t max_bytes, int64_t upper_offset, size_t *len,
			       char *errstr, size_t errstr_size)
{
	record_batch_header_t nh;
	uint64_t p;
	size_t total;
	brook_err_t err;

	*len = 0;
	if (record_batch_last_offset(h) >= upper_offset)
		return BROOK_ERR_NO_ERROR;
	total = record_batch_size(h);
	p = pos + total;
	while (p < seg->size) {
		err = log_segment_header_at(seg, p, &nh, errstr, errstr_size);
		if (err)
			return err;
		if (record_batch_last_offset(&nh) >= upper_offset ||
		    total + record_batch_size(&nh) > max_bytes)
			break;
		total += record_batch_size(&nh);
		p += record_batch_size(&nh);
	}
	*len = total;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_segment_truncate_to(log_segment_t *seg, int64_t offset, uint32_t index_interval,
				    char *errstr, size_t errstr_size)
{
	record_batch_header_t h;
	uint64_t pos = 0;
	brook_err_t err;

	if (offset >= seg->next_offset)
		return BROOK_ERR_NO_ERROR;
	if (offset > seg->base_offset) {
		err = log_segment_find(seg, offset, &pos, &h, errstr, errstr_size);
		if (err)
			return err;
	}
	if (ftruncate(seg->fd, (off_t)pos) != 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, seg->log_path, "cannot truncate: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	seg->size = pos;
	seg->unflushed = 1;
	log_index_truncate(&seg->idx, pos == 0 ? seg->base_offset : h.base_offset);
	return rescan_tail(seg, index_interval, errstr, errstr_size);
}

brook_err_t log_segment_write_index(log_segment_t *seg, int sync, char *errstr, size_t errstr_size)
{
	/* Record the final maximum so time lookups need not scan the tail. */
	if (seg->last_batch_offset >= 0 && seg->max_timestamp >= 0) {
		brook_err_t err = log_index_add_time(&seg->idx, seg->max_timestamp,
						     seg->last_batch_offset);
		if (err)
			return err;
	}
	return log_index_write(&seg->idx, seg->path, sync, errstr, errstr_size);
}

brook_err_t log_segment_flush(log_segment_t *seg, int write_index, char *errstr, size_t errstr_size)
{
	if (seg->unflushed) {
		if (fdatasync(seg->fd) != 0) {
			int e = errno;
			log_file_err(errstr, errstr_size, seg->log_path, "fdatasync failed: %s",
				     strerror(e));
			return brook_err_from_errno(e);
		}
		seg->unflushed = 0;
	}
	return write_index ? log_segment_write_index(seg, 1, errstr, errstr_size) : BROOK_ERR_NO_ERROR;
}

void log_segment_unlink(log_segment_t *seg)
{
	unlink(seg->log_path);
	log_index_unlink(seg->path);
	seg->deleted = 1;
}
