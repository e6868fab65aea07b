/* test_leader_epoch.c - the leader-epoch cache: Kafka's assignment and
 * endOffsetFor rules, truncation from both ends, the checkpoint file
 * (written through, reloaded identically, malformed files reported by line)
 * and writes that fail. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blog.h"
#include "harness.h"
#include "leader_epoch.h"
#include "log_file.h"

static char err[1024];

typedef struct {
	int32_t epoch;
	int64_t start;
} entry_t;

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void cp_path(char *buf, size_t size, const char *dir)
{
	snprintf(buf, size, "%s/%s", dir, LEADER_EPOCH_CHECKPOINT);
}

static leader_epoch_t *open_ok(const char *dir)
{
	leader_epoch_t *le = NULL;
	brook_err_t e = leader_epoch_open(dir, &le, err, sizeof(err));

	if (e)
		fprintf(stderr, "leader_epoch_open(%s): %s: %s\n", dir, brook_err_name(e), err);
	CU_ASSERT_EQUAL_FATAL(e, BROOK_ERR_NO_ERROR);
	CU_ASSERT_PTR_NOT_NULL_FATAL(le);
	return le;
}

static void expect_entries(const leader_epoch_t *le, const entry_t *want, size_t n)
{
	int32_t epoch;
	int64_t start;

	CU_ASSERT_EQUAL_FATAL(leader_epoch_count(le), n);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL_FATAL(leader_epoch_entry(le, i, &epoch, &start), 0);
		CU_ASSERT_EQUAL(epoch, want[i].epoch);
		CU_ASSERT_EQUAL(start, want[i].start);
	}
	CU_ASSERT_EQUAL(leader_epoch_entry(le, n, &epoch, &start), -1);
}

/* The file holds exactly `want`, and a fresh open reads the same entries. */
static void expect_on_disk(const char *dir, const entry_t *want, size_t n)
{
	char path[1024], text[4096];
	size_t len = 0, got;
	uint8_t *buf;
	leader_epoch_t *le;

	len += (size_t)snprintf(text + len, sizeof(text) - len, "0\n%zu\n", n);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%" PRId32 " %" PRId64 "\n",
					want[i].epoch, want[i].start);
	cp_path(path, sizeof(path), dir);
	buf = harness_read_file(path, &got);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	CU_ASSERT_EQUAL(got, len);
	CU_ASSERT(got == len && memcmp(buf, text, len) == 0);
	free(buf);

	le = open_ok(dir);
	expect_entries(le, want, n);
	leader_epoch_free(le);
}

/* The checkpoint is replaced by rename, so a rewrite changes the inode. */
static ino_t file_ino(const char *dir)
{
	char path[1024];
	struct stat st;

	cp_path(path, sizeof(path), dir);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	return st.st_ino;
}

static void assign_ok(leader_epoch_t *le, int32_t epoch, int64_t start)
{
	CU_ASSERT_EQUAL(leader_epoch_assign(le, epoch, start, err, sizeof(err)), BROOK_ERR_NO_ERROR);
}

static void expect_end(const leader_epoch_t *le, int32_t requested, int64_t leo,
		       int32_t want_epoch, int64_t want_end)
{
	int32_t epoch = 12345;
	int64_t end = 12345;

	leader_epoch_end_offset_for(le, requested, leo, &epoch, &end);
	if (epoch != want_epoch || end != want_end)
		fprintf(stderr, "end_offset_for(%" PRId32 "): got (%" PRId32 ", %" PRId64
			"), want (%" PRId32 ", %" PRId64 ")\n",
			requested, epoch, end, want_epoch, want_end);
	CU_ASSERT_EQUAL(epoch, want_epoch);
	CU_ASSERT_EQUAL(end, want_end);
}

