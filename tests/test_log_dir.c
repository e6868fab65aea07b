/* test_log_dir.c - a log.dirs folder: startup checks with clear messages,
 * checkpoints, the clean-shutdown marker, folders that are not ours, and a
 * real full disk (a small tmpfs). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "log_checkpoint.h"
#include "log_dir.h"
#include "logtest.h"

#define NOW 1700000000000LL

static char err[1024];
static char warnings[8192];

static void collect(void *opaque, const char *msg)
{
	(void)opaque;
	strncat(warnings, msg, sizeof(warnings) - strlen(warnings) - 2);
	strcat(warnings, "\n");
}

static log_config_t cfg_small(void)
{
	log_config_t cfg;

	log_config_default(&cfg);
	cfg.segment_bytes = 4096;
	cfg.index_interval_bytes = 512;
	return cfg;
}

static void append(log_t *log, int batches)
{
	log_append_opts_t opts = { .assign_offsets = 1, .now_ms = NOW };

	for (int i = 0; i < batches; i++) {
		log_append_info_t info;
		size_t len;
		uint8_t *b = logtest_batch(5, 40, NOW, i, COMPRESS_NONE, &len);
		CU_ASSERT_EQUAL_FATAL(log_append(log, b, len, &opts, &info, err, sizeof(err)), 0);
		free(b);
	}
}

static void test_missing_and_not_a_folder(void)
{
	const char *base = harness_tmpdir("ld-missing");
	char path[1024];
	log_dir_t *ld = NULL;
	log_config_t cfg = cfg_small();

	snprintf(path, sizeof(path), "%s/nope", base);
	CU_ASSERT_EQUAL(log_dir_open(path, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)),
			BROOK_ERR__NOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not exist"));
	CU_ASSERT_EQUAL(access(path, F_OK), -1); /* not created behind the user's back */

	snprintf(path, sizeof(path), "%s/file", base);
	CU_ASSERT_EQUAL(harness_write_file(path, "x", 1), 0);
	CU_ASSERT_EQUAL(log_dir_open(path, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a folder"));
}

/* A read-only folder: a read-only mount when we are root (root ignores
 * permission bits), the permission bits otherwise. */
static int make_read_only(const char *path, int *mounted)
{
	*mounted = 0;
	if (geteuid() != 0)
		return chmod(path, 0555);
	if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=64k") != 0)
		return -1;
	*mounted = 1;
	return 0;
}

static void test_read_only(void)
{
	const char *base = harness_tmpdir("ld-ro");
	char path[1024];
	log_dir_t *ld = NULL;
	log_config_t cfg = cfg_small();
	int mounted;

	snprintf(path, sizeof(path), "%s/ro", base);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	if (make_read_only(path, &mounted) != 0) {
		fprintf(stderr, "cannot make %s read-only: %s\n", path, strerror(errno));
		CU_FAIL_FATAL("no way to make a read-only folder");
	}
	CU_ASSERT_EQUAL(log_dir_open(path, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)),
			BROOK_ERR__READ_ONLY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not writable"));
	if (mounted)
		umount(path);
	else
		chmod(path, 0755);
}

static void test_bad_names_ignored_and_reported(void)
{
	const char *dir = harness_tmpdir("ld-names");
	const char *bad[] = { "notapartition", "orders-x", "orders-01", "-3", "bad topic-1",
			      "orders-99999999999" };
	log_config_t cfg = cfg_small();
	log_dir_t *ld;
	log_t *log;
	char path[1024];

	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(log_dir_create_log(ld, "orders", 0, NOW, &log, err, sizeof(err)), 0);
	append(log, 3);
	CU_ASSERT_EQUAL(log_dir_create_log(ld, "bad/name", 0, NOW, &log, err, sizeof(err)),
			BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_EQUAL(log_dir_close(ld, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, bad[i]);
		CU_ASSERT_EQUAL(mkdir(path, 0755), 0);
	}
	snprintf(path, sizeof(path), "%s/stray.txt", dir);
	CU_ASSERT_EQUAL(harness_write_file(path, "hello", 5), 0);

	warnings[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ld->nparts, 1u);
	CU_ASSERT_PTR_NOT_NULL_FATAL(log_dir_get(ld, "orders", 0));
	CU_ASSERT_EQUAL(log_end_offset(log_dir_get(ld, "orders", 0)), 15);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s: not a partition folder", dir, bad[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(warnings, path));
		snprintf(path, sizeof(path), "%s/%s", dir, bad[i]);
		CU_ASSERT_EQUAL(access(path, F_OK), 0); /* reported, never deleted */
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "stray.txt: unexpected file"));
	log_dir_free(ld);
}

