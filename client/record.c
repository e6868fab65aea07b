/*
 * record.c - Kafka RecordBatch v2: builder, integrity check, reader, varints.
 *
 * The layout is spelled out in record.h. Everything read here may come from
 * the network or from a damaged disk, so every length is checked against the
 * end of the bytes it claims to describe before it is used, and arithmetic
 * on fields (offsets + deltas) wraps instead of overflowing.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"
#include "record.h"

/* RecordBatch v2 field offsets (see record.h). */
#define OFF_BATCH_LENGTH 8
#define OFF_LEADER_EPOCH 12
#define OFF_MAGIC 16
#define OFF_LAST_OFFSET_DELTA 23
#define OFF_BASE_TIMESTAMP 27
#define OFF_MAX_TIMESTAMP 35
#define OFF_PRODUCER_ID 43
#define OFF_PRODUCER_EPOCH 51
#define OFF_BASE_SEQUENCE 53
#define OFF_RECORD_COUNT 57

#define VARINT32_MAX_BYTES 5
#define VARINT64_MAX_BYTES 10

/* The largest batch whose batchLength still fits its int32 field. */
#define RECORD_BATCH_MAX_SIZE ((size_t)INT32_MAX + RECORD_BATCH_LOG_OVERHEAD)

/* ---- varints ---- */

static inline uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
}

static inline size_t varint_size(int64_t v)
{
	uint64_t u = zigzag(v);
	size_t n = 1;

	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

size_t varint_encode(int64_t v, uint8_t *p)
{
	uint64_t u = zigzag(v);
	size_t n = 0;

	while (u >= 0x80) {
		p[n++] = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	p[n++] = (uint8_t)u;
	return n;
}

/* Rejects more than max_bytes bytes, a missing terminator before `end`, and
 * bits beyond the type's width (32 bits for max_bytes <= 5, else 64), so a
 * decoded int32 is always in range. Padded encodings within max_bytes
 * (0x80 0x00 for 0) are accepted, as Kafka's and protobuf's readers do. */
size_t varint_decode(const uint8_t *p, const uint8_t *end, size_t max_bytes, int64_t *v)
{
	unsigned width = max_bytes > VARINT32_MAX_BYTES ? 64 : 32;
	uint64_t u = 0;

	if (max_bytes > VARINT64_MAX_BYTES)
		max_bytes = VARINT64_MAX_BYTES;
	for (size_t i = 0; i < max_bytes; i++) {
		unsigned shift = 7 * (unsigned)i;
		uint8_t b;

		if (p + i >= end)
			return 0;
		b = p[i];
		if (shift + 7 > width && ((b & 0x7fu) >> (width - shift)) != 0)
			return 0;
		u |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = (int64_t)((u >> 1) ^ (0 - (u & 1)));
			return i + 1;
		}
	}
	return 0;
}

/* ---- header and integrity ---- */

brook_err_t record_batch_header_parse(const uint8_t *buf, size_t len,
				      record_batch_header_t *h)
{
	if (len < RECORD_BATCH_HEADER_SIZE)
		return BROOK_ERR__BAD_MSG;
	h->base_offset = (int64_t)be64_get(buf);
	h->batch_length = (int32_t)be32_get(buf + OFF_BATCH_LENGTH);
	h->partition_leader_epoch = (int32_t)be32_get(buf + OFF_LEADER_EPOCH);
	h->magic = (int8_t)buf[OFF_MAGIC];
	h->crc = be32_get(buf + RECORD_BATCH_CRC_OFFSET);
	h->attributes = (int16_t)be16_get(buf + RECORD_BATCH_ATTRIBUTES_OFFSET);
	h->last_offset_delta = (int32_t)be32_get(buf + OFF_LAST_OFFSET_DELTA);
	h->base_timestamp = (int64_t)be64_get(buf + OFF_BASE_TIMESTAMP);
	h->max_timestamp = (int64_t)be64_get(buf + OFF_MAX_TIMESTAMP);
	h->producer_id = (int64_t)be64_get(buf + OFF_PRODUCER_ID);
	h->producer_epoch = (int16_t)be16_get(buf + OFF_PRODUCER_EPOCH);
	h->base_sequence = (int32_t)be32_get(buf + OFF_BASE_SEQUENCE);
	h->record_count = (int32_t)be32_get(buf + OFF_RECORD_COUNT);
	if (h->magic != RECORD_BATCH_MAGIC ||
	    h->batch_length < RECORD_BATCH_HEADER_SIZE - RECORD_BATCH_LOG_OVERHEAD ||
	    h->last_offset_delta < 0 || h->record_count < 0)
		return BROOK_ERR__BAD_MSG;
	return BROOK_ERR_NO_ERROR;
}

uint32_t record_batch_compute_crc(const uint8_t *batch, size_t size)
{
	if (size <= RECORD_BATCH_ATTRIBUTES_OFFSET)
		return crc32c(0, NULL, 0);
	return crc32c(0, batch + RECORD_BATCH_ATTRIBUTES_OFFSET,
		      size - RECORD_BATCH_ATTRIBUTES_OFFSET);
}

static int codec_supported(int codec)
{
	return codec == COMPRESS_NONE || codec == COMPRESS_GZIP || codec == COMPRESS_LZ4 ||
	       codec == COMPRESS_ZSTD;
}

brook_err_t record_batch_verify(const uint8_t *buf, size_t len, record_batch_header_t *h)
{
	record_batch_header_t local;
	brook_err_t err;

	if (!h)
		h = &local;
	if ((err = record_batch_header_parse(buf, len, h)) != BROOK_ERR_NO_ERROR)
		return err;
	if ((size_t)h->batch_length != len - RECORD_BATCH_LOG_OVERHEAD)
		return BROOK_ERR__BAD_MSG;
	if (record_batch_compute_crc(buf, len) != h->crc)
		return BROOK_ERR_CORRUPT_MESSAGE;
	/* After the CRC: a codec number that fails the CRC is corruption,
	 * not an unsupported codec. */
	if (!codec_supported(h->attributes & RECORD_ATTR_CODEC_MASK))
		return BROOK_ERR_UNSUPPORTED_COMPRESSION_TYPE;
	return BROOK_ERR_NO_ERROR;
}

void record_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
	be64_put(batch, (uint64_t)base_offset);
}