static void test_empty(void)
{
	const char *dir = harness_tmpdir("le-empty");
	char path[1024];
	leader_epoch_t *le = open_ok(dir);
	int32_t latest = 7;

	CU_ASSERT_EQUAL(leader_epoch_count(le), 0u);
	leader_epoch_latest(le, &latest);
	CU_ASSERT_EQUAL(latest, LEADER_EPOCH_UNDEFINED);
	expect_end(le, 0, 100, -1, -1);
	expect_end(le, 5, 100, -1, -1);
	expect_end(le, -1, 100, -1, -1);
	/* Truncating or clearing nothing writes nothing. */
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(le, 10, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_clear(le, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_flush(le, err, sizeof(err)), 0);
	cp_path(path, sizeof(path), dir);
	CU_ASSERT_EQUAL(access(path, F_OK), -1); /* opening does not create it */
	leader_epoch_free(le);
	leader_epoch_free(NULL);

	/* Kafka creates the file empty before its first write. */
	CU_ASSERT_EQUAL_FATAL(harness_write_file(path, "", 0), 0);
	le = open_ok(dir);
	CU_ASSERT_EQUAL(leader_epoch_count(le), 0u);
	leader_epoch_free(le);

	/* So is a file with no entries. */
	CU_ASSERT_EQUAL_FATAL(harness_write_file(path, "0\n0\n", 4), 0);
	le = open_ok(dir);
	CU_ASSERT_EQUAL(leader_epoch_count(le), 0u);
	leader_epoch_free(le);
}

static void test_assign_and_reload(void)
{
	const char *dir = harness_tmpdir("le-assign");
	static const entry_t want[] = { { 0, 0 }, { 1, 100 }, { 3, 250 }, { 5, 400 } };
	leader_epoch_t *le = open_ok(dir);
	int32_t latest;

	assign_ok(le, 0, 0);
	expect_on_disk(dir, want, 1);
	assign_ok(le, 0, 50);   /* later batches of the same epoch */
	assign_ok(le, 1, 100);
	assign_ok(le, 3, 250);  /* epochs may skip: 2 never wrote anything here */
	assign_ok(le, 3, 300);
	assign_ok(le, 5, 400);
	expect_entries(le, want, N(want));
	leader_epoch_latest(le, &latest);
	CU_ASSERT_EQUAL(latest, 5);
	CU_ASSERT_EQUAL(leader_epoch_stale(le), 0);
	expect_on_disk(dir, want, N(want));

	/* The reloaded cache carries on from where the file left off. */
	leader_epoch_free(le);
	le = open_ok(dir);
	assign_ok(le, 6, 500);
	leader_epoch_latest(le, &latest);
	CU_ASSERT_EQUAL(latest, 6);
	CU_ASSERT_EQUAL(leader_epoch_count(le), 5u);
	leader_epoch_free(le);

	/* Largest values survive the round trip. */
	le = open_ok(harness_tmpdir("le-big"));
	assign_ok(le, INT32_MAX, INT64_MAX);
	leader_epoch_free(le);
}

static void test_same_epoch_is_a_noop(void)
{
	const char *dir = harness_tmpdir("le-noop");
	static const entry_t want[] = { { 1, 0 }, { 2, 100 } };
	leader_epoch_t *le = open_ok(dir);
	ino_t ino;

	assign_ok(le, 1, 0);
	assign_ok(le, 2, 100);
	ino = file_ino(dir);
	for (int64_t off = 100; off < 200; off += 10)
		assign_ok(le, 2, off);
	CU_ASSERT_EQUAL(file_ino(dir), ino);
	expect_on_disk(dir, want, N(want));

	/* A truncation that removes nothing does not write either. */
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, 101, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(le, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(file_ino(dir), ino);

	/* ...and the check would see a write. */
	assign_ok(le, 3, 200);
	CU_ASSERT_NOT_EQUAL(file_ino(dir), ino);
	leader_epoch_free(le);
}

/* Kafka's rule for entries that do not extend the cache: drop from the end
 * every entry with epoch >= the new one or start >= the new start. */
static void test_conflicting_assign(void)
{
	const char *dir = harness_tmpdir("le-conflict");
	const char *logdir = harness_tmpdir("le-conflict-log");
	char logpath[1024];
	leader_epoch_t *le = open_ok(dir);
	size_t len;
	uint8_t *logged;

	snprintf(logpath, sizeof(logpath), "%s/brook.log", logdir);
	CU_ASSERT_EQUAL_FATAL(blog_open(logpath, err, sizeof(err)), 0);

	assign_ok(le, 1, 0);
	assign_ok(le, 3, 100);
	assign_ok(le, 5, 200);

	/* A lower epoch at a higher offset replaces the later epochs. */
	assign_ok(le, 4, 150);
	{
		static const entry_t want[] = { { 1, 0 }, { 3, 100 }, { 4, 150 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	/* Lower epoch, lower offset: both 3 (epoch >= 2) and 4 go. */
	assign_ok(le, 2, 120);
	{
		static const entry_t want[] = { { 1, 0 }, { 2, 120 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	/* The latest epoch at a lower offset moves its start down. */
	assign_ok(le, 2, 50);
	{
		static const entry_t want[] = { { 1, 0 }, { 2, 50 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	/* A higher epoch at an offset already covered by epoch 2. */
	assign_ok(le, 7, 50);
	{
		static const entry_t want[] = { { 1, 0 }, { 7, 50 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	/* A higher epoch at offset 0 leaves only itself. */
	assign_ok(le, 9, 0);
	{
		static const entry_t want[] = { { 9, 0 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	/* Negative values are refused and change nothing. */
	CU_ASSERT_EQUAL(leader_epoch_assign(le, -1, 10, err, sizeof(err)), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, dir));
	CU_ASSERT_EQUAL(leader_epoch_assign(le, 10, -1, err, sizeof(err)), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(leader_epoch_count(le), 1u);
	leader_epoch_free(le);

	/* Each removal of written data above was logged; a leader replaced
	 * before writing anything (same start offset) is not worth a warning. */
	le = open_ok(harness_tmpdir("le-conflict-quiet"));
	assign_ok(le, 1, 0);
	assign_ok(le, 2, 10);
	assign_ok(le, 3, 10);
	leader_epoch_free(le);
	blog_close();
	logged = harness_read_file(logpath, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(logged);
	logged = realloc(logged, len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(logged);
	logged[len] = '\0';
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)logged, "WARN [leader-epoch]"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)logged, "epoch 4 at offset 150 removed 1 conflicting"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)logged, "epoch 2 at offset 120 removed 2 conflicting"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)logged, "epoch 9 at offset 0 removed 2 conflicting"));
	CU_ASSERT_PTR_NULL(strstr((char *)logged, "epoch 3 at offset 10"));
	free(logged);
}

static void test_end_offset_for(void)
{
	const char *dir = harness_tmpdir("le-end");
	leader_epoch_t *le = open_ok(dir);

	assign_ok(le, 2, 50);
	assign_ok(le, 3, 100);
	assign_ok(le, 5, 200);

	expect_end(le, 5, 300, 5, 300);   /* latest: runs to the log end offset */
	expect_end(le, 3, 300, 3, 200);   /* ended where 5 began */
	expect_end(le, 2, 300, 2, 100);
	expect_end(le, 4, 300, 3, 200);   /* between entries: the floor epoch, 3 */
	expect_end(le, 1, 300, 1, 50);    /* below the first: Kafka 2.1+ (KIP-279) */
	expect_end(le, 0, 300, 0, 50);
	expect_end(le, 6, 300, -1, -1);   /* above the latest */
	expect_end(le, -1, 300, -1, -1);  /* UNDEFINED_EPOCH */
	expect_end(le, -7, 300, -1, -1);

	/* A single entry. */
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, 100, err, sizeof(err)), 0);
	expect_end(le, 2, 90, 2, 90);
	expect_end(le, 1, 90, 1, 50);
	expect_end(le, 3, 90, -1, -1);
	leader_epoch_free(le);
}

static void test_truncate_from_end(void)
{
	const char *dir = harness_tmpdir("le-tfe");
	leader_epoch_t *le = open_ok(dir);

	assign_ok(le, 1, 0);
	assign_ok(le, 3, 100);
	assign_ok(le, 5, 200);

	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, 250, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, -1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_count(le), 3u);

	/* Truncating to 200 removes epoch 5, which started there. */
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, 200, err, sizeof(err)), 0);
	{
		static const entry_t want[] = { { 1, 0 }, { 3, 100 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, 150, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_count(le), 2u);

	/* Several at once. */
	assign_ok(le, 4, 150);
	assign_ok(le, 6, 170);
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, 101, err, sizeof(err)), 0);
	{
		static const entry_t want[] = { { 1, 0 }, { 3, 100 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	/* To the beginning of the log: nothing left. */
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_count(le), 0u);
	expect_on_disk(dir, NULL, 0);
	leader_epoch_free(le);
}

static void test_truncate_from_start(void)
{
	const char *dir = harness_tmpdir("le-tfs");
	leader_epoch_t *le = open_ok(dir);
	ino_t ino;

	assign_ok(le, 1, 0);
	assign_ok(le, 3, 100);
	assign_ok(le, 5, 200);

	/* Inside epoch 1: its entry now starts at the new log start. */
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(le, 50, err, sizeof(err)), 0);
	{
		static const entry_t want[] = { { 1, 50 }, { 3, 100 }, { 5, 200 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	/* Exactly at epoch 3's start: epoch 1 goes, 3 stays as it was. */
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(le, 100, err, sizeof(err)), 0);
	{
		static const entry_t want[] = { { 3, 100 }, { 5, 200 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	/* Again, or before the first entry, or negative: nothing to write. */
	ino = file_ino(dir);
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(le, 100, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(le, 10, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(le, -1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(file_ino(dir), ino);
	CU_ASSERT_EQUAL(leader_epoch_count(le), 2u);

	/* Past the last start: only the latest epoch remains, moved up. */
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(le, 250, err, sizeof(err)), 0);
	{
		static const entry_t want[] = { { 5, 250 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	leader_epoch_free(le);

	/* Several entries dropped, the one covering the new start rewritten. */
	dir = harness_tmpdir("le-tfs2");
	le = open_ok(dir);
	assign_ok(le, 1, 0);
	assign_ok(le, 2, 10);
	assign_ok(le, 3, 20);
	assign_ok(le, 4, 30);
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_start(le, 25, err, sizeof(err)), 0);
	{
		static const entry_t want[] = { { 3, 25 }, { 4, 30 } };
		expect_entries(le, want, N(want));
		expect_on_disk(dir, want, N(want));
	}
	/* endOffsetFor agrees with the moved start. */
	expect_end(le, 2, 40, 2, 25);
	leader_epoch_free(le);
}

static void test_clear(void)
{
	const char *dir = harness_tmpdir("le-clear");
	leader_epoch_t *le = open_ok(dir);
	ino_t ino;

	assign_ok(le, 1, 0);
	assign_ok(le, 2, 10);
	CU_ASSERT_EQUAL(leader_epoch_clear(le, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_count(le), 0u);
	expect_on_disk(dir, NULL, 0);
	ino = file_ino(dir);
	CU_ASSERT_EQUAL(leader_epoch_clear(le, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(file_ino(dir), ino);

	/* A cleared cache starts over, at any epoch. */
	assign_ok(le, 1, 0);
	{
		static const entry_t want[] = { { 1, 0 } };
		expect_on_disk(dir, want, N(want));
	}
	leader_epoch_free(le);
}

static void test_corrupt_files(void)
{
	static const struct {
		const char *text;
		int line;
		const char *reason;
	} cases[] = {
		{ "1\n0\n", 1, "expected version 0" },
		{ "x\n", 1, "expected version 0" },
		{ "0", 2, "expected the number of entries" },
		{ "0\nabc\n", 2, "expected the number of entries" },
		{ "0\n-1\n", 2, "expected the number of entries" },
		{ "0\n2\n1 0\n", 2, "declares 2 entries, the file has 1" },
		{ "0\n1\n1 0\n2 5\n", 4, "more entries than the 1" },
		{ "0\n1\nx 0\n", 3, "expected \"<epoch> <start_offset>\"" },
		{ "0\n1\n1 0x\n", 3, "expected \"<epoch> <start_offset>\"" },
		{ "0\n1\n1\n", 3, "expected \"<epoch> <start_offset>\"" },
		{ "0\n1\n1  0\n", 3, "expected \"<epoch> <start_offset>\"" },
		{ "0\n1\n1 0 7\n", 3, "expected \"<epoch> <start_offset>\"" },
		{ "0\n1\n-1 0\n", 3, "expected \"<epoch> <start_offset>\"" },
		{ "0\n1\n1 -5\n", 3, "expected \"<epoch> <start_offset>\"" },
		{ "0\n1\n2147483648 0\n", 3, "expected \"<epoch> <start_offset>\"" },
		{ "0\n1\n1 0\r\n", 3, "expected \"<epoch> <start_offset>\"" },
		{ "0\n2\n1 0\n\n2 5\n", 4, "expected \"<epoch> <start_offset>\"" },
		{ "0\n2\n3 10\n2 20\n", 4, "epoch 2 at offset 20 does not follow epoch 3 at offset 10" },
		{ "0\n2\n3 10\n3 20\n", 4, "does not follow" },
		{ "0\n2\n1 10\n2 10\n", 4, "does not follow" },
		{ "0\n3\n1 0\n2 10\n4 5\n", 5, "does not follow" },
	};
	const char *dir = harness_tmpdir("le-corrupt");
	char path[1024], where[1100];

	cp_path(path, sizeof(path), dir);
	for (size_t i = 0; i < N(cases); i++) {
		leader_epoch_t *le = (leader_epoch_t *)1;
		size_t len = strlen(cases[i].text), got;
		uint8_t *after;

		CU_ASSERT_EQUAL_FATAL(harness_write_file(path, cases[i].text, len), 0);
		err[0] = '\0';
		CU_ASSERT_EQUAL(leader_epoch_open(dir, &le, err, sizeof(err)), BROOK_ERR__CORRUPT);
		CU_ASSERT_PTR_NULL(le);
		snprintf(where, sizeof(where), "%s:%d: ", path, cases[i].line);
		if (strncmp(err, where, strlen(where)) != 0 || !strstr(err, cases[i].reason))
			fprintf(stderr, "case %zu: got \"%s\", want \"%s%s\"\n", i, err, where,
				cases[i].reason);
		CU_ASSERT_EQUAL(strncmp(err, where, strlen(where)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].reason));
		/* Left for the caller to judge. */
		after = harness_read_file(path, &got);
		CU_ASSERT_PTR_NOT_NULL_FATAL(after);
		CU_ASSERT(got == len && memcmp(after, cases[i].text, len) == 0);
		free(after);
	}

	/* What Kafka's writer never produces but its reader accepts: no final
	 * newline. */
	{
		static const entry_t want[] = { { 1, 0 }, { 2, 5 } };
		leader_epoch_t *le;

		CU_ASSERT_EQUAL_FATAL(harness_write_file(path, "0\n2\n1 0\n2 5", 11), 0);
		le = open_ok(dir);
		expect_entries(le, want, N(want));
		leader_epoch_free(le);
	}

	/* A folder where the file should be is an I/O error, not corruption. */
	{
		leader_epoch_t *le = NULL;

		CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
		CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
		CU_ASSERT_NOT_EQUAL(leader_epoch_open(dir, &le, err, sizeof(err)), BROOK_ERR_NO_ERROR);
		CU_ASSERT_PTR_NULL(le);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
		CU_ASSERT_EQUAL(rmdir(path), 0);
	}
}

/* A failed write keeps the change in memory, leaves the old file whole, and
 * is retried by the next mutation or by leader_epoch_flush(). */
static void test_write_fails(void)
{
	const char *dir = harness_tmpdir("le-enospc");
	static const entry_t before[] = { { 1, 0 } };
	static const entry_t after[] = { { 1, 0 }, { 2, 10 } };
	static const entry_t later[] = { { 1, 0 }, { 2, 10 }, { 3, 20 } };
	leader_epoch_t *le = open_ok(dir);

	assign_ok(le, 1, 0);
	log_file_fail_writes_after(0);
	CU_ASSERT_EQUAL(leader_epoch_assign(le, 2, 10, err, sizeof(err)), BROOK_ERR__NO_SPACE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, dir));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No space left"));
	expect_entries(le, after, N(after));
	CU_ASSERT_EQUAL(leader_epoch_stale(le), 1);
	/* A no-op assignment retries the write, and still fails. */
	CU_ASSERT_EQUAL(leader_epoch_assign(le, 2, 15, err, sizeof(err)), BROOK_ERR__NO_SPACE);
	CU_ASSERT_EQUAL(leader_epoch_flush(le, err, sizeof(err)), BROOK_ERR__NO_SPACE);
	log_file_fail_writes_after(-1);
	expect_on_disk(dir, before, N(before)); /* old content, no torn file */

	CU_ASSERT_EQUAL(leader_epoch_flush(le, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(leader_epoch_stale(le), 0);
	expect_on_disk(dir, after, N(after));

	/* Or the next change writes everything. */
	log_file_fail_writes_after(0);
	CU_ASSERT_EQUAL(leader_epoch_truncate_from_end(le, 10, err, sizeof(err)), BROOK_ERR__NO_SPACE);
	log_file_fail_writes_after(-1);
	expect_on_disk(dir, after, N(after));
	assign_ok(le, 2, 10);
	assign_ok(le, 3, 20);
	CU_ASSERT_EQUAL(leader_epoch_stale(le), 0);
	expect_on_disk(dir, later, N(later));
	leader_epoch_free(le);
}

/* A read-only folder: a read-only mount when we are root (root ignores
 * permission bits), the permission bits otherwise. */
static void test_read_only_folder(void)
{
	const char *base = harness_tmpdir("le-ro");
	char dir[1024];
	leader_epoch_t *le;
	int mounted = 0;

	snprintf(dir, sizeof(dir), "%s/orders-0", base);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
	if (geteuid() == 0) {
		if (mount("tmpfs", dir, "tmpfs", MS_RDONLY, "size=64k") != 0) {
			fprintf(stderr, "root without mount(2) (%s): read-only case skipped, "
				"write failures are covered through the seam\n", strerror(errno));
			return;
		}
		mounted = 1;
	} else {
		le = open_ok(dir);
		assign_ok(le, 1, 0);
		leader_epoch_free(le);
		CU_ASSERT_EQUAL_FATAL(chmod(dir, 0555), 0);
	}
	le = open_ok(dir);
	CU_ASSERT_EQUAL(leader_epoch_assign(le, 4, 100, err, sizeof(err)), BROOK_ERR__READ_ONLY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, dir));
	CU_ASSERT_EQUAL(leader_epoch_stale(le), 1);
	{
		int32_t latest;
		leader_epoch_latest(le, &latest);
		CU_ASSERT_EQUAL(latest, 4);
	}
	leader_epoch_free(le);
	if (mounted) {
		CU_ASSERT_EQUAL(umount(dir), 0);
	} else {
		static const entry_t want[] = { { 1, 0 } };
		CU_ASSERT_EQUAL(chmod(dir, 0755), 0);
		expect_on_disk(dir, want, N(want));
	}
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "empty cache", test_empty },
		{ "assign in order, reload from disk", test_assign_and_reload },
		{ "same epoch again writes nothing", test_same_epoch_is_a_noop },
		{ "lower epoch or offset: Kafka's truncation rule", test_conflicting_assign },
		{ "end offset for an epoch", test_end_offset_for },
		{ "truncate from end", test_truncate_from_end },
		{ "truncate from start", test_truncate_from_start },
		{ "clear", test_clear },
		{ "corrupt files are reported by line", test_corrupt_files },
		{ "failed writes keep the change and retry", test_write_fails },
		{ "read-only folder", test_read_only_folder },
		{ NULL, NULL },
	};
	return harness_run("leader_epoch", tests);
}
