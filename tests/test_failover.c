/*
 * test_failover.c - failover across three real brokers (DESIGN.md,
 * "Controller" and "Replication"), a 3-server ZooKeeper ensemble, topics of
 * replication factor 3, min.insync.replicas=2, replica.lag.time.max.ms=3000:
 *
 *   1. the leader of a partition dies (kill -9) under a steady acks=all
 *      load, ten times over: a new leader serves within the session
 *      timeout, the broker comes back and rejoins every ISR; then every
 *      acknowledged message is read back at the offset its report gave,
 *      in order, without gaps, and the replicas are byte for byte the same;
 *   2. the controller dies (kill -9): another broker takes over within the
 *      session timeout, and when a leader dies next, elects its successor;
 *   3. a broker stopped (SIGSTOP) past its ZooKeeper session while leading
 *      and following: it leaves Metadata, its leaderships move; on SIGCONT
 *      it registers again, cuts the records only it had (leader epochs),
 *      catches up and rejoins the ISRs; the replicas agree;
 *   4. unclean election: with the whole ISR down, a stale replica stays
 *      out of the lead until the topic sets
 *      unclean.leader.election.enable=true; then it leads (losing what only
 *      the old leader had), and the old leader truncates when it returns;
 *   5. topic deletion (`brook topics delete`): znodes and partition folders
 *      go on every broker; the name can be used again, from offset 0;
 *   6. controlled shutdown (SIGTERM) moves leaderships before the broker
 *      exits, with a short produce pause only; `brook topics
 *      preferred-leader` gives them back once it rejoined;
 *   7. a leader that loses the lead while still running (preferred-leader
 *      election) answers the acks=all produces it holds at once
 *      (NOT_LEADER_OR_FOLLOWER, Kafka's DelayedProduce), rather than at
 *      their timeout_ms.
 *
 * Test 1 runs the brokers with 2 s ZooKeeper sessions (the ensemble allows
 * 1..10 s), so ten kills fit in the time budget; the others use 6 s.
 * Leadership moves only when a test moves it (auto.leader.rebalance.enable
 * =false), and brokers do not auto-create topics (a Metadata request for
 * the deleted topic must not bring it back).
 *
 * The producer is not idempotent: a batch written and replicated whose
 * answer was lost (the leader died, or answered NOT_LEADER_OR_FOLLOWER when
 * it lost the lead while waiting for acks=all) is sent again and then
 * stored twice. Such earlier copies of an acknowledged message are counted
 * and shown, not failed; anything else nobody acknowledged is.
 *
 * Unclean election (4) needs no other trigger than the config change: each
 * broker watches /config/topics/<t>, the change makes a new cluster view,
 * and the controller reads the topic's config again after a view change.
 * Should that not happen within 5 s, the test starts the third broker (a
 * registration is a view change too) and says so.
 *
 * Every wait is a bounded poll; figures go to stderr.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
#define MAXP 3                    /* partitions per topic, at most */
#define SESSION_FAST_MS 2000      /* test 1 */
#define SESSION_MS 6000           /* tests 2..6 */
#define T_MS 15000                /* one step's bound */
#define ELECT_SLACK_MS 10000      /* a dead broker's partitions move within
				   * session timeout + this */
#define REJOIN_MS 30000           /* a returning broker is back in every ISR */
#define SAME_MS 20000             /* replicas converge once writes stop */
#define FLUSH_MS 90000
#define CONSUME_MS 60000
#define CLI_MS 30000
#define GAP_BOUND_MS 5000         /* longest produce pause a controlled
				   * shutdown or preferred election may cause */
#define EXIT_BOUND_MS 10000       /* SIGTERM -> exit with leaderships moved */
#define OFFLINE_MS 3000           /* test 4 watches the offline partition */
#define SHOW 5                    /* details printed per kind of failure */

#define ROUNDS 10
#define RATE 800                  /* messages per second of the load */
#define MAXMSG 300000
#define NKEYS 997

static harness_zk_t *ens;
static harness_broker_t *brokers[NBROKERS]; /* broker id i + 1 */
static int session_ms;                      /* what the brokers run with */
static char session_override[64];
static const char *const overrides[] = {
	session_override,
	"min.insync.replicas=2",
	"replica.lag.time.max.ms=3000",
	"replica.fetch.wait.max.ms=200",
	/* leadership moves only when a test moves it */
	"auto.leader.rebalance.enable=false",
	/* a Metadata request for a deleted topic must not bring it back */
	"auto.create.topics.enable=false",
	NULL,
};
static const int32_t all3[NBROKERS] = { 1, 2, 3 };

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

/* Running and not paused. */
static int up(int32_t id)
{
	return harness_broker_alive(broker(id)) && !harness_broker_paused(broker(id));
}

/* The first broker that is up and neither a nor b; -1 when none. */
static int32_t other_than(int32_t a, int32_t b)
{
	for (int32_t id = 1; id <= NBROKERS; id++)
		if (id != a && id != b && up(id))
			return id;
	return -1;
}

static int complain(long *counter, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int complain(long *counter, const char *fmt, ...)
{
	va_list ap;

	if ((*counter)++ < SHOW) {
		va_start(ap, fmt);
		fprintf(stderr, "test_failover: ");
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "\n");
		va_end(ap);
	}
	return 0;
}

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int isr_has(const harness_partition_info_t *info, int32_t id)
{
	for (int i = 0; i < info->nisr; i++)
		if (info->isr[i] == id)
			return 1;
	return 0;
}

static harness_client_t *connect_to(int32_t id)
{
	harness_client_t *c = harness_client_connect(port_of(id));

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* ---- the cluster as a broker sees it ---------------------------------------- */

static brook_err_t part_info(int32_t ask, const char *topic, int32_t p,
			     harness_partition_info_t *info)
{
	harness_client_t *c = harness_client_connect(port_of(ask));
	brook_err_t err;

	if (!c) {
		memset(info, 0, sizeof(*info));
		info->leader = -1;
		return BROOK_ERR__TRANSPORT;
	}
	err = harness_partition_info(c, topic, p, 5000, info);
	harness_client_close(c);
	return err;
}

static brook_err_t cluster_info(int32_t ask, harness_cluster_info_t *ci)
{
	harness_client_t *c = harness_client_connect(port_of(ask));
	brook_err_t err;

	if (!c) {
		memset(ci, 0, sizeof(*ci));
		ci->controller = -1;
		return BROOK_ERR__TRANSPORT;
	}
	err = harness_cluster_info(c, 5000, ci);
	harness_client_close(c);
	return err;
}

/* Waits until broker `ask` names a leader for topic-p other than `not_id`
 * (-1: any). The ms it took, or -1 (last answer in *info). */
static int64_t wait_leader(int32_t ask, const char *topic, int32_t p, int32_t not_id,
			   int timeout_ms, harness_partition_info_t *info)
{
	int64_t t0 = harness_now_ms();

	for (;;) {
		brook_err_t err = part_info(ask, topic, p, info);

		if (err == BROOK_ERR_NO_ERROR && info->leader >= 0 && info->leader != not_id)
			return harness_now_ms() - t0;
		if (harness_now_ms() - t0 > timeout_ms) {
			fprintf(stderr, "test_failover: %s-%d: broker %d names leader %d (%s) "
				"after %d ms\n", topic, (int)p, (int)ask, (int)info->leader,
				brook_err_name(err), timeout_ms);
			return -1;
		}
		nap(20);
	}
}

/* Waits until `id` is (want 1) or is not (want 0) among the registered
 * brokers that `ask` lists. The ms it took, or -1. */
static int64_t wait_registered(int32_t ask, int32_t id, int want, int timeout_ms)
{
	int64_t t0 = harness_now_ms();
	harness_cluster_info_t ci;

	for (;;) {
		if (cluster_info(ask, &ci) == BROOK_ERR_NO_ERROR && harness_cluster_has(&ci, id) == want)
			return harness_now_ms() - t0;
		if (harness_now_ms() - t0 > timeout_ms) {
			fprintf(stderr, "test_failover: broker %d still %s broker %d after %d ms\n",
				(int)ask, want ? "does not list" : "lists", (int)id, timeout_ms);
			return -1;
		}
		nap(20);
	}
}

/* Waits until `ask` names a controller other than `not_id`; *ctrl gets it.
 * The ms it took, or -1. */
static int64_t wait_controller(int32_t ask, int32_t not_id, int timeout_ms, int32_t *ctrl)
{
	int64_t t0 = harness_now_ms();
	harness_cluster_info_t ci;

	for (;;) {
		if (cluster_info(ask, &ci) == BROOK_ERR_NO_ERROR && ci.controller >= 0 &&
		    ci.controller != not_id) {
			*ctrl = ci.controller;
			return harness_now_ms() - t0;
		}
		if (harness_now_ms() - t0 > timeout_ms) {
			fprintf(stderr, "test_failover: broker %d names controller %d after %d ms\n",
				(int)ask, (int)ci.controller, timeout_ms);
			*ctrl = ci.controller;
			return -1;
		}
		nap(20);
	}
}

/* Waits until every partition of the topic has the ISR {1,2,3} as an up
 * broker sees it. The ms it took, or -1. */
static int64_t wait_full_isr(const char *topic, int32_t partitions, int timeout_ms)
{
	int64_t t0 = harness_now_ms();
	int32_t ask = other_than(-1, -1);

	if (ask < 0)
		return -1;
	for (int32_t p = 0; p < partitions; p++) {
		int64_t left = timeout_ms - (harness_now_ms() - t0);

		if (harness_partition_wait_isr(port_of(ask), topic, p, all3, NBROKERS,
					       left > 0 ? (int)left : 1, NULL) != 0)
			return -1;
	}
	return harness_now_ms() - t0;
}

/* Every broker registered and a controller named, as broker 1 sees it. */
static int64_t wait_cluster(int timeout_ms)
{
	int64_t t0 = harness_now_ms();
	harness_cluster_info_t ci;

	for (;;) {
		if (cluster_info(1, &ci) == BROOK_ERR_NO_ERROR && ci.nbrokers == NBROKERS &&
		    ci.controller >= 1)
			return harness_now_ms() - t0;
		if (harness_now_ms() - t0 > timeout_ms) {
			fprintf(stderr, "test_failover: broker 1 sees %d brokers and controller %d "
				"after %d ms\n", ci.nbrokers, (int)ci.controller, timeout_ms);
			return -1;
		}
		nap(20);
	}
}

/* ---- the load: a libbrook producer on its own thread ------------------------- */

/* What the delivery report said about message i (msgs[i]). */
typedef struct msg {
	int reports;
	brook_err_t err;
	int32_t partition;
	int64_t offset;
} msg_t;

typedef struct load {
	pthread_mutex_t mu;
	pthread_t thread;
	int running;
	int stop;                       /* under mu */
	brook_producer_t *prod;
	const char *topic;
	int first, n;                   /* messages first..n-1 queued */
	long acked, failed;             /* under mu, as the rest below */
	long acks_p[MAXP];
	int64_t last_ack[MAXP];         /* when the last report of p came */
	int64_t gap_max[MAXP];          /* longest wait between two, since a reset */
	int64_t mark[MAXP];             /* first_after[p]: first report at or after */
	int64_t first_after[MAXP];
	brook_err_t flush_err;
	long produce_err;
	int64_t t_start, t_stop;
} load_t;

static msg_t *msgs;
static load_t load = { .mu = PTHREAD_MUTEX_INITIALIZER };

static size_t make_key(int i, char *buf, size_t size)
{
	return (size_t)snprintf(buf, size, "key-%d", i % NKEYS);
}

/* The index first, so a consumed value names its message; 0..99 bytes of
 * padding so batches hold records of varied sizes. */
static size_t make_value(int i, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "m-%07d-", i);
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

	if (!v || len < 10 || v[0] != 'm' || v[1] != '-' || v[9] != '-')
		return -1;
	for (int k = 2; k < 9; k++) {
		if (v[k] < '0' || v[k] > '9')
			return -1;
		idx = idx * 10 + (v[k] - '0');
	}
	return idx < MAXMSG ? idx : -1;
}

