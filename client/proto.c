/* proto.c - framing, API names and msgpack helpers of the wire protocol. */
#include <inttypes.h>
#include <string.h>

#include "bytes.h"
#include "errstr.h"
#include "proto.h"

const char *proto_api_name(int api_key)
{
	switch (api_key) {
	case PROTO_API_PRODUCE: return "Produce";
	case PROTO_API_FETCH: return "Fetch";
	case PROTO_API_LIST_OFFSETS: return "ListOffsets";
	case PROTO_API_METADATA: return "Metadata";
	case PROTO_API_LEADER_AND_ISR: return "LeaderAndIsr";
	case PROTO_API_STOP_REPLICA: return "StopReplica";
	case PROTO_API_UPDATE_METADATA: return "UpdateMetadata";
	case PROTO_API_CONTROLLED_SHUTDOWN: return "ControlledShutdown";
	case PROTO_API_API_VERSIONS: return "ApiVersions";
	case PROTO_API_INIT_PRODUCER_ID: return "InitProducerId";
	case PROTO_API_OFFSETS_FOR_LEADER_EPOCH: return "OffsetsForLeaderEpoch";
	}
	return "Unknown";
}

/* Big-endian length of n bytes at p. */
static uint64_t be_n(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* msgpack spec: each format byte, then its fixed-size payload or length. */
static int skip_value(const uint8_t *p, size_t len, size_t *pos, int depth)
{
	size_t at = *pos;
	uint64_t n = 0, payload = 0, elems = 0;
	int lenbytes = 0, is_map = 0;
	uint8_t c;

	if (at >= len || depth < 0)
		return -1;
	c = p[at++];
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
		/* fixint, nil, bool: no payload */
	} else if (c >= 0x80 && c <= 0x8f) {
		elems = c & 0x0f;
		is_map = 1;
	} else if (c >= 0x90 && c <= 0x9f) {
		elems = c & 0x0f;
	} else if (c >= 0xa0 && c <= 0xbf) {
		payload = c & 0x1f;
	} else {
		switch (c) {
		case 0xc4: case 0xd9: lenbytes = 1; break;               /* bin8, str8 */
		case 0xc5: case 0xda: lenbytes = 2; break;               /* bin16, str16 */
		case 0xc6: case 0xdb: lenbytes = 4; break;               /* bin32, str32 */
		case 0xc7: lenbytes = 1; payload = 1; break;             /* ext8: + type */
		case 0xc8: lenbytes = 2; payload = 1; break;
		case 0xc9: lenbytes = 4; payload = 1; break;
		case 0xca: payload = 4; break;                           /* float32 */
		case 0xcb: payload = 8; break;                           /* float64 */
		case 0xcc: case 0xd0: payload = 1; break;                /* (u)int8 */
		case 0xcd: case 0xd1: payload = 2; break;
		case 0xce: case 0xd2: payload = 4; break;
		case 0xcf: case 0xd3: payload = 8; break;
		case 0xd4: payload = 2; break;                           /* fixext1 + type */
		case 0xd5: payload = 3; break;
		case 0xd6: payload = 5; break;
		case 0xd7: payload = 9; break;
		case 0xd8: payload = 17; break;
		case 0xdc: case 0xdd: case 0xde: case 0xdf:
			lenbytes = (c == 0xdc || c == 0xde) ? 2 : 4;
			if (len - at < (size_t)lenbytes)
				return -1;
			elems = be_n(p + at, lenbytes);
			at += (size_t)lenbytes;
			lenbytes = 0;
			is_map = c >= 0xde;
			break;
		default: /* 0xc1: never used */
			return -1;
		}
		if (lenbytes) {
			if (len - at < (size_t)lenbytes)
				return -1;
			n = be_n(p + at, lenbytes);
			at += (size_t)lenbytes;
			payload += n;
		}
	}
	if (payload > len - at)
		return -1;
	at += payload;
	if (elems) {
		uint64_t values = is_map ? elems * 2 : elems;

		/* every value takes at least one byte */
		if (values > len - at)
			return -1;
		for (uint64_t i = 0; i < values; i++)
			if (skip_value(p, len, &at, depth - 1) != 0)
				return -1;
	}
	*pos = at;
	return 0;
}

