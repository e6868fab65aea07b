/* controller_elect.c - the controller's decisions (see controller_elect.h). */
#include <string.h>

#include "controller_elect.h"

int ce_contains(const int32_t *ids, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

int ce_sorted_contains(const int32_t *ids, int n, int32_t id)
{
	int lo = 0, hi = n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (ids[mid] == id)
			return 1;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int ids_equal(const int32_t *a, int na, const int32_t *b, int nb)
{
	return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof(*a)) == 0);
}

/* Copies at most CE_MAX_ISR ids. */
static int ids_copy(int32_t *dst, const int32_t *src, int n)
{
	if (n > CE_MAX_ISR)
		n = CE_MAX_ISR;
	if (n > 0)
		memmove(dst, src, (size_t)n * sizeof(*dst));
	return n > 0 ? n : 0;
}

/* The first replica, in assignment order, that is live (and in the ISR
 * when isr is given), or -1. */
static int32_t first_replica(const int32_t *replicas, int nrep, const int32_t *isr, int nisr,
			     const int32_t *live, int nlive)
{
	for (int i = 0; i < nrep; i++)
		if (ce_sorted_contains(live, nlive, replicas[i]) &&
		    (!isr || ce_contains(isr, nisr, replicas[i])))
			return replicas[i];
	return -1;
}

/* ids without `drop`, order kept. */
static int ids_without(const int32_t *ids, int n, int32_t drop, int32_t *out)
{
	int k = 0;

	for (int i = 0; i < n && k < CE_MAX_ISR; i++)
		if (ids[i] != drop)
			out[k++] = ids[i];
	return k;
}

int32_t ce_elect_leader(const int32_t *replicas, int nrep, const int32_t *isr, int nisr,
			const int32_t *live, int nlive, int unclean, int32_t *new_isr,
			int *new_nisr)
{
	int32_t leader = first_replica(replicas, nrep, isr, nisr, live, nlive);
	int k = 0;

	if (leader >= 0) {
		for (int i = 0; i < nisr && k < CE_MAX_ISR; i++)
			if (ce_sorted_contains(live, nlive, isr[i]))
				new_isr[k++] = isr[i];
		*new_nisr = k;
		return leader;
	}
	if (unclean && (leader = first_replica(replicas, nrep, NULL, 0, live, nlive)) >= 0) {
		new_isr[0] = leader;
		*new_nisr = 1;
		return leader;
	}
	*new_nisr = ids_copy(new_isr, isr, nisr);
	return -1;
}

int32_t ce_initial_state(const int32_t *replicas, int nrep, const int32_t *live, int nlive,
			 int32_t *isr, int *nisr)
{
	int k = 0;

	for (int i = 0; i < nrep && k < CE_MAX_ISR; i++)
		if (ce_sorted_contains(live, nlive, replicas[i]) &&
		    !ce_contains(isr, k, replicas[i]))
			isr[k++] = replicas[i];
	*nisr = k;
	return k ? isr[0] : -1;
}

int ce_shrink_isr_dead(const int32_t *isr, int nisr, const int32_t *live, int nlive,
		       int32_t *out, int *nout)
{
	int32_t tmp[CE_MAX_ISR];
	int k = 0;

	if (nisr > CE_MAX_ISR)
		nisr = CE_MAX_ISR;
	for (int i = 0; i < nisr; i++)
		if (ce_sorted_contains(live, nlive, isr[i]))
			tmp[k++] = isr[i];
	if (k == nisr || k == 0) {
		*nout = ids_copy(out, isr, nisr);
		return 0;
	}
	*nout = ids_copy(out, tmp, k);
	return 1;
}

int ce_controlled_shutdown_move(const int32_t *replicas, int nrep, int32_t leader,
				const int32_t *isr, int nisr, const int32_t *live, int nlive,
				const int32_t *shutting, int nshutting, int32_t broker,
				int32_t *new_leader, int32_t *new_isr, int *new_nisr)
{
	if (nisr > CE_MAX_ISR)
		nisr = CE_MAX_ISR;
	if (leader == broker) {
		for (int i = 0; i < nrep; i++) {
			int32_t r = replicas[i];

			if (r == broker || !ce_contains(isr, nisr, r) ||
			    !ce_sorted_contains(live, nlive, r) ||
			    ce_sorted_contains(shutting, nshutting, r))
				continue;
			*new_leader = r;
			*new_nisr = ids_without(isr, nisr, broker, new_isr);
			return 1;
		}
		return 0;
	}
	if (ce_contains(isr, nisr, broker) && nisr > 1) {
		*new_leader = leader;
		*new_nisr = ids_without(isr, nisr, broker, new_isr);
		return 1;
	}
	return 0;
}

int32_t ce_preferred_leader(const int32_t *replicas, int nrep, int32_t leader, const int32_t *isr,
			    int nisr, const int32_t *live, int nlive)
{
	int32_t p;

	if (nrep < 1)
		return -1;
	p = replicas[0];
	if (p == leader || !ce_sorted_contains(live, nlive, p) || !ce_contains(isr, nisr, p))
		return -1;
	return p;
}

