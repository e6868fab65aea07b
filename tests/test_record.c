/* test_record.c - RecordBatch v2: varints, a batch written down by hand from
 * the Kafka format spec, round trips for every codec, integrity checks, and
 * hostile input (truncated, lying counts, random bytes) that must never
 * crash the reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "harness.h"
#include "record.h"

static const compress_codec_t codecs[] = {
	COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_LZ4, COMPRESS_ZSTD,
};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

/* CRC-32C a bit at a time from the definition (reflected 0x82F63B78),
 * independent of client/crc32c.c. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0 - (crc & 1)));
	}
	return ~crc;
}

/* Recomputes the CRC after a test edits covered bytes on purpose. */
static void fix_crc(uint8_t *batch, size_t len)
{
	be32_put(batch + RECORD_BATCH_CRC_OFFSET, crc32c_bitwise(batch + 21, len - 21));
}

/* ---- varints ---- */

static void test_varint_known(void)
{
	static const struct {
		int64_t v;
		uint8_t bytes[10];
		size_t n;
	} cases[] = {
		{ 0, { 0x00 }, 1 },
		{ -1, { 0x01 }, 1 },
		{ 1, { 0x02 }, 1 },
		{ -2, { 0x03 }, 1 },
		{ 63, { 0x7e }, 1 },
		{ -64, { 0x7f }, 1 },
		{ 64, { 0x80, 0x01 }, 2 },
		{ 300, { 0xd8, 0x04 }, 2 },
		{ INT32_MAX, { 0xfe, 0xff, 0xff, 0xff, 0x0f }, 5 },
		{ INT32_MIN, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5 },
		{ INT64_MAX, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
		{ INT64_MIN, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[10];
		int64_t v = 12345;
		size_t n = varint_encode(cases[i].v, buf);

		CU_ASSERT_EQUAL(n, cases[i].n);
		CU_ASSERT_EQUAL(memcmp(buf, cases[i].bytes, cases[i].n), 0);
		CU_ASSERT_EQUAL(varint_decode(buf, buf + n, 10, &v), n);
		CU_ASSERT_EQUAL(v, cases[i].v);
		if (cases[i].v >= INT32_MIN && cases[i].v <= INT32_MAX) {
			CU_ASSERT_EQUAL(varint_decode(buf, buf + n, 5, &v), n);
			CU_ASSERT_EQUAL(v, cases[i].v);
		} else {
			CU_ASSERT_EQUAL(varint_decode(buf, buf + n, 5, &v), 0);
		}
		/* every truncation is refused */
		for (size_t cut = 0; cut < n; cut++)
			CU_ASSERT_EQUAL(varint_decode(buf, buf + cut, 10, &v), 0);
	}
}

static void test_varint_reject(void)
{
	/* more than 5 bytes for an int32, more than 10 for an int64 */
	static const uint8_t six[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x80, 0x00 };
	/* 5th byte carrying bits 32..34: does not fit an int32 */
	static const uint8_t wide32[] = { 0xff, 0xff, 0xff, 0xff, 0x1f };
	/* 10th byte carrying bit 64 */
	static const uint8_t wide64[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03 };
	/* padded zero: non-minimal but within bounds, accepted as Kafka does */
	static const uint8_t padded[] = { 0x80, 0x00 };
	int64_t v = 77;

	CU_ASSERT_EQUAL(varint_decode(six, six + sizeof(six), 5, &v), 0);
	CU_ASSERT_EQUAL(varint_decode(six, six + sizeof(six), 10, &v), 6);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(varint_decode(eleven, eleven + sizeof(eleven), 10, &v), 0);
	CU_ASSERT_EQUAL(varint_decode(eleven, eleven + sizeof(eleven), 64, &v), 0);
	CU_ASSERT_EQUAL(varint_decode(wide32, wide32 + sizeof(wide32), 5, &v), 0);
	CU_ASSERT_EQUAL(varint_decode(wide64, wide64 + sizeof(wide64), 10, &v), 0);
	CU_ASSERT_EQUAL(varint_decode(padded, padded + 2, 5, &v), 2);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(varint_decode(padded, padded + 2, 1, &v), 0);
	CU_ASSERT_EQUAL(varint_decode(padded, padded, 5, &v), 0);
	CU_ASSERT_EQUAL(varint_decode(padded, padded + 2, 0, &v), 0);
}

static void test_varint_random(void)
{
	unsigned seed = harness_seed();

	for (int i = 0; i < 100000; i++) {
		uint64_t u = ((uint64_t)rand_r(&seed) << 40) ^ ((uint64_t)rand_r(&seed) << 20) ^
			     (uint64_t)rand_r(&seed);
		int64_t x = (int64_t)(u >> (rand_r(&seed) % 64)), y;
		uint8_t buf[10];
		size_t n;

		if (rand_r(&seed) & 1)
			x = -x;
		n = varint_encode(x, buf);
		CU_ASSERT_FATAL(n >= 1 && n <= 10);
		CU_ASSERT_EQUAL(varint_decode(buf, buf + n, 10, &y), n);
		CU_ASSERT_EQUAL(y, x);
		if (x == (int32_t)x) {
			CU_ASSERT(n <= 5);
			CU_ASSERT_EQUAL(varint_decode(buf, buf + n, 5, &y), n);
			CU_ASSERT_EQUAL(y, x);
		}
	}
}

/* ---- the hand-written batch ----
 *
 * Two records, codec none, producerId 1000, producerEpoch 5, baseSequence 7:
 *   record 0: timestamp T0 = 1700000000000 (0x0000018BCFE56800), key "k1",
 *             value "v1", no headers
 *   record 1: timestamp T0 + 5, null key, value "hello", one header
 *             "h1" = "x"
 * Varints are zigzag: n >= 0 encodes as 2n, -1 as 1.
 *
 * record 0 body (10 bytes):
 *   00          attributes
 *   00          timestampDelta 0
 *   00          offsetDelta 0
 *   04 6b 31    keyLength 2, "k1"
 *   04 76 31    valueLength 2, "v1"
 *   00          headerCount 0
 *   preceded by its length: 10 -> 0x14                      = 11 bytes
 * record 1 body (16 bytes):
 *   00          attributes
 *   0a          timestampDelta 5
 *   02          offsetDelta 1
 *   01          keyLength -1 (null)
 *   0a 68 65 6c 6c 6f   valueLength 5, "hello"
 *   02          headerCount 1
 *   04 68 31    header keyLength 2, "h1"
 *   02 78       header valueLength 1, "x"
 *   preceded by its length: 16 -> 0x20                      = 17 bytes
 * batch = 61 + 11 + 17 = 89 bytes; batchLength = 89 - 12 = 77 = 0x4d.
 * CRC-32C over bytes 21..88 = 0xd3de01aa (checked with a bitwise CRC in
 * python3 and with crc32c_bitwise() below).
 */
#define HAND_T0 INT64_C(1700000000000)

static const uint8_t hand_batch[89] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /*  0 baseOffset 0 */
	0x00, 0x00, 0x00, 0x4d,                         /*  8 batchLength 77 */
	0xff, 0xff, 0xff, 0xff,                         /* 12 partitionLeaderEpoch -1 */
	0x02,                                           /* 16 magic 2 */
	0xd3, 0xde, 0x01, 0xaa,                         /* 17 crc */
	0x00, 0x00,                                     /* 21 attributes: none, CreateTime */
	0x00, 0x00, 0x00, 0x01,                         /* 23 lastOffsetDelta 1 */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* 27 baseTimestamp T0 */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05, /* 35 maxTimestamp T0 + 5 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* 43 producerId 1000 */
	0x00, 0x05,                                     /* 51 producerEpoch 5 */
	0x00, 0x00, 0x00, 0x07,                         /* 53 baseSequence 7 */
	0x00, 0x00, 0x00, 0x02,                         /* 57 recordCount 2 */
	/* 61 record 0 */
	0x14, 0x00, 0x00, 0x00, 0x04, 0x6b, 0x31, 0x04, 0x76, 0x31, 0x00,
	/* 72 record 1 */
	0x20, 0x00, 0x0a, 0x02, 0x01, 0x0a, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
	0x02, 0x04, 0x68, 0x31, 0x02, 0x78,
};

static void test_hand_batch_decode(void)
{
	record_batch_header_t h;
	record_batch_reader_t r;
	record_header_t hd;
	record_t rec;

	CU_ASSERT_EQUAL(crc32c_bitwise(hand_batch + 21, sizeof(hand_batch) - 21), 0xd3de01aau);
	CU_ASSERT_EQUAL(record_batch_compute_crc(hand_batch, sizeof(hand_batch)), 0xd3de01aau);

	CU_ASSERT_EQUAL_FATAL(record_batch_verify(hand_batch, sizeof(hand_batch), &h), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(h.base_offset, 0);
	CU_ASSERT_EQUAL(h.batch_length, 77);
	CU_ASSERT_EQUAL(h.partition_leader_epoch, -1);
	CU_ASSERT_EQUAL(h.magic, 2);
	CU_ASSERT_EQUAL(h.crc, 0xd3de01aau);
	CU_ASSERT_EQUAL(h.attributes, 0);
	CU_ASSERT_EQUAL(h.last_offset_delta, 1);
	CU_ASSERT_EQUAL(h.base_timestamp, HAND_T0);
	CU_ASSERT_EQUAL(h.max_timestamp, HAND_T0 + 5);
	CU_ASSERT_EQUAL(h.producer_id, 1000);
	CU_ASSERT_EQUAL(h.producer_epoch, 5);
	CU_ASSERT_EQUAL(h.base_sequence, 7);
	CU_ASSERT_EQUAL(h.record_count, 2);
	CU_ASSERT_EQUAL(record_batch_size(&h), sizeof(hand_batch));
	CU_ASSERT_EQUAL(record_batch_last_offset(&h), 1);

	CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, hand_batch, sizeof(hand_batch), 1 << 20),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(record_batch_reader_next(&r, &rec), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(rec.offset, 0);
	CU_ASSERT_EQUAL(rec.timestamp, HAND_T0);
	CU_ASSERT_EQUAL(rec.key_len, 2);
	CU_ASSERT_PTR_EQUAL(rec.key, hand_batch + 66);
	CU_ASSERT_EQUAL(memcmp(rec.key, "k1", 2), 0);
	CU_ASSERT_EQUAL(rec.value_len, 2);
	CU_ASSERT_EQUAL(memcmp(rec.value, "v1", 2), 0);
	CU_ASSERT_EQUAL(rec.header_count, 0);
	CU_ASSERT_EQUAL(rec.headers_raw_len, 0);
	CU_ASSERT_EQUAL(record_header_at(&rec, 0, &hd), BROOK_ERR__INVALID_ARG);

	CU_ASSERT_EQUAL_FATAL(record_batch_reader_next(&r, &rec), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(rec.offset, 1);
	CU_ASSERT_EQUAL(rec.timestamp, HAND_T0 + 5);
	CU_ASSERT_PTR_NULL(rec.key);
	CU_ASSERT_EQUAL(rec.key_len, -1);
	CU_ASSERT_EQUAL(rec.value_len, 5);
	CU_ASSERT_EQUAL(memcmp(rec.value, "hello", 5), 0);
	CU_ASSERT_EQUAL(rec.header_count, 1);
	CU_ASSERT_PTR_EQUAL(rec.headers_raw, hand_batch + 84);
	CU_ASSERT_EQUAL(rec.headers_raw_len, 5);
	CU_ASSERT_EQUAL_FATAL(record_header_at(&rec, 0, &hd), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(hd.key_len, 2);
	CU_ASSERT_EQUAL(memcmp(hd.key, "h1", 2), 0);
	CU_ASSERT_EQUAL(hd.value_len, 1);
	CU_ASSERT_EQUAL(memcmp(hd.value, "x", 1), 0);
	CU_ASSERT_EQUAL(record_header_at(&rec, 1, &hd), BROOK_ERR__INVALID_ARG);

	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__PARTITION_EOF);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__PARTITION_EOF);
	record_batch_reader_destroy(&r);
	record_batch_reader_destroy(&r); /* harmless twice */
}

static void test_hand_batch_build(void)
{
	static const record_header_t hdr = { "h1", 2, "x", 1 };
	record_batch_builder_t *b;
	uint8_t *out;
	size_t len;

	CU_ASSERT_EQUAL_FATAL(record_batch_builder_new(COMPRESS_NONE, 1000, 5, 7, &b), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_builder_add(b, HAND_T0, "k1", 2, "v1", 2, NULL, 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_builder_add(b, HAND_T0 + 5, NULL, 0, "hello", 5, &hdr, 1), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_builder_count(b), 2);
	CU_ASSERT_EQUAL(record_batch_builder_size(b), sizeof(hand_batch));
	CU_ASSERT_EQUAL_FATAL(record_batch_builder_finish(b, &out, &len), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(len, sizeof(hand_batch));
	if (len == sizeof(hand_batch)) {
		for (size_t i = 0; i < len; i++)
			if (out[i] != hand_batch[i]) {
				fprintf(stderr, "\n  byte %zu: built %02x, spec %02x\n", i, out[i], hand_batch[i]);
				CU_FAIL("builder output differs from the hand-written batch");
				break;
			}
	}
	free(out);
	record_batch_builder_free(b);
}

/* LogAppendTime: every record takes maxTimestamp. */
static void test_log_append_time(void)
{
	uint8_t batch[sizeof(hand_batch)];
	record_batch_reader_t r;
	record_t rec;

	memcpy(batch, hand_batch, sizeof(batch));
	batch[22] |= RECORD_ATTR_LOG_APPEND_TIME;
	be64_put(batch + 35, (uint64_t)(HAND_T0 + 1000));
	fix_crc(batch, sizeof(batch));
	CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, batch, sizeof(batch), 1 << 20), BROOK_ERR_NO_ERROR);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(record_batch_reader_next(&r, &rec), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(rec.timestamp, HAND_T0 + 1000);
	}
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__PARTITION_EOF);
	record_batch_reader_destroy(&r);
}

/* ---- round trips ---- */

/* Deterministic content of record i, so the reader side can check it. */
static void record_shape(int i, char *key, size_t *key_len, int *key_null,
			 uint8_t *value, size_t *value_len, int *value_null, size_t *nheaders)
{
	*key_null = i % 7 == 3;
	*value_null = i % 11 == 5;
	*key_len = *key_null ? 0 : (size_t)snprintf(key, 32, "key-%d", i) * (i % 13 != 4);
	*value_len = *value_null || i % 17 == 2 ? 0 : (size_t)(i * 37 % 300);
	for (size_t k = 0; k < *value_len; k++)
		value[k] = (uint8_t)(i + (int)k);
	*nheaders = (size_t)(i % 4);
}

static int64_t record_ts(int i)
{
	/* not monotonic: maxTimestamp must be the max, deltas may be negative */
	return HAND_T0 + (i % 5 == 1 ? -1000 - i : i * 3);
}

static void header_shape(int i, size_t k, record_header_t *h, char *kbuf, char *vbuf)
{
	int klen = snprintf(kbuf, 32, k == 1 ? "" : "hk%zu", k);

	h->key = kbuf;
	h->key_len = (size_t)klen;
	if (k == 2) {
		h->value = NULL; /* null header value */
		h->value_len = 0;
	} else {
		h->value = vbuf;
		h->value_len = (size_t)snprintf(vbuf, 32, "hv%d-%zu", i, k);
	}
}

static uint8_t *build(compress_codec_t codec, int n, size_t *len)
{
	record_batch_builder_t *b;
	uint8_t *out = NULL;

	CU_ASSERT_EQUAL_FATAL(record_batch_builder_new(codec, 424242, 3, 99, &b), BROOK_ERR_NO_ERROR);
	for (int i = 0; i < n; i++) {
		char key[32], hk[4][32], hv[4][32];
		uint8_t value[300];
		size_t key_len, value_len, nh;
		int key_null, value_null;
		record_header_t hs[4];

		record_shape(i, key, &key_len, &key_null, value, &value_len, &value_null, &nh);
		for (size_t k = 0; k < nh; k++)
			header_shape(i, k, &hs[k], hk[k], hv[k]);
		CU_ASSERT_EQUAL_FATAL(record_batch_builder_add(b, record_ts(i),
							       key_null ? NULL : key, key_len,
							       value_null ? NULL : value, value_len,
							       nh ? hs : NULL, nh),
				      BROOK_ERR_NO_ERROR);
	}
	CU_ASSERT_EQUAL(record_batch_builder_count(b), n);
	if (codec == COMPRESS_NONE) {
		size_t sz = record_batch_builder_size(b);

		CU_ASSERT_EQUAL_FATAL(record_batch_builder_finish(b, &out, len), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(*len, sz);
	} else {
		CU_ASSERT_EQUAL_FATAL(record_batch_builder_finish(b, &out, len), BROOK_ERR_NO_ERROR);
	}
	record_batch_builder_free(b);
	return out;
}

static void check_batch(const uint8_t *batch, size_t len, compress_codec_t codec, int n,
			int64_t base_offset)
{
	record_batch_reader_t r;
	record_t rec;
	int64_t max_ts = INT64_MIN;
	int i;

	CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, batch, len, 64u << 20), BROOK_ERR_NO_ERROR);
	for (i = 0; i < n; i++)
		if (record_ts(i) > max_ts)
			max_ts = record_ts(i);
	CU_ASSERT_EQUAL(r.hdr.base_offset, base_offset);
	CU_ASSERT_EQUAL(r.hdr.magic, 2);
	CU_ASSERT_EQUAL(r.hdr.attributes, codec);
	CU_ASSERT_EQUAL(r.hdr.record_count, n);
	CU_ASSERT_EQUAL(r.hdr.last_offset_delta, n - 1);
	CU_ASSERT_EQUAL(r.hdr.base_timestamp, record_ts(0));
	CU_ASSERT_EQUAL(r.hdr.max_timestamp, max_ts);
	CU_ASSERT_EQUAL(r.hdr.producer_id, 424242);
	CU_ASSERT_EQUAL(r.hdr.producer_epoch, 3);
	CU_ASSERT_EQUAL(r.hdr.base_sequence, 99);
	CU_ASSERT_EQUAL((size_t)r.hdr.batch_length, len - 12);

	for (i = 0; i < n; i++) {
		char key[32], hk[32], hv[32];
		uint8_t value[300];
		size_t key_len, value_len, nh;
		int key_null, value_null;
		brook_err_t err = record_batch_reader_next(&r, &rec);

		CU_ASSERT_EQUAL_FATAL(err, BROOK_ERR_NO_ERROR);
		record_shape(i, key, &key_len, &key_null, value, &value_len, &value_null, &nh);
		CU_ASSERT_EQUAL(rec.offset, base_offset + i);
		CU_ASSERT_EQUAL(rec.timestamp, record_ts(i));
		if (key_null) {
			CU_ASSERT_PTR_NULL(rec.key);
			CU_ASSERT_EQUAL(rec.key_len, -1);
		} else {
			CU_ASSERT_PTR_NOT_NULL(rec.key);
			CU_ASSERT_EQUAL(rec.key_len, (ssize_t)key_len);
			CU_ASSERT(key_len == 0 || memcmp(rec.key, key, key_len) == 0);
		}
		if (value_null) {
			CU_ASSERT_PTR_NULL(rec.value);
			CU_ASSERT_EQUAL(rec.value_len, -1);
		} else {
			CU_ASSERT_PTR_NOT_NULL(rec.value);
			CU_ASSERT_EQUAL(rec.value_len, (ssize_t)value_len);
			CU_ASSERT(value_len == 0 || memcmp(rec.value, value, value_len) == 0);
		}
		CU_ASSERT_EQUAL_FATAL(rec.header_count, nh);
		for (size_t k = 0; k < nh; k++) {
			record_header_t want, got;

			header_shape(i, k, &want, hk, hv);
			CU_ASSERT_EQUAL_FATAL(record_header_at(&rec, k, &got), BROOK_ERR_NO_ERROR);
			CU_ASSERT_EQUAL(got.key_len, want.key_len);
			CU_ASSERT(memcmp(got.key, want.key, want.key_len) == 0);
			if (!want.value) {
				CU_ASSERT_PTR_NULL(got.value);
			} else {
				CU_ASSERT_EQUAL(got.value_len, want.value_len);
				CU_ASSERT(memcmp(got.value, want.value, want.value_len) == 0);
			}
		}
	}
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__PARTITION_EOF);
	record_batch_reader_destroy(&r);
}

