/*
 * test_metadata.c - the broker's cluster view: lookups, setters that keep
 * what they should, topic config overrides, and the effective-leader rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "metadata.h"
#include "zk_json.h"

static md_broker_t mk_broker(int32_t id, const char *host, int32_t port)
{
	md_broker_t b;

	memset(&b, 0, sizeof(b));
	b.id = id;
	snprintf(b.host, sizeof(b.host), "%s", host);
	b.port = port;
	return b;
}

/* An assignment from rows of ids, each row `rf` long. */
static zk_topic_assignment_t *mk_assignment(int32_t nparts, int32_t rf, const int32_t *ids)
{
	zk_topic_assignment_t *a = zk_topic_assignment_new(nparts, rf);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (int32_t p = 0; p < nparts; p++)
		for (int32_t r = 0; r < rf; r++)
			a->partitions[p].ids[r] = ids[p * rf + r];
	return a;
}

static zk_partition_state_t mk_state(int32_t leader, int32_t epoch, int32_t nisr,
				     const int32_t *isr)
{
	zk_partition_state_t st;

	memset(&st, 0, sizeof(st));
	st.version = 1;
	st.leader = leader;
	st.leader_epoch = epoch;
	st.controller_epoch = 3;
	st.isr_cnt = nisr;
	memcpy(st.isr, isr, (size_t)nisr * sizeof(int32_t));
	return st;
}

