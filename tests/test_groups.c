/*
 * test_groups.c - consumer groups end to end: a real 3-server ZooKeeper,
 * 3 brokers, a 6-partition RF=3 topic fed continuously by a libbrook
 * producer, and group members that are real processes (tests/group_proc,
 * whose event logs the test reads back):
 *
 *   1. members join one by one to 3 and leave back to 1: after every
 *      settle each partition has exactly one owner (owner znodes, through
 *      `brook groups describe`), no partition is owned by two members at
 *      the same time in the ownership log, every message was consumed while
 *      its member owned the partition, and every acknowledged message was
 *      consumed;
 *   2. kill -9 of a member that commits by hand after processing: every
 *      acknowledged message consumed at least once; duplicates are counted
 *      and all lie at or past the dead member's last commit;
 *   3. a member SIGSTOPped past its session: its partitions move; resumed,
 *      its commits for them are refused (_FENCED), none rewinds what the
 *      other member committed or lands below where it owned a partition
 *      again, and the final committed offsets are the highest any member
 *      committed successfully;
 *   4. partitions added to the topic are assigned and consumed;
 *   5. `brook groups describe` shows the committed offsets, log end offsets
 *      and lag the test computes, and the owner.
 * It prints how long a member's partitions stay unconsumed after its
 * kill -9 and after a clean leave.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "brook.h"
#include "harness.h"
#include "harness_broker.h"
#include "harness_zk.h"

#define NBROKERS 3
#define PARTS 6
#define MAXOFF 200000
#define MAXM 8
#define SESSION_MS 3000
#define SETTLE_MS 30000
#define CLI_MS 20000

static harness_zk_t *ens;
static harness_broker_t *brokers[NBROKERS];
static char bootstrap[256];
static const int32_t all3[NBROKERS] = { 1, 2, 3 };

static const char *zk(void)
{
	return harness_zk_connect_string(ens);
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the load: acknowledged offsets per partition ---- */

typedef struct load {
	pthread_t th;
	pthread_mutex_t mu;
	brook_producer_t *p;
	const char *topic;
	int32_t parts;
	volatile int stop;
	int round_us;                      /* one message per partition per round */
	unsigned char *acked[PARTS + 4];   /* [partition][offset] */
	int64_t top[PARTS + 4];            /* highest acked offset + 1 */
	int64_t n_acked;
} load_t;

static load_t load;

static void on_delivery(brook_err_t err, const char *topic, int32_t partition, int64_t offset,
			const void *key, size_t key_len, const void *value, size_t value_len,
			void *opaque)
{
	(void)topic, (void)key, (void)key_len, (void)value, (void)value_len, (void)opaque;
	if (err || partition < 0 || partition >= load.parts || offset < 0 || offset >= MAXOFF)
		return;
	pthread_mutex_lock(&load.mu);
	load.acked[partition][offset] = 1;
	if (offset + 1 > load.top[partition])
		load.top[partition] = offset + 1;
	load.n_acked++;
	pthread_mutex_unlock(&load.mu);
}

static void *load_main(void *arg)
{
	int64_t seq = 0;

	(void)arg;
	while (!load.stop) {
		char v[32];
		int n = snprintf(v, sizeof(v), "m%" PRId64, seq);

		/* every partition gets traffic */
		brook_produce(load.p, load.topic, (int32_t)(seq % load.parts), NULL, 0, v,
			      (size_t)n, 0, on_delivery, NULL);
		seq++;
		if (seq % load.parts == 0)
			usleep((useconds_t)load.round_us);
		brook_poll(load.p, 0);
	}
	brook_producer_flush(load.p, 15000);
	return NULL;
}

/* Feeds `topic` with one message per partition every round_us. */
static int load_start(const char *topic, int32_t parts, int round_us)
{
	brook_conf_t *conf = brook_conf_new();
	char err[256];

	memset(&load, 0, sizeof(load));
	pthread_mutex_init(&load.mu, NULL);
	load.topic = topic;
	load.parts = parts;
	load.round_us = round_us;
	for (int i = 0; i < parts; i++)
		if (!(load.acked[i] = calloc(MAXOFF, 1)))
			return -1;
	if (!conf || brook_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
	    brook_conf_set(conf, "linger.ms", "2", err, sizeof(err)) ||
	    !(load.p = brook_producer_new(conf, err, sizeof(err)))) {
		fprintf(stderr, "test_groups: producer: %s\n", err);
		brook_conf_free(conf);
		return -1;
	}
	brook_conf_free(conf);
	return pthread_create(&load.th, NULL, load_main, NULL);
}

static void load_stop(void)
{
	load.stop = 1;
	pthread_join(load.th, NULL);
	brook_producer_free(load.p);
	load.p = NULL;
	fprintf(stderr, "test_groups: %" PRId64 " messages acknowledged on %s\n", load.n_acked,
		load.topic);
}

