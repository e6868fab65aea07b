/*
 * client_md.h - the cluster's metadata as the client sees it: the Metadata
 * request body, its response parsed into plain structs, and a cache of the
 * topics the handle cares about (brokers live in client.c, with their
 * connections).
 *
 * Ownership: client_md_response_parse() hands a new client_md_response_t to
 * the caller (client_md_response_free). client_md_cache_update() moves the
 * response's topics into the cache, which owns them until the next update
 * of the same topic or client_md_cache_destroy(); pointers returned by
 * client_md_cache_topic() are valid until then. Used on the I/O thread only.
 */
#ifndef BROOK_CLIENT_MD_H
#define BROOK_CLIENT_MD_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "brook.h"

/* Partitions per topic we accept from a broker (as zk_json.h's limit). */
#define CLIENT_MD_MAX_PARTITIONS 100000
#define CLIENT_MD_HOST_MAX 255

typedef struct client_md_broker {
	int32_t id;
	char host[CLIENT_MD_HOST_MAX + 1];
	int32_t port;
} client_md_broker_t;

/* Indexed by partition id; a partition the response left out reads as
 * LEADER_NOT_AVAILABLE with leader -1. */
typedef struct client_md_partition {
	brook_err_t err;
	int32_t leader;
	int32_t leader_epoch;
} client_md_partition_t;

typedef struct client_md_topic {
	char *name;
	brook_err_t err;
	int32_t partition_cnt;
	client_md_partition_t *partitions;
} client_md_topic_t;

typedef struct client_md_response {
	size_t broker_cnt;
	client_md_broker_t *brokers;
	size_t topic_cnt;
	client_md_topic_t *topics;
	int32_t controller_id;
} client_md_response_t;

/* Metadata (3) request body: {topics: [name...], allow_auto_topic_creation}.
 * topics NULL asks for every topic. */
typedef struct client_md_request {
	const char *const *topics;
	size_t topic_cnt;
	int allow_auto_create;
} client_md_request_t;

/* conn_body_fn for client_md_request_t. */
void client_md_request_pack(msgpack_packer *pk, void *md_request);

/* Parses a Metadata response body. A top-level error_code (an old broker's
 * UNSUPPORTED_VERSION, say) is returned as that error; a body that does not
 * follow proto.h is _BAD_MSG with the field in errstr. */
brook_err_t client_md_response_parse(const msgpack_object *body, client_md_response_t **out,
				     char *errstr, size_t errstr_size);
void client_md_response_free(client_md_response_t *r);

typedef struct client_md_cache {
	client_md_topic_t *topics;
	size_t cnt, cap;
} client_md_cache_t;

void client_md_cache_init(client_md_cache_t *c);
void client_md_cache_destroy(client_md_cache_t *c);
/* Takes over every topic of r (r keeps only its brokers). */
brook_err_t client_md_cache_update(client_md_cache_t *c, client_md_response_t *r);
/* NULL when no response has mentioned the topic yet. */
const client_md_topic_t *client_md_cache_topic(const client_md_cache_t *c, const char *name);

/* Errors after which asking again (after a metadata refresh) can succeed. */
int client_md_err_retriable(brook_err_t err);

#endif
