/*
 * test_broker_badinput.c - hostile and broken clients against a real
 * brookd, while a second, well-behaved client keeps producing and
 * consuming (and asserting what it gets) between every bad input.
 *
 * Every bad input must get an error response or a closed connection; the
 * broker must stay up, keep its memory bounded with a client that never
 * reads, close idle connections, and in the end still serve every record
 * the good client had acknowledged.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bytes.h"
#include "harness.h"
#include "harness_broker.h"
#include "harness_zk.h"
#include "proto.h"
#include "record.h"

#define T_MS 15000          /* one request's bound; generous for sanitized brokers */
#define CLOSE_MS 5000       /* how long a broker may take to close a bad connection */
#define IDLE_MS 6000        /* connections.max.idle.ms */
#define OUT_MAX (1 << 20)   /* connection.output.max.bytes */
#define REQ_MAX (8 << 20)   /* socket.request.max.bytes */
#define MSG_MAX 1048588     /* message.max.bytes (Kafka's default) */
#define CORR 7              /* correlation id of hand-made requests */
/* Memory a broker may gain while a client refuses to read; unbounded
 * queues would take hundreds of MB in these tests. */
#define RSS_SLACK_KB (96 * 1024)

static harness_zk_t *ens;
static harness_broker_t *broker;
static uint64_t rng;

/* The good client and what it has had acknowledged on topic "good". */
static harness_client_t *good;
static int good_next;
static int good_rounds;
static int64_t good_last; /* when the good connection was last used */

/* Valid records on topic "bad" (prefix "bv"): nothing else may land there. */
static int bad_valid;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ULL) >> 32);
}

static int port(void)
{
	return harness_broker_port(broker);
}

