/*
 * net.h - the broker's network server: listeners and connections on the
 * libev loop, speaking length-prefixed frames (proto.h).
 *
 * A connection is a state machine with an input buffer and an ordered queue
 * of responses. Each complete request frame is handed to the request
 * callback together with a fresh net_resp_t; the handler fills it and calls
 * net_resp_done() (or net_resp_drop() for acks=0) now or later (a long-poll
 * Fetch). Responses go out in request order whatever order they complete
 * in (Kafka's pipelining rule). A response is memory (msgpack) with file
 * regions spliced in, which go out with sendfile(2): segment bytes never
 * pass through user space.
 *
 * Backpressure: when a connection's queued responses pass
 * connection.output.max.bytes, or it has too many requests in flight, the
 * server stops reading it until the queue drains to half, so a slow reader
 * costs bounded memory. Frames over socket.request.max.bytes close the
 * connection before any of the frame is buffered.
 *
 * Ownership: the connection owns its responses. After net_resp_done() or
 * net_resp_drop() the handler must not touch the response. If the
 * connection closes first, the response's cancel callback is called and the
 * response is freed right after; the handler forgets it there. A spliced
 * file region's release callback runs once its bytes are sent or the
 * response is freed.
 */
#ifndef BROOK_NET_H
#define BROOK_NET_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "proto.h"

struct ev_loop;

typedef struct net_server net_server_t;
typedef struct net_conn net_conn_t;
typedef struct net_resp net_resp_t;

typedef struct net_limits {
	size_t request_max_bytes;  /* socket.request.max.bytes */
	size_t output_max_bytes;   /* connection.output.max.bytes */
	int64_t idle_ms;           /* connections.max.idle.ms; <= 0: never */
	int max_in_flight;         /* requests awaiting a response per connection */
} net_limits_t;

/* A complete request frame (without its length prefix), valid only during
 * the call; the handler may modify it in place (Produce stamps offsets into
 * the batches before appending them, saving a copy). resp is the slot for
 * its response, in order. */
typedef void (net_request_cb)(void *opaque, net_conn_t *c, char *frame, size_t len,
			      net_resp_t *resp);

typedef struct net_stats {
	uint64_t accepted, closed, requests, oversized, idle_closed, backpressured;
	size_t open;
} net_stats_t;

/* Listens on host:port (port 0: any free port, see net_server_port). */
brook_err_t net_server_new(struct ev_loop *loop, const char *host, int port,
			   const net_limits_t *limits, net_request_cb *cb, void *opaque,
			   net_server_t **out, char *errstr, size_t errstr_size);
int net_server_port(const net_server_t *s);
/* Stops (0) or resumes (1) accepting; the socket stays bound and
 * listening, so clients that come meanwhile wait in the backlog. A new
 * server accepts at once. */
void net_server_accept(net_server_t *s, int on);
const net_stats_t *net_server_stats(const net_server_t *s);
/* Closes the listener; open connections carry on. */
void net_server_stop_accepting(net_server_t *s);
/* Closes every connection (cancelling pending responses) and the listener.
 * NULL ok. */
void net_server_free(net_server_t *s);

/* "127.0.0.1:50312" */
const char *net_conn_peer(const net_conn_t *c);

/* The response's memory part: a frame is already begun at offset 0. */
proto_buf_t *net_resp_buf(net_resp_t *r);
net_conn_t *net_resp_conn(const net_resp_t *r);

/* Splices len bytes of fd at pos after what the buffer holds now. */
brook_err_t net_resp_add_file(net_resp_t *r, int fd, uint64_t pos, size_t len,
			      void (*release)(void *ref), void *ref);

/* Called if the connection closes while the response is pending. */
void net_resp_set_cancel(net_resp_t *r, void (*cancel)(void *arg), void *arg);

/* Close the connection once this response is sent (a protocol error). */
void net_resp_close_after(net_resp_t *r);

/* Finishes the frame and queues it. A frame that could not be built
 * (allocation failure) closes the connection instead. */
void net_resp_done(net_resp_t *r);

/* No response for this request (Produce with acks=0). */
void net_resp_drop(net_resp_t *r);

#endif
