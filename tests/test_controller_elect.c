/*
 * test_controller_elect.c - the controller's pure decisions: offline
 * election (clean, unclean, none), initial states, ISR shrinking,
 * controlled-shutdown moves, preferred election, and ce_decide combining
 * them with the leader epoch.
 */
#include <string.h>

#include "controller_elect.h"
#include "harness.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int ids_are(const int32_t *got, int ngot, const int32_t *want, int nwant)
{
	return ngot == nwant &&
	       (nwant == 0 || memcmp(got, want, (size_t)nwant * sizeof(*got)) == 0);
}

#define ASSERT_IDS(got, ngot, ...)                                            \
	do {                                                                  \
		static const int32_t want_[] = { __VA_ARGS__ };               \
		CU_ASSERT(ids_are((got), (ngot), want_, N(want_)));           \
	} while (0)

static void test_contains(void)
{
	static const int32_t sorted[] = { 1, 3, 5, 9 };
	static const int32_t any[] = { 7, 2, 9 };

	CU_ASSERT(ce_sorted_contains(sorted, 4, 1));
	CU_ASSERT(ce_sorted_contains(sorted, 4, 9));
	CU_ASSERT(!ce_sorted_contains(sorted, 4, 4));
	CU_ASSERT(!ce_sorted_contains(sorted, 0, 1));
	CU_ASSERT(ce_contains(any, 3, 2));
	CU_ASSERT(!ce_contains(any, 3, 1));
	CU_ASSERT(!ce_contains(NULL, 0, 1));
}

/* The leader dies; the ISR's next member in ASSIGNMENT order leads. */
static void test_elect_clean(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 3, 1, 2 };
	static const int32_t live[] = { 2, 3 };
	int32_t nisr[CE_MAX_ISR];
	int n = -1;

	CU_ASSERT_EQUAL(ce_elect_leader(replicas, 3, isr, 3, live, 2, 0, nisr, &n), 2);
	ASSERT_IDS(nisr, n, 3, 2);  /* ISR order kept, the dead one gone */

	/* Assignment order, not ISR order, decides. */
	{
		static const int32_t r2[] = { 3, 2, 1 };

		CU_ASSERT_EQUAL(ce_elect_leader(r2, 3, isr, 3, live, 2, 0, nisr, &n), 3);
		ASSERT_IDS(nisr, n, 3, 2);
	}
}

/* A live replica outside the ISR is never chosen unless unclean. */
static void test_elect_isr_only(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 1, 3 };
	static const int32_t live[] = { 2, 3 };
	int32_t nisr[CE_MAX_ISR];
	int n;

	CU_ASSERT_EQUAL(ce_elect_leader(replicas, 3, isr, 2, live, 2, 0, nisr, &n), 3);
	ASSERT_IDS(nisr, n, 3);
	CU_ASSERT_EQUAL(ce_elect_leader(replicas, 3, isr, 2, live, 2, 1, nisr, &n), 3);
	ASSERT_IDS(nisr, n, 3);
}

static void test_elect_none_and_unclean(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 1, 2 };
	static const int32_t live[] = { 3, 4 };
	static const int32_t nobody[] = { 4 };
	int32_t nisr[CE_MAX_ISR];
	int n;

	/* Every ISR member dead, unclean off: no leader, last ISR kept. */
	CU_ASSERT_EQUAL(ce_elect_leader(replicas, 3, isr, 2, live, 2, 0, nisr, &n), -1);
	ASSERT_IDS(nisr, n, 1, 2);
	/* Unclean on: the first live replica, alone in the ISR. */
	CU_ASSERT_EQUAL(ce_elect_leader(replicas, 3, isr, 2, live, 2, 1, nisr, &n), 3);
	ASSERT_IDS(nisr, n, 3);
	/* Unclean on but no replica live at all (4 is not a replica). */
	CU_ASSERT_EQUAL(ce_elect_leader(replicas, 3, isr, 2, nobody, 1, 1, nisr, &n), -1);
	ASSERT_IDS(nisr, n, 1, 2);
	/* Nothing live. */
	CU_ASSERT_EQUAL(ce_elect_leader(replicas, 3, isr, 2, NULL, 0, 1, nisr, &n), -1);
}

