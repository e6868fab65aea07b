/*
 * test_e2e.c - the whole path, end to end, through the public libbrook API
 * only (brook.h), against a real brookd and a real 1-node ZooKeeper:
 *
 *   1. a 3-partition topic; 100,000 keyed messages produced with acks=1 and
 *      the key partitioner; every delivery report checked (once each,
 *      success, key -> partition as Kafka's murmur2 puts it, offsets 0..n-1
 *      in production order per partition);
 *   2. everything consumed back from the beginning: count, per-partition
 *      order, and each message's exact key and value at the offset its
 *      report gave; nothing more after the end;
 *   3. kill -9 of the broker while a second producer is in flight, a
 *      restart, and every acknowledged message read back at its reported
 *      offset, once, with the log still contiguous.
 *
 * Timing figures go to stderr; they are never asserted on.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brook.h"
#include "harness.h"
#include "harness_broker.h"
#include "harness_zk.h"
#include "proto.h"

#define T_MS 15000        /* one step's bound; generous for sanitized brokers */
#define FLUSH_MS 30000    /* the first run's flush, under a sanitizer too */
#define CONSUME_MS 30000  /* reading the whole topic back */
#define QUIET_MS 500      /* polling on after the end: nothing more may come */

#define TOPIC "e2e"
#define NPART 3
#define N1 100000         /* first run: flushed, every message must succeed */
#define N2 50000          /* second run: the broker dies under it */
#define NMSG (N1 + N2)
#define NKEYS 997
#define KILL_AFTER 5000   /* second-run acknowledgements before the kill -9 */
#define SHOW 5            /* details printed per kind of failure */

static harness_zk_t *ens;
static harness_broker_t *broker;

/* What the delivery report said about message i (sent[i]). */
typedef struct sent {
	int reports;
	brook_err_t err;
	int32_t partition;
	int64_t offset;
} sent_t;

static sent_t *sent;
static pthread_t app_thread;
static long acked, report_mismatch, wrong_thread;
static int64_t n1[NPART];     /* per-partition messages of the first run */
static int first_run_ok;
static int64_t t0_wall;       /* wall clock at the start: timestamps are later */

static const char *zk(void)
{
	return harness_zk_connect_string(ens);
}

static int complain(long *counter, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Counts one failure of a kind and prints the first few: a broken run
 * would otherwise bury the log under 100,000 lines (or CUnit records). */
static int complain(long *counter, const char *fmt, ...)
{
	va_list ap;

	if ((*counter)++ < SHOW) {
		va_start(ap, fmt);
		fprintf(stderr, "test_e2e: ");
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "\n");
		va_end(ap);
	}
	return 0;
}

/* ---- the messages ------------------------------------------------------- */

/* ~1,000 distinct keys, each used ~150 times across both runs. */
static size_t make_key(int i, char *buf, size_t size)
{
	return (size_t)snprintf(buf, size, "key-%d", i % NKEYS);
}

/* The index first, so a consumed value names its message; then the key,
 * then 0..159 bytes of padding so batches hold records of varied sizes. */
static size_t make_value(int i, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "v-%06d-key-%d-", i, i % NKEYS);
	size_t pad = (size_t)(i * 37) % 160;

	for (size_t j = 0; j < pad && n + 1 < size; j++)
		buf[n++] = (char)('a' + (i + (int)j) % 26);
	buf[n] = '\0';
	return n;
}

/* The message index a consumed value names, or -1. Bounded: the bytes
 * come off the network. */
static int value_index(const void *value, size_t len)
{
	const char *v = value;
	int idx = 0;

	if (!v || len < 9 || v[0] != 'v' || v[1] != '-' || v[8] != '-')
		return -1;
	for (int k = 2; k < 8; k++) {
		if (v[k] < '0' || v[k] > '9')
			return -1;
		idx = idx * 10 + (v[k] - '0');
	}
	return idx < NMSG ? idx : -1;
}

static int same_bytes(const void *a, size_t alen, const char *b, size_t blen)
{
	return a && alen == blen && memcmp(a, b, blen) == 0;
}

