/* log_index.c - sparse offset and time indexes of one segment. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "log_file.h"
#include "log_index.h"

void log_index_init(log_index_t *idx, int64_t base_offset)
{
	memset(idx, 0, sizeof(*idx));
	idx->base_offset = base_offset;
}

void log_index_destroy(log_index_t *idx)
{
	if (!idx)
		return;
	free(idx->off);
	free(idx->time);
	memset(idx, 0, sizeof(*idx));
}

void log_index_clear(log_index_t *idx)
{
	idx->noff = 0;
	idx->ntime = 0;
}

/* Grows an array geometrically; the index of a 1 GiB segment holds about
 * 260k entries, so doubling keeps appends amortised O(1). */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

brook_err_t log_index_add_offset(log_index_t *idx, int64_t offset, uint32_t position)
{
	int64_t rel = offset - idx->base_offset;

	if (rel < 0 || rel > UINT32_MAX)
		return BROOK_ERR__INVALID_ARG;
	if (idx->noff > 0) {
		const log_offset_entry_t *last = &idx->off[idx->noff - 1];
		if ((uint32_t)rel <= last->rel_offset || position <= last->position)
			return BROOK_ERR__INVALID_ARG;
	}
	if (grow((void **)&idx->off, &idx->off_cap, idx->noff, sizeof(*idx->off)))
		return BROOK_ERR__NOMEM;
	idx->off[idx->noff].rel_offset = (uint32_t)rel;
	idx->off[idx->noff].position = position;
	idx->noff++;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_index_add_time(log_index_t *idx, int64_t timestamp, int64_t offset)
{
	int64_t rel = offset - idx->base_offset;

	if (rel < 0 || rel > UINT32_MAX)
		return BROOK_ERR__INVALID_ARG;
	if (idx->ntime > 0) {
		const log_time_entry_t *last = &idx->time[idx->ntime - 1];
		if (timestamp <= last->timestamp)
			return BROOK_ERR_NO_ERROR;
		if ((uint32_t)rel <= last->rel_offset)
			return BROOK_ERR__INVALID_ARG;
	}
	if (grow((void **)&idx->time, &idx->time_cap, idx->ntime, sizeof(*idx->time)))
		return BROOK_ERR__NOMEM;
	idx->time[idx->ntime].timestamp = timestamp;
	idx->time[idx->ntime].rel_offset = (uint32_t)rel;
	idx->ntime++;
	return BROOK_ERR_NO_ERROR;
}

uint32_t log_index_lookup(const log_index_t *idx, int64_t offset, int64_t *found_offset)
{
	int64_t rel = offset - idx->base_offset;
	size_t lo = 0, hi = idx->noff;

	if (found_offset)
		*found_offset = idx->base_offset;
	if (rel < 0 || idx->noff == 0)
		return 0;
	if (rel > UINT32_MAX)
		rel = UINT32_MAX;
	/* first entry with rel_offset > rel */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (idx->off[mid].rel_offset <= (uint32_t)rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	if (found_offset)
		*found_offset = idx->base_offset + idx->off[lo - 1].rel_offset;
	return idx->off[lo - 1].position;
}

int64_t log_index_lookup_time(const log_index_t *idx, int64_t ts)
{
	size_t lo = 0, hi = idx->ntime;

	/* first entry with timestamp >= ts */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (idx->time[mid].timestamp < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	return idx->base_offset + idx->time[lo - 1].rel_offset;
}

void log_index_truncate(log_index_t *idx, int64_t offset)
{
	int64_t rel = offset - idx->base_offset;

	if (rel <= 0) {
		log_index_clear(idx);
		return;
	}
	while (idx->noff > 0 && idx->off[idx->noff - 1].rel_offset >= rel)
		idx->noff--;
	while (idx->ntime > 0 && idx->time[idx->ntime - 1].rel_offset >= rel)
		idx->ntime--;
}

int64_t log_index_max_timestamp(const log_index_t *idx)
{
	return idx->ntime ? idx->time[idx->ntime - 1].timestamp : -1;
}

static brook_err_t write_whole(const char *path, const uint8_t *buf, size_t len, int sync,
			       char *errstr, size_t errstr_size)
{
	brook_err_t err;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, path, "cannot create index: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	err = log_file_pwrite(fd, buf, len, 0, path, errstr, errstr_size);
	if (!err && sync && fdatasync(fd) != 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, path, "fdatasync failed: %s", strerror(e));
		err = brook_err_from_errno(e);
	}
	close(fd);
	return err;
}

brook_err_t log_index_write(const log_index_t *idx, const char *path_noext, int sync,
			    char *errstr, size_t errstr_size)
{
	size_t olen = idx->noff * LOG_INDEX_ENTRY_SIZE;
	size_t tlen = idx->ntime * LOG_TIMEINDEX_ENTRY_SIZE;
	uint8_t *buf = malloc((olen > tlen ? olen : tlen) + 1);
	char path[4200];
	brook_err_t err;

	if (!buf)
		return BROOK_ERR__NOMEM;
	for (size_t i = 0; i < idx->noff; i++) {
		be32_put(buf + i * 8, idx->off[i].rel_offset);
		be32_put(buf + i * 8 + 4, idx->off[i].position);
	}
	snprintf(path, sizeof(path), "%s.index", path_noext);
	err = write_whole(path, buf, olen, sync, errstr, errstr_size);
	if (!err) {
		for (size_t i = 0; i < idx->ntime; i++) {
			be64_put(buf + i * 12, (uint64_t)idx->time[i].timestamp);
			be32_put(buf + i * 12 + 8, idx->time[i].rel_offset);
		}
		snprintf(path, sizeof(path), "%s.timeindex", path_noext);
		err = write_whole(path, buf, tlen, sync, errstr, errstr_size);
	}
	free(buf);
	return err;
}

brook_err_t log_index_load(log_index_t *idx, const char *path_noext, uint64_t seg_size,
			   char *errstr, size_t errstr_size)
{
	char path[4200];
	brook_err_t err;
	char *buf = NULL;
	size_t len;

	log_index_clear(idx);
	snprintf(path, sizeof(path), "%s.index", path_noext);
	err = log_file_slurp(path, 1u << 30, &buf, &len, errstr, errstr_size);
	if (err)
		return err == BROOK_ERR__NOENT ? BROOK_ERR__NOENT : BROOK_ERR__CORRUPT;
	if (len % LOG_INDEX_ENTRY_SIZE != 0) {
		log_file_err(errstr, errstr_size, path, "size %zu is not a multiple of %d (half-written)",
			     len, LOG_INDEX_ENTRY_SIZE);
		goto corrupt;
	}
	for (size_t i = 0; i < len; i += LOG_INDEX_ENTRY_SIZE) {
		const uint8_t *p = (const uint8_t *)buf + i;
		uint32_t pos = be32_get(p + 4);

		if (pos >= seg_size ||
		    log_index_add_offset(idx, idx->base_offset + be32_get(p), pos) != BROOK_ERR_NO_ERROR) {
			log_file_err(errstr, errstr_size, path,
				     "entry %zu (offset +%u, position %u) out of order or past the segment end",
				     i / LOG_INDEX_ENTRY_SIZE, be32_get(p), pos);
			goto corrupt;
		}
	}
	free(buf);
	buf = NULL;

	snprintf(path, sizeof(path), "%s.timeindex", path_noext);
	err = log_file_slurp(path, 1u << 30, &buf, &len, errstr, errstr_size);
	if (err) {
		log_index_clear(idx);
		return err == BROOK_ERR__NOENT ? BROOK_ERR__NOENT : BROOK_ERR__CORRUPT;
	}
	if (len % LOG_TIMEINDEX_ENTRY_SIZE != 0) {
		log_file_err(errstr, errstr_size, path, "size %zu is not a multiple of %d (half-written)",
			     len, LOG_TIMEINDEX_ENTRY_SIZE);
		goto corrupt;
	}
	for (size_t i = 0; i < len; i += LOG_TIMEINDEX_ENTRY_SIZE) {
		const uint8_t *p = (const uint8_t *)buf + i;
		int64_t ts = (int64_t)be64_get(p);
		size_t before = idx->ntime;

		if (log_index_add_time(idx, ts, idx->base_offset + be32_get(p + 8)) != BROOK_ERR_NO_ERROR ||
		    idx->ntime == before) {
			log_file_err(errstr, errstr_size, path, "entry %zu out of order",
				     i / LOG_TIMEINDEX_ENTRY_SIZE);
			goto corrupt;
		}
	}
	free(buf);
	return BROOK_ERR_NO_ERROR;
corrupt:
	free(buf);
	log_index_clear(idx);
	return BROOK_ERR__CORRUPT;
}

void log_index_unlink(const char *path_noext)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s.index", path_noext);
	unlink(path);
	snprintf(path, sizeof(path), "%s.timeindex", path_noext);
	unlink(path);
}
