/* test_crc32c.c - CRC-32C: published vectors, incremental use, and the
 * hardware path agreeing with the table path at every length and alignment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "harness.h"

/* Bit at a time, straight from the definition (reflected 0x82F63B78):
 * shares nothing with the code under test. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0 - (crc & 1)));
	}
	return ~crc;
}

static uint8_t *random_buf(size_t len, unsigned *seed)
{
	uint8_t *b = malloc(len ? len : 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(rand_r(seed) >> 7);
	return b;
}

static void test_known_vectors(void)
{
	uint8_t buf[48];

	CU_ASSERT_EQUAL(crc32c(0, "123456789", 9), 0xE3069283u);
	CU_ASSERT_EQUAL(crc32c_sw(0, "123456789", 9), 0xE3069283u);
	CU_ASSERT_EQUAL(crc32c(0, "", 0), 0u);
	CU_ASSERT_EQUAL(crc32c(0, NULL, 0), 0u);
	CU_ASSERT_EQUAL(crc32c(0x12345678u, NULL, 0), 0x12345678u);

	/* RFC 3720 (iSCSI) B.4 */
	memset(buf, 0, 32);
	CU_ASSERT_EQUAL(crc32c(0, buf, 32), 0x8A9136AAu);
	CU_ASSERT_EQUAL(crc32c_sw(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, 32);
	CU_ASSERT_EQUAL(crc32c(0, buf, 32), 0x62A8AB43u);
	CU_ASSERT_EQUAL(crc32c_sw(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	CU_ASSERT_EQUAL(crc32c(0, buf, 32), 0x46DD794Eu);
	CU_ASSERT_EQUAL(crc32c_sw(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	CU_ASSERT_EQUAL(crc32c(0, buf, 32), 0x113FDB5Cu);
	CU_ASSERT_EQUAL(crc32c_sw(0, buf, 32), 0x113FDB5Cu);
	/* RFC 3720 B.4: an iSCSI read command PDU */
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	CU_ASSERT_EQUAL(crc32c(0, pdu, sizeof(pdu)), 0xD9963A56u);
	CU_ASSERT_EQUAL(crc32c_sw(0, pdu, sizeof(pdu)), 0xD9963A56u);
	CU_ASSERT_EQUAL(crc32c_bitwise(0, pdu, sizeof(pdu)), 0xD9963A56u);
}

/* Every length 0..1000 at every start offset 0..7, against the bitwise
 * reference: covers the byte head, the 8-byte loop, the tail and the
 * 3 x 256 split. */
static void test_hw_sw_agree_small(void)
{
	unsigned seed = harness_seed();
	uint8_t *buf = random_buf(1000 + 8, &seed);
	unsigned bad = 0;

	if (!crc32c_hw_available())
		fprintf(stderr, "\n  (no SSE4.2: crc32c() is the table path here)\n");
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 1000; len++) {
			uint32_t want = crc32c_bitwise(0, buf + off, len);

			bad += crc32c(0, buf + off, len) != want;
			bad += crc32c_sw(0, buf + off, len) != want;
		}
	CU_ASSERT_EQUAL(bad, 0);
	free(buf);
}

/* Lengths around the 3 x 8 KiB split, and a large buffer. */
static void test_hw_sw_agree_large(void)
{
	static const size_t lens[] = {
		3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 3 * 8192 + 3 * 256 + 7,
		6 * 8192 + 767, 100000, (1u << 20) + 13,
	};
	unsigned seed = harness_seed() + 1;
	uint8_t *buf = random_buf((1u << 20) + 13 + 8, &seed);

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t off = 0; off < 8; off += 3) {
			uint32_t want = crc32c_sw(0, buf + off, lens[i]);

			CU_ASSERT_EQUAL(crc32c(0, buf + off, lens[i]), want);
			if (lens[i] <= 100000)
				CU_ASSERT_EQUAL(crc32c_bitwise(0, buf + off, lens[i]), want);
		}
	free(buf);
}

/* crc32c(crc32c(0, a), b) == crc32c(0, a || b): callers checksum batches in
 * pieces (the RecordBatch CRC skips the first 21 bytes). */
static void test_incremental(void)
{
	unsigned seed = harness_seed() + 2;
	size_t len = 3 * 8192 * 2 + 500;
	uint8_t *buf = random_buf(len, &seed);
	uint32_t whole = crc32c(0, buf, len);

	for (int i = 0; i < 200; i++) {
		size_t cut = (size_t)rand_r(&seed) % (len + 1);

		CU_ASSERT_EQUAL(crc32c(crc32c(0, buf, cut), buf + cut, len - cut), whole);
		CU_ASSERT_EQUAL(crc32c_sw(crc32c_sw(0, buf, cut), buf + cut, len - cut), whole);
	}
	free(buf);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "known vectors", test_known_vectors },
		{ "hw/sw agree, lengths 0..1000 x offsets 0..7", test_hw_sw_agree_small },
		{ "hw/sw agree around block sizes and on 1 MiB", test_hw_sw_agree_large },
		{ "incremental == one shot", test_incremental },
		{ NULL, NULL },
	};

	return harness_run("crc32c", tests);
}