static void test_initial_state(void)
{
	static const int32_t replicas[] = { 3, 1, 2 };
	static const int32_t live[] = { 1, 2 };
	static const int32_t all[] = { 1, 2, 3 };
	int32_t isr[CE_MAX_ISR];
	int n;

	CU_ASSERT_EQUAL(ce_initial_state(replicas, 3, all, 3, isr, &n), 3);
	ASSERT_IDS(isr, n, 3, 1, 2);
	CU_ASSERT_EQUAL(ce_initial_state(replicas, 3, live, 2, isr, &n), 1);
	ASSERT_IDS(isr, n, 1, 2);
	CU_ASSERT_EQUAL(ce_initial_state(replicas, 3, NULL, 0, isr, &n), -1);
	CU_ASSERT_EQUAL(n, 0);
}

static void test_shrink_isr(void)
{
	static const int32_t isr[] = { 2, 1, 3 };
	static const int32_t live13[] = { 1, 3 };
	static const int32_t live123[] = { 1, 2, 3 };
	static const int32_t live9[] = { 9 };
	int32_t out[CE_MAX_ISR];
	int n;

	CU_ASSERT_EQUAL(ce_shrink_isr_dead(isr, 3, live13, 2, out, &n), 1);
	ASSERT_IDS(out, n, 1, 3);
	CU_ASSERT_EQUAL(ce_shrink_isr_dead(isr, 3, live123, 3, out, &n), 0);
	ASSERT_IDS(out, n, 2, 1, 3);
	/* Never empty. */
	CU_ASSERT_EQUAL(ce_shrink_isr_dead(isr, 3, live9, 1, out, &n), 0);
	ASSERT_IDS(out, n, 2, 1, 3);
}

static void test_shutdown_move(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 1, 3, 2 };
	static const int32_t live[] = { 1, 2, 3 };
	static const int32_t shut1[] = { 1 };
	static const int32_t shut12[] = { 1, 2 };
	static const int32_t solo[] = { 1 };
	int32_t nl, nisr[CE_MAX_ISR];
	int n;

	/* Leader 1 stops: 2 (assignment order) takes over, 1 leaves the ISR. */
	CU_ASSERT_EQUAL(ce_controlled_shutdown_move(replicas, 3, 1, isr, 3, live, 3, shut1, 1, 1,
						    &nl, nisr, &n), 1);
	CU_ASSERT_EQUAL(nl, 2);
	ASSERT_IDS(nisr, n, 3, 2);
	/* 2 is stopping too: 3. */
	CU_ASSERT_EQUAL(ce_controlled_shutdown_move(replicas, 3, 1, isr, 3, live, 3, shut12, 2, 1,
						    &nl, nisr, &n), 1);
	CU_ASSERT_EQUAL(nl, 3);
	/* Alone in the ISR: stays. */
	CU_ASSERT_EQUAL(ce_controlled_shutdown_move(replicas, 3, 1, solo, 1, live, 3, shut1, 1, 1,
						    &nl, nisr, &n), 0);
	/* Follower 3 stops: leaves the ISR, leader unchanged. */
	CU_ASSERT_EQUAL(ce_controlled_shutdown_move(replicas, 3, 1, isr, 3, live, 3, NULL, 0, 3,
						    &nl, nisr, &n), 1);
	CU_ASSERT_EQUAL(nl, 1);
	ASSERT_IDS(nisr, n, 1, 2);
	/* A follower that is the last ISR member stays; one outside the ISR:
	 * nothing to do. */
	{
		static const int32_t only3[] = { 3 };

		CU_ASSERT_EQUAL(ce_controlled_shutdown_move(replicas, 3, -1, only3, 1, live, 3,
							    NULL, 0, 3, &nl, nisr, &n), 0);
		CU_ASSERT_EQUAL(ce_controlled_shutdown_move(replicas, 3, 1, solo, 1, live, 3, NULL,
							    0, 3, &nl, nisr, &n), 0);
	}
	/* The live ISR member that could take over is not live. */
	{
		static const int32_t live1[] = { 1 };

		CU_ASSERT_EQUAL(ce_controlled_shutdown_move(replicas, 3, 1, isr, 3, live1, 1, shut1,
							    1, 1, &nl, nisr, &n), 0);
	}
}

