/*
 * test_group_assign.c - the consumer-group assignors: Kafka's documented
 * examples for range and roundrobin, sticky's balance and exact move
 * counts across member join/leave sequences, and seeded property tests
 * over random groups (every partition exactly once to a subscribed member,
 * independence from input order, balance bounds, minimal sticky moves).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_assign.h"
#include "harness.h"

static char err[512];
#define ERR err, sizeof(err)

/* "C0: t0p0 t0p1; C1: t0p2" - the whole assignment on one line. */
static void fmt(const group_assignment_t *a, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->cnt; i++) {
		off += (size_t)snprintf(buf + off, size - off, "%s%s:", i ? "; " : "",
					a->members[i].member_id);
		for (size_t j = 0; j < a->members[i].cnt && off < size; j++)
			off += (size_t)snprintf(buf + off, size - off, " %sp%d",
						a->members[i].tps[j].topic,
						(int)a->members[i].tps[j].partition);
		if (off >= size)
			break;
	}
}

static group_assignment_t *run(group_assign_strategy_t s, const group_member_t *m, size_t nm,
			       const group_topic_t *t, size_t nt, const group_assignment_t *prev)
{
	group_assignment_t *a = NULL;
	brook_err_t e = group_assign(s, m, nm, t, nt, prev, &a, ERR);

	CU_ASSERT_EQUAL(e, BROOK_ERR_NO_ERROR);
	if (e)
		fprintf(stderr, "group_assign: %s\n", err);
	return a;
}

static int is(const group_assignment_t *a, const char *want)
{
	static char got[8192];

	if (!a)
		return 0;
	fmt(a, got, sizeof(got));
	if (strcmp(got, want)) {
		fprintf(stderr, "\n got: %s\nwant: %s\n", got, want);
		return 0;
	}
	return 1;
}

static const char *const T01[] = { "t0", "t1" };
static const group_topic_t TOPICS_2x3[] = { { "t0", 3 }, { "t1", 3 } };

/* RangeAssignor javadoc: C0, C1 subscribed to t0, t1 with 3 partitions
 * each -> C0: [t0p0, t0p1, t1p0, t1p1], C1: [t0p2, t1p2]. Members listed
 * in reverse to show the sort by id. */
static void test_range_javadoc(void)
{
	group_member_t m[] = { { "C1", T01, 2 }, { "C0", T01, 2 } };
	group_assignment_t *a = run(GROUP_ASSIGN_RANGE, m, 2, TOPICS_2x3, 2, NULL);

	CU_ASSERT(is(a, "C0: t0p0 t0p1 t1p0 t1p1; C1: t0p2 t1p2"));
	group_assignment_free(a);
}

/* RoundRobinAssignor javadoc, same input -> C0: [t0p0, t0p2, t1p1],
 * C1: [t0p1, t1p0, t1p2]. */
static void test_roundrobin_javadoc(void)
{
	group_member_t m[] = { { "C1", T01, 2 }, { "C0", T01, 2 } };
	group_assignment_t *a = run(GROUP_ASSIGN_ROUNDROBIN, m, 2, TOPICS_2x3, 2, NULL);

	CU_ASSERT(is(a, "C0: t0p0 t0p2 t1p1; C1: t0p1 t1p0 t1p2"));
	group_assignment_free(a);
}

/* RoundRobinAssignor javadoc, unequal subscriptions: C0 [t0], C1 [t0, t1],
 * C2 [t0, t1, t2]; t0, t1, t2 with 1, 2, 3 partitions -> C0: [t0p0],
 * C1: [t1p0], C2: [t1p1, t2p0, t2p1, t2p2]. */
