/* test_partitioner.c - Kafka's default partitioner, bit for bit: the vectors
 * of Kafka's UtilsTest.testMurmur2 and partitions computed with an
 * independent re-implementation of Utils.murmur2 / toPositive. */
#include <string.h>

#include "harness.h"
#include "partitioner.h"

static int32_t h(const char *s)
{
	return partitioner_murmur2(s, strlen(s));
}

/* org.apache.kafka.common.utils.UtilsTest#testMurmur2 */
static void test_kafka_vectors(void)
{
	CU_ASSERT_EQUAL(h("21"), -973932308);
	CU_ASSERT_EQUAL(h("foobar"), -790332482);
	CU_ASSERT_EQUAL(h("a-little-bit-long-string"), -985981536);
	CU_ASSERT_EQUAL(h("a-little-bit-longer-string"), -1486304829);
	CU_ASSERT_EQUAL(h("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
	CU_ASSERT_EQUAL(h("abc"), 479470107);
}

/* Every tail length (0..3 leftover bytes) and the empty key, whose values
 * come from a Python transcription of the Java code. */
static void test_tails(void)
{
	CU_ASSERT_EQUAL(h(""), 275646681);
	CU_ASSERT_EQUAL(h("a"), -1563381124);
	CU_ASSERT_EQUAL(h("ab"), 316155434);
	CU_ASSERT_EQUAL(h("key-1"), 193331640);
}

/* Bytes >= 0x80 must not sign-extend (Java masks them with & 0xff). */
static void test_high_bytes(void)
{
	static const uint8_t k[] = { 0xff, 0x80, 0x7f, 0x00, 0xfe };

	CU_ASSERT_EQUAL(partitioner_murmur2(k, sizeof(k)), -1958495739);
}

/* toPositive(h) % n: the sign bit is cleared, never abs() */
static void test_partition_for_key(void)
{
	CU_ASSERT_EQUAL(partitioner_for_key("21", 2, 3), 0);
	CU_ASSERT_EQUAL(partitioner_for_key("21", 2, 7), 3);
	CU_ASSERT_EQUAL(partitioner_for_key("foobar", 6, 7), 0);
	CU_ASSERT_EQUAL(partitioner_for_key("a-little-bit-long-string", 24, 3), 2);
	CU_ASSERT_EQUAL(partitioner_for_key("a-little-bit-long-string", 24, 7), 1);
	CU_ASSERT_EQUAL(partitioner_for_key("abc", 3, 7), 4);
	CU_ASSERT_EQUAL(partitioner_for_key("key-1", 5, 7), 5);
	CU_ASSERT_EQUAL(partitioner_for_key("a", 1, 3), 1);
	/* (-973932308 & 0x7fffffff) = 1173551340 */
	CU_ASSERT_EQUAL(partitioner_for_key("21", 2, 1000000), 551340);
	for (int n = 1; n < 50; n++) {
		int32_t p = partitioner_for_key("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
						48, n);

		CU_ASSERT(p >= 0 && p < n);
	}
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "Kafka's murmur2 test vectors", test_kafka_vectors },
		{ "tail bytes and the empty key", test_tails },
		{ "bytes above 0x7f", test_high_bytes },
		{ "toPositive(murmur2) % partitions", test_partition_for_key },
		{ NULL, NULL },
	};

	return harness_run("partitioner", tests);
}
