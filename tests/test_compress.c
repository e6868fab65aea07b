/* test_compress.c - codecs: round trips, Kafka-compatible framing, hostile
 * input (truncated, corrupt, garbage, zip bombs) and the max_out bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "compress.h"
#include "harness.h"

static const compress_codec_t codecs[] = {
	COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_LZ4, COMPRESS_ZSTD,
};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))
static const compress_codec_t real_codecs[] = { COMPRESS_GZIP, COMPRESS_LZ4, COMPRESS_ZSTD };
#define NREAL (sizeof(real_codecs) / sizeof(real_codecs[0]))

/* Text-like (compressible) when text, else random. */
static uint8_t *make_input(size_t len, int text, unsigned *seed)
{
	static const char words[] = "brook kafka record batch offset leader epoch ";
	uint8_t *b = malloc(len ? len : 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (size_t i = 0; i < len; i++)
		b[i] = text ? (uint8_t)words[(i + (size_t)rand_r(seed) % 3) % (sizeof(words) - 1)]
			    : (uint8_t)(rand_r(seed) >> 5);
	return b;
}

static void round_trip(compress_codec_t codec, const uint8_t *in, size_t len)
{
	compress_buf_t c = { 0 }, d = { 0 };

	CU_ASSERT_EQUAL_FATAL(compress_data(codec, in, len, &c), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(compress_decompress(codec, c.data, c.len, len, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(d.len, len);
	if (d.len == len && len > 0)
		CU_ASSERT_EQUAL(memcmp(d.data, in, len), 0);
	compress_buf_free(&c);
	compress_buf_free(&d);
}

static void test_round_trip(void)
{
	static const size_t sizes[] = { 0, 1, 7, 100, 4096, 65535, 65536, 65537, 300000, 1u << 21 };
	unsigned seed = harness_seed();

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (int text = 0; text <= 1; text++) {
			uint8_t *in = make_input(sizes[s], text, &seed);

			for (size_t c = 0; c < NCODECS; c++)
				round_trip(codecs[c], in, sizes[s]);
			free(in);
		}
}

/* Output is appended after what the buffer already holds, on both sides. */
static void test_appends(void)
{
	for (size_t c = 0; c < NCODECS; c++) {
		compress_buf_t cb = { 0 }, db = { 0 };
		size_t clen;

		CU_ASSERT_EQUAL_FATAL(compress_data(COMPRESS_NONE, "HDR", 3, &cb), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL_FATAL(compress_data(codecs[c], "payload", 7, &cb), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(memcmp(cb.data, "HDR", 3), 0);
		clen = cb.len - 3;
		CU_ASSERT_EQUAL_FATAL(compress_data(COMPRESS_NONE, "xy", 2, &db), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(compress_decompress(codecs[c], cb.data + 3, clen, 7, &db), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(db.len, 9);
		CU_ASSERT_EQUAL(memcmp(db.data, "xypayload", 9), 0);
		compress_buf_free(&cb);
		compress_buf_free(&db);
	}
}

/* Framing that Kafka's Java readers expect. */
static void test_kafka_framing(void)
{
	compress_buf_t b = { 0 };

	/* gzip member: 1f 8b, method 8 (deflate) */
	CU_ASSERT_EQUAL_FATAL(compress_data(COMPRESS_GZIP, "abc", 3, &b), BROOK_ERR_NO_ERROR);
	CU_ASSERT_TRUE(b.len > 18 && b.data[0] == 0x1f && b.data[1] == 0x8b && b.data[2] == 8);
	compress_buf_free(&b);

	/* LZ4 frame: magic 04 22 4d 18; FLG 0x60 = version 01, independent
	 * blocks, no block/content checksum, no content size; BD 0x40 = 64 KiB
	 * blocks: what KafkaLZ4BlockOutputStream writes. */
	CU_ASSERT_EQUAL_FATAL(compress_data(COMPRESS_LZ4, "abc", 3, &b), BROOK_ERR_NO_ERROR);
	CU_ASSERT_TRUE(b.len >= 7);
	CU_ASSERT_EQUAL(memcmp(b.data, "\x04\x22\x4d\x18", 4), 0);
	CU_ASSERT_EQUAL(b.data[4], 0x60);
	CU_ASSERT_EQUAL(b.data[5], 0x40);
	compress_buf_free(&b);

	/* zstd frame magic 28 b5 2f fd */
	CU_ASSERT_EQUAL_FATAL(compress_data(COMPRESS_ZSTD, "abc", 3, &b), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(memcmp(b.data, "\x28\xb5\x2f\xfd", 4), 0);
	compress_buf_free(&b);
}

/* Other producers' framings: zstd without a content size (streaming
 * producers), several frames/members back to back, LZ4 with content size
 * and checksum. */
static void test_foreign_framing(void)
{
	unsigned seed = harness_seed() + 1;
	size_t len = 200000;
	uint8_t *in = make_input(len, 1, &seed);
	compress_buf_t d = { 0 };
	size_t bound = ZSTD_compressBound(len) + LZ4F_compressFrameBound(len, NULL) + 2 * compressBound(len) + 64;
	uint8_t *z = malloc(bound);

	CU_ASSERT_PTR_NOT_NULL_FATAL(z);

	/* zstd, streaming, content size left out */
	{
		ZSTD_CCtx *cctx = ZSTD_createCCtx();
		ZSTD_inBuffer ib = { in, len, 0 };
		ZSTD_outBuffer ob = { z, bound, 0 };
		unsigned long long content;

		CU_ASSERT_PTR_NOT_NULL_FATAL(cctx);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
		CU_ASSERT_EQUAL(ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end), 0);
		ZSTD_freeCCtx(cctx);
		content = ZSTD_getFrameContentSize(z, ob.pos);
		CU_ASSERT_EQUAL(content, ZSTD_CONTENTSIZE_UNKNOWN);
		CU_ASSERT_EQUAL(compress_decompress(COMPRESS_ZSTD, z, ob.pos, len, &d), BROOK_ERR_NO_ERROR);
		CU_ASSERT_TRUE(d.len == len && memcmp(d.data, in, len) == 0);
		compress_buf_free(&d);

		/* two frames back to back decode as the concatenation */
		size_t one = ob.pos;
		memcpy(z + one, z, one);
		CU_ASSERT_EQUAL(compress_decompress(COMPRESS_ZSTD, z, 2 * one, 2 * len, &d), BROOK_ERR_NO_ERROR);
		CU_ASSERT_TRUE(d.len == 2 * len && memcmp(d.data + len, in, len) == 0);
		compress_buf_free(&d);
	}

	/* LZ4 frame with content size, content checksum and linked blocks */
	{
		LZ4F_preferences_t prefs;
		size_t n;

		memset(&prefs, 0, sizeof(prefs));
		prefs.frameInfo.contentSize = len;
		prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
		prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
		prefs.frameInfo.blockMode = LZ4F_blockLinked;
		n = LZ4F_compressFrame(z, bound, in, len, &prefs);
		CU_ASSERT_FATAL(!LZ4F_isError(n));
		CU_ASSERT_EQUAL(compress_decompress(COMPRESS_LZ4, z, n, len, &d), BROOK_ERR_NO_ERROR);
		CU_ASSERT_TRUE(d.len == len && memcmp(d.data, in, len) == 0);
		compress_buf_free(&d);
		/* the content checksum catches a flipped payload byte */
		z[n / 2] ^= 0x40;
		CU_ASSERT_EQUAL(compress_decompress(COMPRESS_LZ4, z, n, len, &d), BROOK_ERR__BAD_MSG);
		CU_ASSERT_EQUAL(d.len, 0);
		compress_buf_free(&d);
	}

	/* gzip: two members (RFC 1952 allows it, GZIPInputStream reads it) */
	{
		compress_buf_t c = { 0 };

		CU_ASSERT_EQUAL_FATAL(compress_data(COMPRESS_GZIP, in, 1000, &c), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL_FATAL(compress_data(COMPRESS_GZIP, in + 1000, len - 1000, &c), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(compress_decompress(COMPRESS_GZIP, c.data, c.len, len, &d), BROOK_ERR_NO_ERROR);
		CU_ASSERT_TRUE(d.len == len && memcmp(d.data, in, len) == 0);
		compress_buf_free(&d);
		compress_buf_free(&c);
	}
	free(z);
	free(in);
}

static void test_empty_input(void)
{
	compress_buf_t d = { 0 };

	/* Zero bytes are not a stream for any real codec. */
	for (size_t c = 0; c < NREAL; c++) {
		CU_ASSERT_EQUAL(compress_decompress(real_codecs[c], "", 0, 100, &d), BROOK_ERR__BAD_MSG);
		CU_ASSERT_EQUAL(d.len, 0);
	}
	CU_ASSERT_EQUAL(compress_decompress(COMPRESS_NONE, "", 0, 100, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(d.len, 0);
	CU_ASSERT_EQUAL(compress_decompress(COMPRESS_NONE, NULL, 0, 0, &d), BROOK_ERR_NO_ERROR);
	compress_buf_free(&d);
}

/* Every prefix of a valid stream is refused, and out keeps its length. */
static void test_truncated(void)
{
	unsigned seed = harness_seed() + 2;
	size_t len = 150000; /* several LZ4 blocks, several deflate blocks */
	uint8_t *in = make_input(len, 1, &seed);

	for (size_t c = 0; c < NREAL; c++) {
		compress_buf_t z = { 0 }, d = { 0 };
		unsigned accepted = 0;

		CU_ASSERT_EQUAL_FATAL(compress_data(real_codecs[c], in, len, &z), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL_FATAL(compress_data(COMPRESS_NONE, "keep", 4, &d), BROOK_ERR_NO_ERROR);
		for (size_t cut = 0; cut < z.len; cut += cut < 64 ? 1 : 1 + cut / 50) {
			brook_err_t err = compress_decompress(real_codecs[c], z.data, cut, len, &d);

			accepted += err != BROOK_ERR__BAD_MSG;
			CU_ASSERT_EQUAL(d.len, 4);
		}
		/* the last byte matters too */
		CU_ASSERT_EQUAL(compress_decompress(real_codecs[c], z.data, z.len - 1, len, &d), BROOK_ERR__BAD_MSG);
		CU_ASSERT_EQUAL(accepted, 0);
		CU_ASSERT_EQUAL(compress_decompress(real_codecs[c], z.data, z.len, len, &d), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(d.len, 4 + len);
		compress_buf_free(&z);
		compress_buf_free(&d);
	}
	free(in);
}

/* Garbage and single-byte corruption: never a crash; garbage is refused;
 * a flip is refused or decodes to something within max_out (LZ4 as Kafka
 * writes it has no content checksum, so not every flip is detectable). */
static void test_corrupt(void)
{
	unsigned seed = harness_seed() + 3;
	size_t len = 20000;
	uint8_t *in = make_input(len, 1, &seed);
	uint8_t junk[512];

	for (size_t c = 0; c < NREAL; c++) {
		compress_buf_t z = { 0 }, d = { 0 };
		unsigned gzip_missed = 0;

		CU_ASSERT_EQUAL(compress_decompress(real_codecs[c], "not compressed at all", 21,
						    len, &d), BROOK_ERR__BAD_MSG);
		for (int i = 0; i < 200; i++) {
			size_t n = (size_t)rand_r(&seed) % sizeof(junk);

			for (size_t k = 0; k < n; k++)
				junk[k] = (uint8_t)rand_r(&seed);
			CU_ASSERT_EQUAL(compress_decompress(real_codecs[c], junk, n, len, &d), BROOK_ERR__BAD_MSG);
			CU_ASSERT_EQUAL(d.len, 0);
		}

		CU_ASSERT_EQUAL_FATAL(compress_data(real_codecs[c], in, len, &z), BROOK_ERR_NO_ERROR);
		for (int i = 0; i < 500; i++) {
			size_t at = (size_t)rand_r(&seed) % z.len;
			uint8_t flip = (uint8_t)(1u << (rand_r(&seed) % 8));
			brook_err_t err;

			z.data[at] ^= flip;
			err = compress_decompress(real_codecs[c], z.data, z.len, len, &d);
			z.data[at] ^= flip;
			CU_ASSERT(err == BROOK_ERR__BAD_MSG || err == BROOK_ERR_NO_ERROR);
			CU_ASSERT(d.len <= len);
			if (err == BROOK_ERR__BAD_MSG)
				CU_ASSERT_EQUAL(d.len, 0);
			/* gzip's CRC-32 and length trailer catch every flip */
			if (real_codecs[c] == COMPRESS_GZIP && err == BROOK_ERR_NO_ERROR &&
			    memcmp(d.data, in, len) != 0)
				gzip_missed++;
			d.len = 0;
		}
		CU_ASSERT_EQUAL(gzip_missed, 0);
		compress_buf_free(&z);
		compress_buf_free(&d);
	}
	free(in);
}

/* A small stream that inflates hugely is refused once it passes max_out,
 * and memory stays within max_out + 1 whatever the input claims. */
static void test_max_out(void)
{
	size_t big = 16u << 20, limit = 1u << 20;
	uint8_t *zeros = calloc(1, big);

	CU_ASSERT_PTR_NOT_NULL_FATAL(zeros);
	for (size_t c = 0; c < NCODECS; c++) {
		compress_buf_t z = { 0 }, d = { 0 };

		/* exactly at the bound: fine; one byte under: refused */
		CU_ASSERT_EQUAL_FATAL(compress_data(codecs[c], zeros, limit, &z), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(compress_decompress(codecs[c], z.data, z.len, limit, &d), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(d.len, limit);
		compress_buf_free(&d);
		CU_ASSERT_EQUAL(compress_decompress(codecs[c], z.data, z.len, limit - 1, &d), BROOK_ERR__BAD_MSG);
		CU_ASSERT_EQUAL(d.len, 0);
		CU_ASSERT(d.cap <= limit);
		compress_buf_free(&d);
		CU_ASSERT_EQUAL(compress_decompress(codecs[c], z.data, z.len, 0, &d), BROOK_ERR__BAD_MSG);
		CU_ASSERT(d.cap <= 1);
		compress_buf_free(&d);
		compress_buf_free(&z);

		/* a bomb: 16 MiB of zeros against a 1 MiB bound */
		CU_ASSERT_EQUAL_FATAL(compress_data(codecs[c], zeros, big, &z), BROOK_ERR_NO_ERROR);
		if (codecs[c] != COMPRESS_NONE)
			CU_ASSERT(z.len < big / 100);
		CU_ASSERT_EQUAL(compress_decompress(codecs[c], z.data, z.len, limit, &d), BROOK_ERR__BAD_MSG);
		CU_ASSERT_EQUAL(d.len, 0);
		CU_ASSERT(d.cap <= limit + 1);
		compress_buf_free(&d);
		compress_buf_free(&z);
	}
	free(zeros);
}

static void test_codec_names(void)
{
	compress_codec_t codec = COMPRESS_ZSTD;
	compress_buf_t b = { 0 };

	CU_ASSERT_STRING_EQUAL(compress_codec_name(COMPRESS_NONE), "none");
	CU_ASSERT_STRING_EQUAL(compress_codec_name(COMPRESS_GZIP), "gzip");
	CU_ASSERT_STRING_EQUAL(compress_codec_name(COMPRESS_SNAPPY), "snappy");
	CU_ASSERT_STRING_EQUAL(compress_codec_name(COMPRESS_LZ4), "lz4");
	CU_ASSERT_STRING_EQUAL(compress_codec_name(COMPRESS_ZSTD), "zstd");
	CU_ASSERT_PTR_NULL(compress_codec_name((compress_codec_t)5));
	CU_ASSERT_PTR_NULL(compress_codec_name((compress_codec_t)-1));

	for (size_t c = 0; c < NCODECS; c++) {
		CU_ASSERT_EQUAL(compress_codec_parse(compress_codec_name(codecs[c]), &codec), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(codec, codecs[c]);
	}
	CU_ASSERT_EQUAL(compress_codec_parse("snappy", &codec), BROOK_ERR__UNKNOWN_CODEC);
	CU_ASSERT_EQUAL(compress_codec_parse("brotli", &codec), BROOK_ERR__UNKNOWN_CODEC);
	CU_ASSERT_EQUAL(compress_codec_parse("", &codec), BROOK_ERR__UNKNOWN_CODEC);
	CU_ASSERT_EQUAL(codec, COMPRESS_ZSTD); /* untouched on failure */

	/* snappy is known by number but not supported, nor is any other number */
	CU_ASSERT_EQUAL(compress_data(COMPRESS_SNAPPY, "abc", 3, &b), BROOK_ERR__UNKNOWN_CODEC);
	CU_ASSERT_EQUAL(compress_decompress(COMPRESS_SNAPPY, "abc", 3, 100, &b), BROOK_ERR__UNKNOWN_CODEC);
	CU_ASSERT_EQUAL(compress_data((compress_codec_t)7, "abc", 3, &b), BROOK_ERR__UNKNOWN_CODEC);
	CU_ASSERT_EQUAL(compress_decompress((compress_codec_t)7, "abc", 3, 100, &b), BROOK_ERR__UNKNOWN_CODEC);
	CU_ASSERT_EQUAL(b.len, 0);
	compress_buf_free(&b);
	compress_buf_free(&b); /* idempotent */
	compress_buf_free(NULL);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "round trip, every codec and size", test_round_trip },
		{ "output appends to the buffer", test_appends },
		{ "framing Kafka readers expect", test_kafka_framing },
		{ "other producers' framings decode", test_foreign_framing },
		{ "empty input", test_empty_input },
		{ "every truncation is refused", test_truncated },
		{ "garbage and flipped bytes never crash", test_corrupt },
		{ "max_out bounds output and memory", test_max_out },
		{ "codec names, snappy and unknown codecs", test_codec_names },
		{ NULL, NULL },
	};

	return harness_run("compress", tests);
}
