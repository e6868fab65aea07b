/*
 * test_broker_api.c - the client APIs of a real brookd (1-node ZooKeeper,
 * one broker) spoken over the wire as proto.h defines them: ApiVersions,
 * Metadata, Produce (acks 1/0/invalid, per-topic config overrides), Fetch
 * (exact records, tiny limits, out of range, long poll), ListOffsets,
 * pipelining, and the data surviving a clean restart and a kill -9.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_broker.h"
#include "harness_zk.h"
#include "proto.h"
#include "record.h"

#define T_MS 15000 /* one request's bound; generous for sanitized brokers */

static harness_zk_t *ens;
static harness_broker_t *broker;
static uint64_t rng;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ULL) >> 32);
}

static const char *zk(void)
{
	return harness_zk_connect_string(ens);
}

static harness_client_t *connect_or_die(void)
{
	harness_client_t *c = harness_client_connect(harness_broker_port(broker));

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

static void create_topic(const char *topic, int32_t partitions)
{
	CU_ASSERT_EQUAL_FATAL(harness_broker_create_topic(broker, zk(), topic, partitions), 0);
}

/* Records as a test remembers them, to compare with what comes back. */
typedef struct expect {
	char key[64];
	ssize_t key_len;    /* -1: null */
	char value[2048];
	ssize_t value_len;
	int64_t offset;
} expect_t;

static int record_matches(const harness_record_t *r, const expect_t *e)
{
	if (r->offset != e->offset || r->key_len != e->key_len || r->value_len != e->value_len)
		return 0;
	if (e->key_len > 0 && memcmp(r->key, e->key, (size_t)e->key_len) != 0)
		return 0;
	if (e->value_len > 0 && memcmp(r->value, e->value, (size_t)e->value_len) != 0)
		return 0;
	return 1;
}

/* Produces n simple records as one batch with acks=1; returns the base offset. */
static int64_t produce_simple(harness_client_t *c, const char *topic, const char *prefix,
			      int first, int n, int64_t ts)
{
	size_t len;
	uint8_t *batch = harness_batch_simple(prefix, first, n, 0, ts, &len);
	int64_t base = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	CU_ASSERT_EQUAL(harness_produce(c, topic, 0, 1, batch, len, T_MS, &base),
			BROOK_ERR_NO_ERROR);
	free(batch);
	return base;
}

/* ---- ApiVersions and Metadata ------------------------------------------- */

static void test_api_versions(void)
{
	static const int want[] = { PROTO_API_PRODUCE, PROTO_API_FETCH, PROTO_API_LIST_OFFSETS,
				    PROTO_API_METADATA, PROTO_API_API_VERSIONS };
	harness_client_t *c = connect_or_die();
	const msgpack_object *keys;
	harness_resp_t r;

	CU_ASSERT_EQUAL_FATAL(harness_client_request_raw(c, PROTO_API_API_VERSIONS, "\x80", 1, T_MS,
							 &r), HARNESS_OK);
	CU_ASSERT_EQUAL(harness_resp_error(&r, -1), 0);
	keys = harness_obj_get(r.body, "api_keys");
	CU_ASSERT_FATAL(keys && keys->type == MSGPACK_OBJECT_ARRAY);
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		int found = 0;

		for (uint32_t i = 0; i < keys->via.array.size; i++) {
			const msgpack_object *e = &keys->via.array.ptr[i];
			int64_t k, lo, hi;

			CU_ASSERT_FATAL(e->type == MSGPACK_OBJECT_ARRAY && e->via.array.size == 3);
			if (proto_obj_int(&e->via.array.ptr[0], INT16_MIN, INT16_MAX, &k) ||
			    proto_obj_int(&e->via.array.ptr[1], 0, INT16_MAX, &lo) ||
			    proto_obj_int(&e->via.array.ptr[2], 0, INT16_MAX, &hi)) {
				CU_FAIL("api_keys entry is not [int, int, int]");
				continue;
			}
			if (k == want[w]) {
				found = 1;
				CU_ASSERT(lo == 0 && hi >= lo);
			}
		}
		if (!found)
			fprintf(stderr, "ApiVersions does not list %s\n", proto_api_name(want[w]));
		CU_ASSERT(found);
	}
	harness_resp_destroy(&r);
	harness_client_close(c);
}

/* Named topics never auto-create here; test_metadata_auto_create asks
 * for it with pack_metadata_auto. */
static void pack_metadata_topics(msgpack_packer *pk, const char *const *names, int allow_auto)
{
	size_t n = 0;

	msgpack_pack_map(pk, 2);
	proto_pack_kv_bool(pk, "allow_auto_topic_creation", allow_auto);
	proto_pack_key(pk, "topics");
	if (!names) {
		msgpack_pack_nil(pk);
		return;
	}
	while (names[n])
		n++;
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		proto_pack_str(pk, names[i]);
}

static void pack_metadata(msgpack_packer *pk, void *arg)
{
	pack_metadata_topics(pk, arg, 0);
}

static void pack_metadata_auto(msgpack_packer *pk, void *arg)
{
	pack_metadata_topics(pk, arg, 1);
}

static const msgpack_object *find_topic(const msgpack_object *body, const char *name)
{
	const msgpack_object *topics = harness_obj_get(body, "topics");

	if (!topics || topics->type != MSGPACK_OBJECT_ARRAY)
		return NULL;
	for (uint32_t i = 0; i < topics->via.array.size; i++) {
		char n[256];

		if (harness_obj_str(&topics->via.array.ptr[i], "name", n, sizeof(n)) == 0 &&
		    strcmp(n, name) == 0)
			return &topics->via.array.ptr[i];
	}
	return NULL;
}

