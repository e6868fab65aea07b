/* net.c - listeners, connections, ordered responses, sendfile output. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ev.h>

#include "blog.h"
#include "bytes.h"
#include "errstr.h"
#include "net.h"

enum resp_state { RESP_PENDING, RESP_READY, RESP_DROPPED };

typedef struct splice {
	size_t at;        /* position in the memory buffer it follows */
	int fd;
	uint64_t pos;
	size_t len;
	void (*release)(void *ref);
	void *ref;
} splice_t;

struct net_resp {
	net_conn_t *conn;
	net_resp_t *next;
	enum resp_state state;
	int close_after;
	proto_buf_t buf;
	splice_t *splices;
	size_t nsplices, splices_cap;
	size_t spliced_bytes;
	void (*cancel)(void *arg);
	void *cancel_arg;
	/* output cursor: part 2k is memory before splice k, 2k+1 is splice k */
	size_t part;
	size_t part_off;
};

struct net_conn {
	net_server_t *srv;
	net_conn_t *prev, *next;
	int fd;
	ev_io rio, wio;
	char peer[64];
	char *in;
	size_t in_len, in_cap;
	net_resp_t *head, *tail;
	int pending;          /* responses not yet sent or dropped */
	size_t queued_bytes;  /* bytes of ready responses not yet written */
	int reading;
	int closing;          /* close once the queue is written */
	int dispatching;      /* inside conn_process_input */
	ev_tstamp last_active;
};

struct net_server {
	struct ev_loop *loop;
	int fd, port;
	int paused;           /* bound and listening, not accepting yet */
	ev_io accept_io;
	ev_timer accept_retry, idle_timer;
	net_limits_t lim;
	net_request_cb *cb;
	void *opaque;
	net_conn_t *conns;
	net_stats_t stats;
};

#define IN_CHUNK (64 * 1024)

static void conn_close(net_conn_t *c, const char *why);
static void conn_process_input(net_conn_t *c);
static void conn_update_reading(net_conn_t *c);

const char *net_conn_peer(const net_conn_t *c)
{
	return c->peer;
}

static void resp_free(net_resp_t *r)
{
	for (size_t i = 0; i < r->nsplices; i++)
		if (r->splices[i].release)
			r->splices[i].release(r->splices[i].ref);
	free(r->splices);
	proto_buf_destroy(&r->buf);
	free(r);
}

proto_buf_t *net_resp_buf(net_resp_t *r)
{
	return &r->buf;
}

net_conn_t *net_resp_conn(const net_resp_t *r)
{
	return r->conn;
}

brook_err_t net_resp_add_file(net_resp_t *r, int fd, uint64_t pos, size_t len,
			      void (*release)(void *ref), void *ref)
{
	if (r->nsplices == r->splices_cap) {
		size_t cap = r->splices_cap ? r->splices_cap * 2 : 4;
		splice_t *s = realloc(r->splices, cap * sizeof(*s));

		if (!s)
			return BROOK_ERR__NOMEM;
		r->splices = s;
		r->splices_cap = cap;
	}
	r->splices[r->nsplices++] = (splice_t){ .at = r->buf.sb.size, .fd = fd, .pos = pos,
						.len = len, .release = release, .ref = ref };
	r->spliced_bytes += len;
	return BROOK_ERR_NO_ERROR;
}

void net_resp_set_cancel(net_resp_t *r, void (*cancel)(void *arg), void *arg)
{
	r->cancel = cancel;
	r->cancel_arg = arg;
}

void net_resp_close_after(net_resp_t *r)
{
	r->close_after = 1;
}

/* Sends what is ready at the head of the queue, in order. */
static void conn_kick(net_conn_t *c)
{
	if (c->head && c->head->state != RESP_PENDING)
		ev_io_start(c->srv->loop, &c->wio);
}

