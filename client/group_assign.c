/*
 * group_assign.c - range, roundrobin and sticky partition assignment.
 *
 * All three strategies work on the same internal picture: members sorted by
 * id (index m), topics sorted by name (index t), a subscription matrix
 * sub[m][t], and every partition of a subscribed topic numbered globally in
 * (topic, partition) order, with owner[g] the member index that gets it.
 * Building the result from owner[] in global order gives every member its
 * partitions sorted, and sorting the inputs first makes the result
 * independent of the order the caller listed members and topics in.
 */
#include <stdlib.h>
#include <string.h>

#include "errstr.h"
#include "group_assign.h"

#define NONE SIZE_MAX

typedef struct ctx {
	const group_member_t *members;
	const group_topic_t *topics;
	size_t nm, nt;
	size_t *mord;		/* sorted position -> index into members */
	size_t *tord;		/* sorted position -> index into topics */
	unsigned char *sub;	/* nm * nt: member m subscribes to topic t */
	size_t *nsubs;		/* per topic: how many members subscribe */
	size_t *base;		/* per topic: global number of its partition 0 */
	size_t np;		/* partitions of subscribed topics */
	size_t *owner;		/* per global partition: member or NONE */
	size_t *count;		/* per member: partitions owned */
} ctx_t;

/* qsort has no context argument; these sorts run on the caller's thread
 * only for the length of one qsort call, so a thread-local pointer is safe
 * even when several consumers rebalance at once. */
static __thread const ctx_t *sort_ctx;

static int cmp_member(const void *a, const void *b)
{
	return strcmp(sort_ctx->members[*(const size_t *)a].id,
		      sort_ctx->members[*(const size_t *)b].id);
}

static int cmp_topic(const void *a, const void *b)
{
	return strcmp(sort_ctx->topics[*(const size_t *)a].name,
		      sort_ctx->topics[*(const size_t *)b].name);
}

/* Sorted position of the member with this id, or NONE. */
static size_t find_member(const ctx_t *c, const char *id)
{
	size_t lo = 0, hi = c->nm;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(id, c->members[c->mord[mid]].id);

		if (r == 0)
			return mid;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NONE;
}

static size_t find_topic(const ctx_t *c, const char *name)
{
	size_t lo = 0, hi = c->nt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, c->topics[c->tord[mid]].name);

		if (r == 0)
			return mid;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NONE;
}

static int32_t nparts(const ctx_t *c, size_t t)
{
	return c->topics[c->tord[t]].partitions;
}

static void ctx_destroy(ctx_t *c)
{
	free(c->mord);
	free(c->tord);
	free(c->sub);
	free(c->nsubs);
	free(c->base);
	free(c->owner);
	free(c->count);
}

static brook_err_t validate(const group_member_t *members, size_t nm, const group_topic_t *topics,
			    size_t nt, char *errstr, size_t errstr_size)
{
	if (nm > 0 && !members) {
		brook_errstr(errstr, errstr_size, "group assignment: members is NULL");
		return BROOK_ERR__INVALID_ARG;
	}
	if (nt > 0 && !topics) {
		brook_errstr(errstr, errstr_size, "group assignment: topics is NULL");
		return BROOK_ERR__INVALID_ARG;
	}
	for (size_t i = 0; i < nm; i++) {
		if (!members[i].id) {
			brook_errstr(errstr, errstr_size, "group assignment: member %zu has no id", i);
			return BROOK_ERR__INVALID_ARG;
		}
		if (members[i].ntopics > 0 && !members[i].topics) {
			brook_errstr(errstr, errstr_size,
				     "group assignment: member %s: subscription is NULL",
				     members[i].id);
			return BROOK_ERR__INVALID_ARG;
		}
		for (size_t j = 0; j < members[i].ntopics; j++)
			if (!members[i].topics[j]) {
				brook_errstr(errstr, errstr_size,
					     "group assignment: member %s: topic %zu is NULL",
					     members[i].id, j);
				return BROOK_ERR__INVALID_ARG;
			}
	}
	for (size_t i = 0; i < nt; i++) {
		if (!topics[i].name) {
			brook_errstr(errstr, errstr_size, "group assignment: topic %zu has no name", i);
			return BROOK_ERR__INVALID_ARG;
		}
		if (topics[i].partitions < 0) {
			brook_errstr(errstr, errstr_size,
				     "group assignment: topic %s: negative partition count %d",
				     topics[i].name, (int)topics[i].partitions);
			return BROOK_ERR__INVALID_ARG;
		}
	}
	return BROOK_ERR_NO_ERROR;
}

