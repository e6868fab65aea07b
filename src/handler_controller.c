/* handler_controller.c - the requests only the controller sends:
 * LeaderAndIsr (lead or follow these partitions), UpdateMetadata and
 * StopReplica (stop, and maybe delete, these partitions).
 *
 * Every one carries the sender's controller epoch; one older than the
 * newest this broker has seen comes from a deposed controller and is
 * refused whole with STALE_CONTROLLER_EPOCH (Kafka's fencing). The state
 * znodes stay the source of truth: the broker also follows them by watch,
 * and broker_apply_state() keeps whichever of the two is newer.
 *
 * Bodies (version 0):
 *   LeaderAndIsr (4): {controller_id, controller_epoch, partition_states:
 *     [{topic_name, partition_index, controller_epoch, leader, leader_epoch,
 *       isr: [id], zk_version, replicas: [id]}]}
 *     -> {error_code, partition_errors: [{topic_name, partition_index, error_code}]}
 *   UpdateMetadata (6): {controller_id, controller_epoch, ...} -> {error_code}
 *   StopReplica (5): {controller_id, controller_epoch, delete_partitions: bool,
 *     partitions: [{topic_name, partition_index}]}
 *     -> {error_code, partition_errors: [{topic_name, partition_index, error_code}]}
 *
 * And the one a stopping broker sends to the controller:
 *   ControlledShutdown (7): {broker_id} -> {error_code, remaining_count}
 *     NOT_CONTROLLER when this broker is not the active controller;
 *     remaining_count: partitions the stopping broker still leads that
 *     could move (it asks again until 0).
 */
#include <string.h>

#include "blog.h"
#include "broker_ctrl.h"
#include "handler.h"
#include "metadata.h"

/* 0 when the request's controller epoch is current (and remembers it). */
static int fenced(handler_ctx_t *ctx, int32_t *controller_id)
{
	int32_t epoch = -1;
	char err[256];

	*controller_id = -1;
	if (proto_get_i32(ctx->req->body, "controller_id", 1, controller_id, err, sizeof(err)) ||
	    proto_get_i32(ctx->req->body, "controller_epoch", 1, &epoch, err, sizeof(err))) {
		handler_reject(ctx, err);
		return -1;
	}
	if (epoch < ctx->b->controller_epoch) {
		blog(BLOG_WARN, "broker",
		     "refused a request of controller %d at epoch %d (the current epoch is %d)",
		     (int)*controller_id, (int)epoch, (int)ctx->b->controller_epoch);
		handler_pack_error_body(&ctx->pk, BROOK_ERR_STALE_CONTROLLER_EPOCH,
					"the controller epoch is stale");
		handler_finish(ctx->resp);
		return -1;
	}
	ctx->b->controller_epoch = epoch;
	return 0;
}

static int get_ids(const msgpack_object *m, const char *key, int32_t *out, int32_t *n)
{
	const msgpack_object_array *a;

	*n = 0;
	if (proto_get_array(m, key, 1, &a, NULL, 0) || a->size > PARTITION_MAX_REPLICAS)
		return -1;
	for (uint32_t i = 0; i < a->size; i++) {
		if (a->ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    a->ptr[i].via.u64 > INT32_MAX)
			return -1;
		out[(*n)++] = (int32_t)a->ptr[i].via.u64;
	}
	return 0;
}

static void pack_part_error(msgpack_packer *pk, const char *name, uint32_t nlen, int32_t idx,
			    brook_err_t err)
{
	msgpack_pack_map(pk, 3);
	proto_pack_kv_strn(pk, "topic_name", name, nlen);
	proto_pack_kv_int(pk, "partition_index", idx);
	proto_pack_kv_int(pk, "error_code", err);
}

/* One partition state of a LeaderAndIsr. */
static brook_err_t leader_and_isr_one(broker_t *b, const msgpack_object *st, char *name,
				      size_t name_size, int32_t *idx)
{
	int32_t replicas[PARTITION_MAX_REPLICAS], isr[PARTITION_MAX_REPLICAS];
	md_partition_t mp;
	partition_t *p;
	const char *t;
	uint32_t tlen;

	memset(&mp, 0, sizeof(mp));
	*idx = -1;
	name[0] = 0;
	if (proto_get_str(st, "topic_name", 1, &t, &tlen, NULL, 0) ||
	    proto_copy_str(t, tlen, name, name_size) ||
	    proto_get_i32(st, "partition_index", 1, idx, NULL, 0) ||
	    proto_get_i32(st, "controller_epoch", 1, &mp.controller_epoch, NULL, 0) ||
	    proto_get_i32(st, "leader", 1, &mp.leader, NULL, 0) ||
	    proto_get_i32(st, "leader_epoch", 1, &mp.leader_epoch, NULL, 0) ||
	    proto_get_i32(st, "zk_version", 1, &mp.state_version, NULL, 0) ||
	    get_ids(st, "isr", isr, &mp.nisr) || get_ids(st, "replicas", replicas, &mp.nreplicas) ||
	    *idx < 0)
		return BROOK_ERR_INVALID_REQUEST;
	mp.id = *idx;
	mp.has_state = 1;
	mp.isr = isr;
	mp.replicas = replicas;
	if (!(p = partition_find(&b->parts, name, *idx)) &&
	    !(p = broker_host_partition(b, name, *idx)))
		return BROOK_ERR_KAFKA_STORAGE_ERROR;
	if (mp.leader_epoch < p->leader_epoch)
		return BROOK_ERR_STALE_CONTROLLER_EPOCH; /* Kafka's answer to an old epoch */
	broker_apply_state(b, p, &mp, mp.leader);
	return BROOK_ERR_NO_ERROR;
}

