/* conn.c - one pipelined, framed, self-reconnecting broker connection. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "conn.h"
#include "proto.h"

/* Free space kept at the end of the input buffer for one read(2). */
#define CONN_READ_CHUNK (64 * 1024)
/* Reads per readable event, so one busy socket cannot starve the others. */
#define CONN_READS_PER_EVENT 16
/* An idle output buffer larger than this is given back to the allocator. */
#define CONN_OUT_KEEP (4u << 20)

typedef struct conn_req {
	struct conn_req *next;
	int32_t corr;
	int16_t api_key;
	int expect_response;
	uint64_t end_pos;     /* stream position just past this request's frame */
	int64_t deadline_ms;
	conn_resp_cb *cb;
	void *opaque;
} conn_req_t;

struct conn {
	struct ev_loop *loop;
	char *host;
	int port;
	char name[300];
	char *client_id;
	conn_opts_t opts;

	conn_state_t state;
	int fd;
	ev_io rio, wio;
	ev_timer timer;
	struct addrinfo *ai, *ai_next;
	int64_t connect_deadline;
	int64_t backoff_until;
	int backoff_cur;
	int fail_streak;              /* failed connects since the last UP */
	uint32_t rand_state;

	conn_req_t *head, *tail;
	size_t nreq;
	size_t n_noresp;              /* requests not expecting a response */
	int32_t next_corr;

	proto_buf_t out;
	size_t out_off;               /* bytes of out already written */
	uint64_t out_base;            /* bytes written before out's first byte */

	char *in;
	size_t in_len, in_cap;

	char last_error[256];         /* reason of the last failure */
	int busy;                     /* > 0 while callbacks run */
	int fail_pending;
	brook_err_t fail_err;
	char fail_reason[256];
};

static const char *const state_names[] = { "DOWN", "CONNECTING", "UP" };

const char *conn_state_name(conn_state_t state)
{
	return (unsigned)state < 3 ? state_names[state] : "?";
}