static void test_empty(void)
{
	metadata_t *md = metadata_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	CU_ASSERT_EQUAL(md->controller_id, -1);
	CU_ASSERT_EQUAL(md->nbrokers, 0);
	CU_ASSERT_EQUAL(md->ntopics, 0);
	CU_ASSERT_STRING_EQUAL(md->cluster_id, "");
	CU_ASSERT_PTR_NULL(metadata_topic(md, "x"));
	CU_ASSERT_PTR_NULL(metadata_broker(md, 1));
	CU_ASSERT_FALSE(metadata_broker_alive(md, 1));
	CU_ASSERT_PTR_NULL(metadata_partition(md, "x", 0));
	CU_ASSERT_EQUAL(metadata_effective_leader(md, NULL, NULL), -1);
	CU_ASSERT_EQUAL(metadata_set_cluster_id(md, "abc"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(md->cluster_id, "abc");
	{
		char longid[100];

		memset(longid, 'a', sizeof(longid) - 1);
		longid[sizeof(longid) - 1] = '\0';
		CU_ASSERT_EQUAL(metadata_set_cluster_id(md, longid), BROOK_ERR__INVALID_ARG);
		CU_ASSERT_STRING_EQUAL(md->cluster_id, "abc");
	}
	CU_ASSERT_EQUAL(metadata_set_controller(md, 2), 1);
	CU_ASSERT_EQUAL(metadata_set_controller(md, 2), 0);
	CU_ASSERT_EQUAL(md->controller_id, 2);
	CU_ASSERT_EQUAL(metadata_set_controller(md, -5), 1);
	CU_ASSERT_EQUAL(md->controller_id, -1);
	metadata_free(md);
	metadata_free(NULL);
}

static void test_brokers(void)
{
	metadata_t *md = metadata_new();
	md_broker_t list[3] = { mk_broker(3, "c", 9094), mk_broker(1, "a", 9092),
				mk_broker(2, "b", 9093) };
	md_broker_t dup[2] = { mk_broker(1, "a", 1), mk_broker(1, "b", 2) };
	md_broker_t b;
	int changed = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	CU_ASSERT_EQUAL(metadata_set_brokers(md, list, 3, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	CU_ASSERT_EQUAL(md->nbrokers, 3);
	CU_ASSERT(md->brokers[0].id == 1 && md->brokers[1].id == 2 && md->brokers[2].id == 3);
	CU_ASSERT_STRING_EQUAL(metadata_broker(md, 2)->host, "b");
	CU_ASSERT_EQUAL(metadata_set_brokers(md, list, 3, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 0);
	CU_ASSERT_EQUAL(metadata_set_brokers(md, dup, 2, &changed), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(md->nbrokers, 3);

	/* Upsert keeps the order and reports real changes only. */
	b = mk_broker(0, "z", 1);
	CU_ASSERT_EQUAL(metadata_set_broker(md, &b, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	CU_ASSERT_EQUAL(md->brokers[0].id, 0);
	CU_ASSERT_EQUAL(metadata_set_broker(md, &b, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 0);
	b.has_rack = 1;
	snprintf(b.rack, sizeof(b.rack), "r1");
	CU_ASSERT_EQUAL(metadata_set_broker(md, &b, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	CU_ASSERT_STRING_EQUAL(metadata_broker(md, 0)->rack, "r1");
	b = mk_broker(10, "y", 2);
	CU_ASSERT_EQUAL(metadata_set_broker(md, &b, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(md->nbrokers, 5);
	CU_ASSERT_EQUAL(md->brokers[4].id, 10);

	CU_ASSERT_EQUAL(metadata_remove_broker(md, 2), 1);
	CU_ASSERT_EQUAL(metadata_remove_broker(md, 2), 0);
	CU_ASSERT_FALSE(metadata_broker_alive(md, 2));
	CU_ASSERT(metadata_broker_alive(md, 1) && metadata_broker_alive(md, 3));
	CU_ASSERT_EQUAL(md->nbrokers, 4);
	CU_ASSERT_EQUAL(metadata_set_brokers(md, NULL, 0, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	CU_ASSERT_EQUAL(md->nbrokers, 0);
	metadata_free(md);
}

static void test_topics(void)
{
	metadata_t *md = metadata_new();
	static const int32_t ids3[] = { 1, 2, 2, 3, 3, 1 };
	static const int32_t ids5[] = { 1, 2, 2, 3, 3, 1, 1, 3, 2, 1 };
	static const int32_t moved[] = { 2, 1, 2, 3, 3, 1, 1, 3, 2, 1 };
	static const int32_t isr[] = { 1, 2 };
	zk_topic_assignment_t *a3 = mk_assignment(3, 2, ids3);
	zk_topic_assignment_t *a5 = mk_assignment(5, 2, ids5);
	zk_topic_assignment_t *am = mk_assignment(5, 2, moved);
	zk_partition_state_t st = mk_state(1, 4, 2, isr);
	const md_topic_t *t;
	const md_partition_t *p;
	int changed = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	CU_ASSERT_EQUAL(metadata_set_topic(md, "orders", a3, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	CU_ASSERT_EQUAL(metadata_set_topic(md, "audit", a3, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(metadata_set_topic(md, "zeta", a3, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(md->ntopics, 3);
	CU_ASSERT_STRING_EQUAL(md->topics[0]->name, "audit");
	CU_ASSERT_STRING_EQUAL(md->topics[1]->name, "orders");
	CU_ASSERT_STRING_EQUAL(md->topics[2]->name, "zeta");
	t = metadata_topic(md, "orders");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->npartitions, 3);
	CU_ASSERT_EQUAL(t->partitions[1].id, 1);
	CU_ASSERT_EQUAL(t->partitions[1].nreplicas, 2);
	CU_ASSERT(t->partitions[1].replicas[0] == 2 && t->partitions[1].replicas[1] == 3);
	CU_ASSERT_FALSE(t->partitions[1].has_state);
	CU_ASSERT_EQUAL(t->partitions[1].leader, -1);
	CU_ASSERT_EQUAL(metadata_set_topic(md, "orders", a3, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 0);

	/* States: set, same again (no change), new zkVersion (change). */
	CU_ASSERT_EQUAL(metadata_set_partition_state(md, "orders", 0, &st, 0, &changed),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	CU_ASSERT_EQUAL(metadata_set_partition_state(md, "orders", 0, &st, 0, &changed),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 0);
	CU_ASSERT_EQUAL(metadata_set_partition_state(md, "orders", 0, &st, 1, &changed),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	CU_ASSERT_EQUAL(metadata_set_partition_state(md, "orders", 3, &st, 0, &changed),
			BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(metadata_set_partition_state(md, "nope", 0, &st, 0, &changed),
			BROOK_ERR__NOENT);
	p = metadata_partition(md, "orders", 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(p->has_state && p->leader == 1 && p->leader_epoch == 4 &&
		  p->controller_epoch == 3 && p->state_version == 1 && p->nisr == 2 &&
		  p->isr[1] == 2);

	/* More partitions: the known state stays, the new ones have none. */
	CU_ASSERT_EQUAL(metadata_set_topic(md, "orders", a5, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	t = metadata_topic(md, "orders");
	CU_ASSERT_EQUAL(t->npartitions, 5);
	CU_ASSERT(t->partitions[0].has_state && t->partitions[0].leader_epoch == 4);
	CU_ASSERT_FALSE(t->partitions[4].has_state);
	CU_ASSERT_EQUAL(t->partitions[4].replicas[0], 2);

	/* A reassignment changes replicas but not what the state znode said. */
	CU_ASSERT_EQUAL(metadata_set_topic(md, "orders", am, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	p = metadata_partition(md, "orders", 0);
	CU_ASSERT(p->replicas[0] == 2 && p->has_state && p->leader == 1);

	/* Fewer partitions: the rest go. */
	CU_ASSERT_EQUAL(metadata_set_topic(md, "orders", a3, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	CU_ASSERT_EQUAL(metadata_topic(md, "orders")->npartitions, 3);
	CU_ASSERT_PTR_NULL(metadata_partition(md, "orders", 3));
	CU_ASSERT_PTR_NULL(metadata_partition(md, "orders", -1));

	CU_ASSERT_EQUAL(metadata_clear_partition_state(md, "orders", 0), 1);
	CU_ASSERT_EQUAL(metadata_clear_partition_state(md, "orders", 0), 0);
	CU_ASSERT_FALSE(metadata_partition(md, "orders", 0)->has_state);
	CU_ASSERT_EQUAL(metadata_partition(md, "orders", 0)->leader, -1);

	CU_ASSERT_EQUAL(metadata_remove_topic(md, "orders"), 1);
	CU_ASSERT_EQUAL(metadata_remove_topic(md, "orders"), 0);
	CU_ASSERT_PTR_NULL(metadata_topic(md, "orders"));
	CU_ASSERT_EQUAL(md->ntopics, 2);
	CU_ASSERT_EQUAL(metadata_remove_topic(md, "audit"), 1);
	CU_ASSERT_EQUAL(metadata_remove_topic(md, "zeta"), 1);
	CU_ASSERT_EQUAL(md->ntopics, 0);
	CU_ASSERT_PTR_NULL(md->topics);
	CU_ASSERT_EQUAL(metadata_set_topic(md, NULL, a3, &changed), BROOK_ERR__INVALID_ARG);
	zk_topic_assignment_free(a3);
	zk_topic_assignment_free(a5);
	zk_topic_assignment_free(am);
	metadata_free(md);
}

/* Many topics in random order: the array stays sorted and every lookup
 * finds its topic. */
static void test_many_topics(void)
{
	metadata_t *md = metadata_new();
	static const int32_t ids[] = { 1 };
	zk_topic_assignment_t *a = mk_assignment(1, 1, ids);
	unsigned seed = harness_seed();
	char name[32];
	int order[200];

	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	for (int i = 0; i < 200; i++)
		order[i] = i;
	for (int i = 199; i > 0; i--) {
		int j = (int)(rand_r(&seed) % (unsigned)(i + 1)), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "t%03d", order[i]);
		CU_ASSERT_EQUAL(metadata_set_topic(md, name, a, NULL), BROOK_ERR_NO_ERROR);
	}
	CU_ASSERT_EQUAL(md->ntopics, 200);
	for (size_t i = 1; i < md->ntopics; i++)
		CU_ASSERT(strcmp(md->topics[i - 1]->name, md->topics[i]->name) < 0);
	for (int i = 0; i < 200; i += 7) {
		snprintf(name, sizeof(name), "t%03d", i);
		CU_ASSERT_PTR_NOT_NULL(metadata_topic(md, name));
	}
	for (int i = 0; i < 200; i += 2) {
		snprintf(name, sizeof(name), "t%03d", order[i]);
		CU_ASSERT_EQUAL(metadata_remove_topic(md, name), 1);
	}
	CU_ASSERT_EQUAL(md->ntopics, 100);
	zk_topic_assignment_free(a);
	metadata_free(md);
}

static void test_effective_leader(void)
{
	metadata_t *md = metadata_new();
	static const int32_t ids[] = { 2, 1, 3 };
	static const int32_t isr[] = { 2, 1 };
	zk_topic_assignment_t *a = mk_assignment(1, 3, ids);
	md_broker_t b1 = mk_broker(1, "a", 1), b2 = mk_broker(2, "b", 2), b3 = mk_broker(3, "c", 3);
	zk_partition_state_t st = mk_state(2, 1, 2, isr), none = mk_state(-1, 2, 0, isr);
	const md_topic_t *t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	CU_ASSERT_EQUAL(metadata_set_topic(md, "t", a, NULL), BROOK_ERR_NO_ERROR);
	t = metadata_topic(md, "t");

	/* No state znode: first live replica in assignment order. */
	CU_ASSERT_EQUAL(metadata_effective_leader(md, t, &t->partitions[0]), -1);
	metadata_set_broker(md, &b3, NULL);
	CU_ASSERT_EQUAL(metadata_effective_leader(md, t, &t->partitions[0]), 3);
	metadata_set_broker(md, &b1, NULL);
	CU_ASSERT_EQUAL(metadata_effective_leader(md, t, &t->partitions[0]), 1);
	metadata_set_broker(md, &b2, NULL);
	CU_ASSERT_EQUAL(metadata_effective_leader(md, t, &t->partitions[0]), 2);

	/* With a state znode: its leader, only while alive; never another
	 * replica (no unclean election). */
	CU_ASSERT_EQUAL(metadata_set_partition_state(md, "t", 0, &st, 0, NULL), BROOK_ERR_NO_ERROR);
	t = metadata_topic(md, "t");
	CU_ASSERT_EQUAL(metadata_effective_leader(md, t, &t->partitions[0]), 2);
	metadata_remove_broker(md, 2);
	CU_ASSERT_EQUAL(metadata_effective_leader(md, t, &t->partitions[0]), -1);
	metadata_set_broker(md, &b2, NULL);
	CU_ASSERT_EQUAL(metadata_effective_leader(md, t, &t->partitions[0]), 2);
	CU_ASSERT_EQUAL(metadata_set_partition_state(md, "t", 0, &none, 1, NULL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(metadata_effective_leader(md, t, &t->partitions[0]), -1);

	/* The state znode disappears: back to the assignment rule. */
	metadata_clear_partition_state(md, "t", 0);
	metadata_remove_broker(md, 2);
	CU_ASSERT_EQUAL(metadata_effective_leader(md, t, &t->partitions[0]), 1);
	zk_topic_assignment_free(a);
	metadata_free(md);
}

/* A config from "key", "value", ... pairs (n of them). */
static zk_topic_config_t *mk_config(int n, const char *const *kv)
{
	zk_topic_config_t *c = zk_topic_config_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(zk_topic_config_set(c, kv[2 * i], kv[2 * i + 1]),
				      BROOK_ERR_NO_ERROR);
	return c;
}

static void test_topic_config(void)
{
	static const int32_t ids[] = { 1, 2 };
	static const char *const kv[] = { "retention.ms", "3600000", "min.insync.replicas", "2" };
	static const char *const kv_swapped[] = { "min.insync.replicas", "2",
						  "retention.ms", "3600000" };
	static const char *const kv_other[] = { "retention.ms", "60000" };
	metadata_t *md = metadata_new();
	zk_topic_assignment_t *a = mk_assignment(2, 1, ids);
	zk_topic_config_t *c = mk_config(2, kv), *swapped = mk_config(2, kv_swapped),
			  *other = mk_config(1, kv_other), *empty = mk_config(0, NULL);
	const md_topic_t *t;
	uint64_t seq, seq0;
	int changed = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	/* Only for a topic in the view. */
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, "t", c, &changed), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(changed, 0);
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, NULL, c, &changed), BROOK_ERR__NOENT);

	/* A new topic: nothing known yet, a stamp of its own. */
	CU_ASSERT_EQUAL(metadata_set_topic(md, "t", a, NULL), BROOK_ERR_NO_ERROR);
	t = metadata_topic(md, "t");
	CU_ASSERT_PTR_NULL(t->config);
	CU_ASSERT_EQUAL(t->config_known, 0);
	CU_ASSERT_NOT_EQUAL(t->config_seq, 0);
	seq0 = t->config_seq;

	/* First read, then the same again: one change. The entries are
	 * copies, so the caller's config may go. */
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, "t", c, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	zk_topic_config_free(c);
	t = metadata_topic(md, "t");
	CU_ASSERT_EQUAL(t->config_known, 1);
	CU_ASSERT_NOT_EQUAL(t->config_seq, seq0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->config);
	CU_ASSERT_STRING_EQUAL(zk_topic_config_get(t->config, "retention.ms"), "3600000");
	CU_ASSERT_STRING_EQUAL(zk_topic_config_get(t->config, "min.insync.replicas"), "2");
	seq = t->config_seq;
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, "t", swapped, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 0);    /* same overrides in another order */
	CU_ASSERT_EQUAL(metadata_topic(md, "t")->config_seq, seq);

	/* A new assignment keeps the overrides (their znode is separate). */
	CU_ASSERT_EQUAL(metadata_set_topic(md, "t", a, &changed), BROOK_ERR_NO_ERROR);
	t = metadata_topic(md, "t");
	CU_ASSERT_EQUAL(t->config_known, 1);
	CU_ASSERT_EQUAL(t->config_seq, seq);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->config);
	CU_ASSERT_STRING_EQUAL(zk_topic_config_get(t->config, "min.insync.replicas"), "2");

	/* A changed value, then the znode gone (NULL) and an empty config:
	 * both mean no overrides. */
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, "t", other, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	t = metadata_topic(md, "t");
	CU_ASSERT(t->config_seq > seq);
	CU_ASSERT_PTR_NULL(zk_topic_config_get(t->config, "min.insync.replicas"));
	CU_ASSERT_STRING_EQUAL(zk_topic_config_get(t->config, "retention.ms"), "60000");
	seq = t->config_seq;
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, "t", NULL, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	t = metadata_topic(md, "t");
	CU_ASSERT_PTR_NULL(t->config);
	CU_ASSERT_EQUAL(t->config_known, 1);
	CU_ASSERT(t->config_seq > seq);
	seq = t->config_seq;
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, "t", empty, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 0);
	CU_ASSERT_EQUAL(metadata_topic(md, "t")->config_seq, seq);
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, "t", NULL, NULL), BROOK_ERR_NO_ERROR);

	/* Deleted and created again: unknown again, under a new stamp. */
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, "t", other, NULL), BROOK_ERR_NO_ERROR);
	seq = metadata_topic(md, "t")->config_seq;
	CU_ASSERT_EQUAL(metadata_remove_topic(md, "t"), 1);
	CU_ASSERT_EQUAL(metadata_set_topic(md, "t", a, NULL), BROOK_ERR_NO_ERROR);
	t = metadata_topic(md, "t");
	CU_ASSERT_PTR_NULL(t->config);
	CU_ASSERT_EQUAL(t->config_known, 0);
	CU_ASSERT(t->config_seq > seq);
	/* The first read of a topic without overrides is a change too: it
	 * makes them known. */
	CU_ASSERT_EQUAL(metadata_set_topic_config(md, "t", NULL, &changed), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(changed, 1);
	CU_ASSERT_EQUAL(metadata_topic(md, "t")->config_known, 1);

	zk_topic_config_free(swapped);
	zk_topic_config_free(other);
	zk_topic_config_free(empty);
	zk_topic_assignment_free(a);
	metadata_free(md);   /* frees the view's copies (checked under ASan) */
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "empty view, cluster id, controller", test_empty },
		{ "brokers: list, upsert, remove", test_brokers },
		{ "topics: assignment, states kept, removal", test_topics },
		{ "many topics stay sorted", test_many_topics },
		{ "effective leader", test_effective_leader },
		{ "topic config overrides: setter, kept, reset", test_topic_config },
		{ NULL, NULL },
	};

	return harness_run("metadata", tests);
}
