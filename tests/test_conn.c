/* test_conn.c - the client connection layer (conn.c) against a tiny
 * msgpack peer on 127.0.0.1 running in a thread of this test: framing,
 * pipelining and correlation ids, big frames split across reads, requests
 * without a response, deadlines, a peer that closes or sends garbage,
 * refused connections with backoff, reconnects and address changes.
 *
 * The peer answers each request as it reads it (so a "silent" one is
 * overtaken by the next), according to its body {do, n, size}:
 *   "echo"      -> {n}                      "big" -> {n, blob: size bytes}
 *   "silent"    -> nothing                  "close" -> closes the socket
 *   "garbage"   -> a frame that is not msgpack
 *   "wrongcorr" -> {n} under another correlation id
 * This tests our framing code only; the end-to-end tests run real brokers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "conn.h"
#include "harness.h"
#include "proto.h"

/* ---- the peer ---- */

typedef struct peer {
	int lfd;
	int port;
	pthread_t thread;
	atomic_int accepted;
	atomic_int stop;
} peer_t;

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int reply(int fd, int32_t corr, int64_t n, size_t blob)
{
	proto_buf_t b;
	msgpack_packer pk;
	int rc;

	proto_buf_init(&b);
	msgpack_packer_init(&pk, &b, proto_buf_write);
	proto_frame_begin(&b);
	proto_pack_response_header(&pk, corr);
	msgpack_pack_map(&pk, blob ? 2 : 1);
	proto_pack_kv_int(&pk, "n", n);
	if (blob) {
		char *data = malloc(blob);

		for (size_t i = 0; i < blob; i++)
			data[i] = (char)(i * 7);
		proto_pack_kv_bin(&pk, "blob", data, blob);
		free(data);
	}
	rc = proto_frame_end(&b, 0) ? -1 : write_full(fd, b.sb.data, b.sb.size);
	proto_buf_destroy(&b);
	return rc;
}

/* Serves one connection until it closes or a request asks to close it. */
static void serve_conn(peer_t *pr, int fd)
{
	while (!pr->stop) {
		uint8_t hdr[4];
		uint32_t len;
		char *buf;
		msgpack_unpacked u;
		proto_request_t req;
		int have, keep = 1;
		const char *what = "";
		uint32_t what_len = 0;
		int64_t n = 0, size = 0;

		if (read_full(fd, hdr, 4) != 0)
			return;
		len = proto_frame_len(hdr);
		if (len > (64u << 20) || !(buf = malloc(len ? len : 1)))
			return;
		if (read_full(fd, buf, len) != 0) {
			free(buf);
			return;
		}
		msgpack_unpacked_init(&u);
		if (proto_request_decode(buf, len, &u, &req, &have, NULL, 0) == 0) {
			proto_get_str(req.body, "do", 0, &what, &what_len, NULL, 0);
			proto_get_int(req.body, "n", 0, INT64_MIN, INT64_MAX, &n, NULL, 0);
			proto_get_int(req.body, "size", 0, 0, 64 << 20, &size, NULL, 0);
#define IS(s) (what_len == strlen(s) && memcmp(what, s, what_len) == 0)
			if (IS("echo"))
				keep = reply(fd, req.correlation_id, n, 0) == 0;
			else if (IS("big"))
				keep = reply(fd, req.correlation_id, n, (size_t)size) == 0;
			else if (IS("wrongcorr"))
				keep = reply(fd, req.correlation_id + 1000, n, 0) == 0;
			else if (IS("garbage"))
				keep = write_full(fd, "\0\0\0\3\xc1\xc1\xc1", 7) == 0;
			else if (IS("close"))
				keep = 0;
#undef IS
		}
		msgpack_unpacked_destroy(&u);
		free(buf);
		if (!keep)
			return;
	}
}

static void *peer_main(void *arg)
{
	peer_t *pr = arg;

	while (!pr->stop) {
		struct pollfd p = { .fd = pr->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 20) <= 0)
			continue;
		fd = accept(pr->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pr->accepted++;
		serve_conn(pr, fd);
		close(fd);
	}
	return NULL;
}

/* A listening socket on a free loopback port. */
static int listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static peer_t *peer_start(void)
{
	peer_t *pr = calloc(1, sizeof(*pr));

	if (!pr)
		return NULL;
	pr->lfd = listen_any(&pr->port);
	if (pr->lfd < 0 || pthread_create(&pr->thread, NULL, peer_main, pr) != 0) {
		free(pr);
		return NULL;
	}
	return pr;
}

