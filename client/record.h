/*
 * record.h - Kafka RecordBatch v2 (magic 2): encode, validate, decode.
 *
 * RecordBatch v2 (all integers big-endian; offsets from the batch start):
 *    0 baseOffset int64          8 batchLength int32 (bytes after this field)
 *   12 partitionLeaderEpoch int32
 *   16 magic int8 (=2)          17 crc uint32 (CRC-32C of bytes 21..end)
 *   21 attributes int16 (bits 0-2 codec, 3 timestampType, 4 transactional,
 *      5 control)
 *   23 lastOffsetDelta int32    27 baseTimestamp int64  35 maxTimestamp int64
 *   43 producerId int64         51 producerEpoch int16  53 baseSequence int32
 *   57 recordCount int32        61 records (possibly compressed)
 * Record: length varint, attributes int8, timestampDelta varlong,
 *   offsetDelta varint, keyLength varint (-1 = null), key, valueLength
 *   varint (-1 = null), value, headerCount varint, headers (keyLength
 *   varint, key, valueLength varint (-1 = null), value).
 * Varints are zigzag-encoded, as in protobuf.
 *
 * The CRC does not cover baseOffset, batchLength or partitionLeaderEpoch, so
 * the broker can stamp offsets and the leader epoch without recomputing it.
 *
 * Ownership: the builder owns its buffers until record_batch_builder_finish()
 * hands the finished batch (malloc'd) to the caller. A reader points into
 * the caller's batch bytes (which must outlive it) and owns only the
 * decompression buffer it may allocate; records it returns point into one
 * or the other and are valid until the next call or record_batch_reader_destroy.
 */
#ifndef BROOK_RECORD_H
#define BROOK_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "brook.h"
#include "compress.h"

#define RECORD_BATCH_HEADER_SIZE 61
/* baseOffset + batchLength: the bytes not counted by batchLength. */
#define RECORD_BATCH_LOG_OVERHEAD 12
#define RECORD_BATCH_MAGIC 2
#define RECORD_BATCH_CRC_OFFSET 17
#define RECORD_BATCH_ATTRIBUTES_OFFSET 21

#define RECORD_ATTR_CODEC_MASK 0x07
#define RECORD_ATTR_LOG_APPEND_TIME 0x08
#define RECORD_ATTR_TRANSACTIONAL 0x10
#define RECORD_ATTR_CONTROL 0x20

#define RECORD_NO_PRODUCER_ID (-1)
#define RECORD_NO_SEQUENCE (-1)

typedef struct record_batch_header {
	int64_t base_offset;
	int32_t batch_length;
	int32_t partition_leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
} record_batch_header_t;

/* Total size of the batch on disk and wire: batchLength + 12. */
static inline size_t record_batch_size(const record_batch_header_t *h)
{
	return (size_t)h->batch_length + RECORD_BATCH_LOG_OVERHEAD;
}

static inline int64_t record_batch_last_offset(const record_batch_header_t *h)
{
	return h->base_offset + h->last_offset_delta;
}

/* Parses the 61-byte header at buf (len bytes available, len >= 61 needed)
 * without looking at the records or the CRC. Fails with BROOK_ERR__BAD_MSG
 * when len is short, magic is not 2, batchLength is below 49 (61 - 12), or
 * lastOffsetDelta/recordCount are negative. */
brook_err_t record_batch_header_parse(const uint8_t *buf, size_t len,
				      record_batch_header_t *h);

/* CRC-32C of the bytes the CRC field covers (21..size). */
uint32_t record_batch_compute_crc(const uint8_t *batch, size_t size);

/* Full integrity check of one batch occupying exactly buf[0..len): header,
 * batchLength == len - 12, stored CRC == computed CRC, a known codec.
 * Fills *h when h is not NULL. BROOK_ERR_CORRUPT_MESSAGE on a CRC mismatch,
 * BROOK_ERR__BAD_MSG on a malformed header, BROOK_ERR_UNSUPPORTED_COMPRESSION_TYPE
 * for snappy or an unknown codec. Does not decompress. */
brook_err_t record_batch_verify(const uint8_t *buf, size_t len, record_batch_header_t *h);