static void test_round_trip(void)
{
	static const int counts[] = { 1, 2, 30, 5000 };

	for (size_t c = 0; c < NCODECS; c++)
		for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
			size_t len;
			uint8_t *batch = build(codecs[c], counts[k], &len);

			CU_ASSERT_EQUAL(record_batch_verify(batch, len, NULL), BROOK_ERR_NO_ERROR);
			check_batch(batch, len, codecs[c], counts[k], 0);
			free(batch);
		}
}

/* One large record and the reader's inflation bound. */
static void test_large_record(void)
{
	size_t vlen = 3u << 20;
	uint8_t *value = malloc(vlen);

	CU_ASSERT_PTR_NOT_NULL_FATAL(value);
	for (size_t i = 0; i < vlen; i++)
		value[i] = (uint8_t)(i % 251);
	for (size_t c = 0; c < NCODECS; c++) {
		record_batch_builder_t *b;
		record_batch_reader_t r;
		record_t rec;
		uint8_t *batch;
		size_t len;

		CU_ASSERT_EQUAL_FATAL(record_batch_builder_new(codecs[c], -1, -1, -1, &b), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL_FATAL(record_batch_builder_add(b, 1, "big", 3, value, vlen, NULL, 0), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL_FATAL(record_batch_builder_finish(b, &batch, &len), BROOK_ERR_NO_ERROR);
		record_batch_builder_free(b);
		CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, batch, len, 4u << 20), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(r.hdr.producer_id, RECORD_NO_PRODUCER_ID);
		CU_ASSERT_EQUAL(r.hdr.producer_epoch, -1);
		CU_ASSERT_EQUAL(r.hdr.base_sequence, RECORD_NO_SEQUENCE);
		CU_ASSERT_EQUAL_FATAL(record_batch_reader_next(&r, &rec), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(rec.value_len, (ssize_t)vlen);
		CU_ASSERT_EQUAL(memcmp(rec.value, value, vlen), 0);
		CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__PARTITION_EOF);
		record_batch_reader_destroy(&r);
		if (codecs[c] != COMPRESS_NONE) {
			/* records inflate past the bound: refused, nothing to destroy */
			CU_ASSERT_EQUAL(record_batch_reader_init(&r, batch, len, 1u << 20), BROOK_ERR__BAD_MSG);
			CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__BAD_MSG);
		}
		free(batch);
	}
	free(value);
}