static int same_bytes(const void *a, size_t alen, const char *b, size_t blen)
{
	return a && alen == blen && memcmp(a, b, blen) == 0;
}

static void on_delivery(brook_err_t err, const char *topic, int32_t partition, int64_t offset,
			const void *key, size_t key_len, const void *value, size_t value_len,
			void *opaque)
{
	msg_t *m = opaque;
	int64_t now = harness_now_ms();

	(void)topic;
	(void)key;
	(void)key_len;
	(void)value;
	(void)value_len;
	pthread_mutex_lock(&load.mu);
	m->reports++;
	m->err = err;
	m->partition = partition;
	m->offset = offset;
	if (err) {
		load.failed++;
	} else {
		load.acked++;
		if (partition >= 0 && partition < MAXP) {
			int32_t p = partition;

			load.acks_p[p]++;
			if (load.last_ack[p] > 0 && now - load.last_ack[p] > load.gap_max[p])
				load.gap_max[p] = now - load.last_ack[p];
			load.last_ack[p] = now;
			if (load.first_after[p] < 0 && now >= load.mark[p])
				load.first_after[p] = now;
		}
	}
	pthread_mutex_unlock(&load.mu);
}

static brook_producer_t *producer_new(const char *const *kv)
{
	brook_conf_t *conf = brook_conf_new();
	brook_producer_t *p;
	char servers[128], errstr[256] = "";
	static const char *const base[] = {
		"acks", "all",
		"delivery.timeout.ms", "60000",
		/* a paused leader holds a request until this; then retry */
		"request.timeout.ms", "5000",
		"linger.ms", "5",
		NULL,
	};

	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", port_of(1),
		 port_of(2), port_of(3));
	if (brook_conf_set(conf, "bootstrap.servers", servers, errstr, sizeof(errstr)))
		goto bad;
	for (int i = 0; base[i]; i += 2)
		if (brook_conf_set(conf, base[i], base[i + 1], errstr, sizeof(errstr)))
			goto bad;
	for (int i = 0; kv && kv[i]; i += 2)
		if (brook_conf_set(conf, kv[i], kv[i + 1], errstr, sizeof(errstr)))
			goto bad;
	p = brook_producer_new(conf, errstr, sizeof(errstr));
	brook_conf_free(conf);
	if (!p)
		fprintf(stderr, "test_failover: brook_producer_new: %s\n", errstr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
bad:
	fprintf(stderr, "test_failover: %s\n", errstr);
	brook_conf_free(conf);
	CU_FAIL_FATAL("brook_conf_set");
	return NULL;
}

/* Queues message i; _QUEUE_FULL is returned, not waited out. */
static brook_err_t produce_msg(brook_producer_t *p, const char *topic, int i)
{
	char k[32], v[160];
	size_t kl = make_key(i, k, sizeof(k)), vl = make_value(i, v, sizeof(v));

	return brook_produce(p, topic, BROOK_PARTITION_UA, k, kl, v, vl, 0, on_delivery, &msgs[i]);
}

/* RATE messages a second, keyed, until told to stop; then a flush. */
static void *load_main(void *arg)
{
	load_t *l = arg;

	for (;;) {
		int64_t due;
		int stop, burst = 0;

		pthread_mutex_lock(&l->mu);
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		if (stop)
			break;
		due = l->first + (harness_now_ms() - l->t_start) * RATE / 1000;
		while (l->n < due && l->n < MAXMSG && burst++ < 200) {
			brook_err_t err = produce_msg(l->prod, l->topic, l->n);

			if (err == BROOK_ERR__QUEUE_FULL)
				break;
			if (err) {
				if (l->produce_err++ < SHOW)
					fprintf(stderr, "test_failover: brook_produce(%d): %s\n",
						l->n, brook_err_name(err));
				break;
			}
			l->n++;
		}
		brook_poll(l->prod, 5);
	}
	l->t_stop = harness_now_ms();
	l->flush_err = brook_producer_flush(l->prod, FLUSH_MS);
	return NULL;
}

static void load_reset_stats(void)
{
	pthread_mutex_lock(&load.mu);
	load.acked = load.failed = 0;
	for (int p = 0; p < MAXP; p++) {
		load.acks_p[p] = 0;
		load.last_ack[p] = 0;
		load.gap_max[p] = 0;
		load.mark[p] = INT64_MAX;
		load.first_after[p] = -1;
	}
	pthread_mutex_unlock(&load.mu);
}

/* Starts the load on `topic` with messages first.. and waits until every
 * partition has acknowledged some. */
static void load_start(const char *topic, int32_t partitions, int first)
{
	int64_t deadline;
	int warm = 0;

	CU_ASSERT_FATAL(!load.running);
	memset(msgs, 0, MAXMSG * sizeof(*msgs));
	load_reset_stats();
	load.topic = topic;
	load.first = load.n = first;
	load.stop = 0;
	load.produce_err = 0;
	load.flush_err = BROOK_ERR_NO_ERROR;
	load.prod = producer_new(NULL);
	load.t_start = harness_now_ms();
	CU_ASSERT_EQUAL_FATAL(pthread_create(&load.thread, NULL, load_main, &load), 0);
	load.running = 1;
	for (deadline = harness_now_ms() + T_MS; !warm && harness_now_ms() < deadline;) {
		nap(20);
		pthread_mutex_lock(&load.mu);
		warm = 1;
		for (int32_t p = 0; p < partitions; p++)
			warm = warm && load.acks_p[p] > 0;
		pthread_mutex_unlock(&load.mu);
	}
	CU_ASSERT_FATAL(warm);
}

