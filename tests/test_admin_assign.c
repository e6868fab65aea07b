/*
 * test_admin_assign.c - the parts of admin.c that need no ZooKeeper:
 * Kafka's rack-unaware replica assignment (checked against the layout
 * Kafka's own AdminUtilsTest expects), --replica-assignment parsing and
 * validation, adding partitions, and the topic-level config table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "harness.h"

static char err[512];
/* The (errstr, errstr_size) pair every admin call takes. */
#define ERR err, sizeof(err)

static int list_is(const zk_replica_list_t *l, int cnt, const int32_t *want)
{
	if (l->cnt != cnt)
		return 0;
	for (int i = 0; i < cnt; i++)
		if (l->ids[i] != want[i])
			return 0;
	return 1;
}

/* Kafka's AdminUtilsTest.testReplicaAssignment: brokers 0..4, 10
 * partitions, replication factor 3, fixed start index 0 (which Kafka also
 * uses as the first shift). Worked through by hand with
 * replicaIndex(first, shift, j, n) = (first + 1 + (shift + j) % (n - 1)) % n:
 * p0..p4 use shift 0 (followers at +1, +2); at p5 the shift becomes 1
 * (followers at +2, +3). */
static const int32_t kafka_layout[10][3] = {
	{ 0, 1, 2 }, { 1, 2, 3 }, { 2, 3, 4 }, { 3, 4, 0 }, { 4, 0, 1 },
	{ 0, 2, 3 }, { 1, 3, 4 }, { 2, 4, 0 }, { 3, 0, 1 }, { 4, 1, 2 },
};

