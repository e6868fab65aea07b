/* test_log.c - the partition log: append/read across rolls, retention,
 * truncation, flush policy, settings changed at run time, disk-full
 * handling and crash recovery. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "log_file.h"
#include "logtest.h"

#define NOW 1700000000000LL

static char err[1024];

static log_config_t small_cfg(uint64_t segment_bytes, uint32_t interval)
{
	log_config_t cfg;

	log_config_default(&cfg);
	cfg.segment_bytes = segment_bytes;
	cfg.index_interval_bytes = interval;
	return cfg;
}

static log_t *open_log(const char *dir, const log_config_t *cfg, int64_t rp, int clean,
		       log_open_report_t *rep)
{
	log_t *log = NULL;
	brook_err_t e = log_open(dir, cfg, rp, clean, NOW, &log, rep, err, sizeof(err));

	if (e)
		fprintf(stderr, "log_open: %s (%s)\n", err, brook_err_name(e));
	CU_ASSERT_EQUAL(e, BROOK_ERR_NO_ERROR);
	return log;
}

/* Appends nbatches batches of per records; returns bytes appended. */
static size_t append_n(log_t *log, int nbatches, int per, size_t vsize, int64_t ts)
{
	log_append_opts_t opts = { .assign_offsets = 1, .leader_epoch = 3, .now_ms = NOW };
	size_t total = 0;

	for (int i = 0; i < nbatches; i++) {
		log_append_info_t info;
		int64_t end = log_end_offset(log);
		size_t len;
		uint8_t *b = logtest_batch(per, vsize, ts + i * per, i, COMPRESS_NONE, &len);

		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		CU_ASSERT_EQUAL_FATAL(log_append(log, b, len, &opts, &info, err, sizeof(err)),
				      BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(info.first_offset, end);
		CU_ASSERT_EQUAL(info.last_offset, end + per - 1);
		CU_ASSERT_EQUAL(info.records, per);
		total += len;
		free(b);
	}
	return total;
}

static int count_files(const char *dir, const char *ext)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), e = strlen(ext);
		if (l > e && strcmp(de->d_name + l - e, ext) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Reads every offset of the log one at a time and checks that the batch
 * returned holds it; then reads the whole log in large chunks and checks
 * that the offsets come back consecutive. */
static void check_readable(log_t *log, int64_t from, int64_t to)
{
	for (int64_t o = from; o < to; o++) {
		log_read_result_t r;
		int64_t offs[64];
		uint8_t *data;
		int n;

		CU_ASSERT_EQUAL_FATAL(log_read(log, o, 1, INT64_MAX, &r, err, sizeof(err)), BROOK_ERR_NO_ERROR);
		CU_ASSERT_FATAL(r.length > 0 && r.seg != NULL);
		data = logtest_pread(r.fd, r.position, r.length);
		n = logtest_offsets(data, r.length, offs, 64);
		CU_ASSERT(n > 0);
		CU_ASSERT(offs[0] <= o && o <= offs[n - 1]);
		CU_ASSERT_EQUAL(offs[0], r.first_offset);
		free(data);
		log_read_release(&r);
	}
	for (int64_t o = from; o < to;) {
		log_read_result_t r;
		int64_t offs[4096];
		uint8_t *data;
		int n;

		CU_ASSERT_EQUAL_FATAL(log_read(log, o, 1 << 20, INT64_MAX, &r, err, sizeof(err)),
				      BROOK_ERR_NO_ERROR);
		CU_ASSERT_FATAL(r.length > 0);
		data = logtest_pread(r.fd, r.position, r.length);
		n = logtest_offsets(data, r.length, offs, 4096);
		CU_ASSERT_FATAL(n > 0);
		/* the first batch may start before o (o inside it) */
		CU_ASSERT(offs[0] <= o);
		CU_ASSERT_EQUAL(offs[0], r.first_offset);
		for (int i = 0; i < n; i++)
			CU_ASSERT_EQUAL(offs[i], offs[0] + i);
		o = offs[n - 1] + 1;
		free(data);
		log_read_release(&r);
	}
}

static void test_append_read_across_rolls(void)
{
	const char *dir = harness_tmpdir("log-roll");
	log_config_t cfg = small_cfg(8192, 1024);
	log_read_result_t r;
	log_t *log = open_log(dir, &cfg, 0, 0, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	CU_ASSERT_EQUAL(log_end_offset(log), 0);
	append_n(log, 120, 7, 60, NOW);
	CU_ASSERT_EQUAL(log_end_offset(log), 840);
	CU_ASSERT(log->nsegs > 5);
	CU_ASSERT_EQUAL(count_files(dir, ".log"), (int)log->nsegs);
	/* every rolled segment stays within log.segment.bytes */
	for (size_t i = 0; i + 1 < log->nsegs; i++) {
		CU_ASSERT(log->segs[i]->size <= cfg.segment_bytes);
		CU_ASSERT_EQUAL(log->segs[i]->next_offset, log->segs[i + 1]->base_offset);
	}
	check_readable(log, 0, 840);

	/* at the end: nothing, no error; past it: out of range */
	CU_ASSERT_EQUAL(log_read(log, 840, 100, INT64_MAX, &r, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.length, 0u);
	CU_ASSERT_EQUAL(log_read(log, 841, 100, INT64_MAX, &r, err, sizeof(err)),
			BROOK_ERR_OFFSET_OUT_OF_RANGE);
	CU_ASSERT_EQUAL(log_read(log, -1, 100, INT64_MAX, &r, err, sizeof(err)),
			BROOK_ERR_OFFSET_OUT_OF_RANGE);
	/* the upper bound (high watermark) is never crossed */
	CU_ASSERT_EQUAL(log_read(log, 0, 1 << 20, 20, &r, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	{
		int64_t offs[64];
		uint8_t *data = logtest_pread(r.fd, r.position, r.length);
		int n = logtest_offsets(data, r.length, offs, 64);
		CU_ASSERT_EQUAL(n, 14); /* batches 0-6 and 7-13; 14-20 reaches 20 */
		free(data);
	}
	log_read_release(&r);
	CU_ASSERT_EQUAL(log_read(log, 14, 1 << 20, 20, &r, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.length, 0u);

	/* clean close and reopen trusting the indexes: same content */
	CU_ASSERT_EQUAL(log_close(log, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(count_files(dir, ".index"), count_files(dir, ".log"));
	log = open_log(dir, &cfg, 840, 1, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	CU_ASSERT_EQUAL(log_end_offset(log), 840);
	check_readable(log, 0, 840);
	append_n(log, 3, 7, 60, NOW);
	CU_ASSERT_EQUAL(log_end_offset(log), 861);
	check_readable(log, 800, 861);
	log_free(log);
}

static void test_index_granularity(void)
{
	/* every batch indexed, and no index at all: reads agree */
	uint32_t intervals[] = { 1, 100000 };

	for (int k = 0; k < 2; k++) {
		const char *dir = harness_tmpdir("log-interval");
		log_config_t cfg = small_cfg(1 << 20, intervals[k]);
		log_t *log = open_log(dir, &cfg, 0, 0, NULL);

		CU_ASSERT_PTR_NOT_NULL_FATAL(log);
		append_n(log, 50, 3, 40, NOW);
		CU_ASSERT_EQUAL(log->segs[0]->idx.noff, k == 0 ? 49u : 0u);
		check_readable(log, 0, 150);
		log_free(log);
	}
}

static void test_big_batch_progress(void)
{
	/* a batch larger than max_bytes is still returned whole */
	const char *dir = harness_tmpdir("log-big");
	log_config_t cfg = small_cfg(1 << 20, 4096);
	log_t *log = open_log(dir, &cfg, 0, 0, NULL);
	log_read_result_t r;
	size_t len = append_n(log, 1, 100, 500, NOW);

	CU_ASSERT_EQUAL(log_read(log, 50, 100, INT64_MAX, &r, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.length, len);
	CU_ASSERT_EQUAL(r.first_offset, 0);
	log_read_release(&r);
	log_free(log);
}

static void test_retention_by_size(void)
{
	const char *dir = harness_tmpdir("log-ret-size");
	log_config_t cfg = small_cfg(4096, 1024);
	log_read_result_t r;
	int deleted;
	log_t *log;
	uint64_t before;
	size_t nsegs;

	cfg.retention_bytes = 20000;
	log = open_log(dir, &cfg, 0, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	append_n(log, 150, 5, 50, NOW);
	before = log_size_bytes(log);
	nsegs = log->nsegs;
	CU_ASSERT(before > 40000);

	/* nothing may go past the upper bound (the high watermark) */
	CU_ASSERT_EQUAL(log_apply_retention(log, NOW, 0, &deleted, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(deleted, 0);

	CU_ASSERT_EQUAL(log_apply_retention(log, NOW, INT64_MAX, &deleted, err, sizeof(err)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT(deleted > 0);
	CU_ASSERT_EQUAL(log->nsegs, nsegs - (size_t)deleted);
	CU_ASSERT_EQUAL(count_files(dir, ".log"), (int)log->nsegs);
	/* whole segments only: at least retention.bytes is kept, and one
	 * segment less would be below it */
	CU_ASSERT(log_size_bytes(log) >= 20000);
	CU_ASSERT(log_size_bytes(log) - log->segs[0]->size < 20000);
	CU_ASSERT_EQUAL(log->log_start_offset, log->segs[0]->base_offset);
	CU_ASSERT(log->log_start_offset > 0);
	CU_ASSERT_EQUAL(log_read(log, log->log_start_offset - 1, 100, INT64_MAX, &r, err, sizeof(err)),
			BROOK_ERR_OFFSET_OUT_OF_RANGE);
	check_readable(log, log->log_start_offset, 500);
	/* idempotent */
	CU_ASSERT_EQUAL(log_apply_retention(log, NOW, INT64_MAX, &deleted, err, sizeof(err)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(deleted, 0);
	/* the start survives a restart: it is the first segment's name */
	{
		int64_t start = log->log_start_offset;
		CU_ASSERT_EQUAL(log_close(log, err, sizeof(err)), BROOK_ERR_NO_ERROR);
		log = open_log(dir, &cfg, 500, 1, NULL);
		CU_ASSERT_EQUAL(log->log_start_offset, start);
	}
	log_free(log);
}

static void test_retention_by_time(void)
{
	const char *dir = harness_tmpdir("log-ret-time");
	log_config_t cfg = small_cfg(4096, 1024);
	log_append_opts_t opts = { .assign_offsets = 1, .leader_epoch = 0, .now_ms = NOW };
	int deleted;
	log_t *log;

	cfg.retention_ms = 3600 * 1000;
	log = open_log(dir, &cfg, 0, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	/* old data: two hours ago; then recent data */
	append_n(log, 30, 5, 50, NOW - 2 * 3600 * 1000);
	{
		size_t len;
		log_append_info_t info;
		uint8_t *b = logtest_batch(5, 50, NOW, 0, COMPRESS_NONE, &len);
		/* force a roll so the old segments hold only old data */
		CU_ASSERT_EQUAL(log_roll(log, err, sizeof(err)), BROOK_ERR_NO_ERROR);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		for (int i = 0; i < 30; i++)
			CU_ASSERT_EQUAL(log_append(log, b, len, &opts, &info, err, sizeof(err)),
					BROOK_ERR_NO_ERROR);
		free(b);
	}
	CU_ASSERT_EQUAL(log_apply_retention(log, NOW, INT64_MAX, &deleted, err, sizeof(err)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT(deleted > 0);
	CU_ASSERT_EQUAL(log->log_start_offset, 150); /* every old record gone, no new one */
	for (size_t i = 0; i < log->nsegs; i++)
		CU_ASSERT(log->segs[i]->max_timestamp >= NOW);

	/* everything expired, including the active segment: it is rolled
	 * away and the log stays writable at the same end offset */
	CU_ASSERT_EQUAL(log_apply_retention(log, NOW + 2 * 3600 * 1000, INT64_MAX, &deleted, err,
					    sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(log->nsegs, 1u);
	CU_ASSERT_EQUAL(log->segs[0]->size, 0u);
	CU_ASSERT_EQUAL(log->log_start_offset, 300);
	CU_ASSERT_EQUAL(log_end_offset(log), 300);
	append_n(log, 1, 5, 50, NOW);
	check_readable(log, 300, 305);
	log_free(log);
}

static void test_roll_by_time(void)
{
	const char *dir = harness_tmpdir("log-roll-time");
	log_config_t cfg = small_cfg(1 << 20, 1024);
	log_append_opts_t opts = { .assign_offsets = 1, .now_ms = NOW };
	log_append_info_t info;
	size_t len;
	uint8_t *b;
	log_t *log;

	cfg.roll_ms = 1000;
	log = open_log(dir, &cfg, 0, 0, NULL);
	b = logtest_batch(2, 10, NOW, 0, COMPRESS_NONE, &len);
	CU_ASSERT_EQUAL(log_append(log, b, len, &opts, &info, err, sizeof(err)), 0);
	opts.now_ms = NOW + 999;
	CU_ASSERT_EQUAL(log_append(log, b, len, &opts, &info, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(log->nsegs, 1u);
	opts.now_ms = NOW + 1001;
	CU_ASSERT_EQUAL(log_append(log, b, len, &opts, &info, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(log->nsegs, 2u);
	CU_ASSERT_EQUAL(log->segs[1]->base_offset, 4);
	free(b);
	log_free(log);
}

static void test_offset_for_time(void)
{
	const char *dir = harness_tmpdir("log-time");
	log_config_t cfg = small_cfg(4096, 512);
	log_t *log = open_log(dir, &cfg, 0, 0, NULL);
	int64_t off, fts;

	/* record i has timestamp NOW + 10 * i (batches of 4, ts step 1 inside,
	 * so use one record per batch for exact expectations) */
	for (int i = 0; i < 200; i++)
		append_n(log, 1, 1, 30, NOW + 10 * i);
	for (int i = 0; i < 200; i += 7) {
		CU_ASSERT_EQUAL(log_offset_for_time(log, NOW + 10 * i, &off, &fts, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(off, i);
		CU_ASSERT_EQUAL(fts, NOW + 10 * i);
		CU_ASSERT_EQUAL(log_offset_for_time(log, NOW + 10 * i - 5, &off, &fts, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(off, i);
		CU_ASSERT_EQUAL(fts, NOW + 10 * i); /* the record's time, not the query's */
	}
	CU_ASSERT_EQUAL(log_offset_for_time(log, 0, &off, &fts, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT_EQUAL(log_offset_for_time(log, NOW + 100000, &off, &fts, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(off, -1);
	CU_ASSERT_EQUAL(fts, -1);
	/* inside one batch: records at NOW+5000.. step 1 */
	append_n(log, 1, 10, 30, NOW + 5000);
	CU_ASSERT_EQUAL(log_offset_for_time(log, NOW + 5004, &off, &fts, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(off, 204);
	CU_ASSERT_EQUAL(fts, NOW + 5004);
	log_free(log);
}

static void test_truncate(void)
{
	const char *dir = harness_tmpdir("log-trunc");
	log_config_t cfg = small_cfg(4096, 512);
	log_t *log = open_log(dir, &cfg, 0, 0, NULL);
	size_t nsegs;

	append_n(log, 60, 5, 50, NOW); /* offsets 0..299 */
	nsegs = log->nsegs;
	CU_ASSERT(nsegs > 3);
	/* in the middle of a batch: the whole batch 150-154 goes */
	CU_ASSERT_EQUAL(log_truncate_to(log, 152, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(log_end_offset(log), 150);
	CU_ASSERT(log->nsegs < nsegs);
	CU_ASSERT_EQUAL(count_files(dir, ".log"), (int)log->nsegs);
	check_readable(log, 0, 150);
	/* appends continue from the cut */
	append_n(log, 2, 5, 50, NOW);
	CU_ASSERT_EQUAL(log_end_offset(log), 160);
	check_readable(log, 140, 160);
	/* to a segment boundary */
	{
		int64_t b = log->segs[1]->base_offset;
		CU_ASSERT_EQUAL(log_truncate_to(log, b, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(log_end_offset(log), b);
		CU_ASSERT_EQUAL(log->nsegs, 2u);
		CU_ASSERT_EQUAL(log->segs[1]->size, 0u);
	}
	/* a no-op past the end */
	CU_ASSERT_EQUAL(log_truncate_to(log, 100000, err, sizeof(err)), 0);
	/* survives a crash and recovery */
	{
		int64_t end = log_end_offset(log);
		log_free(log);
		log = open_log(dir, &cfg, 0, 0, NULL);
		CU_ASSERT_EQUAL(log_end_offset(log), end);
		check_readable(log, 0, end);
	}
	/* fully, restarting at a later offset (follower behind a moved log start) */
	CU_ASSERT_EQUAL(log_truncate_fully(log, 5000, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(log->log_start_offset, 5000);
	CU_ASSERT_EQUAL(log_end_offset(log), 5000);
	CU_ASSERT_EQUAL(count_files(dir, ".log"), 1);
	append_n(log, 1, 5, 50, NOW);
	check_readable(log, 5000, 5005);
	log_free(log);
	log = open_log(dir, &cfg, 0, 0, NULL);
	CU_ASSERT_EQUAL(log->log_start_offset, 5000);
	CU_ASSERT_EQUAL(log_end_offset(log), 5005);
	log_free(log);
}

static void test_follower_append(void)
{
	const char *dir = harness_tmpdir("log-follower");
	log_config_t cfg = small_cfg(1 << 20, 512);
	log_append_opts_t opts = { .assign_offsets = 0, .now_ms = NOW };
	log_append_info_t info;
	uint8_t *b;
	size_t len;
	log_t *log = open_log(dir, &cfg, 0, 0, NULL);

	append_n(log, 2, 5, 20, NOW); /* 0..9 */
	b = logtest_batch(5, 20, NOW, 0, COMPRESS_NONE, &len);
	/* offsets are kept, not assigned: below the end is refused */
	record_batch_set_base_offset(b, 5);
	CU_ASSERT_EQUAL(log_append(log, b, len, &opts, &info, err, sizeof(err)), BROOK_ERR_INVALID_RECORD);
	record_batch_set_base_offset(b, 10);
	record_batch_set_leader_epoch(b, 9);
	CU_ASSERT_EQUAL(log_append(log, b, len, &opts, &info, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info.first_offset, 10);
	CU_ASSERT_EQUAL(log_end_offset(log), 15);
	/* the leader's epoch stamp is preserved byte for byte */
	{
		log_read_result_t r;
		uint8_t *data;
		CU_ASSERT_EQUAL(log_read(log, 10, 1 << 20, INT64_MAX, &r, err, sizeof(err)), 0);
		data = logtest_pread(r.fd, r.position, r.length);
		CU_ASSERT_EQUAL(r.length, len);
		CU_ASSERT_EQUAL(memcmp(data, b, len), 0);
		free(data);
		log_read_release(&r);
	}
	free(b);
	log_free(log);
}

static void test_bad_batches_rejected(void)
{
	const char *dir = harness_tmpdir("log-bad");
	log_config_t cfg = small_cfg(1 << 20, 512);
	log_append_opts_t opts = { .assign_offsets = 1, .now_ms = NOW };
	log_append_info_t info;
	size_t len1, len2;
	uint8_t *b1 = logtest_batch(5, 20, NOW, 1, COMPRESS_NONE, &len1);
	uint8_t *b2 = logtest_batch(5, 20, NOW, 2, COMPRESS_NONE, &len2);
	uint8_t *two = malloc(len1 + len2);
	log_t *log = open_log(dir, &cfg, 0, 0, NULL);

	memcpy(two, b1, len1);
	memcpy(two + len1, b2, len2);
	two[len1 + 70] ^= 0x40; /* a flipped bit in the second batch's records */
	CU_ASSERT_EQUAL(log_append(log, two, len1 + len2, &opts, &info, err, sizeof(err)),
			BROOK_ERR_CORRUPT_MESSAGE);
	CU_ASSERT_EQUAL(log_end_offset(log), 0); /* all or nothing */
	CU_ASSERT_EQUAL(log_size_bytes(log), 0u);
	CU_ASSERT_EQUAL(log_append(log, b1, len1 - 1, &opts, &info, err, sizeof(err)),
			BROOK_ERR_CORRUPT_MESSAGE);
	CU_ASSERT_EQUAL(log_append(log, b1, 0, &opts, &info, err, sizeof(err)), BROOK_ERR_INVALID_RECORD);
	two[len1 + 70] ^= 0x40;
	CU_ASSERT_EQUAL(log_append(log, two, len1 + len2, &opts, &info, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info.batches, 2);
	CU_ASSERT_EQUAL(log_end_offset(log), 10);
	free(two);
	free(b1);
	free(b2);
	log_free(log);
}

static void test_disk_full(void)
{
	const char *dir = harness_tmpdir("log-full");
	log_config_t cfg = small_cfg(1 << 20, 512);
	log_append_opts_t opts = { .assign_offsets = 1, .now_ms = NOW };
	log_append_info_t info;
	size_t len;
	uint8_t *b = logtest_batch(5, 200, NOW, 0, COMPRESS_NONE, &len);
	log_t *log = open_log(dir, &cfg, 0, 0, NULL);
	uint64_t size;

	append_n(log, 3, 5, 200, NOW);
	size = log_size_bytes(log);
	log_file_fail_writes_after(0);
	CU_ASSERT_EQUAL(log_append(log, b, len, &opts, &info, err, sizeof(err)), BROOK_ERR__NO_SPACE);
	log_file_fail_writes_after(-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ".log"));
	CU_ASSERT_EQUAL(log_end_offset(log), 15);
	CU_ASSERT_EQUAL(log_size_bytes(log), size);
	CU_ASSERT_EQUAL(harness_file_size(log->segs[0]->log_path), (ssize_t)size);
	/* once space is back the same append works, at the same offset */
	CU_ASSERT_EQUAL(log_append(log, b, len, &opts, &info, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info.first_offset, 15);
	check_readable(log, 0, 20);
	free(b);
	log_free(log);
	log = open_log(dir, &cfg, 0, 0, NULL);
	CU_ASSERT_EQUAL(log_end_offset(log), 20);
	log_free(log);
}

static void test_flush_policy(void)
{
	const char *dir = harness_tmpdir("log-flush");
	log_config_t cfg = small_cfg(1 << 20, 512);
	log_t *log;

	cfg.flush_interval_messages = 10;
	log = open_log(dir, &cfg, 0, 0, NULL);
	append_n(log, 1, 5, 20, NOW);
	CU_ASSERT_EQUAL(log->recovery_point, 0);
	append_n(log, 1, 5, 20, NOW);
	CU_ASSERT_EQUAL(log->recovery_point, 10);
	CU_ASSERT_EQUAL(log->segs[0]->unflushed, 0);
	log_free(log);

	cfg.flush_interval_messages = INT64_MAX;
	cfg.flush_interval_ms = 1000;
	dir = harness_tmpdir("log-flush-ms");
	log = open_log(dir, &cfg, 0, 0, NULL);
	append_n(log, 1, 5, 20, NOW);
	CU_ASSERT_EQUAL(log->recovery_point, 0);
	CU_ASSERT_EQUAL(log_maybe_flush(log, NOW + 999, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(log->recovery_point, 0);
	CU_ASSERT_EQUAL(log_maybe_flush(log, NOW + 1000, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(log->recovery_point, 5);
	log_free(log);
}

/* A topic's overrides arrive while the log is open: log_set_config()
 * changes later rolls, retention and flushes, not what is written. */
static void test_set_config(void)
{
	const char *dir = harness_tmpdir("log-set-config");
	log_config_t cfg = small_cfg(1 << 20, 1024), smaller;
	size_t one, nsegs;
	int deleted;
	log_t *log;

	log = open_log(dir, &cfg, 0, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	one = append_n(log, 1, 5, 100, NOW);
	append_n(log, 9, 5, 100, NOW);
	CU_ASSERT_EQUAL(log->nsegs, 1u);

	/* segment.bytes down to two batches: the full active segment rolls
	 * at the next append, and every segment after it holds two batches. */
	smaller = cfg;
	smaller.segment_bytes = 2 * one;
	log_set_config(log, &smaller);
	CU_ASSERT_EQUAL(log->cfg.segment_bytes, 2 * one);
	CU_ASSERT_EQUAL(log->nsegs, 1u);          /* nothing happens by itself */
	append_n(log, 1, 5, 100, NOW);
	CU_ASSERT_EQUAL(log->nsegs, 2u);
	CU_ASSERT_EQUAL(log->segs[1]->base_offset, 50);
	append_n(log, 5, 5, 100, NOW);
	CU_ASSERT_EQUAL(log->nsegs, 4u);
	CU_ASSERT_EQUAL(log->segs[3]->base_offset, 70);
	check_readable(log, 0, 80);

	/* retention.bytes: applies at the next retention pass. */
	nsegs = log->nsegs;
	CU_ASSERT_EQUAL(log_apply_retention(log, NOW, INT64_MAX, &deleted, err, sizeof(err)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(deleted, 0);
	smaller.retention_bytes = (int64_t)(4 * one);
	log_set_config(log, &smaller);
	CU_ASSERT_EQUAL(log_apply_retention(log, NOW, INT64_MAX, &deleted, err, sizeof(err)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(deleted, 2);
	CU_ASSERT_EQUAL(log->nsegs, nsegs - 2);
	CU_ASSERT_EQUAL(log->log_start_offset, 60);

	/* flush.messages: the next append flushes (and rolls: the active
	 * segment 70 is full). */
	CU_ASSERT(log->recovery_point < log_end_offset(log));
	smaller.flush_interval_messages = 1;
	log_set_config(log, &smaller);
	append_n(log, 1, 5, 100, NOW);
	CU_ASSERT_EQUAL(log->recovery_point, log_end_offset(log));
	CU_ASSERT_EQUAL(log->segs[log->nsegs - 1]->base_offset, 80);

	/* Back to the broker's settings: segment 80 takes more than two
	 * batches now. */
	log_set_config(log, &cfg);
	nsegs = log->nsegs;
	append_n(log, 4, 5, 100, NOW);
	CU_ASSERT_EQUAL(log->nsegs, nsegs);
	CU_ASSERT_EQUAL(log->segs[log->nsegs - 1]->base_offset, 80);
	CU_ASSERT_EQUAL(log_end_offset(log), 105);
	check_readable(log, 60, log_end_offset(log));
	log_free(log);
}

/* ---- crash recovery ---- */

/* Builds a 3+ segment log, "crashes" (no flush), and returns the active
 * segment's path and its bytes at the moment of the crash. */
static log_t *crashed_log(const char *dir, const log_config_t *cfg, char *active_path,
			  uint8_t **active_bytes, size_t *active_len, int64_t *end)
{
	log_t *log = open_log(dir, cfg, 0, 0, NULL);

	append_n(log, 40, 5, 50, NOW);
	CU_ASSERT(log->nsegs >= 3);
	strcpy(active_path, log->segs[log->nsegs - 1]->log_path);
	*end = log_end_offset(log);
	log_free(log); /* no flush, no index written: a crash */
	*active_bytes = harness_read_file(active_path, active_len);
	return NULL;
}

/* Reopens after damage and checks the log is exactly the valid prefix
 * (`keep` bytes of the active segment) and appendable again. */
static void check_recovered(const char *dir, const log_config_t *cfg, const char *active_path,
			    const uint8_t *orig, size_t keep, int64_t expect_end, int64_t rp)
{
	log_open_report_t rep;
	log_t *log = open_log(dir, cfg, rp, 0, &rep);
	uint8_t *now;
	size_t nlen;

	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	CU_ASSERT_EQUAL(log_end_offset(log), expect_end);
	now = harness_read_file(active_path, &nlen);
	CU_ASSERT_EQUAL(nlen, keep);
	CU_ASSERT(now && memcmp(now, orig, keep) == 0);
	free(now);
	CU_ASSERT(rep.recovered_segments >= 1);
	check_readable(log, 0, expect_end);
	append_n(log, 2, 5, 50, NOW);
	CU_ASSERT_EQUAL(log_end_offset(log), expect_end + 10);
	check_readable(log, expect_end - 5, expect_end + 10);
	log_free(log);
}

/* Size of the active segment without its last batch. */
static size_t without_last(const uint8_t *buf, size_t len, int64_t *last_base)
{
	size_t off = 0, prev = 0;

	*last_base = -1;
	while (off < len) {
		record_batch_header_t h;
		record_batch_header_parse(buf + off, len - off, &h);
		prev = off;
		*last_base = h.base_offset;
		off += record_batch_size(&h);
	}
	return prev;
}

static void test_recover_truncated_last_batch(void)
{
	const char *dir = harness_tmpdir("rec-trunc");
	log_config_t cfg = small_cfg(4096, 512);
	char active[4096];
	uint8_t *orig;
	size_t len, keep;
	int64_t end, last;

	crashed_log(dir, &cfg, active, &orig, &len, &end);
	keep = without_last(orig, len, &last);
	CU_ASSERT_EQUAL(truncate(active, (off_t)(len - 17)), 0);
	check_recovered(dir, &cfg, active, orig, keep, last, 0);
	free(orig);
}

static void test_recover_flipped_byte(void)
{
	const char *dir = harness_tmpdir("rec-flip");
	log_config_t cfg = small_cfg(4096, 512);
	char active[4096];
	uint8_t *orig, *bad;
	size_t len, keep;
	int64_t end, last;

	crashed_log(dir, &cfg, active, &orig, &len, &end);
	keep = without_last(orig, len, &last);
	bad = malloc(len);
	memcpy(bad, orig, len);
	bad[keep + 100] ^= 0x01; /* inside the last batch's records */
	CU_ASSERT_EQUAL(harness_write_file(active, bad, len), 0);
	/* the recovery point lies before this segment: it is scanned */
	check_recovered(dir, &cfg, active, orig, keep, last, 0);
	free(bad);
	free(orig);
}

static void test_recover_garbage_appended(void)
{
	unsigned seed = harness_seed();

	/* random bytes, recovering from the start; then zeros (as a torn or
	 * preallocated page leaves them) with the recovery point inside the
	 * active segment, so only that segment is scanned */
	for (int mode = 0; mode < 2; mode++) {
		const char *dir = harness_tmpdir("rec-garbage");
		log_config_t cfg = small_cfg(4096, 512);
		char active[4096];
		uint8_t *orig, *bad;
		size_t len;
		int64_t end;

		crashed_log(dir, &cfg, active, &orig, &len, &end);
		bad = malloc(len + 3000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
		memcpy(bad, orig, len);
		for (int i = 0; i < 3000; i++)
			bad[len + i] = mode == 0 ? (uint8_t)rand_r(&seed) : 0;
		CU_ASSERT_EQUAL(harness_write_file(active, bad, len + 3000), 0);
		check_recovered(dir, &cfg, active, orig, len, end, mode == 0 ? 0 : end - 1);
		free(bad);
		free(orig);
	}
}

static void test_recover_deleted_indexes(void)
{
	const char *dir = harness_tmpdir("rec-index");
	log_config_t cfg = small_cfg(4096, 256);
	log_open_report_t rep;
	struct dirent *de;
	log_t *log = open_log(dir, &cfg, 0, 0, NULL);
	DIR *d;
	int nsegs;

	append_n(log, 40, 5, 50, NOW);
	CU_ASSERT_EQUAL(log_close(log, err, sizeof(err)), 0);
	nsegs = count_files(dir, ".log");
	CU_ASSERT_EQUAL(count_files(dir, ".index"), nsegs);
	d = opendir(dir);
	while ((de = readdir(d))) {
		if (strstr(de->d_name, "index")) {
			char p[4096];
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	}
	closedir(d);
	/* clean shutdown: indexes are trusted, found missing, rebuilt */
	log = open_log(dir, &cfg, 200, 1, &rep);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	CU_ASSERT_EQUAL(rep.rebuilt_indexes, nsegs);
	CU_ASSERT_EQUAL(rep.truncated_bytes, 0u);
	CU_ASSERT_EQUAL(log_end_offset(log), 200);
	CU_ASSERT(log->segs[0]->idx.noff > 0);
	check_readable(log, 0, 200);
	CU_ASSERT_EQUAL(log_close(log, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(count_files(dir, ".index"), nsegs);
	CU_ASSERT_EQUAL(count_files(dir, ".timeindex"), nsegs);

	/* a half-written index is noticed and rebuilt too */
	{
		char p[4096];
		snprintf(p, sizeof(p), "%s/%020d.index", dir, 0);
		CU_ASSERT_EQUAL(truncate(p, harness_file_size(p) - 3), 0);
		log = open_log(dir, &cfg, 200, 1, &rep);
		CU_ASSERT_EQUAL(rep.rebuilt_indexes, 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(rep.reason, "00000000000000000000"));
		check_readable(log, 0, 200);
		log_free(log);
	}
}

static void test_recover_middle_segment_cuts_tail(void)
{
	/* a bad batch in a middle segment after the recovery point: the log
	 * ends before it, and the later segments are the invalid tail */
	const char *dir = harness_tmpdir("rec-middle");
	log_config_t cfg = small_cfg(4096, 512);
	log_open_report_t rep;
	log_t *log = open_log(dir, &cfg, 0, 0, NULL);
	char mid[4096];
	int64_t mid_base;
	uint8_t *bytes;
	size_t len;

	append_n(log, 40, 5, 50, NOW);
	CU_ASSERT_FATAL(log->nsegs >= 4);
	strcpy(mid, log->segs[1]->log_path);
	mid_base = log->segs[1]->base_offset;
	log_free(log);
	bytes = harness_read_file(mid, &len);
	bytes[len / 2] ^= 0xff;
	CU_ASSERT_EQUAL(harness_write_file(mid, bytes, len), 0);
	log = open_log(dir, &cfg, 0, 0, &rep);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	CU_ASSERT_EQUAL(log->nsegs, 2u);
	CU_ASSERT(rep.deleted_segments >= 2);
	CU_ASSERT(log_end_offset(log) > mid_base && log_end_offset(log) < mid_base + 100);
	CU_ASSERT_EQUAL(count_files(dir, ".log"), 2);
	check_readable(log, 0, log_end_offset(log));
	free(bytes);
	log_free(log);
}

static void test_not_ours(void)
{
	const char *dir = harness_tmpdir("rec-alien");
	log_config_t cfg = small_cfg(4096, 512);
	const char text[] = "this is somebody's notes file, not a brook segment, but it is long enough "
			    "to hold a whole batch header\n";
	char path[4096];
	brook_err_t e;
	log_t *log = NULL;

	snprintf(path, sizeof(path), "%s/00000000000000000000.log", dir);
	CU_ASSERT_EQUAL(harness_write_file(path, text, sizeof(text) - 1), 0);
	e = log_open(dir, &cfg, 0, 0, NOW, &log, NULL, err, sizeof(err));
	CU_ASSERT_EQUAL(e, BROOK_ERR__NOT_OURS);
	CU_ASSERT_PTR_NULL(log);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a RecordBatch v2 segment"));
	/* nothing deleted or cut */
	CU_ASSERT_EQUAL(harness_file_size(path), (ssize_t)(sizeof(text) - 1));

	/* a real segment renamed to the wrong base offset is not ours either */
	{
		const char *d2 = harness_tmpdir("rec-renamed");
		char p2[4096], p3[4096];
		log = open_log(d2, &cfg, 0, 0, NULL);
		append_n(log, 2, 5, 20, NOW);
		log_free(log);
		log = NULL;
		snprintf(p2, sizeof(p2), "%s/00000000000000000000.log", d2);
		snprintf(p3, sizeof(p3), "%s/00000000000000000007.log", d2);
		CU_ASSERT_EQUAL(rename(p2, p3), 0);
		e = log_open(d2, &cfg, 0, 0, NOW, &log, NULL, err, sizeof(err));
		CU_ASSERT_EQUAL(e, BROOK_ERR__NOT_OURS);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "base offset 0, expected 7"));
		CU_ASSERT(harness_file_size(p3) > 0);
	}
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "append and read across segment rolls", test_append_read_across_rolls },
		{ "index granularity does not change reads", test_index_granularity },
		{ "a batch larger than max_bytes is returned whole", test_big_batch_progress },
		{ "retention by size", test_retention_by_size },
		{ "retention by time", test_retention_by_time },
		{ "roll by time", test_roll_by_time },
		{ "offset for timestamp", test_offset_for_time },
		{ "truncate_to and truncate_fully", test_truncate },
		{ "follower append keeps offsets", test_follower_append },
		{ "bad batches rejected whole", test_bad_batches_rejected },
		{ "disk full leaves the log intact", test_disk_full },
		{ "flush policy", test_flush_policy },
		{ "settings changed on an open log", test_set_config },
		{ "recovery: truncated last batch", test_recover_truncated_last_batch },
		{ "recovery: flipped byte in last batch", test_recover_flipped_byte },
		{ "recovery: garbage after last batch", test_recover_garbage_appended },
		{ "recovery: deleted and half-written indexes", test_recover_deleted_indexes },
		{ "recovery: bad middle segment cuts the tail", test_recover_middle_segment_cuts_tail },
		{ "segment files that are not ours", test_not_ours },
		{ NULL, NULL },
	};
	return harness_run("log", tests);
}