static void test_builder_api(void)
{
	record_batch_builder_t *b;
	record_header_t bad_hdr = { NULL, 3, "v", 1 };
	static uint8_t sentinel;
	uint8_t *out = &sentinel;
	size_t len = 5;

	CU_ASSERT_EQUAL(record_batch_builder_new(COMPRESS_SNAPPY, -1, -1, -1, &b), BROOK_ERR__UNKNOWN_CODEC);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_EQUAL(record_batch_builder_new((compress_codec_t)6, -1, -1, -1, &b), BROOK_ERR__UNKNOWN_CODEC);

	CU_ASSERT_EQUAL_FATAL(record_batch_builder_new(COMPRESS_NONE, -1, -1, -1, &b), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_builder_count(b), 0);
	CU_ASSERT_EQUAL(record_batch_builder_size(b), RECORD_BATCH_HEADER_SIZE);
	/* an empty batch is not a batch */
	CU_ASSERT_EQUAL(record_batch_builder_finish(b, &out, &len), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(len, 0);
	/* NULL with a length is a caller bug, not a null */
	CU_ASSERT_EQUAL(record_batch_builder_add(b, 1, NULL, 2, "v", 1, NULL, 0), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(record_batch_builder_add(b, 1, "k", 1, NULL, 1, NULL, 0), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(record_batch_builder_add(b, 1, "k", 1, "v", 1, NULL, 1), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(record_batch_builder_add(b, 1, "k", 1, "v", 1, &bad_hdr, 1), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(record_batch_builder_add(b, 1, "k", 1, "v", (size_t)INT32_MAX + 1, NULL, 0),
			BROOK_ERR_MESSAGE_TOO_LARGE);
	CU_ASSERT_EQUAL(record_batch_builder_count(b), 0);
	CU_ASSERT_EQUAL(record_batch_builder_size(b), RECORD_BATCH_HEADER_SIZE);
	/* smallest record: 1 length + 1 attr + 1 ts + 1 offset + 1 key + 1 value + 1 headers */
	CU_ASSERT_EQUAL(record_batch_builder_add(b, 1, NULL, 0, NULL, 0, NULL, 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_builder_size(b), RECORD_BATCH_HEADER_SIZE + 7);
	CU_ASSERT_EQUAL_FATAL(record_batch_builder_finish(b, &out, &len), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(len, RECORD_BATCH_HEADER_SIZE + 7);
	CU_ASSERT_EQUAL(record_batch_verify(out, len, NULL), BROOK_ERR_NO_ERROR);
	free(out);
	/* finished: only free is allowed */
	CU_ASSERT_EQUAL(record_batch_builder_add(b, 1, NULL, 0, NULL, 0, NULL, 0), BROOK_ERR__STATE);
	CU_ASSERT_EQUAL(record_batch_builder_finish(b, &out, &len), BROOK_ERR__STATE);
	record_batch_builder_free(b);
	record_batch_builder_free(NULL);
	CU_ASSERT_EQUAL(record_batch_builder_count(NULL), 0);
}

/* The broker stamps offsets and the leader epoch without touching the CRC. */
static void test_stamp_keeps_crc(void)
{
	for (size_t c = 0; c < NCODECS; c++) {
		size_t len;
		uint8_t *batch = build(codecs[c], 10, &len);
		record_batch_header_t h;

		record_batch_set_base_offset(batch, INT64_C(123456789012));
		record_batch_set_leader_epoch(batch, 42);
		CU_ASSERT_EQUAL_FATAL(record_batch_verify(batch, len, &h), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(h.base_offset, INT64_C(123456789012));
		CU_ASSERT_EQUAL(h.partition_leader_epoch, 42);
		CU_ASSERT_EQUAL(record_batch_last_offset(&h), INT64_C(123456789012) + 9);
		check_batch(batch, len, codecs[c], 10, INT64_C(123456789012));
		free(batch);
	}
}

/* ---- integrity ---- */

/* A flipped bit anywhere: outside the CRC's range only baseOffset and the
 * leader epoch may change silently; batchLength and magic are caught by
 * the header checks, everything from the CRC on by the CRC. */
static void test_verify_flips(void)
{
	for (size_t c = 0; c < NCODECS; c++) {
		size_t len;
		uint8_t *batch = build(codecs[c], 3, &len);

		for (size_t i = 0; i < len; i++) {
			brook_err_t want = i < 8 || (i >= 12 && i < 16) ? BROOK_ERR_NO_ERROR
					   : i < 17 ? BROOK_ERR__BAD_MSG
					   : BROOK_ERR_CORRUPT_MESSAGE;
			brook_err_t got;

			batch[i] ^= 0x01;
			got = record_batch_verify(batch, len, NULL);
			batch[i] ^= 0x01;
			CU_ASSERT_EQUAL(got, want);
			if (got != want) {
				fprintf(stderr, "\n  codec %d byte %zu: %s\n", codecs[c], i, brook_err_name(got));
				break;
			}
		}
		CU_ASSERT_EQUAL(record_batch_verify(batch, len, NULL), BROOK_ERR_NO_ERROR);
		free(batch);
	}
}

static void test_verify_codec(void)
{
	uint8_t batch[sizeof(hand_batch)];

	memcpy(batch, hand_batch, sizeof(batch));
	for (int codec = 0; codec < 8; codec++) {
		batch[22] = (uint8_t)codec;
		fix_crc(batch, sizeof(batch));
		CU_ASSERT_EQUAL(record_batch_verify(batch, sizeof(batch), NULL),
				codec == 2 || codec > 4 ? BROOK_ERR_UNSUPPORTED_COMPRESSION_TYPE
							: BROOK_ERR_NO_ERROR);
	}
}

static void test_truncated(void)
{
	record_batch_header_t h;
	record_batch_reader_t r;
	uint8_t batch[sizeof(hand_batch)];
	size_t len;
	uint8_t *big = build(COMPRESS_GZIP, 50, &len);

	for (size_t cut = 0; cut < sizeof(hand_batch); cut++) {
		CU_ASSERT_EQUAL(record_batch_verify(hand_batch, cut, &h), BROOK_ERR__BAD_MSG);
		CU_ASSERT_NOT_EQUAL(record_batch_reader_init(&r, hand_batch, cut, 1 << 20), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(record_batch_header_parse(hand_batch, cut, &h),
				cut < RECORD_BATCH_HEADER_SIZE ? BROOK_ERR__BAD_MSG : BROOK_ERR_NO_ERROR);
	}
	for (size_t cut = 0; cut < len; cut++)
		CU_ASSERT_EQUAL(record_batch_verify(big, cut, NULL), BROOK_ERR__BAD_MSG);
	free(big);

	/* header checks: magic, short batchLength, negative count/delta */
	memcpy(batch, hand_batch, sizeof(batch));
	batch[16] = 1;
	CU_ASSERT_EQUAL(record_batch_header_parse(batch, sizeof(batch), &h), BROOK_ERR__BAD_MSG);
	memcpy(batch, hand_batch, sizeof(batch));
	be32_put(batch + 8, 48);
	CU_ASSERT_EQUAL(record_batch_header_parse(batch, sizeof(batch), &h), BROOK_ERR__BAD_MSG);
	memcpy(batch, hand_batch, sizeof(batch));
	be32_put(batch + 57, (uint32_t)-1);
	CU_ASSERT_EQUAL(record_batch_header_parse(batch, sizeof(batch), &h), BROOK_ERR__BAD_MSG);
	memcpy(batch, hand_batch, sizeof(batch));
	be32_put(batch + 23, (uint32_t)-1);
	CU_ASSERT_EQUAL(record_batch_header_parse(batch, sizeof(batch), &h), BROOK_ERR__BAD_MSG);
	/* batchLength claiming more bytes than given */
	memcpy(batch, hand_batch, sizeof(batch));
	be32_put(batch + 8, 78);
	CU_ASSERT_EQUAL(record_batch_verify(batch, sizeof(batch), &h), BROOK_ERR__BAD_MSG);
}

/* recordCount that disagrees with the bytes, with a valid CRC. */
static void test_count_mismatch(void)
{
	uint8_t batch[sizeof(hand_batch)];
	record_batch_reader_t r;
	record_t rec;

	/* one record claimed, two present: trailing bytes */
	memcpy(batch, hand_batch, sizeof(batch));
	be32_put(batch + 57, 1);
	fix_crc(batch, sizeof(batch));
	CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, batch, sizeof(batch), 1 << 20), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__BAD_MSG); /* sticky */
	record_batch_reader_destroy(&r);

	/* three claimed, two present */
	be32_put(batch + 57, 3);
	fix_crc(batch, sizeof(batch));
	CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, batch, sizeof(batch), 1 << 20), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__BAD_MSG);
	record_batch_reader_destroy(&r);

	/* record 1 says 17 bytes follow where 16 do */
	memcpy(batch, hand_batch, sizeof(batch));
	batch[72] = 0x22;
	fix_crc(batch, sizeof(batch));
	CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, batch, sizeof(batch), 1 << 20), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__BAD_MSG);
	record_batch_reader_destroy(&r);

	/* record 0 claims one byte more than its fields use (Kafka: "Invalid
	 * record size"); the batch carries that byte, so only the record-level
	 * check can notice */
	{
		uint8_t padded[sizeof(hand_batch) + 1];

		memcpy(padded, hand_batch, 72);
		padded[61] = 0x16;  /* length 11 */
		padded[72] = 0x00;  /* the stray byte */
		memcpy(padded + 73, hand_batch + 72, sizeof(hand_batch) - 72);
		be32_put(padded + 8, sizeof(padded) - 12);
		fix_crc(padded, sizeof(padded));
		CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, padded, sizeof(padded), 1 << 20),
				      BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__BAD_MSG);
		record_batch_reader_destroy(&r);
	}

	/* record 1's value length runs past the record's end (but not the batch's) */
	memcpy(batch, hand_batch, sizeof(batch));
	batch[61] = 0x10; /* record 0 claims 8 bytes: its value no longer fits */
	fix_crc(batch, sizeof(batch));
	CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, batch, sizeof(batch), 1 << 20), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(record_batch_reader_next(&r, &rec), BROOK_ERR__BAD_MSG);
	record_batch_reader_destroy(&r);
}