/* calloc for n elements of size sz, with at least one byte so that an
 * empty group is not mistaken for an allocation failure. */
static void *xcalloc(size_t n, size_t sz)
{
	return calloc(n ? n : 1, sz);
}

static brook_err_t ctx_init(ctx_t *c, const group_member_t *members, size_t nm,
			    const group_topic_t *topics, size_t nt, char *errstr,
			    size_t errstr_size)
{
	memset(c, 0, sizeof(*c));
	c->members = members;
	c->topics = topics;
	c->nm = nm;
	c->nt = nt;

	if (nt > 0 && nm > SIZE_MAX / nt)
		goto nomem;
	c->mord = xcalloc(nm, sizeof(*c->mord));
	c->tord = xcalloc(nt, sizeof(*c->tord));
	c->sub = xcalloc(nm * nt, 1);
	c->nsubs = xcalloc(nt, sizeof(*c->nsubs));
	c->base = xcalloc(nt, sizeof(*c->base));
	c->count = xcalloc(nm, sizeof(*c->count));
	if (!c->mord || !c->tord || !c->sub || !c->nsubs || !c->base || !c->count)
		goto nomem;

	for (size_t i = 0; i < nm; i++)
		c->mord[i] = i;
	for (size_t i = 0; i < nt; i++)
		c->tord[i] = i;
	sort_ctx = c;
	qsort(c->mord, nm, sizeof(*c->mord), cmp_member);
	qsort(c->tord, nt, sizeof(*c->tord), cmp_topic);
	sort_ctx = NULL;

	/* Ids name the owner znodes, so two members with one id would both
	 * believe they own the same partitions. */
	for (size_t i = 1; i < nm; i++)
		if (!strcmp(members[c->mord[i - 1]].id, members[c->mord[i]].id)) {
			brook_errstr(errstr, errstr_size, "group assignment: duplicate member id %s",
				     members[c->mord[i]].id);
			return BROOK_ERR__INVALID_ARG;
		}
	for (size_t i = 1; i < nt; i++)
		if (!strcmp(topics[c->tord[i - 1]].name, topics[c->tord[i]].name)) {
			brook_errstr(errstr, errstr_size, "group assignment: duplicate topic %s",
				     topics[c->tord[i]].name);
			return BROOK_ERR__INVALID_ARG;
		}

	for (size_t m = 0; m < nm; m++) {
		const group_member_t *gm = &members[c->mord[m]];

		for (size_t j = 0; j < gm->ntopics; j++) {
			size_t t = find_topic(c, gm->topics[j]);

			if (t != NONE && !c->sub[m * nt + t]) {
				c->sub[m * nt + t] = 1;
				c->nsubs[t]++;
			}
		}
	}

	/* Number only the partitions someone will get. */
	for (size_t t = 0; t < nt; t++) {
		c->base[t] = c->np;
		if (c->nsubs[t] > 0) {
			if ((size_t)nparts(c, t) > SIZE_MAX - c->np)
				goto nomem;
			c->np += (size_t)nparts(c, t);
		}
	}
	c->owner = xcalloc(c->np, sizeof(*c->owner));
	if (!c->owner)
		goto nomem;
	for (size_t g = 0; g < c->np; g++)
		c->owner[g] = NONE;
	return BROOK_ERR_NO_ERROR;

nomem:
	brook_errstr(errstr, errstr_size, "group assignment: out of memory");
	return BROOK_ERR__NOMEM;
}

static void give(ctx_t *c, size_t g, size_t m)
{
	if (c->owner[g] != NONE)
		c->count[c->owner[g]]--;
	c->owner[g] = m;
	c->count[m]++;
}

static int subscribed(const ctx_t *c, size_t m, size_t t)
{
	return c->sub[m * c->nt + t];
}

/* RangeAssignor.assign(): for each topic, the subscribed members in id
 * order; numPartitionsPerConsumer = n / c, consumersWithExtraPartition =
 * n % c; member i starts at i * per + min(i, extra). */
static void assign_range(ctx_t *c)
{
	for (size_t t = 0; t < c->nt; t++) {
		size_t n = (size_t)nparts(c, t), subs = c->nsubs[t], i = 0;

		if (subs == 0)
			continue;
		for (size_t m = 0; m < c->nm; m++) {
			size_t per = n / subs, extra = n % subs;
			size_t start = i * per + (i < extra ? i : extra);
			size_t len = per + (i < extra ? 1 : 0);

			if (!subscribed(c, m, t))
				continue;
			for (size_t p = start; p < start + len; p++)
				give(c, c->base[t] + p, m);
			i++;
		}
	}
}