static void peer_stop(peer_t *pr)
{
	pr->stop = 1;
	pthread_join(pr->thread, NULL);
	close(pr->lfd);
	free(pr);
}

/* ---- the client side ---- */

#define MAXREQ 256

typedef struct result {
	int done;
	brook_err_t err;
	int64_t n;
	size_t blob_len;
	int blob_ok;
	int order;
} result_t;

static result_t res[MAXREQ];
static int completed;

typedef struct body_arg {
	const char *what;
	int64_t n;
	int64_t size;
} body_arg_t;

static void pack_body(msgpack_packer *pk, void *arg)
{
	const body_arg_t *a = arg;

	msgpack_pack_map(pk, 3);
	proto_pack_kv_str(pk, "do", a->what);
	proto_pack_kv_int(pk, "n", a->n);
	proto_pack_kv_int(pk, "size", a->size);
}

static void on_resp(conn_t *c, brook_err_t err, const msgpack_object *body, void *opaque)
{
	result_t *r = opaque;
	const char *blob;
	uint32_t len = 0;

	(void)c;
	CU_ASSERT_EQUAL(r->done, 0); /* exactly once */
	r->done = 1;
	r->err = err;
	r->order = completed++;
	if (err || !body)
		return;
	proto_get_int(body, "n", 1, INT64_MIN, INT64_MAX, &r->n, NULL, 0);
	if (proto_get_bin(body, "blob", 0, &blob, &len, NULL, 0) == 0 && blob) {
		r->blob_len = len;
		r->blob_ok = 1;
		for (uint32_t i = 0; i < len; i++)
			if (blob[i] != (char)(i * 7))
				r->blob_ok = 0;
	}
}

static struct ev_loop *loop;
static ev_timer tick;

static void tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

static void reset(void)
{
	memset(res, 0, sizeof(res));
	completed = 0;
}

static brook_err_t req(conn_t *c, int i, const char *what, int timeout_ms)
{
	body_arg_t a = { what, i, 0 };

	return conn_request(c, 18, 0, pack_body, &a, timeout_ms, 1, on_resp, &res[i]);
}

/* Runs the loop until `want` requests completed or timeout_ms passed. */
static int run_until(int want, int timeout_ms)
{
	int64_t end = conn_now_ms() + timeout_ms;

	while (completed < want && conn_now_ms() < end)
		ev_run(loop, EVRUN_ONCE);
	return completed >= want;
}

static void run_for(int ms)
{
	int64_t end = conn_now_ms() + ms;

	while (conn_now_ms() < end)
		ev_run(loop, EVRUN_ONCE);
}

static conn_opts_t opts = {
	.client_id = "test-conn",
	.connect_timeout_ms = 2000,
	.backoff_ms = 50,
	.backoff_max_ms = 400,
};

static conn_t *connect_to(int port)
{
	conn_t *c = NULL;

	CU_ASSERT_EQUAL(conn_new(loop, "127.0.0.1", port, &opts, &c), BROOK_ERR_NO_ERROR);
	return c;
}

/* ---- tests ---- */

/* 200 requests queued before the connection exists go out pipelined on
 * one connection and complete in order, each with its own answer. */