static void test_metadata(void)
{
	harness_client_t *c = connect_or_die();
	const char *const named[] = { "md-three", "md-nope", NULL };
	const msgpack_object *brokers, *t, *ps;
	harness_resp_t r;
	char s[256];
	int seen[3] = { 0, 0, 0 };

	create_topic("md-one", 1);
	create_topic("md-three", 3);

	/* All topics, and the cluster around them. */
	CU_ASSERT_EQUAL_FATAL(harness_client_request(c, PROTO_API_METADATA, pack_metadata, NULL,
						     T_MS, &r), HARNESS_OK);
	brokers = harness_obj_get(r.body, "brokers");
	CU_ASSERT_FATAL(brokers && brokers->type == MSGPACK_OBJECT_ARRAY);
	CU_ASSERT_EQUAL(brokers->via.array.size, 1);
	if (brokers->via.array.size >= 1) {
		const msgpack_object *b0 = &brokers->via.array.ptr[0];

		CU_ASSERT_EQUAL(harness_obj_int(b0, "node_id", -1), harness_broker_id(broker));
		CU_ASSERT_EQUAL(harness_obj_str(b0, "host", s, sizeof(s)), 0);
		CU_ASSERT_STRING_EQUAL(s, "127.0.0.1");
		CU_ASSERT_EQUAL(harness_obj_int(b0, "port", -1), harness_broker_port(broker));
	}
	CU_ASSERT_EQUAL(harness_obj_str(r.body, "cluster_id", s, sizeof(s)), 0);
	CU_ASSERT(strlen(s) > 0);
	CU_ASSERT_PTR_NOT_NULL(harness_obj_get(r.body, "controller_id"));
	CU_ASSERT_PTR_NOT_NULL(find_topic(r.body, "md-one"));
	CU_ASSERT_PTR_NOT_NULL(find_topic(r.body, "md-three"));
	harness_resp_destroy(&r);

	/* Named topics: one known with three partitions, one unknown. */
	CU_ASSERT_EQUAL_FATAL(harness_client_request(c, PROTO_API_METADATA, pack_metadata,
						     (void *)named, T_MS, &r), HARNESS_OK);
	CU_ASSERT_PTR_NULL(find_topic(r.body, "md-one"));
	t = find_topic(r.body, "md-three");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(harness_obj_int(t, "error_code", -1), 0);
	ps = harness_obj_get(t, "partitions");
	CU_ASSERT_FATAL(ps && ps->type == MSGPACK_OBJECT_ARRAY && ps->via.array.size == 3);
	for (uint32_t i = 0; i < 3; i++) {
		const msgpack_object *p = &ps->via.array.ptr[i];
		const msgpack_object *reps = harness_obj_get(p, "replica_nodes");
		int64_t idx = harness_obj_int(p, "partition_index", -1);

		CU_ASSERT(idx >= 0 && idx < 3);
		if (idx >= 0 && idx < 3)
			seen[idx]++;
		CU_ASSERT_EQUAL(harness_obj_int(p, "error_code", -1), 0);
		CU_ASSERT_EQUAL(harness_obj_int(p, "leader_id", -1), harness_broker_id(broker));
		CU_ASSERT(reps && reps->type == MSGPACK_OBJECT_ARRAY && reps->via.array.size == 1);
	}
	CU_ASSERT(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	t = find_topic(r.body, "md-nope");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(harness_obj_int(t, "error_code", -1), BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	harness_resp_destroy(&r);
	harness_client_close(c);
}

/* auto.create.topics.enable (on by default, as in Kafka): the first answer
 * says LEADER_NOT_AVAILABLE, the topic appears with num.partitions (2 for
 * this broker) led by the broker, and takes records. A bad name is never
 * created. */
static void test_metadata_auto_create(void)
{
	harness_client_t *c = connect_or_die();
	const char *const named[] = { "md-auto", NULL };
	const char *const bad[] = { "bad/name", NULL };
	const msgpack_object *t, *ps;
	harness_resp_t r;
	int64_t err = -1;

	CU_ASSERT_EQUAL_FATAL(harness_client_request(c, PROTO_API_METADATA, pack_metadata_auto,
						     (void *)named, T_MS, &r), HARNESS_OK);
	t = find_topic(r.body, "md-auto");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(harness_obj_int(t, "error_code", -1), BROOK_ERR_LEADER_NOT_AVAILABLE);
	harness_resp_destroy(&r);
	CU_ASSERT_EQUAL_FATAL(harness_topic_wait_leaders(harness_broker_port(broker), "md-auto", 2,
							 T_MS), 0);
	CU_ASSERT_EQUAL_FATAL(harness_client_request(c, PROTO_API_METADATA, pack_metadata_auto,
						     (void *)named, T_MS, &r), HARNESS_OK);
	t = find_topic(r.body, "md-auto");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(harness_obj_int(t, "error_code", -1), 0);
	ps = harness_obj_get(t, "partitions");
	CU_ASSERT(ps && ps->type == MSGPACK_OBJECT_ARRAY && ps->via.array.size == 2);
	harness_resp_destroy(&r);
	CU_ASSERT_EQUAL(produce_simple(c, "md-auto", "auto", 0, 3, 1), 0);

	CU_ASSERT_EQUAL_FATAL(harness_client_request(c, PROTO_API_METADATA, pack_metadata_auto,
						     (void *)bad, T_MS, &r), HARNESS_OK);
	t = find_topic(r.body, "bad/name");
	if (t)
		err = harness_obj_int(t, "error_code", -1);
	CU_ASSERT_EQUAL(err, BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	harness_resp_destroy(&r);
	harness_client_close(c);
}

/* ---- requests only a controller sends ------------------------------------ */

typedef struct fence_body {
	int32_t epoch;
	const char *topic;
} fence_body_t;

static void pack_stop_replica(msgpack_packer *pk, void *arg)
{
	const fence_body_t *f = arg;

	msgpack_pack_map(pk, 4);
	proto_pack_kv_int(pk, "controller_id", 99);
	proto_pack_kv_int(pk, "controller_epoch", f->epoch);
	proto_pack_kv_bool(pk, "delete_partitions", 0);
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_str(pk, "topic_name", f->topic);
	proto_pack_kv_int(pk, "partition_index", 0);
}

/* The broker learned the controller's epoch (UpdateMetadata when it took
 * office); a request from an older epoch comes from a deposed controller
 * and is refused whole, the partition keeps being served. */
static void test_stale_controller_fenced(void)
{
	harness_client_t *c = connect_or_die();
	fence_body_t f = { 0, "fence" };
	harness_resp_t r;

	create_topic("fence", 1);
	CU_ASSERT_EQUAL_FATAL(harness_client_request(c, PROTO_API_STOP_REPLICA, pack_stop_replica,
						     &f, T_MS, &r), HARNESS_OK);
	CU_ASSERT_EQUAL(harness_resp_error(&r, -1), BROOK_ERR_STALE_CONTROLLER_EPOCH);
	harness_resp_destroy(&r);
	CU_ASSERT_EQUAL(produce_simple(c, "fence", "f", 0, 2, 0), 0);
	harness_client_close(c);
}

/* ---- Produce ------------------------------------------------------------ */

static void test_produce_acks1(void)
{
	harness_client_t *c = connect_or_die();
	int64_t next = 0;

	create_topic("p-acks1", 1);
	for (int i = 0; i < 8; i++) {
		int n = 1 + i % 4;
		int64_t base = produce_simple(c, "p-acks1", "a1", (int)next, n, 0);

		CU_ASSERT_EQUAL(base, next);
		next += n;
	}
	harness_client_close(c);
}

/* Produces `batch` to topic-0 until the answer is `want` (each accepted
 * try appends it); the ms that took, or -1 after T_MS with the last
 * answer on stderr. For waiting on a config change to reach the broker. */
static int64_t produce_until(harness_client_t *c, const char *topic, int acks,
			     const uint8_t *batch, size_t len, brook_err_t want)
{
	int64_t start = harness_now_ms();
	brook_err_t got;

	do {
		got = harness_produce(c, topic, 0, acks, batch, len, T_MS, NULL);
		if (got == want)
			return harness_now_ms() - start;
		usleep(20 * 1000);
	} while (harness_now_ms() - start < T_MS);
	fprintf(stderr, "test_broker_api: %s-0 acks=%d: still %s after %d ms, want %s\n", topic,
		acks, brook_err_name(got), T_MS, brook_err_name(want));
	return -1;
}

/* Base offset of the partition's active segment (its file name). */
static int64_t active_segment_base(const char *topic)
{
	char path[4096];
	const char *slash;

	if (harness_broker_active_segment(broker, topic, 0, path, sizeof(path)) != 0)
		return -1;
	slash = strrchr(path, '/');
	return strtoll(slash ? slash + 1 : path, NULL, 10);
}

/* Per-topic overrides (/config/topics/<t>): applied when the topic is
 * created with them, picked up when they change later (through the
 * broker's watch), a bad value costing only its own key, and gone with
 * the znode. */
static void test_topic_config_overrides(void)
{
	static const char *const limits[] = { "min.insync.replicas=2", "max.message.bytes=1000",
					      NULL };
	static const char *const strict[] = { "min.insync.replicas=2", NULL };
	static const char *const mixed[] = { "max.message.bytes=1000", "min.insync.replicas=abc",
					     "segment.bytes=2000", NULL };
	int32_t id = harness_broker_id(broker);
	harness_client_t *c = connect_or_die();
	size_t small_len, mid_len, big_len;
	uint8_t *small = harness_batch_simple("cfg", 0, 2, 10, 0, &small_len);
	uint8_t *mid = harness_batch_simple("cfg", 0, 1, 800, 0, &mid_len);
	uint8_t *big = harness_batch_simple("cfg", 0, 2, 1500, 0, &big_len);
	int64_t ms, base;

	CU_ASSERT_FATAL(small && mid && big);
	CU_ASSERT_FATAL(small_len < 1000 && mid_len < 1000 && big_len > 1000);

	/* Created with overrides. RF 1 is below min.insync.replicas=2, so
	 * acks=all is refused while acks=1 is fine; 1000 bytes is below the
	 * broker's message.max.bytes. */
	CU_ASSERT_EQUAL_FATAL(harness_topic_create_config_zk(zk(), "cfg-limits", 1, 1, &id, 1,
							     limits), 0);
	CU_ASSERT_EQUAL_FATAL(harness_topic_wait_leaders(harness_broker_port(broker), "cfg-limits",
							 1, 2 * T_MS), 0);
	CU_ASSERT_EQUAL(harness_produce(c, "cfg-limits", 0, -1, small, small_len, T_MS, NULL),
			BROOK_ERR_NOT_ENOUGH_REPLICAS);
	CU_ASSERT_EQUAL(harness_produce(c, "cfg-limits", 0, 1, small, small_len, T_MS, NULL),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(harness_produce(c, "cfg-limits", 0, 1, big, big_len, T_MS, NULL),
			BROOK_ERR_MESSAGE_TOO_LARGE);

	/* Another topic keeps the broker's settings. */
	create_topic("cfg-change", 1);
	CU_ASSERT_EQUAL(harness_produce(c, "cfg-change", 0, -1, small, small_len, T_MS, NULL),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(harness_produce(c, "cfg-change", 0, 1, big, big_len, T_MS, NULL),
			BROOK_ERR_NO_ERROR);

	/* An override added afterwards reaches the broker by its watch. */
	CU_ASSERT_EQUAL_FATAL(harness_topic_set_config_zk(zk(), "cfg-change", strict), 0);
	ms = produce_until(c, "cfg-change", -1, small, small_len, BROOK_ERR_NOT_ENOUGH_REPLICAS);
	CU_ASSERT(ms >= 0);
	fprintf(stderr, "test_broker_api: min.insync.replicas=2 applied within %lld ms\n",
		(long long)ms);

	/* Changed again, with one bad value: that key falls back to the
	 * broker's default (min.insync.replicas 1: acks=all works again)
	 * and says so in the log; the others apply. The whole znode is read
	 * at once, so once acks=all works the rest holds too. */
	CU_ASSERT_EQUAL_FATAL(harness_topic_set_config_zk(zk(), "cfg-change", mixed), 0);
	CU_ASSERT(produce_until(c, "cfg-change", -1, small, small_len, BROOK_ERR_NO_ERROR) >= 0);
	CU_ASSERT_EQUAL(harness_produce(c, "cfg-change", 0, 1, big, big_len, T_MS, NULL),
			BROOK_ERR_MESSAGE_TOO_LARGE);
	CU_ASSERT_EQUAL(harness_broker_wait_log(broker, "topic cfg-change: config "
						"min.insync.replicas=abc", T_MS), 0);
	/* segment.bytes=2000 (the broker's segments are 1 MiB): the active
	 * segment holds at most two of these. */
	base = active_segment_base("cfg-change");
	CU_ASSERT(base >= 0);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(harness_produce(c, "cfg-change", 0, 1, mid, mid_len, T_MS, NULL),
				BROOK_ERR_NO_ERROR);
	CU_ASSERT(active_segment_base("cfg-change") > base);

	/* The znode deleted: no overrides, the broker's limits again. */
	CU_ASSERT_EQUAL_FATAL(harness_topic_set_config_zk(zk(), "cfg-change", NULL), 0);
	CU_ASSERT(produce_until(c, "cfg-change", 1, big, big_len, BROOK_ERR_NO_ERROR) >= 0);
	CU_ASSERT(harness_broker_alive(broker));

	free(small);
	free(mid);
	free(big);
	harness_client_close(c);
}

static void test_produce_acks0(void)
{
	harness_client_t *c = connect_or_die();
	harness_resp_t r;
	size_t len;
	uint8_t *batch = harness_batch_simple("a0", 0, 4, 0, 0, &len);
	int32_t corr;
	int64_t off;

	create_topic("p-acks0", 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	CU_ASSERT_EQUAL(harness_produce(c, "p-acks0", 0, 0, batch, len, T_MS, NULL),
			BROOK_ERR_NO_ERROR);
	/* The next response on this connection answers the next request:
	 * the acks=0 produce got none. */
	CU_ASSERT_EQUAL_FATAL(harness_client_send_request_raw(c, PROTO_API_API_VERSIONS, 0, "\x80",
							      1, T_MS, &corr), HARNESS_OK);
	CU_ASSERT_EQUAL_FATAL(harness_client_recv_response(c, T_MS, &r), HARNESS_OK);
	CU_ASSERT_EQUAL(r.correlation_id, corr);
	CU_ASSERT_PTR_NOT_NULL(harness_obj_get(r.body, "api_keys"));
	harness_resp_destroy(&r);
	/* ...and it was written. */
	CU_ASSERT_EQUAL(harness_list_offset(c, "p-acks0", 0, PROTO_TS_LATEST, T_MS, &off),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(off, 4);
	free(batch);
	harness_client_close(c);
}

static void test_produce_bad_acks(void)
{
	harness_client_t *c = connect_or_die();
	size_t len;
	uint8_t *batch = harness_batch_simple("a5", 0, 2, 0, 0, &len);
	int64_t off, base;

	create_topic("p-acks5", 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	CU_ASSERT_EQUAL(harness_produce(c, "p-acks5", 0, 5, batch, len, T_MS, &base),
			BROOK_ERR_INVALID_REQUIRED_ACKS);
	CU_ASSERT_EQUAL(harness_produce(c, "p-acks5", 0, -2, batch, len, T_MS, &base),
			BROOK_ERR_INVALID_REQUIRED_ACKS);
	/* Nothing written, and the connection still serves. */
	CU_ASSERT_EQUAL(harness_list_offset(c, "p-acks5", 0, PROTO_TS_LATEST, T_MS, &off),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(off, 0);
	free(batch);
	harness_client_close(c);
}

/* ---- Fetch -------------------------------------------------------------- */

/* Random records (seeded): null and empty keys and values, binary bytes,
 * several codecs, a batch at a time. */
static void test_fetch_exact(void)
{
	static const compress_codec_t codecs[] = { COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_LZ4,
						   COMPRESS_ZSTD };
	harness_client_t *c = connect_or_die();
	enum { NBATCH = 24, MAXREC = 9 };
	expect_t *exp = calloc(NBATCH * MAXREC, sizeof(*exp));
	harness_fetch_result_t f;
	int nexp = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(exp);
	create_topic("f-exact", 1);
	for (int b = 0; b < NBATCH; b++) {
		harness_rec_t recs[MAXREC];
		int n = 1 + (int)(rnd() % MAXREC);
		uint8_t *batch;
		size_t len;
		int64_t base;

		for (int i = 0; i < n; i++) {
			expect_t *e = &exp[nexp + i];
			uint32_t kind = rnd() % 8;

			e->key_len = kind == 0 ? -1 : kind == 1 ? 0 :
				     snprintf(e->key, sizeof(e->key), "key-%d-%d", b, i);
			e->value_len = kind == 2 ? -1 : kind == 3 ? 0 : (ssize_t)(rnd() % 2000);
			for (ssize_t k = 0; k < e->value_len; k++)
				e->value[k] = (char)rnd();
			recs[i] = (harness_rec_t){ e->key_len < 0 ? NULL : e->key,
						   e->key_len < 0 ? 0 : (size_t)e->key_len,
						   e->value_len < 0 ? NULL : e->value,
						   e->value_len < 0 ? 0 : (size_t)e->value_len, 0 };
		}
		batch = harness_batch_build(recs, n, codecs[b % 4], &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
		CU_ASSERT_EQUAL(harness_produce(c, "f-exact", 0, 1, batch, len, T_MS, &base),
				BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(base, nexp);
		for (int i = 0; i < n; i++)
			exp[nexp + i].offset = nexp + i;
		nexp += n;
		free(batch);
	}
	CU_ASSERT_EQUAL_FATAL(harness_fetch_all(c, "f-exact", 0, 0, -1, T_MS, &f),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(f.high_watermark, nexp);
	CU_ASSERT_EQUAL(f.log_start_offset, 0);
	CU_ASSERT_EQUAL_FATAL(f.nrecords, (size_t)nexp);
	for (int i = 0; i < nexp; i++)
		if (!record_matches(&f.records[i], &exp[i])) {
			fprintf(stderr, "record %d differs\n", i);
			CU_FAIL("fetched record differs from the produced one");
			break;
		}
	harness_fetch_result_free(&f);

	/* From the middle of a batch: the whole batch comes, starting before. */
	{
		harness_fetch_req_t q = { .topic = "f-exact", .offset = nexp - 1 };

		CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_NO_ERROR);
		CU_ASSERT(f.nrecords >= 1 && f.records[f.nrecords - 1].offset == nexp - 1);
		CU_ASSERT(f.nrecords >= 1 && f.records[0].offset <= nexp - 1);
		harness_fetch_result_free(&f);
	}
	free(exp);
	harness_client_close(c);
}

static void test_fetch_tiny_limits(void)
{
	harness_client_t *c = connect_or_die();
	harness_fetch_result_t f;
	int64_t b0, b1;

	create_topic("f-tiny", 1);
	b0 = produce_simple(c, "f-tiny", "tiny", 0, 5, 0);
	b1 = produce_simple(c, "f-tiny", "tiny", 5, 5, 0);
	CU_ASSERT(b0 == 0 && b1 == 5);
	/* partition_max_bytes 1: still one whole batch, so consumers progress */
	{
		harness_fetch_req_t q = { .topic = "f-tiny", .partition_max_bytes = 1 };

		CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_NO_ERROR);
		CU_ASSERT(f.nbatches >= 1);
		CU_ASSERT(f.nrecords >= 5 && f.records[0].offset == 0);
		harness_fetch_result_free(&f);
	}
	/* the request-wide max_bytes too */
	{
		harness_fetch_req_t q = { .topic = "f-tiny", .offset = 5, .max_bytes = 1 };

		CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_NO_ERROR);
		CU_ASSERT(f.nbatches >= 1);
		CU_ASSERT(f.nrecords >= 5 && f.records[0].offset == 5);
		harness_fetch_result_free(&f);
	}
	harness_client_close(c);
}

static void test_fetch_out_of_range(void)
{
	harness_client_t *c = connect_or_die();
	harness_fetch_result_t f;
	harness_fetch_req_t q = { .topic = "f-range" };

	create_topic("f-range", 1);
	produce_simple(c, "f-range", "r", 0, 3, 0);
	q.offset = 4;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_OFFSET_OUT_OF_RANGE);
	harness_fetch_result_free(&f);
	q.offset = 1000000;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_OFFSET_OUT_OF_RANGE);
	harness_fetch_result_free(&f);
	q.offset = -7;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_OFFSET_OUT_OF_RANGE);
	harness_fetch_result_free(&f);
	/* At the log end: nothing yet, not an error. */
	q.offset = 3;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(f.nrecords, 0);
	CU_ASSERT_EQUAL(f.high_watermark, 3);
	harness_fetch_result_free(&f);
	/* Unknown topic and partition. */
	q.topic = "f-nope";
	q.offset = 0;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	harness_fetch_result_free(&f);
	q.topic = "f-range";
	q.partition = 1;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &f), BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	harness_fetch_result_free(&f);
	harness_client_close(c);
}

/* 1 when nothing arrives on c within ms: the broker is holding the fetch. */
static int silent_for(harness_client_t *c, int ms)
{
	struct pollfd p = { .fd = harness_client_fd(c), .events = POLLIN };

	return poll(&p, 1, ms) == 0;
}

static void test_fetch_long_poll(void)
{
	harness_client_t *waiter = connect_or_die(), *producer = connect_or_die();
	harness_fetch_req_t q = { .topic = "f-poll", .offset = 2, .min_bytes = 1,
				  .max_wait_ms = 5000 };
	harness_fetch_result_t f;
	int64_t t_produce, waited;
	int32_t corr;

	create_topic("f-poll", 1);
	produce_simple(producer, "f-poll", "lp", 0, 2, 0);

	/* Parked at the log end, then woken by a produce on another connection. */
	CU_ASSERT_EQUAL_FATAL(harness_fetch_send(waiter, &q, T_MS, &corr), HARNESS_OK);
	CU_ASSERT(silent_for(waiter, 300));
	t_produce = harness_now_ms();
	CU_ASSERT_EQUAL(produce_simple(producer, "f-poll", "lp", 2, 3, 0), 2);
	CU_ASSERT_EQUAL_FATAL(harness_fetch_recv(waiter, corr, T_MS, &f), BROOK_ERR_NO_ERROR);
	waited = harness_now_ms() - t_produce;
	fprintf(stderr, "long poll answered %lld ms after the produce\n", (long long)waited);
	CU_ASSERT(waited < 2500); /* well before max_wait_ms (5 s) */
	CU_ASSERT(f.nrecords == 3 && f.records[0].offset == 2);
	CU_ASSERT(f.nrecords == 3 && f.records[0].key && strcmp(f.records[0].key, "lp-k2") == 0);
	harness_fetch_result_free(&f);

	/* Nothing comes: answered empty at max_wait_ms, not before. */
	q.offset = 5;
	q.max_wait_ms = 300;
	CU_ASSERT_EQUAL(harness_fetch(waiter, &q, T_MS, &f), BROOK_ERR_NO_ERROR);
	fprintf(stderr, "empty long poll took %lld ms (max_wait_ms 300)\n",
		(long long)f.elapsed_ms);
	CU_ASSERT_EQUAL(f.nrecords, 0);
	CU_ASSERT(f.elapsed_ms >= 280);
	CU_ASSERT(f.elapsed_ms < 3000);
	harness_fetch_result_free(&f);

	/* A waiting fetch whose connection goes away must not hurt the
	 * broker when the data comes later. */
	q.max_wait_ms = 5000;
	CU_ASSERT_EQUAL(harness_fetch_send(waiter, &q, T_MS, &corr), HARNESS_OK);
	CU_ASSERT(silent_for(waiter, 100));
	harness_client_close(waiter);
	CU_ASSERT_EQUAL(produce_simple(producer, "f-poll", "lp", 5, 1, 0), 5);
	CU_ASSERT(harness_broker_alive(broker));
	harness_client_close(producer);
}

/* ---- ListOffsets -------------------------------------------------------- */

static void test_list_offsets(void)
{
	harness_client_t *c = connect_or_die();
	int64_t t0 = harness_wall_ms() - 60000, off;

	create_topic("lo", 1);
	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 0, PROTO_TS_LATEST, T_MS, &off), 0);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT_EQUAL(produce_simple(c, "lo", "lo", 0, 3, t0), 0);
	CU_ASSERT_EQUAL(produce_simple(c, "lo", "lo", 3, 3, t0 + 1000), 3);
	CU_ASSERT_EQUAL(produce_simple(c, "lo", "lo", 6, 3, t0 + 2000), 6);

	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 0, PROTO_TS_EARLIEST, T_MS, &off), 0);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 0, PROTO_TS_LATEST, T_MS, &off), 0);
	CU_ASSERT_EQUAL(off, 9);
	/* The first offset whose timestamp is at or after the one asked for. */
	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 0, t0 - 5000, T_MS, &off), 0);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 0, t0, T_MS, &off), 0);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 0, t0 + 500, T_MS, &off), 0);
	CU_ASSERT_EQUAL(off, 3);
	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 0, t0 + 1000, T_MS, &off), 0);
	CU_ASSERT_EQUAL(off, 3);
	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 0, t0 + 1999, T_MS, &off), 0);
	CU_ASSERT_EQUAL(off, 6);
	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 0, t0 + 2001, T_MS, &off), 0);
	CU_ASSERT_EQUAL(off, -1);

	CU_ASSERT_EQUAL(harness_list_offset(c, "lo-nope", 0, PROTO_TS_LATEST, T_MS, &off),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_EQUAL(harness_list_offset(c, "lo", 3, PROTO_TS_LATEST, T_MS, &off),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	harness_client_close(c);
}

/* ---- pipelining --------------------------------------------------------- */

typedef struct pipe_req {
	int api;
	int64_t expect_base; /* Produce: the base offset it must get */
} pipe_req_t;

typedef struct produce_body {
	const char *topic;
	const uint8_t *batch;
	size_t len;
	int acks;
} produce_body_t;

static void pack_produce(msgpack_packer *pk, void *arg)
{
	const produce_body_t *pb = arg;

	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "acks", pb->acks);
	proto_pack_kv_int(pk, "timeout_ms", 5000);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_str(pk, "name", pb->topic);
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "index", 0);
	proto_pack_kv_bin(pk, "records", pb->batch, pb->len);
}