/* Stops the load: flush (every message gets its report), free. */
static void load_stop(void)
{
	int64_t t0 = harness_now_ms();

	if (!load.running)
		return;
	pthread_mutex_lock(&load.mu);
	load.stop = 1;
	pthread_mutex_unlock(&load.mu);
	pthread_join(load.thread, NULL);
	load.running = 0;
	brook_producer_free(load.prod);
	load.prod = NULL;
	fprintf(stderr, "test_failover: load on %s: %d messages in %" PRId64 " ms, %ld "
		"acknowledged, %ld failed; flush %s in %" PRId64 " ms\n", load.topic,
		load.n - load.first, load.t_stop - load.t_start, load.acked, load.failed,
		brook_err_name(load.flush_err), harness_now_ms() - t0);
	CU_ASSERT_EQUAL(load.flush_err, BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(load.produce_err, 0);
}

/* Forgets the longest pause of partition p: it is measured from now. */
static void load_gap_reset(int32_t p)
{
	pthread_mutex_lock(&load.mu);
	load.gap_max[p] = 0;
	load.last_ack[p] = harness_now_ms();
	pthread_mutex_unlock(&load.mu);
}

static int64_t load_gap(int32_t p)
{
	int64_t g;

	pthread_mutex_lock(&load.mu);
	g = load.gap_max[p];
	pthread_mutex_unlock(&load.mu);
	return g;
}

/* Watches for the first acknowledgement of p at or after `t`. */
static void load_mark(int32_t p, int64_t t)
{
	pthread_mutex_lock(&load.mu);
	load.first_after[p] = -1;
	load.mark[p] = t;
	pthread_mutex_unlock(&load.mu);
}

/* Waits for it: its time, or -1. */
static int64_t load_wait_mark(int32_t p, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms, t;

	for (;;) {
		pthread_mutex_lock(&load.mu);
		t = load.first_after[p];
		pthread_mutex_unlock(&load.mu);
		if (t >= 0 || harness_now_ms() >= deadline)
			return t;
		nap(10);
	}
}

/* A test that failed half-way may leave the load running, a broker paused
 * or stopped: the next one starts from three running brokers. */
static void heal(void)
{
	load_stop();
	for (int i = 0; i < NBROKERS; i++) {
		if (harness_broker_paused(brokers[i]))
			harness_broker_cont(brokers[i]);
		if (!harness_broker_alive(brokers[i]) && harness_broker_resume(brokers[i]) != 0)
			fprintf(stderr, "test_failover: broker %d does not start again\n", i + 1);
	}
	CU_ASSERT_FATAL(wait_cluster(30000) >= 0);
}

/* Runs the brokers with ZooKeeper sessions of `ms`: each stops (cleanly)
 * and starts again with the new setting, data kept. */
static void set_session(int ms)
{
	int64_t t0 = harness_now_ms();

	heal();
	if (session_ms == ms)
		return;
	snprintf(session_override, sizeof(session_override), "zookeeper.session.timeout.ms=%d",
		 ms);
	for (int i = 0; i < NBROKERS; i++) {
		CU_ASSERT_EQUAL(harness_broker_stop(brokers[i]), 0);
		CU_ASSERT_EQUAL_FATAL(harness_broker_set_overrides(brokers[i], overrides), 0);
	}
	for (int i = 0; i < NBROKERS; i++)
		CU_ASSERT_EQUAL_FATAL(harness_broker_resume(brokers[i]), 0);
	session_ms = ms;
	CU_ASSERT_FATAL(wait_cluster(30000) >= 0);
	fprintf(stderr, "test_failover: brokers restarted with %d ms ZooKeeper sessions in %"
		PRId64 " ms\n", ms, harness_now_ms() - t0);
}

/* ---- topics ------------------------------------------------------------------ */

/* The replica list of a partition led by `leader`: leader, then the next
 * ids round the ring. */
static void ring_from(int32_t leader, int32_t ids[NBROKERS])
{
	for (int i = 0; i < NBROKERS; i++)
		ids[i] = (leader - 1 + i) % NBROKERS + 1;
}

/* Waits until each partition is led by its first replica `first[p]` and
 * has the whole ISR. */
static void wait_topic_ready(const char *topic, int32_t partitions, const int32_t *first)
{
	int64_t t0 = harness_now_ms();

	for (int32_t p = 0; p < partitions; p++) {
		harness_partition_info_t info;

		CU_ASSERT_EQUAL_FATAL(harness_topic_wait_leaders(port_of(first[p]), topic,
								 partitions, T_MS), 0);
		CU_ASSERT_EQUAL_FATAL(harness_partition_wait_isr(port_of(first[p]), topic, p, all3,
								 NBROKERS, T_MS, &info), 0);
		CU_ASSERT_EQUAL(info.leader, first[p]);
		CU_ASSERT_EQUAL(info.nreplicas, NBROKERS);
	}
	fprintf(stderr, "test_failover: topic %s: %d partitions led and fully in sync in %"
		PRId64 " ms\n", topic, (int)partitions, harness_now_ms() - t0);
}

/* Replication factor 3; partition p's replicas are the ring starting at
 * `leader` + p. */
static void create_topic(const char *topic, int32_t partitions, int32_t leader)
{
	int32_t ids[NBROKERS], first[MAXP];

	ring_from(leader, ids);
	CU_ASSERT_EQUAL_FATAL(harness_topic_create_zk(zk(), topic, partitions, NBROKERS, ids,
						      NBROKERS), 0);
	for (int32_t p = 0; p < partitions; p++)
		first[p] = ids[p % NBROKERS];
	wait_topic_ready(topic, partitions, first);
}

/* ---- replicas on disk ------------------------------------------------------- */

typedef struct log_scan {
	int64_t next_offset;  /* one past the last whole batch */
	size_t batches, whole_bytes;
	int64_t records;
	int bad;              /* a batch failed its check or offsets jump */
} log_scan_t;

/* Walks the batches of a replica's concatenated segments: every whole
 * batch must verify (header, length, CRC-32C) and start where the one
 * before ended. */
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
		    h.base_offset != s->next_offset) {
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

/* Waits until the three replicas of topic-p hold the same bytes, the
 * leader's log end and high watermark both at their end, every batch
 * valid and the offsets contiguous from 0. Returns the log end, or -1. */
static int64_t replicas_identical(const char *topic, int32_t p)
{
	int64_t t0 = harness_now_ms(), deadline = t0 + SAME_MS, leo = -1, hw = -1;
	uint8_t *logs[NBROKERS] = { NULL };
	size_t lens[NBROKERS] = { 0 };
	harness_partition_info_t info;
	int32_t leader = -1;
	log_scan_t scan;
	int same = 0;

	memset(&scan, 0, sizeof(scan));
	for (;;) {
		harness_client_t *c;

		same = part_info(other_than(-1, -1), topic, p, &info) == BROOK_ERR_NO_ERROR &&
		       info.leader >= 1 && up(info.leader);
		leader = info.leader;
		for (int i = 0; i < NBROKERS; i++) {
			free(logs[i]);
			logs[i] = harness_broker_partition_log(brokers[i], topic, p, &lens[i]);
			if (!logs[i] || lens[i] != lens[0] ||
			    (i > 0 && memcmp(logs[i], logs[0], lens[0]) != 0))
				same = 0;
		}
		if (same && (c = harness_client_connect(port_of(leader)))) {
			if (harness_list_offset_replica(c, topic, p, leader, PROTO_TS_LATEST, T_MS,
							&leo) != BROOK_ERR_NO_ERROR ||
			    harness_list_offset(c, topic, p, PROTO_TS_LATEST, T_MS, &hw) !=
				    BROOK_ERR_NO_ERROR)
				same = 0;
			harness_client_close(c);
			scan_log(logs[0], lens[0], &scan);
			if (!same || scan.whole_bytes != lens[0] || scan.next_offset != leo ||
			    hw != leo)
				same = 0;
			else
				break;
		} else {
			same = 0;
		}
		if (harness_now_ms() >= deadline)
			break;
		nap(50);
	}
	if (!same) {
		fprintf(stderr, "test_failover: %s-%d: replicas differ after %d ms: leader %d log "
			"end %" PRId64 ", high watermark %" PRId64 "\n", topic, (int)p, SAME_MS,
			(int)leader, leo, hw);
		for (int i = 0; i < NBROKERS; i++) {
			size_t d = 0;

			if (logs[i] && logs[0])
				while (d < lens[i] && d < lens[0] && logs[i][d] == logs[0][d])
					d++;
			scan_log(logs[i] ? logs[i] : (const uint8_t *)"", logs[i] ? lens[i] : 0,
				 &scan);
			fprintf(stderr, "test_failover:   broker %d: %zu bytes, %zu batches to "
				"offset %" PRId64 "%s, same as broker 1's for %zu bytes\n", i + 1,
				lens[i], scan.batches, scan.next_offset,
				scan.bad ? " (then a bad batch)" : "", d);
		}
	} else {
		fprintf(stderr, "test_failover: %s-%d: 3 identical replicas (leader %d) after %"
			PRId64 " ms: %zu batches, %" PRId64 " records, %zu bytes, crc32c %08x\n",
			topic, (int)p, (int)leader, harness_now_ms() - t0, scan.batches,
			scan.records, lens[0], crc32c(0, logs[0], lens[0]));
		CU_ASSERT_FALSE(scan.bad);
		CU_ASSERT_EQUAL(scan.records, leo); /* no gaps: records 0..leo-1 */
	}
	CU_ASSERT(same);
	for (int i = 0; i < NBROKERS; i++)
		free(logs[i]);
	return same ? leo : -1;
}

/* ---- probes: single raw produces that time a failover -------------------------- */

typedef struct probe {
	int32_t partition;
	int64_t offset;
	char key[32];
} probe_t;

static probe_t probes[ROUNDS + 8];
static int nprobes;

/* One record "<prefix>-k0" to topic-p with acks=all on broker `leader`,
 * retried (new connection on transport errors) until acknowledged or
 * timeout_ms: the ms it took, or -1. Registered as a probe. */
static int64_t probe(const char *topic, int32_t p, int32_t leader, const char *prefix,
		     int timeout_ms)
{
	int64_t t0 = harness_now_ms(), base = -1;
	harness_client_t *c = NULL;
	brook_err_t err = BROOK_ERR__TRANSPORT;
	size_t len;
	uint8_t *batch = harness_batch_simple(prefix, 0, 1, 40, 0, &len);
	int tries = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	while (harness_now_ms() - t0 < timeout_ms) {
		if (!c && !(c = harness_client_connect(port_of(leader)))) {
			nap(20);
			continue;
		}
		tries++;
		err = harness_produce(c, topic, p, -1, batch, len, T_MS, &base);
		if (err == BROOK_ERR_NO_ERROR)
			break;
		if (err < 0) {
			harness_client_close(c);
			c = NULL;
		}
		nap(20);
	}
	harness_client_close(c);
	free(batch);
	if (err != BROOK_ERR_NO_ERROR) {
		fprintf(stderr, "test_failover: probe %s to broker %d: %s after %d tries\n", prefix,
			(int)leader, brook_err_name(err), tries);
		return -1;
	}
	if (nprobes < (int)(sizeof(probes) / sizeof(probes[0]))) {
		probes[nprobes].partition = p;
		probes[nprobes].offset = base;
		snprintf(probes[nprobes].key, sizeof(probes[nprobes].key), "%s-k0", prefix);
		nprobes++;
	}
	return harness_now_ms() - t0;
}

/* ---- checking what was produced ------------------------------------------------ */

/* Every message of [first, n) has exactly one report, a success; per
 * partition the offsets grow in production order; a key keeps its
 * partition. Returns the acknowledged count. */
static long check_reports(int first, int n)
{
	int32_t key_part[NKEYS];
	int64_t last[MAXP] = { -1, -1, -1 };
	long bad_report = 0, bad_order = 0, bad_key = 0, ok = 0;

	for (int k = 0; k < NKEYS; k++)
		key_part[k] = -1;
	for (int i = first; i < n; i++) {
		const msg_t *m = &msgs[i];

		if (m->reports != 1 || m->err != BROOK_ERR_NO_ERROR || m->partition < 0 ||
		    m->partition >= MAXP) {
			complain(&bad_report, "message %d: %d reports, %s, partition %d", i,
				 m->reports, brook_err_name(m->err), (int)m->partition);
			continue;
		}
		ok++;
		if (m->offset <= last[m->partition])
			complain(&bad_order, "message %d: partition %d offset %" PRId64 " after %"
				 PRId64, i, (int)m->partition, m->offset, last[m->partition]);
		last[m->partition] = m->offset;
		if (key_part[i % NKEYS] < 0)
			key_part[i % NKEYS] = m->partition;
		else if (key_part[i % NKEYS] != m->partition)
			complain(&bad_key, "key-%d went to partitions %d and %d", i % NKEYS,
				 (int)key_part[i % NKEYS], (int)m->partition);
	}
	CU_ASSERT_EQUAL(bad_report, 0);
	CU_ASSERT_EQUAL(bad_order, 0);
	CU_ASSERT_EQUAL(bad_key, 0);
	return ok;
}

/* What a read of the whole topic found. */
typedef struct readback {
	long total, probes, dups, strays, missing, bad_order, bad_content, bad_event;
	int64_t ms;
} readback_t;

/* Reads topic from the beginning through libbrook up to end[p] of each
 * partition, then checks: offsets contiguous; each record one of our
 * messages with its exact key and value, or a registered probe; every
 * acknowledged message of [first, n) at the offset its report gave, the
 * acknowledged ones in production order. Records nobody acknowledged
 * there are counted: dups are earlier copies of an acknowledged message
 * of the same partition (a retried batch whose first answer was lost: the
 * producer is not idempotent), strays anything else. */
static void read_back(const char *topic, int32_t partitions, const int64_t *end, int first,
		      int n, readback_t *rb)
{
	static const char *const kv[] = { "auto.offset.reset", "earliest", NULL };
	brook_conf_t *conf = brook_conf_new();
	brook_consumer_t *c;
	char servers[128], errstr[256] = "";
	int64_t next[MAXP] = { 0 }, eof[MAXP] = { -1, -1, -1 }, t0, deadline;
	int32_t *at[MAXP] = { NULL };
	int done = 0;

	memset(rb, 0, sizeof(*rb));
	CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", port_of(1),
		 port_of(2), port_of(3));
	CU_ASSERT_EQUAL_FATAL(brook_conf_set(conf, "bootstrap.servers", servers, errstr,
					     sizeof(errstr)), BROOK_ERR_NO_ERROR);
	for (int i = 0; kv[i]; i += 2)
		CU_ASSERT_EQUAL_FATAL(brook_conf_set(conf, kv[i], kv[i + 1], errstr,
						     sizeof(errstr)), BROOK_ERR_NO_ERROR);
	c = brook_consumer_new(conf, errstr, sizeof(errstr));
	brook_conf_free(conf);
	if (!c)
		fprintf(stderr, "test_failover: brook_consumer_new: %s\n", errstr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int32_t p = 0; p < partitions; p++) {
		at[p] = malloc((size_t)(end[p] + 1) * sizeof(*at[p]));
		CU_ASSERT_PTR_NOT_NULL_FATAL(at[p]);
		for (int64_t o = 0; o <= end[p]; o++)
			at[p][o] = -1;
	}
	t0 = harness_now_ms();
	CU_ASSERT_EQUAL(brook_consumer_assign(c, topic, -1, BROOK_OFFSET_BEGINNING, errstr,
					      sizeof(errstr)), BROOK_ERR_NO_ERROR);
	deadline = t0 + CONSUME_MS;
	while (!done && harness_now_ms() < deadline) {
		brook_message_t *m;
		int32_t p;
		int idx;

		if (brook_consumer_poll(c, 200, &m) != BROOK_ERR_NO_ERROR)
			continue;
		p = m->partition;
		if (m->err == BROOK_ERR__PARTITION_EOF && p >= 0 && p < partitions) {
			eof[p] = m->offset;
		} else if (m->err) {
			complain(&rb->bad_event, "consumer event on partition %d: %s: %s", (int)p,
				 brook_err_name(m->err), m->errstr ? m->errstr : "");
		} else if (p < 0 || p >= partitions || m->offset < 0 || m->offset >= end[p]) {
			complain(&rb->bad_content, "record on partition %d at offset %" PRId64
				 " (end %" PRId64 ")", (int)p, m->offset,
				 p >= 0 && p < partitions ? end[p] : -1);
		} else {
			rb->total++;
			if (m->offset != next[p])
				complain(&rb->bad_order, "partition %d: offset %" PRId64 " after %"
					 PRId64, (int)p, m->offset, next[p] - 1);
			next[p] = m->offset + 1;
			if ((idx = value_index(m->value, m->value_len)) >= 0) {
				char k[32], v[160];
				size_t kl = make_key(idx, k, sizeof(k));
				size_t vl = make_value(idx, v, sizeof(v));

				if (!same_bytes(m->key, m->key_len, k, kl) ||
				    !same_bytes(m->value, m->value_len, v, vl))
					complain(&rb->bad_content, "partition %d offset %" PRId64
						 ": message %d garbled", (int)p, m->offset, idx);
				else
					at[p][m->offset] = idx;
			} else {
				int found = 0;

				for (int i = 0; i < nprobes && !found; i++)
					found = probes[i].partition == p &&
						probes[i].offset == m->offset &&
						same_bytes(m->key, m->key_len, probes[i].key,
							   strlen(probes[i].key));
				if (found)
					rb->probes++;
				else
					complain(&rb->strays, "partition %d offset %" PRId64 ": a "
						 "record nobody acknowledged (key %.*s)", (int)p,
						 m->offset, m->key ? (int)m->key_len : 4,
						 m->key ? (const char *)m->key : "null");
			}
		}
		brook_message_free(m);
		done = 1;
		for (int32_t i = 0; i < partitions; i++)
			done = done && next[i] >= end[i] && eof[i] == end[i];
	}
	rb->ms = harness_now_ms() - t0;
	brook_consumer_free(c);
	for (int32_t p = 0; p < partitions; p++) {
		int last = -1;

		if (next[p] != end[p] || eof[p] != end[p])
			fprintf(stderr, "test_failover: partition %d: read to %" PRId64 ", want %"
				PRId64 ", end event at %" PRId64 "\n", (int)p, next[p], end[p],
				eof[p]);
		CU_ASSERT_EQUAL(next[p], end[p]);
		CU_ASSERT_EQUAL(eof[p], end[p]);
		for (int64_t o = 0; o < next[p]; o++) {
			int idx = at[p][o];

			if (idx < 0)
				continue;
			if (idx >= first && idx < n && msgs[idx].err == BROOK_ERR_NO_ERROR &&
			    msgs[idx].reports == 1 && msgs[idx].partition == p) {
				if (msgs[idx].offset == o) {
					if (idx <= last)
						complain(&rb->bad_order, "partition %d: message %d "
							 "at %" PRId64 " after message %d", (int)p,
							 idx, o, last);
					last = idx;
					continue;
				}
				if (msgs[idx].offset > o) {
					rb->dups++;
					continue;
				}
			}
			complain(&rb->strays, "partition %d offset %" PRId64 ": message %d, which "
				 "was not acknowledged there", (int)p, o, idx);
		}
	}
	for (int i = first; i < n; i++) {
		const msg_t *m = &msgs[i];

		if (m->reports != 1 || m->err != BROOK_ERR_NO_ERROR)
			continue;
		if (m->partition < 0 || m->partition >= partitions || m->offset < 0 ||
		    m->offset >= next[m->partition] || at[m->partition][m->offset] != i)
			complain(&rb->missing, "acknowledged message %d (partition %d offset %"
				 PRId64 ") is not there", i, (int)m->partition, m->offset);
	}
	for (int32_t p = 0; p < partitions; p++)
		free(at[p]);
	fprintf(stderr, "test_failover: read back %ld records of %s in %" PRId64 " ms: %ld "
		"probes, %ld earlier copies of retried messages, %ld strays, %ld missing\n",
		rb->total, topic, rb->ms, rb->probes, rb->dups, rb->strays, rb->missing);
	CU_ASSERT_EQUAL(rb->missing, 0);
	CU_ASSERT_EQUAL(rb->strays, 0);
	CU_ASSERT_EQUAL(rb->bad_order, 0);
	CU_ASSERT_EQUAL(rb->bad_content, 0);
	CU_ASSERT_EQUAL(rb->bad_event, 0);
}