/* Deleting a partition removes its folder; a deletion a crash left half
 * done (a "-delete" folder) is finished at the next open, never loaded. */
static void test_delete_log(void)
{
	const char *dir = harness_tmpdir("ld-delete");
	log_config_t cfg = cfg_small();
	char path[1024];
	log_dir_t *ld;
	log_t *a, *b;

	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(log_dir_create_log(ld, "gone", 0, NOW, &a, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(log_dir_create_log(ld, "kept", 0, NOW, &b, err, sizeof(err)), 0);
	append(a, 30); /* several segments */
	append(b, 2);
	CU_ASSERT_EQUAL(log_dir_delete_log(ld, "gone", 0, NOW, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(log_dir_get(ld, "gone", 0));
	CU_ASSERT_PTR_NOT_NULL(log_dir_get(ld, "kept", 0));
	CU_ASSERT_EQUAL(ld->nparts, 1u);
	snprintf(path, sizeof(path), "%s/gone-0", dir);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_EQUAL(log_dir_delete_log(ld, "gone", 0, NOW, err, sizeof(err)), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(log_dir_close(ld, err, sizeof(err)), 0);

	/* a crash between the rename and the last unlink */
	snprintf(path, sizeof(path), "%s/half-3.1700000000000-delete", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/half-3.1700000000000-delete/00000000000000000000.log", dir);
	CU_ASSERT_EQUAL_FATAL(harness_write_file(path, "x", 1), 0);
	warnings[0] = 0;
	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ld->nparts, 1u);
	snprintf(path, sizeof(path), "%s/half-3.1700000000000-delete", dir);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "finished a deletion"));
	CU_ASSERT_EQUAL(log_dir_close(ld, err, sizeof(err)), 0);
}

static void test_clean_shutdown_and_checkpoint(void)
{
	const char *dir = harness_tmpdir("ld-clean");
	log_config_t cfg = cfg_small();
	log_checkpoint_entry_t *cp;
	char path[1024];
	log_dir_t *ld;
	log_t *a, *b;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ld->had_clean_shutdown, 0);
	CU_ASSERT_EQUAL(log_dir_create_log(ld, "a", 0, NOW, &a, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(log_dir_create_log(ld, "b.x_y-z", 7, NOW, &b, err, sizeof(err)), 0);
	append(a, 30);
	append(b, 2);
	CU_ASSERT_EQUAL(log_dir_close(ld, err, sizeof(err)), 0);

	snprintf(path, sizeof(path), "%s/%s", dir, LOG_DIR_CLEAN_SHUTDOWN);
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, LOG_DIR_RECOVERY_CHECKPOINT);
	CU_ASSERT_EQUAL_FATAL(log_checkpoint_read(path, &cp, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 2u);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(cp[i].offset, strcmp(cp[i].topic, "a") == 0 ? 150 : 10);
	free(cp);

	/* clean: nothing is scanned, the marker is consumed */
	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ld->had_clean_shutdown, 1);
	snprintf(path, sizeof(path), "%s/%s", dir, LOG_DIR_CLEAN_SHUTDOWN);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_EQUAL(log_end_offset(log_dir_get(ld, "a", 0)), 150);
	CU_ASSERT_EQUAL(log_end_offset(log_dir_get(ld, "b.x_y-z", 7)), 10);
	append(log_dir_get(ld, "a", 0), 1);
	log_dir_free(ld); /* crash */

	/* unclean: recovered from the checkpointed recovery points */
	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ld->had_clean_shutdown, 0);
	CU_ASSERT_EQUAL(log_end_offset(log_dir_get(ld, "a", 0)), 155);
	log_dir_free(ld);

	/* a damaged checkpoint: reported, and every log is recovered in full */
	snprintf(path, sizeof(path), "%s/%s", dir, LOG_DIR_RECOVERY_CHECKPOINT);
	CU_ASSERT_EQUAL(harness_write_file(path, "0\n2\na 0 oops\n", 13), 0);
	warnings[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "recovery-point-offset-checkpoint:3:"));
	CU_ASSERT_EQUAL(log_end_offset(log_dir_get(ld, "a", 0)), 155);
	log_dir_free(ld);
}

static void test_partition_not_ours_stays_offline(void)
{
	const char *dir = harness_tmpdir("ld-alien");
	log_config_t cfg = cfg_small();
	char path[1024];
	log_dir_t *ld;
	log_t *log;

	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(log_dir_create_log(ld, "good", 0, NOW, &log, err, sizeof(err)), 0);
	append(log, 2);
	CU_ASSERT_EQUAL(log_dir_close(ld, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/alien-0", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/alien-0/00000000000000000000.log", dir);
	CU_ASSERT_EQUAL(harness_write_file(path, "GIF89a................................................"
					   "..........................", 80), 0);
	warnings[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(log_dir_get(ld, "good", 0));
	CU_ASSERT_PTR_NULL(log_dir_get(ld, "alien", 0));
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(warnings, "left offline"));
	CU_ASSERT_EQUAL(harness_file_size(path), 80);
	log_dir_free(ld);
}

static void test_checkpoint_format(void)
{
	const char *dir = harness_tmpdir("ld-cp");
	char path[1024];
	log_checkpoint_entry_t in[3] = { { "t", 0, 5 }, { "t", 1, 0 }, { "other.topic", 12, 1LL << 40 } };
	log_checkpoint_entry_t *out;
	size_t n;
	struct {
		const char *text;
		const char *expect;
	} bad[] = {
		{ "1\n0\n", ":1: expected version 0" },
		{ "0\nx\n", ":2: expected the number" },
		{ "0\n1\nt 0\n", ":3: expected" },
		{ "0\n1\nt -1 5\n", ":3: expected" },
		{ "0\n1\nt 0 5\nt 1 6\n", "more entries than declared" },
		{ "0\n2\nt 0 5\n", "1 entries, header says 2" },
		{ "0\n1\nt 0 99999999999999999999\n", ":3: expected" },
	};

	snprintf(path, sizeof(path), "%s/cp", dir);
	CU_ASSERT_EQUAL(log_checkpoint_write(path, in, 3, err, sizeof(err)), 0);
	{
		size_t len;
		uint8_t *text = harness_read_file(path, &len);
		const char expect[] = "0\n3\nt 0 5\nt 1 0\nother.topic 12 1099511627776\n";
		CU_ASSERT_EQUAL(len, sizeof(expect) - 1);
		CU_ASSERT(text && memcmp(text, expect, len) == 0);
		free(text);
	}
	CU_ASSERT_EQUAL(log_checkpoint_read(path, &out, &n, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(n, 3u);
	CU_ASSERT_EQUAL(memcmp(out, in, sizeof(in)), 0);
	free(out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(harness_write_file(path, bad[i].text, strlen(bad[i].text)), 0);
		CU_ASSERT_EQUAL(log_checkpoint_read(path, &out, &n, err, sizeof(err)), BROOK_ERR__BAD_MSG);
		if (!strstr(err, bad[i].expect))
			fprintf(stderr, "case %zu: got \"%s\"\n", i, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].expect));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	}
	snprintf(path, sizeof(path), "%s/none", dir);
	CU_ASSERT_EQUAL(log_checkpoint_read(path, &out, &n, err, sizeof(err)), BROOK_ERR__NOENT);
}

static void test_partition_dir_names(void)
{
	char topic[LOG_TOPIC_MAX + 1];
	int32_t p;

	CU_ASSERT_EQUAL(log_parse_partition_dir("orders-3", topic, &p), 0);
	CU_ASSERT_STRING_EQUAL(topic, "orders");
	CU_ASSERT_EQUAL(p, 3);
	CU_ASSERT_EQUAL(log_parse_partition_dir("my-topic-name-12", topic, &p), 0);
	CU_ASSERT_STRING_EQUAL(topic, "my-topic-name");
	CU_ASSERT_EQUAL(p, 12);
	CU_ASSERT_EQUAL(log_parse_partition_dir("a.b_c-0", topic, &p), 0);
	CU_ASSERT_EQUAL(log_parse_partition_dir("orders", topic, &p), -1);
	CU_ASSERT_EQUAL(log_parse_partition_dir("orders-", topic, &p), -1);
	CU_ASSERT_EQUAL(log_parse_partition_dir("-1", topic, &p), -1);
	CU_ASSERT_EQUAL(log_parse_partition_dir("..-1", topic, &p), -1);
	CU_ASSERT_EQUAL(log_parse_partition_dir("orders-2147483648", topic, &p), -1);
}

/* A real full disk: a 512 KiB tmpfs. The append that does not fit fails
 * with _NO_SPACE, every acknowledged batch stays readable, and after a
 * restart the log holds exactly what was acknowledged. */
static void test_real_disk_full(void)
{
	const char *base = harness_tmpdir("ld-full");
	log_config_t cfg = cfg_small();
	char dir[1024];
	log_dir_t *ld;
	log_t *log;
	int64_t acked = 0;
	brook_err_t e = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "not root: the full-disk case runs through the write seam in test_log\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/mnt", base);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
	CU_ASSERT_EQUAL_FATAL(mount("tmpfs", dir, "tmpfs", 0, "size=512k"), 0);
	cfg.segment_bytes = 64 * 1024;
	CU_ASSERT_EQUAL_FATAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(log_dir_create_log(ld, "full", 0, NOW, &log, err, sizeof(err)), 0);
	for (int i = 0; i < 10000; i++) {
		log_append_opts_t opts = { .assign_offsets = 1, .now_ms = NOW };
		log_append_info_t info;
		size_t len;
		uint8_t *b = logtest_batch(10, 300, NOW, i, COMPRESS_NONE, &len);

		e = log_append(log, b, len, &opts, &info, err, sizeof(err));
		free(b);
		if (e)
			break;
		acked = info.last_offset + 1;
	}
	CU_ASSERT_EQUAL(e, BROOK_ERR__NO_SPACE);
	CU_ASSERT(acked > 100);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No space left"));
	CU_ASSERT_EQUAL(log_end_offset(log), acked);
	log_dir_free(ld); /* crash while full */
	CU_ASSERT_EQUAL(log_dir_open(dir, &cfg, NOW, collect, NULL, &ld, err, sizeof(err)), 0);
	if (ld) {
		log = log_dir_get(ld, "full", 0);
		CU_ASSERT_PTR_NOT_NULL(log);
		if (log) {
			log_read_result_t r;
			CU_ASSERT_EQUAL(log_end_offset(log), acked);
			CU_ASSERT_EQUAL(log_read(log, acked - 1, 1, INT64_MAX, &r, err, sizeof(err)), 0);
			CU_ASSERT(r.length > 0);
			log_read_release(&r);
		}
		log_dir_free(ld);
	}
	CU_ASSERT_EQUAL(umount(dir), 0);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "missing log dir, or not a folder", test_missing_and_not_a_folder },
		{ "read-only log dir", test_read_only },
		{ "folders with bad names are reported and kept", test_bad_names_ignored_and_reported },
		{ "clean shutdown marker and recovery checkpoint", test_clean_shutdown_and_checkpoint },
		{ "deleting a partition, and a deletion left half done", test_delete_log },
		{ "a partition that is not ours stays offline", test_partition_not_ours_stays_offline },
		{ "checkpoint file format and errors", test_checkpoint_format },
		{ "partition folder names", test_partition_dir_names },
		{ "real full disk (tmpfs)", test_real_disk_full },
		{ NULL, NULL },
	};
	return harness_run("log_dir", tests);
}