static void test_pipelining(void)
{
	enum { N = 50 };
	harness_client_t *c = connect_or_die();
	pipe_req_t reqs[N];
	int32_t corrs[N];
	int64_t next = 0;
	size_t len;
	uint8_t *batch = harness_batch_simple("pipe", 0, 2, 100, 0, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	create_topic("pipe", 1);
	for (int i = 0; i < N; i++) {
		int kind = i % 5, rc;

		reqs[i].api = kind;
		reqs[i].expect_base = -1;
		if (kind == 0 || kind == 3) {
			produce_body_t pb = { "pipe", batch, len, 1 };

			reqs[i].api = PROTO_API_PRODUCE;
			reqs[i].expect_base = next;
			next += 2;
			rc = harness_client_send_request(c, PROTO_API_PRODUCE, 0, pack_produce, &pb,
							 T_MS, &corrs[i]);
		} else if (kind == 1) {
			/* a fetch that waits a little: it completes after
			 * requests sent behind it, but must be answered first */
			harness_fetch_req_t q = { .topic = "pipe", .offset = next,
						  .min_bytes = 1 << 20, .max_wait_ms = 100 };

			reqs[i].api = PROTO_API_FETCH;
			rc = harness_fetch_send(c, &q, T_MS, &corrs[i]);
		} else if (kind == 2) {
			reqs[i].api = PROTO_API_METADATA;
			rc = harness_client_send_request(c, PROTO_API_METADATA, 0, pack_metadata,
							 NULL, T_MS, &corrs[i]);
		} else {
			reqs[i].api = PROTO_API_API_VERSIONS;
			rc = harness_client_send_request_raw(c, PROTO_API_API_VERSIONS, 0,
							     "\x80", 1, T_MS, &corrs[i]);
		}
		CU_ASSERT_EQUAL_FATAL(rc, HARNESS_OK);
	}
	for (int i = 0; i < N; i++) {
		harness_resp_t r;

		CU_ASSERT_EQUAL_FATAL(harness_client_recv_response(c, T_MS, &r), HARNESS_OK);
		if (r.correlation_id != corrs[i])
			fprintf(stderr, "response %d: correlation id %d, expected %d\n", i,
				r.correlation_id, corrs[i]);
		CU_ASSERT_EQUAL(r.correlation_id, corrs[i]);
		if (reqs[i].api == PROTO_API_PRODUCE) {
			const msgpack_object *t = harness_obj_get(r.body, "responses"), *p;

			CU_ASSERT_FATAL(t && t->type == MSGPACK_OBJECT_ARRAY &&
					t->via.array.size == 1);
			p = harness_obj_get(&t->via.array.ptr[0], "partitions");
			CU_ASSERT_FATAL(p && p->type == MSGPACK_OBJECT_ARRAY &&
					p->via.array.size == 1);
			CU_ASSERT_EQUAL(harness_obj_int(&p->via.array.ptr[0], "error_code", -1), 0);
			CU_ASSERT_EQUAL(harness_obj_int(&p->via.array.ptr[0], "base_offset", -1),
					reqs[i].expect_base);
		} else if (reqs[i].api == PROTO_API_FETCH) {
			CU_ASSERT_PTR_NOT_NULL(harness_obj_get(r.body, "responses"));
		} else if (reqs[i].api == PROTO_API_METADATA) {
			CU_ASSERT_PTR_NOT_NULL(harness_obj_get(r.body, "brokers"));
		} else {
			CU_ASSERT_PTR_NOT_NULL(harness_obj_get(r.body, "api_keys"));
		}
		harness_resp_destroy(&r);
	}
	free(batch);
	harness_client_close(c);
}

/* ---- restarts ------------------------------------------------------------ */

/* Every record of topic/0 is "<prefix>-k<i>"/"<prefix>-v<i>..." at offset i. */
static void check_simple_log(harness_client_t *c, const char *topic, const char *prefix,
			     int64_t want)
{
	harness_fetch_result_t f;

	CU_ASSERT_EQUAL_FATAL(harness_fetch_all(c, topic, 0, 0, -1, T_MS, &f), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(f.high_watermark, want);
	CU_ASSERT_EQUAL(f.nrecords, (size_t)want);
	for (size_t i = 0; i < f.nrecords; i++) {
		char key[64], val[64];

		snprintf(key, sizeof(key), "%s-k%zu", prefix, i);
		snprintf(val, sizeof(val), "%s-v%zu", prefix, i);
		if (!f.records[i].key || strcmp(f.records[i].key, key) != 0 ||
		    !f.records[i].value || strncmp(f.records[i].value, val, strlen(val)) != 0) {
			fprintf(stderr, "%s offset %zu: got key %s\n", topic, i,
				f.records[i].key ? f.records[i].key : "(null)");
			CU_FAIL("record differs after restart");
			break;
		}
	}
	harness_fetch_result_free(&f);
}

static void test_clean_restart(void)
{
	harness_client_t *c = connect_or_die();
	int64_t n = 0;

	create_topic("rs-clean", 2);
	/* several segments' worth (1 MiB segments) */
	for (int b = 0; b < 30; b++) {
		size_t len;
		uint8_t *batch = harness_batch_simple("cl", (int)n, 10, 6000, 0, &len);
		int64_t base;

		CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
		CU_ASSERT_EQUAL(harness_produce(c, "rs-clean", 0, 1, batch, len, T_MS, &base),
				BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(base, n);
		n += 10;
		free(batch);
	}
	harness_client_close(c);

	CU_ASSERT_EQUAL_FATAL(harness_broker_restart(broker), 0);
	CU_ASSERT(harness_broker_log_contains(broker, "(clean shutdown)"));
	CU_ASSERT_FALSE(harness_broker_log_contains(broker, "(unclean shutdown"));
	CU_ASSERT_EQUAL_FATAL(harness_topic_wait_leaders(harness_broker_port(broker), "rs-clean", 2,
							 30000), 0);
	c = connect_or_die();
	check_simple_log(c, "rs-clean", "cl", n);
	/* and the log goes on where it was */
	CU_ASSERT_EQUAL(produce_simple(c, "rs-clean", "cl", (int)n, 5, 0), n);
	check_simple_log(c, "rs-clean", "cl", n + 5);
	harness_client_close(c);
}

static void test_kill9_restart(void)
{
	enum { N = 300, PER = 4 };
	harness_client_t *c = connect_or_die();
	int32_t corrs[N];
	int64_t acked = 0;
	int nresp = 0, nsent = 0;

	create_topic("rs-kill", 1);
	/* Pipelined produces, and kill -9 right after the last one is sent,
	 * while the broker is still working through them: whatever it had
	 * acknowledged must be there after the restart. */
	for (nsent = 0; nsent < N; nsent++) {
		size_t len;
		uint8_t *batch = harness_batch_simple("kl", nsent * PER, PER, 3000, 0, &len);
		produce_body_t pb = { "rs-kill", batch, len, 1 };

		CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
		CU_ASSERT_EQUAL_FATAL(harness_client_send_request(c, PROTO_API_PRODUCE, 0,
								  pack_produce, &pb, T_MS,
								  &corrs[nsent]), HARNESS_OK);
		free(batch);
	}
	/* A third answered, then the kill, so some are acknowledged and some
	 * are surely in flight. */
	for (int killed = 0;;) {
		harness_resp_t r;
		const msgpack_object *t, *p;
		int rc;

		if (!killed && nresp >= N / 3) {
			CU_ASSERT_EQUAL_FATAL(harness_broker_kill9(broker), 0);
			killed = 1;
		}
		rc = harness_client_recv_response(c, T_MS, &r);
		if (rc != HARNESS_OK) {
			/* the kill closed the connection */
			CU_ASSERT_EQUAL(rc, HARNESS_CLOSED);
			CU_ASSERT(killed);
			break;
		}
		CU_ASSERT_EQUAL(r.correlation_id, corrs[nresp]);
		t = harness_obj_get(r.body, "responses");
		p = t && t->type == MSGPACK_OBJECT_ARRAY && t->via.array.size == 1
			    ? harness_obj_get(&t->via.array.ptr[0], "partitions") : NULL;
		CU_ASSERT_FATAL(p && p->type == MSGPACK_OBJECT_ARRAY && p->via.array.size == 1);
		CU_ASSERT_EQUAL(harness_obj_int(&p->via.array.ptr[0], "error_code", -1), 0);
		CU_ASSERT_EQUAL(harness_obj_int(&p->via.array.ptr[0], "base_offset", -1),
				(int64_t)nresp * PER);
		harness_resp_destroy(&r);
		acked = (int64_t)++nresp * PER;
		if (nresp == nsent) {
			if (!killed)
				CU_ASSERT_EQUAL_FATAL(harness_broker_kill9(broker), 0);
			break;
		}
	}
	harness_client_close(c);
	fprintf(stderr, "kill -9 with %d of %d produces acknowledged\n", nresp, nsent);

	CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker), 0);
	CU_ASSERT(harness_broker_log_contains(broker, "(unclean shutdown"));
	CU_ASSERT_EQUAL_FATAL(harness_topic_wait_leaders(harness_broker_port(broker), "rs-kill", 1,
							 30000), 0);
	c = connect_or_die();
	{
		harness_fetch_result_t f;

		/* Acknowledged records all there; what follows them, if
		 * anything, is what we sent next, in order. */
		CU_ASSERT_EQUAL_FATAL(harness_fetch_all(c, "rs-kill", 0, 0, -1, T_MS, &f),
				      BROOK_ERR_NO_ERROR);
		fprintf(stderr, "after restart: %zu records, %lld acknowledged\n", f.nrecords,
			(long long)acked);
		CU_ASSERT(f.high_watermark >= acked);
		CU_ASSERT(f.nrecords >= (size_t)acked);
		CU_ASSERT(f.nrecords % PER == 0);
		for (size_t i = 0; i < f.nrecords; i++) {
			char key[64];

			snprintf(key, sizeof(key), "kl-k%zu", i);
			if (!f.records[i].key || strcmp(f.records[i].key, key) != 0) {
				CU_FAIL("record differs after kill -9");
				break;
			}
		}
		harness_fetch_result_free(&f);
	}
	/* the earlier topics survived the kill too */
	check_simple_log(c, "rs-clean", "cl", 305);
	harness_client_close(c);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "ApiVersions lists the client APIs", test_api_versions },
		{ "Metadata: all, named, unknown, brokers, cluster id", test_metadata },
		{ "Metadata auto-creates topics (auto.create.topics.enable)",
		  test_metadata_auto_create },
		{ "a deposed controller's request is refused (STALE_CONTROLLER_EPOCH)",
		  test_stale_controller_fenced },
		{ "Produce acks=1: consecutive base offsets", test_produce_acks1 },
		{ "Produce acks=0: no response, record written", test_produce_acks0 },
		{ "Produce acks=5: INVALID_REQUIRED_ACKS", test_produce_bad_acks },
		{ "topic config overrides: at creation, changed, bad value, removed",
		  test_topic_config_overrides },
		{ "Fetch returns the exact records", test_fetch_exact },
		{ "Fetch with tiny limits returns a whole batch", test_fetch_tiny_limits },
		{ "Fetch past the end: OFFSET_OUT_OF_RANGE", test_fetch_out_of_range },
		{ "Fetch long poll", test_fetch_long_poll },
		{ "ListOffsets earliest, latest, by time", test_list_offsets },
		{ "50 pipelined requests answered in order", test_pipelining },
		{ "clean restart keeps the data", test_clean_restart },
		{ "kill -9 keeps every acknowledged record", test_kill9_restart },
		{ NULL, NULL },
	};
	static const char *const overrides[] = { "num.partitions=2", NULL };
	int rc;

	rng = ((uint64_t)harness_seed() << 1) | 1;
	if (harness_zk_start(1, &ens) != 0) {
		fprintf(stderr, "test_broker_api: cannot start ZooKeeper\n");
		return 1;
	}
	if (!(broker = harness_broker_start(zk(), 1, overrides))) {
		fprintf(stderr, "test_broker_api: cannot start brookd\n");
		harness_broker_stop_all();
		harness_zk_stop(ens);
		return 1;
	}
	fprintf(stderr, "test_broker_api: broker 1 (pid %d) on port %d, ZooKeeper %s\n",
		(int)harness_broker_pid(broker), harness_broker_port(broker), zk());
	rc = harness_run("broker_api", tests);
	if (harness_broker_stop_all() != 0) {
		fprintf(stderr, "test_broker_api: a broker stopped badly or its log has a "
			"sanitizer report\n");
		rc = 1;
	}
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	return rc;
}