/* Replicas identical, then everything read back; returns the readback. */
static void verify_topic(const char *topic, int32_t partitions, int first, int n,
			 readback_t *rb)
{
	int64_t end[MAXP];

	for (int32_t p = 0; p < partitions; p++) {
		end[p] = replicas_identical(topic, p);
		CU_ASSERT_FATAL(end[p] >= 0);
	}
	read_back(topic, partitions, end, first, n, rb);
}

/* Produces messages [first, first + n) through a producer of its own and
 * flushes; the acknowledged count. */
static long produce_sync(const char *topic, int first, int n)
{
	brook_producer_t *p = producer_new(NULL);
	int64_t t0 = harness_now_ms();
	long ok;

	load_reset_stats();
	memset(msgs + first, 0, (size_t)n * sizeof(*msgs));
	for (int i = first; i < first + n; i++) {
		int64_t deadline = harness_now_ms() + T_MS;
		brook_err_t err;

		while ((err = produce_msg(p, topic, i)) == BROOK_ERR__QUEUE_FULL &&
		       harness_now_ms() < deadline)
			brook_poll(p, 50);
		CU_ASSERT_EQUAL(err, BROOK_ERR_NO_ERROR);
	}
	CU_ASSERT_EQUAL(brook_producer_flush(p, FLUSH_MS), BROOK_ERR_NO_ERROR);
	brook_producer_free(p);
	ok = check_reports(first, first + n);
	fprintf(stderr, "test_failover: %d messages to %s with acks=all in %" PRId64 " ms, %ld "
		"acknowledged\n", n, topic, harness_now_ms() - t0, ok);
	return ok;
}