static harness_client_t *conn(void)
{
	harness_client_t *c = harness_client_connect(port());

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* ---- the good client ------------------------------------------------------ */

/* The good client's connection. The broker closes it when it has been idle
 * for connections.max.idle.ms, which only happens when the test itself
 * stalled (waiting out a failed expectation): then it reconnects, saying
 * so. A close after a shorter pause still fails the round. */
static harness_client_t *good_conn(void)
{
	int64_t idle = harness_now_ms() - good_last;

	if (good && idle > IDLE_MS - 1000) {
		fprintf(stderr, "good client: idle for %lld ms (the test stalled); reconnecting\n",
			(long long)idle);
		harness_client_close(good);
		good = NULL;
	}
	if (!good)
		good = harness_client_connect(port());
	CU_ASSERT_PTR_NOT_NULL_FATAL(good);
	good_last = harness_now_ms();
	return good;
}

/* One produce (acks=1) and one fetch of what it wrote, asserted. `after`
 * names the bad input that came just before, for the failure message. */
static void good_round(const char *after)
{
	int n = 1 + good_rounds % 4;
	size_t vsize = (size_t)(good_rounds % 5) * 300, len;
	uint8_t *batch = harness_batch_simple("good", good_next, n, vsize, 0, &len);
	harness_fetch_req_t q = { .topic = "good", .offset = good_next };
	harness_fetch_result_t f;
	int64_t base = -1;
	brook_err_t err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	err = harness_produce(good_conn(), "good", 0, 1, batch, len, T_MS, &base);
	free(batch);
	if (err != BROOK_ERR_NO_ERROR || base != good_next) {
		fprintf(stderr, "good client after \"%s\": produce %s, base offset %lld "
			"(want %d)\n", after, brook_err_name(err), (long long)base, good_next);
		CU_FAIL_FATAL("the good client's produce failed");
	}
	err = harness_fetch(good, &q, T_MS, &f);
	if (err != BROOK_ERR_NO_ERROR || f.nrecords != (size_t)n) {
		fprintf(stderr, "good client after \"%s\": fetch %s, %zu records (want %d)\n",
			after, brook_err_name(err), f.nrecords, n);
		harness_fetch_result_free(&f);
		CU_FAIL_FATAL("the good client's fetch failed");
	}
	for (int i = 0; i < n; i++) {
		char key[64];

		snprintf(key, sizeof(key), "good-k%d", good_next + i);
		if (f.records[i].offset != good_next + i || !f.records[i].key ||
		    strcmp(f.records[i].key, key) != 0) {
			fprintf(stderr, "good client after \"%s\": offset %d reads back wrong\n",
				after, good_next + i);
			CU_FAIL("the good client read back something else");
		}
	}
	harness_fetch_result_free(&f);
	good_next += n;
	good_rounds++;
	good_last = harness_now_ms();
	CU_ASSERT_FATAL(harness_broker_alive(broker));
}

/* ---- sending hand-made frames ------------------------------------------------ */

typedef void(value_fn)(msgpack_packer *pk, void *arg);

/* Frames one msgpack value (the whole request) and sends it. */
static int send_value(harness_client_t *c, value_fn *fn, void *arg)
{
	proto_buf_t b;
	msgpack_packer pk;
	int rc;

	proto_buf_init(&b);
	msgpack_packer_init(&pk, &b, proto_buf_write);
	proto_frame_begin(&b);
	fn(&pk, arg);
	if (proto_frame_end(&b, 0) != BROOK_ERR_NO_ERROR) {
		proto_buf_destroy(&b);
		return HARNESS_ERROR;
	}
	rc = harness_client_send_bytes(c, b.sb.data, b.sb.size, T_MS, NULL);
	proto_buf_destroy(&b);
	return rc;
}

/* Length prefix + body bytes. */
static int send_frame(harness_client_t *c, const void *body, size_t len)
{
	uint8_t hdr[4];
	int rc;

	be32_put(hdr, (uint32_t)len);
	if ((rc = harness_client_send_bytes(c, hdr, 4, T_MS, NULL)) != HARNESS_OK)
		return rc;
	return harness_client_send_bytes(c, body, len, T_MS, NULL);
}

static void expect_closed(harness_client_t *c, const char *what)
{
	int closed = harness_client_is_closed(c, CLOSE_MS);

	if (!closed)
		fprintf(stderr, "\"%s\": the connection stayed open\n", what);
	CU_ASSERT(closed);
}

/* The whole-request error response proto.h promises when the correlation
 * id is known (INVALID_REQUEST), then the close. */
static void expect_error_then_close(harness_client_t *c, int64_t want, const char *what)
{
	harness_resp_t r;
	int rc = harness_client_recv_response(c, T_MS, &r);

	if (rc != HARNESS_OK) {
		fprintf(stderr, "\"%s\": no error response (%s)\n", what,
			rc == HARNESS_CLOSED ? "closed" :
			rc == HARNESS_TIMEOUT ? "timeout" : "bad frame");
		CU_FAIL("no error response");
		return;
	}
	if (r.correlation_id != CORR || harness_resp_error(&r, 0) != want) {
		fprintf(stderr, "\"%s\": response corr %d error %lld, want corr %d error %lld\n",
			what, r.correlation_id, (long long)harness_resp_error(&r, 0), CORR,
			(long long)want);
		CU_FAIL("wrong error response");
	}
	harness_resp_destroy(&r);
	expect_closed(c, what);
}

/* An error response (any non-zero error_code) or a close: the rule for
 * inputs whose exact treatment proto.h leaves open. */
static void expect_error_or_close(harness_client_t *c, const char *what)
{
	harness_resp_t r;
	int rc = harness_client_recv_response(c, CLOSE_MS, &r);

	if (rc == HARNESS_CLOSED)
		return;
	if (rc != HARNESS_OK) {
		fprintf(stderr, "\"%s\": neither an answer nor a close (%s)\n", what,
			rc == HARNESS_TIMEOUT ? "timeout" : "bad frame");
		CU_FAIL("neither an error response nor a close");
		return;
	}
	if (harness_resp_error(&r, 0) == 0) {
		fprintf(stderr, "\"%s\": answered without an error\n", what);
		CU_FAIL("a bad input was answered without an error");
	}
	harness_resp_destroy(&r);
}

/* The connection still serves: an ApiVersions round trip. */
static void expect_still_serving(harness_client_t *c, const char *what)
{
	harness_resp_t r;
	int rc = harness_client_request_raw(c, PROTO_API_API_VERSIONS, "\x80", 1, T_MS, &r);

	if (rc != HARNESS_OK) {
		fprintf(stderr, "\"%s\": the connection no longer serves\n", what);
		CU_FAIL("connection should have stayed open");
		return;
	}
	CU_ASSERT_EQUAL(harness_resp_error(&r, -1), 0);
	harness_resp_destroy(&r);
}

static int64_t latest(const char *topic)
{
	int64_t off = -1;

	CU_ASSERT_EQUAL(harness_list_offset(good_conn(), topic, 0, PROTO_TS_LATEST, T_MS, &off),
			BROOK_ERR_NO_ERROR);
	return off;
}

/* ---- framing -------------------------------------------------------------- */

static void test_truncated_frames(void)
{
	harness_client_t *c;
	uint8_t buf[1100];

	memset(buf, 0x90, sizeof(buf));
	/* Claims 100 bytes, sends 50, then ends its side. */
	c = conn();
	be32_put(buf, 100);
	CU_ASSERT_EQUAL(harness_client_send_bytes(c, buf, 4 + 50, T_MS, NULL), HARNESS_OK);
	shutdown(harness_client_fd(c), SHUT_WR);
	expect_closed(c, "truncated frame, then EOF");
	harness_client_close(c);
	good_round("truncated frame");

	/* Half a length prefix. */
	c = conn();
	CU_ASSERT_EQUAL(harness_client_send_bytes(c, "\x00\x00", 2, T_MS, NULL), HARNESS_OK);
	shutdown(harness_client_fd(c), SHUT_WR);
	expect_closed(c, "half a length prefix, then EOF");
	harness_client_close(c);
	good_round("half a length prefix");

	/* A frame that never completes must not hold up anyone else. */
	c = conn();
	be32_put(buf, 1000);
	CU_ASSERT_EQUAL(harness_client_send_bytes(c, buf, 4 + 10, T_MS, NULL), HARNESS_OK);
	good_round("a frame left incomplete");
	CU_ASSERT_FALSE(harness_client_is_closed(c, 100));
	harness_client_close(c);

	/* A real produce cut short appends nothing. */
	{
		int64_t before = latest("bad");
		size_t len;
		uint8_t *batch = harness_batch_simple("cut", 0, 3, 50, 0, &len);
		proto_buf_t b;
		msgpack_packer pk;

		CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
		proto_buf_init(&b);
		msgpack_packer_init(&pk, &b, proto_buf_write);
		proto_frame_begin(&b);
		proto_pack_request_header(&pk, PROTO_API_PRODUCE, 0, CORR, NULL);
		msgpack_pack_map(&pk, 2);
		proto_pack_kv_int(&pk, "acks", 1);
		proto_pack_key(&pk, "topics");
		msgpack_pack_array(&pk, 1);
		msgpack_pack_map(&pk, 2);
		proto_pack_kv_str(&pk, "name", "bad");
		proto_pack_key(&pk, "partitions");
		msgpack_pack_array(&pk, 1);
		msgpack_pack_map(&pk, 2);
		proto_pack_kv_int(&pk, "index", 0);
		proto_pack_kv_bin(&pk, "records", batch, len);
		CU_ASSERT_EQUAL_FATAL(proto_frame_end(&b, 0), BROOK_ERR_NO_ERROR);
		c = conn();
		CU_ASSERT_EQUAL(harness_client_send_bytes(c, b.sb.data, b.sb.size - 5, T_MS, NULL),
				HARNESS_OK);
		shutdown(harness_client_fd(c), SHUT_WR);
		expect_closed(c, "produce cut short");
		harness_client_close(c);
		proto_buf_destroy(&b);
		free(batch);
		CU_ASSERT_EQUAL(latest("bad"), before);
		good_round("produce cut short");
	}
}

static void test_huge_length_prefix(void)
{
	static const uint32_t lens[] = { 0x80000000u, 0xffffffffu, 0x7fffffffu, REQ_MAX + 1 };
	harness_client_t *c;

	/* Refused on the prefix alone: nothing more needs to arrive. */
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t hdr[8];
		char what[64];

		snprintf(what, sizeof(what), "length prefix %u", lens[i]);
		c = conn();
		be32_put(hdr, lens[i]);
		memcpy(hdr + 4, "\x95\x12\x00\x07", 4);
		CU_ASSERT_EQUAL(harness_client_send_bytes(c, hdr, sizeof(hdr), T_MS, NULL),
				HARNESS_OK);
		expect_closed(c, what);
		harness_client_close(c);
		good_round(what);
	}

	/* A real frame over socket.request.max.bytes: closed while we send. */
	{
		size_t len = REQ_MAX + 4096, sent = 0;
		uint8_t *big = malloc(len + 4);
		int rc;

		CU_ASSERT_PTR_NOT_NULL_FATAL(big);
		memset(big, 0xc0, len + 4);
		be32_put(big, (uint32_t)len);
		c = conn();
		rc = harness_client_send_bytes(c, big, len + 4, T_MS, &sent);
		CU_ASSERT(rc == HARNESS_OK || rc == HARNESS_CLOSED || rc == HARNESS_ERROR);
		expect_closed(c, "frame over socket.request.max.bytes");
		harness_client_close(c);
		free(big);
		good_round("frame over socket.request.max.bytes");
	}

	/* An empty frame is not a msgpack value. */
	c = conn();
	CU_ASSERT_EQUAL(harness_client_send_bytes(c, "\0\0\0\0", 4, T_MS, NULL), HARNESS_OK);
	expect_closed(c, "empty frame");
	harness_client_close(c);
	good_round("empty frame");
}