/* ---- hostile input ---- */

/* Reads every record, checking that what the reader hands out lies inside
 * [lo, hi); returns the final status. */
static brook_err_t drain(record_batch_reader_t *r, const uint8_t *lo, const uint8_t *hi)
{
	record_t rec;
	brook_err_t err;

	while ((err = record_batch_reader_next(r, &rec)) == BROOK_ERR_NO_ERROR) {
		CU_ASSERT(rec.key_len >= -1 && rec.value_len >= -1);
		if (rec.key)
			CU_ASSERT(rec.key >= lo && rec.key + rec.key_len <= hi);
		if (rec.value)
			CU_ASSERT(rec.value >= lo && rec.value + rec.value_len <= hi);
		CU_ASSERT(rec.headers_raw >= lo && rec.headers_raw + rec.headers_raw_len <= hi);
		for (size_t k = 0; k < rec.header_count; k++) {
			record_header_t h;

			CU_ASSERT_EQUAL(record_header_at(&rec, k, &h), BROOK_ERR_NO_ERROR);
		}
	}
	CU_ASSERT(err == BROOK_ERR__PARTITION_EOF || err == BROOK_ERR__BAD_MSG);
	return err;
}

/* Random record bytes behind a valid header and CRC, so the record parser
 * itself is attacked; then bit flips in real batches of every codec with
 * the CRC fixed up; then plain garbage. */