/* ---- 1. leader kill -9 under load, ten times ------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_leader_kill9(void)
{
	const char *topic = "fo";
	int64_t to_leader[ROUNDS], to_ack[ROUNDS];
	int rounds = 0;
	long ok;
	readback_t rb;

	set_session(SESSION_FAST_MS);
	nprobes = 0;
	create_topic(topic, 3, 1);
	load_start(topic, 3, 0);
	for (int r = 0; r < ROUNDS; r++) {
		int32_t p = r % 3, old, ask;
		harness_partition_info_t before, after;
		int64_t t_kill, t_leader, t_ack, t_lib, gap, t_up, t_isr;
		char prefix[16];

		CU_ASSERT_EQUAL_FATAL(part_info(other_than(-1, -1), topic, p, &before),
				      BROOK_ERR_NO_ERROR);
		old = before.leader;
		CU_ASSERT_FATAL(old >= 1 && old <= NBROKERS);
		load_gap_reset(p);
		t_kill = harness_now_ms();
		CU_ASSERT_EQUAL_FATAL(harness_broker_kill9(broker(old)), 0);
		ask = other_than(old, -1);
		t_leader = wait_leader(ask, topic, p, old, SESSION_FAST_MS + ELECT_SLACK_MS, &after);
		CU_ASSERT_FATAL(t_leader >= 0);
		/* a clean election: from the ISR, in a new epoch */
		CU_ASSERT(isr_has(&before, after.leader));
		CU_ASSERT(after.leader_epoch > before.leader_epoch);
		CU_ASSERT_FALSE(isr_has(&after, old));
		load_mark(p, t_kill + t_leader);
		snprintf(prefix, sizeof(prefix), "probe%02d", r);
		CU_ASSERT_FATAL(probe(topic, p, after.leader, prefix, T_MS) >= 0);
		t_ack = harness_now_ms() - t_kill;
		t_lib = load_wait_mark(p, T_MS);
		CU_ASSERT(t_lib >= 0);
		gap = load_gap(p);
		/* the broker comes back with its data and follows */
		t_up = harness_now_ms();
		CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker(old)), 0);
		t_up = harness_now_ms() - t_up;
		t_isr = wait_full_isr(topic, 3, REJOIN_MS);
		CU_ASSERT_FATAL(t_isr >= 0);
		fprintf(stderr, "test_failover: round %d: %s-%d leader %d killed: leader %d "
			"(epoch %d -> %d) after %" PRId64 " ms, first acks=all produce acknowledged "
			"%" PRId64 " ms after the kill (libbrook %" PRId64 " ms, its longest pause "
			"%" PRId64 " ms); broker %d serving again in %" PRId64 " ms, ISRs full %"
			PRId64 " ms later\n", r + 1, topic, (int)p, (int)old, (int)after.leader,
			(int)before.leader_epoch, (int)after.leader_epoch, t_leader, t_ack,
			t_lib >= 0 ? t_lib - t_kill : -1, gap, (int)old, t_up, t_isr);
		to_leader[rounds] = t_leader;
		to_ack[rounds] = t_ack;
		rounds++;
		CU_ASSERT(t_ack <= SESSION_FAST_MS + ELECT_SLACK_MS);
	}
	load_stop();
	/* 2 s sessions on a busy machine: say so if a survivor lost one */
	for (int32_t id = 1; id <= NBROKERS; id++)
		if (harness_broker_log_contains(broker(id), "ZooKeeper session expired"))
			fprintf(stderr, "test_failover: note: broker %d's current run lost its "
				"ZooKeeper session on the way\n", (int)id);
	if (rounds > 0) {
		qsort(to_leader, (size_t)rounds, sizeof(int64_t), cmp_i64);
		qsort(to_ack, (size_t)rounds, sizeof(int64_t), cmp_i64);
		fprintf(stderr, "test_failover: %d kills with %d ms sessions: kill -> new leader "
			"min %" PRId64 " median %" PRId64 " max %" PRId64 " ms; kill -> first "
			"acknowledged produce min %" PRId64 " median %" PRId64 " max %" PRId64
			" ms\n", rounds, SESSION_FAST_MS, to_leader[0], to_leader[rounds / 2],
			to_leader[rounds - 1], to_ack[0], to_ack[rounds / 2], to_ack[rounds - 1]);
	}
	CU_ASSERT_EQUAL(rounds, ROUNDS);
	ok = check_reports(load.first, load.n);
	CU_ASSERT_EQUAL(ok, load.n - load.first);
	CU_ASSERT_EQUAL(load.failed, 0);
	verify_topic(topic, 3, load.first, load.n, &rb);
	CU_ASSERT_EQUAL(rb.probes, nprobes);
	CU_ASSERT_EQUAL(rb.total, ok + rb.probes + rb.dups);
}

/* ---- 2. controller kill -9 --------------------------------------------------------- */