void record_batch_set_leader_epoch(uint8_t *batch, int32_t epoch)
{
	be32_put(batch + OFF_LEADER_EPOCH, (uint32_t)epoch);
}

/* ---- building ---- */

struct record_batch_builder {
	/* 61 bytes reserved for the header, then the uncompressed records:
	 * one growable buffer, so adding a record never mallocs on its own
	 * and an uncompressed batch is handed over without a copy. */
	compress_buf_t buf;
	compress_codec_t codec;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int32_t count;
	int finished;
};

brook_err_t record_batch_builder_new(compress_codec_t codec, int64_t producer_id,
				     int16_t producer_epoch, int32_t base_sequence,
				     record_batch_builder_t **out)
{
	record_batch_builder_t *b;

	*out = NULL;
	if (!codec_supported(codec))
		return BROOK_ERR__UNKNOWN_CODEC;
	b = calloc(1, sizeof(*b));
	if (!b)
		return BROOK_ERR__NOMEM;
	if (compress_buf_reserve(&b->buf, 1024) != BROOK_ERR_NO_ERROR) {
		free(b);
		return BROOK_ERR__NOMEM;
	}
	memset(b->buf.data, 0, RECORD_BATCH_HEADER_SIZE);
	b->buf.len = RECORD_BATCH_HEADER_SIZE;
	b->codec = codec;
	b->producer_id = producer_id;
	b->producer_epoch = producer_epoch;
	b->base_sequence = base_sequence;
	*out = b;
	return BROOK_ERR_NO_ERROR;
}

/* Encoded size of a nullable byte string: length varint (-1 = null) + bytes. */
static inline size_t bytes_size(const void *data, size_t len)
{
	return data ? varint_size((int64_t)len) + len : varint_size(-1);
}

static inline uint8_t *bytes_put(uint8_t *p, const void *data, size_t len)
{
	if (!data)
		return p + varint_encode(-1, p);
	p += varint_encode((int64_t)len, p);
	if (len > 0)
		memcpy(p, data, len);
	return p + len;
}

