/*
 * compress.c - gzip, lz4 (frame format) and zstd for RecordBatch payloads.
 *
 * Decompression treats its input as hostile: every codec runs in streaming
 * mode into a buffer that grows geometrically but never past max_out + 1
 * bytes, so a small "zip bomb" costs at most max_out bytes of memory before
 * it is refused, and a stream that ends early or does not decode is a
 * BROOK_ERR__BAD_MSG. On any failure `out` keeps its previous length.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "compress.h"

/* Kafka's default levels: Deflater.DEFAULT_COMPRESSION and zstd's 3. */
#define COMPRESS_ZSTD_LEVEL 3
/* First guess of the decompressed size, as a multiple of the input. */
#define COMPRESS_INFLATE_GUESS 4
#define COMPRESS_MIN_ROOM 4096

static const char *const codec_names[] = {
	[COMPRESS_NONE] = "none",
	[COMPRESS_GZIP] = "gzip",
	[COMPRESS_SNAPPY] = "snappy",
	[COMPRESS_LZ4] = "lz4",
	[COMPRESS_ZSTD] = "zstd",
};

void compress_buf_free(compress_buf_t *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

brook_err_t compress_buf_reserve(compress_buf_t *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra > SIZE_MAX - b->len)
		return BROOK_ERR__NOMEM;
	need = b->len + extra;
	if (need <= b->cap)
		return BROOK_ERR_NO_ERROR;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return BROOK_ERR__NOMEM;
	b->data = p;
	b->cap = cap;
	return BROOK_ERR_NO_ERROR;
}

const char *compress_codec_name(compress_codec_t codec)
{
	if ((unsigned)codec >= sizeof(codec_names) / sizeof(codec_names[0]))
		return NULL;
	return codec_names[codec];
}

brook_err_t compress_codec_parse(const char *name, compress_codec_t *codec)
{
	for (unsigned i = 0; i < sizeof(codec_names) / sizeof(codec_names[0]); i++) {
		/* Refusing snappy here makes compression.type=snappy fail at
		 * startup rather than on the first batch. */
		if (i == COMPRESS_SNAPPY || strcmp(name, codec_names[i]) != 0)
			continue;
		*codec = (compress_codec_t)i;
		return BROOK_ERR_NO_ERROR;
	}
	return BROOK_ERR__UNKNOWN_CODEC;
}

/* ---- compression ---- */

