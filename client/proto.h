/*
 * proto.h - brook's native wire protocol: framing, API table, msgpack
 * helpers. Broker and clients both build on it (DESIGN.md, "Wire protocol").
 *
 * A frame is a 4-byte big-endian length followed by ONE msgpack value:
 *   request:  [api_key, api_version, correlation_id, client_id|nil, body]
 *   response: [correlation_id, body]
 * Bodies are maps with string keys named as Kafka's protocol names its
 * fields (snake_case). Unknown keys are ignored (forward compatibility);
 * a missing required key or a value of the wrong type makes the request
 * INVALID_REQUEST. Record batches (RecordBatch v2, record.h) travel as
 * msgpack bin. Errors are Kafka's numeric codes (brook.h).
 *
 * Bodies, version 0 of every API (req -> resp); "[x]" is an array of x:
 *
 * ApiVersions (18): {} ->
 *   {error_code, api_keys: [[api_key, min_version, max_version]]}
 *
 * Metadata (3): {topics: [name] | nil (nil = all), allow_auto_topic_creation?: bool} ->
 *   {brokers: [{node_id, host, port, rack: str|nil}], cluster_id: str|nil,
 *    controller_id, topics: [{error_code, name, partitions: [{error_code,
 *    partition_index, leader_id, leader_epoch, replica_nodes: [id],
 *    isr_nodes: [id], offline_replicas: [id]}]}]}
 *
 * Produce (0): {acks: 0|1|-1, timeout_ms, transactional_id?: nil,
 *    topics: [{name, partitions: [{index, records: bin}]}]} ->
 *   {responses: [{name, partitions: [{index, error_code, error_message: str|nil,
 *    base_offset, log_append_time_ms, log_start_offset}]}], throttle_time_ms}
 *   acks=0 gets no response at all (Kafka's rule).
 *
 * Fetch (1): {replica_id (-1 for consumers), max_wait_ms, min_bytes, max_bytes,
 *    isolation_level: 0, topics: [{name, partitions: [{partition,
 *    fetch_offset, partition_max_bytes, current_leader_epoch?, log_start_offset?}]}]} ->
 *   {throttle_time_ms, error_code, responses: [{name, partitions:
 *    [{partition_index, error_code, high_watermark, last_stable_offset,
 *    log_start_offset, records: bin}]}]}
 *   "records" is always the last key of a partition map, so the broker can
 *   write the msgpack bin32 header and then sendfile(2) the segment bytes.
 *   The bytes are whole batches, except that (as Kafka) the last batch may
 *   be cut short by partition_max_bytes: clients drop a trailing partial
 *   batch. At least one whole batch is returned when any is available, even
 *   if it is larger than the limits, so a consumer always makes progress.
 *
 * ListOffsets (2): {replica_id, isolation_level, topics: [{name, partitions:
 *    [{partition_index, timestamp}]}]}  timestamp -1 latest, -2 earliest ->
 *   {topics: [{name, partitions: [{partition_index, error_code, timestamp,
 *    offset, leader_epoch}]}]}
 *
 * An unknown api_key or a version outside the table's range is answered
 * {error_code: UNSUPPORTED_VERSION} and the connection stays open. A frame
 * that is not one well-formed request array (or is larger than
 * socket.request.max.bytes) closes the connection, after an
 * {error_code: INVALID_REQUEST} response when the correlation id is known.
 *
 * Ownership: the decode helpers return pointers into the msgpack_object
 * tree, valid while its msgpack_unpacked/zone lives. Encoders write into a
 * caller-owned proto_buf_t.
 */
#ifndef BROOK_PROTO_H
#define BROOK_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "brook.h"

#define PROTO_FRAME_HDR 4
/* A client never needs a response frame above this; brokers have their own
 * limit for requests (socket.request.max.bytes). */
#define PROTO_MAX_RESPONSE_BYTES (1u << 30)

typedef enum proto_api {
	PROTO_API_PRODUCE = 0,
	PROTO_API_FETCH = 1,
	PROTO_API_LIST_OFFSETS = 2,
	PROTO_API_METADATA = 3,
	PROTO_API_LEADER_AND_ISR = 4,
	PROTO_API_STOP_REPLICA = 5,
	PROTO_API_UPDATE_METADATA = 6,
	PROTO_API_CONTROLLED_SHUTDOWN = 7,
	PROTO_API_API_VERSIONS = 18,
	PROTO_API_INIT_PRODUCER_ID = 22,
	PROTO_API_OFFSETS_FOR_LEADER_EPOCH = 23,
} proto_api_t;

/* ListOffsets special timestamps (Kafka's). */
#define PROTO_TS_LATEST (-1)
#define PROTO_TS_EARLIEST (-2)

/* "Produce", "Fetch", ...; "Unknown" otherwise. */
const char *proto_api_name(int api_key);

/* A decoded request frame; pointers into the unpacked tree. */
typedef struct proto_request {
	int32_t api_key;
	int32_t api_version;
	int32_t correlation_id;
	const char *client_id;     /* not NUL-terminated; NULL when nil */
	uint32_t client_id_len;
	const msgpack_object *body; /* a map */
} proto_request_t;

/* Checks that buf[0..len) holds exactly one msgpack value whose arrays and
 * maps claim no more elements than the bytes left could hold, nested at
 * most max_depth deep. msgpack-c allocates a container's element array
 * from its claimed size before reading it; this refuses a 10-byte frame
 * claiming four billion elements before any allocation. */
