/* handler.c - request decoding, the API table and request-level errors. */
#include <string.h>

#include "blog.h"
#include "handler.h"
#include "metadata.h"

static const handler_def_t table[] = {
	{ PROTO_API_PRODUCE, 0, 0, handler_produce },
	{ PROTO_API_FETCH, 0, 0, handler_fetch },
	{ PROTO_API_LIST_OFFSETS, 0, 0, handler_list_offsets },
	{ PROTO_API_METADATA, 0, 0, handler_metadata },
	{ PROTO_API_API_VERSIONS, 0, 0, handler_api_versions },
	{ PROTO_API_OFFSETS_FOR_LEADER_EPOCH, 0, 0, handler_offsets_for_leader_epoch },
	{ PROTO_API_LEADER_AND_ISR, 0, 0, handler_leader_and_isr },
	{ PROTO_API_UPDATE_METADATA, 0, 0, handler_update_metadata },
	{ PROTO_API_STOP_REPLICA, 0, 0, handler_stop_replica },
	{ PROTO_API_CONTROLLED_SHUTDOWN, 0, 0, handler_controlled_shutdown },
	{ 0, 0, 0, NULL },
};

const handler_def_t *handler_table(void)
{
	return table;
}

void handler_finish(net_resp_t *resp)
{
	net_resp_done(resp);
}

void handler_reject(handler_ctx_t *ctx, const char *msg)
{
	handler_pack_error_body(&ctx->pk, BROOK_ERR_INVALID_REQUEST, msg);
	net_resp_close_after(ctx->resp);
	handler_finish(ctx->resp);
}

void handler_pack_error_body(msgpack_packer *pk, brook_err_t err, const char *msg)
{
	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "error_code", err);
	proto_pack_kv_str(pk, "error_message", msg);
}

brook_err_t handler_partition_error(broker_t *b, const char *topic, size_t topic_len,
				    int32_t partition, partition_t **out)
{
	partition_t *p = partition_findn(&b->parts, topic, topic_len, partition);
	const metadata_t *md;
	const md_topic_t *t;
	char name[LOG_TOPIC_MAX + 1];

	*out = NULL;
	if (p && p->is_leader && !p->offline) {
		*out = p;
		return BROOK_ERR_NO_ERROR;
	}
	if (p && p->offline)
		return BROOK_ERR_KAFKA_STORAGE_ERROR;
	if (topic_len > LOG_TOPIC_MAX)
		return BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	memcpy(name, topic, topic_len);
	name[topic_len] = 0;
	md = broker_zk_metadata(b->zk);
	t = md ? metadata_topic(md, name) : NULL;
	if (!t || partition < 0 || partition >= t->npartitions)
		return BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	return BROOK_ERR_NOT_LEADER_OR_FOLLOWER;
}

void handler_api_versions(handler_ctx_t *ctx)
{
	int n = 0;

	for (const handler_def_t *d = table; d->fn; d++)
		n++;
	msgpack_pack_map(&ctx->pk, 2);
	proto_pack_kv_int(&ctx->pk, "error_code", BROOK_ERR_NO_ERROR);
	proto_pack_key(&ctx->pk, "api_keys");
	msgpack_pack_array(&ctx->pk, (size_t)n);
	for (const handler_def_t *d = table; d->fn; d++) {
		msgpack_pack_array(&ctx->pk, 3);
		msgpack_pack_int(&ctx->pk, d->api_key);
		msgpack_pack_int(&ctx->pk, d->min_version);
		msgpack_pack_int(&ctx->pk, d->max_version);
	}
	handler_finish(ctx->resp);
}

void handler_request(void *opaque, net_conn_t *c, char *frame, size_t len, net_resp_t *resp)
{
	broker_t *b = opaque;
	handler_ctx_t ctx = { .b = b, .conn = c, .resp = resp };
	msgpack_unpacked u;
	proto_request_t req;
	const handler_def_t *d;
	char err[256];
	int have_corr;

	msgpack_packer_init(&ctx.pk, net_resp_buf(resp), proto_buf_write);
	msgpack_unpacked_init(&u);
	if (proto_request_decode(frame, len, &u, &req, &have_corr, err, sizeof(err))) {
		blog(BLOG_WARN, "net", "%s: malformed request: %s; closing", net_conn_peer(c), err);
		if (have_corr) {
			proto_pack_response_header(&ctx.pk, req.correlation_id);
			handler_pack_error_body(&ctx.pk, BROOK_ERR_INVALID_REQUEST, err);
			net_resp_close_after(resp);
			net_resp_done(resp);
		} else {
			net_resp_close_after(resp);
			net_resp_drop(resp);
		}
		msgpack_unpacked_destroy(&u);
		return;
	}
	ctx.req = &req;
	for (d = table; d->fn; d++)
		if (d->api_key == req.api_key)
			break;
	if (!d->fn || req.api_version < d->min_version || req.api_version > d->max_version) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%s version %d is not supported",
			 d->fn ? proto_api_name(req.api_key) : "unknown API", req.api_version);
		blog(BLOG_INFO, "net", "%s: api_key %d: %s", net_conn_peer(c), req.api_key, msg);
		proto_pack_response_header(&ctx.pk, req.correlation_id);
		handler_pack_error_body(&ctx.pk, BROOK_ERR_UNSUPPORTED_VERSION, msg);
		net_resp_done(resp);
		msgpack_unpacked_destroy(&u);
		return;
	}
	if (b->state != BROKER_RUNNING) {
		proto_pack_response_header(&ctx.pk, req.correlation_id);
		handler_pack_error_body(&ctx.pk, BROOK_ERR_BROKER_NOT_AVAILABLE,
					"broker is shutting down");
		net_resp_done(resp);
		msgpack_unpacked_destroy(&u);
		return;
	}
	proto_pack_response_header(&ctx.pk, req.correlation_id);
	d->fn(&ctx);
	msgpack_unpacked_destroy(&u);
}