static void test_kafka_layout(void)
{
	static const int32_t brokers[] = { 0, 1, 2, 3, 4 };
	zk_topic_assignment_t *a;

	CU_ASSERT_EQUAL_FATAL(admin_assign_replicas(brokers, 5, 10, 3, 0, 0, 0, &a, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(a->partition_cnt, 10);
	for (int p = 0; p < 10; p++)
		CU_ASSERT(list_is(&a->partitions[p], 3, kafka_layout[p]));
	zk_topic_assignment_free(a);
}

/* The ids are sorted before use, so the same layout comes out of any
 * order, mapped onto the real ids. */
static void test_unsorted_and_sparse_ids(void)
{
	static const int32_t brokers[] = { 104, 100, 103, 101, 102 };
	zk_topic_assignment_t *a;

	CU_ASSERT_EQUAL_FATAL(admin_assign_replicas(brokers, 5, 10, 3, 0, 0, 0, &a, ERR),
			      BROOK_ERR_NO_ERROR);
	for (int p = 0; p < 10; p++) {
		int32_t want[3];

		for (int j = 0; j < 3; j++)
			want[j] = 100 + kafka_layout[p][j];
		CU_ASSERT(list_is(&a->partitions[p], 3, want));
	}
	zk_topic_assignment_free(a);
}

static void test_start_and_shift(void)
{
	static const int32_t brokers[] = { 1, 2, 3 };
	zk_topic_assignment_t *a;

	/* n = 3, start 2, shift 1: p0 first = brokers[2] = 3, follower at
	 * (2 + 1 + (1 % 2)) % 3 = 1 -> 2; p1 first brokers[0] = 1, follower
	 * (0 + 2) % 3 -> 3; p2 first 2, follower (1 + 2) % 3 = 0 -> 1; at p3
	 * the shift becomes 2: first 3, follower (2 + 1 + 0) % 3 = 0 -> 1. */
	CU_ASSERT_EQUAL_FATAL(admin_assign_replicas(brokers, 3, 4, 2, 2, 1, 0, &a, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT(list_is(&a->partitions[0], 2, (const int32_t[]){ 3, 2 }));
	CU_ASSERT(list_is(&a->partitions[1], 2, (const int32_t[]){ 1, 3 }));
	CU_ASSERT(list_is(&a->partitions[2], 2, (const int32_t[]){ 2, 1 }));
	CU_ASSERT(list_is(&a->partitions[3], 2, (const int32_t[]){ 3, 1 }));
	zk_topic_assignment_free(a);
}

static void test_single_broker(void)
{
	static const int32_t brokers[] = { 7 };
	zk_topic_assignment_t *a;

	CU_ASSERT_EQUAL_FATAL(admin_assign_replicas(brokers, 1, 3, 1, ADMIN_RANDOM, ADMIN_RANDOM, 0, &a,
						    ERR), BROOK_ERR_NO_ERROR);
	for (int p = 0; p < 3; p++)
		CU_ASSERT(list_is(&a->partitions[p], 1, (const int32_t[]){ 7 }));
	zk_topic_assignment_free(a);
}

/* Whatever the start and shift: no broker twice in a list, and over every
 * full round of n partitions each broker leads once and holds exactly rf
 * replicas, which is what makes the layout even. */
static void test_even_spread_randomized(void)
{
	unsigned seed = harness_seed();

	srand(seed);
	for (int iter = 0; iter < 500; iter++) {
		int32_t brokers[10];
		int n = 1 + rand() % 10, rf = 1 + rand() % n, rounds = 1 + rand() % 4;
		int32_t start = rand() % 3 == 0 ? ADMIN_RANDOM : rand() % 50;
		int32_t shift = rand() % 3 == 0 ? ADMIN_RANDOM : rand() % 50;
		zk_topic_assignment_t *a;

		for (int i = 0; i < n; i++)
			brokers[i] = 10 * i + 1;
		CU_ASSERT_EQUAL_FATAL(admin_assign_replicas(brokers, (size_t)n, n * rounds, rf, start,
							    shift, 0, &a, ERR),
				      BROOK_ERR_NO_ERROR);
		for (int r = 0; r < rounds; r++) {
			int leads[10] = { 0 }, holds[10] = { 0 };

			for (int p = r * n; p < (r + 1) * n; p++) {
				const zk_replica_list_t *l = &a->partitions[p];

				CU_ASSERT_EQUAL(l->cnt, rf);
				for (int j = 0; j < l->cnt; j++) {
					int b = (l->ids[j] - 1) / 10;

					CU_ASSERT(b >= 0 && b < n);
					if (b < 0 || b >= n)
						continue;
					holds[b]++;
					if (j == 0)
						leads[b]++;
					for (int k = 0; k < j; k++)
						CU_ASSERT_NOT_EQUAL(l->ids[k], l->ids[j]);
				}
			}
			for (int b = 0; b < n; b++) {
				CU_ASSERT_EQUAL(leads[b], 1);
				CU_ASSERT_EQUAL(holds[b], rf);
			}
		}
		zk_topic_assignment_free(a);
	}
}

static void test_assign_errors(void)
{
	static const int32_t brokers[] = { 1, 2, 3 };
	static const int32_t dup[] = { 1, 2, 2 };
	zk_topic_assignment_t *a = (zk_topic_assignment_t *)1;

	CU_ASSERT_EQUAL(admin_assign_replicas(brokers, 3, 1, 4, 0, 0, 0, &a, ERR),
			BROOK_ERR_INVALID_REPLICATION_FACTOR);
	CU_ASSERT_PTR_NULL(a);
	CU_ASSERT_STRING_EQUAL(err, "replication factor: 4 larger than available brokers: 3");
	CU_ASSERT_EQUAL(admin_assign_replicas(NULL, 0, 1, 1, 0, 0, 0, &a, ERR),
			BROOK_ERR_INVALID_REPLICATION_FACTOR);
	CU_ASSERT_STRING_EQUAL(err, "replication factor: 1 larger than available brokers: 0");
	CU_ASSERT_EQUAL(admin_assign_replicas(brokers, 3, 1, 0, 0, 0, 0, &a, ERR),
			BROOK_ERR_INVALID_REPLICATION_FACTOR);
	CU_ASSERT_EQUAL(admin_assign_replicas(brokers, 3, 0, 1, 0, 0, 0, &a, ERR),
			BROOK_ERR_INVALID_PARTITIONS);
	CU_ASSERT_EQUAL(admin_assign_replicas(brokers, 3, -5, 1, 0, 0, 0, &a, ERR),
			BROOK_ERR_INVALID_PARTITIONS);
	CU_ASSERT_EQUAL(admin_assign_replicas(brokers, 3, ZK_MAX_PARTITIONS + 1, 1, 0, 0, 0, &a, ERR),
			BROOK_ERR_INVALID_PARTITIONS);
	CU_ASSERT_EQUAL(admin_assign_replicas(brokers, 3, 10, 1, 0, 0, ZK_MAX_PARTITIONS - 5, &a,
					      ERR), BROOK_ERR_INVALID_PARTITIONS);
	CU_ASSERT_EQUAL(admin_assign_replicas(dup, 3, 1, 1, 0, 0, 0, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(admin_assign_replicas(brokers, 3, 1, 1, -7, 0, 0, &a, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NULL(a);
}

/* --- --replica-assignment ----------------------------------------------------- */

static void test_parse_assignment(void)
{
	zk_topic_assignment_t *a;

	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("1:2,2:3,3:1", &a, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(a->partition_cnt, 3);
	CU_ASSERT(list_is(&a->partitions[0], 2, (const int32_t[]){ 1, 2 }));
	CU_ASSERT(list_is(&a->partitions[1], 2, (const int32_t[]){ 2, 3 }));
	CU_ASSERT(list_is(&a->partitions[2], 2, (const int32_t[]){ 3, 1 }));
	zk_topic_assignment_free(a);

	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment(" 5 , 6 ", &a, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(a->partition_cnt, 2);
	CU_ASSERT(list_is(&a->partitions[0], 1, (const int32_t[]){ 5 }));
	CU_ASSERT(list_is(&a->partitions[1], 1, (const int32_t[]){ 6 }));
	zk_topic_assignment_free(a);

	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("0:2147483647", &a, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT(list_is(&a->partitions[0], 2, (const int32_t[]){ 0, 2147483647 }));
	zk_topic_assignment_free(a);
}

static void test_parse_assignment_errors(void)
{
	static const struct {
		const char *text;
		const char *errstr;
	} bad[] = {
		{ "", "replica assignment: empty" },
		{ "1:2,3", "replica assignment: partition 1 has 1 replicas but partition 0 has 2" },
		{ "1,2:3", "replica assignment: partition 1 has 2 replicas but partition 0 has 1" },
		{ "1:1", "replica assignment: partition 0 lists broker 1 twice" },
		{ "1:2,3:4:3", NULL },
		{ "1:a", "replica assignment: partition 0: \"a\" is not a broker id" },
		{ "1::2", NULL },
		{ "1:2,", NULL },
		{ ",", NULL },
		{ "-1", "replica assignment: partition 0: \"-1\" is not a broker id" },
		{ "2147483648", NULL },
		{ "1 2", NULL },
		{ "0x10", NULL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		zk_topic_assignment_t *a = (zk_topic_assignment_t *)1;

		err[0] = '\0';
		CU_ASSERT_EQUAL(admin_parse_replica_assignment(bad[i].text, &a, ERR),
				BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
		CU_ASSERT_PTR_NULL(a);
		CU_ASSERT(err[0] != '\0');
		if (bad[i].errstr && strcmp(err, bad[i].errstr) != 0) {
			fprintf(stderr, "\"%s\": got \"%s\"\n", bad[i].text, err);
			CU_FAIL("error text");
		}
	}
	CU_ASSERT_EQUAL(admin_parse_replica_assignment(NULL, &(zk_topic_assignment_t *){ NULL }, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
}

static void test_validate_assignment(void)
{
	static const int32_t brokers[] = { 3, 1, 2 };
	zk_topic_assignment_t *a;

	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("1:2,2:3", &a, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_assignment_validate(a, brokers, 3, ERR), BROOK_ERR_NO_ERROR);
	/* Broker 3 is not registered when only 1 and 2 are. */
	CU_ASSERT_EQUAL(admin_assignment_validate(a, (const int32_t[]){ 1, 2 }, 2, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	CU_ASSERT_STRING_EQUAL(err, "replica assignment: partition 1: broker 3 is not registered "
			       "(2 brokers are registered)");
	CU_ASSERT_EQUAL(admin_assignment_validate(a, NULL, 0, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	/* Built by hand, as a library caller could: a duplicate and an
	 * uneven list are refused here too. */
	a->partitions[1].ids[1] = 2;
	CU_ASSERT_EQUAL(admin_assignment_validate(a, brokers, 3, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	CU_ASSERT_STRING_EQUAL(err, "replica assignment: partition 1 lists broker 2 twice");
	a->partitions[1].cnt = 1;
	CU_ASSERT_EQUAL(admin_assignment_validate(a, brokers, 3, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	CU_ASSERT_STRING_EQUAL(err, "replica assignment: partition 1 has 1 replicas but partition 0 "
			       "has 2");
	zk_topic_assignment_free(a);
	CU_ASSERT_EQUAL(admin_assignment_validate(NULL, brokers, 3, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
}

/* --- adding partitions ------------------------------------------------------------ */

static zk_topic_assignment_t *kafka_prefix(int partitions)
{
	zk_topic_assignment_t *a = zk_topic_assignment_new(partitions, 3);

	for (int p = 0; a && p < partitions; p++)
		memcpy(a->partitions[p].ids, kafka_layout[p], sizeof(kafka_layout[p]));
	return a;
}

static void test_extend_continues_pattern(void)
{
	static const int32_t brokers[] = { 4, 3, 2, 1, 0 };
	zk_topic_assignment_t *cur = kafka_prefix(5), *next;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cur);
	/* Partition 0's leader is broker 0, index 0: start 0, shift 0,
	 * numbering from 5. Kafka's addPartitions then yields exactly the
	 * rest of the 10-partition layout. */
	CU_ASSERT_EQUAL_FATAL(admin_assignment_extend(cur, 10, brokers, 5, NULL, &next, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(next->partition_cnt, 10);
	for (int p = 0; p < 10; p++)
		CU_ASSERT(list_is(&next->partitions[p], 3, kafka_layout[p]));
	zk_topic_assignment_free(next);
	zk_topic_assignment_free(cur);
}

static void test_extend_keeps_existing(void)
{
	static const int32_t brokers[] = { 0, 1, 2, 3, 4 };
	zk_topic_assignment_t *cur, *next;

	/* Existing layout of anything at all (a hand-made one, partition 0
	 * led by broker 2); only new partitions are computed. */
	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("2:4,4:1,0:3", &cur, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(admin_assignment_extend(cur, 5, brokers, 5, NULL, &next, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT(list_is(&next->partitions[0], 2, (const int32_t[]){ 2, 4 }));
	CU_ASSERT(list_is(&next->partitions[1], 2, (const int32_t[]){ 4, 1 }));
	CU_ASSERT(list_is(&next->partitions[2], 2, (const int32_t[]){ 0, 3 }));
	/* start = shift = 2 (broker 2's index), first partition 3:
	 * p3 first (3 + 2) % 5 = 0, follower 0 + 1 + (2 % 4) = 3;
	 * p4 first 1, follower 1 + 3 = 4. */
	CU_ASSERT(list_is(&next->partitions[3], 2, (const int32_t[]){ 0, 3 }));
	CU_ASSERT(list_is(&next->partitions[4], 2, (const int32_t[]){ 1, 4 }));
	zk_topic_assignment_free(next);

	/* Leader 9 is above every broker: Kafka falls back to index 0. */
	cur->partitions[0].ids[0] = 9;
	CU_ASSERT_EQUAL_FATAL(admin_assignment_extend(cur, 4, brokers, 5, NULL, &next, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT(list_is(&next->partitions[3], 2, (const int32_t[]){ 3, 4 }));
	zk_topic_assignment_free(next);
	zk_topic_assignment_free(cur);
}

static void test_extend_errors(void)
{
	static const int32_t brokers[] = { 1, 2, 3 };
	zk_topic_assignment_t *cur, *x, *next = (zk_topic_assignment_t *)1;

	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("1:2,2:3", &cur, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_assignment_extend(cur, 2, brokers, 3, NULL, &next, ERR),
			BROOK_ERR_INVALID_PARTITIONS);
	CU_ASSERT_PTR_NULL(next);
	CU_ASSERT_STRING_EQUAL(err, "the number of partitions can only be increased: the topic has "
			       "2, 2 would not be an increase");
	CU_ASSERT_EQUAL(admin_assignment_extend(cur, 1, brokers, 3, NULL, &next, ERR),
			BROOK_ERR_INVALID_PARTITIONS);
	/* Only one broker left: replication factor 2 no longer fits. */
	CU_ASSERT_EQUAL(admin_assignment_extend(cur, 3, brokers, 1, NULL, &next, ERR),
			BROOK_ERR_INVALID_REPLICATION_FACTOR);

	/* Explicit: the whole layout, existing partitions unchanged. */
	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("1:2,2:3,3:1", &x, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(admin_assignment_extend(cur, 3, brokers, 3, x, &next, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT(list_is(&next->partitions[2], 2, (const int32_t[]){ 3, 1 }));
	zk_topic_assignment_free(next);
	CU_ASSERT_EQUAL(admin_assignment_extend(cur, 4, brokers, 3, x, &next, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	zk_topic_assignment_free(x);
	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("2:1,2:3,3:1", &x, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_assignment_extend(cur, 3, brokers, 3, x, &next, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	CU_ASSERT_STRING_EQUAL(err, "replica assignment: partition 0 is on 1:2, not 2:1; adding "
			       "partitions cannot move existing ones");
	zk_topic_assignment_free(x);
	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("1:2,2:3,3:7", &x, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_assignment_extend(cur, 3, brokers, 3, x, &next, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	zk_topic_assignment_free(x);
	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("1,2,3", &x, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_assignment_extend(cur, 3, brokers, 3, x, &next, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	zk_topic_assignment_free(x);
	zk_topic_assignment_free(cur);
}

/* --- topic config ---------------------------------------------------------------- */

static void test_config_table(void)
{
	static const char *const keys[] = {
		"cleanup.policy", "retention.ms", "retention.bytes", "segment.bytes", "segment.ms",
		"min.insync.replicas", "unclean.leader.election.enable", "max.message.bytes",
		"compression.type", "index.interval.bytes", "flush.messages", "flush.ms", NULL,
	};
	const conf_def_t *t = admin_topic_config_table();
	admin_topic_conf_t c;
	size_t n = 0;

	for (; t[n].name; n++)
		;
	CU_ASSERT_EQUAL(n, 12);
	for (int i = 0; keys[i]; i++)
		CU_ASSERT_PTR_NOT_NULL(conf_find(t, keys[i]));
	/* Kafka's defaults. */
	CU_ASSERT_EQUAL_FATAL(conf_init(t, &c, ERR), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(c.cleanup_policy, "delete");
	CU_ASSERT_EQUAL(c.retention_ms, 604800000LL);
	CU_ASSERT_EQUAL(c.retention_bytes, -1);
	CU_ASSERT_EQUAL(c.segment_bytes, 1073741824);
	CU_ASSERT_EQUAL(c.segment_ms, 604800000LL);
	CU_ASSERT_EQUAL(c.min_insync_replicas, 1);
	CU_ASSERT_EQUAL(c.unclean_leader_election_enable, 0);
	CU_ASSERT_EQUAL(c.max_message_bytes, 1048588);
	CU_ASSERT_STRING_EQUAL(c.compression_type, "producer");
	CU_ASSERT_EQUAL(c.index_interval_bytes, 4096);
	CU_ASSERT_EQUAL(c.flush_messages, INT64_MAX);
	CU_ASSERT_EQUAL(c.flush_ms, INT64_MAX);
	conf_destroy(t, &c);
}

static zk_topic_config_t *config_of(const char *const *pairs)
{
	zk_topic_config_t *c = zk_topic_config_new();

	for (int i = 0; c && pairs[i]; i += 2)
		CU_ASSERT_EQUAL(zk_topic_config_set(c, pairs[i], pairs[i + 1]), BROOK_ERR_NO_ERROR);
	return c;
}

static void test_config_apply(void)
{
	static const char *const pairs[] = {
		"retention.ms", "86400000", "min.insync.replicas", "2",
		"unclean.leader.election.enable", "true", "compression.type", "zstd", NULL,
	};
	const conf_def_t *t = admin_topic_config_table();
	zk_topic_config_t *in = config_of(pairs), *norm;
	admin_topic_conf_t c;

	/* What the broker will do per partition. */
	CU_ASSERT_EQUAL_FATAL(conf_init(t, &c, ERR), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_topic_conf_apply(&c, in, ERR), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.retention_ms, 86400000);
	CU_ASSERT_EQUAL(c.min_insync_replicas, 2);
	CU_ASSERT_EQUAL(c.unclean_leader_election_enable, 1);
	CU_ASSERT_STRING_EQUAL(c.compression_type, "zstd");
	CU_ASSERT_EQUAL(c.segment_bytes, 1073741824);
	conf_destroy(t, &c);

	CU_ASSERT_EQUAL_FATAL(admin_topic_config_validate(in, &norm, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(norm->cnt, 4);
	CU_ASSERT_STRING_EQUAL(norm->entries[0].name, "retention.ms");
	CU_ASSERT_STRING_EQUAL(norm->entries[0].value, "86400000");
	CU_ASSERT_STRING_EQUAL(norm->entries[2].name, "unclean.leader.election.enable");
	CU_ASSERT_STRING_EQUAL(norm->entries[2].value, "true");
	zk_topic_config_free(norm);
	zk_topic_config_free(in);
}

static void test_config_errors(void)
{
	static const struct {
		const char *key, *value, *errstr;
	} bad[] = {
		{ "retention.hours", "1", "retention.hours: unknown topic config" },
		{ "cleanup.policy", "compact",
		  "cleanup.policy: compact is not supported: brook has no log cleaner yet "
		  "(use delete)" },
		{ "cleanup.policy", "delete,compact", NULL },
		{ "cleanup.policy", "shred", NULL },
		{ "compression.type", "snappy", NULL },
		{ "retention.ms", "-2", NULL },
		{ "retention.ms", "soon", NULL },
		{ "segment.bytes", "13", NULL },
		{ "segment.bytes", "4294967296", NULL },
		{ "segment.ms", "0", NULL },
		{ "min.insync.replicas", "0", NULL },
		{ "unclean.leader.election.enable", "yes", NULL },
		{ "max.message.bytes", "-1", NULL },
		{ "flush.messages", "-1", NULL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *pairs[] = { bad[i].key, bad[i].value, NULL };
		zk_topic_config_t *in = config_of(pairs), *norm = (zk_topic_config_t *)1;

		err[0] = '\0';
		CU_ASSERT_EQUAL(admin_topic_config_validate(in, &norm, ERR),
				BROOK_ERR_INVALID_CONFIG);
		CU_ASSERT_PTR_NULL(norm);
		/* Every message names the key first. */
		CU_ASSERT(strncmp(err, bad[i].key, strlen(bad[i].key)) == 0);
		if (bad[i].errstr)
			CU_ASSERT_STRING_EQUAL(err, bad[i].errstr);
		zk_topic_config_free(in);
	}
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "Kafka's layout: 5 brokers, 10 partitions, rf 3", test_kafka_layout },
		{ "unsorted, sparse broker ids", test_unsorted_and_sparse_ids },
		{ "fixed start index and shift", test_start_and_shift },
		{ "one broker", test_single_broker },
		{ "even spread, no duplicates (randomized)", test_even_spread_randomized },
		{ "assignment errors", test_assign_errors },
		{ "parse --replica-assignment", test_parse_assignment },
		{ "parse errors", test_parse_assignment_errors },
		{ "validate against registered brokers", test_validate_assignment },
		{ "adding partitions continues Kafka's pattern", test_extend_continues_pattern },
		{ "adding partitions keeps existing ones", test_extend_keeps_existing },
		{ "adding partitions: errors and explicit layouts", test_extend_errors },
		{ "topic config table and defaults", test_config_table },
		{ "topic config overrides", test_config_apply },
		{ "topic config errors", test_config_errors },
		{ NULL, NULL },
	};

	return harness_run("admin_assign", tests);
}
