/*
 * test_replication.c - replication across three real brokers (DESIGN.md,
 * "Replication"), ZooKeeper ensemble of three, topics of replication
 * factor 3, min.insync.replicas=2, replica.lag.time.max.ms=2000:
 *
 *   1. acks=all through libbrook: 20,000 keyed messages to 3 partitions,
 *      every delivery successful; the three replicas of each partition end
 *      up byte for byte the same (every batch CRC-checked, offsets
 *      contiguous); everything consumed back in order;
 *   2. the ISR shrinks when followers stop fetching (SIGSTOP) and grows
 *      back when they resume; acks=all works with 2 in sync and fails with
 *      NOT_ENOUGH_REPLICAS, before appending, with 1; acks=1 still works;
 *   3. consumers never see past the high watermark: a stopped follower
 *      still in the ISR holds it below the log end until the ISR drops it;
 *   4. acks=all with a stopped follower in the ISR is answered within the
 *      request's timeout_ms (REQUEST_TIMED_OUT), or as soon as the ISR
 *      shrinks (success), never later;
 *   5. a follower restarted with a divergent tail (a batch its leader never
 *      had, in an epoch the leader has since ended) truncates it by leader
 *      epoch, catches up and rejoins the ISR; the replicas are identical.
 *
 * Leadership never moves here (failover is another test's business):
 * every topic is created with an explicit assignment whose first replica
 * leads, and the leader is never stopped. Paused followers stay paused for
 * less than the ZooKeeper session timeout the ensemble grants (10 s), so
 * they keep their registration and leave the ISR by lag alone. Timing
 * figures go to stderr; the bounds asserted are generous.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "brook.h"
#include "bytes.h"
#include "crc32c.h"
#include "harness.h"
#include "harness_broker.h"
#include "harness_zk.h"
#include "proto.h"
#include "record.h"

#define NBROKERS 3
#define T_MS 15000          /* one step's bound */
#define LAG_MS 2000         /* replica.lag.time.max.ms */
#define SHRINK_MS (LAG_MS + 3000) /* a stopped follower leaves the ISR within this */
#define REJOIN_MS 15000     /* a resumed follower is back in the ISR within this */
#define SAME_MS 15000       /* replicas converge within this once writes stop */
#define FLUSH_MS 60000
#define CONSUME_MS 30000
#define SHOW 5              /* details printed per kind of failure */

#define TOPIC1 "rep"
#define NPART1 3
#define NMSG 20000
#define NKEYS 997

static harness_zk_t *ens;
static harness_broker_t *brokers[NBROKERS]; /* broker id i + 1 */

static const char *zk(void)
{
	return harness_zk_connect_string(ens);
}

static harness_broker_t *broker(int32_t id)
{
	return brokers[id - 1];
}

static int port_of(int32_t id)
{
	return harness_broker_port(broker(id));
}

static int complain(long *counter, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Counts one failure of a kind and prints the first few. */
static int complain(long *counter, const char *fmt, ...)
{
	va_list ap;

	if ((*counter)++ < SHOW) {
		va_start(ap, fmt);
		fprintf(stderr, "test_replication: ");
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "\n");
		va_end(ap);
	}
	return 0;
}

/* A test that failed half-way may leave a broker paused or stopped: the
 * next one starts from three running brokers. */
static void heal(void)
{
	for (int i = 0; i < NBROKERS; i++) {
		if (!brokers[i])
			continue;
		if (harness_broker_paused(brokers[i]))
			harness_broker_cont(brokers[i]);
		if (!harness_broker_alive(brokers[i]) && harness_broker_resume(brokers[i]) != 0)
			fprintf(stderr, "test_replication: broker %d does not start again\n", i + 1);
	}
}