brook_err_t record_batch_builder_add(record_batch_builder_t *b, int64_t timestamp_ms,
				     const void *key, size_t key_len,
				     const void *value, size_t value_len,
				     const record_header_t *headers, size_t header_count)
{
	int64_t ts_delta;
	size_t body, total;
	uint8_t *p;
	brook_err_t err;

	if (!b)
		return BROOK_ERR__INVALID_ARG;
	if (b->finished)
		return BROOK_ERR__STATE;
	if ((!key && key_len) || (!value && value_len) || (!headers && header_count))
		return BROOK_ERR__INVALID_ARG;
	if (key_len > INT32_MAX || value_len > INT32_MAX || header_count > INT32_MAX)
		return BROOK_ERR_MESSAGE_TOO_LARGE;
	if (b->count == INT32_MAX)
		return BROOK_ERR_RECORD_LIST_TOO_LARGE;

	/* The record starts with its own length, so size it first and then
	 * write it straight into the buffer in one pass. */
	ts_delta = b->count ? (int64_t)((uint64_t)timestamp_ms - (uint64_t)b->base_timestamp) : 0;
	body = 1 + varint_size(ts_delta) + varint_size(b->count) +
	       bytes_size(key, key_len) + bytes_size(value, value_len) +
	       varint_size((int64_t)header_count);
	for (size_t i = 0; i < header_count; i++) {
		const record_header_t *h = &headers[i];

		if (!h->key && h->key_len)
			return BROOK_ERR__INVALID_ARG;
		if (h->key_len > INT32_MAX || h->value_len > INT32_MAX)
			return BROOK_ERR_MESSAGE_TOO_LARGE;
		if (!h->value && h->value_len)
			return BROOK_ERR__INVALID_ARG;
		/* Header keys are never null on the wire: NULL means "". */
		body += varint_size((int64_t)h->key_len) + h->key_len +
			bytes_size(h->value, h->value_len);
		if (body > INT32_MAX)
			return BROOK_ERR_MESSAGE_TOO_LARGE;
	}
	if (body > INT32_MAX)
		return BROOK_ERR_MESSAGE_TOO_LARGE;
	total = varint_size((int64_t)body) + body;
	if (total > RECORD_BATCH_MAX_SIZE - b->buf.len)
		return BROOK_ERR_MESSAGE_TOO_LARGE;
	if ((err = compress_buf_reserve(&b->buf, total)) != BROOK_ERR_NO_ERROR)
		return err;

	/* Record: length, attributes, timestampDelta, offsetDelta, key,
	 * value, headerCount, headers (record.h). */
	p = b->buf.data + b->buf.len;
	p += varint_encode((int64_t)body, p);
	*p++ = 0;
	p += varint_encode(ts_delta, p);
	p += varint_encode(b->count, p);
	p = bytes_put(p, key, key_len);
	p = bytes_put(p, value, value_len);
	p += varint_encode((int64_t)header_count, p);
	for (size_t i = 0; i < header_count; i++) {
		p = bytes_put(p, headers[i].key ? (const void *)headers[i].key : "",
			      headers[i].key_len);
		p = bytes_put(p, headers[i].value, headers[i].value_len);
	}
	b->buf.len += total;

	if (b->count == 0)
		b->base_timestamp = b->max_timestamp = timestamp_ms;
	else if (timestamp_ms > b->max_timestamp)
		b->max_timestamp = timestamp_ms;
	b->count++;
	return BROOK_ERR_NO_ERROR;
}

int32_t record_batch_builder_count(const record_batch_builder_t *b)
{
	return b ? b->count : 0;
}

size_t record_batch_builder_size(const record_batch_builder_t *b)
{
	return b ? b->buf.len : 0;
}

