/*
 * conn.h - one client connection to one broker, on the caller's libev loop:
 * a non-blocking socket, 4-byte big-endian length + msgpack framing
 * (proto.h), pipelined requests matched to responses by correlation id,
 * lazy reconnect with exponential backoff, and a deadline on everything.
 *
 * State machine (conn_state_name()):
 *   DOWN --request queued, backoff over--> CONNECTING --connected--> UP
 *   CONNECTING --refused/timeout (every address tried)--> DOWN (+backoff)
 *   UP --error, EOF, bad frame, a request past its deadline--> DOWN (+backoff)
 * A connection that goes DOWN fails every outstanding request, sent or
 * not: a response that can no longer come must not keep its caller waiting,
 * and a frame that was never sent must not go out later, after the caller
 * retried it elsewhere.
 *
 * Contract: conn_request() returning BROOK_ERR_NO_ERROR calls its callback
 * exactly once, later, from the loop (never from inside conn_request). The
 * response body passed to it points into the connection's input buffer and
 * is valid only during the call. Callbacks may issue new requests but must
 * not call conn_free().
 *
 * Ownership: the connection copies host, client id and every request body
 * (it packs the body into its own output buffer). conn_free() fails the
 * outstanding requests with BROOK_ERR__CLOSED (their callbacks run inside
 * it); conn_free(NULL) is a no-op.
 *
 * Blocking: the host name is resolved with getaddrinfo() when a connection
 * starts; IP addresses and /etc/hosts names never wait on the network.
 */
#ifndef BROOK_CONN_H
#define BROOK_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "brook.h"

struct ev_loop;

typedef struct conn conn_t;

typedef enum conn_state {
	CONN_DOWN,
	CONN_CONNECTING,
	CONN_UP,
} conn_state_t;

/* err: BROOK_ERR_NO_ERROR with the response body (NULL for a request sent
 * without expecting a response, called once it is written to the socket),
 * or _TRANSPORT (connection failed or lost), _TIMED_OUT (this request passed
 * its deadline; the connection is closed), _BAD_MSG (undecodable response;
 * the connection is closed), _CLOSED (conn_free). */
typedef void (conn_resp_cb)(conn_t *conn, brook_err_t err, const msgpack_object *body,
			    void *opaque);
/* Packs the request body: one msgpack map. */
typedef void (conn_body_fn)(msgpack_packer *pk, void *arg);
/* Log sink: level as brook.h's BROOK_LOG_*, a finished message. */
typedef void (conn_log_fn)(void *opaque, int level, const char *message);
/* Every state change; reason is set when going DOWN. */
typedef void (conn_state_fn)(conn_t *conn, conn_state_t state, brook_err_t err,
			     const char *reason, void *opaque);

typedef struct conn_opts {
	const char *client_id;       /* sent in every request header; may be NULL */
	int connect_timeout_ms;
	int backoff_ms;              /* first reconnect wait; doubles up to backoff_max_ms */
	int backoff_max_ms;
	uint32_t max_frame;          /* largest response accepted; 0: PROTO_MAX_RESPONSE_BYTES */
	conn_state_fn *on_state;     /* optional */
	conn_log_fn *log;            /* optional */
	void *opaque;                /* for on_state and log */
} conn_opts_t;

/* A connection to host:port, DOWN until the first request. */
brook_err_t conn_new(struct ev_loop *loop, const char *host, int port, const conn_opts_t *opts,
		     conn_t **out);
void conn_free(conn_t *c);

/* Queues one request [api_key, api_version, correlation_id, client_id,
 * body] and connects if needed. timeout_ms bounds the whole exchange from
 * now (connecting included). expect_response 0 is for acks=0 produce: the
 * callback runs, with a NULL body, once the frame is written.
 * Errors (the callback will not run): _NOMEM, MESSAGE_TOO_LARGE. */
brook_err_t conn_request(conn_t *c, int16_t api_key, int16_t api_version, conn_body_fn *body,
			 void *arg, int timeout_ms, int expect_response, conn_resp_cb *cb,
			 void *opaque);

conn_state_t conn_state(const conn_t *c);
const char *conn_state_name(conn_state_t state);
/* "host:port" */
const char *conn_name(const conn_t *c);
/* Requests queued or sent and not completed yet. */
size_t conn_outstanding(const conn_t *c);
/* Why the connection last went DOWN ("connect: Connection refused"), ""
 * before any failure; valid until the next failure. */
const char *conn_last_error(const conn_t *c);
/* Milliseconds until the backoff after a failure ends (0: may connect now). */
int64_t conn_backoff_left_ms(const conn_t *c);

/* The broker moved: later connections go to host:port; a live connection
 * to the old address is closed (its requests fail with _TRANSPORT). */
brook_err_t conn_set_address(conn_t *c, const char *host, int port);

/* Monotonic milliseconds, the clock every deadline of the library uses. */
int64_t conn_now_ms(void);

#endif
