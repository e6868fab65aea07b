/* handler_list_offsets.c - ListOffsets: earliest, latest, or by time. */
#include <string.h>

#include "blog.h"
#include "handler.h"

/* Checks the whole request's shape before answering any of it. */
static brook_err_t check(const msgpack_object_array *topics, char *err, size_t errsize)
{
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object_array *ps;
		const char *name;
		uint32_t nlen;
		brook_err_t e;

		if ((e = proto_get_str(&topics->ptr[i], "name", 1, &name, &nlen, err, errsize)) ||
		    (e = proto_get_array(&topics->ptr[i], "partitions", 1, &ps, err, errsize)))
			return e;
		for (uint32_t j = 0; j < ps->size; j++) {
			int64_t v;

			if ((e = proto_get_int(&ps->ptr[j], "partition_index", 1, INT32_MIN,
					       INT32_MAX, &v, err, errsize)) ||
			    (e = proto_get_int(&ps->ptr[j], "timestamp", 1, INT64_MIN, INT64_MAX, &v,
					       err, errsize)))
				return e;
		}
	}
	return BROOK_ERR_NO_ERROR;
}

static void answer(broker_t *b, msgpack_packer *pk, const char *name, uint32_t nlen,
		   int32_t partition, int64_t ts, int consumer)
{
	partition_t *p;
	brook_err_t err = handler_partition_error(b, name, nlen, partition, &p);
	int64_t offset = -1, rts = -1;
	int32_t epoch = -1;

	if (!err) {
		epoch = p->leader_epoch;
		if (ts == PROTO_TS_LATEST) {
			offset = consumer ? p->high_watermark : log_end_offset(p->log);
		} else if (ts == PROTO_TS_EARLIEST) {
			offset = p->log->log_start_offset;
		} else if (ts < 0) {
			err = BROOK_ERR_INVALID_REQUEST;
		} else {
			char msg[256];

			err = log_offset_for_time(p->log, ts, &offset, &rts, msg, sizeof(msg));
			if (err) {
				blog(BLOG_ERROR, "log", "%s-%d: offset for time: %s", p->topic, p->id,
				     msg);
				err = BROOK_ERR_KAFKA_STORAGE_ERROR;
				offset = -1;
			} else if (offset >= 0 && consumer && offset >= p->high_watermark) {
				offset = -1; /* not visible yet */
			}
			if (offset < 0)
				rts = -1;
		}
	}
	msgpack_pack_map(pk, 5);
	proto_pack_kv_int(pk, "partition_index", partition);
	proto_pack_kv_int(pk, "error_code", err);
	proto_pack_kv_int(pk, "timestamp", rts);
	proto_pack_kv_int(pk, "offset", offset);
	proto_pack_kv_int(pk, "leader_epoch", epoch);
}

void handler_list_offsets(handler_ctx_t *ctx)
{
	msgpack_packer *pk = &ctx->pk;
	const msgpack_object_array *topics;
	int32_t replica = -1;
	char err[256];

	if (proto_get_array(ctx->req->body, "topics", 1, &topics, err, sizeof(err)) ||
	    proto_get_i32(ctx->req->body, "replica_id", 0, &replica, err, sizeof(err)) ||
	    check(topics, err, sizeof(err))) {
		handler_reject(ctx, err);
		return;
	}
	msgpack_pack_map(pk, 1);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, topics->size);
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object_array *ps;
		const char *name;
		uint32_t nlen;

		proto_get_str(&topics->ptr[i], "name", 1, &name, &nlen, NULL, 0);
		proto_get_array(&topics->ptr[i], "partitions", 1, &ps, NULL, 0);
		msgpack_pack_map(pk, 2);
		proto_pack_kv_strn(pk, "name", name, nlen);
		proto_pack_key(pk, "partitions");
		msgpack_pack_array(pk, ps->size);
		for (uint32_t j = 0; j < ps->size; j++) {
			int64_t part = 0, ts = 0;

			proto_get_int(&ps->ptr[j], "partition_index", 1, INT32_MIN, INT32_MAX, &part,
				      NULL, 0);
			proto_get_int(&ps->ptr[j], "timestamp", 1, INT64_MIN, INT64_MAX, &ts, NULL, 0);
			answer(ctx->b, pk, name, nlen, (int32_t)part, ts, replica < 0);
		}
	}
	handler_finish(ctx->resp);
}