brook_err_t proto_validate(const char *buf, size_t len, int max_depth)
{
	size_t pos = 0;

	if (skip_value((const uint8_t *)buf, len, &pos, max_depth) != 0 || pos != len)
		return BROOK_ERR_INVALID_REQUEST;
	return BROOK_ERR_NO_ERROR;
}

/* Deep enough for every body of proto.h; far below msgpack-c's own limit. */
#define PROTO_MAX_DEPTH 16

static brook_err_t unpack_one(const char *buf, size_t len, msgpack_unpacked *u, char *errstr,
			      size_t errstr_size)
{
	size_t off = 0;

	if (proto_validate(buf, len, PROTO_MAX_DEPTH) != BROOK_ERR_NO_ERROR) {
		brook_errstr(errstr, errstr_size,
			     "frame is not one well-formed msgpack value (or nests deeper than %d)",
			     PROTO_MAX_DEPTH);
		return BROOK_ERR_INVALID_REQUEST;
	}
	if (msgpack_unpack_next(u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
		brook_errstr(errstr, errstr_size, "frame does not unpack");
		return BROOK_ERR_INVALID_REQUEST;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t proto_obj_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *out)
{
	int64_t v;

	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return BROOK_ERR_INVALID_REQUEST;
		v = (int64_t)o->via.u64;
	} else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		v = o->via.i64;
	} else {
		return BROOK_ERR_INVALID_REQUEST;
	}
	if (v < min || v > max)
		return BROOK_ERR_INVALID_REQUEST;
	*out = v;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t proto_request_decode(const char *buf, size_t len, msgpack_unpacked *u,
				 proto_request_t *req, int *have_correlation, char *errstr,
				 size_t errstr_size)
{
	const msgpack_object *o, *a;
	int64_t v;
	brook_err_t err;

	*have_correlation = 0;
	memset(req, 0, sizeof(*req));
	if ((err = unpack_one(buf, len, u, errstr, errstr_size)))
		return err;
	o = &u->data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 5) {
		brook_errstr(errstr, errstr_size,
			     "request must be [api_key, api_version, correlation_id, client_id, body]");
		return BROOK_ERR_INVALID_REQUEST;
	}
	a = o->via.array.ptr;
	if (proto_obj_int(&a[2], INT32_MIN, INT32_MAX, &v) == BROOK_ERR_NO_ERROR) {
		req->correlation_id = (int32_t)v;
		*have_correlation = 1;
	} else {
		brook_errstr(errstr, errstr_size, "correlation_id must be a 32-bit integer");
		return BROOK_ERR_INVALID_REQUEST;
	}
	if (proto_obj_int(&a[0], INT16_MIN, INT16_MAX, &v)) {
		brook_errstr(errstr, errstr_size, "api_key must be a 16-bit integer");
		return BROOK_ERR_INVALID_REQUEST;
	}
	req->api_key = (int32_t)v;
	if (proto_obj_int(&a[1], INT16_MIN, INT16_MAX, &v)) {
		brook_errstr(errstr, errstr_size, "api_version must be a 16-bit integer");
		return BROOK_ERR_INVALID_REQUEST;
	}
	req->api_version = (int32_t)v;
	if (a[3].type == MSGPACK_OBJECT_STR) {
		req->client_id = a[3].via.str.ptr;
		req->client_id_len = a[3].via.str.size;
	} else if (a[3].type != MSGPACK_OBJECT_NIL) {
		brook_errstr(errstr, errstr_size, "client_id must be a string or nil");
		return BROOK_ERR_INVALID_REQUEST;
	}
	if (a[4].type != MSGPACK_OBJECT_MAP) {
		brook_errstr(errstr, errstr_size, "request body must be a map");
		return BROOK_ERR_INVALID_REQUEST;
	}
	req->body = &a[4];
	return BROOK_ERR_NO_ERROR;
}

