/*
 * peer.h - a connection from this broker to another one, found by id in
 * the cluster view (metadata.h) and re-pointed when the broker registers
 * again at another address. Replica fetchers and the controller's
 * requests use it; conn.h does the framing, pipelining and reconnects.
 *
 * Ownership: the caller owns the peer_t and must not move it once open
 * (the connection's log callback points at it); peer_close() frees the
 * connection, failing what is outstanding (conn.h).
 */
#ifndef BROOK_PEER_H
#define BROOK_PEER_H

#include <stdint.h>

#include "conn.h"

struct broker;

typedef struct peer {
	int32_t id;
	conn_t *conn;
	char host[256];
	int port;
	const char *role;   /* for log lines: "replica fetcher", "controller" */
} peer_t;

/* Opens the connection (it connects at the first request). -1 when the
 * broker is not in the view or without memory. */
int peer_open(peer_t *p, struct broker *b, int32_t id, const char *role);
/* Follows the broker's current registration; -1 when it has none. */
int peer_refresh(peer_t *p, struct broker *b);
/* NULL conn is fine (never opened). */
void peer_close(peer_t *p);

#endif /* BROOK_PEER_H */