static void test_roundrobin_unequal(void)
{
	static const char *const s0[] = { "t0" }, *const s1[] = { "t0", "t1" },
		*const s2[] = { "t0", "t1", "t2" };
	group_member_t m[] = { { "C0", s0, 1 }, { "C1", s1, 2 }, { "C2", s2, 3 } };
	group_topic_t t[] = { { "t2", 3 }, { "t0", 1 }, { "t1", 2 } };
	group_assignment_t *a = run(GROUP_ASSIGN_ROUNDROBIN, m, 3, t, 3, NULL);

	CU_ASSERT(is(a, "C0: t0p0; C1: t1p0; C2: t1p1 t2p0 t2p1 t2p2"));
	group_assignment_free(a);
	/* Range on the same input: every topic split among its own subscribers. */
	a = run(GROUP_ASSIGN_RANGE, m, 3, t, 3, NULL);
	CU_ASSERT(is(a, "C0: t0p0; C1: t1p0; C2: t1p1 t2p0 t2p1 t2p2"));
	group_assignment_free(a);
}

/* Unsubscribed topics are left out, unknown subscribed topics ignored,
 * members without partitions still listed; no members -> empty. */
static void test_edges(void)
{
	static const char *const s[] = { "t0", "nope", "t0" };
	group_member_t m[] = { { "b", s, 3 }, { "a", s, 1 }, { "c", NULL, 0 } };
	group_topic_t t[] = { { "t0", 2 }, { "unread", 4 }, { "empty", 0 } };
	group_assign_strategy_t st[] = { GROUP_ASSIGN_RANGE, GROUP_ASSIGN_ROUNDROBIN,
					 GROUP_ASSIGN_STICKY };

	for (int i = 0; i < 3; i++) {
		group_assignment_t *a = run(st[i], m, 3, t, 3, NULL);

		CU_ASSERT(is(a, "a: t0p0; b: t0p1; c:"));
		group_assignment_free(a);
		a = run(st[i], NULL, 0, t, 3, NULL);
		CU_ASSERT(a && a->cnt == 0);
		group_assignment_free(a);
		a = run(st[i], m, 3, NULL, 0, NULL);
		CU_ASSERT(is(a, "a:; b:; c:"));
		group_assignment_free(a);
	}
}