static void test_preferred(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 2, 1 };
	static const int32_t isr_no1[] = { 2, 3 };
	static const int32_t live[] = { 1, 2, 3 };
	static const int32_t live23[] = { 2, 3 };

	CU_ASSERT_EQUAL(ce_preferred_leader(replicas, 3, 2, isr, 2, live, 3), 1);
	CU_ASSERT_EQUAL(ce_preferred_leader(replicas, 3, 1, isr, 2, live, 3), -1);   /* leads */
	/* Not in the ISR. */
	CU_ASSERT_EQUAL(ce_preferred_leader(replicas, 3, 2, isr_no1, 2, live, 3), -1);
	CU_ASSERT_EQUAL(ce_preferred_leader(replicas, 3, 2, isr, 2, live23, 2), -1);  /* dead */
	CU_ASSERT_EQUAL(ce_preferred_leader(replicas, 0, 2, isr, 2, live, 3), -1);
}

/* --- ce_decide ----------------------------------------------------------- */

typedef struct fixture {
	int32_t live[8], eligible[8], shutting[8];
	ce_cluster_t cl;
} fixture_t;

/* live: ids ascending; shutting: subset. */
static void cluster(fixture_t *f, const int32_t *live, int nlive, const int32_t *shutting,
		    int nshutting)
{
	int k = 0;

	memset(f, 0, sizeof(*f));
	if (nlive)
		memcpy(f->live, live, (size_t)nlive * sizeof(*live));
	if (nshutting)
		memcpy(f->shutting, shutting, (size_t)nshutting * sizeof(*shutting));
	for (int i = 0; i < nlive; i++)
		if (!ce_sorted_contains(shutting, nshutting, live[i]))
			f->eligible[k++] = live[i];
	f->cl.live = f->live;
	f->cl.nlive = nlive;
	f->cl.eligible = f->eligible;
	f->cl.neligible = k;
	f->cl.shutting = f->shutting;
	f->cl.nshutting = nshutting;
}

static ce_partition_t part(const int32_t *replicas, int nrep, int32_t leader, int32_t epoch,
			   const int32_t *isr, int nisr)
{
	ce_partition_t p;

	p.replicas = replicas;
	p.nrep = nrep;
	p.has_state = 1;
	p.leader = leader;
	p.leader_epoch = epoch;
	p.isr = isr;
	p.nisr = nisr;
	return p;
}

static void test_decide_initial(void)
{
	static const int32_t replicas[] = { 2, 1, 3 };
	static const int32_t live[] = { 1, 3 };
	static const int32_t live123[] = { 1, 2, 3 };
	static const int32_t shut2[] = { 2 };
	fixture_t f;
	ce_partition_t p = part(replicas, 3, -1, 0, NULL, 0);
	ce_decision_t d;

	p.has_state = 0;
	cluster(&f, live, 2, NULL, 0);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_CREATE);
	CU_ASSERT_EQUAL(d.leader, 1);
	CU_ASSERT_EQUAL(d.leader_epoch, 0);
	CU_ASSERT_EQUAL(d.reasons, CE_R_INITIAL);
	ASSERT_IDS(d.isr, d.nisr, 1, 3);
	/* Nobody live: nothing yet. */
	cluster(&f, NULL, 0, NULL, 0);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_NONE);
	/* A stopping preferred replica neither leads nor joins the ISR. */
	cluster(&f, live123, 3, shut2, 1);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_CREATE);
	CU_ASSERT_EQUAL(d.leader, 1);
	ASSERT_IDS(d.isr, d.nisr, 1, 3);
}

static void test_decide_leader_failure(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 1, 2, 3 };
	static const int32_t live23[] = { 2, 3 };
	static const int32_t live123[] = { 1, 2, 3 };
	fixture_t f;
	ce_partition_t p = part(replicas, 3, 1, 4, isr, 3);
	ce_decision_t d;

	cluster(&f, live23, 2, NULL, 0);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, 2);
	CU_ASSERT_EQUAL(d.leader_epoch, 5);
	CU_ASSERT(d.reasons & CE_R_OFFLINE);
	CU_ASSERT_STRING_EQUAL(ce_reason_name(d.reasons), "offline");
	ASSERT_IDS(d.isr, d.nisr, 2, 3);
	/* Everyone alive and right: nothing. */
	cluster(&f, live123, 3, NULL, 0);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_NONE);
	CU_ASSERT_EQUAL(d.reasons, 0);
	/* Leader -1 with a live ISR member: elected. */
	p.leader = -1;
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, 1);
	ASSERT_IDS(d.isr, d.nisr, 1, 2, 3);
}