static harness_client_t *connect_to(int32_t id)
{
	harness_client_t *c = harness_client_connect(port_of(id));

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* The replica list of a partition led by `leader`: leader, then the next
 * ids round the ring. */
static void ring_from(int32_t leader, int32_t ids[NBROKERS])
{
	for (int i = 0; i < NBROKERS; i++)
		ids[i] = (leader - 1 + i) % NBROKERS + 1;
}

/* Creates topic with replication factor 3; partition p's replicas are the
 * ring starting at `leader` + p, the first one leading (the harness
 * assigns round-robin). Waits until every partition has its whole ISR. */
static void create_topic(const char *topic, int32_t partitions, int32_t leader)
{
	int32_t ids[NBROKERS];
	int64_t t0 = harness_now_ms();

	ring_from(leader, ids);
	CU_ASSERT_EQUAL_FATAL(harness_topic_create_zk(zk(), topic, partitions, NBROKERS, ids,
						      NBROKERS), 0);
	for (int32_t p = 0; p < partitions; p++) {
		int32_t r[NBROKERS];
		harness_partition_info_t info;

		ring_from(ids[p % NBROKERS], r);
		CU_ASSERT_EQUAL_FATAL(harness_topic_wait_leaders(port_of(r[0]), topic, partitions,
								 T_MS), 0);
		CU_ASSERT_EQUAL_FATAL(harness_partition_wait_isr(port_of(r[0]), topic, p, r,
								 NBROKERS, T_MS, &info), 0);
		CU_ASSERT_EQUAL_FATAL(info.leader, r[0]);
		CU_ASSERT_EQUAL(info.nreplicas, NBROKERS);
		for (int i = 0; i < info.nreplicas && i < NBROKERS; i++)
			CU_ASSERT_EQUAL(info.replicas[i], r[i]);
	}
	fprintf(stderr, "test_replication: topic %s: %d partitions led and fully in sync in %"
		PRId64 " ms\n", topic, (int)partitions, harness_now_ms() - t0);
}

/* ---- replicas on disk ------------------------------------------------------ */

/* What a replica's log holds. */
typedef struct log_scan {
	int64_t next_offset;  /* one past the last whole batch */
	size_t batches, whole_bytes;
	int64_t records;
	int bad;              /* a batch failed its check or offsets jump */
} log_scan_t;

/* Walks the batches of a replica's concatenated segments: every whole
 * batch must verify (header, length, CRC-32C) and start where the one
 * before ended. A partial batch at the end is an append in progress. */
static void scan_log(const uint8_t *buf, size_t len, log_scan_t *s)
{
	size_t off = 0;

	memset(s, 0, sizeof(*s));
	while (len - off >= RECORD_BATCH_LOG_OVERHEAD) {
		record_batch_header_t h;
		uint32_t blen = be32_get(buf + off + 8);
		size_t size = (size_t)blen + RECORD_BATCH_LOG_OVERHEAD;

		if (blen > INT32_MAX || size > len - off)
			break;
		if (record_batch_verify(buf + off, size, &h) != BROOK_ERR_NO_ERROR ||
		    (s->batches > 0 && h.base_offset != s->next_offset)) {
			s->bad = 1;
			break;
		}
		s->next_offset = record_batch_last_offset(&h) + 1;
		s->records += h.record_count;
		s->batches++;
		off += size;
	}
	s->whole_bytes = off;
}

/* The leader's log end (ListOffsets as a follower asks it) and its high
 * watermark (as a consumer asks it). */
static void end_offsets(harness_client_t *c, const char *topic, int32_t p, int32_t leader,
			int64_t *leo, int64_t *hw)
{
	CU_ASSERT_EQUAL(harness_list_offset_replica(c, topic, p, leader, PROTO_TS_LATEST, T_MS,
						    leo), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(harness_list_offset(c, topic, p, PROTO_TS_LATEST, T_MS, hw),
			BROOK_ERR_NO_ERROR);
}

/* Waits until the three replicas of topic/p (replicas[0] leads) hold the
 * same bytes, the leader's log end and high watermark both at the end of
 * them, then checks every batch. Returns the log end, or -1. */
static int64_t wait_replicas_identical(const char *topic, int32_t p,
				       const int32_t replicas[NBROKERS])
{
	int64_t deadline = harness_now_ms() + SAME_MS, t0 = harness_now_ms();
	harness_client_t *c = connect_to(replicas[0]);
	uint8_t *logs[NBROKERS] = { NULL };
	size_t lens[NBROKERS] = { 0 };
	log_scan_t scan;
	int64_t leo = -1, hw = -1;
	int same = 0;

	for (;;) {
		same = 1;
		for (int i = 0; i < NBROKERS; i++) {
			free(logs[i]);
			logs[i] = harness_broker_partition_log(broker(replicas[i]), topic, p,
							       &lens[i]);
			if (!logs[i] || lens[i] != lens[0] ||
			    (i > 0 && memcmp(logs[i], logs[0], lens[0]) != 0))
				same = 0;
		}
		end_offsets(c, topic, p, replicas[0], &leo, &hw);
		if (same) {
			scan_log(logs[0], lens[0], &scan);
			if (scan.whole_bytes == lens[0] && scan.next_offset == leo && hw == leo)
				break;
			same = 0;
		}
		if (harness_now_ms() >= deadline)
			break;
		usleep(20 * 1000);
	}
	harness_client_close(c);
	if (!same) {
		fprintf(stderr, "test_replication: %s-%d: replicas differ after %d ms: leader %d "
			"log end %" PRId64 ", high watermark %" PRId64 "\n", topic, (int)p, SAME_MS,
			(int)replicas[0], leo, hw);
		for (int i = 0; i < NBROKERS; i++) {
			size_t d = 0;

			if (logs[i] && logs[0])
				while (d < lens[i] && d < lens[0] && logs[i][d] == logs[0][d])
					d++;
			scan_log(logs[i] ? logs[i] : (const uint8_t *)"", logs[i] ? lens[i] : 0,
				 &scan);
			fprintf(stderr, "test_replication:   broker %d: %zu bytes, %zu batches to "
				"offset %" PRId64 "%s, same as the leader's for %zu bytes\n",
				(int)replicas[i], lens[i], scan.batches, scan.next_offset,
				scan.bad ? " (then a bad batch)" : "", d);
		}
	} else {
		fprintf(stderr, "test_replication: %s-%d: 3 identical replicas after %" PRId64
			" ms: %zu batches, %" PRId64 " records, %zu bytes, crc32c %08x\n", topic,
			(int)p, harness_now_ms() - t0, scan.batches, scan.records, lens[0],
			crc32c(0, logs[0], lens[0]));
		CU_ASSERT_FALSE(scan.bad);
		CU_ASSERT_EQUAL(scan.records, leo); /* no gaps: records 0..leo-1 */
	}
	CU_ASSERT(same);
	for (int i = 0; i < NBROKERS; i++)
		free(logs[i]);
	return same ? leo : -1;
}

/* ---- raw produce ----------------------------------------------------------- */

/* One batch of n records "<prefix>-k<first..>" to topic-0, the broker
 * waiting at most request_timeout_ms for acks=-1; the partition's error
 * code, and the time the answer took. */
static brook_err_t produce_raw(harness_client_t *c, const char *topic, int acks,
			       const char *prefix, int first, int n, int32_t request_timeout_ms,
			       int64_t *base, int64_t *elapsed_ms)
{
	size_t len;
	uint8_t *batch = harness_batch_simple(prefix, first, n, 100, 0, &len);
	int64_t t0 = harness_now_ms();
	brook_err_t err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	err = harness_produce_timeout(c, topic, 0, acks, batch, len, request_timeout_ms,
				      request_timeout_ms + 2000, base);
	if (elapsed_ms)
		*elapsed_ms = harness_now_ms() - t0;
	free(batch);
	return err;
}

static int isr_has(const harness_partition_info_t *info, int32_t id)
{
	for (int i = 0; i < info->nisr; i++)
		if (info->isr[i] == id)
			return 1;
	return 0;
}

static int offline_has(const harness_partition_info_t *info, int32_t id)
{
	for (int i = 0; i < info->noffline; i++)
		if (info->offline[i] == id)
			return 1;
	return 0;
}

/* Waits for the ISR `want` (n ids) of topic-0 as its leader reports it;
 * returns the ms it took since `since`, or -1. */
static int64_t wait_isr(const char *topic, int32_t leader, const int32_t *want, int n,
			int timeout_ms, int64_t since, harness_partition_info_t *info)
{
	if (harness_partition_wait_isr(port_of(leader), topic, 0, want, n, timeout_ms, info) != 0)
		return -1;
	return harness_now_ms() - since;
}

/* ---- 1. acks=all through libbrook ----------------------------------------- */

typedef struct sent {
	int reports;
	brook_err_t err;
	int32_t partition;
	int64_t offset;
} sent_t;

static sent_t *sent;
static long acked;

static size_t make_key(int i, char *buf, size_t size)
{
	return (size_t)snprintf(buf, size, "key-%d", i % NKEYS);
}

/* The index first, so a consumed value names its message; 0..99 bytes of
 * padding so batches hold records of varied sizes. */
static size_t make_value(int i, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "r-%06d-", i);
	size_t pad = (size_t)(i * 31) % 100;

	for (size_t j = 0; j < pad && n + 1 < size; j++)
		buf[n++] = (char)('a' + (i + (int)j) % 26);
	buf[n] = '\0';
	return n;
}

static int value_index(const void *value, size_t len)
{
	const char *v = value;
	int idx = 0;

	if (!v || len < 9 || v[0] != 'r' || v[1] != '-' || v[8] != '-')
		return -1;
	for (int k = 2; k < 8; k++) {
		if (v[k] < '0' || v[k] > '9')
			return -1;
		idx = idx * 10 + (v[k] - '0');
	}
	return idx < NMSG ? idx : -1;
}

static brook_conf_t *client_conf(const char *servers, const char *const *kv)
{
	brook_conf_t *conf = brook_conf_new();
	char errstr[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	if (brook_conf_set(conf, "bootstrap.servers", servers, errstr, sizeof(errstr)))
		goto bad;
	for (int i = 0; kv && kv[i]; i += 2)
		if (brook_conf_set(conf, kv[i], kv[i + 1], errstr, sizeof(errstr)))
			goto bad;
	return conf;
bad:
	fprintf(stderr, "test_replication: %s\n", errstr);
	brook_conf_free(conf);
	CU_FAIL_FATAL("brook_conf_set");
	return NULL;
}

static void all_servers(char *buf, size_t size)
{
	snprintf(buf, size, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", port_of(1), port_of(2),
		 port_of(3));
}

static void on_delivery(brook_err_t err, const char *topic, int32_t partition, int64_t offset,
			const void *key, size_t key_len, const void *value, size_t value_len,
			void *opaque)
{
	sent_t *s = opaque;

	s->reports++;
	s->err = err;
	s->partition = partition;
	s->offset = offset;
	if (err == BROOK_ERR_NO_ERROR)
		acked++;
}

/* Reads every partition of TOPIC1 from the beginning until it has want[p]
 * messages and the end-of-partition event right there; checks that each
 * offset holds the message whose report named it. */
static void consume_check(const int64_t want[NPART1])
{
	static const char *const kv[] = { "auto.offset.reset", "earliest", NULL };
	char servers[128], errstr[256] = "";
	brook_conf_t *conf;
	brook_consumer_t *c;
	int64_t next[NPART1] = { 0 }, eof[NPART1] = { -1, -1, -1 }, t0, deadline;
	long total = 0, bad_order = 0, bad_content = 0, bad_event = 0;
	int done = 0;

	all_servers(servers, sizeof(servers));
	conf = client_conf(servers, kv);
	c = brook_consumer_new(conf, errstr, sizeof(errstr));
	brook_conf_free(conf);
	if (!c)
		fprintf(stderr, "test_replication: brook_consumer_new: %s\n", errstr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	t0 = harness_now_ms();
	CU_ASSERT_EQUAL(brook_consumer_assign(c, TOPIC1, -1, BROOK_OFFSET_BEGINNING, errstr,
					      sizeof(errstr)), BROOK_ERR_NO_ERROR);
	deadline = t0 + CONSUME_MS;
	while (!done && harness_now_ms() < deadline) {
		brook_message_t *m;
		int32_t p;
		int idx;
		char k[32], v[128];

		if (brook_consumer_poll(c, 200, &m) != BROOK_ERR_NO_ERROR)
			continue;
		p = m->partition;
		if (m->err == BROOK_ERR__PARTITION_EOF && p >= 0 && p < NPART1) {
			eof[p] = m->offset;
		} else if (m->err) {
			complain(&bad_event, "consumer event on partition %d: %s: %s", (int)p,
				 brook_err_name(m->err), m->errstr ? m->errstr : "");
		} else if (p < 0 || p >= NPART1) {
			complain(&bad_content, "message from partition %d", (int)p);
		} else {
			total++;
			if (m->offset != next[p])
				complain(&bad_order, "partition %d: offset %" PRId64 " after %" PRId64,
					 (int)p, m->offset, next[p] - 1);
			next[p] = m->offset + 1;
			idx = value_index(m->value, m->value_len);
			if (idx < 0 || sent[idx].partition != p || sent[idx].offset != m->offset ||
			    m->key_len != make_key(idx, k, sizeof(k)) ||
			    memcmp(m->key, k, m->key_len) != 0 ||
			    m->value_len != make_value(idx, v, sizeof(v)) ||
			    memcmp(m->value, v, m->value_len) != 0)
				complain(&bad_content, "partition %d offset %" PRId64
					 ": not the message its report put there", (int)p,
					 m->offset);
		}
		brook_message_free(m);
		done = 1;
		for (int i = 0; i < NPART1; i++)
			done = done && next[i] >= want[i] && eof[i] == next[i];
	}
	fprintf(stderr, "test_replication: consumed %ld messages in %" PRId64 " ms\n", total,
		harness_now_ms() - t0);
	brook_consumer_free(c);
	for (int i = 0; i < NPART1; i++) {
		if (next[i] != want[i] || eof[i] != want[i])
			fprintf(stderr, "test_replication: partition %d: read to %" PRId64
				", want %" PRId64 ", end event at %" PRId64 "\n", i, next[i],
				want[i], eof[i]);
		CU_ASSERT_EQUAL(next[i], want[i]);
		CU_ASSERT_EQUAL(eof[i], want[i]);
	}
	CU_ASSERT_EQUAL(total, NMSG);
	CU_ASSERT_EQUAL(bad_order, 0);
	CU_ASSERT_EQUAL(bad_content, 0);
	CU_ASSERT_EQUAL(bad_event, 0);
}

static void test_acks_all_libbrook(void)
{
	static const char *const kv[] = { "acks", "all", NULL };
	brook_producer_t *prod;
	brook_conf_t *conf;
	char servers[128], errstr[256] = "";
	int64_t next[NPART1] = { 0 }, t0, t_done;
	long bad_report = 0, bad_offset = 0;
	int queued = 0;

	heal();
	create_topic(TOPIC1, NPART1, 1);
	all_servers(servers, sizeof(servers));
	conf = client_conf(servers, kv);
	prod = brook_producer_new(conf, errstr, sizeof(errstr));
	brook_conf_free(conf);
	if (!prod)
		fprintf(stderr, "test_replication: brook_producer_new: %s\n", errstr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(prod);
	t0 = harness_now_ms();
	for (int i = 0; i < NMSG; i++) {
		char k[32], v[128];
		size_t kl = make_key(i, k, sizeof(k)), vl = make_value(i, v, sizeof(v));
		int64_t deadline = harness_now_ms() + T_MS;
		brook_err_t err;

		while ((err = brook_produce(prod, TOPIC1, BROOK_PARTITION_UA, k, kl, v, vl, 0,
					    on_delivery, &sent[i])) == BROOK_ERR__QUEUE_FULL &&
		       harness_now_ms() < deadline)
			brook_poll(prod, 100);
		if (err) {
			fprintf(stderr, "test_replication: brook_produce(%d): %s\n", i,
				brook_err_name(err));
			break;
		}
		queued++;
		if (i % 1000 == 999)
			brook_poll(prod, 0);
	}
	CU_ASSERT_EQUAL(queued, NMSG);
	CU_ASSERT_EQUAL(brook_producer_flush(prod, FLUSH_MS), BROOK_ERR_NO_ERROR);
	t_done = harness_now_ms();
	brook_producer_free(prod);
	fprintf(stderr, "test_replication: %d messages with acks=all in %" PRId64 " ms (%.0f "
		"msg/s), %ld acknowledged\n", NMSG, t_done - t0,
		NMSG * 1000.0 / (double)(t_done - t0 + 1), acked);
	CU_ASSERT_EQUAL(acked, NMSG);

	/* one report each; per partition, offsets 0.. in production order */
	for (int i = 0; i < NMSG; i++) {
		const sent_t *s = &sent[i];

		if (s->reports != 1 || s->err != BROOK_ERR_NO_ERROR || s->partition < 0 ||
		    s->partition >= NPART1) {
			complain(&bad_report, "message %d: %d reports, %s, partition %d", i,
				 s->reports, brook_err_name(s->err), (int)s->partition);
			continue;
		}
		if (s->offset != next[s->partition])
			complain(&bad_offset, "message %d: partition %d offset %" PRId64
				 ", expected %" PRId64, i, (int)s->partition, s->offset,
				 next[s->partition]);
		next[s->partition] = s->offset + 1;
	}
	CU_ASSERT_EQUAL(bad_report, 0);
	CU_ASSERT_EQUAL(bad_offset, 0);
	CU_ASSERT_EQUAL(next[0] + next[1] + next[2], NMSG);

	/* every partition: three identical replicas, as long as the leader's
	 * log, all of it committed */
	for (int32_t p = 0; p < NPART1; p++) {
		int32_t r[NBROKERS];
		harness_partition_info_t info;
		harness_client_t *c;

		ring_from(p + 1, r);
		CU_ASSERT(next[p] > 0);
		CU_ASSERT_EQUAL(wait_replicas_identical(TOPIC1, p, r), next[p]);
		/* nobody fell out of the ISR on the way */
		c = connect_to(r[0]);
		CU_ASSERT_EQUAL(harness_partition_info(c, TOPIC1, p, T_MS, &info),
				BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(info.nisr, NBROKERS);
		harness_client_close(c);
	}
	consume_check(next);
}

/* ---- 2. ISR shrink and expand, NOT_ENOUGH_REPLICAS ------------------------ */

static void test_isr_shrink_expand(void)
{
	static const char *const kv[] = { "acks", "all", "retries", "0",
					  "request.timeout.ms", "5000",
					  "delivery.timeout.ms", "10000", NULL };
	const char *topic = "isr";
	const int32_t L = 1, F1 = 2, F2 = 3;
	const int32_t all[] = { L, F1, F2 }, two[] = { L, F2 }, one[] = { L };
	harness_partition_info_t info;
	harness_client_t *c;
	brook_producer_t *prod;
	brook_conf_t *conf;
	sent_t s = { 0, BROOK_ERR_NO_ERROR, -1, -1 };
	char servers[64], errstr[256] = "";
	int64_t t_pause1, t_pause2, t_cont, shrink1, shrink2, expand, leo, leo2, hw, base;

	heal();
	create_topic(topic, 1, L);
	c = connect_to(L);
	CU_ASSERT_EQUAL(produce_raw(c, topic, -1, "all3", 0, 10, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);

	/* F1 stops fetching while the log grows: out of the ISR after the
	 * lag bound. (The records matter where the rule is Kafka's: a
	 * follower at the leader's log end is never out of sync.) */
	CU_ASSERT_EQUAL_FATAL(harness_broker_pause(broker(F1)), 0);
	t_pause1 = harness_now_ms();
	CU_ASSERT_EQUAL(produce_raw(c, topic, 1, "lag1", 0, 10, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);
	shrink1 = wait_isr(topic, L, two, 2, SHRINK_MS, t_pause1, &info);
	fprintf(stderr, "test_replication: ISR [1,2,3] -> [1,3] %" PRId64 " ms after SIGSTOP of "
		"broker %d (replica.lag.time.max.ms %d)\n", shrink1, (int)F1, LAG_MS);
	/* its last fetch may have been up to replica.fetch.wait.max.ms old */
	CU_ASSERT(shrink1 >= LAG_MS - 500);
	CU_ASSERT_FATAL(shrink1 >= 0);
	/* by lag, not by death: F1 is still registered */
	CU_ASSERT_FALSE(offline_has(&info, F1));
	/* two in sync meet min.insync.replicas=2 */
	CU_ASSERT_EQUAL(produce_raw(c, topic, -1, "isr2", 0, 10, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, 20);

	/* F2 stops too: the leader alone */
	CU_ASSERT_EQUAL_FATAL(harness_broker_pause(broker(F2)), 0);
	t_pause2 = harness_now_ms();
	CU_ASSERT_EQUAL(produce_raw(c, topic, 1, "lag2", 0, 10, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);
	shrink2 = wait_isr(topic, L, one, 1, SHRINK_MS, t_pause2, &info);
	fprintf(stderr, "test_replication: ISR [1,3] -> [1] %" PRId64 " ms after SIGSTOP of "
		"broker %d\n", shrink2, (int)F2);
	CU_ASSERT_FATAL(shrink2 >= 0);
	CU_ASSERT_FALSE(offline_has(&info, F2));

	/* acks=all refused before anything is appended */
	end_offsets(c, topic, 0, L, &leo, &hw);
	CU_ASSERT_EQUAL(leo, 40);
	CU_ASSERT_EQUAL(hw, 40);
	CU_ASSERT_EQUAL(produce_raw(c, topic, -1, "isr1", 0, 10, 10000, &base, NULL),
			BROOK_ERR_NOT_ENOUGH_REPLICAS);
	end_offsets(c, topic, 0, L, &leo2, &hw);
	CU_ASSERT_EQUAL(leo2, leo);

	/* the same through libbrook: the delivery fails with that error */
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", port_of(L));
	conf = client_conf(servers, kv);
	prod = brook_producer_new(conf, errstr, sizeof(errstr));
	brook_conf_free(conf);
	if (!prod)
		fprintf(stderr, "test_replication: brook_producer_new: %s\n", errstr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(prod);
	CU_ASSERT_EQUAL(brook_produce(prod, topic, 0, "k", 1, "v", 1, 0, on_delivery, &s),
			BROOK_ERR_NO_ERROR);
	brook_producer_flush(prod, T_MS);
	brook_producer_free(prod);
	fprintf(stderr, "test_replication: libbrook acks=all with an ISR of 1: %s\n",
		brook_err_name(s.err));
	CU_ASSERT_EQUAL(s.reports, 1);
	CU_ASSERT_EQUAL(s.err, BROOK_ERR_NOT_ENOUGH_REPLICAS);
	end_offsets(c, topic, 0, L, &leo2, &hw);
	CU_ASSERT_EQUAL(leo2, leo);

	/* acks=1 does not care; with an ISR of one it is committed at once */
	CU_ASSERT_EQUAL(produce_raw(c, topic, 1, "acks1", 0, 10, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, leo);
	end_offsets(c, topic, 0, L, &leo2, &hw);
	CU_ASSERT_EQUAL(leo2, leo + 10);
	CU_ASSERT_EQUAL(hw, leo2);

	/* both back: both catch up and rejoin */
	CU_ASSERT_EQUAL(harness_broker_cont(broker(F1)), 0);
	CU_ASSERT_EQUAL(harness_broker_cont(broker(F2)), 0);
	t_cont = harness_now_ms();
	fprintf(stderr, "test_replication: brokers %d and %d were paused %" PRId64 " and %" PRId64
		" ms\n", (int)F1, (int)F2, t_cont - t_pause1, t_cont - t_pause2);
	expand = wait_isr(topic, L, all, 3, REJOIN_MS, t_cont, &info);
	fprintf(stderr, "test_replication: ISR [1] -> [1,2,3] %" PRId64 " ms after SIGCONT\n",
		expand);
	CU_ASSERT_FATAL(expand >= 0);
	CU_ASSERT_EQUAL(produce_raw(c, topic, -1, "back", 0, 10, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, leo + 10);
	harness_client_close(c);
	CU_ASSERT_EQUAL(wait_replicas_identical(topic, 0, all), leo + 20);
}

/* ---- 3. the high watermark bounds consumers -------------------------------- */

static void test_hw_bounds_consumers(void)
{
	const char *topic = "hw";
	const int32_t L = 2, F1 = 3, F2 = 1;
	const int32_t all[] = { L, F1, F2 }, two[] = { L, F2 };
	harness_partition_info_t info;
	harness_fetch_req_t q = { .topic = topic, .partition = 0 };
	harness_fetch_result_t fr;
	harness_client_t *c;
	int64_t t_pause, t_checked, visible, leo, hw, base;
	long beyond = 0;

	heal();
	create_topic(topic, 1, L);
	c = connect_to(L);
	CU_ASSERT_EQUAL(produce_raw(c, topic, -1, "committed", 0, 20, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);

	/* F1 stops with all 20 records; the next 10 reach F2 only */
	CU_ASSERT_EQUAL_FATAL(harness_broker_pause(broker(F1)), 0);
	t_pause = harness_now_ms();
	CU_ASSERT_EQUAL(produce_raw(c, topic, 1, "pending", 0, 10, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, 20);
	CU_ASSERT_EQUAL(harness_partition_info(c, topic, 0, T_MS, &info), BROOK_ERR_NO_ERROR);
	CU_ASSERT(isr_has(&info, F1));
	end_offsets(c, topic, 0, L, &leo, &hw);
	CU_ASSERT_EQUAL(leo, 30);
	CU_ASSERT_EQUAL(hw, 20);

	/* a consumer reads up to the high watermark and no further */
	q.offset = 0;
	q.partition_max_bytes = 1 << 20;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &fr), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(fr.high_watermark, 20);
	CU_ASSERT_EQUAL(fr.nrecords, 20);
	for (size_t i = 0; i < fr.nrecords; i++)
		if (fr.records[i].offset >= 20)
			complain(&beyond, "offset %" PRId64 " fetched with the high watermark at 20",
				 fr.records[i].offset);
	harness_fetch_result_free(&fr);
	q.offset = 20;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &fr), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(fr.nrecords, 0);
	CU_ASSERT_EQUAL(fr.records_bytes, 0);
	harness_fetch_result_free(&fr);
	CU_ASSERT_EQUAL(beyond, 0);
	/* the checks count only if F1 was in the ISR all along */
	CU_ASSERT_EQUAL(harness_partition_info(c, topic, 0, T_MS, &info), BROOK_ERR_NO_ERROR);
	t_checked = harness_now_ms();
	CU_ASSERT(isr_has(&info, F1));
	fprintf(stderr, "test_replication: high watermark 20 below log end 30 checked %" PRId64
		" ms after SIGSTOP of broker %d (still in the ISR)\n", t_checked - t_pause,
		(int)F1);

	/* once the ISR drops F1 the high watermark reaches the log end */
	for (;;) {
		CU_ASSERT_EQUAL(harness_list_offset(c, topic, 0, PROTO_TS_LATEST, T_MS, &hw),
				BROOK_ERR_NO_ERROR);
		if (hw == 30 || harness_now_ms() - t_pause > SHRINK_MS)
			break;
		usleep(20 * 1000);
	}
	visible = harness_now_ms() - t_pause;
	fprintf(stderr, "test_replication: records 20..29 visible %" PRId64 " ms after SIGSTOP\n",
		visible);
	CU_ASSERT_EQUAL(hw, 30);
	/* because the ISR dropped F1 (the Metadata view follows the leader's
	 * ZooKeeper write through a watch, a moment later) */
	CU_ASSERT(wait_isr(topic, L, two, 2, T_MS, t_pause, &info) >= 0);
	q.offset = 20;
	CU_ASSERT_EQUAL(harness_fetch(c, &q, T_MS, &fr), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(fr.high_watermark, 30);
	CU_ASSERT_EQUAL(fr.nrecords, 10);
	if (fr.nrecords == 10) {
		CU_ASSERT_EQUAL(fr.records[0].offset, 20);
		CU_ASSERT_STRING_EQUAL(fr.records[0].key, "pending-k0");
		CU_ASSERT_EQUAL(fr.records[9].offset, 29);
	}
	harness_fetch_result_free(&fr);

	CU_ASSERT_EQUAL(harness_broker_cont(broker(F1)), 0);
	CU_ASSERT(wait_isr(topic, L, all, 3, REJOIN_MS, harness_now_ms(), NULL) >= 0);
	harness_client_close(c);
	CU_ASSERT_EQUAL(wait_replicas_identical(topic, 0, all), 30);
}

/* ---- 4. acks=all latency is bounded ------------------------------------------ */

static void test_acks_all_bounded(void)
{
	const char *topic = "lat";
	const int32_t L = 3, F1 = 1, F2 = 2;
	const int32_t all[] = { L, F1, F2 }, two[] = { L, F2 };
	harness_partition_info_t info;
	harness_client_t *c;
	int64_t t_pause, e1, e2, base1, base2;
	brook_err_t err1, err2;

	heal();
	create_topic(topic, 1, L);
	c = connect_to(L);
	CU_ASSERT_EQUAL(produce_raw(c, topic, -1, "before", 0, 10, 10000, NULL, NULL),
			BROOK_ERR_NO_ERROR);

	CU_ASSERT_EQUAL_FATAL(harness_broker_pause(broker(F1)), 0);
	t_pause = harness_now_ms();
	/* timeout_ms 1000, shorter than the lag bound: the broker's timer
	 * answers (the client gives it 1 + 2 s) */
	err1 = produce_raw(c, topic, -1, "t1000", 0, 10, 1000, &base1, &e1);
	fprintf(stderr, "test_replication: acks=all, timeout_ms 1000, follower stopped: %s "
		"after %" PRId64 " ms\n", brook_err_name(err1), e1);
	CU_ASSERT(err1 == BROOK_ERR_REQUEST_TIMED_OUT || err1 == BROOK_ERR_NO_ERROR);
	CU_ASSERT(e1 <= 1000 + 2000);
	if (err1 == BROOK_ERR_REQUEST_TIMED_OUT)
		CU_ASSERT(e1 >= 900);
	/* timeout_ms 10000, longer: answered with success once the ISR
	 * drops the stopped follower */
	err2 = produce_raw(c, topic, -1, "t10000", 0, 10, 10000, &base2, &e2);
	fprintf(stderr, "test_replication: acks=all, timeout_ms 10000, follower stopped: %s "
		"after %" PRId64 " ms (%" PRId64 " ms after SIGSTOP)\n", brook_err_name(err2), e2,
		harness_now_ms() - t_pause);
	CU_ASSERT_EQUAL(err2, BROOK_ERR_NO_ERROR);
	CU_ASSERT(harness_now_ms() - t_pause <= SHRINK_MS);
	CU_ASSERT_EQUAL(base2, base1 + 10); /* the timed-out batch was written all the same */
	/* the leader answered once ZooKeeper had the shrink; its Metadata
	 * view follows from the watch a moment later */
	CU_ASSERT(wait_isr(topic, L, two, 2, T_MS, t_pause, &info) >= 0);

	CU_ASSERT_EQUAL(harness_broker_cont(broker(F1)), 0);
	CU_ASSERT(wait_isr(topic, L, all, 3, REJOIN_MS, harness_now_ms(), NULL) >= 0);
	harness_client_close(c);
	CU_ASSERT_EQUAL(wait_replicas_identical(topic, 0, all), 30);
}

/* ---- 5. a restarted follower truncates and rejoins --------------------------- */

/* Appends to the stopped broker's active segment of topic-0 a valid batch
 * of n records at `offset` in leader epoch `epoch`: what a follower would
 * hold had it fetched from a leader of that epoch which died before the
 * others had it (Kafka's KIP-101 case). */
static void forge_tail(harness_broker_t *b, const char *topic, int64_t offset, int32_t epoch,
		       int n)
{
	char path[4200];
	size_t len;
	uint8_t *batch = harness_batch_simple("phantom", 0, n, 100, 0, &len);
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	record_batch_set_base_offset(batch, offset);
	record_batch_set_leader_epoch(batch, epoch);
	harness_batch_fix_crc(batch, len);
	CU_ASSERT_EQUAL_FATAL(harness_broker_active_segment(b, topic, 0, path, sizeof(path)), 0);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, batch, len), (ssize_t)len);
	close(fd);
	free(batch);
}

/* The leader epoch of the batch at `offset` in broker b's log, or -1. */
static int32_t epoch_at(harness_broker_t *b, const char *topic, int64_t offset)
{
	size_t len, off = 0;
	uint8_t *log = harness_broker_partition_log(b, topic, 0, &len);
	int32_t epoch = -1;

	while (log && len - off >= RECORD_BATCH_HEADER_SIZE) {
		record_batch_header_t h;

		if (record_batch_header_parse(log + off, len - off, &h) != BROOK_ERR_NO_ERROR)
			break;
		if (h.base_offset == offset) {
			epoch = h.partition_leader_epoch;
			break;
		}
		off += record_batch_size(&h);
	}
	free(log);
	return epoch;
}

static void test_follower_restart(void)
{
	const char *topic = "rejoin";
	const int32_t L = 1, F2 = 2, F = 3;
	const int32_t all[] = { L, F2, F }, two[] = { L, F2 };
	harness_partition_info_t info;
	harness_client_t *c;
	char needle[128];
	int64_t x, t_stop, shrink, t_start, t_trunc, t_rejoin, base;
	int32_t epoch0, epoch1 = -1;

	heal();
	create_topic(topic, 1, L);
	c = connect_to(L);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(produce_raw(c, topic, -1, "old", i * 10, 10, 10000, NULL, NULL),
				BROOK_ERR_NO_ERROR);
	x = wait_replicas_identical(topic, 0, all);
	CU_ASSERT_EQUAL_FATAL(x, 30);
	CU_ASSERT_EQUAL_FATAL(harness_partition_info(c, topic, 0, T_MS, &info), BROOK_ERR_NO_ERROR);
	epoch0 = info.leader_epoch;

	/* F stops cleanly; its log gets 3 records the leader never had, in
	 * the current epoch ... */
	CU_ASSERT_EQUAL_FATAL(harness_broker_stop(broker(F)), 0);
	t_stop = harness_now_ms();
	forge_tail(broker(F), topic, x, epoch0, 3);
	CU_ASSERT_EQUAL(epoch_at(broker(F), topic, x), epoch0);
	/* ... which then ends: the same leader, a new epoch, from offset x */
	CU_ASSERT_EQUAL_FATAL(harness_partition_bump_leader_epoch(zk(), topic, 0, &epoch1), 0);
	/* (a controller that saw F go may have bumped it already) */
	CU_ASSERT(epoch1 > epoch0);
	for (int64_t deadline = harness_now_ms() + T_MS;;) {
		CU_ASSERT_EQUAL(harness_partition_info(c, topic, 0, T_MS, &info),
				BROOK_ERR_NO_ERROR);
		if (info.leader_epoch >= epoch1 || harness_now_ms() >= deadline)
			break;
		usleep(20 * 1000);
	}
	CU_ASSERT_FATAL(info.leader_epoch >= epoch1);
	CU_ASSERT_EQUAL(info.leader, L);
	/* different records at the offsets F holds its 3 at; F leaves the
	 * ISR (by lag, or at once through a controller that saw it go), then
	 * the leader and F2 commit more with acks=all */
	CU_ASSERT_EQUAL(produce_raw(c, topic, 1, "new", 0, 10, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, x);
	CU_ASSERT(epoch_at(broker(L), topic, x) >= epoch1);
	shrink = wait_isr(topic, L, two, 2, SHRINK_MS, t_stop, &info);
	fprintf(stderr, "test_replication: ISR [1,2,3] -> [1,2] %" PRId64 " ms after broker %d "
		"stopped\n", shrink, (int)F);
	CU_ASSERT(shrink >= 0);
	CU_ASSERT(offline_has(&info, F));
	CU_ASSERT_EQUAL(produce_raw(c, topic, -1, "new", 10, 10, 10000, &base, NULL),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, x + 10);

	/* F comes back: it must cut its 3 records, then fetch the 20 */
	t_start = harness_now_ms();
	CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker(F)), 0);
	snprintf(needle, sizeof(needle), "%s-0: truncated from %" PRId64 " to %" PRId64, topic,
		 x + 3, x);
	t_trunc = harness_broker_wait_log(broker(F), needle, T_MS) == 0
			  ? harness_now_ms() - t_start : -1;
	t_rejoin = wait_isr(topic, L, all, 3, REJOIN_MS, t_start, &info);
	fprintf(stderr, "test_replication: restarted follower %d: \"%s\" %" PRId64 " ms, back "
		"in the ISR %" PRId64 " ms after its start (-1: not)\n", (int)F, needle, t_trunc,
		t_rejoin);
	CU_ASSERT(t_trunc >= 0);
	CU_ASSERT(t_rejoin >= 0);
	CU_ASSERT_EQUAL(wait_replicas_identical(topic, 0, all), x + 20);
	CU_ASSERT(epoch_at(broker(F), topic, x) >= epoch1);
	/* F2 followed the new epoch live and had nothing to cut */
	snprintf(needle, sizeof(needle), "%s-0: truncated", topic);
	CU_ASSERT_FALSE(harness_broker_log_contains(broker(F2), needle));
	harness_client_close(c);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "acks=all via libbrook: 20,000 messages, 3 identical replicas",
		  test_acks_all_libbrook },
		{ "ISR shrinks and expands; NOT_ENOUGH_REPLICAS below min.insync.replicas",
		  test_isr_shrink_expand },
		{ "the high watermark bounds consumers", test_hw_bounds_consumers },
		{ "acks=all with a stopped follower: answered within its timeout",
		  test_acks_all_bounded },
		{ "a restarted follower truncates by leader epoch and rejoins",
		  test_follower_restart },
		{ NULL, NULL },
	};
	static const char *const overrides[] = {
		"min.insync.replicas=2",
		"replica.lag.time.max.ms=2000",
		/* the ensemble grants at most 10 s (tickTime 500 ms) */
		"zookeeper.session.timeout.ms=30000",
		"replica.fetch.wait.max.ms=200",
		NULL,
	};
	int64_t t0 = harness_now_ms();
	int rc;

	if (!(sent = calloc(NMSG, sizeof(*sent)))) {
		fprintf(stderr, "test_replication: out of memory\n");
		return 1;
	}
	if (harness_zk_start(3, &ens) != 0) {
		fprintf(stderr, "test_replication: cannot start ZooKeeper\n");
		free(sent);
		return 1;
	}
	fprintf(stderr, "test_replication: 3-server ZooKeeper %s up in %" PRId64 " ms\n", zk(),
		harness_now_ms() - t0);
	t0 = harness_now_ms();
	for (int32_t id = 1; id <= NBROKERS; id++)
		if (!(brokers[id - 1] = harness_broker_start(zk(), id, overrides))) {
			fprintf(stderr, "test_replication: cannot start broker %d\n", (int)id);
			harness_broker_stop_all();
			harness_zk_stop(ens);
			free(sent);
			return 1;
		}
	fprintf(stderr, "test_replication: brokers 1, 2, 3 on ports %d, %d, %d up in %" PRId64
		" ms\n", port_of(1), port_of(2), port_of(3), harness_now_ms() - t0);
	rc = harness_run("replication", tests);
	for (int i = 0; i < NBROKERS; i++)
		if (harness_broker_paused(brokers[i]))
			harness_broker_cont(brokers[i]);
	if (harness_broker_stop_all() != 0) {
		fprintf(stderr, "test_replication: a broker stopped badly or its log has a "
			"sanitizer report\n");
		rc = 1;
	}
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	free(sent);
	return rc;
}