static void load_free(void)
{
	for (int i = 0; i < PARTS + 4; i++) {
		free(load.acked[i]);
		load.acked[i] = NULL;
	}
	pthread_mutex_destroy(&load.mu);
}

/* ---- members ---- */

typedef struct member {
	pid_t pid;
	char log[512];
	char id[256];
	int alive;
	int64_t end_us;            /* when it died (kill -9), for its intervals */
} member_t;

static member_t members[MAXM];

static const char *proc_path(void)
{
	static char path[PATH_MAX];
	const char *top = getenv("BROOK_TOP_BUILDDIR");

	snprintf(path, sizeof(path), "%s/tests/group_proc", top && *top ? top : ".");
	return path;
}

static int member_start(int i, const char *group, const char *topic, const char *const *extra)
{
	char *argv[32];
	int argc = 0;
	pid_t pid;

	static const char *dir;

	if (!dir)
		dir = harness_tmpdir("groups");
	snprintf(members[i].log, sizeof(members[i].log), "%s/%s-m%d.log", dir, group, i);
	unlink(members[i].log);
	argv[argc++] = (char *)proc_path();
	argv[argc++] = "--bootstrap";
	argv[argc++] = bootstrap;
	argv[argc++] = "--zookeeper";
	argv[argc++] = (char *)zk();
	argv[argc++] = "--group";
	argv[argc++] = (char *)group;
	argv[argc++] = "--topic";
	argv[argc++] = (char *)topic;
	argv[argc++] = "--log";
	argv[argc++] = members[i].log;
	for (int k = 0; extra && extra[k] && argc < 30; k++)
		argv[argc++] = (char *)extra[k];
	argv[argc] = NULL;
	fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	members[i].pid = pid;
	members[i].alive = 1;
	members[i].end_us = 0;
	members[i].id[0] = '\0';
	return 0;
}

/* SIGTERM (a clean leave) and reap; the exit status. */
static int member_term(int i)
{
	int status = -1;

	if (!members[i].alive)
		return 0;
	kill(members[i].pid, SIGTERM);
	for (int t = 0; t < 300; t++) {
		if (waitpid(members[i].pid, &status, WNOHANG) == members[i].pid)
			break;
		usleep(50000);
		status = -1;
	}
	if (status == -1) {
		kill(members[i].pid, SIGKILL);
		waitpid(members[i].pid, &status, 0);
	}
	members[i].alive = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void member_kill9(int i)
{
	kill(members[i].pid, SIGKILL);
	waitpid(members[i].pid, NULL, 0);
	members[i].alive = 0;
	members[i].end_us = mono_us();
}

static void members_cleanup(void)
{
	for (int i = 0; i < MAXM; i++)
		if (members[i].alive) {
			kill(members[i].pid, SIGCONT);
			member_term(i);
		}
}

/* ---- member logs ---- */

typedef struct ev {
	int64_t us;
	char kind;                 /* A R M C (READY, EXIT: 'Y', 'X') */
	int32_t partition;
	int64_t offset;
	int64_t issued;            /* C: when the commit was asked for */
	char err[40];
} ev_t;

typedef struct evlog {
	ev_t *e;
	size_t n;
} evlog_t;

static int read_log(int i, evlog_t *out)
{
	FILE *f = fopen(members[i].log, "r");
	char line[1024];
	size_t cap = 0;

	out->e = NULL;
	out->n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		ev_t e;
		char kind[16], topic[256], a[64], b[64];
		long long us;
		int n = sscanf(line, "%lld %15s %255s %63s %63s %39s", &us, kind, topic, a, b, e.err);

		memset(&e, 0, sizeof(e));
		if (n < 2)
			continue;
		e.us = us;
		e.kind = kind[0];
		if (strcmp(kind, "READY") == 0) {
			e.kind = 'Y';
			if (n >= 3)
				snprintf(members[i].id, sizeof(members[i].id), "%s", topic);
		} else if (strcmp(kind, "EXIT") == 0) {
			e.kind = 'X';
		} else if (n >= 4) {
			e.partition = atoi(a);
			if (kind[0] == 'R') {
				snprintf(e.err, sizeof(e.err), "%.39s", b);
			} else if (n >= 5) {
				e.offset = atoll(b);
				if (kind[0] == 'C' && n >= 6) {
					long long issued = 0;

					sscanf(line, "%*s %*s %*s %*s %*s %39s %lld", e.err,
					       &issued);
					e.issued = issued;
				}
			}
		}
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 1024;
			ev_t *ne = realloc(out->e, nc * sizeof(*ne));

			if (!ne)
				break;
			out->e = ne;
			cap = nc;
		}
		out->e[out->n++] = e;
	}
	fclose(f);
	return 0;
}