static void header_write(const record_batch_builder_t *b, uint8_t *p, size_t len)
{
	be64_put(p, 0);
	be32_put(p + OFF_BATCH_LENGTH, (uint32_t)(len - RECORD_BATCH_LOG_OVERHEAD));
	be32_put(p + OFF_LEADER_EPOCH, (uint32_t)-1);
	p[OFF_MAGIC] = RECORD_BATCH_MAGIC;
	be16_put(p + RECORD_BATCH_ATTRIBUTES_OFFSET, (uint16_t)b->codec);
	be32_put(p + OFF_LAST_OFFSET_DELTA, (uint32_t)(b->count - 1));
	be64_put(p + OFF_BASE_TIMESTAMP, (uint64_t)b->base_timestamp);
	be64_put(p + OFF_MAX_TIMESTAMP, (uint64_t)b->max_timestamp);
	be64_put(p + OFF_PRODUCER_ID, (uint64_t)b->producer_id);
	be16_put(p + OFF_PRODUCER_EPOCH, (uint16_t)b->producer_epoch);
	be32_put(p + OFF_BASE_SEQUENCE, (uint32_t)b->base_sequence);
	be32_put(p + OFF_RECORD_COUNT, (uint32_t)b->count);
	/* Last: the CRC covers every field written above from attributes on. */
	be32_put(p + RECORD_BATCH_CRC_OFFSET, record_batch_compute_crc(p, len));
}

brook_err_t record_batch_builder_finish(record_batch_builder_t *b, uint8_t **batch,
					size_t *len)
{
	compress_buf_t out;
	brook_err_t err;

	*batch = NULL;
	*len = 0;
	if (!b)
		return BROOK_ERR__INVALID_ARG;
	if (b->finished)
		return BROOK_ERR__STATE;
	if (b->count == 0)
		return BROOK_ERR__INVALID_ARG;

	if (b->codec == COMPRESS_NONE) {
		out = b->buf;
		memset(&b->buf, 0, sizeof(b->buf));
		/* Give back doubling slack: the batch may wait in a queue. */
		if (out.cap - out.len > out.len / 4) {
			uint8_t *shrunk = realloc(out.data, out.len);

			if (shrunk)
				out.data = shrunk;
		}
	} else {
		memset(&out, 0, sizeof(out));
		if ((err = compress_buf_reserve(&out, RECORD_BATCH_HEADER_SIZE)) != BROOK_ERR_NO_ERROR)
			return err;
		out.len = RECORD_BATCH_HEADER_SIZE;
		err = compress_data(b->codec, b->buf.data + RECORD_BATCH_HEADER_SIZE,
				    b->buf.len - RECORD_BATCH_HEADER_SIZE, &out);
		if (!err && out.len > RECORD_BATCH_MAX_SIZE)
			err = BROOK_ERR_MESSAGE_TOO_LARGE;
		if (err) {
			compress_buf_free(&out);
			return err;
		}
		compress_buf_free(&b->buf);
	}
	header_write(b, out.data, out.len);
	b->finished = 1;
	*batch = out.data;
	*len = out.len;
	return BROOK_ERR_NO_ERROR;
}

void record_batch_builder_free(record_batch_builder_t *b)
{
	if (!b)
		return;
	compress_buf_free(&b->buf);
	free(b);
}

/* ---- reading ---- */

/* Reads a length-prefixed byte string that must end by `end`; -1 is null
 * when allow_null. Returns 0 when malformed. */
static int bytes_get(const uint8_t **pp, const uint8_t *end, int allow_null,
		     const uint8_t **data, ssize_t *len)
{
	const uint8_t *p = *pp;
	int64_t l;
	size_t n = varint_decode(p, end, VARINT32_MAX_BYTES, &l);

	if (n == 0)
		return 0;
	p += n;
	if (l == -1 && allow_null) {
		*data = NULL;
		*len = -1;
		*pp = p;
		return 1;
	}
	if (l < 0 || l > end - p)
		return 0;
	*data = p;
	*len = (ssize_t)l;
	*pp = p + l;
	return 1;
}

