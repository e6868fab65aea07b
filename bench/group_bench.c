/*
 * group_bench.c - consumer-group figures against a running cluster
 * (bench/groups.sh starts one):
 *
 *   handoff  members are child processes consuming a topic that a producer
 *            thread feeds continuously; RUNS times, one member is killed
 *            (kill -9, or SIGTERM for a clean leave) and we time until each
 *            of its partitions is consumed again by another member. A new
 *            member replaces it before the next run.
 *   zkops    MEMBERS consumers in this process join one by one; then one
 *            more joins and, later, one leaves cleanly. For each of those
 *            two changes, the ZooKeeper operations every member reported
 *            (its "rebalance settled" log lines) are added up, next to what
 *            Kafka's ZooKeeper-era consumer (0.8's ZookeeperConsumerConnector)
 *            issues for the same change.
 *
 *   group_bench handoff|zkops --zookeeper Z --bootstrap B --topic T
 *       [--partitions P] [--members N] [--runs R] [--session-ms MS]
 *       [--strategy range|roundrobin|sticky] [--leave kill|term]
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "brook.h"

#define MAX_MEMBERS 64
#define MAX_PARTS 1024

static const char *zk, *bootstrap, *topic, *strategy = "range", *leave = "kill";
static int partitions = 6, members = 3, runs = 10, session_ms = 6000;

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static brook_conf_t *conf_for(const char *group, int auto_commit_ms)
{
	brook_conf_t *c = brook_conf_new();
	char buf[32], err[256];

	if (!c)
		return NULL;
	snprintf(buf, sizeof(buf), "%d", session_ms);
	if (brook_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
	    brook_conf_set(c, "zookeeper.connect", zk, err, sizeof(err)) ||
	    brook_conf_set(c, "group.id", group, err, sizeof(err)) ||
	    brook_conf_set(c, "zookeeper.session.timeout.ms", buf, err, sizeof(err)) ||
	    brook_conf_set(c, "partition.assignment.strategy", strategy, err, sizeof(err)) ||
	    brook_conf_set(c, "auto.offset.reset", "latest", err, sizeof(err)) ||
	    brook_conf_set(c, "enable.partition.eof", "false", err, sizeof(err)) ||
	    (snprintf(buf, sizeof(buf), "%d", auto_commit_ms) &&
	     brook_conf_set(c, "auto.commit.interval.ms", buf, err, sizeof(err)))) {
		fprintf(stderr, "group_bench: %s\n", err);
		brook_conf_free(c);
		return NULL;
	}
	return c;
}

/* ---- handoff ---- */

typedef struct report {
	int32_t member;
	int32_t partition;
	int64_t us;
} report_t;

static volatile int producing = 1;

static void *produce_loop(void *arg)
{
	brook_producer_t *p = arg;
	int64_t i = 0;

	while (producing) {
		char v[32];
		int n = snprintf(v, sizeof(v), "%" PRId64, i);

		/* one message per partition every 2 ms: 500/s per partition */
		for (int32_t part = 0; part < partitions; part++)
			brook_produce(p, topic, part, NULL, 0, v, (size_t)n, 0, NULL, NULL);
		brook_poll(p, 0);
		i++;
		usleep(2000);
	}
	return NULL;
}

static volatile sig_atomic_t term_seen;

static void member_term(int sig)
{
	(void)sig;
	term_seen = 1;
}

/* A member process: reports (member, partition, time) for every message.
 * With --leave term, SIGTERM makes it leave the group cleanly and exit;
 * otherwise SIGTERM/SIGKILL just end it. */
static void member_main(int idx, int fd)
{
	brook_conf_t *conf = conf_for("bench-handoff", 1000);
	const char *topics[1] = { topic };
	char err[256];
	brook_consumer_t *c;

	signal(SIGTERM, strcmp(leave, "term") == 0 ? member_term : SIG_DFL);
	if (!conf || !(c = brook_consumer_new(conf, err, sizeof(err))) ||
	    brook_consumer_subscribe(c, topics, 1, err, sizeof(err)))
		_exit(1);
	brook_conf_free(conf);
	while (!term_seen) {
		brook_message_t *m;
		report_t r;

		if (brook_consumer_poll(c, 100, &m))
			continue;
		if (!m->err) {
			r.member = idx;
			r.partition = m->partition;
			r.us = now_us();
			if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
				_exit(0);
		}
		brook_message_free(m);
	}
	brook_consumer_close(c);
	brook_consumer_free(c);
	_exit(0);
}

static pid_t spawn(int idx, int fd)
{
	pid_t pid = fork();

	if (pid == 0)
		member_main(idx, fd);
	return pid;
}