/* Partitions member i owns now, as its log says (A without a later R). */
static int owned_now(int i, int *own, int nparts)
{
	evlog_t l;
	int cnt = 0;

	for (int p = 0; p < nparts; p++)
		own[p] = 0;
	if (read_log(i, &l))
		return 0;
	for (size_t k = 0; k < l.n; k++) {
		if (l.e[k].partition < 0 || l.e[k].partition >= nparts)
			continue;
		if (l.e[k].kind == 'A')
			own[l.e[k].partition] = 1;
		else if (l.e[k].kind == 'R')
			own[l.e[k].partition] = 0;
	}
	free(l.e);
	for (int p = 0; p < nparts; p++)
		cnt += own[p];
	return cnt;
}

/* Waits until the live members in `live` (and no one else) own every
 * partition exactly once by their logs, each at least one when possible.
 * Returns the time it took in ms, or -1. */
static int64_t wait_settled(const int *live, int nlive, int nparts)
{
	int64_t t0 = harness_now_ms();

	while (harness_now_ms() - t0 < SETTLE_MS) {
		int count[64] = { 0 }, ok = 1;

		for (int k = 0; k < nlive; k++) {
			int own[64], n = owned_now(live[k], own, nparts);

			if (n == 0 && nparts >= nlive)
				ok = 0;
			for (int p = 0; p < nparts; p++)
				count[p] += own[p];
		}
		for (int p = 0; p < nparts; p++)
			ok &= count[p] == 1;
		if (ok)
			return harness_now_ms() - t0;
		usleep(50000);
	}
	return -1;
}

/* `brook groups describe`: per partition the owner column, and the
 * committed offset, log end offset and lag ("-" gives -1). */
typedef struct drow {
	char owner[256];
	int64_t committed, end, lag;
} drow_t;

static int describe(const char *group, const char *topic, drow_t *rows, int nparts)
{
	const char *const args[] = { "groups", "-z", zk(), "describe", "--group", group, NULL };
	char out[16384], *line, *save = NULL;
	int rc = harness_brook_cli(args, CLI_MS, out, sizeof(out));

	for (int p = 0; p < nparts; p++) {
		rows[p].owner[0] = '\0';
		rows[p].committed = rows[p].end = rows[p].lag = -2;
	}
	if (rc != 0) {
		fprintf(stderr, "test_groups: groups describe %s: exit %d: %s\n", group, rc, out);
		return -1;
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char t[256], c[64], e[64], l[64], o[256];
		int p;

		if (sscanf(line, "%255[^\t]\t%d\t%63[^\t]\t%63[^\t]\t%63[^\t]\t%255s", t, &p, c, e,
			   l, o) != 6 || strcmp(t, topic) != 0 || p < 0 || p >= nparts)
			continue;
		rows[p].committed = strcmp(c, "-") ? atoll(c) : -1;
		rows[p].end = strcmp(e, "-") ? atoll(e) : -1;
		rows[p].lag = strcmp(l, "-") ? atoll(l) : -1;
		snprintf(rows[p].owner, sizeof(rows[p].owner), "%s", o);
	}
	return 0;
}

/* Every partition has exactly one owner znode, and it is a live member. */
static void assert_owners(const char *group, const char *topic, const int *live, int nlive,
			  int nparts)
{
	drow_t rows[64];

	CU_ASSERT_EQUAL_FATAL(describe(group, topic, rows, nparts), 0);
	for (int p = 0; p < nparts; p++) {
		int known = 0;

		for (int k = 0; k < nlive; k++) {
			if (!members[live[k]].id[0]) {
				evlog_t l;

				if (read_log(live[k], &l) == 0)
					free(l.e);
			}
			known |= strcmp(rows[p].owner, members[live[k]].id) == 0;
		}
		if (!known)
			fprintf(stderr, "test_groups: %s [%d] owned by '%s', not a live member\n",
				topic, p, rows[p].owner);
		CU_ASSERT(known);
	}
}

/* Ownership intervals of every member from its log; checks that no two
 * members own a partition at once, and that every message was consumed
 * inside its member's interval. Fills consumed[p][off] counts. */