brook_err_t record_batch_reader_init(record_batch_reader_t *r, const uint8_t *batch,
				     size_t len, size_t max_inflated)
{
	static const uint8_t empty[1];
	brook_err_t err;
	int codec;

	memset(r, 0, sizeof(*r));
	r->remaining = -1;
	if ((err = record_batch_verify(batch, len, &r->hdr)) != BROOK_ERR_NO_ERROR)
		return err;
	codec = r->hdr.attributes & RECORD_ATTR_CODEC_MASK;
	if (codec == COMPRESS_NONE) {
		r->pos = batch + RECORD_BATCH_HEADER_SIZE;
		r->end = batch + len;
	} else {
		err = compress_decompress((compress_codec_t)codec, batch + RECORD_BATCH_HEADER_SIZE,
					  len - RECORD_BATCH_HEADER_SIZE, max_inflated,
					  &r->inflated);
		if (err) {
			/* Callers do not destroy a reader whose init failed. */
			compress_buf_free(&r->inflated);
			return err == BROOK_ERR__NOMEM ? err : BROOK_ERR__BAD_MSG;
		}
		r->pos = r->inflated.data ? r->inflated.data : empty;
		r->end = r->pos + r->inflated.len;
	}
	r->remaining = r->hdr.record_count;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t record_batch_reader_next(record_batch_reader_t *r, record_t *rec)
{
	const uint8_t *p = r->pos, *rend;
	int64_t len, ts_delta, offset_delta, header_count;
	size_t n;

	if (r->remaining < 0)
		return BROOK_ERR__BAD_MSG;
	if (r->remaining == 0) {
		/* Bytes after the last counted record mean the count lies. */
		if (p != r->end)
			goto bad;
		return BROOK_ERR__PARTITION_EOF;
	}

	n = varint_decode(p, r->end, VARINT32_MAX_BYTES, &len);
	if (n == 0 || len < 0 || len > r->end - (p + n))
		goto bad;
	p += n;
	rend = p + len;
	/* From here every field must end by rend, the record's own end. */
	if (p >= rend)
		goto bad;
	p++; /* record attributes: unused in v2 */
	if ((n = varint_decode(p, rend, VARINT64_MAX_BYTES, &ts_delta)) == 0)
		goto bad;
	p += n;
	if ((n = varint_decode(p, rend, VARINT32_MAX_BYTES, &offset_delta)) == 0)
		goto bad;
	p += n;
	if (!bytes_get(&p, rend, 1, &rec->key, &rec->key_len) ||
	    !bytes_get(&p, rend, 1, &rec->value, &rec->value_len))
		goto bad;
	if ((n = varint_decode(p, rend, VARINT32_MAX_BYTES, &header_count)) == 0 ||
	    header_count < 0)
		goto bad;
	p += n;
	rec->headers_raw = p;
	/* Each header takes at least two bytes, so a hostile count cannot
	 * loop for long: the bytes run out first. */
	for (int64_t i = 0; i < header_count; i++) {
		const uint8_t *d;
		ssize_t l;

		if (!bytes_get(&p, rend, 0, &d, &l) || !bytes_get(&p, rend, 1, &d, &l))
			goto bad;
	}
	if (p != rend)
		goto bad;
	rec->header_count = (size_t)header_count;
	rec->headers_raw_len = (size_t)(p - rec->headers_raw);
	rec->offset = (int64_t)((uint64_t)r->hdr.base_offset + (uint64_t)offset_delta);
	if (r->hdr.attributes & RECORD_ATTR_LOG_APPEND_TIME)
		rec->timestamp = r->hdr.max_timestamp;
	else
		rec->timestamp = (int64_t)((uint64_t)r->hdr.base_timestamp + (uint64_t)ts_delta);
	r->pos = rend;
	r->remaining--;
	return BROOK_ERR_NO_ERROR;
bad:
	r->remaining = -1;
	return BROOK_ERR__BAD_MSG;
}

brook_err_t record_header_at(const record_t *rec, size_t i, record_header_t *h)
{
	const uint8_t *p = rec->headers_raw, *end;

	if (i >= rec->header_count || !p)
		return BROOK_ERR__INVALID_ARG;
	end = p + rec->headers_raw_len;
	for (size_t k = 0;; k++) {
		const uint8_t *key, *value;
		ssize_t key_len, value_len;

		if (!bytes_get(&p, end, 0, &key, &key_len) ||
		    !bytes_get(&p, end, 1, &value, &value_len))
			return BROOK_ERR__BAD_MSG;
		if (k == i) {
			h->key = (const char *)key;
			h->key_len = (size_t)key_len;
			h->value = value;
			h->value_len = value_len < 0 ? 0 : (size_t)value_len;
			return BROOK_ERR_NO_ERROR;
		}
	}
}

void record_batch_reader_destroy(record_batch_reader_t *r)
{
	if (!r)
		return;
	compress_buf_free(&r->inflated);
	r->remaining = -1;
}