ce_action_t ce_decide(const ce_partition_t *p, const ce_cluster_t *cl, int unclean, int preferred,
		      ce_decision_t *out)
{
	int32_t isr[CE_MAX_ISR], tmp[CE_MAX_ISR], leader;
	int nisr, ntmp;
	unsigned reasons = 0;

	memset(out, 0, sizeof(*out));
	out->action = CE_NONE;
	out->leader = -1;

	if (!p->has_state) {
		/* The preferred live replica leads; one in controlled shutdown
		 * only when nobody else can. */
		leader = first_replica(p->replicas, p->nrep, NULL, 0, cl->eligible, cl->neligible);
		if (ce_initial_state(p->replicas, p->nrep, cl->live, cl->nlive, isr, &nisr) < 0)
			return CE_NONE;
		if (leader < 0)
			leader = isr[0];
		for (int i = 0; i < cl->nshutting; i++) {
			int32_t nl;

			if (cl->shutting[i] != leader &&
			    ce_controlled_shutdown_move(p->replicas, p->nrep, leader, isr, nisr,
							cl->live, cl->nlive, cl->shutting,
							cl->nshutting, cl->shutting[i], &nl, tmp,
							&ntmp))
				nisr = ids_copy(isr, tmp, ntmp);
		}
		out->action = CE_CREATE;
		out->reasons = CE_R_INITIAL;
		out->leader = leader;
		out->leader_epoch = 0;
		out->nisr = ids_copy(out->isr, isr, nisr);
		return CE_CREATE;
	}

	leader = p->leader;
	nisr = ids_copy(isr, p->isr, p->nisr);
	if (leader < 0 || !ce_sorted_contains(cl->live, cl->nlive, leader)) {
		/* Offline: elect among the brokers that are staying, else among
		 * every live one (a stopping broker beats an offline partition). */
		int32_t l = ce_elect_leader(p->replicas, p->nrep, isr, nisr, cl->eligible,
					    cl->neligible, 0, tmp, &ntmp);

		if (l < 0)
			l = ce_elect_leader(p->replicas, p->nrep, isr, nisr, cl->live, cl->nlive, 0,
					    tmp, &ntmp);
		if (l >= 0) {
			leader = l;
			nisr = ids_copy(isr, tmp, ntmp);
			reasons |= CE_R_OFFLINE;
		} else {
			int32_t any = first_replica(p->replicas, p->nrep, NULL, 0, cl->eligible,
						    cl->neligible);

			if (any < 0)
				any = first_replica(p->replicas, p->nrep, NULL, 0, cl->live,
						    cl->nlive);
			if (any >= 0 && unclean < 0) {
				out->action = CE_NEED_CONFIG;
				return CE_NEED_CONFIG;
			}
			if (any >= 0 && unclean) {
				leader = any;
				isr[0] = any;
				nisr = 1;
				reasons |= CE_R_UNCLEAN;
			} else {
				/* Nobody may lead: keep the last ISR, which names
				 * the replicas that hold every acknowledged
				 * message. */
				if (leader != -1)
					reasons |= CE_R_NO_LEADER;
				leader = -1;
			}
		}
	} else if (ce_sorted_contains(cl->shutting, cl->nshutting, leader)) {
		int32_t nl;

		if (ce_controlled_shutdown_move(p->replicas, p->nrep, leader, isr, nisr, cl->live,
						cl->nlive, cl->shutting, cl->nshutting, leader, &nl,
						tmp, &ntmp)) {
			leader = nl;
			nisr = ids_copy(isr, tmp, ntmp);
			reasons |= CE_R_SHUTDOWN;
		}
	}

	if (leader >= 0) {
		int32_t nl;

		if (ce_shrink_isr_dead(isr, nisr, cl->live, cl->nlive, tmp, &ntmp)) {
			nisr = ids_copy(isr, tmp, ntmp);
			reasons |= CE_R_ISR_SHRINK;
		}
		for (int i = 0; i < cl->nshutting; i++) {
			if (cl->shutting[i] != leader &&
			    ce_controlled_shutdown_move(p->replicas, p->nrep, leader, isr, nisr,
							cl->live, cl->nlive, cl->shutting,
							cl->nshutting, cl->shutting[i], &nl, tmp,
							&ntmp)) {
				nisr = ids_copy(isr, tmp, ntmp);
				reasons |= CE_R_SHUTDOWN;
			}
		}
		if (preferred &&
		    (nl = ce_preferred_leader(p->replicas, p->nrep, leader, isr, nisr, cl->eligible,
					      cl->neligible)) >= 0) {
			leader = nl;
			reasons |= CE_R_PREFERRED;
		}
	}

	if (leader == p->leader && ids_equal(isr, nisr, p->isr, p->nisr))
		return CE_NONE;
	out->action = CE_UPDATE;
	out->reasons = reasons;
	out->leader = leader;
	out->leader_epoch = p->leader_epoch < INT32_MAX ? p->leader_epoch + 1 : p->leader_epoch;
	out->nisr = ids_copy(out->isr, isr, nisr);
	return CE_UPDATE;
}

const char *ce_reason_name(unsigned reasons)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ CE_R_INITIAL, "initial" },
		{ CE_R_UNCLEAN, "unclean" },
		{ CE_R_OFFLINE, "offline" },
		{ CE_R_NO_LEADER, "no-leader" },
		{ CE_R_SHUTDOWN, "controlled-shutdown" },
		{ CE_R_PREFERRED, "preferred" },
		{ CE_R_ISR_SHRINK, "isr-shrink" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (reasons & names[i].bit)
			return names[i].name;
	return "none";
}