/* Overwrite the fields outside the CRC in place. */
void record_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void record_batch_set_leader_epoch(uint8_t *batch, int32_t epoch);

/* ---- building ---- */

/* Kafka header keys are strings and never null on the wire: the builder
 * writes a NULL key (with key_len 0) as the empty key. Decoded keys point
 * into the record bytes and are not NUL-terminated. */
typedef struct record_header {
	const char *key;
	size_t key_len;
	const void *value; /* NULL = null value */
	size_t value_len;
} record_header_t;

typedef struct record_batch_builder record_batch_builder_t;

/* A new empty batch. producer_id/epoch/base_sequence may be -1/-1/-1 for a
 * non-idempotent producer. */
brook_err_t record_batch_builder_new(compress_codec_t codec, int64_t producer_id,
				     int16_t producer_epoch, int32_t base_sequence,
				     record_batch_builder_t **out);

/* Appends one record. key/value NULL means null (not empty); NULL with a
 * non-zero length is _INVALID_ARG. timestamp_ms is the record's CreateTime.
 * MESSAGE_TOO_LARGE when the batch would pass the int32 batchLength, _STATE
 * after finish. */
brook_err_t record_batch_builder_add(record_batch_builder_t *b, int64_t timestamp_ms,
				     const void *key, size_t key_len,
				     const void *value, size_t value_len,
				     const record_header_t *headers, size_t header_count);

/* Records added so far, and the uncompressed size of the batch so far
 * (header + records), so producers can fill up to batch.size. */
int32_t record_batch_builder_count(const record_batch_builder_t *b);
size_t record_batch_builder_size(const record_batch_builder_t *b);

/* Compresses the records, writes the header with base offset 0 and leader
 * epoch -1, computes the CRC, and hands the malloc'd batch to the caller.
 * The builder may then only be freed. An empty builder gives _INVALID_ARG. */
brook_err_t record_batch_builder_finish(record_batch_builder_t *b, uint8_t **batch,
					size_t *len);

void record_batch_builder_free(record_batch_builder_t *b);

/* ---- reading ---- */

typedef struct record {
	int64_t offset;     /* baseOffset + offsetDelta */
	int64_t timestamp;  /* baseTimestamp + timestampDelta (or maxTimestamp for LogAppendTime) */
	const uint8_t *key; /* NULL when the key is null */
	ssize_t key_len;    /* -1 when null */
	const uint8_t *value;
	ssize_t value_len;
	size_t header_count;
	const uint8_t *headers_raw; /* encoded headers, see record_header_at() */
	size_t headers_raw_len;
} record_t;

typedef struct record_batch_reader {
	record_batch_header_t hdr;
	const uint8_t *pos;
	const uint8_t *end;
	int32_t remaining;
	compress_buf_t inflated;
} record_batch_reader_t;

/* Verifies the batch (record_batch_verify) and prepares to iterate its
 * records, decompressing them first when needed (at most max_inflated
 * bytes). */
brook_err_t record_batch_reader_init(record_batch_reader_t *r, const uint8_t *batch,
				     size_t len, size_t max_inflated);

/* Next record: BROOK_ERR_NO_ERROR, BROOK_ERR__PARTITION_EOF after the last
 * one, BROOK_ERR__BAD_MSG when a record is malformed or the count does not
 * match the bytes. */
brook_err_t record_batch_reader_next(record_batch_reader_t *r, record_t *rec);

/* Decodes header i (0-based) of rec: _INVALID_ARG when i >= header_count.
 * Walks the headers from the first, so reading all n of them is O(n^2);
 * fine for the handful of headers records carry. */
brook_err_t record_header_at(const record_t *rec, size_t i, record_header_t *h);

void record_batch_reader_destroy(record_batch_reader_t *r);

/* ---- varints (zigzag), exposed for the tests and the protocol ---- */

/* Writes v at p (up to 10 bytes) and returns the byte count. */
size_t varint_encode(int64_t v, uint8_t *p);
/* Reads a zigzag varint of at most max_bytes (5 for int32, 10 for int64);
 * returns bytes consumed or 0 when malformed or truncated. */
size_t varint_decode(const uint8_t *p, const uint8_t *end, size_t max_bytes, int64_t *v);

#endif /* BROOK_RECORD_H */