int64_t conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(conn_t *c, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void logf_(conn_t *c, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	if (!c->opts.log)
		return;
	n = snprintf(msg, sizeof(msg), "%s: ", c->name);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	c->opts.log(c->opts.opaque, level, msg);
}

/* Every state change goes through here, so the log shows old -> new. */
static void set_state(conn_t *c, conn_state_t state, brook_err_t err, const char *reason)
{
	conn_state_t old = c->state;

	if (old == state)
		return;
	c->state = state;
	logf_(c, BROOK_LOG_DEBUG, "%s -> %s%s%s", conn_state_name(old), conn_state_name(state),
	      reason ? ": " : "", reason ? reason : "");
	if (c->opts.on_state)
		c->opts.on_state(c, state, err, reason, c->opts.opaque);
}

static void set_name(conn_t *c)
{
	if (strchr(c->host, ':'))
		snprintf(c->name, sizeof(c->name), "[%s]:%d", c->host, c->port);
	else
		snprintf(c->name, sizeof(c->name), "%s:%d", c->host, c->port);
}

/* ---- timer: connect start, connect timeout, request deadlines ---- */

static void rearm(conn_t *c)
{
	int64_t now = conn_now_ms(), next = INT64_MAX;

	for (conn_req_t *r = c->head; r; r = r->next)
		if (r->deadline_ms < next)
			next = r->deadline_ms;
	if (c->state == CONN_DOWN && c->nreq && c->backoff_until < next)
		next = c->backoff_until;
	if (c->state == CONN_CONNECTING && c->connect_deadline < next)
		next = c->connect_deadline;
	if (c->fail_pending)
		next = now;
	ev_timer_stop(c->loop, &c->timer);
	if (next == INT64_MAX)
		return;
	ev_timer_set(&c->timer, next > now ? (double)(next - now) / 1000.0 : 0.0, 0.0);
	ev_timer_start(c->loop, &c->timer);
}

/* ---- failing ---- */

static void close_socket(conn_t *c)
{
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void clear_buffers(conn_t *c)
{
	if (c->out.sb.alloc > CONN_OUT_KEEP) {
		proto_buf_destroy(&c->out);
		proto_buf_init(&c->out);
	} else {
		proto_buf_reset(&c->out);
	}
	c->out_off = 0;
	c->out_base = 0;
	c->in_len = 0;
}

static void complete(conn_t *c, conn_req_t *r, brook_err_t err, const msgpack_object *body)
{
	c->busy++;
	r->cb(c, err, body, r->opaque);
	c->busy--;
	free(r);
}

static void do_fail(conn_t *c, brook_err_t err, const char *reason, conn_req_t *expired);

/* Closes the connection and fails everything outstanding. From inside a
 * callback the failure is deferred until the callback returns, so the
 * input buffer being parsed stays put. */
static void fail(conn_t *c, brook_err_t err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(conn_t *c, brook_err_t err, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (c->busy) {
		if (!c->fail_pending) {
			c->fail_pending = 1;
			c->fail_err = err;
			snprintf(c->fail_reason, sizeof(c->fail_reason), "%s", reason);
		}
		return;
	}
	do_fail(c, err, reason, NULL);
}

static void jitter_backoff(conn_t *c)
{
	int64_t wait = c->backoff_cur;

	/* +-20%: clients that lost the same broker do not all come back in
	 * the same millisecond. xorshift32 is enough for that. */
	c->rand_state ^= c->rand_state << 13;
	c->rand_state ^= c->rand_state >> 17;
	c->rand_state ^= c->rand_state << 5;
	if (wait > 0)
		wait += (int64_t)(c->rand_state % (uint32_t)(wait * 2 / 5 + 1)) - wait / 5;
	c->backoff_until = conn_now_ms() + wait;
	if (c->backoff_cur < c->opts.backoff_max_ms / 2)
		c->backoff_cur *= 2;
	else
		c->backoff_cur = c->opts.backoff_max_ms;
}

/* The failure itself. `expired`, when set, is the request that timed out:
 * it alone completes with _TIMED_OUT, the others with err. */
static void do_fail(conn_t *c, brook_err_t err, const char *reason, conn_req_t *expired)
{
	conn_req_t *list = c->head;
	conn_state_t old = c->state;

	c->fail_pending = 0;
	if (err != BROOK_ERR__CLOSED)
		snprintf(c->last_error, sizeof(c->last_error), "%s", reason);
	close_socket(c);
	if (c->ai) {
		freeaddrinfo(c->ai);
		c->ai = NULL;
		c->ai_next = NULL;
	}
	clear_buffers(c);
	c->head = c->tail = NULL;
	c->nreq = 0;
	c->n_noresp = 0;
	if (err == BROOK_ERR__CLOSED) {
		/* conn_free: nothing went wrong */
	} else if (old == CONN_UP) {
		/* an idle connection going away costs nobody anything */
		logf_(c, list ? BROOK_LOG_WARNING : BROOK_LOG_INFO, "disconnected: %s", reason);
		c->backoff_cur = c->opts.backoff_ms;
		c->fail_streak = 0;
	} else {
		/* one line per outage, not one per attempt */
		logf_(c, c->fail_streak == 0 ? BROOK_LOG_WARNING : BROOK_LOG_DEBUG,
		      "cannot connect: %s", reason);
		c->fail_streak++;
	}
	if (err != BROOK_ERR__CLOSED)
		jitter_backoff(c);
	set_state(c, CONN_DOWN, err, reason);
	while (list) {
		conn_req_t *r = list;

		list = r->next;
		complete(c, r, r == expired ? BROOK_ERR__TIMED_OUT : err, NULL);
	}
	if (c->fail_pending) /* cannot happen: callbacks do no I/O; kept for safety */
		do_fail(c, c->fail_err, c->fail_reason, NULL);
	rearm(c);
}

static void run_deferred_fail(conn_t *c)
{
	if (!c->busy && c->fail_pending) {
		char reason[256];

		snprintf(reason, sizeof(reason), "%s", c->fail_reason);
		do_fail(c, c->fail_err, reason, NULL);
	}
}

/* ---- connecting ---- */

static void on_connected(conn_t *c)
{
	if (c->ai) {
		freeaddrinfo(c->ai);
		c->ai = NULL;
		c->ai_next = NULL;
	}
	c->backoff_cur = c->opts.backoff_ms;
	if (c->fail_streak)
		logf_(c, BROOK_LOG_INFO, "connected after %d failed attempts", c->fail_streak);
	c->fail_streak = 0;
	set_state(c, CONN_UP, BROOK_ERR_NO_ERROR, NULL);
	ev_io_set(&c->rio, c->fd, EV_READ);
	ev_io_start(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_io_set(&c->wio, c->fd, EV_WRITE);
	if (c->out_off < c->out.sb.size)
		ev_io_start(c->loop, &c->wio);
	rearm(c);
}

/* Tries the remaining addresses of the host in turn; a synchronous failure
 * moves on to the next one, EINPROGRESS waits for writability. */
static void connect_next(conn_t *c, const char *last_error)
{
	char why[200];

	snprintf(why, sizeof(why), "%s", last_error ? last_error : "no address");
	while (c->ai_next) {
		struct addrinfo *a = c->ai_next;
		int one = 1, fd;

		c->ai_next = a->ai_next;
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    a->ai_protocol);
		if (fd < 0) {
			snprintf(why, sizeof(why), "socket: %s", strerror(errno));
			continue;
		}
		/* requests are small and latency matters more than packet count */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			c->fd = fd;
			on_connected(c);
			return;
		}
		if (errno == EINPROGRESS || errno == EINTR) {
			c->fd = fd;
			c->connect_deadline = conn_now_ms() + c->opts.connect_timeout_ms;
			set_state(c, CONN_CONNECTING, BROOK_ERR_NO_ERROR, NULL);
			ev_io_set(&c->wio, fd, EV_WRITE);
			ev_io_start(c->loop, &c->wio);
			rearm(c);
			return;
		}
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		close(fd);
	}
	fail(c, BROOK_ERR__TRANSPORT, "%s", why);
}

static void start_connect(conn_t *c)
{
	struct addrinfo hints;
	char port[16];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", c->port);
	if (c->ai)
		freeaddrinfo(c->ai);
	c->ai = c->ai_next = NULL;
	rc = getaddrinfo(c->host, port, &hints, &c->ai);
	if (rc != 0) {
		c->ai = NULL;
		fail(c, BROOK_ERR__TRANSPORT, "cannot resolve %s: %s", c->host,
		     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return;
	}
	c->ai_next = c->ai;
	connect_next(c, NULL);
}

/* ---- writing ---- */

/* Completes the acks=0 requests whose frames are now fully on the wire. */
static void complete_written(conn_t *c)
{
	uint64_t written = c->out_base + c->out_off;
	conn_req_t **pp = &c->head, *prev = NULL;

	while (c->n_noresp && *pp) {
		conn_req_t *r = *pp;

		if (r->end_pos > written)
			break;
		if (r->expect_response) {
			prev = r;
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		if (c->tail == r)
			c->tail = prev;
		c->nreq--;
		c->n_noresp--;
		complete(c, r, BROOK_ERR_NO_ERROR, NULL);
	}
}

static void flush_out(conn_t *c)
{
	while (c->out_off < c->out.sb.size) {
		ssize_t n = send(c->fd, c->out.sb.data + c->out_off, c->out.sb.size - c->out_off,
				 MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		fail(c, BROOK_ERR__TRANSPORT, "send: %s", n < 0 ? strerror(errno) : "0 bytes");
		return;
	}
	complete_written(c);
	if (c->state != CONN_UP)
		return;
	if (c->out_off == c->out.sb.size) {
		c->out_base += c->out.sb.size;
		c->out_off = 0;
		if (c->out.sb.alloc > CONN_OUT_KEEP) {
			proto_buf_destroy(&c->out);
			proto_buf_init(&c->out);
		} else {
			proto_buf_reset(&c->out);
		}
		ev_io_stop(c->loop, &c->wio);
	} else {
		ev_io_start(c->loop, &c->wio);
	}
}

static void wio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	conn_t *c = w->data;
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	(void)loop;
	(void)revents;
	if (c->state == CONN_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			soerr = errno;
		if (soerr == EINPROGRESS)
			return;
		ev_io_stop(c->loop, &c->wio);
		if (soerr == 0) {
			on_connected(c);
		} else {
			char why[200];

			snprintf(why, sizeof(why), "connect: %s", strerror(soerr));
			close(c->fd);
			c->fd = -1;
			connect_next(c, why);
		}
		return;
	}
	if (c->state == CONN_UP)
		flush_out(c);
	run_deferred_fail(c);
}

/* ---- reading ---- */

static int reserve_in(conn_t *c, size_t need)
{
	size_t cap = c->in_cap ? c->in_cap : CONN_READ_CHUNK;
	char *p;

	if (c->in_cap >= need)
		return 0;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(c->in, cap);
	if (!p)
		return -1;
	c->in = p;
	c->in_cap = cap;
	return 0;
}

static void dispatch(conn_t *c, const char *buf, size_t len)
{
	msgpack_unpacked u;
	const msgpack_object *body;
	conn_req_t **pp = &c->head, *prev = NULL;
	char why[200];
	int32_t corr;

	msgpack_unpacked_init(&u);
	if (proto_response_decode(buf, len, &u, &corr, &body, why, sizeof(why))) {
		msgpack_unpacked_destroy(&u);
		fail(c, BROOK_ERR__BAD_MSG, "undecodable response: %s", why);
		return;
	}
	/* Responses come back in request order; the search is for safety. */
	while (*pp && !((*pp)->expect_response && (*pp)->corr == corr)) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp) {
		msgpack_unpacked_destroy(&u);
		fail(c, BROOK_ERR__BAD_MSG, "response with unknown correlation id %d", (int)corr);
		return;
	} else {
		conn_req_t *r = *pp;

		*pp = r->next;
		if (c->tail == r)
			c->tail = prev;
		c->nreq--;
		complete(c, r, BROOK_ERR_NO_ERROR, body);
	}
	msgpack_unpacked_destroy(&u);
}

/* Dispatches every complete frame in the input buffer, then moves the
 * partial rest to the front. */
static void process_input(conn_t *c)
{
	uint32_t max = c->opts.max_frame ? c->opts.max_frame : PROTO_MAX_RESPONSE_BYTES;
	size_t pos = 0;

	c->busy++;
	while (!c->fail_pending && c->in_len - pos >= PROTO_FRAME_HDR) {
		uint32_t flen = proto_frame_len((const uint8_t *)c->in + pos);

		if (flen > max) {
			fail(c, BROOK_ERR__BAD_MSG, "response frame of %u bytes (limit %u)",
			     (unsigned)flen, (unsigned)max);
			break;
		}
		if (c->in_len - pos - PROTO_FRAME_HDR < flen)
			break;
		dispatch(c, c->in + pos + PROTO_FRAME_HDR, flen);
		pos += PROTO_FRAME_HDR + (size_t)flen;
	}
	c->busy--;
	if (c->fail_pending) {
		run_deferred_fail(c);
		return;
	}
	if (pos) {
		memmove(c->in, c->in + pos, c->in_len - pos);
		c->in_len -= pos;
	}
}

static void rio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	conn_t *c = w->data;

	(void)loop;
	(void)revents;
	for (int i = 0; i < CONN_READS_PER_EVENT && c->state == CONN_UP; i++) {
		size_t want = CONN_READ_CHUNK;
		ssize_t n;

		/* room for the whole frame being received, if its header is in */
		if (c->in_len >= PROTO_FRAME_HDR) {
			size_t frame = PROTO_FRAME_HDR +
				       (size_t)proto_frame_len((const uint8_t *)c->in);

			if (frame > c->in_len && frame - c->in_len > want &&
			    frame <= (size_t)PROTO_MAX_RESPONSE_BYTES + PROTO_FRAME_HDR)
				want = frame - c->in_len;
		}
		if (reserve_in(c, c->in_len + want) != 0) {
			fail(c, BROOK_ERR__NOMEM, "out of memory for a %zu-byte response",
			     c->in_len + want);
			return;
		}
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			size_t space = c->in_cap - c->in_len;

			c->in_len += (size_t)n;
			process_input(c);
			if ((size_t)n < space)
				break;
			continue;
		}
		if (n == 0) {
			fail(c, BROOK_ERR__TRANSPORT, "connection closed by the broker");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		fail(c, BROOK_ERR__TRANSPORT, "read: %s", strerror(errno));
		return;
	}
	/* an idle connection gives back a big buffer from an old response */
	if (c->in_len == 0 && c->in_cap > CONN_OUT_KEEP) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	conn_t *c = w->data;
	int64_t now = conn_now_ms();

	(void)loop;
	(void)revents;
	if (c->fail_pending) {
		run_deferred_fail(c);
		return;
	}
	for (conn_req_t *r = c->head; r; r = r->next) {
		if (r->deadline_ms <= now) {
			char why[160];

			/* Kafka's rule: a request past its deadline means the
			 * connection cannot be trusted; responses are ordered, so
			 * the ones behind it would wait too. */
			snprintf(why, sizeof(why), "%s request (correlation id %d) timed out",
				 proto_api_name(r->api_key), (int)r->corr);
			do_fail(c, BROOK_ERR__TRANSPORT, why, r);
			return;
		}
	}
	if (c->state == CONN_CONNECTING && c->connect_deadline <= now) {
		close_socket(c);
		connect_next(c, "connect: timed out");
		return;
	}
	if (c->state == CONN_DOWN && c->nreq && c->backoff_until <= now) {
		start_connect(c);
		return;
	}
	rearm(c);
}

/* ---- API ---- */

brook_err_t conn_new(struct ev_loop *loop, const char *host, int port, const conn_opts_t *opts,
		     conn_t **out)
{
	conn_t *c;

	*out = NULL;
	if (!loop || !host || !*host || port <= 0 || port > 65535 || !opts)
		return BROOK_ERR__INVALID_ARG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return BROOK_ERR__NOMEM;
	c->host = strdup(host);
	c->client_id = opts->client_id ? strdup(opts->client_id) : NULL;
	if (!c->host || (opts->client_id && !c->client_id)) {
		free(c->host);
		free(c->client_id);
		free(c);
		return BROOK_ERR__NOMEM;
	}
	c->loop = loop;
	c->port = port;
	c->opts = *opts;
	c->opts.client_id = c->client_id;
	if (c->opts.backoff_ms < 0)
		c->opts.backoff_ms = 0;
	if (c->opts.backoff_max_ms < c->opts.backoff_ms)
		c->opts.backoff_max_ms = c->opts.backoff_ms;
	if (c->opts.connect_timeout_ms <= 0)
		c->opts.connect_timeout_ms = 10000;
	c->backoff_cur = c->opts.backoff_ms;
	c->rand_state = (uint32_t)((uintptr_t)c >> 4) ^ (uint32_t)conn_now_ms() ^ 0x9e3779b9u;
	if (!c->rand_state)
		c->rand_state = 1;
	c->fd = -1;
	c->state = CONN_DOWN;
	set_name(c);
	proto_buf_init(&c->out);
	ev_io_init(&c->rio, rio_cb, -1, EV_READ);
	ev_io_init(&c->wio, wio_cb, -1, EV_WRITE);
	ev_timer_init(&c->timer, timer_cb, 0., 0.);
	c->rio.data = c->wio.data = c->timer.data = c;
	*out = c;
	return BROOK_ERR_NO_ERROR;
}

void conn_free(conn_t *c)
{
	if (!c)
		return;
	do_fail(c, BROOK_ERR__CLOSED, "closed", NULL);
	ev_timer_stop(c->loop, &c->timer);
	close_socket(c);
	proto_buf_destroy(&c->out);
	free(c->in);
	free(c->host);
	free(c->client_id);
	free(c);
}

brook_err_t conn_request(conn_t *c, int16_t api_key, int16_t api_version, conn_body_fn *body,
			 void *arg, int timeout_ms, int expect_response, conn_resp_cb *cb,
			 void *opaque)
{
	conn_req_t *r = calloc(1, sizeof(*r));
	size_t start = c->out.sb.size;
	msgpack_packer pk;
	brook_err_t err;

	if (!r)
		return BROOK_ERR__NOMEM;
	r->corr = c->next_corr;
	c->next_corr = c->next_corr == INT32_MAX ? 0 : c->next_corr + 1;
	proto_frame_begin(&c->out);
	msgpack_packer_init(&pk, &c->out, proto_buf_write);
	proto_pack_request_header(&pk, api_key, api_version, r->corr, c->client_id);
	body(&pk, arg);
	err = proto_frame_end(&c->out, start);
	if (err) {
		/* cut the broken frame off; earlier frames are intact */
		c->out.sb.size = start;
		c->out.failed = 0;
		free(r);
		return err;
	}
	r->api_key = api_key;
	r->expect_response = expect_response;
	r->end_pos = c->out_base + c->out.sb.size;
	r->deadline_ms = conn_now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	r->cb = cb;
	r->opaque = opaque;
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	c->nreq++;
	if (!expect_response)
		c->n_noresp++;
	/* The write waits for the loop: writing here could fail the
	 * connection, and callbacks must never run inside conn_request. */
	if (c->state == CONN_UP)
		ev_io_start(c->loop, &c->wio);
	rearm(c);
	return BROOK_ERR_NO_ERROR;
}

conn_state_t conn_state(const conn_t *c)
{
	return c->state;
}

const char *conn_name(const conn_t *c)
{
	return c->name;
}

size_t conn_outstanding(const conn_t *c)
{
	return c->nreq;
}

const char *conn_last_error(const conn_t *c)
{
	return c->last_error;
}

int64_t conn_backoff_left_ms(const conn_t *c)
{
	int64_t left;

	if (c->state != CONN_DOWN)
		return 0;
	left = c->backoff_until - conn_now_ms();
	return left > 0 ? left : 0;
}

brook_err_t conn_set_address(conn_t *c, const char *host, int port)
{
	char *h;

	if (strcmp(host, c->host) == 0 && port == c->port)
		return BROOK_ERR_NO_ERROR;
	if (!*host || port <= 0 || port > 65535)
		return BROOK_ERR__INVALID_ARG;
	h = strdup(host);
	if (!h)
		return BROOK_ERR__NOMEM;
	free(c->host);
	c->host = h;
	c->port = port;
	logf_(c, BROOK_LOG_INFO, "broker address changed");
	set_name(c);
	if ((c->state != CONN_DOWN || c->nreq) && !c->fail_pending) {
		/* from the loop, not from here: the caller may be inside one of
		 * this connection's callbacks */
		c->fail_pending = 1;
		c->fail_err = BROOK_ERR__TRANSPORT;
		snprintf(c->fail_reason, sizeof(c->fail_reason), "broker address changed");
		rearm(c);
	}
	return BROOK_ERR_NO_ERROR;
}