static void check_intervals(int nm, int nparts, unsigned short **consumed, int64_t *dups)
{
	typedef struct iv {
		int m;
		int64_t from, to;
	} iv_t;
	iv_t *ivs[64];
	size_t niv[64] = { 0 }, cap[64] = { 0 };
	int overlaps = 0, outside = 0;

	memset(ivs, 0, sizeof(ivs));
	*dups = 0;
	for (int i = 0; i < nm; i++) {
		evlog_t l;
		int64_t open_at[64];

		for (int p = 0; p < nparts; p++)
			open_at[p] = -1;
		if (read_log(i, &l))
			continue;
		for (size_t k = 0; k < l.n; k++) {
			ev_t *e = &l.e[k];
			int p = e->partition;

			if (e->kind == 'X')
				break;
			if (p < 0 || p >= nparts)
				continue;
			if (e->kind == 'A') {
				open_at[p] = e->us;
			} else if (e->kind == 'R' || e->kind == 'M') {
				if (open_at[p] < 0) {
					if (e->kind == 'M')
						outside++;
					continue;
				}
				if (e->kind == 'M') {
					if (e->offset >= 0 && e->offset < MAXOFF &&
					    consumed[p][e->offset]++)
						(*dups)++;
					continue;
				}
				/* R closes the interval */
				if (niv[p] == cap[p]) {
					cap[p] = cap[p] ? cap[p] * 2 : 16;
					ivs[p] = realloc(ivs[p], cap[p] * sizeof(iv_t));
				}
				ivs[p][niv[p]++] = (iv_t){ i, open_at[p], e->us };
				open_at[p] = -1;
			}
		}
		/* still open: until the member died or now */
		for (int p = 0; p < nparts; p++)
			if (open_at[p] >= 0) {
				if (niv[p] == cap[p]) {
					cap[p] = cap[p] ? cap[p] * 2 : 16;
					ivs[p] = realloc(ivs[p], cap[p] * sizeof(iv_t));
				}
				ivs[p][niv[p]++] = (iv_t){ i, open_at[p],
					members[i].end_us ? members[i].end_us : mono_us() };
			}
		free(l.e);
	}
	for (int p = 0; p < nparts; p++) {
		for (size_t a = 0; a < niv[p]; a++)
			for (size_t b = a + 1; b < niv[p]; b++) {
				iv_t *x = &ivs[p][a], *y = &ivs[p][b];

				if (x->m != y->m && x->from < y->to && y->from < x->to) {
					fprintf(stderr, "test_groups: partition %d owned by members "
						"%d and %d at once\n", p, x->m, y->m);
					overlaps++;
				}
			}
		free(ivs[p]);
	}
	CU_ASSERT_EQUAL(overlaps, 0);
	CU_ASSERT_EQUAL(outside, 0);
}

static unsigned short **consumed_new(int nparts)
{
	unsigned short **c = calloc((size_t)nparts, sizeof(*c));

	for (int p = 0; c && p < nparts; p++)
		if (!(c[p] = calloc(MAXOFF, sizeof(**c))))
			return NULL;
	return c;
}

static void consumed_free(unsigned short **c, int nparts)
{
	for (int p = 0; c && p < nparts; p++)
		free(c[p]);
	free(c);
}

static int verbose_missing;

/* Acked messages nobody consumed. */
static int64_t missing(unsigned short **consumed, int nparts)
{
	int64_t miss = 0;

	for (int p = 0; p < nparts; p++)
		for (int64_t o = 0; o < load.top[p] && o < MAXOFF; o++)
			if (load.acked[p][o] && !consumed[p][o] && miss++ < 5 && verbose_missing)
				fprintf(stderr, "test_groups: %s [%d] offset %" PRId64
					" acknowledged, not consumed\n", load.topic, p, o);
	return miss;
}

/* Waits until the members' logs hold every acknowledged message. */
static int64_t wait_consumed(int nm, int nparts)
{
	int64_t t0 = harness_now_ms(), miss = -1, dups;

	while (harness_now_ms() - t0 < SETTLE_MS) {
		unsigned short **c = consumed_new(nparts);

		if (!c)
			return -1;
		for (int i = 0; i < nm; i++) {
			evlog_t l;

			if (read_log(i, &l))
				continue;
			for (size_t k = 0; k < l.n; k++)
				if (l.e[k].kind == 'M' && l.e[k].partition >= 0 &&
				    l.e[k].partition < nparts && l.e[k].offset >= 0 &&
				    l.e[k].offset < MAXOFF)
					c[l.e[k].partition][l.e[k].offset] = 1;
			free(l.e);
		}
		verbose_missing = harness_now_ms() - t0 >= SETTLE_MS - 200;
		miss = missing(c, nparts);
		consumed_free(c, nparts);
		if (!miss)
			return 0;
		usleep(200000);
	}
	(void)dups;
	return miss;
}

/* When member `gone` stopped consuming (at t_us), the time until every
 * partition it owned was consumed by another member, in ms (-1: not yet). */
static int64_t takeover_ms(int gone, const int *own, int64_t t_us, int nm, int nparts)
{
	int64_t worst = 0;

	for (int p = 0; p < nparts; p++) {
		int64_t first = -1;

		if (!own[p])
			continue;
		for (int i = 0; i < nm; i++) {
			evlog_t l;

			if (i == gone || read_log(i, &l))
				continue;
			for (size_t k = 0; k < l.n; k++)
				if (l.e[k].kind == 'M' && l.e[k].partition == p && l.e[k].us > t_us &&
				    (first < 0 || l.e[k].us < first))
					first = l.e[k].us;
			free(l.e);
		}
		if (first < 0)
			return -1;
		if ((first - t_us) / 1000 > worst)
			worst = (first - t_us) / 1000;
	}
	return worst;
}

static int64_t wait_takeover(int gone, const int *own, int64_t t_us, int nm, int nparts)
{
	int64_t t0 = harness_now_ms(), ms;

	while ((ms = takeover_ms(gone, own, t_us, nm, nparts)) < 0 &&
	       harness_now_ms() - t0 < SETTLE_MS)
		usleep(100000);
	return ms;
}