static void test_controller_kill9(void)
{
	const char *topic = "ctl";
	harness_cluster_info_t ci;
	harness_partition_info_t info0, info1;
	harness_client_t *c;
	int32_t ctrl, nc = -1, nc2 = -1, x = -1, px = -1, third;
	int64_t t_kill, t_ctrl, t_gone, t_elect, t_up, t_isr, base;
	size_t len;
	uint8_t *batch;

	set_session(SESSION_MS);
	create_topic(topic, 3, 1);
	CU_ASSERT_EQUAL_FATAL(cluster_info(1, &ci), BROOK_ERR_NO_ERROR);
	ctrl = ci.controller;
	CU_ASSERT_FATAL(ctrl >= 1 && ctrl <= NBROKERS);

	t_kill = harness_now_ms();
	CU_ASSERT_EQUAL_FATAL(harness_broker_kill9(broker(ctrl)), 0);
	t_ctrl = wait_controller(other_than(ctrl, -1), ctrl, SESSION_MS + ELECT_SLACK_MS, &nc);
	t_gone = wait_registered(other_than(ctrl, -1), ctrl, 0, T_MS);
	t_gone = t_gone >= 0 ? harness_now_ms() - t_kill : -1;
	fprintf(stderr, "test_failover: controller %d killed: broker %d is the controller %"
		PRId64 " ms later (broker %d unregistered by %" PRId64 " ms; session %d ms)\n",
		(int)ctrl, (int)nc, t_ctrl, (int)ctrl, t_gone, SESSION_MS);
	CU_ASSERT_FATAL(t_ctrl >= 0);
	CU_ASSERT(nc != ctrl && nc >= 1 && nc <= NBROKERS);
	CU_ASSERT(t_ctrl <= SESSION_MS + ELECT_SLACK_MS);
	/* both survivors agree */
	third = other_than(ctrl, nc);
	CU_ASSERT_FATAL(third >= 1);
	CU_ASSERT(wait_controller(third, ctrl, T_MS, &nc2) >= 0);
	CU_ASSERT_EQUAL(nc2, nc);
	/* the dead controller's leaderships moved */
	for (int32_t p = 0; p < 3; p++)
		CU_ASSERT(wait_leader(nc, topic, p, ctrl, T_MS, &info0) >= 0);

	/* a leader dies next: one that is not the new controller, so the
	 * new controller elects its successor */
	x = third;
	for (int32_t p = 0; p < 3 && px < 0; p++)
		if (part_info(nc, topic, p, &info0) == BROOK_ERR_NO_ERROR && info0.leader == x)
			px = p;
	if (px < 0) { /* x leads nothing: the new controller's own partition then */
		x = nc;
		for (int32_t p = 0; p < 3 && px < 0; p++)
			if (part_info(nc, topic, p, &info0) == BROOK_ERR_NO_ERROR &&
			    info0.leader == x)
				px = p;
		fprintf(stderr, "test_failover: broker %d leads nothing; killing the new "
			"controller %d instead\n", (int)third, (int)nc);
	}
	CU_ASSERT_FATAL(px >= 0);
	CU_ASSERT_EQUAL_FATAL(part_info(nc, topic, px, &info0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(harness_broker_kill9(broker(x)), 0);
	{
		int32_t last = other_than(ctrl, x);

		CU_ASSERT_FATAL(last >= 1);
		t_elect = wait_leader(last, topic, px, x, SESSION_MS + ELECT_SLACK_MS, &info1);
		fprintf(stderr, "test_failover: leader %d of %s-%d killed: broker %d leads it "
			"(epoch %d -> %d, ISR [%d%s]) after %" PRId64 " ms\n", (int)x, topic,
			(int)px, (int)info1.leader, (int)info0.leader_epoch,
			(int)info1.leader_epoch, info1.nisr > 0 ? (int)info1.isr[0] : -1,
			info1.nisr > 1 ? ",..." : "", t_elect);
		CU_ASSERT_FATAL(t_elect >= 0);
		CU_ASSERT_EQUAL(info1.leader, last);
		CU_ASSERT(info1.leader_epoch > info0.leader_epoch);
		CU_ASSERT_EQUAL(info1.nisr, 1);
		CU_ASSERT(wait_controller(last, ctrl, T_MS, &nc2) >= 0);
		/* the one broker left: acks=1 is served, acks=all refused
		 * (ISR 1 < min.insync.replicas 2) */
		c = connect_to(last);
		batch = harness_batch_simple("alone", 0, 5, 50, 0, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
		for (int64_t t0 = harness_now_ms();;) {
			brook_err_t err = harness_produce(c, topic, px, 1, batch, len, T_MS, &base);

			if (err == BROOK_ERR_NO_ERROR || harness_now_ms() - t0 > T_MS) {
				CU_ASSERT_EQUAL(err, BROOK_ERR_NO_ERROR);
				break;
			}
			nap(20);
		}
		CU_ASSERT_EQUAL(harness_produce(c, topic, px, -1, batch, len, T_MS, &base),
				BROOK_ERR_NOT_ENOUGH_REPLICAS);
		free(batch);
		harness_client_close(c);
	}

	/* both back: the controller stays where it is, the ISRs fill up */
	t_up = harness_now_ms();
	CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker(ctrl)), 0);
	if (x != ctrl)
		CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker(x)), 0);
	t_isr = wait_full_isr(topic, 3, REJOIN_MS);
	fprintf(stderr, "test_failover: brokers %d and %d restarted in %" PRId64 " ms, ISRs full "
		"%" PRId64 " ms later\n", (int)ctrl, (int)x, harness_now_ms() - t_up - t_isr,
		t_isr);
	CU_ASSERT_FATAL(t_isr >= 0);
	for (int32_t id = 1; id <= NBROKERS; id++) {
		CU_ASSERT_EQUAL(cluster_info(id, &ci), BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(ci.controller, nc2);
		CU_ASSERT_EQUAL(ci.nbrokers, NBROKERS);
	}
	/* acks=all works everywhere again */
	for (int32_t p = 0; p < 3; p++) {
		char prefix[16];

		CU_ASSERT_EQUAL_FATAL(part_info(1, topic, p, &info1), BROOK_ERR_NO_ERROR);
		snprintf(prefix, sizeof(prefix), "again%d", (int)p);
		c = connect_to(info1.leader);
		batch = harness_batch_simple(prefix, 0, 5, 50, 0, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
		CU_ASSERT_EQUAL(harness_produce(c, topic, p, -1, batch, len, T_MS, &base),
				BROOK_ERR_NO_ERROR);
		free(batch);
		harness_client_close(c);
	}
	for (int32_t p = 0; p < 3; p++)
		CU_ASSERT(replicas_identical(topic, p) >= 0);
}

/* ---- 3. a broker paused past its session ------------------------------------------ */

/* The numbers of "<what>: truncated from A to B" in broker b's log; 0, or -1
 * when the line is not there. */
static int truncation_in_log(harness_broker_t *b, const char *what, int64_t *from, int64_t *to)
{
	size_t len;
	uint8_t *log = harness_read_file(harness_broker_log_path(b), &len);
	char needle[128], *hit;
	int rc = -1;

	if (!log)
		return -1;
	log[len] = '\0';
	snprintf(needle, sizeof(needle), "%s: truncated from ", what);
	if ((hit = strstr((char *)log, needle)) &&
	    sscanf(hit + strlen(needle), "%" SCNd64 " to %" SCNd64, from, to) == 2)
		rc = 0;
	free(log);
	return rc;
}

static void test_pause_past_session(void)
{
	const char *topic = "pause";
	const int32_t B = 2, F1 = 1, F2 = 3, PB = 1; /* B leads PB, follows 0 and 2 */
	const int32_t two[] = { F1, F2 };
	harness_partition_info_t info;
	harness_client_t *c;
	int64_t t_pause, t_gone, t_moved, t_lib, t_cont, t_reg, t_isr, solo, leo_b = -1;
	int64_t from = -1, to = -1, paused_ms;
	int32_t newl;
	char what[64];
	long ok;
	readback_t rb;
	size_t len;
	uint8_t *batch;

	set_session(SESSION_MS);
	nprobes = 0;
	create_topic(topic, 3, 1);
	load_start(topic, 3, 0);

	/* The followers stop for a moment, long enough for their waiting
	 * fetches at B to be answered (replica.fetch.wait.max.ms 200) and far
	 * shorter than the lag bound: what B appends now, only B has ... */
	c = connect_to(B);
	CU_ASSERT_EQUAL_FATAL(harness_broker_pause(broker(F1)), 0);
	CU_ASSERT_EQUAL_FATAL(harness_broker_pause(broker(F2)), 0);
	nap(1000);
	batch = harness_batch_simple("solo", 0, 10, 50, 0, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	CU_ASSERT_EQUAL(harness_produce(c, topic, PB, 1, batch, len, T_MS, &solo),
			BROOK_ERR_NO_ERROR);
	free(batch);
	CU_ASSERT_EQUAL(harness_list_offset_replica(c, topic, PB, B, PROTO_TS_LATEST, T_MS,
						    &leo_b), BROOK_ERR_NO_ERROR);
	harness_client_close(c);
	/* ... and B stops past its session while they go on */
	CU_ASSERT_EQUAL_FATAL(harness_broker_pause(broker(B)), 0);
	t_pause = harness_now_ms();
	CU_ASSERT_EQUAL(harness_broker_cont(broker(F1)), 0);
	CU_ASSERT_EQUAL(harness_broker_cont(broker(F2)), 0);
	fprintf(stderr, "test_failover: broker %d paused with %s-%d at log end %" PRId64
		" (10 records at %" PRId64 " with acks=1 that no follower fetched)\n", (int)B,
		topic, (int)PB, leo_b, solo);

	t_gone = wait_registered(F1, B, 0, SESSION_MS + ELECT_SLACK_MS);
	t_gone = t_gone >= 0 ? harness_now_ms() - t_pause : -1;
	t_moved = wait_leader(F1, topic, PB, B, T_MS, &info);
	t_moved = t_moved >= 0 ? harness_now_ms() - t_pause : -1;
	newl = info.leader;
	fprintf(stderr, "test_failover: broker %d gone from Metadata %" PRId64 " ms after "
		"SIGSTOP, %s-%d led by %d after %" PRId64 " ms (session %d ms)\n", (int)B, t_gone,
		topic, (int)PB, (int)newl, t_moved, SESSION_MS);
	CU_ASSERT_FATAL(t_gone >= 0);
	/* by its session's end, not sooner (its last heartbeat may have
	 * been up to a third of the session before the pause) */
	CU_ASSERT(t_gone >= SESSION_MS / 2);
	CU_ASSERT_FATAL(t_moved >= 0);
	CU_ASSERT(newl == F1 || newl == F2);
	/* it leaves the ISRs of the partitions it followed too */
	for (int32_t p = 0; p < 3; p++)
		CU_ASSERT_EQUAL(harness_partition_wait_isr(port_of(F1), topic, p, two, 2, T_MS,
							   NULL), 0);
	/* the producer found the new leader */
	load_mark(PB, harness_now_ms());
	t_lib = load_wait_mark(PB, T_MS);
	CU_ASSERT(t_lib >= 0);
	fprintf(stderr, "test_failover: libbrook acknowledged on %s-%d again %" PRId64 " ms "
		"after SIGSTOP\n", topic, (int)PB, t_lib >= 0 ? t_lib - t_pause : -1);
	/* pause longer than the session in any case */
	while (harness_now_ms() - t_pause < SESSION_MS + 2000)
		nap(50);

	CU_ASSERT_EQUAL_FATAL(harness_broker_cont(broker(B)), 0);
	t_cont = harness_now_ms();
	paused_ms = t_cont - t_pause;
	t_reg = wait_registered(F1, B, 1, T_MS);
	t_isr = wait_full_isr(topic, 3, REJOIN_MS);
	snprintf(what, sizeof(what), "%s-%d", topic, (int)PB);
	CU_ASSERT_EQUAL(truncation_in_log(broker(B), what, &from, &to), 0);
	fprintf(stderr, "test_failover: broker %d resumed after %" PRId64 " ms: registered "
		"again after %" PRId64 " ms, every ISR full %" PRId64 " ms after SIGCONT; it "
		"truncated %s from %" PRId64 " to %" PRId64 "\n", (int)B, paused_ms, t_reg,
		t_isr >= 0 ? harness_now_ms() - t_cont : -1, what, from, to);
	CU_ASSERT(t_reg >= 0);
	CU_ASSERT_FATAL(t_isr >= 0);
	CU_ASSERT(from >= leo_b); /* the load may have added some */
	CU_ASSERT(to >= 0 && to <= solo);
	/* it follows now; leadership stays where it went */
	CU_ASSERT_EQUAL(part_info(F1, topic, PB, &info), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(info.leader, newl);

	load_stop();
	ok = check_reports(load.first, load.n);
	CU_ASSERT_EQUAL(ok, load.n - load.first);
	verify_topic(topic, 3, load.first, load.n, &rb); /* "solo" would be a stray */
	CU_ASSERT_EQUAL(rb.total, ok + rb.dups);
}

/* ---- 4. unclean leader election ------------------------------------------------------ */

static void test_unclean_election(void)
{
	const char *topic = "unclean";
	const int32_t L = 3, F1 = 1, F2 = 2; /* replicas [3,1,2] */
	const int32_t one[] = { L };
	harness_partition_info_t info;
	harness_fetch_result_t fr;
	harness_fetch_req_t q = { .topic = topic, .partition = 0 };
	harness_client_t *c;
	int64_t base, t_start, t_self, t_f2, t_lead, from = -1, to = -1;
	long led = 0, served = 0, checks = 0;
	int32_t newl;
	char what[64];
	size_t len;
	uint8_t *batch;

	set_session(SESSION_MS);
	/* the config first, as `brook topics create --config` writes it */
	CU_ASSERT_EQUAL_FATAL(harness_topic_config_zk(zk(), topic,
						      "unclean.leader.election.enable", "false"), 0);
	create_topic(topic, 1, L);
	c = connect_to(L);
	batch = harness_batch_simple("committed", 0, 20, 50, 0, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	CU_ASSERT_EQUAL(harness_produce(c, topic, 0, -1, batch, len, T_MS, &base),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, 0);
	free(batch);
	harness_client_close(c);

	/* the followers stop cleanly: the ISR is the leader alone, which
	 * then takes 10 records nobody else has */
	CU_ASSERT_EQUAL_FATAL(harness_broker_stop(broker(F1)), 0);
	CU_ASSERT_EQUAL_FATAL(harness_broker_stop(broker(F2)), 0);
	CU_ASSERT_EQUAL_FATAL(harness_partition_wait_isr(port_of(L), topic, 0, one, 1, T_MS,
							 NULL), 0);
	c = connect_to(L);
	batch = harness_batch_simple("tail", 0, 10, 50, 0, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	CU_ASSERT_EQUAL(harness_produce(c, topic, 0, -1, batch, len, T_MS, &base),
			BROOK_ERR_NOT_ENOUGH_REPLICAS);
	CU_ASSERT_EQUAL(harness_produce(c, topic, 0, 1, batch, len, T_MS, &base),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, 20);
	free(batch);
	harness_client_close(c);
	CU_ASSERT_EQUAL_FATAL(harness_broker_stop(broker(L)), 0);

	/* a stale replica comes back alone: the partition stays offline */
	t_start = harness_now_ms();
	CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker(F1)), 0);
	CU_ASSERT(wait_controller(F1, -1, T_MS, &newl) >= 0);
	for (int64_t t0 = harness_now_ms(); harness_now_ms() - t0 < OFFLINE_MS; nap(100)) {
		brook_err_t err = part_info(F1, topic, 0, &info);

		checks++;
		if (err != BROOK_ERR_LEADER_NOT_AVAILABLE || info.leader != -1)
			complain(&led, "%s-0 on broker %d: leader %d, %s", topic, (int)F1,
				 (int)info.leader, brook_err_name(err));
		if (!(c = harness_client_connect(port_of(F1))))
			continue;
		q.offset = 0;
		err = harness_fetch(c, &q, T_MS, &fr);
		if (err == BROOK_ERR_NO_ERROR || fr.nrecords > 0)
			complain(&served, "a fetch from broker %d: %s, %zu records", (int)F1,
				 brook_err_name(err), fr.nrecords);
		if (checks == 1)
			fprintf(stderr, "test_failover: offline %s-0: Metadata on broker %d says "
				"leader %d (epoch %d, ISR [%d]); a fetch gets %s\n", topic, (int)F1,
				(int)info.leader, (int)info.leader_epoch,
				info.nisr ? (int)info.isr[0] : -1, brook_err_name(err));
		harness_fetch_result_free(&fr);
		harness_client_close(c);
	}
	fprintf(stderr, "test_failover: %s-0 stayed offline for %" PRId64 " ms after the stale "
		"replica %d started (%ld checks, %ld with a leader, %ld served)\n", topic,
		harness_now_ms() - t_start, (int)F1, checks, led, served);
	CU_ASSERT_EQUAL(led, 0);
	CU_ASSERT_EQUAL(served, 0);

	/* the topic allows unclean election now (a change of the existing
	 * config znode). Brokers watch /config/topics/<t>, so the change
	 * alone makes a new cluster view, after which the controller reads
	 * the topic's config again; were it not so, the next view change
	 * would: a broker registering (F2). */
	CU_ASSERT_EQUAL_FATAL(harness_topic_config_zk(zk(), topic,
						      "unclean.leader.election.enable", "true"), 0);
	t_self = wait_leader(F1, topic, 0, -1, 5000, &info);
	t_f2 = harness_now_ms();
	CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker(F2)), 0);
	if (t_self >= 0) {
		t_lead = t_self;
		fprintf(stderr, "test_failover: the config change alone triggered the unclean "
			"election: leader %d (epoch %d) %" PRId64 " ms after the write\n",
			(int)info.leader, (int)info.leader_epoch, t_self);
	} else {
		t_lead = wait_leader(F1, topic, 0, -1, T_MS, &info);
		fprintf(stderr, "test_failover: no election within 5000 ms of the config change "
			"alone; broker %d registering triggered it: leader %d (epoch %d) %" PRId64
			" ms after its start\n", (int)F2, (int)info.leader, (int)info.leader_epoch,
			t_lead >= 0 ? harness_now_ms() - t_f2 : -1);
	}
	newl = info.leader;
	CU_ASSERT_FATAL(t_lead >= 0);
	CU_ASSERT(newl == F1 || newl == F2);

	/* it serves what the stale replicas had: the acks=all records, not
	 * the leader's tail */
	c = connect_to(newl);
	for (int64_t t0 = harness_now_ms();; nap(50)) {
		brook_err_t err = harness_fetch_all(c, topic, 0, 0, -1, T_MS, &fr);

		if ((err == BROOK_ERR_NO_ERROR && fr.nrecords == 20) ||
		    harness_now_ms() - t0 > T_MS) {
			CU_ASSERT_EQUAL(err, BROOK_ERR_NO_ERROR);
			break;
		}
		harness_fetch_result_free(&fr);
	}
	CU_ASSERT_EQUAL(fr.high_watermark, 20);
	CU_ASSERT_EQUAL(fr.nrecords, 20);
	for (size_t i = 0; i < fr.nrecords; i++) {
		char k[32];

		snprintf(k, sizeof(k), "committed-k%zu", i);
		CU_ASSERT_EQUAL(fr.records[i].offset, (int64_t)i);
		CU_ASSERT(fr.records[i].key && strcmp(fr.records[i].key, k) == 0);
	}
	harness_fetch_result_free(&fr);
	/* and takes new writes where the lost tail was */
	batch = harness_batch_simple("after", 0, 10, 50, 0, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	CU_ASSERT_EQUAL(harness_produce(c, topic, 0, 1, batch, len, T_MS, &base),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(base, 20);
	free(batch);
	harness_client_close(c);

	/* the old leader returns and cuts the tail nobody else kept */
	CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker(L)), 0);
	CU_ASSERT(wait_full_isr(topic, 1, REJOIN_MS) >= 0);
	snprintf(what, sizeof(what), "%s-0", topic);
	CU_ASSERT_EQUAL(truncation_in_log(broker(L), what, &from, &to), 0);
	fprintf(stderr, "test_failover: the old leader %d truncated %s from %" PRId64 " to %"
		PRId64 "\n", (int)L, what, from, to);
	CU_ASSERT_EQUAL(from, 30);
	CU_ASSERT_EQUAL(to, 20);
	CU_ASSERT_EQUAL(replicas_identical(topic, 0), 30);
}

/* ---- 5. topic deletion ------------------------------------------------------------------- */

/* Folders of topic's partitions in broker id's log dir, including those
 * renamed for deletion ("<topic>-<p>" and "<topic>-<p>.<ms>-delete"). */
static int partition_dirs(int32_t id, const char *topic)
{
	DIR *d = opendir(harness_broker_data_dir(broker(id)));
	size_t tl = strlen(topic);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, topic, tl) == 0 && e->d_name[tl] == '-' &&
		    isdigit((unsigned char)e->d_name[tl + 1]))
			n++;
	closedir(d);
	return n;
}