brook_err_t proto_response_decode(const char *buf, size_t len, msgpack_unpacked *u,
				  int32_t *correlation_id, const msgpack_object **body,
				  char *errstr, size_t errstr_size)
{
	const msgpack_object *o;
	int64_t v;
	brook_err_t err;

	if ((err = unpack_one(buf, len, u, errstr, errstr_size)))
		return err;
	o = &u->data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 ||
	    proto_obj_int(&o->via.array.ptr[0], INT32_MIN, INT32_MAX, &v) ||
	    o->via.array.ptr[1].type != MSGPACK_OBJECT_MAP) {
		brook_errstr(errstr, errstr_size, "response must be [correlation_id, body map]");
		return BROOK_ERR_INVALID_REQUEST;
	}
	*correlation_id = (int32_t)v;
	*body = &o->via.array.ptr[1];
	return BROOK_ERR_NO_ERROR;
}

const msgpack_object *proto_map_get(const msgpack_object *map, const char *key)
{
	size_t klen = strlen(key);

	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0)
			return kv->val.type == MSGPACK_OBJECT_NIL ? NULL : &kv->val;
	}
	return NULL;
}

static brook_err_t missing(const char *key, char *errstr, size_t errstr_size)
{
	brook_errstr(errstr, errstr_size, "%s: missing", key);
	return BROOK_ERR_INVALID_REQUEST;
}