void net_resp_done(net_resp_t *r)
{
	net_conn_t *c = r->conn;
	uint64_t body;

	body = (uint64_t)r->buf.sb.size + r->spliced_bytes - PROTO_FRAME_HDR;
	if (r->buf.failed || r->buf.sb.size < PROTO_FRAME_HDR || body > INT32_MAX) {
		/* Cannot send a truncated frame: the peer would misparse
		 * everything after it. */
		blog(BLOG_ERROR, "net", "%s: response could not be built (%s); closing", c->peer,
		     r->buf.failed ? "out of memory" : "too large");
		r->state = RESP_READY;
		r->close_after = 1;
		proto_buf_reset(&r->buf);
		for (size_t i = 0; i < r->nsplices; i++)
			if (r->splices[i].release)
				r->splices[i].release(r->splices[i].ref);
		r->nsplices = 0;
		r->spliced_bytes = 0;
		c->closing = 1;
		conn_kick(c);
		return;
	}
	be32_put((uint8_t *)r->buf.sb.data, (uint32_t)body);
	r->state = RESP_READY;
	c->queued_bytes += r->buf.sb.size + r->spliced_bytes;
	conn_kick(c);
	conn_update_reading(c);
}

void net_resp_drop(net_resp_t *r)
{
	r->conn->closing |= r->close_after; /* no response, but still the close it asked for */
	r->state = RESP_DROPPED;
	conn_kick(r->conn);
}

static net_resp_t *resp_new(net_conn_t *c)
{
	net_resp_t *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->conn = c;
	proto_buf_init(&r->buf);
	proto_frame_begin(&r->buf);
	if (r->buf.failed) {
		proto_buf_destroy(&r->buf);
		free(r);
		return NULL;
	}
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	c->pending++;
	return r;
}

static void resp_pop(net_conn_t *c)
{
	net_resp_t *r = c->head;

	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	c->pending--;
	resp_free(r);
}

/* Reading stops while too much is queued or in flight, and resumes at
 * half the output bound, so a connection does not flap at the limit. */
static void conn_update_reading(net_conn_t *c)
{
	const net_limits_t *l = &c->srv->lim;
	int over = c->queued_bytes >= l->output_max_bytes || c->pending >= l->max_in_flight;
	int under = c->queued_bytes <= l->output_max_bytes / 2 && c->pending < l->max_in_flight;

	if (c->closing)
		over = 1;
	if (c->reading && over) {
		ev_io_stop(c->srv->loop, &c->rio);
		c->reading = 0;
		c->srv->stats.backpressured++;
	} else if (!c->reading && under && !c->closing) {
		ev_io_start(c->srv->loop, &c->rio);
		c->reading = 1;
		/* frames already buffered were not parsed while stopped; not
		 * from inside the parse loop itself, which carries on */
		if (!c->dispatching)
			conn_process_input(c);
	}
}

/* Writes the head response's parts; 1 when it is all sent, 0 when the
 * socket is full, -1 on error. */