/* ---- Kafka's partitioner, written again here ------------------------------ */

/* org.apache.kafka.common.utils.Utils.murmur2, transcribed independently of
 * client/partitioner.c so the test checks the library rather than itself:
 * 32-bit wrapping math, seed 0x9747b28c, tail bytes mixed little-endian. */
static int32_t kafka_murmur2(const void *key, size_t len)
{
	const unsigned char *d = key;
	const uint32_t m = 0x5bd1e995u;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t i = 0;

	for (; i + 4 <= len; i += 4) {
		uint32_t k = d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 |
			     (uint32_t)d[i + 3] << 24;

		k *= m;
		k ^= k >> 24;
		k *= m;
		h = (h * m) ^ k;
	}
	if (len - i > 0) {
		uint32_t tail = 0;

		for (size_t j = len - i; j-- > 0;)
			tail = tail << 8 | d[i + j];
		h = (h ^ tail) * m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t)h;
}

/* Utils.toPositive(murmur2(key)) % partitions */
static int32_t kafka_partition(const void *key, size_t len)
{
	return (int32_t)(((uint32_t)kafka_murmur2(key, len) & 0x7fffffffu) % NPART);
}

/* ---- producing ---------------------------------------------------------- */

static brook_conf_t *client_conf(void)
{
	brook_conf_t *conf = brook_conf_new();
	char servers[64], errstr[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", harness_broker_port(broker));
	if (brook_conf_set(conf, "bootstrap.servers", servers, errstr, sizeof(errstr)) ||
	    brook_conf_set(conf, "acks", "1", errstr, sizeof(errstr))) {
		fprintf(stderr, "test_e2e: %s\n", errstr);
		brook_conf_free(conf);
		CU_FAIL_FATAL("brook_conf_set");
	}
	return conf;
}

static brook_producer_t *producer_new(void)
{
	brook_conf_t *conf = client_conf();
	char errstr[256] = "";
	brook_producer_t *p = brook_producer_new(conf, errstr, sizeof(errstr));

	brook_conf_free(conf);
	if (!p)
		fprintf(stderr, "test_e2e: brook_producer_new: %s\n", errstr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

/* Runs inside brook_poll()/flush()/free() on the application's thread, as
 * brook.h promises; the thread is checked, which is also why plain
 * counters are enough here. */
static void on_delivery(brook_err_t err, const char *topic, int32_t partition, int64_t offset,
			const void *key, size_t key_len, const void *value, size_t value_len,
			void *opaque)
{
	sent_t *s = opaque;
	int i = (int)(s - sent);
	char k[32], v[256];
	size_t kl = make_key(i, k, sizeof(k)), vl = make_value(i, v, sizeof(v));

	if (!pthread_equal(pthread_self(), app_thread))
		complain(&wrong_thread, "report of message %d on another thread", i);
	/* the report hands back the library's copy of what we gave it */
	if (!topic || strcmp(topic, TOPIC) != 0 || !same_bytes(key, key_len, k, kl) ||
	    !same_bytes(value, value_len, v, vl))
		complain(&report_mismatch, "report of message %d: topic, key or value differ", i);
	s->reports++;
	s->err = err;
	s->partition = partition;
	s->offset = offset;
	if (err == BROOK_ERR_NO_ERROR)
		acked++;
}

/* Queues message i, waiting (bounded) while the queue is full. */
static brook_err_t produce_one(brook_producer_t *p, int i)
{
	char k[32], v[256];
	size_t kl = make_key(i, k, sizeof(k)), vl = make_value(i, v, sizeof(v));
	int64_t deadline = harness_now_ms() + T_MS;
	brook_err_t err;

	while ((err = brook_produce(p, TOPIC, BROOK_PARTITION_UA, k, kl, v, vl, 0, on_delivery,
				    &sent[i])) == BROOK_ERR__QUEUE_FULL &&
	       harness_now_ms() < deadline)
		brook_poll(p, 100);
	if (err)
		fprintf(stderr, "test_e2e: brook_produce(%d): %s\n", i, brook_err_name(err));
	return err;
}

/* Checks the reports of messages [first, first + n): one each; for the
 * successful ones, the key's partition is Kafka's and the same for every
 * message of the key, and each partition's offsets go up by one in
 * production order from start[p]. A single producer with one batch per
 * partition in flight cannot reorder, and after the first failure of a
 * partition (the kill) nothing of it may succeed, so the acknowledged
 * offsets of a run are contiguous. Returns the acknowledged count per
 * partition in got[]. */
static void check_reports(int first, int n, const int64_t start[NPART], int64_t got[NPART])
{
	int32_t key_part[NKEYS];
	int64_t next[NPART];
	int failed_part[NPART] = { 0 };
	long bad_count = 0, bad_part = 0, bad_key = 0, bad_offset = 0;

	for (int k = 0; k < NKEYS; k++)
		key_part[k] = -1;
	for (int p = 0; p < NPART; p++)
		next[p] = start[p];
	for (int i = first; i < first + n; i++) {
		const sent_t *s = &sent[i];
		char k[32];
		size_t kl = make_key(i, k, sizeof(k));
		int32_t want = kafka_partition(k, kl);

		if (s->reports != 1) {
			complain(&bad_count, "message %d: %d delivery reports", i, s->reports);
			continue;
		}
		if (s->err != BROOK_ERR_NO_ERROR) {
			/* a failed message still went to its key's partition, when
			 * the report says which */
			if (s->partition == want)
				failed_part[want] = 1;
			else if (s->partition >= 0)
				complain(&bad_part, "failed message %d (%s) reported on partition "
					 "%d, key's is %d", i, k, (int)s->partition, (int)want);
			continue;
		}
		if (key_part[i % NKEYS] < 0)
			key_part[i % NKEYS] = s->partition;
		else if (key_part[i % NKEYS] != s->partition)
			complain(&bad_key, "%s went to partitions %d and %d", k,
				 (int)key_part[i % NKEYS], (int)s->partition);
		if (s->partition != want) {
			complain(&bad_part, "message %d (%s) went to partition %d, Kafka's is %d",
				 i, k, (int)s->partition, (int)want);
			continue;
		}
		if (failed_part[want] || s->offset != next[want])
			complain(&bad_offset, "message %d: partition %d offset %" PRId64
				 ", expected %" PRId64 "%s", i, (int)want, s->offset, next[want],
				 failed_part[want] ? " (after a failure)" : "");
		next[want] = s->offset + 1;
	}
	CU_ASSERT_EQUAL(bad_count, 0);
	CU_ASSERT_EQUAL(bad_part, 0);
	CU_ASSERT_EQUAL(bad_key, 0);
	CU_ASSERT_EQUAL(bad_offset, 0);
	for (int p = 0; p < NPART; p++)
		got[p] = next[p] - start[p];
}

/* ---- consuming ---------------------------------------------------------- */

/* What a read of the whole topic found. */
typedef struct readback {
	int64_t next[NPART];  /* offsets 0..next-1 were read */
	int64_t eof[NPART];   /* offset of the last end-of-partition event; -1 */
	int32_t *at[NPART];   /* message index read at each offset; -1: none */
	long total, bad_order, bad_content, bad_event, extra;
	int64_t ms;
} readback_t;

static void readback_free(readback_t *rb)
{
	for (int p = 0; p < NPART; p++)
		free(rb->at[p]);
}

/* Message idx exactly as produced: key, value, no headers, and the
 * producer's timestamp (taken during this test). */
static int is_message(const brook_message_t *m, int idx)
{
	char k[32], v[256];
	size_t kl = make_key(idx, k, sizeof(k)), vl = make_value(idx, v, sizeof(v));

	return same_bytes(m->key, m->key_len, k, kl) && same_bytes(m->value, m->value_len, v, vl) &&
	       m->header_count == 0 && m->timestamp >= t0_wall - 1000 &&
	       m->timestamp <= harness_wall_ms() + 1000;
}

static void readback_take(readback_t *rb, const brook_message_t *m, int quiet)
{
	int32_t p = m->partition;
	int64_t off = m->offset;
	int idx;

	if (m->err == BROOK_ERR__PARTITION_EOF && p >= 0 && p < NPART) {
		rb->eof[p] = off;
		if (quiet && off != rb->next[p])
			complain(&rb->extra, "partition %d: end moved to %" PRId64, (int)p, off);
		return;
	}
	if (m->err) {
		complain(&rb->bad_event, "consumer event on partition %d: %s: %s", (int)p,
			 brook_err_name(m->err), m->errstr ? m->errstr : "");
		return;
	}
	if (quiet)
		complain(&rb->extra, "partition %d offset %" PRId64 " read after the end",
			 (int)p, off);
	if (p < 0 || p >= NPART || !m->topic || strcmp(m->topic, TOPIC) != 0 || off < 0 ||
	    off >= NMSG) {
		complain(&rb->bad_content, "message for %s [%d] at offset %" PRId64,
			 m->topic ? m->topic : "(null)", (int)p, off);
		return;
	}
	rb->total++;
	if (off != rb->next[p])
		complain(&rb->bad_order, "partition %d: offset %" PRId64 " after %" PRId64, (int)p,
			 off, rb->next[p] - 1);
	if (off >= rb->next[p])
		rb->next[p] = off + 1;
	idx = value_index(m->value, m->value_len);
	if (idx < 0) {
		complain(&rb->bad_content, "partition %d offset %" PRId64 ": foreign value", (int)p,
			 off);
		return;
	}
	if (!is_message(m, idx))
		complain(&rb->bad_content, "partition %d offset %" PRId64
			 ": not message %d as produced", (int)p, off, idx);
	if (rb->at[p][off] >= 0)
		complain(&rb->bad_order, "partition %d offset %" PRId64 " read twice", (int)p,
			 off);
	rb->at[p][off] = idx;
}

static int readback_done(const readback_t *rb, const int64_t want[NPART])
{
	for (int p = 0; p < NPART; p++)
		if (rb->next[p] < want[p] || rb->eof[p] != rb->next[p])
			return 0;
	return 1;
}

/* Reads all partitions from the beginning until each has given at least
 * want[p] messages and said it is at its end right there, then polls on a
 * little to see that nothing more comes. */
static void consume_all(const int64_t want[NPART], readback_t *rb)
{
	brook_conf_t *conf = client_conf();
	char errstr[256] = "";
	brook_consumer_t *c = brook_consumer_new(conf, errstr, sizeof(errstr));
	int64_t t0, deadline;
	brook_err_t err;

	brook_conf_free(conf);
	memset(rb, 0, sizeof(*rb));
	if (!c)
		fprintf(stderr, "test_e2e: brook_consumer_new: %s\n", errstr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int p = 0; p < NPART; p++) {
		rb->eof[p] = -1;
		rb->at[p] = malloc(NMSG * sizeof(*rb->at[p]));
		if (!rb->at[p]) {
			readback_free(rb);
			brook_consumer_free(c);
			CU_FAIL_FATAL("out of memory");
		}
		memset(rb->at[p], 0xff, NMSG * sizeof(*rb->at[p]));
	}
	t0 = harness_now_ms();
	err = brook_consumer_assign(c, TOPIC, -1, BROOK_OFFSET_BEGINNING, errstr, sizeof(errstr));
	if (err)
		fprintf(stderr, "test_e2e: brook_consumer_assign: %s\n", errstr);
	CU_ASSERT_EQUAL(err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(brook_consumer_assignment_count(c), NPART);

	deadline = t0 + CONSUME_MS;
	while (!err && !readback_done(rb, want) && harness_now_ms() < deadline) {
		brook_message_t *m;

		if (brook_consumer_poll(c, 200, &m) != BROOK_ERR_NO_ERROR)
			continue;
		readback_take(rb, m, 0);
		brook_message_free(m);
	}
	rb->ms = harness_now_ms() - t0;
	if (!readback_done(rb, want))
		for (int p = 0; p < NPART; p++)
			fprintf(stderr, "test_e2e: partition %d: read up to %" PRId64 ", want %"
				PRId64 ", last end event at %" PRId64 "\n", p, rb->next[p],
				want[p], rb->eof[p]);
	CU_ASSERT(readback_done(rb, want));

	deadline = harness_now_ms() + QUIET_MS;
	while (harness_now_ms() < deadline) {
		brook_message_t *m;

		if (brook_consumer_poll(c, 100, &m) != BROOK_ERR_NO_ERROR)
			continue;
		readback_take(rb, m, 1);
		brook_message_free(m);
	}
	brook_consumer_free(c);
	CU_ASSERT_EQUAL(rb->bad_order, 0);
	CU_ASSERT_EQUAL(rb->bad_content, 0);
	CU_ASSERT_EQUAL(rb->bad_event, 0);
	CU_ASSERT_EQUAL(rb->extra, 0);
}

/* ---- the tests ---------------------------------------------------------- */

/* The test's own murmur2 must be Kafka's before it can judge the library's
 * (org.apache.kafka.common.utils.UtilsTest#testMurmur2). */
static void test_murmur2_vectors(void)
{
	static const struct {
		const char *s;
		int32_t h;
	} v[] = {
		{ "21", -973932308 },
		{ "foobar", -790332482 },
		{ "a-little-bit-long-string", -985981536 },
		{ "a-little-bit-longer-string", -1486304829 },
		{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
		{ "abc", 479470107 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		CU_ASSERT_EQUAL(kafka_murmur2(v[i].s, strlen(v[i].s)), v[i].h);
}

static void test_produce(void)
{
	static const int64_t zero[NPART] = { 0 };
	brook_producer_t *p;
	int64_t t0, t_queued, t_done;
	brook_err_t err = BROOK_ERR_NO_ERROR;
	int queued = 0;

	CU_ASSERT_EQUAL_FATAL(harness_broker_create_topic(broker, zk(), TOPIC, NPART), 0);
	p = producer_new();
	t0 = harness_now_ms();
	for (int i = 0; i < N1 && !err; i++) {
		if (!(err = produce_one(p, i)))
			queued++;
		if (i % 1000 == 999)
			brook_poll(p, 0);
	}
	t_queued = harness_now_ms();
	CU_ASSERT_EQUAL(queued, N1);
	err = brook_producer_flush(p, FLUSH_MS);
	t_done = harness_now_ms();
	CU_ASSERT_EQUAL(err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(brook_producer_outq_len(p), 0);
	brook_producer_free(p);

	CU_ASSERT_EQUAL(acked, N1);
	CU_ASSERT_EQUAL(report_mismatch, 0);
	CU_ASSERT_EQUAL(wrong_thread, 0);
	check_reports(0, N1, zero, n1);
	fprintf(stderr, "test_e2e: produced %d messages in %" PRId64 " ms (queued in %" PRId64
		" ms), %.0f msg/s; per partition %" PRId64 " %" PRId64 " %" PRId64 "\n", N1,
		t_done - t0, t_queued - t0, N1 * 1000.0 / (double)(t_done - t0 + 1), n1[0], n1[1],
		n1[2]);
	for (int i = 0; i < NPART; i++)
		CU_ASSERT(n1[i] > 0);
	CU_ASSERT_EQUAL(n1[0] + n1[1] + n1[2], N1);
	first_run_ok = acked == N1 && CU_get_number_of_failures() == 0;
}

static void test_consume(void)
{
	readback_t rb;
	long wrong = 0;

	CU_ASSERT_FATAL(first_run_ok);
	consume_all(n1, &rb);
	fprintf(stderr, "test_e2e: consumed %ld messages in %" PRId64 " ms, %.0f msg/s\n",
		rb.total, rb.ms, rb.total * 1000.0 / (double)(rb.ms + 1));
	CU_ASSERT_EQUAL(rb.total, N1);
	/* every offset holds the message whose report named it; with the
	 * reports a bijection (test_produce) this reads each message once */
	for (int p = 0; p < NPART; p++) {
		CU_ASSERT_EQUAL(rb.next[p], n1[p]);
		for (int64_t off = 0; off < rb.next[p] && off < NMSG; off++) {
			int32_t idx = rb.at[p][off];

			if (idx < 0 || idx >= N1 || sent[idx].partition != p ||
			    sent[idx].offset != off)
				complain(&wrong, "partition %d offset %" PRId64 " holds message %d",
					 p, off, (int)idx);
		}
	}
	CU_ASSERT_EQUAL(wrong, 0);
	readback_free(&rb);
}

/* kill -9 the broker once the second run has KILL_AFTER acknowledgements
 * (`before`: the count at its start); 1 when it did. */
static int kill_when_acked(long before, long *acked_at_kill, int64_t *t_kill)
{
	if (acked - before < KILL_AFTER)
		return 0;
	CU_ASSERT_EQUAL_FATAL(harness_broker_kill9(broker), 0);
	*acked_at_kill = acked - before;
	*t_kill = harness_now_ms();
	return 1;
}

static void test_kill9_mid_produce(void)
{
	brook_producer_t *p;
	harness_client_t *hc;
	readback_t rb;
	int64_t a2[NPART], want[NPART], end[NPART], t_kill = 0;
	long acked_at_kill = -1, closed = 0, other_err = 0, missing = 0, dup = 0, written = 0;
	long acked1 = acked;
	static unsigned char seen[NMSG]; /* times each message was read */
	int killed = 0;

	CU_ASSERT_FATAL(first_run_ok);
	p = producer_new();
	/* Keep producing while the broker dies: the kill lands when a few
	 * thousand second-run messages are acknowledged and the rest are
	 * queued or in flight. */
	for (int i = N1; i < NMSG; i++) {
		if (produce_one(p, i) != BROOK_ERR_NO_ERROR)
			break;
		if (i % 1000 == 999) {
			brook_poll(p, 0);
			killed = killed || kill_when_acked(acked1, &acked_at_kill, &t_kill);
		}
	}
	for (int64_t deadline = harness_now_ms() + T_MS; !killed && harness_now_ms() < deadline;) {
		brook_poll(p, 10);
		killed = kill_when_acked(acked1, &acked_at_kill, &t_kill);
	}
	if (!killed)
		harness_broker_kill9(broker); /* the same state for what follows */
	CU_ASSERT_FATAL(killed);
	/* Reports that were on their way still count; then give up. The
	 * producer retries until delivery.timeout.ms, so the flush times out
	 * and free() fails the rest with _CLOSED, before the broker is back:
	 * no retry can write a message twice behind our back. */
	brook_producer_flush(p, 1000);
	brook_producer_free(p);
	CU_ASSERT_EQUAL(wrong_thread, 0);
	CU_ASSERT_EQUAL(report_mismatch, 0);
	check_reports(N1, N2, n1, a2);
	for (int i = N1; i < NMSG; i++) {
		if (sent[i].reports != 1 || sent[i].err == BROOK_ERR_NO_ERROR)
			continue;
		if (sent[i].err == BROOK_ERR__CLOSED)
			closed++;
		else
			other_err++;
	}
	fprintf(stderr, "test_e2e: kill -9 after %ld second-run acknowledgements; %" PRId64
		" %" PRId64 " %" PRId64 " acknowledged in all, %ld failed with _CLOSED, %ld with "
		"another error, all reported %" PRId64 " ms after the kill\n", acked_at_kill,
		a2[0], a2[1], a2[2], closed, other_err, harness_now_ms() - t_kill);
	CU_ASSERT(acked - acked1 >= KILL_AFTER);
	CU_ASSERT(acked - acked1 < N2); /* or the kill came after the run */
	CU_ASSERT_EQUAL(acked - acked1 + closed + other_err, N2);

	CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker), 0);
	CU_ASSERT(harness_broker_log_contains(broker, "(unclean shutdown"));
	CU_ASSERT_EQUAL_FATAL(harness_topic_wait_leaders(harness_broker_port(broker), TOPIC, NPART,
							 30000), 0);
	/* the log end, asked independently of libbrook */
	hc = harness_client_connect(harness_broker_port(broker));
	CU_ASSERT_PTR_NOT_NULL_FATAL(hc);
	for (int i = 0; i < NPART; i++) {
		CU_ASSERT_EQUAL(harness_list_offset(hc, TOPIC, i, PROTO_TS_LATEST, T_MS, &end[i]),
				BROOK_ERR_NO_ERROR);
		want[i] = n1[i] + a2[i];
		CU_ASSERT(end[i] >= want[i]);
	}
	harness_client_close(hc);

	consume_all(want, &rb);
	fprintf(stderr, "test_e2e: after the restart consumed %ld messages in %" PRId64 " ms "
		"(log ends %" PRId64 " %" PRId64 " %" PRId64 ")\n", rb.total, rb.ms, end[0],
		end[1], end[2]);
	for (int i = 0; i < NPART; i++) {
		CU_ASSERT_EQUAL(rb.next[i], end[i]);
		for (int64_t off = 0; off < rb.next[i] && off < NMSG; off++) {
			int32_t idx = rb.at[i][off];

			if (idx < 0)
				continue; /* already counted as bad content or order */
			if (seen[idx]++)
				complain(&dup, "message %d read twice (again at %d/%" PRId64 ")",
					 (int)idx, i, off);
		}
	}
	/* every acknowledged message, of both runs, where its report put it */
	for (int i = 0; i < NMSG; i++) {
		const sent_t *s = &sent[i];

		if (s->err != BROOK_ERR_NO_ERROR) {
			written += seen[i] != 0;
			continue;
		}
		if (s->partition < 0 || s->partition >= NPART || s->offset < 0 ||
		    s->offset >= rb.next[s->partition] || s->offset >= NMSG ||
		    rb.at[s->partition][s->offset] != i)
			complain(&missing, "acknowledged message %d (partition %d offset %" PRId64
				 ") is not there after the restart", i, (int)s->partition,
				 s->offset);
	}
	fprintf(stderr, "test_e2e: %ld unacknowledged messages were written anyway\n", written);
	CU_ASSERT_EQUAL(rb.total, N1 + (acked - acked1) + written);
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT_EQUAL(dup, 0);
	readback_free(&rb);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "the test's murmur2 is Kafka's", test_murmur2_vectors },
		{ "produce 100,000 keyed messages to 3 partitions", test_produce },
		{ "consume them all back, in order, as produced", test_consume },
		{ "kill -9 mid-produce: every acknowledged message survives",
		  test_kill9_mid_produce },
		{ NULL, NULL },
	};
	int rc;

	app_thread = pthread_self();
	t0_wall = harness_wall_ms();
	sent = calloc(NMSG, sizeof(*sent));
	if (!sent) {
		fprintf(stderr, "test_e2e: out of memory\n");
		return 1;
	}
	if (harness_zk_start(1, &ens) != 0) {
		fprintf(stderr, "test_e2e: cannot start ZooKeeper\n");
		free(sent);
		return 1;
	}
	if (!(broker = harness_broker_start(zk(), 1, NULL))) {
		fprintf(stderr, "test_e2e: cannot start brookd\n");
		harness_broker_stop_all();
		harness_zk_stop(ens);
		free(sent);
		return 1;
	}
	fprintf(stderr, "test_e2e: broker 1 (pid %d) on port %d, ZooKeeper %s\n",
		(int)harness_broker_pid(broker), harness_broker_port(broker), zk());
	rc = harness_run("e2e", tests);
	if (harness_broker_stop_all() != 0) {
		fprintf(stderr, "test_e2e: a broker stopped badly or its log has a "
			"sanitizer report\n");
		rc = 1;
	}
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	free(sent);
	return rc;
}