brook_err_t proto_get_int(const msgpack_object *map, const char *key, int required, int64_t min,
			  int64_t max, int64_t *out, char *errstr, size_t errstr_size)
{
	const msgpack_object *o = proto_map_get(map, key);

	if (!o)
		return required ? missing(key, errstr, errstr_size) : BROOK_ERR_NO_ERROR;
	if (proto_obj_int(o, min, max, out)) {
		brook_errstr(errstr, errstr_size,
			     "%s: must be an integer between %" PRId64 " and %" PRId64, key, min, max);
		return BROOK_ERR_INVALID_REQUEST;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t proto_get_i32(const msgpack_object *map, const char *key, int required,
			  int32_t *out, char *errstr, size_t errstr_size)
{
	int64_t v = *out;
	brook_err_t err = proto_get_int(map, key, required, INT32_MIN, INT32_MAX, &v, errstr,
					errstr_size);

	if (!err)
		*out = (int32_t)v;
	return err;
}

brook_err_t proto_get_bool(const msgpack_object *map, const char *key, int required, int *out,
			   char *errstr, size_t errstr_size)
{
	const msgpack_object *o = proto_map_get(map, key);

	if (!o)
		return required ? missing(key, errstr, errstr_size) : BROOK_ERR_NO_ERROR;
	if (o->type != MSGPACK_OBJECT_BOOLEAN) {
		brook_errstr(errstr, errstr_size, "%s: must be a boolean", key);
		return BROOK_ERR_INVALID_REQUEST;
	}
	*out = o->via.boolean;
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t get_raw(const msgpack_object *map, const char *key, int required, int type,
			   const char **out, uint32_t *len, char *errstr, size_t errstr_size)
{
	const msgpack_object *o = proto_map_get(map, key);

	if (!o) {
		*out = NULL;
		*len = 0;
		return required ? missing(key, errstr, errstr_size) : BROOK_ERR_NO_ERROR;
	}
	if ((int)o->type != type) {
		brook_errstr(errstr, errstr_size, "%s: must be %s", key,
			     type == MSGPACK_OBJECT_STR ? "a string" : "binary (bin)");
		return BROOK_ERR_INVALID_REQUEST;
	}
	/* str and bin share their layout in msgpack_object */
	*out = o->via.str.ptr;
	*len = o->via.str.size;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t proto_get_str(const msgpack_object *map, const char *key, int required,
			  const char **out, uint32_t *len, char *errstr, size_t errstr_size)
{
	return get_raw(map, key, required, MSGPACK_OBJECT_STR, out, len, errstr, errstr_size);
}

brook_err_t proto_get_bin(const msgpack_object *map, const char *key, int required,
			  const char **out, uint32_t *len, char *errstr, size_t errstr_size)
{
	return get_raw(map, key, required, MSGPACK_OBJECT_BIN, out, len, errstr, errstr_size);
}

brook_err_t proto_get_array(const msgpack_object *map, const char *key, int required,
			    const msgpack_object_array **out, char *errstr, size_t errstr_size)
{
	const msgpack_object *o = proto_map_get(map, key);

	*out = NULL;
	if (!o)
		return required ? missing(key, errstr, errstr_size) : BROOK_ERR_NO_ERROR;
	if (o->type != MSGPACK_OBJECT_ARRAY) {
		brook_errstr(errstr, errstr_size, "%s: must be an array", key);
		return BROOK_ERR_INVALID_REQUEST;
	}
	*out = &o->via.array;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t proto_copy_str(const char *p, uint32_t len, char *buf, size_t size)
{
	if (len >= size || (len && memchr(p, 0, len)))
		return BROOK_ERR_INVALID_REQUEST;
	if (len)
		memcpy(buf, p, len);
	buf[len] = 0;
	return BROOK_ERR_NO_ERROR;
}

void proto_buf_init(proto_buf_t *b)
{
	msgpack_sbuffer_init(&b->sb);
	b->failed = 0;
}

void proto_buf_destroy(proto_buf_t *b)
{
	msgpack_sbuffer_destroy(&b->sb);
	b->failed = 0;
}

void proto_buf_reset(proto_buf_t *b)
{
	msgpack_sbuffer_clear(&b->sb);
	b->failed = 0;
}

int proto_buf_write(void *data, const char *buf, size_t len)
{
	proto_buf_t *b = data;

	if (b->failed)
		return -1;
	if (msgpack_sbuffer_write(&b->sb, buf, len) != 0) {
		b->failed = 1;
		return -1;
	}
	return 0;
}

void proto_frame_begin(proto_buf_t *b)
{
	static const char zero[PROTO_FRAME_HDR];

	proto_buf_write(b, zero, sizeof(zero));
}

brook_err_t proto_frame_end(proto_buf_t *b, size_t frame_start)
{
	size_t body;

	if (b->failed || b->sb.size < frame_start + PROTO_FRAME_HDR)
		return BROOK_ERR__NOMEM;
	body = b->sb.size - frame_start - PROTO_FRAME_HDR;
	if (body > INT32_MAX)
		return BROOK_ERR_MESSAGE_TOO_LARGE;
	be32_put((uint8_t *)b->sb.data + frame_start, (uint32_t)body);
	return BROOK_ERR_NO_ERROR;
}

void proto_pack_str(msgpack_packer *pk, const char *s)
{
	if (!s) {
		msgpack_pack_nil(pk);
		return;
	}
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

void proto_pack_key(msgpack_packer *pk, const char *key)
{
	msgpack_pack_str_with_body(pk, key, strlen(key));
}

void proto_pack_request_header(msgpack_packer *pk, int32_t api_key, int32_t api_version,
			       int32_t correlation_id, const char *client_id)
{
	msgpack_pack_array(pk, 5);
	msgpack_pack_int32(pk, api_key);
	msgpack_pack_int32(pk, api_version);
	msgpack_pack_int32(pk, correlation_id);
	proto_pack_str(pk, client_id);
}

void proto_pack_response_header(msgpack_packer *pk, int32_t correlation_id)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_int32(pk, correlation_id);
}

void proto_pack_kv_int(msgpack_packer *pk, const char *key, int64_t v)
{
	proto_pack_key(pk, key);
	msgpack_pack_int64(pk, v);
}

void proto_pack_kv_str(msgpack_packer *pk, const char *key, const char *s)
{
	proto_pack_key(pk, key);
	proto_pack_str(pk, s);
}

void proto_pack_kv_strn(msgpack_packer *pk, const char *key, const char *s, size_t len)
{
	proto_pack_key(pk, key);
	msgpack_pack_str_with_body(pk, s, len);
}

void proto_pack_kv_bin(msgpack_packer *pk, const char *key, const void *p, size_t len)
{
	proto_pack_key(pk, key);
	msgpack_pack_bin_with_body(pk, p, len);
}

void proto_pack_kv_bool(msgpack_packer *pk, const char *key, int v)
{
	proto_pack_key(pk, key);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}