static int cmp_ll(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int handoff(void)
{
	brook_conf_t *pconf = brook_conf_new();
	pid_t pids[MAX_MEMBERS];
	int slot_idx[MAX_MEMBERS];
	int32_t owner[MAX_PARTS];
	int64_t seen[MAX_PARTS], results[256];
	int fds[2], next_idx = 0, nres = 0;
	brook_producer_t *p;
	pthread_t th;
	char err[256];

	if (!pconf || brook_conf_set(pconf, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
	    brook_conf_set(pconf, "acks", "1", err, sizeof(err)) ||
	    !(p = brook_producer_new(pconf, err, sizeof(err)))) {
		fprintf(stderr, "group_bench: producer: %s\n", err);
		return 1;
	}
	brook_conf_free(pconf);
	if (pipe(fds))
		return 1;
	pthread_create(&th, NULL, produce_loop, p);
	for (int i = 0; i < members; i++) {
		slot_idx[i] = next_idx;
		pids[i] = spawn(next_idx++, fds[1]);
	}
	for (int run = 0; run < runs && run < 256; run++) {
		int64_t deadline = now_us() + 60000000, t0, worst = 0;
		int victim = -1, victim_slot = -1, lost[MAX_PARTS], nlost = 0, done = 0;

		/* settle: every partition consumed in the last 300 ms by a live member */
		for (int i = 0; i < partitions; i++)
			seen[i] = 0;
		while (now_us() < deadline) {
			report_t r;
			int ok = 1;

			if (read(fds[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
				break;
			if (r.partition >= 0 && r.partition < partitions) {
				owner[r.partition] = r.member;
				seen[r.partition] = r.us;
			}
			for (int i = 0; i < partitions; i++)
				ok &= seen[i] > now_us() - 300000;
			/* and spread over every member (the replacement too) */
			for (int s = 0; ok && s < members && s < partitions; s++) {
				int owns = 0;

				for (int i = 0; i < partitions; i++)
					owns |= owner[i] == slot_idx[s];
				ok &= owns;
			}
			if (ok)
				break;
		}
		/* the owner of partition 0 goes */
		victim = owner[0];
		for (int s = 0; s < members; s++)
			if (slot_idx[s] == victim)
				victim_slot = s;
		if (victim_slot < 0) {
			fprintf(stderr, "group_bench: run %d: no live owner found\n", run + 1);
			break;
		}
		for (int i = 0; i < partitions; i++)
			if (owner[i] == victim)
				lost[nlost++] = i;
		t0 = now_us();
		kill(pids[victim_slot], strcmp(leave, "term") == 0 ? SIGTERM : SIGKILL);
		waitpid(pids[victim_slot], NULL, 0);
		pids[victim_slot] = 0;
		for (int i = 0; i < partitions; i++)
			seen[i] = 0;
		while (done < nlost && now_us() < deadline) {
			report_t r;

			if (read(fds[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
				break;
			if (r.member == victim || r.us < t0 || r.partition < 0 ||
			    r.partition >= partitions)
				continue;
			for (int k = 0; k < nlost; k++)
				if (lost[k] == r.partition && !seen[r.partition]) {
					seen[r.partition] = r.us;
					if (r.us - t0 > worst)
						worst = r.us - t0;
					done++;
				}
		}
		if (done < nlost) {
			fprintf(stderr, "group_bench: run %d: partitions not taken over in 60 s\n",
				run + 1);
			break;
		}
		results[nres++] = worst / 1000;
		printf("run %d: member %d (%s, %d partitions) -> all consumed again after %" PRId64
		       " ms\n", run + 1, victim, leave, nlost, worst / 1000);
		fflush(stdout);
		/* a replacement, spawned with the next index */
		slot_idx[victim_slot] = next_idx;
		pids[victim_slot] = spawn(next_idx++, fds[1]);
	}
	producing = 0;
	pthread_join(th, NULL);
	for (int i = 0; i < members; i++)
		if (pids[i]) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	brook_producer_flush(p, 5000);
	brook_producer_free(p);
	if (nres) {
		qsort(results, (size_t)nres, sizeof(results[0]), cmp_ll);
		printf("%s, session %d ms, %d runs: median %" PRId64 " ms, min %" PRId64
		       " ms, max %" PRId64 " ms\n", leave, session_ms, nres, results[nres / 2],
		       results[0], results[nres - 1]);
	}
	return nres == runs ? 0 : 1;
}

/* ---- zkops ---- */

typedef struct zmember {
	brook_consumer_t *c;
	pthread_t th;
	volatile int stop;
} zmember_t;

static pthread_mutex_t ops_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t ops_total, settles;
static int64_t last_settle_us;

static void log_cb(int level, const char *facility, const char *msg, void *opaque)
{
	const char *p = strstr(msg, "rebalance settled:");
	unsigned long long ops;

	(void)level;
	(void)facility;
	(void)opaque;
	if (!p || !(p = strstr(p, "partitions, ")) || sscanf(p, "partitions, %llu", &ops) != 1)
		return;
	pthread_mutex_lock(&ops_lock);
	ops_total += ops;
	settles++;
	last_settle_us = now_us();
	pthread_mutex_unlock(&ops_lock);
}

static void *zpoll(void *arg)
{
	zmember_t *m = arg;

	while (!m->stop) {
		brook_message_t *msg;

		if (brook_consumer_poll(m->c, 100, &msg) == BROOK_ERR_NO_ERROR)
			brook_message_free(msg);
	}
	return NULL;
}

static int zjoin(zmember_t *m)
{
	const char *topics[1] = { topic };
	char err[256], lvl[] = "6", group[64];
	brook_conf_t *conf;

	snprintf(group, sizeof(group), "bench-zkops-%s", strategy);
	conf = conf_for(group, 3600000);

	if (!conf)
		return -1;
	brook_conf_set(conf, "log_level", lvl, err, sizeof(err));
	brook_conf_set_log_cb(conf, log_cb, NULL);
	m->c = brook_consumer_new(conf, err, sizeof(err));
	brook_conf_free(conf);
	if (!m->c || brook_consumer_subscribe(m->c, topics, 1, err, sizeof(err))) {
		fprintf(stderr, "group_bench: member: %s\n", err);
		return -1;
	}
	m->stop = 0;
	return pthread_create(&m->th, NULL, zpoll, m);
}

/* Waits until no member has settled for 1.5 s; returns the ops since the
 * counter was reset. */
static uint64_t zquiet(void)
{
	for (;;) {
		int64_t last;

		usleep(200000);
		pthread_mutex_lock(&ops_lock);
		last = last_settle_us;
		pthread_mutex_unlock(&ops_lock);
		if (last && now_us() - last > 1500000)
			break;
	}
	return ops_total;
}

static void zreset(void)
{
	pthread_mutex_lock(&ops_lock);
	ops_total = settles = 0;
	last_settle_us = 0;
	pthread_mutex_unlock(&ops_lock);
}

/* What the 0.8 ZooKeeper consumer issues for one change in a group of n
 * members over b brokers, t topics and p partitions, when every member's
 * first attempt succeeds. Each member (ZKRebalancerListener.rebalance):
 * getChildren + getData of /brokers/ids (1 + b), its own ids znode (1),
 * getChildren of ids and getData of every member (1 + n), every topic's
 * znode (t); commits its partitions' offsets (<= p/n writes), deletes all
 * its owner znodes (p/n), reads the offset of every partition it gets
 * (p/n) and creates their owner znodes (p/n); plus re-subscribing the
 * watches (1 + t). Owner-znode conflicts make members retry the whole
 * sequence after rebalance.backoff.ms, which this leaves out. */
static uint64_t old_kafka_ops(int n, int b, int t, int p)
{
	return (uint64_t)n * (1 + b + 1 + 1 + n + t + 1 + t) + 4ull * p;
}

static int zkops(void)
{
	zmember_t *ms = calloc((size_t)members + 1, sizeof(*ms));
	uint64_t join_ops, leave_ops;

	if (!ms)
		return 1;
	for (int i = 0; i < members; i++) {
		if (zjoin(&ms[i]))
			return 1;
		zquiet();
	}
	printf("%d members joined, settled\n", members);
	zreset();
	if (zjoin(&ms[members]))
		return 1;
	join_ops = zquiet();
	printf("member %d joins: %" PRIu64 " ZooKeeper operations across the group (%" PRIu64
	       " settle reports)\n", members + 1, join_ops, settles);
	zreset();
	ms[0].stop = 1;
	pthread_join(ms[0].th, NULL);
	brook_consumer_close(ms[0].c);
	brook_consumer_free(ms[0].c);
	leave_ops = zquiet();
	printf("a member leaves cleanly: %" PRIu64 " ZooKeeper operations across the group "
	       "(%" PRIu64 " settle reports)\n", leave_ops, settles);
	printf("Kafka 0.8 ZooKeeper consumer, same changes (3 brokers, 1 topic, %d partitions, "
	       "no retries): join %" PRIu64 ", leave %" PRIu64 "\n", partitions,
	       old_kafka_ops(members + 1, 3, 1, partitions), old_kafka_ops(members, 3, 1,
									partitions));
	for (int i = 1; i <= members; i++) {
		ms[i].stop = 1;
		pthread_join(ms[i].th, NULL);
		brook_consumer_free(ms[i].c);
	}
	free(ms);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--zookeeper") == 0) zk = v;
		else if (strcmp(k, "--bootstrap") == 0) bootstrap = v;
		else if (strcmp(k, "--topic") == 0) topic = v;
		else if (strcmp(k, "--partitions") == 0) partitions = atoi(v);
		else if (strcmp(k, "--members") == 0) members = atoi(v);
		else if (strcmp(k, "--runs") == 0) runs = atoi(v);
		else if (strcmp(k, "--session-ms") == 0) session_ms = atoi(v);
		else if (strcmp(k, "--strategy") == 0) strategy = v;
		else if (strcmp(k, "--leave") == 0) leave = v;
		else {
			fprintf(stderr, "group_bench: unknown option %s\n", k);
			return 2;
		}
	}
	if (!zk || !bootstrap || !topic || partitions < 1 || partitions > MAX_PARTS ||
	    members < 1 || members >= MAX_MEMBERS) {
		fprintf(stderr, "usage: group_bench handoff|zkops --zookeeper Z --bootstrap B "
			"--topic T [--partitions P] [--members N] [--runs R] [--session-ms MS] "
			"[--strategy S] [--leave kill|term]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "handoff") == 0)
		return handoff();
	if (strcmp(mode, "zkops") == 0)
		return zkops();
	fprintf(stderr, "group_bench: mode is handoff or zkops\n");
	return 2;
}
