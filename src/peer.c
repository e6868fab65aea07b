/* peer.c - connections to other brokers by id (see peer.h). */
#include <stdio.h>
#include <string.h>

#include "blog.h"
#include "broker.h"
#include "peer.h"

static void peer_log(void *opaque, int level, const char *message)
{
	peer_t *p = opaque;

	blog(level <= BROOK_LOG_WARNING ? BLOG_WARN : BLOG_DEBUG, "broker", "%s to broker %d: %s",
	     p->role, (int)p->id, message);
}

int peer_open(peer_t *p, broker_t *b, int32_t id, const char *role)
{
	const md_broker_t *br = metadata_broker(broker_zk_metadata(b->zk), id);
	char client_id[64];
	conn_opts_t opts;

	memset(p, 0, sizeof(*p));
	if (!br)
		return -1;
	p->id = id;
	p->role = role;
	snprintf(p->host, sizeof(p->host), "%s", br->host);
	p->port = br->port;
	snprintf(client_id, sizeof(client_id), "broker-%d", (int)b->id);
	memset(&opts, 0, sizeof(opts));
	opts.client_id = client_id;
	opts.connect_timeout_ms = 5000;
	opts.backoff_ms = 100;
	opts.backoff_max_ms = 1000;
	opts.log = peer_log;
	opts.opaque = p;
	if (conn_new(b->loop, p->host, p->port, &opts, &p->conn)) {
		p->conn = NULL;
		return -1;
	}
	return 0;
}

int peer_refresh(peer_t *p, broker_t *b)
{
	const md_broker_t *br = metadata_broker(broker_zk_metadata(b->zk), p->id);

	if (!br)
		return -1;
	if (strcmp(p->host, br->host) || p->port != br->port) {
		snprintf(p->host, sizeof(p->host), "%s", br->host);
		p->port = br->port;
		conn_set_address(p->conn, p->host, p->port);
	}
	return 0;
}

void peer_close(peer_t *p)
{
	conn_free(p->conn);
	p->conn = NULL;
}