static int resp_write(net_conn_t *c, net_resp_t *r)
{
	for (;;) {
		size_t k = r->part / 2;
		ssize_t n;

		if (r->part % 2 == 0) {
			size_t from = k == 0 ? 0 : r->splices[k - 1].at;
			size_t to = k < r->nsplices ? r->splices[k].at : r->buf.sb.size;
			size_t left = to - from - r->part_off;

			if (left == 0) {
				if (k == r->nsplices)
					return 1;
				r->part++;
				r->part_off = 0;
				continue;
			}
			n = send(c->fd, r->buf.sb.data + from + r->part_off, left, MSG_NOSIGNAL);
		} else {
			splice_t *s = &r->splices[k];
			size_t left = s->len - r->part_off;
			off_t off = (off_t)(s->pos + r->part_off);

			if (left == 0) {
				r->part++;
				r->part_off = 0;
				continue;
			}
			n = sendfile(c->fd, s->fd, &off, left > (1u << 30) ? (1u << 30) : left);
			if (n == 0) {
				/* the file is shorter than the index said: never
				 * pad a frame with garbage */
				blog(BLOG_ERROR, "net", "%s: segment shorter than expected; closing",
				     c->peer);
				return -1;
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		r->part_off += (size_t)n;
		c->queued_bytes -= (size_t)n;
	}
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	net_conn_t *c = w->data;

	while (c->head && c->head->state != RESP_PENDING) {
		net_resp_t *r = c->head;
		int rc, close_after;

		if (r->state == RESP_DROPPED) {
			resp_pop(c);
			continue;
		}
		rc = resp_write(c, r);
		if (rc < 0) {
			conn_close(c, strerror(errno));
			return;
		}
		if (rc == 0)
			return; /* wait for the socket */
		close_after = r->close_after;
		resp_pop(c);
		c->last_active = ev_now(loop);
		if (close_after) {
			conn_close(c, "closed after an error response");
			return;
		}
	}
	ev_io_stop(loop, &c->wio);
	if (c->closing && !c->head) {
		conn_close(c, "closed");
		return;
	}
	conn_update_reading(c);
}

/* Dispatches every complete frame in the input buffer, while the
 * connection may take more. */
static void conn_process_input(net_conn_t *c)
{
	net_server_t *s = c->srv;
	size_t off = 0;

	while (c->reading && c->in_len - off >= PROTO_FRAME_HDR) {
		uint32_t len = proto_frame_len((const uint8_t *)c->in + off);
		net_resp_t *r;

		if (len > s->lim.request_max_bytes) {
			s->stats.oversized++;
			blog(BLOG_WARN, "net",
			     "%s: request of %u bytes is over socket.request.max.bytes (%zu); closing",
			     c->peer, len, s->lim.request_max_bytes);
			conn_close(c, NULL);
			return;
		}
		if (c->in_len - off - PROTO_FRAME_HDR < len)
			break;
		if (!(r = resp_new(c))) {
			conn_close(c, "out of memory");
			return;
		}
		s->stats.requests++;
		c->dispatching = 1;
		s->cb(s->opaque, c, c->in + off + PROTO_FRAME_HDR, len, r);
		c->dispatching = 0;
		off += PROTO_FRAME_HDR + len;
		conn_update_reading(c);
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	/* A large buffer left by one big request is given back. */
	if (c->in_len == 0 && c->in_cap > 4 * IN_CHUNK) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	net_conn_t *c = w->data;
	size_t want = IN_CHUNK;
	ssize_t n;

	/* Grow towards the announced frame, never past the request limit. */
	if (c->in_len >= PROTO_FRAME_HDR) {
		uint64_t need = (uint64_t)proto_frame_len((const uint8_t *)c->in) + PROTO_FRAME_HDR;

		if (need > c->in_len && need - c->in_len > want &&
		    need <= c->srv->lim.request_max_bytes + PROTO_FRAME_HDR)
			want = (size_t)(need - c->in_len);
	}
	if (c->in_cap - c->in_len < want) {
		size_t cap = c->in_len + want;
		char *p = realloc(c->in, cap);

		if (!p) {
			conn_close(c, "out of memory");
			return;
		}
		c->in = p;
		c->in_cap = cap;
	}
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n == 0) {
		conn_close(c, NULL);
		return;
	}
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		conn_close(c, strerror(errno));
		return;
	}
	c->in_len += (size_t)n;
	c->last_active = ev_now(loop);
	conn_process_input(c);
}

static void conn_close(net_conn_t *c, const char *why)
{
	net_server_t *s = c->srv;

	if (why)
		blog(BLOG_DEBUG, "net", "%s: %s", c->peer, why);
	ev_io_stop(s->loop, &c->rio);
	ev_io_stop(s->loop, &c->wio);
	close(c->fd);
	while (c->head) {
		net_resp_t *r = c->head;

		if (r->state == RESP_PENDING && r->cancel)
			r->cancel(r->cancel_arg);
		resp_pop(c);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->stats.closed++;
	s->stats.open--;
	free(c->in);
	free(c);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	net_server_t *s = w->data;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;
		net_conn_t *c;
		char host[INET6_ADDRSTRLEN] = "?";
		int port = 0;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: pause accepting instead of
				 * spinning on a listener that stays readable. */
				blog(BLOG_WARN, "net", "accept: %s; pausing accepts for 100 ms",
				     strerror(errno));
				ev_io_stop(loop, &s->accept_io);
				ev_timer_start(loop, &s->accept_retry);
			}
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
		}
		snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
		c->srv = s;
		c->fd = fd;
		c->last_active = ev_now(loop);
		ev_io_init(&c->rio, on_readable, fd, EV_READ);
		ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
		c->rio.data = c->wio.data = c;
		ev_io_start(loop, &c->rio);
		c->reading = 1;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->stats.accepted++;
		s->stats.open++;
	}
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	net_server_t *s = w->data;

	if (s->fd >= 0 && !s->paused)
		ev_io_start(loop, &s->accept_io);
}