static void test_decide_no_leader(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 1, 2 };
	static const int32_t live3[] = { 3 };
	static const int32_t live4[] = { 4 };
	fixture_t f;
	ce_partition_t p = part(replicas, 3, 1, 7, isr, 2);
	ce_decision_t d;

	cluster(&f, live3, 1, NULL, 0);
	/* A live replica outside the ISR: the answer needs the config. */
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_NEED_CONFIG);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, 0, 0, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, -1);
	CU_ASSERT_EQUAL(d.leader_epoch, 8);
	CU_ASSERT(d.reasons & CE_R_NO_LEADER);
	ASSERT_IDS(d.isr, d.nisr, 1, 2);      /* the last ISR is kept */
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, 1, 0, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, 3);
	CU_ASSERT_EQUAL(d.leader_epoch, 8);
	CU_ASSERT(d.reasons & CE_R_UNCLEAN);
	ASSERT_IDS(d.isr, d.nisr, 3);
	/* Already leaderless: no new write, no epoch bump. */
	p.leader = -1;
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, 0, 0, &d), CE_NONE);
	/* No replica live at all: no config needed, leader -1. */
	p.leader = 2;
	cluster(&f, live4, 1, NULL, 0);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, -1);
	ASSERT_IDS(d.isr, d.nisr, 1, 2);
}

static void test_decide_isr_shrink(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 1, 2, 3 };
	static const int32_t live12[] = { 1, 2 };
	fixture_t f;
	ce_partition_t p = part(replicas, 3, 1, 2, isr, 3);
	ce_decision_t d;

	cluster(&f, live12, 2, NULL, 0);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, 1);
	CU_ASSERT_EQUAL(d.leader_epoch, 3);
	CU_ASSERT_EQUAL(d.reasons, CE_R_ISR_SHRINK);
	ASSERT_IDS(d.isr, d.nisr, 1, 2);
}

static void test_decide_shutdown(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 1, 2, 3 };
	static const int32_t live[] = { 1, 2, 3 };
	static const int32_t shut1[] = { 1 };
	static const int32_t shut3[] = { 3 };
	static const int32_t solo[] = { 1 };
	fixture_t f;
	ce_partition_t p = part(replicas, 3, 1, 0, isr, 3);
	ce_decision_t d;

	cluster(&f, live, 3, shut1, 1);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, 2);
	CU_ASSERT_EQUAL(d.leader_epoch, 1);
	CU_ASSERT(d.reasons & CE_R_SHUTDOWN);
	ASSERT_IDS(d.isr, d.nisr, 2, 3);
	/* Follower stopping. */
	cluster(&f, live, 3, shut3, 1);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, 1);
	ASSERT_IDS(d.isr, d.nisr, 1, 2);
	/* Alone: stays. */
	p.isr = solo;
	p.nisr = 1;
	cluster(&f, live, 3, shut1, 1);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_NONE);
	/* The leader died and only a stopping broker is left in the ISR: it
	 * leads rather than nobody. */
	{
		static const int32_t isr13[] = { 1, 3 };
		static const int32_t live23[] = { 2, 3 };

		p.isr = isr13;
		p.nisr = 2;
		cluster(&f, live23, 2, shut3, 1);
		CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_UPDATE);
		CU_ASSERT_EQUAL(d.leader, 3);
		ASSERT_IDS(d.isr, d.nisr, 3);
	}
}

static void test_decide_preferred(void)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	static const int32_t isr[] = { 2, 3, 1 };
	static const int32_t isr23[] = { 2, 3 };
	static const int32_t live[] = { 1, 2, 3 };
	static const int32_t shut1[] = { 1 };
	fixture_t f;
	ce_partition_t p = part(replicas, 3, 2, 5, isr, 3);
	ce_decision_t d;

	cluster(&f, live, 3, NULL, 0);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 0, &d), CE_NONE);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 1, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, 1);
	CU_ASSERT_EQUAL(d.leader_epoch, 6);
	CU_ASSERT_EQUAL(d.reasons, CE_R_PREFERRED);
	ASSERT_IDS(d.isr, d.nisr, 2, 3, 1);
	/* No-op when the preferred replica is not in the ISR. */
	p.isr = isr23;
	p.nisr = 2;
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 1, &d), CE_NONE);
	/* Nor when it is stopping. */
	p.isr = isr;
	p.nisr = 3;
	cluster(&f, live, 3, shut1, 1);
	CU_ASSERT_EQUAL(ce_decide(&p, &f.cl, -1, 1, &d), CE_UPDATE);
	CU_ASSERT_EQUAL(d.leader, 2);          /* only 1 leaves the ISR */
	ASSERT_IDS(d.isr, d.nisr, 2, 3);
	CU_ASSERT(!(d.reasons & CE_R_PREFERRED));
}