static void test_not_msgpack(void)
{
	static const uint8_t never_used[] = { 0xc1, 0xc1, 0xc1, 0xc1 };
	/* one valid request followed by a stray byte, in one frame */
	static const uint8_t two_values[] = { 0x95, 0x12, 0x00, 0x07, 0xc0, 0x80, 0xc0 };
	/* a fine msgpack value that is not a request array */
	static const uint8_t a_map[] = { 0x81, 0xa1, 'x', 0x01 };
	harness_client_t *c;

	c = conn();
	CU_ASSERT_EQUAL(send_frame(c, never_used, sizeof(never_used)), HARNESS_OK);
	expect_closed(c, "0xc1 bytes");
	harness_client_close(c);
	good_round("0xc1 bytes");

	c = conn();
	CU_ASSERT_EQUAL(send_frame(c, two_values, sizeof(two_values)), HARNESS_OK);
	expect_error_or_close(c, "two values in one frame");
	harness_client_close(c);
	good_round("two values in one frame");

	c = conn();
	CU_ASSERT_EQUAL(send_frame(c, a_map, sizeof(a_map)), HARNESS_OK);
	expect_closed(c, "a map instead of the request array");
	harness_client_close(c);
	good_round("a map instead of the request array");

	/* Random frames (seeded). */
	for (int i = 0; i < 60; i++) {
		uint8_t body[512];
		size_t len = 1 + rnd() % sizeof(body);

		for (size_t k = 0; k < len; k++)
			body[k] = (uint8_t)rnd();
		c = conn();
		CU_ASSERT_EQUAL(send_frame(c, body, len), HARNESS_OK);
		expect_error_or_close(c, "random bytes");
		harness_client_close(c);
		if (i % 10 == 9)
			good_round("random bytes");
	}
}

static void test_huge_claims(void)
{
	static const struct {
		const char *what;
		uint8_t bytes[10];
	} cases[] = {
		{ "array32 of 4 billion", { 0xdd, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0 } },
		{ "map32 of 4 billion", { 0xdf, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0 } },
		{ "str32 of 4 GiB", { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd', 'e' } },
		{ "bin32 of 4 GiB", { 0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5 } },
		{ "request with an array16 of 65535", { 0x95, 0x12, 0x00, 0x07, 0xc0, 0xdc, 0xff,
							0xff, 0x00, 0x00 } },
		{ "request with a map32 body of 4 billion", { 0x95, 0x12, 0x00, 0x07, 0xc0, 0xdf,
							      0xff, 0xff, 0xff, 0xff } },
	};
	long rss0 = harness_proc_rss_kb(harness_broker_pid(broker)), rss1;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		harness_client_t *c = conn();

		CU_ASSERT_EQUAL(send_frame(c, cases[i].bytes, sizeof(cases[i].bytes)), HARNESS_OK);
		expect_error_or_close(c, cases[i].what);
		harness_client_close(c);
		good_round(cases[i].what);
	}
	rss1 = harness_proc_rss_kb(harness_broker_pid(broker));
	fprintf(stderr, "huge claims: broker RSS %ld -> %ld KiB\n", rss0, rss1);
	CU_ASSERT(rss0 > 0 && rss1 > 0 && rss1 - rss0 < RSS_SLACK_KB);
}

static void test_deep_nesting(void)
{
	enum { DEPTH = 100000 };
	uint8_t *buf = malloc(DEPTH + 16);
	harness_client_t *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	/* [[[[...nil...]]]] */
	memset(buf, 0x91, DEPTH);
	buf[DEPTH] = 0xc0;
	c = conn();
	CU_ASSERT_EQUAL(send_frame(c, buf, DEPTH + 1), HARNESS_OK);
	expect_closed(c, "arrays nested 100000 deep");
	harness_client_close(c);
	good_round("arrays nested 100000 deep");

	/* {"":{"":{...}}} */
	for (size_t i = 0; i + 2 <= DEPTH; i += 2) {
		buf[i] = 0x81;
		buf[i + 1] = 0xa0;
	}
	buf[DEPTH] = 0xc0;
	c = conn();
	CU_ASSERT_EQUAL(send_frame(c, buf, DEPTH + 1), HARNESS_OK);
	expect_closed(c, "maps nested 50000 deep");
	harness_client_close(c);
	good_round("maps nested 50000 deep");

	/* A well-formed request header with a deep value under an unknown
	 * body key: [18, 0, 7, nil, {"x": [[[...]]]}] */
	{
		static const uint8_t head[] = { 0x95, 0x12, 0x00, CORR, 0xc0, 0x81, 0xa1, 'x' };
		size_t n = 0;

		memcpy(buf, head, sizeof(head));
		n = sizeof(head);
		memset(buf + n, 0x91, 40);
		n += 40;
		buf[n++] = 0xc0;
		c = conn();
		CU_ASSERT_EQUAL(send_frame(c, buf, n), HARNESS_OK);
		expect_error_or_close(c, "a request with a value nested 40 deep");
		harness_client_close(c);
		good_round("a request with a value nested 40 deep");
	}
	free(buf);
}

/* ---- wrong types -------------------------------------------------------------- */

enum wrong {
	W_API_KEY_STR, W_CORR_STR, W_FOUR_ELEMS, W_CLIENT_ID_INT, W_VERSION_HUGE, W_CORR_HUGE,
	W_BODY_INT, W_BODY_ARRAY, W_BODY_STR, W_BODY_NIL,
	W_ACKS_STR, W_TOPICS_MAP, W_RECORDS_STR, W_INDEX_FLOAT, W_NO_PARTITIONS, W_NAME_BIN,
	W_TOPIC_NOT_MAP, W_FETCH_OFFSET_FLOAT, W_FETCH_NO_TOPICS, W_FETCH_NEG_MAX,
	W_LIST_TS_STR, W_META_TOPICS_INTS, W_META_TOPICS_STR,
	W_COUNT
};

static const struct {
	const char *what;
	int answered; /* 1: INVALID_REQUEST response then close; 0: close only */
} wrong_cases[W_COUNT] = {
	[W_API_KEY_STR] = { "api_key is a string", 1 },
	[W_CORR_STR] = { "correlation_id is a string", 0 },
	[W_FOUR_ELEMS] = { "request array of 4", 0 },
	[W_CLIENT_ID_INT] = { "client_id is an integer", 1 },
	[W_VERSION_HUGE] = { "api_version 70000", 1 },
	[W_CORR_HUGE] = { "correlation_id 2^40", 0 },
	[W_BODY_INT] = { "body is an integer", 1 },
	[W_BODY_ARRAY] = { "body is an array", 1 },
	[W_BODY_STR] = { "body is a string", 1 },
	[W_BODY_NIL] = { "body is nil", 1 },
	[W_ACKS_STR] = { "Produce acks is a string", 1 },
	[W_TOPICS_MAP] = { "Produce topics is a map", 1 },
	[W_RECORDS_STR] = { "Produce records is a string", 1 },
	[W_INDEX_FLOAT] = { "Produce index is a float", 1 },
	[W_NO_PARTITIONS] = { "Produce topic without partitions", 1 },
	[W_NAME_BIN] = { "Produce topic name is bin", 1 },
	[W_TOPIC_NOT_MAP] = { "Produce topic entry is an integer", 1 },
	[W_FETCH_OFFSET_FLOAT] = { "Fetch fetch_offset is a float", 1 },
	[W_FETCH_NO_TOPICS] = { "Fetch without topics", 1 },
	[W_FETCH_NEG_MAX] = { "Fetch partition_max_bytes -1", 1 },
	[W_LIST_TS_STR] = { "ListOffsets timestamp is a string", 1 },
	[W_META_TOPICS_INTS] = { "Metadata topics are integers", 1 },
	[W_META_TOPICS_STR] = { "Metadata topics is a string", 1 },
};

static void hdr(msgpack_packer *pk, int api)
{
	msgpack_pack_array(pk, 5);
	msgpack_pack_int(pk, api);
	msgpack_pack_int(pk, 0);
	msgpack_pack_int(pk, CORR);
	msgpack_pack_nil(pk);
}

/* A Produce body whose topic entry is replaced by what `w` says. */
static void produce_with(msgpack_packer *pk, enum wrong w)
{
	static const uint8_t junk[] = { 1, 2, 3 };

	hdr(pk, PROTO_API_PRODUCE);
	msgpack_pack_map(pk, 2);
	proto_pack_key(pk, "acks");
	if (w == W_ACKS_STR)
		proto_pack_str(pk, "1");
	else
		msgpack_pack_int(pk, 1);
	proto_pack_key(pk, "topics");
	if (w == W_TOPICS_MAP) {
		msgpack_pack_map(pk, 0);
		return;
	}
	msgpack_pack_array(pk, 1);
	if (w == W_TOPIC_NOT_MAP) {
		msgpack_pack_int(pk, 3);
		return;
	}
	msgpack_pack_map(pk, w == W_NO_PARTITIONS ? 1 : 2);
	if (w == W_NAME_BIN)
		proto_pack_kv_bin(pk, "name", "bad", 3);
	else
		proto_pack_kv_str(pk, "name", "bad");
	if (w == W_NO_PARTITIONS)
		return;
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_key(pk, "index");
	if (w == W_INDEX_FLOAT)
		msgpack_pack_double(pk, 0.5);
	else
		msgpack_pack_int(pk, 0);
	if (w == W_RECORDS_STR)
		proto_pack_kv_str(pk, "records", "not a batch");
	else
		proto_pack_kv_bin(pk, "records", junk, sizeof(junk));
}

static void fetch_with(msgpack_packer *pk, enum wrong w)
{
	hdr(pk, PROTO_API_FETCH);
	msgpack_pack_map(pk, w == W_FETCH_NO_TOPICS ? 2 : 3);
	proto_pack_kv_int(pk, "max_wait_ms", 0);
	proto_pack_kv_int(pk, "min_bytes", 0);
	if (w == W_FETCH_NO_TOPICS)
		return;
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_str(pk, "name", "bad");
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "partition", 0);
	proto_pack_key(pk, "fetch_offset");
	if (w == W_FETCH_OFFSET_FLOAT)
		msgpack_pack_double(pk, 1.0);
	else
		msgpack_pack_int(pk, 0);
	proto_pack_kv_int(pk, "partition_max_bytes", w == W_FETCH_NEG_MAX ? -1 : 1024);
}