static int create_topic(const char *topic, int32_t parts)
{
	if (harness_topic_create_zk(zk(), topic, parts, 3, all3, NBROKERS) != 0)
		return -1;
	return harness_topic_wait_leaders(harness_broker_port(brokers[0]), topic, parts, 30000);
}

/* ---- 1. join to 3, leave to 1 ---- */

static void test_join_leave(void)
{
	const char *topic = "jl", *group = "gjl";
	const char *const extra[] = { "--session-ms", "3000", NULL };
	int live[3] = { 0, 1, 2 };
	unsigned short **consumed;
	int64_t settle, dups, t_leave, ms;

	CU_ASSERT_EQUAL_FATAL(create_topic(topic, PARTS), 0);
	CU_ASSERT_EQUAL_FATAL(load_start(topic, PARTS, 10000), 0);
	for (int n = 1; n <= 3; n++) {
		CU_ASSERT_EQUAL_FATAL(member_start(n - 1, group, topic, extra), 0);
		settle = wait_settled(live, n, PARTS);
		fprintf(stderr, "test_groups: %d member(s): settled in %" PRId64 " ms\n", n, settle);
		CU_ASSERT_FATAL(settle >= 0);
		assert_owners(group, topic, live, n, PARTS);
	}
	/* leave back to 1: the newest first */
	for (int n = 3; n > 1; n--) {
		int own[PARTS];

		owned_now(n - 1, own, PARTS);
		t_leave = mono_us();
		CU_ASSERT_EQUAL(member_term(n - 1), 0);
		members[n - 1].end_us = t_leave;
		settle = wait_settled(live, n - 1, PARTS);
		ms = wait_takeover(n - 1, own, t_leave, 3, PARTS);
		fprintf(stderr, "test_groups: member %d left cleanly: settled in %" PRId64
			" ms, its partitions consumed again after %" PRId64 " ms\n", n - 1, settle,
			ms);
		CU_ASSERT_FATAL(settle >= 0);
		CU_ASSERT(ms >= 0);
		assert_owners(group, topic, live, n - 1, PARTS);
	}
	load_stop();
	CU_ASSERT_EQUAL(wait_consumed(3, PARTS), 0);
	CU_ASSERT_EQUAL(member_term(0), 0);
	consumed = consumed_new(PARTS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(consumed);
	check_intervals(3, PARTS, consumed, &dups);
	CU_ASSERT_EQUAL(missing(consumed, PARTS), 0);
	fprintf(stderr, "test_groups: join/leave: %" PRId64 " duplicates (auto commit)\n", dups);
	consumed_free(consumed, PARTS);
	load_free();
}

/* ---- 2. kill -9 with manual commits ---- */

static void test_kill9_manual(void)
{
	const char *topic = "k9", *group = "gk9";
	const char *const extra[] = { "--manual", "20", "--process-ms", "1", NULL };
	int live[3] = { 0, 1, 2 }, survivors[2] = { 0, 2 }, own[PARTS];
	int64_t last_commit[PARTS], seen_max[PARTS], dups = 0, bad = 0, t_kill, ms;
	unsigned short **consumed;
	evlog_t l;

	CU_ASSERT_EQUAL_FATAL(create_topic(topic, PARTS), 0);
	CU_ASSERT_EQUAL_FATAL(load_start(topic, PARTS, 10000), 0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(member_start(i, group, topic, extra), 0);
	CU_ASSERT_FATAL(wait_settled(live, 3, PARTS) >= 0);
	usleep(1500000); /* let it consume and commit a while */
	owned_now(1, own, PARTS);
	t_kill = mono_us();
	member_kill9(1);
	ms = wait_takeover(1, own, t_kill, 3, PARTS);
	fprintf(stderr, "test_groups: member 1 killed (-9): its partitions consumed again after %"
		PRId64 " ms (session %d ms)\n", ms, SESSION_MS);
	CU_ASSERT(ms >= 0);
	CU_ASSERT_FATAL(wait_settled(survivors, 2, PARTS) >= 0);
	usleep(1000000);
	load_stop();
	CU_ASSERT_EQUAL(wait_consumed(3, PARTS), 0);
	for (int i = 0; i < 3; i += 2)
		CU_ASSERT_EQUAL(member_term(i), 0);

	/* what the dead member committed, and consumed, per partition */
	for (int p = 0; p < PARTS; p++)
		last_commit[p] = seen_max[p] = -1;
	CU_ASSERT_EQUAL_FATAL(read_log(1, &l), 0);
	for (size_t k = 0; k < l.n; k++) {
		ev_t *e = &l.e[k];

		if (e->partition < 0 || e->partition >= PARTS)
			continue;
		if (e->kind == 'C' && strcmp(e->err, "NO_ERROR") == 0 &&
		    e->offset > last_commit[e->partition])
			last_commit[e->partition] = e->offset;
		if (e->kind == 'M' && e->offset > seen_max[e->partition])
			seen_max[e->partition] = e->offset;
	}
	free(l.e);
	consumed = consumed_new(PARTS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(consumed);
	check_intervals(3, PARTS, consumed, &dups);
	CU_ASSERT_EQUAL(missing(consumed, PARTS), 0);
	/* every duplicate is an offset the dead member consumed but had not
	 * committed: at or past its last commit, at most what it had seen */
	for (int p = 0; p < PARTS; p++)
		for (int64_t o = 0; o < load.top[p] && o < MAXOFF; o++)
			if (consumed[p][o] > 1 &&
			    (o < (last_commit[p] < 0 ? 0 : last_commit[p]) || o > seen_max[p])) {
				if (bad++ < 5)
					fprintf(stderr, "test_groups: duplicate %d/%" PRId64 " outside "
						"the dead member's uncommitted range [%" PRId64 ", %"
						PRId64 "]\n", p, o, last_commit[p], seen_max[p]);
			}
	fprintf(stderr, "test_groups: kill -9 with manual commits: %" PRId64 " duplicates, all "
		"from offsets the dead member had not committed\n", dups);
	CU_ASSERT_EQUAL(bad, 0);
	consumed_free(consumed, PARTS);
	load_free();
}

/* ---- 3. SIGSTOP past the session: fenced ---- */

/* Until /proc says the process is stopped (bounded). */
static void wait_stopped(pid_t pid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int t = 0; t < 200; t++) {
		FILE *f = fopen(path, "r");
		char *rp;
		int stopped = 0;

		if (f) {
			if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')))
				stopped = rp[1] == ' ' && rp[2] == 'T';
			fclose(f);
		}
		if (stopped)
			return;
		usleep(10000);
	}
}

static void test_sigstop_fencing(void)
{
	const char *topic = "sf", *group = "gsf";
	/* 10 ms of work per message and commits every 5: a member is mostly
	 * holding processed, uncommitted messages when it is stopped */
	const char *const extra[] = { "--manual", "5", "--process-ms", "10", NULL };
	int live[2] = { 0, 1 }, only0[1] = { 0 }, lost[PARTS], fenced = 0, stale = 0;
	int64_t t_stop, t_cont, max_commit[PARTS];
	drow_t rows[PARTS];
	evlog_t l, l0;

	CU_ASSERT_EQUAL_FATAL(create_topic(topic, PARTS), 0);
	CU_ASSERT_EQUAL_FATAL(load_start(topic, PARTS, 50000), 0);
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL_FATAL(member_start(i, group, topic, extra), 0);
	CU_ASSERT_FATAL(wait_settled(live, 2, PARTS) >= 0);
	usleep(1000000);
	owned_now(1, lost, PARTS);
	/* stopped in the middle of a long piece of work, which it finishes
	 * (and commits) after it continues, when it owns the partitions again */
	kill(members[1].pid, SIGUSR1);
	usleep(200000);
	kill(members[1].pid, SIGSTOP);
	wait_stopped(members[1].pid);
	t_stop = mono_us();
	/* member 0 takes everything once member 1's session is gone */
	CU_ASSERT_FATAL(wait_settled(only0, 1, PARTS) >= 0);
	fprintf(stderr, "test_groups: SIGSTOP: member 0 owns every partition after %" PRId64
		" ms\n", (mono_us() - t_stop) / 1000);
	t_cont = mono_us();
	kill(members[1].pid, SIGCONT);
	/* resumed, it learns it lost them: its commits are refused */
	for (int t = 0; t < 200 && !fenced; t++) {
		usleep(100000);
		if (read_log(1, &l))
			continue;
		for (size_t k = 0; k < l.n; k++)
			if (l.e[k].us > t_cont && l.e[k].kind == 'C' &&
			    strcmp(l.e[k].err, "_FENCED") == 0)
				fenced++;
		free(l.e);
	}
	fprintf(stderr, "test_groups: resumed member: %d commits refused (_FENCED)\n", fenced);
	CU_ASSERT(fenced > 0);
	CU_ASSERT_FATAL(wait_settled(live, 2, PARTS) >= 0);
	usleep(1000000);
	load_stop();
	CU_ASSERT_EQUAL(wait_consumed(2, PARTS), 0);
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(member_term(i), 0);

	/* no successful commit by member 1 for a partition it lost, asked for
	 * after the stop and before a new assignment of it (one asked for
	 * before the stop may complete, and be logged, after it) */
	CU_ASSERT_EQUAL_FATAL(read_log(1, &l), 0);
	CU_ASSERT_EQUAL_FATAL(read_log(0, &l0), 0);
	{
		int reowned[PARTS] = { 0 };
		int64_t start[PARTS];

		for (size_t k = 0; k < l.n; k++) {
			ev_t *e = &l.e[k];

			if (e->us <= t_stop || e->partition < 0 || e->partition >= PARTS)
				continue;
			if (e->kind == 'A') {
				reowned[e->partition] = 1;
				start[e->partition] = e->offset;
			}
			/* owned again: what it processed before the stop may not
			 * be committed now, below where the new ownership began */
			if (e->kind == 'C' && reowned[e->partition] && start[e->partition] >= 0 &&
			    e->offset < start[e->partition] && strcmp(e->err, "NO_ERROR") == 0) {
				fprintf(stderr, "test_groups: member 1 committed %s [%d] at %" PRId64
					", below %" PRId64 " where it owned it again\n", topic,
					e->partition, e->offset, start[e->partition]);
				stale++;
			}
			/* a commit asked for after the stop never goes below what
			 * member 0 had committed by then (its C lines are written
			 * once ZooKeeper applied them) */
			if (e->kind == 'C' && lost[e->partition] && e->issued > t_stop &&
			    strcmp(e->err, "NO_ERROR") == 0) {
				int64_t other = -1;

				for (size_t j = 0; j < l0.n; j++)
					if (l0.e[j].kind == 'C' && l0.e[j].partition == e->partition &&
					    l0.e[j].us < e->issued && l0.e[j].offset > other &&
					    strcmp(l0.e[j].err, "NO_ERROR") == 0)
						other = l0.e[j].offset;
				if (e->offset < other) {
					fprintf(stderr, "test_groups: member 1 committed %s [%d] at %"
						PRId64 " over member 0's %" PRId64 "\n", topic,
						e->partition, e->offset, other);
					stale++;
				}
			}
		}
	}
	free(l.e);
	free(l0.e);
	CU_ASSERT_EQUAL(stale, 0);
	/* ZooKeeper holds, per partition, the highest offset any member
	 * committed successfully: nothing stale overwrote it */
	for (int p = 0; p < PARTS; p++)
		max_commit[p] = -1;
	for (int i = 0; i < 2; i++) {
		if (read_log(i, &l))
			continue;
		for (size_t k = 0; k < l.n; k++)
			if (l.e[k].kind == 'C' && strcmp(l.e[k].err, "NO_ERROR") == 0 &&
			    l.e[k].partition >= 0 && l.e[k].partition < PARTS &&
			    l.e[k].offset > max_commit[l.e[k].partition])
				max_commit[l.e[k].partition] = l.e[k].offset;
		free(l.e);
	}
	CU_ASSERT_EQUAL_FATAL(describe(group, topic, rows, PARTS), 0);
	for (int p = 0; p < PARTS; p++) {
		if (rows[p].committed != max_commit[p])
			fprintf(stderr, "test_groups: %s [%d]: committed %" PRId64 ", highest "
				"successful commit %" PRId64 "\n", topic, p, rows[p].committed,
				max_commit[p]);
		CU_ASSERT_EQUAL(rows[p].committed, max_commit[p]);
	}
	load_free();
}

/* ---- 4. partitions added ---- */

static void test_add_partitions(void)
{
	const char *topic = "ap", *group = "gap";
	const char *const alter[] = { "topics", "-z", zk(), "alter", "--topic", topic,
				      "--partitions", "4", NULL };
	int live[2] = { 0, 1 }, consumed_new_parts = 0;
	char out[2048];
	drow_t rows[4];

	CU_ASSERT_EQUAL_FATAL(create_topic(topic, 2), 0);
	CU_ASSERT_EQUAL_FATAL(load_start(topic, 2, 10000), 0);
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL_FATAL(member_start(i, group, topic, NULL), 0);
	CU_ASSERT_FATAL(wait_settled(live, 2, 2) >= 0);
	load_stop();
	load_free();
	CU_ASSERT_EQUAL_FATAL(harness_brook_cli(alter, CLI_MS, out, sizeof(out)), 0);
	CU_ASSERT_FATAL(wait_settled(live, 2, 4) >= 0);
	assert_owners(group, topic, live, 2, 4);
	/* produce to the new partitions: they are consumed */
	CU_ASSERT_EQUAL_FATAL(harness_topic_wait_leaders(harness_broker_port(brokers[0]), topic, 4,
							 30000), 0);
	CU_ASSERT_EQUAL_FATAL(load_start(topic, 4, 10000), 0);
	usleep(1500000);
	load_stop();
	CU_ASSERT_EQUAL(wait_consumed(2, 4), 0);
	for (int i = 0; i < 2; i++) {
		int own[4];
		evlog_t l;

		owned_now(i, own, 4);
		if (read_log(i, &l))
			continue;
		for (size_t k = 0; k < l.n; k++)
			consumed_new_parts |= l.e[k].kind == 'M' && l.e[k].partition >= 2;
		free(l.e);
	}
	CU_ASSERT(consumed_new_parts);
	CU_ASSERT_EQUAL(describe(group, topic, rows, 4), 0);
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(member_term(i), 0);
	load_free();
}

/* ---- 5. describe's lag ---- */

static void test_describe_lag(void)
{
	const char *topic = "lag", *group = "glag";
	const char *const extra[] = { "--manual", "1000", "--stop-after", "70", NULL };
	int live[1] = { 0 };
	int64_t committed[3] = { -1, -1, -1 };
	drow_t rows[3];
	evlog_t l;
	int done = 0;

	CU_ASSERT_EQUAL_FATAL(create_topic(topic, 3), 0);
	CU_ASSERT_EQUAL_FATAL(load_start(topic, 3, 10000), 0);
	while (load.n_acked < 90)
		usleep(20000);
	load_stop();
	CU_ASSERT_EQUAL_FATAL(member_start(0, group, topic, extra), 0);
	CU_ASSERT_FATAL(wait_settled(live, 1, 3) >= 0);
	/* it commits after 25 messages, then stops consuming */
	for (int t = 0; t < 300 && !done; t++) {
		usleep(50000);
		if (read_log(0, &l))
			continue;
		for (size_t k = 0; k < l.n; k++)
			if (l.e[k].kind == 'C' && strcmp(l.e[k].err, "NO_ERROR") == 0 &&
			    l.e[k].partition >= 0 && l.e[k].partition < 3) {
				committed[l.e[k].partition] = l.e[k].offset;
				done = 1;
			}
		free(l.e);
	}
	CU_ASSERT_FATAL(done);
	CU_ASSERT_EQUAL_FATAL(describe(group, topic, rows, 3), 0);
	/* 70 of 96 messages: at least two partitions have commits, and the
	 * lag is not zero everywhere */
	CU_ASSERT((committed[0] >= 0) + (committed[1] >= 0) + (committed[2] >= 0) >= 2);
	CU_ASSERT(rows[0].lag + rows[1].lag + rows[2].lag > 0);
	for (int p = 0; p < 3; p++) {
		int64_t want_c = committed[p], want_end = load.top[p];

		fprintf(stderr, "test_groups: lag %d: committed %" PRId64 "/%" PRId64 ", end %"
			PRId64 "/%" PRId64 ", lag %" PRId64 ", owner %s\n", p, rows[p].committed,
			want_c, rows[p].end, want_end, rows[p].lag, rows[p].owner);
		CU_ASSERT_EQUAL(rows[p].end, want_end);
		if (want_c >= 0) {
			CU_ASSERT_EQUAL(rows[p].committed, want_c);
			CU_ASSERT_EQUAL(rows[p].lag, want_end - want_c);
		} else {
			CU_ASSERT_EQUAL(rows[p].committed, -1);
		}
		CU_ASSERT_STRING_EQUAL(rows[p].owner, members[0].id);
	}
	CU_ASSERT_EQUAL(member_term(0), 0);
	load_free();
}

static void cleanup_tests(void)
{
	members_cleanup();
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "members join to 3 and leave to 1: one owner each, no overlap", test_join_leave },
		{ "kill -9 with manual commits: at least once, duplicates uncommitted only",
		  test_kill9_manual },
		{ "SIGSTOP past the session: partitions move, commits fenced",
		  test_sigstop_fencing },
		{ "partitions added to the topic are assigned and consumed", test_add_partitions },
		{ "groups describe shows the lag the test computes", test_describe_lag },
		{ NULL, NULL },
	};
	static const char *const overrides[] = { "min.insync.replicas=1", NULL };
	int64_t t0 = harness_now_ms();
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (access(proc_path(), X_OK) != 0) {
		fprintf(stderr, "test_groups: %s not built\n", proc_path());
		return 1;
	}
	if (harness_zk_start(3, &ens) != 0) {
		fprintf(stderr, "test_groups: cannot start ZooKeeper\n");
		return 1;
	}
	for (int32_t id = 1; id <= NBROKERS; id++)
		if (!(brokers[id - 1] = harness_broker_start(zk(), id, overrides))) {
			fprintf(stderr, "test_groups: cannot start broker %d\n", (int)id);
			harness_broker_stop_all();
			harness_zk_stop(ens);
			return 1;
		}
	snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d",
		 harness_broker_port(brokers[0]), harness_broker_port(brokers[1]),
		 harness_broker_port(brokers[2]));
	fprintf(stderr, "test_groups: ZooKeeper %s, brokers %s, up in %" PRId64 " ms\n", zk(),
		bootstrap, harness_now_ms() - t0);
	atexit(cleanup_tests);
	if (getenv("BROOK_GROUPS_ONLY")) {
		/* one test by its 1-based number, for debugging */
		static harness_test_t one[2];

		one[0] = tests[atoi(getenv("BROOK_GROUPS_ONLY")) - 1];
		rc = harness_run("groups", one);
	} else {
		rc = harness_run("groups", tests);
	}
	members_cleanup();
	if (harness_broker_stop_all() != 0) {
		fprintf(stderr, "test_groups: a broker stopped badly or its log has a sanitizer "
			"report\n");
		rc = 1;
	}
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	fprintf(stderr, "test_groups: %" PRId64 " ms in all\n", harness_now_ms() - t0);
	return rc;
}
