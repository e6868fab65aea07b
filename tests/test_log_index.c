/* test_log_index.c - sparse offset/time index: lookups at every boundary,
 * truncation, and load-time validation of damaged files. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "log_index.h"

#define BASE 1000

/* entries at offsets 1000+10k, positions 100k, timestamps 5000+10k */
static void fill(log_index_t *idx, int n)
{
	log_index_init(idx, BASE);
	for (int k = 1; k <= n; k++) {
		CU_ASSERT_EQUAL(log_index_add_offset(idx, BASE + 10 * k, (uint32_t)(100 * k)), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(log_index_add_time(idx, 5000 + 10 * k, BASE + 10 * k), BROOK_ERR_NO_ERROR);
	}
}

static void test_lookup_boundaries(void)
{
	log_index_t idx;
	int64_t found;

	fill(&idx, 50);
	/* before the first entry and below the base: scan from 0 */
	CU_ASSERT_EQUAL(log_index_lookup(&idx, 0, &found), 0);
	CU_ASSERT_EQUAL(found, BASE);
	CU_ASSERT_EQUAL(log_index_lookup(&idx, BASE, &found), 0);
	CU_ASSERT_EQUAL(log_index_lookup(&idx, BASE + 9, NULL), 0);
	for (int k = 1; k <= 50; k++) {
		/* exactly on an entry, one before it, one after it */
		CU_ASSERT_EQUAL(log_index_lookup(&idx, BASE + 10 * k, &found), (uint32_t)(100 * k));
		CU_ASSERT_EQUAL(found, BASE + 10 * k);
		CU_ASSERT_EQUAL(log_index_lookup(&idx, BASE + 10 * k - 1, NULL), (uint32_t)(100 * (k - 1)));
		CU_ASSERT_EQUAL(log_index_lookup(&idx, BASE + 10 * k + 1, NULL), (uint32_t)(100 * k));
	}
	/* past the last entry */
	CU_ASSERT_EQUAL(log_index_lookup(&idx, BASE + 100000, NULL), 5000u);
	CU_ASSERT_EQUAL(log_index_lookup(&idx, INT64_MAX, NULL), 5000u);
	log_index_destroy(&idx);

	/* an empty index always says "scan from the start" */
	log_index_init(&idx, BASE);
	CU_ASSERT_EQUAL(log_index_lookup(&idx, BASE + 5, &found), 0);
	CU_ASSERT_EQUAL(log_index_lookup_time(&idx, 1), -1);
	CU_ASSERT_EQUAL(log_index_max_timestamp(&idx), -1);
	log_index_destroy(&idx);
}

static void test_time_lookup(void)
{
	log_index_t idx;

	fill(&idx, 20);
	CU_ASSERT_EQUAL(log_index_lookup_time(&idx, 0), -1);
	CU_ASSERT_EQUAL(log_index_lookup_time(&idx, 5010), -1);      /* equal is not "<" */
	CU_ASSERT_EQUAL(log_index_lookup_time(&idx, 5011), BASE + 10);
	CU_ASSERT_EQUAL(log_index_lookup_time(&idx, 5020), BASE + 10);
	CU_ASSERT_EQUAL(log_index_lookup_time(&idx, 5021), BASE + 20);
	CU_ASSERT_EQUAL(log_index_lookup_time(&idx, 999999), BASE + 200);
	CU_ASSERT_EQUAL(log_index_max_timestamp(&idx), 5200);
	/* a smaller timestamp carries no information and is dropped */
	CU_ASSERT_EQUAL(log_index_add_time(&idx, 10, BASE + 300), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(idx.ntime, 20u);
	log_index_destroy(&idx);
}

static void test_order_enforced(void)
{
	log_index_t idx;

	fill(&idx, 3);
	CU_ASSERT_EQUAL(log_index_add_offset(&idx, BASE + 30, 400), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(log_index_add_offset(&idx, BASE + 31, 300), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(log_index_add_offset(&idx, BASE - 1, 500), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(log_index_add_offset(&idx, BASE + (1LL << 32), 500), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(log_index_add_offset(&idx, BASE + 31, 301), BROOK_ERR_NO_ERROR);
	log_index_destroy(&idx);
}

static void test_truncate(void)
{
	log_index_t idx;

	fill(&idx, 10);
	log_index_truncate(&idx, BASE + 55);
	CU_ASSERT_EQUAL(idx.noff, 5u);
	CU_ASSERT_EQUAL(idx.ntime, 5u);
	log_index_truncate(&idx, BASE + 50); /* the entry at 50 goes too */
	CU_ASSERT_EQUAL(idx.noff, 4u);
	CU_ASSERT_EQUAL(log_index_lookup(&idx, BASE + 99, NULL), 400u);
	log_index_truncate(&idx, BASE);
	CU_ASSERT_EQUAL(idx.noff, 0u);
	CU_ASSERT_EQUAL(idx.ntime, 0u);
	log_index_destroy(&idx);
}

static void test_write_load_and_damage(void)
{
	const char *dir = harness_tmpdir("index");
	char base[512], path[600];
	log_index_t idx, back;
	char err[512];
	uint8_t junk[5] = { 1, 2, 3, 4, 5 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(base, sizeof(base), "%s/00000000000000001000", dir);
	fill(&idx, 30);
	CU_ASSERT_EQUAL(log_index_write(&idx, base, 1, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	snprintf(path, sizeof(path), "%s.index", base);
	CU_ASSERT_EQUAL(harness_file_size(path), 30 * 8);

	log_index_init(&back, BASE);
	CU_ASSERT_EQUAL(log_index_load(&back, base, 1 << 20, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(back.noff, 30u);
	CU_ASSERT_EQUAL(back.ntime, 30u);
	CU_ASSERT_EQUAL(memcmp(back.off, idx.off, 30 * sizeof(*idx.off)), 0);
	CU_ASSERT_EQUAL(log_index_lookup_time(&back, 5155), BASE + 150);

	/* entries pointing past the end of the segment */
	CU_ASSERT_EQUAL(log_index_load(&back, base, 1000, err, sizeof(err)), BROOK_ERR__CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ".index"));
	CU_ASSERT_EQUAL(back.noff, 0u);

	/* half-written: a size that is not a whole number of entries */
	{
		FILE *f = fopen(path, "ab");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fwrite(junk, 1, 3, f);
		fclose(f);
	}
	CU_ASSERT_EQUAL(log_index_load(&back, base, 1 << 20, err, sizeof(err)), BROOK_ERR__CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "half-written"));

	/* out-of-order entries */
	{
		uint8_t bad[16] = { 0, 0, 0, 9, 0, 0, 1, 0, 0, 0, 0, 5, 0, 0, 2, 0 };
		CU_ASSERT_EQUAL(harness_write_file(path, bad, sizeof(bad)), 0);
	}
	CU_ASSERT_EQUAL(log_index_load(&back, base, 1 << 20, err, sizeof(err)), BROOK_ERR__CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "out of order"));

	/* missing */
	log_index_unlink(base);
	CU_ASSERT_EQUAL(log_index_load(&back, base, 1 << 20, err, sizeof(err)), BROOK_ERR__NOENT);
	log_index_destroy(&back);
	log_index_destroy(&idx);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "lookup at every boundary", test_lookup_boundaries },
		{ "time lookup", test_time_lookup },
		{ "order enforced", test_order_enforced },
		{ "truncate", test_truncate },
		{ "write, load, and damaged files", test_write_load_and_damage },
		{ NULL, NULL },
	};
	return harness_run("log_index", tests);
}
