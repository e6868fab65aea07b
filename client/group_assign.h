/*
 * group_assign.h - partition assignment for consumer groups: given the
 * group's members with their subscriptions and the topics' partition
 * counts, decide which member consumes which partition. Every member runs
 * this on the same inputs after a rebalance trigger (DESIGN.md "Consumer
 * groups"), so it is pure and deterministic: no I/O, no clock, no
 * randomness, and the result depends neither on the order of `members`
 * nor on the order of `topics` (both are sorted internally, members by id
 * with strcmp, topics by name).
 *
 * Ownership: inputs are only read and may be freed as soon as a call
 * returns. A group_assignment_t is a heap object that owns all its strings;
 * the caller frees it with group_assignment_free() (NULL is a no-op).
 *
 * Strategies, with Kafka's names (partition.assignment.strategy):
 *   range       Kafka's RangeAssignor (and the ZooKeeper-era consumer's):
 *               per topic, the subscribed members sorted by id get
 *               contiguous ranges of n/c partitions, the first n%c one more.
 *   roundrobin  Kafka's RoundRobinAssignor: all (topic, partition) sorted
 *               by topic then partition, dealt in turn to the members sorted
 *               by id, skipping members not subscribed to the topic.
 *   sticky      Kafka's StickyAssignor's two goals, in this order:
 *               1. balance: for members with identical subscriptions, the
 *                  partition counts of any two members differ by at most
 *                  one. For differing subscriptions the result is a local
 *                  optimum: no member holds a partition that another member
 *                  subscribed to that topic could take while holding at
 *                  least two fewer partitions (for every member a, partition
 *                  p of a, and member b subscribed to p's topic:
 *                  count(b) >= count(a) - 1).
 *               2. stickiness: a partition leaves its previous owner only
 *                  if that owner left the group, unsubscribed, or must give
 *                  it up for rule 1. With identical subscriptions the number
 *                  of moves is the minimum any balanced assignment allows;
 *                  when members, subscriptions and topics are unchanged and
 *                  `previous` already satisfies rule 1, nothing moves.
 *
 * In every strategy each partition of every topic that at least one member
 * subscribes to is assigned to exactly one subscribed member. Topics nobody
 * subscribes to, and subscribed names missing from `topics` (no metadata
 * yet), are left out.
 */
#ifndef BROOK_GROUP_ASSIGN_H
#define BROOK_GROUP_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"

typedef enum group_assign_strategy {
	GROUP_ASSIGN_RANGE,
	GROUP_ASSIGN_ROUNDROBIN,
	GROUP_ASSIGN_STICKY,
} group_assign_strategy_t;

/* One member of the group: its id ("<group>_<host>-<ms>-<uuid>") and the
 * names of the topics it subscribes to (duplicates are harmless). */
typedef struct group_member {
	const char *id;
	const char *const *topics;
	size_t ntopics;
} group_member_t;

/* A topic and its partition count, as read from its znode or metadata. */
typedef struct group_topic {
	const char *name;
	int32_t partitions;
} group_topic_t;

/* One assigned partition. `topic` points into the assignment that holds it
 * and lives as long as that assignment. */
typedef struct group_tp {
	const char *topic;
	int32_t partition;
} group_tp_t;

/* The partitions of one member. In results of group_assign() they are
 * sorted by topic name, then partition. */
typedef struct group_member_assignment {
	char *member_id;
	group_tp_t *tps;
	size_t cnt;
	size_t cap_;
} group_member_assignment_t;

/* Results of group_assign() list every input member, sorted by id, even
 * those that got nothing (so a member can tell "nothing for you" from "not
 * in the group"). Built ones list members in the order they were added. */
typedef struct group_assignment {
	group_member_assignment_t *members;
	size_t cnt;
	size_t cap_;
	char **topics_;		/* interned topic names, owned */
	size_t ntopics_;
	size_t topics_cap_;
} group_assignment_t;

/* "range", "roundrobin" or "sticky" (exact, lower case) into *s.
 * BROOK_ERR__INVALID_ARG for anything else, leaving *s alone. */
brook_err_t group_assign_parse(const char *name, group_assign_strategy_t *s);

/* The Kafka name of a strategy, or "unknown". */
const char *group_assign_name(group_assign_strategy_t s);

/* Computes the assignment into *out (NULL on error).
 * `previous` (may be NULL) is only used by sticky: the assignment in force
 * before this rebalance, e.g. read from the owner znodes. Members it names
 * that are not in `members`, topics or partitions that no longer exist and
 * partitions whose owner no longer subscribes to the topic are ignored; a
 * partition listed under two members is kept by the smaller id.
 * Errors: BROOK_ERR__INVALID_ARG (NULL out, NULL arrays with a non-zero
 * count, NULL ids or names, duplicate member ids or topic names, negative
 * partition counts, unknown strategy), BROOK_ERR__NOMEM; errstr says which. */
brook_err_t group_assign(group_assign_strategy_t strategy, const group_member_t *members,
			 size_t nmembers, const group_topic_t *topics, size_t ntopics,
			 const group_assignment_t *previous, group_assignment_t **out,
			 char *errstr, size_t errstr_size);

/* An empty assignment to fill with group_assignment_add(), for building
 * `previous` from the owner znodes. NULL when out of memory. */
group_assignment_t *group_assignment_new(void);

/* Records that `member_id` owns (topic, partition); strings are copied.
 * BROOK_ERR__INVALID_ARG for NULL arguments or a negative partition,
 * BROOK_ERR__NOMEM (the assignment is left as it was). */
brook_err_t group_assignment_add(group_assignment_t *a, const char *member_id, const char *topic,
				 int32_t partition);

/* The member owning (topic, partition) in `a`, or NULL (also for a NULL
 * `a`). The string belongs to `a`. Linear in the size of `a`. */
const char *group_assignment_owner(const group_assignment_t *a, const char *topic,
				   int32_t partition);

/* How many partitions of `next` had a different owner in `prev`: the
 * partitions a rebalance revokes from one member and hands to another.
 * Partitions absent from `prev` (new topics or partitions) are not moves.
 * Quadratic (a lookup in `prev` per partition): meant for reports.
 * A NULL `prev` or `next` counts as empty. */
size_t group_assignment_moves(const group_assignment_t *prev, const group_assignment_t *next);

void group_assignment_free(group_assignment_t *a);

#endif /* BROOK_GROUP_ASSIGN_H */
