/*
 * compress.h - batch-level compression codecs with Kafka's codec numbers
 * (RecordBatch attributes bits 0-2): gzip (zlib), lz4 (LZ4 frame format,
 * as Kafka's clients write it) and zstd. Snappy is recognised by number but
 * not supported.
 *
 * Ownership: output goes into a caller-owned compress_buf_t that grows with
 * realloc; the caller frees it with compress_buf_free().
 */
#ifndef BROOK_COMPRESS_H
#define BROOK_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"

typedef enum compress_codec {
	COMPRESS_NONE = 0,
	COMPRESS_GZIP = 1,
	COMPRESS_SNAPPY = 2,
	COMPRESS_LZ4 = 3,
	COMPRESS_ZSTD = 4,
} compress_codec_t;

typedef struct compress_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} compress_buf_t;

void compress_buf_free(compress_buf_t *b);

/* Makes room for `extra` more bytes after b->len (capacity doubles, so
 * appending is amortised O(1)); b->len is unchanged. BROOK_ERR__NOMEM on
 * failure, with b untouched. */
brook_err_t compress_buf_reserve(compress_buf_t *b, size_t extra);

/* "none", "gzip", "snappy", "lz4", "zstd"; NULL for an unknown number. */
const char *compress_codec_name(compress_codec_t codec);

/* Parses a compression.type value; BROOK_ERR__UNKNOWN_CODEC when unknown,
 * and for "snappy" too, so such a setting fails at startup rather than on
 * the first batch. */
brook_err_t compress_codec_parse(const char *name, compress_codec_t *codec);

/* Appends the compressed form of in[0..len) to out. BROOK_ERR__UNKNOWN_CODEC
 * for snappy or an unknown number. On any failure out->len is unchanged. */
brook_err_t compress_data(compress_codec_t codec, const void *in, size_t len,
			  compress_buf_t *out);

/* Appends the decompressed form of in[0..len) to out. Fails with
 * BROOK_ERR__BAD_MSG (never crashes) on corrupt input, and when the output
 * would exceed max_out bytes, so a hostile batch cannot balloon memory
 * (max_out counts the bytes this call appends). BROOK_ERR__UNKNOWN_CODEC
 * for snappy or an unknown number. On any failure out->len is unchanged. */
brook_err_t compress_decompress(compress_codec_t codec, const void *in, size_t len,
				size_t max_out, compress_buf_t *out);

#endif /* BROOK_COMPRESS_H */