static void pack_wrong(msgpack_packer *pk, void *arg)
{
	enum wrong w = (enum wrong)(intptr_t)arg;

	switch (w) {
	case W_API_KEY_STR:
	case W_CORR_STR:
	case W_CLIENT_ID_INT:
	case W_VERSION_HUGE:
	case W_CORR_HUGE:
		msgpack_pack_array(pk, 5);
		if (w == W_API_KEY_STR)
			proto_pack_str(pk, "ApiVersions");
		else
			msgpack_pack_int(pk, PROTO_API_API_VERSIONS);
		msgpack_pack_int(pk, w == W_VERSION_HUGE ? 70000 : 0);
		if (w == W_CORR_STR)
			proto_pack_str(pk, "7");
		else if (w == W_CORR_HUGE)
			msgpack_pack_int64(pk, (int64_t)1 << 40);
		else
			msgpack_pack_int(pk, CORR);
		if (w == W_CLIENT_ID_INT)
			msgpack_pack_int(pk, 42);
		else
			msgpack_pack_nil(pk);
		msgpack_pack_map(pk, 0);
		break;
	case W_FOUR_ELEMS:
		msgpack_pack_array(pk, 4);
		msgpack_pack_int(pk, PROTO_API_API_VERSIONS);
		msgpack_pack_int(pk, 0);
		msgpack_pack_int(pk, CORR);
		msgpack_pack_nil(pk);
		break;
	case W_BODY_INT:
	case W_BODY_ARRAY:
	case W_BODY_STR:
	case W_BODY_NIL:
		hdr(pk, PROTO_API_METADATA);
		if (w == W_BODY_INT)
			msgpack_pack_int(pk, 42);
		else if (w == W_BODY_ARRAY)
			msgpack_pack_array(pk, 0);
		else if (w == W_BODY_STR)
			proto_pack_str(pk, "body");
		else
			msgpack_pack_nil(pk);
		break;
	case W_ACKS_STR:
	case W_TOPICS_MAP:
	case W_RECORDS_STR:
	case W_INDEX_FLOAT:
	case W_NO_PARTITIONS:
	case W_NAME_BIN:
	case W_TOPIC_NOT_MAP:
		produce_with(pk, w);
		break;
	case W_FETCH_OFFSET_FLOAT:
	case W_FETCH_NO_TOPICS:
	case W_FETCH_NEG_MAX:
		fetch_with(pk, w);
		break;
	case W_LIST_TS_STR:
		hdr(pk, PROTO_API_LIST_OFFSETS);
		msgpack_pack_map(pk, 1);
		proto_pack_key(pk, "topics");
		msgpack_pack_array(pk, 1);
		msgpack_pack_map(pk, 2);
		proto_pack_kv_str(pk, "name", "bad");
		proto_pack_key(pk, "partitions");
		msgpack_pack_array(pk, 1);
		msgpack_pack_map(pk, 2);
		proto_pack_kv_int(pk, "partition_index", 0);
		proto_pack_kv_str(pk, "timestamp", "-1");
		break;
	case W_META_TOPICS_INTS:
	case W_META_TOPICS_STR:
		hdr(pk, PROTO_API_METADATA);
		msgpack_pack_map(pk, 1);
		proto_pack_key(pk, "topics");
		if (w == W_META_TOPICS_STR) {
			proto_pack_str(pk, "bad");
		} else {
			msgpack_pack_array(pk, 2);
			msgpack_pack_int(pk, 1);
			msgpack_pack_int(pk, 2);
		}
		break;
	case W_COUNT:
		break;
	}
}

static void test_wrong_types(void)
{
	int64_t before = latest("bad");

	for (int w = 0; w < W_COUNT; w++) {
		harness_client_t *c = conn();

		CU_ASSERT_EQUAL(send_value(c, pack_wrong, (void *)(intptr_t)w), HARNESS_OK);
		if (wrong_cases[w].answered)
			expect_error_then_close(c, BROOK_ERR_INVALID_REQUEST, wrong_cases[w].what);
		else
			expect_closed(c, wrong_cases[w].what);
		harness_client_close(c);
		good_round(wrong_cases[w].what);
	}
	CU_ASSERT_EQUAL(latest("bad"), before);
}

