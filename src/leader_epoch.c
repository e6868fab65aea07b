/* leader_epoch.c - Kafka's LeaderEpochFileCache over a write-through
 * leader-epoch-checkpoint file. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blog.h"
#include "errstr.h"
#include "leader_epoch.h"
#include "log_checkpoint.h"
#include "log_file.h"

/* A file far larger than any real epoch history is not one of ours. */
#define LEADER_EPOCH_FILE_MAX (16u << 20)

typedef struct leader_epoch_entry {
	int32_t epoch;
	int64_t start_offset;
} leader_epoch_entry_t;

struct leader_epoch {
	char *path;                     /* <partition dir>/leader-epoch-checkpoint */
	leader_epoch_entry_t *entries;  /* epoch and start_offset strictly increasing */
	size_t n, cap;
	int stale;                      /* the last write failed: the file is behind */
};

/* Room for at least `want` entries; the cache is unchanged on failure. */
static int reserve(leader_epoch_t *le, size_t want)
{
	leader_epoch_entry_t *p;
	size_t cap = le->cap ? le->cap : 8;

	if (want <= le->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	p = realloc(le->entries, cap * sizeof(*p));
	if (!p)
		return -1;
	le->entries = p;
	le->cap = cap;
	return 0;
}

/* Next line of [*p, end) without its newline; NULL at the end. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
	const char *start = *p, *nl;

	if (start >= end)
		return NULL;
	nl = memchr(start, '\n', (size_t)(end - start));
	*len = (size_t)((nl ? nl : end) - start);
	*p = nl ? nl + 1 : end;
	return start;
}

/* "<epoch> <start_offset>", one space, both non-negative decimals. */
static int parse_entry(const char *line, size_t len, leader_epoch_entry_t *e)
{
	const char *sp = memchr(line, ' ', len);
	int64_t epoch, off;

	if (!sp || log_parse_i64(line, (size_t)(sp - line), &epoch) != 0 ||
	    epoch < 0 || epoch > INT32_MAX ||
	    log_parse_i64(sp + 1, len - (size_t)(sp + 1 - line), &off) != 0 || off < 0)
		return -1;
	e->epoch = (int32_t)epoch;
	e->start_offset = off;
	return 0;
}

/*
 * Kafka's CheckpointFile text format (version 0): the version line, the
 * entry count, then one "<epoch> <start_offset>" line per entry. Parsing is
 * strict, as in log_checkpoint.c, and adds the cache's own rule: entries
 * must be strictly increasing in both fields. Kafka would instead replay the
 * file through assign() and silently drop what conflicts; a file that breaks
 * the ordering was not written by us, so we stop and say where.
 */
static brook_err_t parse_file(leader_epoch_t *le, const char *buf, size_t size,
			      char *errstr, size_t errstr_size)
{
	const char *p = buf, *end = buf + size, *line;
	int64_t version, count;
	size_t len;
	int lineno = 2;

	/* Kafka creates the file empty before its first write. */
	if (size == 0)
		return BROOK_ERR_NO_ERROR;
	line = next_line(&p, end, &len);
	if (!line || log_parse_i64(line, len, &version) != 0 || version != 0) {
		brook_errstr(errstr, errstr_size, "%s:1: expected version 0", le->path);
		return BROOK_ERR__CORRUPT;
	}
	line = next_line(&p, end, &len);
	if (!line || log_parse_i64(line, len, &count) != 0 || count < 0 || count > INT32_MAX) {
		brook_errstr(errstr, errstr_size, "%s:2: expected the number of entries", le->path);
		return BROOK_ERR__CORRUPT;
	}
	while ((line = next_line(&p, end, &len))) {
		leader_epoch_entry_t e;

		lineno++;
		if (parse_entry(line, len, &e) != 0) {
			brook_errstr(errstr, errstr_size, "%s:%d: expected \"<epoch> <start_offset>\"",
				     le->path, lineno);
			return BROOK_ERR__CORRUPT;
		}
		if ((int64_t)le->n >= count) {
			brook_errstr(errstr, errstr_size, "%s:%d: more entries than the %" PRId64
				     " the header declares", le->path, lineno, count);
			return BROOK_ERR__CORRUPT;
		}
		if (le->n > 0 && (e.epoch <= le->entries[le->n - 1].epoch ||
				  e.start_offset <= le->entries[le->n - 1].start_offset)) {
			brook_errstr(errstr, errstr_size, "%s:%d: epoch %" PRId32 " at offset %" PRId64
				     " does not follow epoch %" PRId32 " at offset %" PRId64
				     " (both must increase)", le->path, lineno, e.epoch, e.start_offset,
				     le->entries[le->n - 1].epoch, le->entries[le->n - 1].start_offset);
			return BROOK_ERR__CORRUPT;
		}
		if (reserve(le, le->n + 1) != 0)
			return BROOK_ERR__NOMEM;
		le->entries[le->n++] = e;
	}
	if ((int64_t)le->n != count) {
		brook_errstr(errstr, errstr_size, "%s:2: the header declares %" PRId64
			     " entries, the file has %zu", le->path, count, le->n);
		return BROOK_ERR__CORRUPT;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t leader_epoch_open(const char *partition_dir, leader_epoch_t **out,
			      char *errstr, size_t errstr_size)
{
	size_t plen = strlen(partition_dir) + 1 + sizeof(LEADER_EPOCH_CHECKPOINT);
	leader_epoch_t *le;
	brook_err_t err;
	size_t size;
	char *buf;

	*out = NULL;
	le = calloc(1, sizeof(*le));
	if (!le)
		return BROOK_ERR__NOMEM;
	le->path = malloc(plen);
	if (!le->path) {
		free(le);
		return BROOK_ERR__NOMEM;
	}
	snprintf(le->path, plen, "%s/%s", partition_dir, LEADER_EPOCH_CHECKPOINT);

	err = log_file_slurp(le->path, LEADER_EPOCH_FILE_MAX, &buf, &size, errstr, errstr_size);
	if (err == BROOK_ERR__NOENT) {
		*out = le;
		return BROOK_ERR_NO_ERROR;
	}
	/* slurp's _BAD_MSG means a file too large to be a checkpoint. */
	if (err == BROOK_ERR__BAD_MSG)
		err = BROOK_ERR__CORRUPT;
	if (!err) {
		err = parse_file(le, buf, size, errstr, errstr_size);
		free(buf);
	}
	if (err) {
		leader_epoch_free(le);
		return err;
	}
	*out = le;
	return BROOK_ERR_NO_ERROR;
}

void leader_epoch_free(leader_epoch_t *le)
{
	if (!le)
		return;
	free(le->entries);
	free(le->path);
	free(le);
}

/* Rewrites the whole file; at most 11 + 1 + 20 + 1 bytes per entry. */
static brook_err_t write_file(leader_epoch_t *le, char *errstr, size_t errstr_size)
{
	size_t cap = 48 + le->n * 34, len;
	char *buf = malloc(cap);
	brook_err_t err;

	if (!buf) {
		le->stale = 1;
		brook_errstr_at(errstr, errstr_size, le->path, "out of memory");
		return BROOK_ERR__NOMEM;
	}
	len = (size_t)snprintf(buf, cap, "0\n%zu\n", le->n);
	for (size_t i = 0; i < le->n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%" PRId32 " %" PRId64 "\n",
					le->entries[i].epoch, le->entries[i].start_offset);
	err = log_file_replace(le->path, buf, len, errstr, errstr_size);
	free(buf);
	le->stale = err != BROOK_ERR_NO_ERROR;
	return err;
}

/* Write-through: after a change, or to catch up after a failed write. */
static brook_err_t commit(leader_epoch_t *le, int changed, char *errstr, size_t errstr_size)
{
	if (!changed && !le->stale)
		return BROOK_ERR_NO_ERROR;
	return write_file(le, errstr, errstr_size);
}

brook_err_t leader_epoch_assign(leader_epoch_t *le, int32_t epoch, int64_t start_offset,
				char *errstr, size_t errstr_size)
{
	size_t keep;

	if (epoch < 0 || start_offset < 0) {
		brook_errstr_at(errstr, errstr_size, le->path, "invalid entry: epoch %" PRId32
				" at offset %" PRId64, epoch, start_offset);
		return BROOK_ERR__INVALID_ARG;
	}
	/* The common case, every batch of the current epoch: nothing to do. */
	if (le->n > 0 && le->entries[le->n - 1].epoch == epoch &&
	    start_offset >= le->entries[le->n - 1].start_offset)
		return commit(le, 0, errstr, errstr_size);
	if (reserve(le, le->n + 1) != 0) {
		brook_errstr_at(errstr, errstr_size, le->path, "out of memory");
		return BROOK_ERR__NOMEM;
	}

	/* Kafka's maybeTruncateNonMonotonicEntries: drop, from the end, every
	 * entry the new one would not follow. */
	keep = le->n;
	while (keep > 0 && (le->entries[keep - 1].epoch >= epoch ||
			    le->entries[keep - 1].start_offset >= start_offset))
		keep--;
	/* A single removed entry at the same offset is a leader that was
	 * elected and replaced before writing anything: expected, no warning.
	 * Anything else means this log held data another leader overrode. */
	if (le->n - keep > 1 ||
	    (le->n - keep == 1 && le->entries[keep].start_offset != start_offset))
		blog(BLOG_WARN, "leader-epoch", "%s: epoch %" PRId32 " at offset %" PRId64
		     " removed %zu conflicting entries, epochs %" PRId32 "..%" PRId32
		     " from offset %" PRId64, le->path, epoch, start_offset, le->n - keep,
		     le->entries[keep].epoch, le->entries[le->n - 1].epoch,
		     le->entries[keep].start_offset);
	le->entries[keep].epoch = epoch;
	le->entries[keep].start_offset = start_offset;
	le->n = keep + 1;
	return commit(le, 1, errstr, errstr_size);
}

void leader_epoch_latest(const leader_epoch_t *le, int32_t *epoch)
{
	*epoch = le->n > 0 ? le->entries[le->n - 1].epoch : LEADER_EPOCH_UNDEFINED;
}

/*
 * LeaderEpochFileCache.endOffsetFor (Kafka 2.1 to 3.x; KIP-101, KIP-279):
 *   requested == UNDEFINED_EPOCH        -> (UNDEFINED, UNDEFINED_OFFSET)
 *   requested == latest epoch           -> (requested, log end offset)
 *   no entry with epoch > requested     -> (UNDEFINED, UNDEFINED_OFFSET)
 *   no entry with epoch <= requested    -> (requested, start of the first entry)
 *   otherwise                           -> (floor epoch, start of the next entry)
 * Kafka's doc comment still says "UNDEFINED below the first epoch", which was
 * the 1.x behaviour; its code and tests return the first start offset, and
 * so do we. Negative requests other than -1 cannot come from a correct peer;
 * they are treated as undefined rather than as "below the first epoch".
 */
void leader_epoch_end_offset_for(const leader_epoch_t *le, int32_t requested_epoch,
				 int64_t log_end_offset, int32_t *found_epoch,
				 int64_t *end_offset)
{
	size_t lo = 0, hi = le->n;

	*found_epoch = LEADER_EPOCH_UNDEFINED;
	*end_offset = LEADER_EPOCH_UNDEFINED_OFFSET;
	if (requested_epoch < 0 || le->n == 0)
		return;
	if (le->entries[le->n - 1].epoch == requested_epoch) {
		*found_epoch = requested_epoch;
		*end_offset = log_end_offset;
		return;
	}
	/* lo = the first entry with epoch > requested (Kafka's higherEntry). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (le->entries[mid].epoch > requested_epoch)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == le->n)
		return;
	*found_epoch = lo == 0 ? requested_epoch : le->entries[lo - 1].epoch;
	*end_offset = le->entries[lo].start_offset;
}

brook_err_t leader_epoch_truncate_from_end(leader_epoch_t *le, int64_t end_offset,
					   char *errstr, size_t errstr_size)
{
	size_t n = le->n;

	if (end_offset >= 0)
		while (n > 0 && le->entries[n - 1].start_offset >= end_offset)
			n--;
	if (n == le->n)
		return commit(le, 0, errstr, errstr_size);
	le->n = n;
	return commit(le, 1, errstr, errstr_size);
}

/*
 * Kafka's truncateFromStart: the entries starting at or before the new log
 * start all go, except the last of them, which still covers the records
 * from start_offset on and now starts there. An entry starting exactly at
 * start_offset is kept as is (Kafka rewrites it unchanged; we skip the write).
 */
brook_err_t leader_epoch_truncate_from_start(leader_epoch_t *le, int64_t start_offset,
					     char *errstr, size_t errstr_size)
{
	size_t k = 0;
	int changed;

	while (k < le->n && le->entries[k].start_offset <= start_offset)
		k++;
	if (k == 0)
		return commit(le, 0, errstr, errstr_size);
	changed = k > 1 || le->entries[0].start_offset != start_offset;
	le->entries[k - 1].start_offset = start_offset;
	memmove(le->entries, le->entries + (k - 1), (le->n - (k - 1)) * sizeof(*le->entries));
	le->n -= k - 1;
	return commit(le, changed, errstr, errstr_size);
}

brook_err_t leader_epoch_clear(leader_epoch_t *le, char *errstr, size_t errstr_size)
{
	int changed = le->n > 0;

	le->n = 0;
	return commit(le, changed, errstr, errstr_size);
}

brook_err_t leader_epoch_flush(leader_epoch_t *le, char *errstr, size_t errstr_size)
{
	return commit(le, 0, errstr, errstr_size);
}

int leader_epoch_stale(const leader_epoch_t *le)
{
	return le->stale;
}

size_t leader_epoch_count(const leader_epoch_t *le)
{
	return le->n;
}

int leader_epoch_entry(const leader_epoch_t *le, size_t i, int32_t *epoch, int64_t *start_offset)
{
	if (i >= le->n)
		return -1;
	*epoch = le->entries[i].epoch;
	*start_offset = le->entries[i].start_offset;
	return 0;
}
