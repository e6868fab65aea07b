/* handler_offsets_for_leader_epoch.c - OffsetsForLeaderEpoch: where an
 * epoch ends in the leader's log, so a new follower truncates to the
 * point where its log and the leader's agree (Kafka's KIP-101). */
#include <string.h>

#include "handler.h"

static void pack_partition(handler_ctx_t *ctx, const char *name, uint32_t nlen,
			   const msgpack_object *pm)
{
	msgpack_packer *pk = &ctx->pk;
	int32_t idx = -1, epoch = -1, found = -1;
	int64_t end = -1;
	partition_t *p = NULL;
	brook_err_t err;

	if (proto_get_i32(pm, "partition", 1, &idx, NULL, 0) ||
	    proto_get_i32(pm, "leader_epoch", 1, &epoch, NULL, 0))
		err = BROOK_ERR_INVALID_REQUEST;
	else
		err = handler_partition_error(ctx->b, name, nlen, idx, &p);
	if (!err && !p->epochs)
		err = BROOK_ERR_KAFKA_STORAGE_ERROR;
	if (!err)
		leader_epoch_end_offset_for(p->epochs, epoch, log_end_offset(p->log), &found, &end);
	msgpack_pack_map(pk, 4);
	proto_pack_kv_int(pk, "error_code", err);
	proto_pack_kv_int(pk, "partition", idx);
	proto_pack_kv_int(pk, "leader_epoch", err ? -1 : found);
	proto_pack_kv_int(pk, "end_offset", err ? -1 : end);
}

void handler_offsets_for_leader_epoch(handler_ctx_t *ctx)
{
	msgpack_packer *pk = &ctx->pk;
	const msgpack_object_array *topics;
	char err[256];

	if (proto_get_array(ctx->req->body, "topics", 1, &topics, err, sizeof(err))) {
		handler_reject(ctx, err);
		return;
	}
	msgpack_pack_map(pk, 1);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, topics->size);
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object *t = &topics->ptr[i];
		const msgpack_object_array *ps = NULL;
		const char *name = "";
		uint32_t nlen = 0;

		if (proto_get_str(t, "name", 1, &name, &nlen, NULL, 0) ||
		    proto_get_array(t, "partitions", 1, &ps, NULL, 0)) {
			name = "";
			nlen = 0;
			ps = NULL;
		}
		msgpack_pack_map(pk, 2);
		proto_pack_kv_strn(pk, "name", name, nlen);
		proto_pack_key(pk, "partitions");
		msgpack_pack_array(pk, ps ? ps->size : 0);
		for (uint32_t j = 0; ps && j < ps->size; j++)
			pack_partition(ctx, name, nlen, &ps->ptr[j]);
	}
	handler_finish(ctx->resp);
}