/* ---- unknown APIs, topics, partitions -------------------------------------------- */

static void test_unknown_api(void)
{
	static const struct {
		int api, version;
	} cases[] = { { 999, 0 }, { -1, 0 }, { 32767, 0 }, { PROTO_API_PRODUCE, 9 },
		      { PROTO_API_METADATA, -1 }, { PROTO_API_API_VERSIONS, 3 } };
	harness_client_t *c = conn();

	/* Answered UNSUPPORTED_VERSION, and the connection stays open. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		harness_resp_t r;
		int32_t corr;
		char what[64];

		snprintf(what, sizeof(what), "api_key %d version %d", cases[i].api,
			 cases[i].version);
		CU_ASSERT_EQUAL_FATAL(harness_client_send_request_raw(c, cases[i].api,
								      cases[i].version, "\x80", 1,
								      T_MS, &corr), HARNESS_OK);
		CU_ASSERT_EQUAL_FATAL(harness_client_recv_response(c, T_MS, &r), HARNESS_OK);
		CU_ASSERT_EQUAL(r.correlation_id, corr);
		if (harness_resp_error(&r, 0) != BROOK_ERR_UNSUPPORTED_VERSION)
			fprintf(stderr, "%s: error %lld\n", what,
				(long long)harness_resp_error(&r, 0));
		CU_ASSERT_EQUAL(harness_resp_error(&r, 0), BROOK_ERR_UNSUPPORTED_VERSION);
		harness_resp_destroy(&r);
		expect_still_serving(c, what);
		good_round(what);
	}
	harness_client_close(c);
}

static void test_unknown_topic_partition(void)
{
	harness_client_t *c = conn();
	size_t len;
	uint8_t *batch = harness_batch_simple("unk", 0, 2, 10, 0, &len);
	char longname[400];
	harness_fetch_req_t q = { .topic = "nope" };
	harness_fetch_result_t f;
	int64_t off, before = latest("bad");
	brook_err_t err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';

	CU_ASSERT_EQUAL(harness_produce(c, "nope", 0, 1, batch, len, T_MS, NULL),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_EQUAL(harness_produce(c, "bad", 7, 1, batch, len, T_MS, NULL),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_EQUAL(harness_produce(c, "bad", -1, 1, batch, len, T_MS, NULL),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	err = harness_produce(c, "", 0, 1, batch, len, T_MS, NULL);
	CU_ASSERT(err == BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
		  err == BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	err = harness_produce(c, longname, 0, 1, batch, len, T_MS, NULL);
	CU_ASSERT(err == BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
		  err == BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	good_round("produce to unknown topics and partitions");

	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	harness_fetch_result_free(&f);
	q.topic = "bad";
	q.partition = 99;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	harness_fetch_result_free(&f);
	q.topic = longname;
	q.partition = 0;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	harness_fetch_result_free(&f);
	CU_ASSERT_EQUAL(harness_list_offset(c, "nope", 0, PROTO_TS_LATEST, T_MS, &off),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_EQUAL(harness_list_offset(c, "bad", 5, PROTO_TS_EARLIEST, T_MS, &off),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	expect_still_serving(c, "unknown topics and partitions");
	good_round("fetch and list offsets of unknown topics and partitions");
	CU_ASSERT_EQUAL(latest("bad"), before);
	free(batch);
	harness_client_close(c);
}

/* ---- broken batches --------------------------------------------------------------- */

/* A valid 3-record batch of "bv" records to edit. */
static uint8_t *valid_batch(size_t *len)
{
	uint8_t *b = harness_batch_simple("edit", 0, 3, 40, 0, len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	return b;
}

static void produce_valid_bad(harness_client_t *c, int n)
{
	size_t len;
	uint8_t *b = harness_batch_simple("bv", bad_valid, n, 20, 0, &len);
	int64_t base;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(harness_produce(c, "bad", 0, 1, b, len, T_MS, &base), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, bad_valid); /* fails after a broken batch was let in */
	bad_valid += n;
	free(b);
}

/* Sends records to "bad" and checks the error is one of want[] and that
 * nothing was appended. */
static void refuse(harness_client_t *c, const uint8_t *records, size_t len, const char *what,
		   brook_err_t want1, brook_err_t want2)
{
	int64_t before = latest("bad"), after;
	brook_err_t err = harness_produce(c, "bad", 0, 1, records, len, T_MS, NULL);

	if (err != want1 && err != want2) {
		fprintf(stderr, "\"%s\": produce answered %s (%d), want %s or %s\n", what,
			brook_err_name(err), err, brook_err_name(want1), brook_err_name(want2));
		CU_FAIL("a broken batch was not refused as it should be");
	}
	if ((after = latest("bad")) != before) {
		fprintf(stderr, "\"%s\": the log of \"bad\" grew from %lld to %lld\n", what,
			(long long)before, (long long)after);
		CU_FAIL("a broken batch changed the log");
	}
	good_round(what);
}

static void test_bad_batches(void)
{
	harness_client_t *c = conn();
	uint8_t *b, *two;
	size_t len;

	produce_valid_bad(c, 3);

	b = valid_batch(&len);
	b[len - 3] ^= 0x40;
	refuse(c, b, len, "a flipped bit in the records", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_CORRUPT_MESSAGE);
	free(b);

	b = valid_batch(&len);
	b[RECORD_BATCH_CRC_OFFSET] ^= 0xff;
	refuse(c, b, len, "a wrong stored CRC", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_CORRUPT_MESSAGE);
	free(b);

	b = valid_batch(&len);
	b[16] = 1; /* magic: not covered by the CRC */
	refuse(c, b, len, "magic 1", BROOK_ERR_CORRUPT_MESSAGE, BROOK_ERR_INVALID_RECORD);
	b[16] = 3;
	refuse(c, b, len, "magic 3", BROOK_ERR_CORRUPT_MESSAGE, BROOK_ERR_INVALID_RECORD);
	free(b);

	b = valid_batch(&len);
	be32_put(b + 8, (uint32_t)(len - 12 + 100)); /* batchLength past the data */
	refuse(c, b, len, "batchLength past the end", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_INVALID_RECORD);
	be32_put(b + 8, 20); /* shorter than a header */
	refuse(c, b, len, "batchLength below the header", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_INVALID_RECORD);
	be32_put(b + 8, 0xfffffff0u); /* negative */
	refuse(c, b, len, "negative batchLength", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_INVALID_RECORD);
	free(b);

	/* Record count lies, CRC fixed up so only the lie is wrong. */
	b = valid_batch(&len);
	be32_put(b + 57, 5); /* recordCount 5, lastOffsetDelta 2, 3 records */
	harness_batch_fix_crc(b, len);
	refuse(c, b, len, "recordCount 5 with lastOffsetDelta 2", BROOK_ERR_INVALID_RECORD,
	       BROOK_ERR_CORRUPT_MESSAGE);
	be32_put(b + 23, 4); /* and lastOffsetDelta 4: consistent header, 3 records */
	harness_batch_fix_crc(b, len);
	refuse(c, b, len, "recordCount 5 with 3 records", BROOK_ERR_INVALID_RECORD,
	       BROOK_ERR_CORRUPT_MESSAGE);
	be32_put(b + 57, 2);
	be32_put(b + 23, 1); /* 2 claimed, 3 present */
	harness_batch_fix_crc(b, len);
	refuse(c, b, len, "recordCount 2 with 3 records", BROOK_ERR_INVALID_RECORD,
	       BROOK_ERR_CORRUPT_MESSAGE);
	be32_put(b + 57, 0);
	be32_put(b + 23, 0xffffffffu);
	harness_batch_fix_crc(b, len);
	refuse(c, b, len, "recordCount 0", BROOK_ERR_INVALID_RECORD, BROOK_ERR_CORRUPT_MESSAGE);
	free(b);

	/* Garbage after valid batches: all or nothing. */
	b = valid_batch(&len);
	two = malloc(2 * len + 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(two);
	memcpy(two, b, len);
	for (int i = 0; i < 30; i++)
		two[len + i] = (uint8_t)rnd();
	refuse(c, two, len + 30, "30 random bytes after a valid batch", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_INVALID_RECORD);
	memcpy(two + len, b, len);
	memset(two + 2 * len, 0, 100);
	refuse(c, two, 2 * len + 100, "zeros after two valid batches", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_INVALID_RECORD);
	memcpy(two + len, b, len);
	two[len + len - 1] ^= 1; /* the second batch broken */
	refuse(c, two, 2 * len, "a valid batch then a corrupt one", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_INVALID_RECORD);
	memcpy(two + len, b, len / 2);
	refuse(c, two, len + len / 2, "a valid batch then half of one", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_INVALID_RECORD);
	free(two);
	free(b);

	/* Codecs. */
	b = valid_batch(&len);
	for (int codec = 5; codec <= 7; codec++) {
		char what[64];

		snprintf(what, sizeof(what), "compression codec %d", codec);
		b[RECORD_BATCH_ATTRIBUTES_OFFSET + 1] = (uint8_t)codec;
		harness_batch_fix_crc(b, len);
		refuse(c, b, len, what, BROOK_ERR_UNSUPPORTED_COMPRESSION_TYPE,
		       BROOK_ERR_UNSUPPORTED_COMPRESSION_TYPE);
	}
	b[RECORD_BATCH_ATTRIBUTES_OFFSET + 1] = COMPRESS_SNAPPY;
	harness_batch_fix_crc(b, len);
	refuse(c, b, len, "snappy", BROOK_ERR_UNSUPPORTED_COMPRESSION_TYPE,
	       BROOK_ERR_UNSUPPORTED_COMPRESSION_TYPE);
	/* gzip claimed, records not compressed: consumers could not read it */
	b[RECORD_BATCH_ATTRIBUTES_OFFSET + 1] = COMPRESS_GZIP;
	harness_batch_fix_crc(b, len);
	refuse(c, b, len, "gzip claimed over plain records", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_INVALID_RECORD);
	free(b);

	/* No batch at all. */
	refuse(c, (const uint8_t *)"", 0, "empty records", BROOK_ERR_CORRUPT_MESSAGE,
	       BROOK_ERR_INVALID_RECORD);

	/* Over message.max.bytes (but well under socket.request.max.bytes). */
	{
		size_t vsize = MSG_MAX + 1000;
		uint8_t *big = harness_batch_simple("big", 0, 1, vsize, 0, &len);

		CU_ASSERT_PTR_NOT_NULL_FATAL(big);
		CU_ASSERT(len > MSG_MAX);
		refuse(c, big, len, "a batch over message.max.bytes", BROOK_ERR_MESSAGE_TOO_LARGE,
		       BROOK_ERR_RECORD_LIST_TOO_LARGE);
		free(big);
	}

	expect_still_serving(c, "broken batches");
	produce_valid_bad(c, 2);
	harness_client_close(c);
}

/* ---- random mutations of a valid request ---------------------------------------- */

/* Flips bytes of a valid Produce frame (never its length prefix), sends it
 * and then an ApiVersions request on the same connection: the broker must
 * answer the ApiVersions or close the connection, whatever the mutation
 * did (an acks=0 produce has no answer of its own). */
static void test_random_mutations(void)
{
	size_t blen;
	uint8_t *batch = harness_batch_simple("fz", 0, 3, 30, 0, &blen);
	proto_buf_t b;
	msgpack_packer pk;
	harness_client_t *c = NULL;
	int answered = 0, closed = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	proto_buf_init(&b);
	msgpack_packer_init(&pk, &b, proto_buf_write);
	proto_frame_begin(&b);
	proto_pack_request_header(&pk, PROTO_API_PRODUCE, 0, CORR, "fuzzer");
	msgpack_pack_map(&pk, 3);
	proto_pack_kv_int(&pk, "acks", 1);
	proto_pack_kv_int(&pk, "timeout_ms", 1000);
	proto_pack_key(&pk, "topics");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 2);
	proto_pack_kv_str(&pk, "name", "fuzz");
	proto_pack_key(&pk, "partitions");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 2);
	proto_pack_kv_int(&pk, "index", 0);
	proto_pack_kv_bin(&pk, "records", batch, blen);
	CU_ASSERT_EQUAL_FATAL(proto_frame_end(&b, 0), BROOK_ERR_NO_ERROR);

	for (int i = 0; i < 300; i++) {
		uint8_t *m = malloc(b.sb.size);
		int flips = 1 + (int)(rnd() % 4), rc;
		int32_t corr;

		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		memcpy(m, b.sb.data, b.sb.size);
		for (int k = 0; k < flips; k++)
			m[4 + rnd() % (b.sb.size - 4)] = (uint8_t)rnd();
		if (!c)
			c = conn();
		rc = harness_client_send_bytes(c, m, b.sb.size, T_MS, NULL);
		free(m);
		if (rc == HARNESS_OK)
			rc = harness_client_send_request_raw(c, PROTO_API_API_VERSIONS, 0,
							     "\x80", 1, T_MS, &corr);
		while (rc == HARNESS_OK) {
			harness_resp_t r;

			rc = harness_client_recv_response(c, T_MS, &r);
			if (rc != HARNESS_OK)
				break;
			if (r.correlation_id == corr) {
				harness_resp_destroy(&r);
				answered++;
				break;
			}
			harness_resp_destroy(&r);
		}
		if (rc == HARNESS_TIMEOUT) {
			fprintf(stderr, "mutation %d: no answer and no close within %d ms\n", i,
				T_MS);
			CU_FAIL("a mutated request hung the connection");
		}
		if (rc != HARNESS_OK) {
			closed++;
			harness_client_close(c);
			c = NULL;
		}
		if (i % 25 == 24)
			good_round("mutated produce requests");
	}
	harness_client_close(c);
	fprintf(stderr, "mutations: %d answered, %d closed the connection\n", answered, closed);
	/* What landed in "fuzz" is whole, CRC-checked batches only. */
	{
		harness_fetch_result_t f;

		CU_ASSERT_EQUAL(harness_fetch_all(good_conn(), "fuzz", 0, 0, -1, T_MS, &f),
				BROOK_ERR_NO_ERROR);
		fprintf(stderr, "mutations: %zu records landed in \"fuzz\"\n", f.nrecords);
		harness_fetch_result_free(&f);
	}
	proto_buf_destroy(&b);
	free(batch);
}

/* ---- many connections ---------------------------------------------------------------- */

static void rst_close(harness_client_t *c)
{
	struct linger l = { 1, 0 };

	setsockopt(harness_client_fd(c), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	harness_client_close(c);
}

static void test_connection_storm(void)
{
	enum { CONCURRENT = 800, CHURN = 2000 };
	harness_client_t **cs = calloc(CONCURRENT, sizeof(*cs));
	int opened = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cs);
	/* Many at once, half of them with half a frame sent. */
	for (int i = 0; i < CONCURRENT; i++) {
		if (!(cs[i] = harness_client_connect(port())))
			break;
		opened++;
		if (i % 2)
			harness_client_send_bytes(cs[i], "\x00\x00\x00\x20\x95", 5, T_MS, NULL);
	}
	fprintf(stderr, "connection storm: %d connections open at once\n", opened);
	CU_ASSERT(opened == CONCURRENT);
	good_round("800 connections open at once");
	for (int i = 0; i < opened; i++) {
		if (i % 3 == 0)
			rst_close(cs[i]);
		else
			harness_client_close(cs[i]);
	}
	free(cs);
	good_round("800 connections dropped");

	/* Open and drop, in every manner. */
	for (int i = 0; i < CHURN; i++) {
		harness_client_t *c = harness_client_connect(port());
		harness_resp_t r;
		int rc;

		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		switch (i % 4) {
		case 0:
			harness_client_close(c);
			break;
		case 1: /* a request, never read */
			harness_client_send_request_raw(c, PROTO_API_METADATA, 0, "\x80", 1, T_MS,
							NULL);
			harness_client_close(c);
			break;
		case 2:
			rc = harness_client_request_raw(c, PROTO_API_API_VERSIONS, "\x80", 1, T_MS,
							&r);
			CU_ASSERT_EQUAL(rc, HARNESS_OK);
			harness_resp_destroy(&r);
			harness_client_close(c);
			break;
		default: /* half a prefix, then a reset */
			harness_client_send_bytes(c, "\x00\x00", 2, T_MS, NULL);
			rst_close(c);
			break;
		}
		if (i % 250 == 249)
			good_round("connection churn");
	}
	good_round("connection churn done");
}

/* ---- a client that never reads ---------------------------------------------------------- */

static void pack_list_many(msgpack_packer *pk, void *arg)
{
	int n = (int)(intptr_t)arg;

	msgpack_pack_map(pk, 1);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_str(pk, "name", "bulk");
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, (size_t)n);
	for (int i = 0; i < n; i++) {
		msgpack_pack_map(pk, 2);
		proto_pack_kv_int(pk, "partition_index", 0);
		proto_pack_kv_int(pk, "timestamp", PROTO_TS_LATEST);
	}
}