/* RoundRobinAssignor.assign(): one circular iterator over the sorted
 * members for all partitions sorted by topic then partition; a member not
 * subscribed to the topic is skipped (the iterator moves past it), the
 * member that gets a partition is moved past too. */
static void assign_roundrobin(ctx_t *c)
{
	size_t pos = 0;

	for (size_t t = 0; t < c->nt; t++) {
		if (c->nsubs[t] == 0)
			continue;
		for (int32_t p = 0; p < nparts(c, t); p++) {
			while (!subscribed(c, pos, t))
				pos = (pos + 1) % c->nm;
			give(c, c->base[t] + (size_t)p, pos);
			pos = (pos + 1) % c->nm;
		}
	}
}

/* The member subscribed to topic t with the fewest partitions, ties to the
 * smaller id; t must have a subscriber. */
static size_t least_loaded(const ctx_t *c, size_t t)
{
	size_t best = NONE;

	for (size_t m = 0; m < c->nm; m++)
		if (subscribed(c, m, t) && (best == NONE || c->count[m] < c->count[best]))
			best = m;
	return best;
}

/* One balancing move, if any exists: a partition from a member `a` to a
 * member `b` subscribed to its topic with count(b) <= count(a) - 2. Each
 * such move lowers sum(count^2) by at least 2, so repeating it ends, and
 * it ends exactly when the "local optimum" of group_assign.h holds.
 * Sources are tried from the most loaded (ties: smaller id), topics from
 * the last, and the source gives up its highest partition of the topic:
 * arbitrary but fixed, which is all determinism needs. */
static int sticky_move_one(ctx_t *c, size_t *by_load)
{
	/* Insertion sort by (count desc, id asc): loads change by one per move
	 * and the list is nearly sorted, so this is close to linear. */
	for (size_t i = 1; i < c->nm; i++) {
		size_t m = by_load[i], j = i;

		while (j > 0 && (c->count[by_load[j - 1]] < c->count[m] ||
				 (c->count[by_load[j - 1]] == c->count[m] && by_load[j - 1] > m))) {
			by_load[j] = by_load[j - 1];
			j--;
		}
		by_load[j] = m;
	}
	for (size_t i = 0; i < c->nm; i++) {
		size_t a = by_load[i];

		if (c->count[a] < 2)
			break;	/* nobody can hold count(a) - 2 or fewer */
		for (size_t t = c->nt; t-- > 0;) {
			size_t b;

			if (c->nsubs[t] < 2 || !subscribed(c, a, t))
				continue;
			b = least_loaded(c, t);
			if (c->count[b] + 2 > c->count[a])
				continue;
			for (size_t p = (size_t)nparts(c, t); p-- > 0;)
				if (c->owner[c->base[t] + p] == a) {
					give(c, c->base[t] + p, b);
					return 1;
				}
		}
	}
	return 0;
}

/* Sticky, in three steps:
 *   1. keep every valid previous ownership (owner still in the group and
 *      subscribed, partition still exists);
 *   2. hand each unowned partition, in (topic, partition) order, to the
 *      least loaded subscribed member;
 *   3. balancing moves from the most loaded members until none is left.
 * With identical subscriptions this is optimal: step 2 only raises the
 * least loaded members, so step 3 never takes from a member that received
 * in step 2; it takes one previous partition per move, from the most loaded
 * member first, which leaves the r = np % nm "one extra" slots with members
 * that had the most partitions before, the choice that keeps the most.
 * Hence moves = np - sum(min(kept_i, quota_i)), the lower bound. */
static brook_err_t assign_sticky(ctx_t *c, const group_assignment_t *prev, char *errstr,
				 size_t errstr_size)
{
	size_t *by_load;

	for (size_t i = 0; prev && i < prev->cnt; i++) {
		const group_member_assignment_t *pm = &prev->members[i];
		size_t m = find_member(c, pm->member_id);

		if (m == NONE)
			continue;
		for (size_t j = 0; j < pm->cnt; j++) {
			size_t t = find_topic(c, pm->tps[j].topic), g;

			if (t == NONE || !subscribed(c, m, t) || pm->tps[j].partition < 0 ||
			    pm->tps[j].partition >= nparts(c, t))
				continue;
			g = c->base[t] + (size_t)pm->tps[j].partition;
			/* A partition claimed twice goes to the smaller id
			 * whatever order `previous` lists them in. */
			if (c->owner[g] == NONE || m < c->owner[g])
				give(c, g, m);
		}
	}

	for (size_t t = 0; t < c->nt; t++) {
		if (c->nsubs[t] == 0)
			continue;
		for (size_t p = 0; p < (size_t)nparts(c, t); p++)
			if (c->owner[c->base[t] + p] == NONE)
				give(c, c->base[t] + p, least_loaded(c, t));
	}

	by_load = xcalloc(c->nm, sizeof(*by_load));
	if (!by_load) {
		brook_errstr(errstr, errstr_size, "group assignment: out of memory");
		return BROOK_ERR__NOMEM;
	}
	for (size_t m = 0; m < c->nm; m++)
		by_load[m] = m;
	while (sticky_move_one(c, by_load))
		;
	free(by_load);
	return BROOK_ERR_NO_ERROR;
}