static int cli(const char *const *args, const char *what)
{
	char out[2048];
	int64_t t0 = harness_now_ms();
	int rc = harness_brook_cli(args, CLI_MS, out, sizeof(out));
	size_t n = strlen(out);

	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	fprintf(stderr, "test_failover: brook %s: exit %d in %" PRId64 " ms: %s\n", what, rc,
		harness_now_ms() - t0, out);
	return rc;
}

static void test_topic_delete(void)
{
	const char *topic = "gone";
	const char *const create[] = { "topics", "-z", zk(), "create", "--topic", topic,
				       "--partitions", "3", "--replication-factor", "3",
				       "--config", "retention.ms=3600000", NULL };
	const char *const del[] = { "topics", "-z", zk(), "delete", "--topic", topic, NULL };
	char p_topic[256], p_config[256], p_mark[256];
	const char *const paths[] = { p_topic, p_config, p_mark };
	harness_partition_info_t info;
	int64_t t_del, t_zk, t_dirs = -1, t_md = -1;
	int dirs[NBROKERS];
	readback_t rb;

	set_session(SESSION_MS);
	snprintf(p_topic, sizeof(p_topic), "/brokers/topics/%s", topic);
	snprintf(p_config, sizeof(p_config), "/config/topics/%s", topic);
	snprintf(p_mark, sizeof(p_mark), "/admin/delete_topics/%s", topic);
	CU_ASSERT_EQUAL_FATAL(cli(create, "topics create"), 0);
	for (int32_t p = 0; p < 3; p++)
		CU_ASSERT_EQUAL_FATAL(harness_partition_wait_isr(port_of(1), topic, p, all3,
								 NBROKERS, T_MS, NULL), 0);
	nprobes = 0;
	CU_ASSERT_EQUAL(produce_sync(topic, 0, 300), 300);
	for (int32_t id = 1; id <= NBROKERS; id++)
		CU_ASSERT_EQUAL(partition_dirs(id, topic), 3);
	CU_ASSERT_EQUAL(harness_zk_exists(zk(), p_topic), 1);
	CU_ASSERT_EQUAL(harness_zk_exists(zk(), p_config), 1);

	t_del = harness_now_ms();
	CU_ASSERT_EQUAL_FATAL(cli(del, "topics delete"), 0);
	t_zk = harness_zk_wait_absent(zk(), paths, 3, T_MS);
	CU_ASSERT(t_zk >= 0);
	t_zk = t_zk >= 0 ? harness_now_ms() - t_del : -1;
	for (int64_t t0 = harness_now_ms(); harness_now_ms() - t0 < T_MS; nap(50)) {
		int left = 0;

		for (int32_t id = 1; id <= NBROKERS; id++)
			left += (dirs[id - 1] = partition_dirs(id, topic)) != 0;
		if (!left) {
			t_dirs = harness_now_ms() - t_del;
			break;
		}
	}
	for (int32_t id = 1; id <= NBROKERS; id++)
		if (t_dirs < 0)
			fprintf(stderr, "test_failover: broker %d still has %d folders of %s\n",
				(int)id, dirs[id - 1], topic);
	for (int64_t t0 = harness_now_ms(); harness_now_ms() - t0 < T_MS; nap(50)) {
		int known = 0;

		for (int32_t id = 1; id <= NBROKERS; id++)
			known += part_info(id, topic, 0, &info) != BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		if (!known) {
			t_md = harness_now_ms() - t_del;
			break;
		}
	}
	fprintf(stderr, "test_failover: %s deleted: znodes gone %" PRId64 " ms, partition "
		"folders gone on every broker %" PRId64 " ms, unknown to every broker's Metadata "
		"%" PRId64 " ms after `brook topics delete` started\n", topic,
		t_zk, t_dirs, t_md);
	CU_ASSERT(t_dirs >= 0);
	CU_ASSERT(t_md >= 0);

	/* the name again: a new topic, from offset 0, none of the old data */
	CU_ASSERT_EQUAL_FATAL(cli(create, "topics create (again)"), 0);
	for (int32_t p = 0; p < 3; p++) {
		harness_client_t *c;
		int64_t end = -1;

		CU_ASSERT_EQUAL_FATAL(harness_partition_wait_isr(port_of(1), topic, p, all3,
								 NBROKERS, T_MS, &info), 0);
		c = connect_to(info.leader);
		CU_ASSERT_EQUAL(harness_list_offset(c, topic, p, PROTO_TS_LATEST, T_MS, &end),
				BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(end, 0);
		harness_client_close(c);
	}
	memset(msgs, 0, MAXMSG * sizeof(*msgs)); /* the old messages: strays now */
	CU_ASSERT_EQUAL(produce_sync(topic, 1000, 300), 300);
	verify_topic(topic, 3, 1000, 1300, &rb); /* an old message would be a stray */
	CU_ASSERT_EQUAL(rb.total, 300);
}

/* ---- 6. controlled shutdown, preferred leader ------------------------------------------- */

static void test_controlled_shutdown(void)
{
	const char *topic = "pref";
	const int32_t assign[] = { 1, 2, 3, 1, 3, 2, 1, 2, 3 };
	const int32_t firsts[] = { 1, 1, 1 };
	const char *const pref[] = { "topics", "-z", zk(), "preferred-leader", "--topic", topic,
				     NULL };
	harness_partition_info_t info;
	int64_t t0, t_exit, t_view = -1, gap[3], gap2[3], t_rejoin, t_back = -1;
	int rc;
	long ok;
	readback_t rb;

	set_session(SESSION_MS);
	nprobes = 0;
	CU_ASSERT_EQUAL_FATAL(harness_topic_create_assigned_zk(zk(), topic, 3, 3, assign), 0);
	wait_topic_ready(topic, 3, firsts);
	load_start(topic, 3, 0);

	for (int32_t p = 0; p < 3; p++)
		load_gap_reset(p);
	t0 = harness_now_ms();
	rc = harness_broker_stop(broker(1));
	t_exit = harness_now_ms() - t0;
	CU_ASSERT_EQUAL(rc, 0);
	/* it moved its leaderships before it went */
	CU_ASSERT(harness_broker_log_contains(broker(1), "controlled shutdown: no leadership "
					      "left here"));
	for (int64_t t1 = harness_now_ms(); harness_now_ms() - t1 < 3000; nap(20)) {
		int moved = 0;

		for (int32_t p = 0; p < 3; p++)
			moved += part_info(2, topic, p, &info) == BROOK_ERR_NO_ERROR &&
				 (info.leader == 2 || info.leader == 3) && !isr_has(&info, 1) &&
				 info.nisr == 2;
		if (moved == 3) {
			t_view = harness_now_ms() - t0 - t_exit;
			break;
		}
	}
	for (int32_t p = 0; p < 3; p++)
		load_mark(p, harness_now_ms());
	for (int32_t p = 0; p < 3; p++) {
		CU_ASSERT(load_wait_mark(p, T_MS) >= 0);
		gap[p] = load_gap(p);
	}
	fprintf(stderr, "test_failover: SIGTERM to broker 1 (leading %s-0..2): exit 0 after %"
		PRId64 " ms; broker 2's Metadata showed leaders in {2,3} and ISRs without 1 %"
		PRId64 " ms after the exit; longest acks=all pause per partition %" PRId64 " %"
		PRId64 " %" PRId64 " ms\n", topic, t_exit, t_view, gap[0], gap[1], gap[2]);
	CU_ASSERT(t_exit <= EXIT_BOUND_MS);
	CU_ASSERT(t_view >= 0);
	for (int32_t p = 0; p < 3; p++)
		CU_ASSERT(gap[p] <= GAP_BOUND_MS);

	/* back: it follows, rejoins, and takes over again when asked */
	t0 = harness_now_ms();
	CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker(1)), 0);
	t_rejoin = wait_full_isr(topic, 3, REJOIN_MS);
	CU_ASSERT_FATAL(t_rejoin >= 0);
	t_rejoin = harness_now_ms() - t0;
	for (int32_t p = 0; p < 3; p++) {
		CU_ASSERT_EQUAL(part_info(2, topic, p, &info), BROOK_ERR_NO_ERROR);
		CU_ASSERT(info.leader == 2 || info.leader == 3);
		load_gap_reset(p);
	}
	t0 = harness_now_ms();
	CU_ASSERT_EQUAL(cli(pref, "topics preferred-leader"), 0);
	for (int64_t t1 = harness_now_ms(); harness_now_ms() - t1 < T_MS; nap(20)) {
		int led = 0;

		for (int32_t p = 0; p < 3; p++)
			led += part_info(2, topic, p, &info) == BROOK_ERR_NO_ERROR &&
			       info.leader == 1;
		if (led == 3) {
			t_back = harness_now_ms() - t0;
			break;
		}
	}
	for (int32_t p = 0; p < 3; p++)
		load_mark(p, harness_now_ms());
	for (int32_t p = 0; p < 3; p++) {
		CU_ASSERT(load_wait_mark(p, T_MS) >= 0);
		gap2[p] = load_gap(p);
	}
	fprintf(stderr, "test_failover: broker 1 back in every ISR %" PRId64 " ms after its "
		"start; it leads %s-0..2 again %" PRId64 " ms after `brook topics "
		"preferred-leader` started; longest pause %" PRId64 " %" PRId64 " %" PRId64
		" ms\n", t_rejoin, topic, t_back, gap2[0], gap2[1], gap2[2]);
	CU_ASSERT(t_back >= 0);
	for (int32_t p = 0; p < 3; p++)
		CU_ASSERT(gap2[p] <= GAP_BOUND_MS);

	load_stop();
	ok = check_reports(load.first, load.n);
	CU_ASSERT_EQUAL(ok, load.n - load.first);
	CU_ASSERT_EQUAL(load.failed, 0);
	verify_topic(topic, 3, load.first, load.n, &rb);
	CU_ASSERT_EQUAL(rb.total, ok + rb.dups);
}