brook_err_t proto_validate(const char *buf, size_t len, int max_depth);

/* Unpacks a request frame body (without the 4-byte length) into u, which
 * the caller initialised with msgpack_unpacked_init and must destroy.
 * Errors: BROOK_ERR_INVALID_REQUEST with a reason in errstr; when the
 * correlation id could be read, req->correlation_id holds it and
 * *have_correlation is 1. */
brook_err_t proto_request_decode(const char *buf, size_t len, msgpack_unpacked *u,
				 proto_request_t *req, int *have_correlation, char *errstr,
				 size_t errstr_size);

/* Unpacks a response frame body: [correlation_id, body map]. */
brook_err_t proto_response_decode(const char *buf, size_t len, msgpack_unpacked *u,
				  int32_t *correlation_id, const msgpack_object **body,
				  char *errstr, size_t errstr_size);

/* Map lookup by string key; NULL when absent or map is not a map. */
const msgpack_object *proto_map_get(const msgpack_object *map, const char *key);

/* Typed getters. Each returns BROOK_ERR_NO_ERROR, or
 * BROOK_ERR_INVALID_REQUEST ("<key>: missing" / "<key>: must be an integer
 * between A and B") for a missing required key, wrong type or out of range.
 * When the key is absent and not required, *out is left as it was (set the
 * default first). nil counts as absent. */
brook_err_t proto_get_int(const msgpack_object *map, const char *key, int required, int64_t min,
			  int64_t max, int64_t *out, char *errstr, size_t errstr_size);
brook_err_t proto_get_i32(const msgpack_object *map, const char *key, int required,
			  int32_t *out, char *errstr, size_t errstr_size);
brook_err_t proto_get_bool(const msgpack_object *map, const char *key, int required, int *out,
			   char *errstr, size_t errstr_size);
/* str: *out points into the tree and is NOT NUL-terminated; *len its size. */
brook_err_t proto_get_str(const msgpack_object *map, const char *key, int required,
			  const char **out, uint32_t *len, char *errstr, size_t errstr_size);
brook_err_t proto_get_bin(const msgpack_object *map, const char *key, int required,
			  const char **out, uint32_t *len, char *errstr, size_t errstr_size);
/* An array; *out NULL when absent (or nil) and not required. */
brook_err_t proto_get_array(const msgpack_object *map, const char *key, int required,
			    const msgpack_object_array **out, char *errstr, size_t errstr_size);
/* An integer element of an array, in [min, max]. */
brook_err_t proto_obj_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *out);

/* Copies a str/bin into a NUL-terminated buffer; _INVALID_REQUEST if it
 * does not fit or contains a NUL byte. */
brook_err_t proto_copy_str(const char *p, uint32_t len, char *buf, size_t size);

/* Encoding. Frames are built in a proto_buf_t, a msgpack_sbuffer that
 * remembers a failed allocation so the frame can be refused at its end
 * instead of going out truncated:
 *   proto_buf_init(&b); msgpack_packer_init(&pk, &b, proto_buf_write);
 *   start = b.sb.size; proto_frame_begin(&b); ...pack...;
 *   err = proto_frame_end(&b, start);
 */
typedef struct proto_buf {
	msgpack_sbuffer sb;
	int failed;
} proto_buf_t;

void proto_buf_init(proto_buf_t *b);
void proto_buf_destroy(proto_buf_t *b);
/* Empties the buffer, keeping its memory. */
void proto_buf_reset(proto_buf_t *b);
/* The msgpack_packer write callback (data is the proto_buf_t). */
int proto_buf_write(void *data, const char *buf, size_t len);
/* Reserves the 4-byte length of a frame that starts at b->sb.size. */
void proto_frame_begin(proto_buf_t *b);
/* Patches the length. BROOK_ERR__NOMEM when a write failed,
 * BROOK_ERR_MESSAGE_TOO_LARGE when the body is over 2^31-1 bytes. */
brook_err_t proto_frame_end(proto_buf_t *b, size_t frame_start);

/* Packs [api_key, api_version, correlation_id, client_id] and leaves the
 * packer ready for the body map. */
void proto_pack_request_header(msgpack_packer *pk, int32_t api_key, int32_t api_version,
			       int32_t correlation_id, const char *client_id);
/* Packs [correlation_id, and leaves the packer ready for the body map. */
void proto_pack_response_header(msgpack_packer *pk, int32_t correlation_id);

/* Map entry helpers: key then value. */
void proto_pack_key(msgpack_packer *pk, const char *key);
void proto_pack_kv_int(msgpack_packer *pk, const char *key, int64_t v);
void proto_pack_kv_str(msgpack_packer *pk, const char *key, const char *s); /* NULL: nil */
void proto_pack_kv_strn(msgpack_packer *pk, const char *key, const char *s, size_t len);
void proto_pack_kv_bin(msgpack_packer *pk, const char *key, const void *p, size_t len);
void proto_pack_kv_bool(msgpack_packer *pk, const char *key, int v);
void proto_pack_str(msgpack_packer *pk, const char *s); /* NULL: nil */

/* Frame length prefix. */
static inline uint32_t proto_frame_len(const uint8_t *hdr)
{
	return ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) |
	       (uint32_t)hdr[3];
}

#endif