static void test_errors(void)
{
	static const char *const s[] = { "t0" }, *const sn[] = { NULL };
	group_member_t dup[] = { { "a", s, 1 }, { "b", s, 1 }, { "a", s, 1 } };
	group_member_t noid[] = { { NULL, s, 1 } };
	group_member_t nosub[] = { { "a", NULL, 1 } };
	group_member_t nulltopic[] = { { "a", sn, 1 } };
	group_topic_t t[] = { { "t0", 3 } }, neg[] = { { "t0", -1 } };
	group_topic_t duptopic[] = { { "t0", 3 }, { "t0", 4 } }, noname[] = { { NULL, 1 } };
	group_assignment_t *a = (group_assignment_t *)1;
	group_assign_strategy_t st;

	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_RANGE, dup, 3, t, 1, NULL, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NULL(a);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "duplicate member id a"));
	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_STICKY, dup, 2, neg, 1, NULL, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "negative"));
	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_RANGE, dup, 1, duptopic, 2, NULL, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_RANGE, dup, 1, noname, 1, NULL, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_RANGE, noid, 1, t, 1, NULL, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_RANGE, nosub, 1, t, 1, NULL, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_RANGE, nulltopic, 1, t, 1, NULL, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_RANGE, NULL, 1, t, 1, NULL, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_RANGE, dup, 1, NULL, 1, NULL, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign(GROUP_ASSIGN_RANGE, dup, 1, t, 1, NULL, NULL, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign((group_assign_strategy_t)42, dup, 1, t, 1, NULL, &a, NULL, 0),
			BROOK_ERR__INVALID_ARG);

	CU_ASSERT_EQUAL(group_assign_parse("range", &st), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(st, GROUP_ASSIGN_RANGE);
	CU_ASSERT_EQUAL(group_assign_parse("roundrobin", &st), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(st, GROUP_ASSIGN_ROUNDROBIN);
	CU_ASSERT_EQUAL(group_assign_parse("sticky", &st), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(st, GROUP_ASSIGN_STICKY);
	CU_ASSERT_EQUAL(group_assign_parse("Range", &st), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign_parse("cooperative-sticky", &st), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assign_parse(NULL, &st), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_STRING_EQUAL(group_assign_name(GROUP_ASSIGN_ROUNDROBIN), "roundrobin");
	CU_ASSERT_STRING_EQUAL(group_assign_name(GROUP_ASSIGN_STICKY), "sticky");
}

static void test_owner_moves_builder(void)
{
	group_assignment_t *p = group_assignment_new(), *n = group_assignment_new();

	CU_ASSERT_FATAL(p && n);
	CU_ASSERT_EQUAL(group_assignment_add(p, "a", "t", 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(group_assignment_add(p, "b", "t", 1), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(group_assignment_add(p, "a", "u", 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(group_assignment_add(p, "a", "t", -1), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(group_assignment_add(p, NULL, "t", 1), BROOK_ERR__INVALID_ARG);
	CU_ASSERT(is(p, "a: tp0 up0; b: tp1"));
	CU_ASSERT_STRING_EQUAL(group_assignment_owner(p, "t", 1), "b");
	CU_ASSERT_STRING_EQUAL(group_assignment_owner(p, "u", 0), "a");
	CU_ASSERT_PTR_NULL(group_assignment_owner(p, "u", 1));
	CU_ASSERT_PTR_NULL(group_assignment_owner(p, "v", 0));
	CU_ASSERT_PTR_NULL(group_assignment_owner(NULL, "t", 0));

	/* t0 stays, t1 moves b -> a, u0 moves a -> c, w0 is new: 2 moves. */
	group_assignment_add(n, "a", "t", 0);
	group_assignment_add(n, "a", "t", 1);
	group_assignment_add(n, "c", "u", 0);
	group_assignment_add(n, "c", "w", 0);
	CU_ASSERT_EQUAL(group_assignment_moves(p, n), 2);
	CU_ASSERT_EQUAL(group_assignment_moves(p, p), 0);
	CU_ASSERT_EQUAL(group_assignment_moves(NULL, n), 0);
	group_assignment_free(p);
	group_assignment_free(n);
	group_assignment_free(NULL);
}

/* ---- helpers for sticky and the property tests ---- */

static size_t count_of(const group_assignment_t *a, const char *id)
{
	for (size_t i = 0; i < a->cnt; i++)
		if (!strcmp(a->members[i].member_id, id))
			return a->members[i].cnt;
	return 0;
}

static size_t spread(const group_assignment_t *a)
{
	size_t lo = SIZE_MAX, hi = 0;

	for (size_t i = 0; i < a->cnt; i++) {
		if (a->members[i].cnt < lo)
			lo = a->members[i].cnt;
		if (a->members[i].cnt > hi)
			hi = a->members[i].cnt;
	}
	return a->cnt ? hi - lo : 0;
}

static int cmp_desc(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;

	return a < b ? 1 : a > b ? -1 : 0;
}

/* The fewest moves any balanced assignment needs, for members that all
 * subscribe to all of `t`: each member keeps at most its quota (q or q+1,
 * the r = N % M larger quotas best spent on the members that owned the
 * most), everything else must move. */
static size_t min_moves(const group_member_t *m, size_t nm, const group_topic_t *t, size_t nt,
			const group_assignment_t *prev)
{
	size_t n = 0, kept = 0, k[64];

	for (size_t i = 0; i < nt; i++)
		n += (size_t)t[i].partitions;
	if (!prev || nm == 0)
		return 0;
	for (size_t i = 0; i < nm; i++) {
		k[i] = 0;
		for (size_t j = 0; j < prev->cnt; j++) {
			if (strcmp(prev->members[j].member_id, m[i].id))
				continue;
			for (size_t x = 0; x < prev->members[j].cnt; x++)
				for (size_t y = 0; y < nt; y++)
					if (!strcmp(prev->members[j].tps[x].topic, t[y].name) &&
					    prev->members[j].tps[x].partition < t[y].partitions)
						k[i]++;
		}
	}
	qsort(k, nm, sizeof(k[0]), cmp_desc);
	for (size_t i = 0; i < nm; i++) {
		size_t quota = n / nm + (i < n % nm ? 1 : 0);

		kept += k[i] < quota ? k[i] : quota;
	}
	/* Partitions of members that left were counted in no k[i]. */
	{
		size_t owned = 0;

		for (size_t j = 0; j < prev->cnt; j++)
			for (size_t x = 0; x < prev->members[j].cnt; x++)
				for (size_t y = 0; y < nt; y++)
					if (!strcmp(prev->members[j].tps[x].topic, t[y].name) &&
					    prev->members[j].tps[x].partition < t[y].partitions)
						owned++;
		return owned - kept;
	}
}

/* Sticky over a join/leave sequence on 6 partitions: 1 -> 2 -> 3 -> 2 -> 1
 * members. Each step moves exactly the partitions that must move: 3 to
 * the newcomer, 2 to the third, the leaver's 2, the leaver's 3. */
static void test_sticky_join_leave(void)
{
	static const char *const s[] = { "t" };
	static const group_topic_t t[] = { { "t", 6 } };
	group_member_t all[] = { { "A", s, 1 }, { "B", s, 1 }, { "C", s, 1 } };
	const size_t sizes[] = { 1, 2, 3, 2, 1 }, want_moves[] = { 0, 3, 2, 2, 3 };
	group_assignment_t *prev = NULL;

	for (size_t step = 0; step < 5; step++) {
		group_assignment_t *a = run(GROUP_ASSIGN_STICKY, all, sizes[step], t, 1, prev);

		CU_ASSERT_FATAL(a != NULL);
		CU_ASSERT(spread(a) <= 1);
		CU_ASSERT_EQUAL(group_assignment_moves(prev, a), want_moves[step]);
		CU_ASSERT_EQUAL(group_assignment_moves(prev, a),
				min_moves(all, sizes[step], t, 1, prev));
		group_assignment_free(prev);
		prev = a;
	}
	/* Nothing changed: nothing moves. */
	{
		group_assignment_t *a = run(GROUP_ASSIGN_STICKY, all, 1, t, 1, prev);

		CU_ASSERT(is(a, "A: tp0 tp1 tp2 tp3 tp4 tp5"));
		CU_ASSERT_EQUAL(group_assignment_moves(prev, a), 0);
		group_assignment_free(a);
	}
	group_assignment_free(prev);
}

/* Exact results: new group deals to the least loaded; a joiner takes from
 * the most loaded (the highest partitions); a leaver's partitions go to
 * the least loaded; an unbalanced or doubly-claimed `previous` is fixed
 * with the fewest moves; a growing topic's new partitions spread. */
static void test_sticky_exact(void)
{
	static const char *const s[] = { "t" };
	group_topic_t t[] = { { "t", 6 } };
	group_member_t m[] = { { "A", s, 1 }, { "B", s, 1 }, { "C", s, 1 } };
	group_assignment_t *p, *a;

	a = run(GROUP_ASSIGN_STICKY, m, 2, t, 1, NULL);
	CU_ASSERT(is(a, "A: tp0 tp2 tp4; B: tp1 tp3 tp5"));
	group_assignment_free(a);

	p = group_assignment_new();
	CU_ASSERT_FATAL(p != NULL);
	/* A owns 5, B owns p5 and (doubly, ignored for B) p0, X left. */
	for (int i = 0; i < 5; i++)
		group_assignment_add(p, "A", "t", i);
	group_assignment_add(p, "B", "t", 5);
	group_assignment_add(p, "B", "t", 0);
	group_assignment_add(p, "X", "t", 3);
	group_assignment_add(p, "A", "gone", 0);
	group_assignment_add(p, "A", "t", 17);
	a = run(GROUP_ASSIGN_STICKY, m, 2, t, 1, p);
	CU_ASSERT(is(a, "A: tp0 tp1 tp2; B: tp3 tp4 tp5"));
	CU_ASSERT_EQUAL(group_assignment_moves(p, a), 2);
	group_assignment_free(a);

	/* The topic grows to 9: new partitions to the least loaded. */
	group_assignment_free(p);
	p = run(GROUP_ASSIGN_STICKY, m, 3, t, 1, NULL);
	CU_ASSERT(is(p, "A: tp0 tp3; B: tp1 tp4; C: tp2 tp5"));
	t[0].partitions = 9;
	a = run(GROUP_ASSIGN_STICKY, m, 3, t, 1, p);
	CU_ASSERT(is(a, "A: tp0 tp3 tp6; B: tp1 tp4 tp7; C: tp2 tp5 tp8"));
	CU_ASSERT_EQUAL(group_assignment_moves(p, a), 0);
	group_assignment_free(a);
	/* ... and shrinks to 2: C keeps nothing and nothing moves. */
	t[0].partitions = 2;
	a = run(GROUP_ASSIGN_STICKY, m, 3, t, 1, p);
	CU_ASSERT(is(a, "A: tp0; B: tp1; C:"));
	group_assignment_free(a);
	group_assignment_free(p);
}

/* ---- random groups ---- */

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

static const char *const TNAMES[] = { "orders", "clicks", "a", "zz", "b.c", "x-1" };
static char ids[64][48];

typedef struct rgroup {
	group_member_t m[64];
	size_t nm;
	group_topic_t t[6];
	size_t nt;
	const char *subs[64][6];
} rgroup_t;

/* Random topics and members; identical subscriptions (every topic) or
 * random non-empty subsets. */
static void rgroup_make(rgroup_t *g, int identical)
{
	g->nt = 1 + rnd(6);
	for (size_t i = 0; i < g->nt; i++) {
		g->t[i].name = TNAMES[i];
		g->t[i].partitions = (int32_t)rnd(9);
	}
	g->nm = rnd(9);
	for (size_t i = 0; i < g->nm; i++) {
		snprintf(ids[i], sizeof(ids[i]), "grp_host%u-%u-%08x", rnd(3), rnd(1000), rnd(1u << 30));
		/* rare duplicate ids would be (correctly) rejected; keep unique */
		ids[i][0] = (char)('a' + i % 26);
		ids[i][1] = (char)('a' + i / 26);
		g->m[i].id = ids[i];
		g->m[i].topics = g->subs[i];
		g->m[i].ntopics = 0;
		for (size_t j = 0; j < g->nt; j++)
			if (identical || rnd(2))
				g->subs[i][g->m[i].ntopics++] = TNAMES[j];
	}
}

/* Every partition of a subscribed topic exactly once, to a member that
 * subscribes; nothing else; every member listed once. */
static int valid(const rgroup_t *g, const group_assignment_t *a)
{
	size_t total = 0, want = 0;

	if (!a || a->cnt != g->nm)
		return 0;
	for (size_t i = 0; i < a->cnt; i++) {
		const group_member_t *m = NULL;

		for (size_t k = 0; k < g->nm; k++)
			if (!strcmp(g->m[k].id, a->members[i].member_id))
				m = &g->m[k];
		if (!m)
			return 0;
		for (size_t j = 0; j < a->members[i].cnt; j++) {
			int sub = 0;

			for (size_t k = 0; k < m->ntopics; k++)
				sub |= !strcmp(m->topics[k], a->members[i].tps[j].topic);
			if (!sub)
				return 0;
		}
		total += a->members[i].cnt;
	}
	for (size_t t = 0; t < g->nt; t++) {
		int subscribed = 0;

		for (size_t i = 0; i < g->nm; i++)
			for (size_t k = 0; k < g->m[i].ntopics; k++)
				subscribed |= !strcmp(g->m[i].topics[k], g->t[t].name);
		if (!subscribed)
			continue;
		want += (size_t)g->t[t].partitions;
		for (int32_t p = 0; p < g->t[t].partitions; p++) {
			size_t n = 0;

			for (size_t i = 0; i < a->cnt; i++)
				for (size_t j = 0; j < a->members[i].cnt; j++)
					n += a->members[i].tps[j].partition == p &&
					     !strcmp(a->members[i].tps[j].topic, g->t[t].name);
			if (n != 1)
				return 0;
		}
	}
	return total == want;
}

/* Sticky's local optimum: nobody holds a partition that another subscriber
 * of its topic could take while holding two fewer. */
static int locally_balanced(const rgroup_t *g, const group_assignment_t *a)
{
	for (size_t i = 0; i < a->cnt; i++)
		for (size_t j = 0; j < a->members[i].cnt; j++)
			for (size_t k = 0; k < g->nm; k++)
				for (size_t x = 0; x < g->m[k].ntopics; x++)
					if (!strcmp(g->m[k].topics[x], a->members[i].tps[j].topic) &&
					    count_of(a, g->m[k].id) + 2 <= a->members[i].cnt)
						return 0;
	return 1;
}

static void shuffle(rgroup_t *g)
{
	for (size_t i = g->nm; i > 1; i--) {
		size_t j = rnd((uint32_t)i);
		group_member_t tmp = g->m[i - 1];

		g->m[i - 1] = g->m[j];
		g->m[j] = tmp;
	}
	for (size_t i = g->nt; i > 1; i--) {
		size_t j = rnd((uint32_t)i);
		group_topic_t tmp = g->t[i - 1];

		g->t[i - 1] = g->t[j];
		g->t[j] = tmp;
	}
}

static void test_random_properties(void)
{
	static char s1[16384], s2[16384];
	group_assign_strategy_t st[] = { GROUP_ASSIGN_RANGE, GROUP_ASSIGN_ROUNDROBIN,
					 GROUP_ASSIGN_STICKY };

	rng = ((uint64_t)harness_seed() << 1) | 1;
	for (int iter = 0; iter < 600; iter++) {
		rgroup_t g;
		int identical = iter % 2;

		rgroup_make(&g, identical);
		for (int s = 0; s < 3; s++) {
			group_assignment_t *a, *b, *prev = NULL;

			if (st[s] == GROUP_ASSIGN_STICKY && iter % 3 == 0) {
				/* A random previous owner map: some partitions
				 * that no longer exist, some owned by members
				 * that left, each partition at most once. */
				prev = group_assignment_new();
				CU_ASSERT_FATAL(prev != NULL);
				for (int k = 0; k < 6; k++)
					for (int32_t p = 0; p < 10; p++)
						if (rnd(2))
							CU_ASSERT_EQUAL(group_assignment_add(prev,
								rnd(5) == 0 || g.nm == 0 ? "ghost" :
								g.m[rnd((uint32_t)g.nm)].id,
								TNAMES[k], p), BROOK_ERR_NO_ERROR);
			}
			a = run(st[s], g.m, g.nm, g.t, g.nt, prev);
			b = run(st[s], g.m, g.nm, g.t, g.nt, prev);
			CU_ASSERT_FATAL(a && b);
			CU_ASSERT(valid(&g, a));
			fmt(a, s1, sizeof(s1));
			fmt(b, s2, sizeof(s2));
			CU_ASSERT_STRING_EQUAL(s1, s2);
			group_assignment_free(b);
			shuffle(&g);
			b = run(st[s], g.m, g.nm, g.t, g.nt, prev);
			CU_ASSERT_FATAL(b != NULL);
			fmt(b, s2, sizeof(s2));
			CU_ASSERT_STRING_EQUAL(s1, s2);
			group_assignment_free(b);

			if (identical && st[s] == GROUP_ASSIGN_RANGE) {
				/* Per topic within one, so overall within #topics. */
				CU_ASSERT(spread(a) <= g.nt);
				for (size_t t = 0; t < g.nt; t++) {
					size_t lo = SIZE_MAX, hi = 0;

					for (size_t i = 0; i < a->cnt; i++) {
						size_t n = 0;

						for (size_t j = 0; j < a->members[i].cnt; j++)
							n += !strcmp(a->members[i].tps[j].topic,
								     g.t[t].name);
						lo = n < lo ? n : lo;
						hi = n > hi ? n : hi;
					}
					CU_ASSERT(a->cnt == 0 || hi - lo <= 1);
				}
			} else if (identical) {
				CU_ASSERT(spread(a) <= 1);
			}
			if (st[s] == GROUP_ASSIGN_STICKY) {
				group_assignment_t *again;

				CU_ASSERT(locally_balanced(&g, a));
				if (identical)
					CU_ASSERT_EQUAL(group_assignment_moves(prev, a),
							min_moves(g.m, g.nm, g.t, g.nt, prev));
				/* Nothing changed: nothing moves, same result. */
				again = run(st[s], g.m, g.nm, g.t, g.nt, a);
				CU_ASSERT_FATAL(again != NULL);
				CU_ASSERT_EQUAL(group_assignment_moves(a, again), 0);
				fmt(again, s2, sizeof(s2));
				CU_ASSERT_STRING_EQUAL(s1, s2);
				group_assignment_free(again);
			}
			group_assignment_free(a);
			group_assignment_free(prev);
		}
	}
}

/* Sticky through random membership churn (joins, leaves, partition count
 * changes): always valid and balanced, and with identical subscriptions
 * the moves are exactly the unavoidable ones. */
static void test_random_sticky_churn(void)
{
	rng = ((uint64_t)harness_seed() << 1) | 1;
	for (int run_ = 0; run_ < 60; run_++) {
		int identical = run_ % 2 == 0;
		rgroup_t g;
		group_assignment_t *prev = NULL;

		/* Slots of ids[] and subs[] are never reused within a run:
		 * a member that moved down on a leave still points at its own. */
		size_t slot;

		rgroup_make(&g, identical);
		slot = g.nm;
		for (int step = 0; step < 25; step++) {
			group_assignment_t *a;
			uint32_t what = rnd(4);

			if (what == 0 && g.nm < 16) {
				size_t i = g.nm++, sl = slot++;

				snprintf(ids[sl], sizeof(ids[sl]), "%c%c-joiner-%d-%d",
					 'a' + (int)sl % 26, 'a' + (int)sl / 26, run_, step);
				g.m[i].id = ids[sl];
				g.m[i].topics = g.subs[sl];
				g.m[i].ntopics = 0;
				for (size_t j = 0; j < g.nt; j++)
					if (identical || rnd(2))
						g.subs[sl][g.m[i].ntopics++] = g.t[j].name;
			} else if (what == 1 && g.nm > 0) {
				size_t i = rnd((uint32_t)g.nm);

				g.m[i] = g.m[--g.nm];
			} else if (what == 2) {
				g.t[rnd((uint32_t)g.nt)].partitions = (int32_t)rnd(12);
			}
			a = run(GROUP_ASSIGN_STICKY, g.m, g.nm, g.t, g.nt, prev);
			CU_ASSERT_FATAL(a != NULL);
			CU_ASSERT(valid(&g, a));
			CU_ASSERT(locally_balanced(&g, a));
			if (identical) {
				CU_ASSERT(spread(a) <= 1);
				CU_ASSERT_EQUAL(group_assignment_moves(prev, a),
						min_moves(g.m, g.nm, g.t, g.nt, prev));
			}
			group_assignment_free(prev);
			prev = a;
		}
		group_assignment_free(prev);
	}
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "range: RangeAssignor javadoc example", test_range_javadoc },
		{ "roundrobin: RoundRobinAssignor javadoc example", test_roundrobin_javadoc },
		{ "roundrobin and range: unequal subscriptions", test_roundrobin_unequal },
		{ "unsubscribed, unknown and empty topics; no members", test_edges },
		{ "invalid arguments and strategy names", test_errors },
		{ "owner, moves and the assignment builder", test_owner_moves_builder },
		{ "sticky: join 1->2->3, leave 3->2->1, exact moves", test_sticky_join_leave },
		{ "sticky: exact results for stale and growing input", test_sticky_exact },
		{ "random groups: validity, determinism, balance", test_random_properties },
		{ "random sticky churn: balance and minimal moves", test_random_sticky_churn },
		{ NULL, NULL },
	};

	return harness_run("group_assign", tests);
}