/* ---- 7. a leader that loses the lead answers the produces waiting on it -------- */

static void test_lost_lead_answers_waiters(void)
{
	const char *topic = "moved";
	const int32_t assign[] = { 1, 2, 3 }, first[] = { 1 };
	const char *const pref[] = { "topics", "-z", zk(), "preferred-leader", "--topic", topic,
				     NULL };
	harness_cluster_info_t ci;
	harness_partition_info_t info;
	harness_client_t *c;
	struct pollfd pfd;
	brook_err_t err = BROOK_ERR__TIMED_OUT;
	int64_t t0, answered = -1, base;
	int32_t corr, paused;
	int ready;
	size_t len;
	uint8_t *batch;

	set_session(SESSION_MS);
	CU_ASSERT_EQUAL_FATAL(harness_topic_create_assigned_zk(zk(), topic, 1, 3, assign), 0);
	wait_topic_ready(topic, 1, first);
	/* broker 2 leads (broker 1 stopped cleanly), broker 1 follows again */
	CU_ASSERT_EQUAL_FATAL(harness_broker_stop(broker(1)), 0);
	CU_ASSERT_FATAL(wait_leader(2, topic, 0, 1, T_MS, &info) >= 0);
	CU_ASSERT_EQUAL_FATAL(info.leader, 2);
	CU_ASSERT_EQUAL_FATAL(harness_broker_resume(broker(1)), 0);
	CU_ASSERT_FATAL(wait_full_isr(topic, 1, REJOIN_MS) >= 0);

	/* a follower that is not the controller stops fetching (far below
	 * the lag bound): an acks=all produce waits at broker 2 */
	CU_ASSERT_EQUAL_FATAL(cluster_info(2, &ci), BROOK_ERR_NO_ERROR);
	paused = ci.controller == 3 ? 1 : 3;
	c = connect_to(2);
	CU_ASSERT_EQUAL_FATAL(harness_broker_pause(broker(paused)), 0);
	batch = harness_batch_simple("parked", 0, 5, 50, 0, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(batch);
	CU_ASSERT_EQUAL_FATAL(harness_produce_send(c, topic, 0, -1, batch, len, 8000, T_MS, &corr),
			      HARNESS_OK);
	free(batch);
	pfd.fd = harness_client_fd(c);
	pfd.events = POLLIN;
	CU_ASSERT_EQUAL(poll(&pfd, 1, 300), 0); /* it waits */

	/* the preferred replica takes the lead back meanwhile: broker 2 is a
	 * follower now and must say so to the produce it holds, at once */
	t0 = harness_now_ms();
	CU_ASSERT_EQUAL(cli(pref, "topics preferred-leader"), 0);
	ready = poll(&pfd, 1, 2000);
	CU_ASSERT_EQUAL(harness_broker_cont(broker(paused)), 0);
	if (ready == 1) {
		err = harness_produce_recv(c, corr, T_MS, &base);
		answered = harness_now_ms() - t0;
	} else {
		/* not answered: wait for its timeout_ms to see what comes */
		fprintf(stderr, "test_failover: the produce waiting at broker 2 was not answered "
			"within 2000 ms of the election; waiting for its timeout_ms (8000)\n");
		err = harness_produce_recv(c, corr, T_MS, &base);
		answered = harness_now_ms() - t0;
	}
	harness_client_close(c);
	fprintf(stderr, "test_failover: %s-0 moved from leader 2 to 1 with an acks=all produce "
		"waiting at 2 (follower %d stopped): answered %s %" PRId64 " ms after the "
		"election started\n", topic, (int)paused, brook_err_name(err), answered);
	CU_ASSERT_EQUAL(ready, 1);
	CU_ASSERT_EQUAL(err, BROOK_ERR_NOT_LEADER_OR_FOLLOWER);

	CU_ASSERT(wait_leader(2, topic, 0, 2, T_MS, &info) >= 0);
	CU_ASSERT_EQUAL(info.leader, 1);
	CU_ASSERT(wait_full_isr(topic, 1, REJOIN_MS) >= 0);
	CU_ASSERT(replicas_identical(topic, 0) >= 0);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "leader kill -9 under acks=all load, 10 rounds", test_leader_kill9 },
		{ "controller kill -9, then a leader's", test_controller_kill9 },
		{ "a broker paused past its session comes back as a follower",
		  test_pause_past_session },
		{ "unclean leader election only when the topic allows it",
		  test_unclean_election },
		{ "topic deletion removes znodes and folders; the name is reusable",
		  test_topic_delete },
		{ "controlled shutdown moves leaderships; preferred-leader election",
		  test_controlled_shutdown },
		{ "a leader that loses the lead answers the acks=all produces it holds",
		  test_lost_lead_answers_waiters },
		{ NULL, NULL },
	};
	int64_t t0 = harness_now_ms(), t_all = t0;
	int rc;

	if (!(msgs = calloc(MAXMSG, sizeof(*msgs)))) {
		fprintf(stderr, "test_failover: out of memory\n");
		return 1;
	}
	if (harness_zk_start(3, &ens) != 0) {
		fprintf(stderr, "test_failover: cannot start ZooKeeper\n");
		free(msgs);
		return 1;
	}
	fprintf(stderr, "test_failover: 3-server ZooKeeper %s up in %" PRId64 " ms\n", zk(),
		harness_now_ms() - t0);
	t0 = harness_now_ms();
	/* test 1 first: it wants the short sessions */
	session_ms = SESSION_FAST_MS;
	snprintf(session_override, sizeof(session_override), "zookeeper.session.timeout.ms=%d",
		 session_ms);
	for (int32_t id = 1; id <= NBROKERS; id++)
		if (!(brokers[id - 1] = harness_broker_start(zk(), id, overrides))) {
			fprintf(stderr, "test_failover: cannot start broker %d\n", (int)id);
			harness_broker_stop_all();
			harness_zk_stop(ens);
			free(msgs);
			return 1;
		}
	fprintf(stderr, "test_failover: brokers 1, 2, 3 on ports %d, %d, %d up in %" PRId64
		" ms\n", port_of(1), port_of(2), port_of(3), harness_now_ms() - t0);
	rc = harness_run("failover", tests);
	if (load.running) {
		pthread_mutex_lock(&load.mu);
		load.stop = 1;
		pthread_mutex_unlock(&load.mu);
		pthread_join(load.thread, NULL);
		brook_producer_free(load.prod);
		load.running = 0;
	}
	for (int i = 0; i < NBROKERS; i++)
		if (harness_broker_paused(brokers[i]))
			harness_broker_cont(brokers[i]);
	if (harness_broker_stop_all() != 0) {
		fprintf(stderr, "test_failover: a broker stopped badly or its log has a "
			"sanitizer report\n");
		rc = 1;
	}
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	free(msgs);
	fprintf(stderr, "test_failover: %" PRId64 " ms in all\n", harness_now_ms() - t_all);
	return rc;
}