static void test_slow_reader(void)
{
	enum { NFETCH = 220, NLIST = 2000, LIST_PARTS = 4000, BULK_BATCHES = 4 };
	pid_t pid = harness_broker_pid(broker);
	harness_client_t *c;
	int64_t bases[BULK_BATCHES];
	int32_t corrs[NFETCH];
	long rss0, rss1;
	size_t total = 0;
	int sent = 0, stalled = 0;

	/* ~3.6 MB of data to fetch again and again. */
	for (int i = 0; i < BULK_BATCHES; i++) {
		size_t len;
		uint8_t *b = harness_batch_simple("bulk", i * 9, 9, 100000, 0, &len);

		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		CU_ASSERT_EQUAL_FATAL(harness_produce(good_conn(), "bulk", 0, 1, b, len, T_MS,
						      &bases[i]), BROOK_ERR_NO_ERROR);
		free(b);
	}
	/* Warm up the paths the flood takes, then measure. */
	c = conn();
	{
		harness_fetch_result_t f;
		harness_resp_t r;

		CU_ASSERT_EQUAL(harness_fetch_all(c, "bulk", 0, 0, -1, T_MS, &f),
				BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(f.nrecords, BULK_BATCHES * 9);
		harness_fetch_result_free(&f);
		CU_ASSERT_EQUAL(harness_client_request(c, PROTO_API_LIST_OFFSETS, pack_list_many,
						       (void *)(intptr_t)LIST_PARTS, T_MS, &r),
				HARNESS_OK);
		harness_resp_destroy(&r);
	}
	rss0 = harness_proc_rss_kb(pid);

	/* Phase 1: ~200 MB of fetch responses requested, none read yet. */
	for (int i = 0; i < NFETCH; i++) {
		harness_fetch_req_t q = { .topic = "bulk", .offset = bases[i % BULK_BATCHES] };

		CU_ASSERT_EQUAL_FATAL(harness_fetch_send(c, &q, T_MS, &corrs[i]), HARNESS_OK);
	}
	good_round("220 fetches of 1 MB not read");
	rss1 = harness_proc_rss_kb(pid);
	fprintf(stderr, "slow reader, fetches: broker RSS %ld -> %ld KiB\n", rss0, rss1);
	CU_ASSERT(rss1 > 0 && rss1 - rss0 < RSS_SLACK_KB);
	for (int i = 0; i < NFETCH; i++) {
		harness_fetch_result_t f;

		CU_ASSERT_EQUAL_FATAL(harness_fetch_recv(c, corrs[i], T_MS, &f),
				      BROOK_ERR_NO_ERROR);
		CU_ASSERT(f.nbatches >= 1);
		CU_ASSERT(f.nrecords >= 9 && f.records[0].offset == bases[i % BULK_BATCHES]);
		total += f.records_bytes;
		harness_fetch_result_free(&f);
		if (i % 50 == 49)
			good_round("reading the fetch flood");
	}
	fprintf(stderr, "slow reader: read %zu MB of fetch responses\n", total >> 20);
	CU_ASSERT(total >= (size_t)NFETCH * 900000);
	harness_client_close(c);

	/* Phase 2: responses held in memory (ListOffsets of 4000 entries,
	 * ~300 KB each), never read. The broker must stop reading this
	 * connection, which we see as our sends stalling. */
	c = conn();
	for (sent = 0; sent < NLIST; sent++) {
		int rc = harness_client_send_request(c, PROTO_API_LIST_OFFSETS, 0, pack_list_many,
						     (void *)(intptr_t)LIST_PARTS, 2000, NULL);

		if (rc == HARNESS_TIMEOUT) {
			stalled = 1;
			break;
		}
		CU_ASSERT_EQUAL_FATAL(rc, HARNESS_OK);
		if (sent % 40 == 39)
			good_round("ListOffsets flood, never read");
	}
	fprintf(stderr, "slow reader: sends stalled after %d ListOffsets requests\n", sent);
	CU_ASSERT(stalled);
	good_round("a stalled connection");
	rss1 = harness_proc_rss_kb(pid);
	fprintf(stderr, "slow reader, in-memory responses: broker RSS %ld -> %ld KiB\n", rss0,
		rss1);
	CU_ASSERT(rss1 > 0 && rss1 - rss0 < RSS_SLACK_KB);
	harness_client_close(c);
	good_round("the stalled connection dropped");
}

/* ---- idle connections --------------------------------------------------------------------- */

/* Waits for c to be closed for idleness, keeping the good client busy
 * (its connection must not count as idle); returns how long it took. */
static int64_t wait_idle_close(harness_client_t *c, const char *what)
{
	int64_t t0 = harness_now_ms(), deadline = t0 + 2 * IDLE_MS + 5000;

	while (harness_now_ms() < deadline) {
		if (harness_client_is_closed(c, 400))
			return harness_now_ms() - t0;
		good_round(what);
	}
	return -1;
}

static void test_idle_close(void)
{
	harness_client_t *c = conn();
	harness_resp_t r;
	int64_t took;

	/* Never said a word. */
	took = wait_idle_close(c, "an idle connection");
	fprintf(stderr, "idle connection closed after %lld ms (connections.max.idle.ms %d)\n",
		(long long)took, IDLE_MS);
	CU_ASSERT(took >= IDLE_MS - 500);
	harness_client_close(c);

	/* Idle after one request. */
	c = conn();
	CU_ASSERT_EQUAL(harness_client_request_raw(c, PROTO_API_API_VERSIONS, "\x80", 1, T_MS, &r),
			HARNESS_OK);
	harness_resp_destroy(&r);
	took = wait_idle_close(c, "idle after a request");
	fprintf(stderr, "idle-after-request connection closed after %lld ms\n", (long long)took);
	CU_ASSERT(took >= IDLE_MS - 500);
	harness_client_close(c);
}

/* ---- the end ---------------------------------------------------------------------------- */

static void test_all_acknowledged_readable(void)
{
	harness_fetch_result_t f;

	CU_ASSERT_FATAL(harness_broker_alive(broker));
	CU_ASSERT_EQUAL(kill(harness_broker_pid(broker), 0), 0);
	CU_ASSERT_EQUAL_FATAL(harness_fetch_all(good_conn(), "good", 0, 0, -1, T_MS, &f),
			      BROOK_ERR_NO_ERROR);
	fprintf(stderr, "good client: %d records in %d rounds, %zu read back\n", good_next,
		good_rounds, f.nrecords);
	CU_ASSERT_EQUAL(f.high_watermark, good_next);
	CU_ASSERT_EQUAL(f.nrecords, (size_t)good_next);
	for (size_t i = 0; i < f.nrecords; i++) {
		char key[64], val[64];

		snprintf(key, sizeof(key), "good-k%zu", i);
		snprintf(val, sizeof(val), "good-v%zu", i);
		if (!f.records[i].key || strcmp(f.records[i].key, key) != 0 ||
		    !f.records[i].value || strncmp(f.records[i].value, val, strlen(val)) != 0) {
			fprintf(stderr, "good offset %zu reads back wrong\n", i);
			CU_FAIL("an acknowledged record is not what was written");
			break;
		}
	}
	harness_fetch_result_free(&f);

	/* "bad" holds exactly the valid batches sent there. */
	CU_ASSERT_EQUAL(harness_fetch_all(good_conn(), "bad", 0, 0, -1, T_MS, &f),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(f.nrecords, (size_t)bad_valid);
	for (size_t i = 0; i < f.nrecords; i++) {
		char key[64];

		snprintf(key, sizeof(key), "bv-k%zu", i);
		if (!f.records[i].key || strcmp(f.records[i].key, key) != 0) {
			CU_FAIL("\"bad\" holds something that is not a valid record sent there");
			break;
		}
	}
	harness_fetch_result_free(&f);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "truncated frames", test_truncated_frames },
		{ "length prefixes of 2 GiB and over the limit", test_huge_length_prefix },
		{ "frames that are not msgpack", test_not_msgpack },
		{ "containers claiming billions of elements", test_huge_claims },
		{ "deep nesting", test_deep_nesting },
		{ "wrong msgpack types", test_wrong_types },
		{ "unknown API keys and versions", test_unknown_api },
		{ "unknown topics and partitions", test_unknown_topic_partition },
		{ "corrupt, lying and oversized batches", test_bad_batches },
		{ "randomly mutated requests", test_random_mutations },
		{ "a storm of connections", test_connection_storm },
		{ "a client that never reads: bounded memory", test_slow_reader },
		{ "idle connections are closed", test_idle_close },
		{ "every acknowledged record is readable", test_all_acknowledged_readable },
		{ NULL, NULL },
	};
	static const char *const overrides[] = {
		"connection.output.max.bytes=1048576",
		"connections.max.idle.ms=6000",
		"socket.request.max.bytes=8388608",
		"log.segment.bytes=4194304",
		NULL,
	};
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[1024];
	int rc;

	rng = ((uint64_t)harness_seed() << 1) | 1;
	/* A sanitized broker keeps freed memory in ASan's quarantine (256 MB
	 * by default), which would read as growth in the RSS checks; a small
	 * one keeps RSS close to live memory. No effect on normal builds. */
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=16", asan ? asan : "",
		 asan && *asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	if (harness_zk_start(1, &ens) != 0) {
		fprintf(stderr, "test_broker_badinput: cannot start ZooKeeper\n");
		return 1;
	}
	if (!(broker = harness_broker_start(harness_zk_connect_string(ens), 1, overrides))) {
		fprintf(stderr, "test_broker_badinput: cannot start brookd\n");
		harness_broker_stop_all();
		harness_zk_stop(ens);
		return 1;
	}
	fprintf(stderr, "test_broker_badinput: broker 1 (pid %d) on port %d\n",
		(int)harness_broker_pid(broker), harness_broker_port(broker));
	if (harness_broker_create_topic(broker, harness_zk_connect_string(ens), "good", 1) ||
	    harness_broker_create_topic(broker, harness_zk_connect_string(ens), "bad", 1) ||
	    harness_broker_create_topic(broker, harness_zk_connect_string(ens), "fuzz", 1) ||
	    harness_broker_create_topic(broker, harness_zk_connect_string(ens), "bulk", 1) ||
	    !(good = harness_client_connect(port()))) {
		fprintf(stderr, "test_broker_badinput: cannot set up topics and the good client\n");
		harness_broker_stop_all();
		harness_zk_stop(ens);
		return 1;
	}
	good_last = harness_now_ms();
	rc = harness_run("broker_badinput", tests);
	harness_client_close(good);
	if (harness_broker_stop_all() != 0) {
		fprintf(stderr, "test_broker_badinput: the broker stopped badly or its log has a "
			"sanitizer report\n");
		rc = 1;
	}
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	return rc;
}