group_assignment_t *group_assignment_new(void)
{
	return calloc(1, sizeof(group_assignment_t));
}

void group_assignment_free(group_assignment_t *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->cnt; i++) {
		free(a->members[i].member_id);
		free(a->members[i].tps);
	}
	free(a->members);
	for (size_t i = 0; i < a->ntopics_; i++)
		free(a->topics_[i]);
	free(a->topics_);
	free(a);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 4;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return -1;
		ncap *= 2;
	}
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* The assignment's own copy of a topic name, made on first use. Searched
 * from the end because builders usually add a topic's partitions together. */
static const char *intern_topic(group_assignment_t *a, const char *topic)
{
	char *s;

	for (size_t i = a->ntopics_; i-- > 0;)
		if (!strcmp(a->topics_[i], topic))
			return a->topics_[i];
	if (grow((void **)&a->topics_, &a->topics_cap_, a->ntopics_ + 1, sizeof(char *)) < 0)
		return NULL;
	s = strdup(topic);
	if (!s)
		return NULL;
	a->topics_[a->ntopics_++] = s;
	return s;
}

static group_member_assignment_t *add_member(group_assignment_t *a, const char *id)
{
	group_member_assignment_t *ma;
	char *s;

	if (grow((void **)&a->members, &a->cap_, a->cnt + 1, sizeof(*a->members)) < 0)
		return NULL;
	s = strdup(id);
	if (!s)
		return NULL;
	ma = &a->members[a->cnt++];
	memset(ma, 0, sizeof(*ma));
	ma->member_id = s;
	return ma;
}

brook_err_t group_assignment_add(group_assignment_t *a, const char *member_id, const char *topic,
				 int32_t partition)
{
	group_member_assignment_t *ma = NULL;
	const char *t;

	if (!a || !member_id || !topic || partition < 0)
		return BROOK_ERR__INVALID_ARG;
	for (size_t i = 0; i < a->cnt && !ma; i++)
		if (!strcmp(a->members[i].member_id, member_id))
			ma = &a->members[i];
	/* Grow the member's list before creating anything, so a failure
	 * leaves at most an unused interned name or an empty member. */
	if (!ma && !(ma = add_member(a, member_id)))
		return BROOK_ERR__NOMEM;
	if (grow((void **)&ma->tps, &ma->cap_, ma->cnt + 1, sizeof(*ma->tps)) < 0)
		return BROOK_ERR__NOMEM;
	if (!(t = intern_topic(a, topic)))
		return BROOK_ERR__NOMEM;
	ma->tps[ma->cnt].topic = t;
	ma->tps[ma->cnt].partition = partition;
	ma->cnt++;
	return BROOK_ERR_NO_ERROR;
}

/* owner[] into the public form: every member in id order, partitions in
 * global (topic, partition) order. */