static void test_fuzz(void)
{
	unsigned seed = harness_seed();
	unsigned eof = 0, bad = 0;

	for (int iter = 0; iter < 20000; iter++) {
		size_t rlen = (size_t)rand_r(&seed) % 200;
		size_t len = RECORD_BATCH_HEADER_SIZE + rlen;
		uint8_t *batch = malloc(len); /* exact size: ASan sees any overrun */
		record_batch_reader_t r;

		CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
		memcpy(batch, hand_batch, RECORD_BATCH_HEADER_SIZE);
		be32_put(batch + 8, (uint32_t)(len - 12));
		be32_put(batch + 57, (uint32_t)(rand_r(&seed) % 6));
		for (size_t i = RECORD_BATCH_HEADER_SIZE; i < len; i++) {
			/* small bytes make plausible varints more often */
			int roll = rand_r(&seed);

			batch[i] = (uint8_t)(roll & 0x100 ? roll & 0x0f : roll >> 3);
		}
		fix_crc(batch, len);
		CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, batch, len, 1 << 20), BROOK_ERR_NO_ERROR);
		if (drain(&r, batch, batch + len) == BROOK_ERR__PARTITION_EOF)
			eof++;
		else
			bad++;
		record_batch_reader_destroy(&r);
		free(batch);
	}
	CU_ASSERT(bad > 0);

	for (size_t c = 0; c < NCODECS; c++) {
		size_t len;
		uint8_t *orig = build(codecs[c], 20, &len);
		uint8_t *batch = malloc(len);

		CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
		for (int iter = 0; iter < 2000; iter++) {
			record_batch_reader_t r;
			int flips = 1 + rand_r(&seed) % 4;

			memcpy(batch, orig, len);
			for (int f = 0; f < flips; f++) {
				size_t at = RECORD_BATCH_HEADER_SIZE +
					    (size_t)rand_r(&seed) % (len - RECORD_BATCH_HEADER_SIZE);

				batch[at] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
			}
			fix_crc(batch, len);
			if (record_batch_reader_init(&r, batch, len, 1 << 20) != BROOK_ERR_NO_ERROR) {
				CU_ASSERT_PTR_NULL(r.inflated.data);
				continue;
			}
			if (codecs[c] == COMPRESS_NONE)
				drain(&r, batch, batch + len);
			else
				drain(&r, r.inflated.data, r.inflated.data + r.inflated.len);
			record_batch_reader_destroy(&r);
		}
		free(batch);
		free(orig);
	}

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)rand_r(&seed) % 300;
		uint8_t *junk = malloc(len ? len : 1);
		record_batch_reader_t r;
		record_batch_header_t h;

		CU_ASSERT_PTR_NOT_NULL_FATAL(junk);
		for (size_t i = 0; i < len; i++)
			junk[i] = (uint8_t)rand_r(&seed);
		if (len > 16 && iter % 2)
			junk[16] = RECORD_BATCH_MAGIC;
		(void)record_batch_header_parse(junk, len, &h);
		CU_ASSERT_NOT_EQUAL(record_batch_verify(junk, len, &h), BROOK_ERR_NO_ERROR);
		CU_ASSERT_NOT_EQUAL(record_batch_reader_init(&r, junk, len, 1 << 20), BROOK_ERR_NO_ERROR);
		free(junk);
	}
	fprintf(stderr, "\n  fuzz: %u random record sets parsed to the end, %u refused\n", eof, bad);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "varint known encodings", test_varint_known },
		{ "varint rejects overlong and truncated", test_varint_reject },
		{ "varint random round trip", test_varint_random },
		{ "hand-written batch decodes field by field", test_hand_batch_decode },
		{ "builder reproduces the hand-written batch", test_hand_batch_build },
		{ "LogAppendTime uses maxTimestamp", test_log_append_time },
		{ "round trip, every codec", test_round_trip },
		{ "large record and inflation bound", test_large_record },
		{ "builder API and misuse", test_builder_api },
		{ "offset/epoch stamping keeps the CRC", test_stamp_keeps_crc },
		{ "verify catches every flipped bit", test_verify_flips },
		{ "verify: codec numbers", test_verify_codec },
		{ "truncated and malformed headers", test_truncated },
		{ "record count or length that lies", test_count_mismatch },
		{ "fuzz: never crashes", test_fuzz },
		{ NULL, NULL },
	};

	return harness_run("record", tests);
}