/* Closes connections idle past connections.max.idle.ms: nothing in
 * flight and nothing received or sent for that long. */
static void on_idle_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	net_server_t *s = w->data;
	ev_tstamp now = ev_now(loop), limit = (ev_tstamp)s->lim.idle_ms / 1000.0;
	net_conn_t *c = s->conns;

	while (c) {
		net_conn_t *next = c->next;

		if (!c->head && now - c->last_active > limit) {
			s->stats.idle_closed++;
			conn_close(c, "idle past connections.max.idle.ms");
		}
		c = next;
	}
}

brook_err_t net_server_new(struct ev_loop *loop, const char *host, int port,
			   const net_limits_t *limits, net_request_cb *cb, void *opaque,
			   net_server_t **out, char *errstr, size_t errstr_size)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	net_server_t *s;
	int one = 1, fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		brook_errstr(errstr, errstr_size, "listener host \"%s\" is not an IP address", host);
		return BROOK_ERR__INVALID_ARG;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		brook_errstr(errstr, errstr_size, "socket: %s", strerror(errno));
		return BROOK_ERR__IO;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
		int e = errno;

		brook_errstr(errstr, errstr_size, "listen on %s:%d: %s", host, port, strerror(e));
		close(fd);
		return e == EADDRINUSE ? BROOK_ERR__EXISTS : BROOK_ERR__IO;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		close(fd);
		return BROOK_ERR__NOMEM;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	s->port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
					  : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	s->loop = loop;
	s->fd = fd;
	s->lim = *limits;
	if (s->lim.max_in_flight <= 0)
		s->lim.max_in_flight = 1000;
	s->cb = cb;
	s->opaque = opaque;
	ev_io_init(&s->accept_io, on_accept, fd, EV_READ);
	s->accept_io.data = s;
	ev_io_start(loop, &s->accept_io);
	ev_timer_init(&s->accept_retry, on_accept_retry, 0.1, 0.);
	s->accept_retry.data = s;
	if (s->lim.idle_ms > 0) {
		double every = (double)s->lim.idle_ms / 4000.0;

		ev_timer_init(&s->idle_timer, on_idle_timer, every, every);
		s->idle_timer.data = s;
		ev_timer_start(loop, &s->idle_timer);
	}
	*out = s;
	return BROOK_ERR_NO_ERROR;
}

void net_server_accept(net_server_t *s, int on)
{
	s->paused = !on;
	if (s->fd < 0)
		return;
	if (on) {
		ev_io_start(s->loop, &s->accept_io);
	} else {
		ev_io_stop(s->loop, &s->accept_io);
		ev_timer_stop(s->loop, &s->accept_retry);
	}
}

int net_server_port(const net_server_t *s)
{
	return s->port;
}

const net_stats_t *net_server_stats(const net_server_t *s)
{
	return &s->stats;
}

void net_server_stop_accepting(net_server_t *s)
{
	if (s->fd < 0)
		return;
	ev_io_stop(s->loop, &s->accept_io);
	ev_timer_stop(s->loop, &s->accept_retry);
	close(s->fd);
	s->fd = -1;
}

void net_server_free(net_server_t *s)
{
	if (!s)
		return;
	net_server_stop_accepting(s);
	ev_timer_stop(s->loop, &s->idle_timer);
	while (s->conns)
		conn_close(s->conns, NULL);
	free(s);
}
