/*
 * handler.h - the request table: one entry per API (key, version range,
 * handler), declared once in handler.c; each API's handler lives in its
 * own handler_<api>.c.
 *
 * handler_request() is the network server's request callback: it decodes
 * the frame, finds the entry, packs the response header and calls the
 * handler with a packer positioned at the response body. A handler packs
 * exactly one map and then calls handler_finish() (or net_resp_drop()),
 * now or later. Request bytes and the decoded tree are valid only during
 * the call; a handler that answers later copies what it needs.
 */
#ifndef BROOK_HANDLER_H
#define BROOK_HANDLER_H

#include <msgpack.h>

#include "broker.h"
#include "net.h"
#include "proto.h"

typedef struct handler_ctx {
	broker_t *b;
	net_conn_t *conn;
	net_resp_t *resp;
	const proto_request_t *req;
	msgpack_packer pk;         /* writes into net_resp_buf(resp) */
} handler_ctx_t;

typedef void (handler_fn)(handler_ctx_t *ctx);

typedef struct handler_def {
	int16_t api_key;
	int16_t min_version, max_version;
	handler_fn *fn;
} handler_def_t;

/* net_request_cb for the broker (opaque is the broker_t). */
void handler_request(void *opaque, net_conn_t *c, char *frame, size_t len, net_resp_t *resp);

/* The table, ending with fn == NULL (ApiVersions lists it). */
const handler_def_t *handler_table(void);

/* Sends the response packed so far. */
void handler_finish(net_resp_t *resp);

void handler_api_versions(handler_ctx_t *ctx);
void handler_metadata(handler_ctx_t *ctx);
void handler_produce(handler_ctx_t *ctx);
void handler_fetch(handler_ctx_t *ctx);
void handler_list_offsets(handler_ctx_t *ctx);
void handler_offsets_for_leader_epoch(handler_ctx_t *ctx);
/* handler_controller.c: requests from the controller */
void handler_leader_and_isr(handler_ctx_t *ctx);
void handler_update_metadata(handler_ctx_t *ctx);
void handler_stop_replica(handler_ctx_t *ctx);
void handler_controlled_shutdown(handler_ctx_t *ctx);

/* Shared by handlers: the error code of a partition this broker cannot
 * serve as leader (unknown topic, unknown partition, not the leader). */
brook_err_t handler_partition_error(broker_t *b, const char *topic, size_t topic_len,
				    int32_t partition, partition_t **out);

/* Packs an {error_code, error_message} body, for requests that fail whole. */
void handler_pack_error_body(msgpack_packer *pk, brook_err_t err, const char *msg);
/* A request that does not decode as its API says: answers INVALID_REQUEST
 * with msg and closes the connection after the answer (DESIGN.md). */
void handler_reject(handler_ctx_t *ctx, const char *msg);

#endif