void handler_leader_and_isr(handler_ctx_t *ctx)
{
	msgpack_packer *pk = &ctx->pk;
	const msgpack_object_array *states;
	int32_t controller;
	char err[256];

	if (fenced(ctx, &controller))
		return;
	if (proto_get_array(ctx->req->body, "partition_states", 1, &states, err, sizeof(err))) {
		handler_reject(ctx, err);
		return;
	}
	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "error_code", BROOK_ERR_NO_ERROR);
	proto_pack_key(pk, "partition_errors");
	msgpack_pack_array(pk, states->size);
	for (uint32_t i = 0; i < states->size; i++) {
		char name[LOG_TOPIC_MAX + 1];
		int32_t idx;
		brook_err_t e = leader_and_isr_one(ctx->b, &states->ptr[i], name, sizeof(name), &idx);

		pack_part_error(pk, name, (uint32_t)strlen(name), idx, e);
	}
	handler_finish(ctx->resp);
}

void handler_update_metadata(handler_ctx_t *ctx)
{
	int32_t controller;

	/* The broker's metadata comes from its own watches; this request
	 * fences a deposed controller and says the cluster changed. */
	if (fenced(ctx, &controller))
		return;
	msgpack_pack_map(&ctx->pk, 1);
	proto_pack_kv_int(&ctx->pk, "error_code", BROOK_ERR_NO_ERROR);
	handler_finish(ctx->resp);
}

void handler_stop_replica(handler_ctx_t *ctx)
{
	msgpack_packer *pk = &ctx->pk;
	const msgpack_object_array *parts;
	int32_t controller;
	int del = 0;
	char err[256];

	if (fenced(ctx, &controller))
		return;
	if (proto_get_bool(ctx->req->body, "delete_partitions", 0, &del, err, sizeof(err)) ||
	    proto_get_array(ctx->req->body, "partitions", 1, &parts, err, sizeof(err))) {
		handler_reject(ctx, err);
		return;
	}
	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "error_code", BROOK_ERR_NO_ERROR);
	proto_pack_key(pk, "partition_errors");
	msgpack_pack_array(pk, parts->size);
	for (uint32_t i = 0; i < parts->size; i++) {
		const char *t = "";
		uint32_t tlen = 0;
		int32_t idx = -1;
		partition_t *p = NULL;
		brook_err_t e = BROOK_ERR_NO_ERROR;

		if (proto_get_str(&parts->ptr[i], "topic_name", 1, &t, &tlen, NULL, 0) ||
		    proto_get_i32(&parts->ptr[i], "partition_index", 1, &idx, NULL, 0))
			e = BROOK_ERR_INVALID_REQUEST;
		else if ((p = partition_findn(&ctx->b->parts, t, tlen, idx))) {
			blog(BLOG_INFO, "broker", "%s-%d: stopped by controller %d%s", p->topic, p->id,
			     (int)controller, del ? ", deleting it" : "");
			if (del) {
				broker_delete_partition(ctx->b, p);
			} else {
				broker_stop_serving(ctx->b, p);
			}
		}
		pack_part_error(pk, t, tlen, idx, e);
	}
	handler_finish(ctx->resp);
}

void handler_controlled_shutdown(handler_ctx_t *ctx)
{
	int32_t id = -1;
	int remaining = -1;
	char err[256];
	brook_err_t e;

	if (proto_get_i32(ctx->req->body, "broker_id", 1, &id, err, sizeof(err))) {
		handler_reject(ctx, err);
		return;
	}
	e = broker_ctrl_controlled_shutdown(ctx->b->ctrl, id, &remaining);
	if (e == BROOK_ERR_NO_ERROR)
		blog(BLOG_INFO, "controller", "controlled shutdown of broker %d: %d leadership(s) left",
		     (int)id, remaining);
	msgpack_pack_map(&ctx->pk, 2);
	proto_pack_kv_int(&ctx->pk, "error_code", e);
	proto_pack_kv_int(&ctx->pk, "remaining_count", remaining);
	handler_finish(ctx->resp);
}