/* One case of the exhaustive check below. */
static void check_case(const int32_t *replicas, const int32_t *live, int nlive, const int32_t *isr,
		       int nisr, int32_t leader, int unclean, const ce_cluster_t *cl)
{
	ce_partition_t p = part(replicas, 3, leader, 10, isr, nisr), q;
	ce_decision_t d, d2;
	ce_action_t a = ce_decide(&p, cl, unclean, 0, &d);

	CU_ASSERT(a == CE_NONE || a == CE_UPDATE);
	if (a != CE_UPDATE)
		return;
	CU_ASSERT_EQUAL(d.leader_epoch, 11);
	CU_ASSERT(d.nisr >= 1);
	if (d.leader >= 0 && d.leader != leader) {
		CU_ASSERT(ce_sorted_contains(live, nlive, d.leader));
		CU_ASSERT(ce_contains(d.isr, d.nisr, d.leader));
		if (!(d.reasons & CE_R_UNCLEAN)) {
			CU_ASSERT(ce_contains(isr, nisr, d.leader));
			for (int i = 0; i < d.nisr; i++) {
				CU_ASSERT(ce_contains(isr, nisr, d.isr[i]));
				CU_ASSERT(ce_sorted_contains(live, nlive, d.isr[i]));
			}
		}
	} else if (d.leader < 0) {
		CU_ASSERT(ids_are(d.isr, d.nisr, isr, nisr));
	}
	q = part(replicas, 3, d.leader, d.leader_epoch, d.isr, d.nisr);
	CU_ASSERT_EQUAL(ce_decide(&q, cl, unclean, 0, &d2), CE_NONE);
}

/* Exhaustive: 3 replicas, every non-empty ISR subset, every set of live
 * brokers among 1..4, leader any of -1..4 (consistent or not), unclean
 * 0/1 (k / 2 - 1 and k % 2). Invariants: the ISR is never empty; a new leader is live, in the
 * new ISR and, unless unclean, was in the old one, whose live members
 * alone make the new ISR; leaderless keeps the ISR; an update bumps the
 * epoch by exactly one; deciding again on the result changes nothing. */
static void test_decide_invariants(void)
{
	static const int32_t replicas[] = { 3, 1, 2 };
	int checked = 0;

	for (int livemask = 0; livemask < 16; livemask++) {
		int32_t live[4];
		int nlive = 0;
		fixture_t f;

		for (int b = 0; b < 4; b++)
			if (livemask & (1 << b))
				live[nlive++] = b + 1;
		cluster(&f, live, nlive, NULL, 0);
		for (int isrmask = 1; isrmask < 8; isrmask++) {
			int32_t isr[3];
			int nisr = 0;

			for (int i = 0; i < 3; i++)
				if (isrmask & (1 << i))
					isr[nisr++] = replicas[i];
			for (int k = 0; k < 12; k++, checked++)
				check_case(replicas, live, nlive, isr, nisr, k / 2 - 1, k % 2,
					   &f.cl);
		}
	}
	CU_ASSERT_EQUAL(checked, 16 * 7 * 6 * 2);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "membership helpers", test_contains },
		{ "leader dies: next ISR member in assignment order", test_elect_clean },
		{ "only ISR members unless unclean", test_elect_isr_only },
		{ "all ISR dead: -1, or the first live replica when unclean",
		  test_elect_none_and_unclean },
		{ "initial state", test_initial_state },
		{ "ISR shrink: dead out, never empty", test_shrink_isr },
		{ "controlled shutdown moves", test_shutdown_move },
		{ "preferred leader", test_preferred },
		{ "decide: initial", test_decide_initial },
		{ "decide: leader failure", test_decide_leader_failure },
		{ "decide: no leader, unclean, config needed", test_decide_no_leader },
		{ "decide: ISR shrink", test_decide_isr_shrink },
		{ "decide: controlled shutdown", test_decide_shutdown },
		{ "decide: preferred election", test_decide_preferred },
		{ "decide: invariants over every small case", test_decide_invariants },
		{ NULL, NULL },
	};

	return harness_run("controller_elect", tests);
}