static brook_err_t gzip_compress(const uint8_t *in, size_t len, compress_buf_t *out)
{
	z_stream zs;
	brook_err_t err;
	int zr;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip wrapper, what Java's GZIPOutputStream
	 * (Kafka's producer) writes. */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return BROOK_ERR__NOMEM;
	/* avail_in/avail_out are 32-bit: feed and drain in slices. */
	do {
		uInt in_slice = len > UINT_MAX ? UINT_MAX : (uInt)len;
		int flush = in_slice == len ? Z_FINISH : Z_NO_FLUSH;

		zs.next_in = (Bytef *)(uintptr_t)in;
		zs.avail_in = in_slice;
		do {
			size_t room = deflateBound(&zs, zs.avail_in);

			if (room < COMPRESS_MIN_ROOM)
				room = COMPRESS_MIN_ROOM;
			if (room > UINT_MAX)
				room = UINT_MAX;
			if ((err = compress_buf_reserve(out, room)) != BROOK_ERR_NO_ERROR)
				goto done;
			zs.next_out = out->data + out->len;
			zs.avail_out = (uInt)room;
			zr = deflate(&zs, flush);
			out->len += room - zs.avail_out;
			if (zr == Z_STREAM_ERROR) {
				err = BROOK_ERR__INVALID_ARG;
				goto done;
			}
		} while (zs.avail_in > 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
		in += in_slice;
		len -= in_slice;
	} while (len > 0);
	err = BROOK_ERR_NO_ERROR;
done:
	deflateEnd(&zs);
	return err;
}

/* Kafka's KafkaLZ4BlockInputStream decodes each block on its own into a
 * buffer of the frame's maximum block size: blocks must be independent.
 * 64 KiB blocks and no checksums beyond the header's are what Kafka's
 * KafkaLZ4BlockOutputStream and librdkafka write. */
static brook_err_t lz4_compress(const uint8_t *in, size_t len, compress_buf_t *out)
{
	LZ4F_preferences_t prefs;
	size_t bound, n;
	brook_err_t err;

	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
	prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
	bound = LZ4F_compressFrameBound(len, &prefs);
	if (LZ4F_isError(bound))
		return BROOK_ERR__INVALID_ARG;
	if ((err = compress_buf_reserve(out, bound)) != BROOK_ERR_NO_ERROR)
		return err;
	n = LZ4F_compressFrame(out->data + out->len, bound, in, len, &prefs);
	if (LZ4F_isError(n))
		return BROOK_ERR__INVALID_ARG;
	out->len += n;
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t zstd_compress(const uint8_t *in, size_t len, compress_buf_t *out)
{
	size_t bound = ZSTD_compressBound(len), n;
	brook_err_t err;

	if (ZSTD_isError(bound))
		return BROOK_ERR__INVALID_ARG;
	if ((err = compress_buf_reserve(out, bound)) != BROOK_ERR_NO_ERROR)
		return err;
	n = ZSTD_compress(out->data + out->len, bound, in, len, COMPRESS_ZSTD_LEVEL);
	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? BROOK_ERR__NOMEM
									   : BROOK_ERR__INVALID_ARG;
	out->len += n;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t compress_data(compress_codec_t codec, const void *in, size_t len,
			  compress_buf_t *out)
{
	size_t start = out->len;
	brook_err_t err;

	switch (codec) {
	case COMPRESS_NONE:
		if ((err = compress_buf_reserve(out, len)) == BROOK_ERR_NO_ERROR && len > 0) {
			memcpy(out->data + out->len, in, len);
			out->len += len;
		}
		break;
	case COMPRESS_GZIP:
		err = gzip_compress(in, len, out);
		break;
	case COMPRESS_LZ4:
		err = lz4_compress(in, len, out);
		break;
	case COMPRESS_ZSTD:
		err = zstd_compress(in, len, out);
		break;
	default:
		return BROOK_ERR__UNKNOWN_CODEC;
	}
	if (err)
		out->len = start;
	return err;
}

/* ---- decompression ---- */

/* Output window of one decompression call: bytes produced so far are
 * out->data[start .. start + produced). */
typedef struct sink {
	compress_buf_t *out;
	size_t start;
	size_t produced;
	size_t max_out;
	size_t hint; /* expected total, for the first allocation */
} sink_t;

/* Makes room for more output and returns where it goes and how much fits.
 * The buffer grows by doubling what was produced, but exactly (not through
 * compress_buf_reserve's rounding) and never past max_out + 1 bytes of
 * output: producing that last byte is how a codec tells us the data is too
 * large, and the allocation stays within max_out + 1 however hostile the
 * input. */
static brook_err_t sink_room(sink_t *s, uint8_t **dst, size_t *room)
{
	size_t limit = s->max_out == SIZE_MAX ? SIZE_MAX : s->max_out + 1;
	size_t left = limit - s->produced;
	size_t used = s->start + s->produced;

	if (s->out->cap <= used) {
		size_t want = s->produced ? s->produced : s->hint;
		uint8_t *p;

		if (want < COMPRESS_MIN_ROOM)
			want = COMPRESS_MIN_ROOM;
		if (want > left)
			want = left;
		if (want > SIZE_MAX - used)
			return BROOK_ERR__NOMEM;
		p = realloc(s->out->data, used + want);
		if (!p)
			return BROOK_ERR__NOMEM;
		s->out->data = p;
		s->out->cap = used + want;
	}
	*dst = s->out->data + used;
	*room = s->out->cap - used;
	if (*room > left)
		*room = left;
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t gzip_decompress(const uint8_t *in, size_t len, sink_t *s)
{
	brook_err_t err = BROOK_ERR__BAD_MSG;
	z_stream zs;
	int zr;

	memset(&zs, 0, sizeof(zs));
	/* 15 + 16: gzip wrapper only, as Kafka's GZIPInputStream expects. */
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return BROOK_ERR__NOMEM;
	zs.next_in = (Bytef *)(uintptr_t)in;
	for (;;) {
		size_t in_left = len - (size_t)((const uint8_t *)zs.next_in - in);
		uInt in_slice = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
		uInt out_slice;
		uint8_t *dst;
		size_t room;

		if ((err = sink_room(s, &dst, &room)) != BROOK_ERR_NO_ERROR)
			break;
		out_slice = room > UINT_MAX ? UINT_MAX : (uInt)room;
		zs.avail_in = in_slice;
		zs.next_out = dst;
		zs.avail_out = out_slice;
		zr = inflate(&zs, Z_NO_FLUSH);
		s->produced += out_slice - zs.avail_out;
		in_left -= in_slice - zs.avail_in;
		err = BROOK_ERR__BAD_MSG;
		if (s->produced > s->max_out)
			break;
		if (zr == Z_STREAM_END) {
			if (in_left == 0) {
				err = BROOK_ERR_NO_ERROR;
				break;
			}
			/* Several gzip members back to back are one valid
			 * stream (RFC 1952 2.2); Java's reader accepts them. */
			if (inflateReset(&zs) != Z_OK)
				break;
			continue;
		}
		if (zr == Z_MEM_ERROR) {
			err = BROOK_ERR__NOMEM;
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			break;
		/* No progress with input left and room to write, or all input
		 * used without reaching the end: truncated. */
		if (zs.avail_out > 0 && in_left == 0)
			break;
		if (zr == Z_BUF_ERROR && zs.avail_out > 0)
			break;
	}
	inflateEnd(&zs);
	return err;
}

static brook_err_t lz4_decompress(const uint8_t *in, size_t len, sink_t *s)
{
	LZ4F_decompressionContext_t ctx;
	brook_err_t err = BROOK_ERR__BAD_MSG;
	size_t pos = 0;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION)))
		return BROOK_ERR__NOMEM;
	for (;;) {
		size_t src_size = len - pos, dst_size, room, ret;
		uint8_t *dst;

		if ((err = sink_room(s, &dst, &room)) != BROOK_ERR_NO_ERROR)
			break;
		dst_size = room;
		ret = LZ4F_decompress(ctx, dst, &dst_size, in + pos, &src_size, NULL);
		err = BROOK_ERR__BAD_MSG;
		if (LZ4F_isError(ret))
			break;
		pos += src_size;
		s->produced += dst_size;
		if (s->produced > s->max_out)
			break;
		if (ret == 0) {
			/* Frame complete; the context starts a new frame if
			 * bytes remain. */
			if (pos == len) {
				err = BROOK_ERR_NO_ERROR;
				break;
			}
			continue;
		}
		/* The frame is unfinished and the decoder did not fill the room
		 * it had: it wants input. None left means truncated; no
		 * progress at all should not happen, but must not spin. */
		if (dst_size < room && (pos == len || src_size == 0))
			break;
	}
	LZ4F_freeDecompressionContext(ctx);
	return err;
}

static brook_err_t zstd_decompress(const uint8_t *in, size_t len, sink_t *s)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, len, 0 };
	brook_err_t err = BROOK_ERR__BAD_MSG;

	unsigned long long content;

	if (!dctx)
		return BROOK_ERR__NOMEM;
	/* A declared size is a better first allocation than a guess; it is
	 * capped at max_out + 1 like any other growth. */
	content = ZSTD_getFrameContentSize(in, len);
	if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != ZSTD_CONTENTSIZE_ERROR &&
	    content < SIZE_MAX)
		s->hint = (size_t)content + 1;
	for (;;) {
		ZSTD_outBuffer ob;
		uint8_t *dst;
		size_t room, ret, in_before;

		if ((err = sink_room(s, &dst, &room)) != BROOK_ERR_NO_ERROR)
			break;
		ob.dst = dst;
		ob.size = room;
		ob.pos = 0;
		in_before = ib.pos;
		/* Streaming, because producers (librdkafka, zstd-jni streams)
		 * often omit the content size from the frame header. */
		ret = ZSTD_decompressStream(dctx, &ob, &ib);
		err = BROOK_ERR__BAD_MSG;
		if (ZSTD_isError(ret)) {
			if (ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation)
				err = BROOK_ERR__NOMEM;
			break;
		}
		s->produced += ob.pos;
		if (s->produced > s->max_out)
			break;
		if (ret == 0 && ib.pos == ib.size) {
			err = BROOK_ERR_NO_ERROR;
			break;
		}
		/* ret == 0 with input left: the next frame follows. Otherwise
		 * the frame wants more input; if there is none and the output
		 * was not the limit, the frame is truncated (and a decoder
		 * that made no progress must not spin). */
		if (ret != 0 && ob.pos < ob.size && (ib.pos == ib.size || ib.pos == in_before))
			break;
	}
	ZSTD_freeDCtx(dctx);
	return err;
}

brook_err_t compress_decompress(compress_codec_t codec, const void *in, size_t len,
				size_t max_out, compress_buf_t *out)
{
	sink_t s = { out, out->len, 0, max_out, 0 };
	brook_err_t err;

	s.hint = len > SIZE_MAX / COMPRESS_INFLATE_GUESS ? SIZE_MAX : len * COMPRESS_INFLATE_GUESS;
	switch (codec) {
	case COMPRESS_NONE:
		if (len > max_out)
			return BROOK_ERR__BAD_MSG;
		return compress_data(COMPRESS_NONE, in, len, out);
	case COMPRESS_GZIP:
		err = gzip_decompress(in, len, &s);
		break;
	case COMPRESS_LZ4:
		err = lz4_decompress(in, len, &s);
		break;
	case COMPRESS_ZSTD:
		err = zstd_decompress(in, len, &s);
		break;
	default:
		return BROOK_ERR__UNKNOWN_CODEC;
	}
	out->len = err ? s.start : s.start + s.produced;
	return err;
}