static brook_err_t build_result(const ctx_t *c, group_assignment_t **out, char *errstr,
				size_t errstr_size)
{
	group_assignment_t *a = calloc(1, sizeof(*a));
	const char **names = xcalloc(c->nt, sizeof(*names));

	if (!a || !names)
		goto nomem;
	a->members = xcalloc(c->nm, sizeof(*a->members));
	a->topics_ = xcalloc(c->nt, sizeof(*a->topics_));
	if (!a->members || !a->topics_)
		goto nomem;
	a->cap_ = c->nm;
	a->topics_cap_ = c->nt;
	for (size_t m = 0; m < c->nm; m++) {
		group_member_assignment_t *ma = &a->members[a->cnt];

		ma->member_id = strdup(c->members[c->mord[m]].id);
		if (!ma->member_id)
			goto nomem;
		a->cnt++;
		ma->tps = xcalloc(c->count[m], sizeof(*ma->tps));
		if (!ma->tps)
			goto nomem;
		ma->cap_ = c->count[m];
	}
	for (size_t t = 0; t < c->nt; t++) {
		if (c->nsubs[t] == 0 || nparts(c, t) == 0)
			continue;
		a->topics_[a->ntopics_] = strdup(c->topics[c->tord[t]].name);
		if (!a->topics_[a->ntopics_])
			goto nomem;
		names[t] = a->topics_[a->ntopics_++];
		for (int32_t p = 0; p < nparts(c, t); p++) {
			group_member_assignment_t *ma = &a->members[c->owner[c->base[t] + (size_t)p]];

			ma->tps[ma->cnt].topic = names[t];
			ma->tps[ma->cnt].partition = p;
			ma->cnt++;
		}
	}
	free(names);
	*out = a;
	return BROOK_ERR_NO_ERROR;

nomem:
	free(names);
	group_assignment_free(a);
	brook_errstr(errstr, errstr_size, "group assignment: out of memory");
	return BROOK_ERR__NOMEM;
}

brook_err_t group_assign(group_assign_strategy_t strategy, const group_member_t *members,
			 size_t nmembers, const group_topic_t *topics, size_t ntopics,
			 const group_assignment_t *previous, group_assignment_t **out,
			 char *errstr, size_t errstr_size)
{
	ctx_t c;
	brook_err_t err;

	if (!out) {
		brook_errstr(errstr, errstr_size, "group assignment: out is NULL");
		return BROOK_ERR__INVALID_ARG;
	}
	*out = NULL;
	if (strategy != GROUP_ASSIGN_RANGE && strategy != GROUP_ASSIGN_ROUNDROBIN &&
	    strategy != GROUP_ASSIGN_STICKY) {
		brook_errstr(errstr, errstr_size, "group assignment: unknown strategy %d",
			     (int)strategy);
		return BROOK_ERR__INVALID_ARG;
	}
	err = validate(members, nmembers, topics, ntopics, errstr, errstr_size);
	if (err)
		return err;
	err = ctx_init(&c, members, nmembers, topics, ntopics, errstr, errstr_size);
	if (!err) {
		switch (strategy) {
		case GROUP_ASSIGN_RANGE:
			assign_range(&c);
			break;
		case GROUP_ASSIGN_ROUNDROBIN:
			assign_roundrobin(&c);
			break;
		case GROUP_ASSIGN_STICKY:
			err = assign_sticky(&c, previous, errstr, errstr_size);
			break;
		}
	}
	if (!err)
		err = build_result(&c, out, errstr, errstr_size);
	ctx_destroy(&c);
	return err;
}

brook_err_t group_assign_parse(const char *name, group_assign_strategy_t *s)
{
	if (!name || !s)
		return BROOK_ERR__INVALID_ARG;
	if (!strcmp(name, "range"))
		*s = GROUP_ASSIGN_RANGE;
	else if (!strcmp(name, "roundrobin"))
		*s = GROUP_ASSIGN_ROUNDROBIN;
	else if (!strcmp(name, "sticky"))
		*s = GROUP_ASSIGN_STICKY;
	else
		return BROOK_ERR__INVALID_ARG;
	return BROOK_ERR_NO_ERROR;
}

const char *group_assign_name(group_assign_strategy_t s)
{
	switch (s) {
	case GROUP_ASSIGN_RANGE:
		return "range";
	case GROUP_ASSIGN_ROUNDROBIN:
		return "roundrobin";
	case GROUP_ASSIGN_STICKY:
		return "sticky";
	}
	return "unknown";
}

const char *group_assignment_owner(const group_assignment_t *a, const char *topic,
				   int32_t partition)
{
	if (!a || !topic)
		return NULL;
	for (size_t i = 0; i < a->cnt; i++)
		for (size_t j = 0; j < a->members[i].cnt; j++)
			if (a->members[i].tps[j].partition == partition &&
			    !strcmp(a->members[i].tps[j].topic, topic))
				return a->members[i].member_id;
	return NULL;
}

size_t group_assignment_moves(const group_assignment_t *prev, const group_assignment_t *next)
{
	size_t moves = 0;

	if (!prev || !next)
		return 0;
	for (size_t i = 0; i < next->cnt; i++)
		for (size_t j = 0; j < next->members[i].cnt; j++) {
			const char *was = group_assignment_owner(prev, next->members[i].tps[j].topic,
								 next->members[i].tps[j].partition);

			if (was && strcmp(was, next->members[i].member_id))
				moves++;
		}
	return moves;
}