static void test_pipeline(void)
{
	peer_t *pr = peer_start();
	conn_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pr);
	c = connect_to(pr->port);
	reset();
	CU_ASSERT_EQUAL(conn_state(c), CONN_DOWN);
	for (int i = 0; i < 200; i++)
		CU_ASSERT_EQUAL(req(c, i, "echo", 5000), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(completed, 0); /* never from inside conn_request */
	CU_ASSERT_EQUAL(conn_outstanding(c), 200u);
	CU_ASSERT(run_until(200, 5000));
	for (int i = 0; i < 200; i++) {
		CU_ASSERT_EQUAL(res[i].err, BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(res[i].n, i);
		CU_ASSERT_EQUAL(res[i].order, i);
	}
	CU_ASSERT_EQUAL(conn_state(c), CONN_UP);
	CU_ASSERT_EQUAL(conn_outstanding(c), 0u);
	CU_ASSERT_EQUAL(pr->accepted, 1);
	conn_free(c);
	peer_stop(pr);
}

/* A 3 MiB response arrives over many reads and is reassembled whole. */
static void test_big_frame(void)
{
	peer_t *pr = peer_start();
	body_arg_t a = { "big", 7, 3 << 20 };
	conn_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pr);
	c = connect_to(pr->port);
	reset();
	CU_ASSERT_EQUAL(conn_request(c, 18, 0, pack_body, &a, 5000, 1, on_resp, &res[0]), 0);
	CU_ASSERT_EQUAL(req(c, 1, "echo", 5000), 0);
	CU_ASSERT(run_until(2, 5000));
	CU_ASSERT_EQUAL(res[0].err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(res[0].n, 7);
	CU_ASSERT_EQUAL(res[0].blob_len, (size_t)3 << 20);
	CU_ASSERT(res[0].blob_ok);
	CU_ASSERT_EQUAL(res[1].n, 1);
	conn_free(c);
	peer_stop(pr);
}

/* The peer closes mid-pipeline: what was outstanding fails with
 * _TRANSPORT, and the next request reconnects after the backoff. */
static void test_peer_closes(void)
{
	peer_t *pr = peer_start();
	conn_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pr);
	c = connect_to(pr->port);
	reset();
	req(c, 0, "echo", 5000);
	req(c, 1, "close", 5000);
	req(c, 2, "echo", 5000);
	CU_ASSERT(run_until(3, 5000));
	CU_ASSERT_EQUAL(res[0].err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(res[1].err, BROOK_ERR__TRANSPORT);
	CU_ASSERT_EQUAL(res[2].err, BROOK_ERR__TRANSPORT);
	CU_ASSERT_EQUAL(conn_state(c), CONN_DOWN);
	CU_ASSERT(conn_backoff_left_ms(c) > 0);
	req(c, 3, "echo", 5000);
	CU_ASSERT(run_until(4, 5000));
	CU_ASSERT_EQUAL(res[3].err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(res[3].n, 3);
	CU_ASSERT_EQUAL(pr->accepted, 2);
	conn_free(c);
	peer_stop(pr);
}

/* A request past its deadline fails with _TIMED_OUT and takes the
 * connection down (answers are ordered: the ones behind it would wait
 * too); the next request gets a fresh connection. */
static void test_deadline(void)
{
	peer_t *pr = peer_start();
	int64_t t0;
	conn_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pr);
	c = connect_to(pr->port);
	reset();
	t0 = conn_now_ms();
	req(c, 0, "silent", 300);
	req(c, 1, "echo", 10000);
	req(c, 2, "silent", 10000);
	CU_ASSERT(run_until(3, 5000));
	/* the peer answered 1 before 0: matched by correlation id */
	CU_ASSERT_EQUAL(res[1].err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(res[1].n, 1);
	CU_ASSERT_EQUAL(res[1].order, 0);
	CU_ASSERT_EQUAL(res[0].err, BROOK_ERR__TIMED_OUT);
	CU_ASSERT_EQUAL(res[2].err, BROOK_ERR__TRANSPORT);
	CU_ASSERT(conn_now_ms() - t0 >= 250);
	CU_ASSERT(conn_now_ms() - t0 < 3000);
	req(c, 3, "echo", 5000);
	CU_ASSERT(run_until(4, 5000));
	CU_ASSERT_EQUAL(res[3].err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(pr->accepted, 2);
	conn_free(c);
	peer_stop(pr);
}

/* Frames that are not msgpack, or answer a request we never sent, close
 * the connection with _BAD_MSG. */
static void test_bad_frames(void)
{
	peer_t *pr = peer_start();
	conn_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pr);
	c = connect_to(pr->port);
	reset();
	req(c, 0, "garbage", 5000);
	req(c, 1, "echo", 5000);
	CU_ASSERT(run_until(2, 5000));
	CU_ASSERT_EQUAL(res[0].err, BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(res[1].err, BROOK_ERR__BAD_MSG);
	run_for(150); /* backoff */
	req(c, 2, "wrongcorr", 5000);
	CU_ASSERT(run_until(3, 5000));
	CU_ASSERT_EQUAL(res[2].err, BROOK_ERR__BAD_MSG);
	run_for(300);
	req(c, 3, "echo", 5000);
	CU_ASSERT(run_until(4, 5000));
	CU_ASSERT_EQUAL(res[3].err, BROOK_ERR_NO_ERROR);
	conn_free(c);
	peer_stop(pr);
}

/* acks=0: the callback runs, with no body, once the frame is written;
 * the request after it still matches its own answer. */
static void test_no_response(void)
{
	peer_t *pr = peer_start();
	body_arg_t a = { "silent", 0, 0 };
	conn_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pr);
	c = connect_to(pr->port);
	reset();
	CU_ASSERT_EQUAL(conn_request(c, 0, 0, pack_body, &a, 5000, 0, on_resp, &res[0]), 0);
	req(c, 1, "echo", 5000);
	CU_ASSERT(run_until(2, 5000));
	CU_ASSERT_EQUAL(res[0].err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(res[0].order, 0);
	CU_ASSERT_EQUAL(res[1].err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(res[1].n, 1);
	CU_ASSERT_EQUAL(conn_outstanding(c), 0u);
	conn_free(c);
	peer_stop(pr);
}

/* Nobody listens: _TRANSPORT at once, then a growing backoff. */
static void test_refused(void)
{
	int port, fd = listen_any(&port);
	int64_t first;
	conn_t *c;

	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	c = connect_to(port);
	reset();
	req(c, 0, "echo", 5000);
	CU_ASSERT(run_until(1, 2000));
	CU_ASSERT_EQUAL(res[0].err, BROOK_ERR__TRANSPORT);
	first = conn_backoff_left_ms(c);
	CU_ASSERT(first > 0 && first <= 60);
	req(c, 1, "echo", 5000);
	CU_ASSERT(run_until(2, 2000));
	CU_ASSERT_EQUAL(res[1].err, BROOK_ERR__TRANSPORT);
	CU_ASSERT(res[1].order == 1);
	CU_ASSERT(conn_backoff_left_ms(c) > 40); /* doubled: 100 ms +-20% */
	conn_free(c);
}

/* conn_free completes what is outstanding with _CLOSED. */
static void test_free_outstanding(void)
{
	peer_t *pr = peer_start();
	conn_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pr);
	c = connect_to(pr->port);
	reset();
	req(c, 0, "echo", 5000);
	CU_ASSERT(run_until(1, 5000));
	req(c, 1, "silent", 5000);
	run_for(50);
	conn_free(c);
	CU_ASSERT_EQUAL(res[1].done, 1);
	CU_ASSERT_EQUAL(res[1].err, BROOK_ERR__CLOSED);
	conn_free(NULL);
	peer_stop(pr);
}

/* The broker moved: the live connection closes, later requests go to the
 * new address. */
static void test_address_change(void)
{
	peer_t *a = peer_start(), *b = peer_start();
	conn_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	c = connect_to(a->port);
	reset();
	req(c, 0, "echo", 5000);
	CU_ASSERT(run_until(1, 5000));
	CU_ASSERT_EQUAL(conn_set_address(c, "127.0.0.1", a->port), 0); /* same: nothing */
	CU_ASSERT_EQUAL(conn_state(c), CONN_UP);
	req(c, 1, "silent", 5000);
	CU_ASSERT_EQUAL(conn_set_address(c, "127.0.0.1", b->port), 0);
	CU_ASSERT(run_until(2, 5000));
	CU_ASSERT_EQUAL(res[1].err, BROOK_ERR__TRANSPORT);
	run_for(150);
	req(c, 2, "echo", 5000);
	CU_ASSERT(run_until(3, 5000));
	CU_ASSERT_EQUAL(res[2].err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(a->accepted, 1);
	CU_ASSERT_EQUAL(b->accepted, 1);
	conn_free(c);
	peer_stop(a);
	peer_stop(b);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "pipelined requests, in order", test_pipeline },
		{ "a 3 MiB frame over many reads", test_big_frame },
		{ "peer closes: fail, back off, reconnect", test_peer_closes },
		{ "request deadline closes the connection", test_deadline },
		{ "undecodable frame, unknown correlation id", test_bad_frames },
		{ "requests without a response (acks=0)", test_no_response },
		{ "connection refused, growing backoff", test_refused },
		{ "free completes outstanding requests", test_free_outstanding },
		{ "broker address change", test_address_change },
		{ NULL, NULL },
	};
	int rc;

	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop)
		return 1;
	/* bounds every ev_run(EVRUN_ONCE) in the tests */
	ev_timer_init(&tick, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &tick);
	rc = harness_run("conn", tests);
	ev_timer_stop(loop, &tick);
	ev_loop_destroy(loop);
	return rc;
}
