/*
 * test_admin.c - topic administration (admin.h) against a real one-server
 * ZooKeeper started with the harness. Brokers are registered the way
 * brookd will do it: ephemeral /brokers/ids/<id> znodes holding
 * zk_json_broker_encode() JSON, written by this test's own session. The
 * test then creates, lists, describes, grows and deletes topics and reads
 * back the exact znodes Kafka's tools would have written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "admin.h"
#include "harness.h"
#include "harness_zk.h"
#include "zk_json.h"
#include "zk_paths.h"
#include "zk_session.h"

#define WAIT_MS 20000
#define CALL_MS 10000

static harness_zk_t *ens;
static struct ev_loop *loop;
static zk_session_t *zk;
static char err[512];
/* The (errstr, errstr_size) pair every admin call takes. */
#define ERR err, sizeof(err)

/* --- raw ZooKeeper access, to set up and check znodes ------------------------------ */

/* Static, not on the stack: a request that outlives a failed wait must
 * still have somewhere to write. */
static struct raw {
	int done;
	brook_err_t err;
	char data[4096];
	size_t len;
} raw;

static void raw_data_cb(zk_session_t *s, brook_err_t e, const char *data, size_t len,
			const zk_stat_t *stat, void *opaque)
{
	(void)s;
	(void)stat;
	(void)opaque;
	raw.err = e;
	raw.len = 0;
	if (!e && len < sizeof(raw.data)) {
		memcpy(raw.data, data ? data : "", len);
		raw.len = len;
	}
	raw.data[raw.len] = '\0';
	raw.done = 1;
}

static void raw_create_cb(zk_session_t *s, brook_err_t e, const char *path, void *opaque)
{
	(void)s;
	(void)path;
	(void)opaque;
	raw.err = e;
	raw.done = 1;
}

static void raw_stat_cb(zk_session_t *s, brook_err_t e, const zk_stat_t *stat, void *opaque)
{
	(void)s;
	(void)stat;
	(void)opaque;
	raw.err = e;
	raw.done = 1;
}

static void raw_void_cb(zk_session_t *s, brook_err_t e, void *opaque)
{
	(void)s;
	(void)opaque;
	raw.err = e;
	raw.done = 1;
}

static brook_err_t raw_wait(brook_err_t submitted)
{
	if (submitted)
		return submitted;
	CU_ASSERT_EQUAL_FATAL(zk_run_until(zk, &raw.done, WAIT_MS), BROOK_ERR_NO_ERROR);
	return raw.err;
}

/* The data of `path` ("" for none), or NULL with raw.err set. */
static const char *raw_get(const char *path)
{
	raw.done = 0;
	return raw_wait(zk_get(zk, path, NULL, raw_data_cb, NULL)) ? NULL : raw.data;
}

static brook_err_t raw_exists(const char *path)
{
	raw.done = 0;
	return raw_wait(zk_exists(zk, path, NULL, raw_stat_cb, NULL));
}

static brook_err_t raw_create(const char *path, const char *data, int flags)
{
	raw.done = 0;
	return raw_wait(zk_create(zk, path, data, data ? strlen(data) : 0, flags, raw_create_cb,
				  NULL));
}

static brook_err_t raw_delete(const char *path)
{
	raw.done = 0;
	return raw_wait(zk_delete(zk, path, ZK_ANY_VERSION, raw_void_cb, NULL));
}

static brook_err_t raw_mkdirs(const char *path)
{
	raw.done = 0;
	return raw_wait(zk_create_path(zk, path, raw_void_cb, NULL));
}

/* What brookd will write when it starts: an ephemeral registration. */
static void register_broker(int32_t id, const char *rack)
{
	zk_broker_reg_t b;
	char path[ZK_PATH_MAX], *json = NULL;

	memset(&b, 0, sizeof(b));
	b.version = 4;
	snprintf(b.host, sizeof(b.host), "127.0.0.1");
	b.port = 9090 + id;
	b.endpoint_cnt = 1;
	snprintf(b.endpoints[0].listener, sizeof(b.endpoints[0].listener), "BROOK");
	snprintf(b.endpoints[0].host, sizeof(b.endpoints[0].host), "127.0.0.1");
	b.endpoints[0].port = 9090 + id;
	b.jmx_port = -1;
	b.timestamp_ms = 1700000000000LL + id;
	if (rack) {
		b.has_rack = 1;
		snprintf(b.rack, sizeof(b.rack), "%s", rack);
	}
	CU_ASSERT_EQUAL_FATAL(zk_json_broker_encode(&b, &json), BROOK_ERR_NO_ERROR);
	zk_path_broker(path, sizeof(path), id);
	CU_ASSERT_EQUAL(raw_create(path, json, ZK_EPHEMERAL), BROOK_ERR_NO_ERROR);
	free(json);
}

static void set_state(const char *topic, int32_t p, int32_t leader, int32_t epoch,
		      const int32_t *isr, int32_t isr_cnt)
{
	zk_partition_state_t st;
	char path[ZK_PATH_MAX], *json = NULL;

	memset(&st, 0, sizeof(st));
	st.version = 1;
	st.controller_epoch = 1;
	st.leader = leader;
	st.leader_epoch = epoch;
	st.isr_cnt = isr_cnt;
	memcpy(st.isr, isr, (size_t)isr_cnt * sizeof(*isr));
	CU_ASSERT_EQUAL_FATAL(zk_json_partition_state_encode(&st, &json), BROOK_ERR_NO_ERROR);
	zk_path_partition(path, sizeof(path), topic, p);
	CU_ASSERT_EQUAL(raw_mkdirs(path), BROOK_ERR_NO_ERROR);
	zk_path_partition_state(path, sizeof(path), topic, p);
	CU_ASSERT_EQUAL(raw_create(path, json, ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	free(json);
}

static zk_topic_config_t *config_of(const char *const *pairs)
{
	zk_topic_config_t *c = zk_topic_config_new();

	for (int i = 0; c && pairs[i]; i += 2)
		CU_ASSERT_EQUAL(zk_topic_config_set(c, pairs[i], pairs[i + 1]), BROOK_ERR_NO_ERROR);
	return c;
}

/* Creates with Kafka's fixed start 0 / shift 0 so layouts are known. */
static brook_err_t create(const char *topic, int32_t partitions, int32_t rf,
			  const zk_topic_config_t *cfg)
{
	admin_topic_spec_t spec = ADMIN_TOPIC_SPEC_INIT;

	spec.partitions = partitions;
	spec.replication_factor = rf;
	spec.config = cfg;
	spec.start_index = 0;
	spec.replica_shift = 0;
	err[0] = '\0';
	return admin_topic_create(zk, topic, &spec, CALL_MS, ERR);
}

/* --- tests --------------------------------------------------------------------------- */

static void test_empty_cluster(void)
{
	admin_topic_list_t *l;
	admin_broker_list_t *b;
	int32_t controller = 7;
	char id[ZK_CLUSTER_ID_MAX + 1] = "x";

	/* Nothing at all in ZooKeeper yet: reads see an empty cluster. */
	CU_ASSERT_EQUAL_FATAL(admin_topic_list(zk, &l, CALL_MS, ERR), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(l->cnt, 0);
	admin_topic_list_free(l);
	CU_ASSERT_EQUAL_FATAL(admin_brokers_list(zk, &b, CALL_MS, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(b->cnt, 0);
	admin_broker_list_free(b);
	CU_ASSERT_EQUAL(admin_controller_get(zk, &controller, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(controller, -1);
	CU_ASSERT_EQUAL(admin_cluster_id_get(zk, id, sizeof(id), CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(id, "");

	/* No brokers: nothing can be placed. */
	CU_ASSERT_EQUAL(create("early", 1, 1, NULL), BROOK_ERR_INVALID_REPLICATION_FACTOR);
	CU_ASSERT_STRING_EQUAL(err, "replication factor: 1 larger than available brokers: 0");

	/* ... but the attempt left Kafka's folders behind, as Kafka does. */
	CU_ASSERT_EQUAL(admin_ensure_paths(zk, CALL_MS, ERR), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_exists("/brokers/ids"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_exists("/brokers/topics"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_exists("/config/topics"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_exists("/admin/delete_topics"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_exists("/consumers"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_exists("/brokers/topics/early"), BROOK_ERR__NOENT);
}

static void test_brokers_controller_cluster_id(void)
{
	admin_broker_list_t *l;
	zk_controller_t c = { .version = 1, .broker_id = 2, .timestamp_ms = 1700000000000LL };
	zk_cluster_id_t cid;
	char *json = NULL, id[ZK_CLUSTER_ID_MAX + 1];
	int32_t controller;

	register_broker(3, NULL);
	register_broker(1, "rack-a");
	register_broker(2, NULL);
	/* Not a broker id: somebody's hand-made node, ignored. */
	CU_ASSERT_EQUAL(raw_create("/brokers/ids/notes", "x", ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(admin_brokers_list(zk, &l, CALL_MS, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(l->cnt, 3);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(l->ids[i], i + 1);
		CU_ASSERT_EQUAL(l->brokers[i].endpoint_cnt, 1);
		CU_ASSERT_STRING_EQUAL(l->brokers[i].endpoints[0].listener, "BROOK");
		CU_ASSERT_EQUAL(l->brokers[i].endpoints[0].port, 9091 + i);
	}
	CU_ASSERT(l->brokers[0].has_rack && strcmp(l->brokers[0].rack, "rack-a") == 0);
	CU_ASSERT_FALSE(l->brokers[1].has_rack);
	admin_broker_list_free(l);
	CU_ASSERT_EQUAL(raw_delete("/brokers/ids/notes"), BROOK_ERR_NO_ERROR);

	CU_ASSERT_EQUAL_FATAL(zk_json_controller_encode(&c, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_create("/controller", json, ZK_EPHEMERAL), BROOK_ERR_NO_ERROR);
	free(json);
	CU_ASSERT_EQUAL(admin_controller_get(zk, &controller, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(controller, 2);
	CU_ASSERT_EQUAL(raw_delete("/controller"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_controller_get(zk, &controller, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(controller, -1);

	/* A controller znode that does not decode is an error naming it. */
	CU_ASSERT_EQUAL(raw_create("/controller", "garbage", ZK_EPHEMERAL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_controller_get(zk, &controller, CALL_MS, ERR),
			BROOK_ERR__BAD_MSG);
	CU_ASSERT(strncmp(err, "/controller: ", 13) == 0);
	CU_ASSERT_EQUAL(raw_delete("/controller"), BROOK_ERR_NO_ERROR);

	snprintf(cid.id, sizeof(cid.id), "dGVzdC1jbHVzdGVy");
	CU_ASSERT_EQUAL_FATAL(zk_json_cluster_id_encode(&cid, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_mkdirs("/cluster"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_create("/cluster/id", json, ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	free(json);
	CU_ASSERT_EQUAL(admin_cluster_id_get(zk, id, sizeof(id), CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(id, "dGVzdC1jbHVzdGVy");
}

static void test_create_writes_kafka_json(void)
{
	static const char *const cfg_pairs[] = {
		"retention.ms", "86400000", "cleanup.policy", "delete",
		"unclean.leader.election.enable", "false", NULL,
	};
	zk_topic_config_t *cfg = config_of(cfg_pairs);
	zk_topic_assignment_t *a = NULL;
	admin_topic_spec_t spec = ADMIN_TOPIC_SPEC_INIT;
	const char *data;

	/* Brokers 1, 2, 3, start 0, shift 0: Kafka's layout for n = 3; at
	 * p3 the shift grows and the followers swap. */
	CU_ASSERT_EQUAL_FATAL(create("orders", 6, 3, NULL), BROOK_ERR_NO_ERROR);
	data = raw_get("/brokers/topics/orders");
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_STRING_EQUAL(data, "{\"version\":1,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1],"
			       "\"2\":[3,1,2],\"3\":[1,3,2],\"4\":[2,1,3],\"5\":[3,2,1]}}");
	/* No overrides: no config znode, as asked. */
	CU_ASSERT_EQUAL(raw_exists("/config/topics/orders"), BROOK_ERR__NOENT);

	CU_ASSERT_EQUAL_FATAL(create("logs", 2, 2, cfg), BROOK_ERR_NO_ERROR);
	data = raw_get("/config/topics/logs");
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_STRING_EQUAL(data, "{\"version\":1,\"config\":{\"retention.ms\":\"86400000\","
			       "\"cleanup.policy\":\"delete\","
			       "\"unclean.leader.election.enable\":\"false\"}}");
	data = raw_get("/brokers/topics/logs");
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_STRING_EQUAL(data, "{\"version\":1,\"partitions\":{\"0\":[1,2],\"1\":[2,3]}}");
	zk_topic_config_free(cfg);

	/* An explicit layout sets partitions and replicas by itself. */
	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("3:1,1:2", &a, ERR),
			      BROOK_ERR_NO_ERROR);
	spec.assignment = a;
	spec.partitions = 99;  /* ignored */
	CU_ASSERT_EQUAL(admin_topic_create(zk, "pinned", &spec, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	zk_topic_assignment_free(a);
	data = raw_get("/brokers/topics/pinned");
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_STRING_EQUAL(data, "{\"version\":1,\"partitions\":{\"0\":[3,1],\"1\":[1,2]}}");

	/* Random placement (Kafka's default) still gives a valid layout. */
	spec = (admin_topic_spec_t)ADMIN_TOPIC_SPEC_INIT;
	spec.partitions = 4;
	spec.replication_factor = 2;
	CU_ASSERT_EQUAL(admin_topic_create(zk, "random.place", &spec, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_exists("/brokers/topics/random.place"), BROOK_ERR_NO_ERROR);
}

static void test_create_errors(void)
{
	static const char *const bad_key[] = { "retention.hours", "5", NULL };
	static const char *const bad_value[] = { "retention.ms", "-5", NULL };
	static const char *const compact[] = { "cleanup.policy", "compact", NULL };
	admin_topic_spec_t spec = ADMIN_TOPIC_SPEC_INIT;
	zk_topic_config_t *cfg;
	zk_topic_assignment_t *a = NULL;

	CU_ASSERT_EQUAL(create("orders", 1, 1, NULL), BROOK_ERR_TOPIC_ALREADY_EXISTS);
	CU_ASSERT_STRING_EQUAL(err, "topic \"orders\" already exists");
	spec.if_not_exists = 1;
	CU_ASSERT_EQUAL(admin_topic_create(zk, "orders", &spec, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	/* ... and did not touch it. */
	CU_ASSERT_STRING_EQUAL(raw_get("/brokers/topics/orders"),
			       "{\"version\":1,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1],"
			       "\"2\":[3,1,2],\"3\":[1,3,2],\"4\":[2,1,3],\"5\":[3,2,1]}}");

	CU_ASSERT_EQUAL(create("bad/name", 1, 1, NULL), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_EQUAL(create("..", 1, 1, NULL), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_EQUAL(create("", 1, 1, NULL), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_EQUAL(create("random_place", 1, 1, NULL), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_STRING_EQUAL(err, "topic \"random_place\" collides with existing topic "
			       "\"random.place\" ('.' and '_' are the same in metric names)");

	CU_ASSERT_EQUAL(create("wide", 1, 4, NULL), BROOK_ERR_INVALID_REPLICATION_FACTOR);
	CU_ASSERT_STRING_EQUAL(err, "replication factor: 4 larger than available brokers: 3");
	CU_ASSERT_EQUAL(create("wide", 1, 0, NULL), BROOK_ERR_INVALID_REPLICATION_FACTOR);
	CU_ASSERT_EQUAL(create("wide", 0, 1, NULL), BROOK_ERR_INVALID_PARTITIONS);

	cfg = config_of(bad_key);
	CU_ASSERT_EQUAL(create("wide", 1, 1, cfg), BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(err, "retention.hours: unknown topic config");
	zk_topic_config_free(cfg);
	cfg = config_of(bad_value);
	CU_ASSERT_EQUAL(create("wide", 1, 1, cfg), BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT(strncmp(err, "retention.ms: ", 14) == 0);
	zk_topic_config_free(cfg);
	cfg = config_of(compact);
	CU_ASSERT_EQUAL(create("wide", 1, 1, cfg), BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT(strstr(err, "compact") != NULL);
	zk_topic_config_free(cfg);

	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("1:9", &a, ERR),
			      BROOK_ERR_NO_ERROR);
	spec = (admin_topic_spec_t)ADMIN_TOPIC_SPEC_INIT;
	spec.assignment = a;
	CU_ASSERT_EQUAL(admin_topic_create(zk, "wide", &spec, CALL_MS, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	CU_ASSERT_STRING_EQUAL(err, "replica assignment: partition 0: broker 9 is not registered "
			       "(3 brokers are registered)");
	zk_topic_assignment_free(a);

	/* None of the failures wrote anything. */
	CU_ASSERT_EQUAL(raw_exists("/brokers/topics/wide"), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(raw_exists("/config/topics/wide"), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(raw_exists("/brokers/topics/random_place"), BROOK_ERR__NOENT);
}

/* A config left behind by an earlier topic of the same name must not
 * apply to the new one: replaced, or removed, in the same multi. */
static void test_stale_config(void)
{
	static const char *const pairs[] = { "segment.bytes", "1048576", NULL };
	zk_topic_config_t *cfg = config_of(pairs);

	CU_ASSERT_EQUAL(raw_create("/config/topics/ghost",
				   "{\"version\":1,\"config\":{\"retention.ms\":\"1\"}}",
				   ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(create("ghost", 1, 1, NULL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_exists("/config/topics/ghost"), BROOK_ERR__NOENT);

	CU_ASSERT_EQUAL(raw_create("/config/topics/ghost2",
				   "{\"version\":1,\"config\":{\"retention.ms\":\"1\"}}",
				   ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(create("ghost2", 1, 1, cfg), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(raw_get("/config/topics/ghost2"),
			       "{\"version\":1,\"config\":{\"segment.bytes\":\"1048576\"}}");
	zk_topic_config_free(cfg);
}

static void test_describe(void)
{
	admin_topic_info_t *t;

	CU_ASSERT_EQUAL_FATAL(admin_topic_describe(zk, "orders", &t, CALL_MS, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(t->name, "orders");
	CU_ASSERT_EQUAL(t->assignment->partition_cnt, 6);
	CU_ASSERT_EQUAL(admin_topic_info_replication_factor(t), 3);
	CU_ASSERT_EQUAL(t->config->cnt, 0);
	CU_ASSERT_FALSE(t->marked_for_deletion);
	for (int p = 0; p < 6; p++)
		CU_ASSERT_FALSE(t->partitions[p].has_state);
	admin_topic_info_free(t);

	/* What a controller writes once it elects leaders. */
	set_state("orders", 0, 1, 4, (const int32_t[]){ 1, 2, 3 }, 3);
	set_state("orders", 3, -1, 9, (const int32_t[]){ 1 }, 1);
	CU_ASSERT_EQUAL_FATAL(admin_topic_describe(zk, "orders", &t, CALL_MS, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT(t->partitions[0].has_state);
	CU_ASSERT_EQUAL(t->partitions[0].state.leader, 1);
	CU_ASSERT_EQUAL(t->partitions[0].state.leader_epoch, 4);
	CU_ASSERT_EQUAL(t->partitions[0].state.isr_cnt, 3);
	CU_ASSERT_FALSE(t->partitions[1].has_state);
	CU_ASSERT(t->partitions[3].has_state);
	CU_ASSERT_EQUAL(t->partitions[3].state.leader, -1);
	admin_topic_info_free(t);

	CU_ASSERT_EQUAL_FATAL(admin_topic_describe(zk, "logs", &t, CALL_MS, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(t->config->cnt, 3);
	CU_ASSERT_STRING_EQUAL(zk_topic_config_get(t->config, "retention.ms"), "86400000");
	admin_topic_info_free(t);

	t = (admin_topic_info_t *)1;
	CU_ASSERT_EQUAL(admin_topic_describe(zk, "nosuch", &t, CALL_MS, ERR),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_STRING_EQUAL(err, "topic \"nosuch\" does not exist");

	/* A state edited into nonsense: the error names the znode. */
	CU_ASSERT_EQUAL(raw_mkdirs("/brokers/topics/ghost/partitions/0"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_create("/brokers/topics/ghost/partitions/0/state", "{\"leader\":",
				   ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_topic_describe(zk, "ghost", &t, CALL_MS, ERR),
			BROOK_ERR__BAD_MSG);
	CU_ASSERT(strncmp(err, "/brokers/topics/ghost/partitions/0/state: ", 42) == 0);
}

static void test_alter(void)
{
	zk_topic_assignment_t *a = NULL;

	/* Kafka's addPartitions: partition 0's leader (1) is index 0, so
	 * start 0 and shift 0, numbering from 6; at p6 the shift becomes 1. */
	CU_ASSERT_EQUAL_FATAL(admin_topic_alter_partitions(zk, "orders", 9, NULL, CALL_MS, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(raw_get("/brokers/topics/orders"),
			       "{\"version\":1,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1],"
			       "\"2\":[3,1,2],\"3\":[1,3,2],\"4\":[2,1,3],\"5\":[3,2,1],"
			       "\"6\":[1,3,2],\"7\":[2,1,3],\"8\":[3,2,1]}}");
	/* Existing partitions' state is untouched. */
	CU_ASSERT_EQUAL(raw_exists("/brokers/topics/orders/partitions/0/state"),
			BROOK_ERR_NO_ERROR);

	CU_ASSERT_EQUAL(admin_topic_alter_partitions(zk, "orders", 9, NULL, CALL_MS, ERR),
			BROOK_ERR_INVALID_PARTITIONS);
	CU_ASSERT_STRING_EQUAL(err, "the number of partitions can only be increased: the topic has "
			       "9, 9 would not be an increase");
	CU_ASSERT_EQUAL(admin_topic_alter_partitions(zk, "orders", 2, NULL, CALL_MS, ERR),
			BROOK_ERR_INVALID_PARTITIONS);
	CU_ASSERT_EQUAL(admin_topic_alter_partitions(zk, "nosuch", 2, NULL, CALL_MS, ERR),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_EQUAL(admin_topic_alter_partitions(zk, "orders", 0, NULL, CALL_MS, ERR),
			BROOK_ERR_INVALID_PARTITIONS);

	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("3:1,1:2,2:3", &a, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_topic_alter_partitions(zk, "pinned", 3, a, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	zk_topic_assignment_free(a);
	CU_ASSERT_STRING_EQUAL(raw_get("/brokers/topics/pinned"),
			       "{\"version\":1,\"partitions\":"
			       "{\"0\":[3,1],\"1\":[1,2],\"2\":[2,3]}}");
	CU_ASSERT_EQUAL_FATAL(admin_parse_replica_assignment("3:1,1:2,2:3,3:9", &a, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_topic_alter_partitions(zk, "pinned", 4, a, CALL_MS, ERR),
			BROOK_ERR_INVALID_REPLICA_ASSIGNMENT);
	zk_topic_assignment_free(a);
}

static void test_delete_and_list(void)
{
	admin_topic_list_t *l;
	admin_topic_info_t *t;
	int pending = 7;
	const char *data;

	CU_ASSERT_EQUAL(admin_topic_delete_pending(zk, "logs", &pending, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(pending, 0);
	CU_ASSERT_EQUAL(admin_topic_delete(zk, "logs", CALL_MS, ERR), BROOK_ERR_NO_ERROR);
	/* Kafka's request: an empty persistent znode named after the topic. */
	data = raw_get("/admin/delete_topics/logs");
	CU_ASSERT_PTR_NOT_NULL(data);
	CU_ASSERT_EQUAL(raw.len, 0);
	CU_ASSERT_EQUAL(admin_topic_delete_pending(zk, "logs", &pending, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(pending, 1);
	/* No controller runs here, so the topic itself is still there. */
	CU_ASSERT_EQUAL(raw_exists("/brokers/topics/logs"), BROOK_ERR_NO_ERROR);

	CU_ASSERT_EQUAL(admin_topic_delete(zk, "logs", CALL_MS, ERR), BROOK_ERR__EXISTS);
	CU_ASSERT_STRING_EQUAL(err, "topic \"logs\" is already marked for deletion");
	CU_ASSERT_EQUAL(admin_topic_delete(zk, "nosuch", CALL_MS, ERR),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_EQUAL(raw_exists("/admin/delete_topics/nosuch"), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(create("logs", 1, 1, NULL), BROOK_ERR_TOPIC_ALREADY_EXISTS);
	CU_ASSERT_STRING_EQUAL(err, "topic \"logs\" is marked for deletion");
	CU_ASSERT_EQUAL(admin_topic_alter_partitions(zk, "logs", 5, NULL, CALL_MS, ERR),
			BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_STRING_EQUAL(err, "topic \"logs\" is queued for deletion");

	CU_ASSERT_EQUAL_FATAL(admin_topic_describe(zk, "logs", &t, CALL_MS, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT(t->marked_for_deletion);
	admin_topic_info_free(t);

	CU_ASSERT_EQUAL_FATAL(admin_topic_list(zk, &l, CALL_MS, ERR), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(l->cnt, 6);
	CU_ASSERT_STRING_EQUAL(l->names[0], "ghost");
	CU_ASSERT_STRING_EQUAL(l->names[1], "ghost2");
	CU_ASSERT_STRING_EQUAL(l->names[2], "logs");
	CU_ASSERT_STRING_EQUAL(l->names[3], "orders");
	CU_ASSERT_STRING_EQUAL(l->names[4], "pinned");
	CU_ASSERT_STRING_EQUAL(l->names[5], "random.place");
	for (size_t i = 0; i < l->cnt; i++)
		CU_ASSERT_EQUAL(l->marked_for_deletion[i], i == 2);
	admin_topic_list_free(l);
}

/* Under a chroot every path is relative to it; a chroot that does not
 * exist is reported as such. */
static void test_chroot(void)
{
	zk_session_t *cz = NULL;
	char connect[256];
	admin_topic_spec_t spec = ADMIN_TOPIC_SPEC_INIT;

	snprintf(connect, sizeof(connect), "%s/brook", harness_zk_connect_string(ens));
	CU_ASSERT_EQUAL_FATAL(admin_session_open(loop, connect, WAIT_MS, 0, &cz, ERR),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_topic_create(cz, "inner", &spec, CALL_MS, ERR),
			BROOK_ERR__NOENT);
	CU_ASSERT_STRING_EQUAL(err, "cannot create /brokers/ids: the chroot of the connect string "
			       "does not exist");
	CU_ASSERT_EQUAL(raw_mkdirs("/brook/brokers/ids"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(raw_create("/brook/brokers/ids/5",
				   "{\"version\":4,\"host\":\"h\",\"port\":1,\"endpoints\":"
				   "[\"BROOK://h:1\"],\"jmx_port\":-1,\"timestamp\":\"1\","
				   "\"rack\":null}", ZK_EPHEMERAL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(admin_topic_create(cz, "inner", &spec, CALL_MS, ERR),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(raw_get("/brook/brokers/topics/inner"),
			       "{\"version\":1,\"partitions\":{\"0\":[5]}}");
	CU_ASSERT_EQUAL(raw_exists("/brokers/topics/inner"), BROOK_ERR__NOENT);
	zk_session_free(cz);
}

static void test_connect_errors(void)
{
	zk_session_t *s = (zk_session_t *)1;

	CU_ASSERT_EQUAL(admin_session_open(loop, "no-port", 1000, 0, &s, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_STRING_EQUAL(err, "bad ZooKeeper connect string \"no-port\": \"no-port\" is not "
			       "host:port");
	CU_ASSERT_EQUAL(admin_session_open(loop, "127.0.0.1:2181/a//b", 1000, 0, &s, ERR),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(admin_session_open(loop, "", 1000, 0, &s, ERR),
			BROOK_ERR__INVALID_ARG);
	/* Nobody listens on port 1: a bounded wait and a clear message. */
	CU_ASSERT_EQUAL(admin_session_open(loop, "127.0.0.1:1", 1000, ADMIN_SESSION_QUIET, &s, ERR),
			BROOK_ERR__TIMED_OUT);
	CU_ASSERT_STRING_EQUAL(err, "cannot connect to ZooKeeper at 127.0.0.1:1 within 1 s");
}

/* The server goes away in the middle of a call: the call returns within
 * its bound, and its abandoned requests are cleaned up once the session
 * reconnects (ASan sees any write to freed memory or leak). */
static void test_timeout_and_recovery(void)
{
	admin_topic_list_t *l = NULL;
	admin_topic_info_t *t = NULL;
	brook_err_t e;

	CU_ASSERT_EQUAL_FATAL(harness_zk_kill(ens, 1), 0);
	/* Reads wait for a reconnect (zk_session.h), so the call's own bound
	 * is what ends it. */
	e = admin_topic_describe(zk, "orders", &t, 500, ERR);
	CU_ASSERT_EQUAL(e, BROOK_ERR__TIMED_OUT);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_STRING_EQUAL(err, "/brokers/topics/orders: no answer from ZooKeeper within "
			       "500 ms");
	CU_ASSERT_EQUAL_FATAL(harness_zk_restart(ens, 1), 0);
	CU_ASSERT_EQUAL(admin_topic_list(zk, &l, WAIT_MS, ERR), BROOK_ERR_NO_ERROR);
	if (l)
		CU_ASSERT(l->cnt >= 6);
	admin_topic_list_free(l);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "empty cluster", test_empty_cluster },
		{ "brokers, controller, cluster id", test_brokers_controller_cluster_id },
		{ "create writes Kafka's JSON", test_create_writes_kafka_json },
		{ "create errors write nothing", test_create_errors },
		{ "stale config of an old topic", test_stale_config },
		{ "describe: assignment, states, config", test_describe },
		{ "alter adds partitions only", test_alter },
		{ "delete requests and list", test_delete_and_list },
		{ "chroot", test_chroot },
		{ "connect errors", test_connect_errors },
		{ "timeout, abandoned requests, recovery", test_timeout_and_recovery },
		{ NULL, NULL },
	};
	int rc;

	if (harness_zk_start(1, &ens) != 0) {
		fprintf(stderr, "test_admin: cannot start a ZooKeeper server\n");
		return 1;
	}
	fprintf(stderr, "test_admin: ZooKeeper at %s\n", harness_zk_connect_string(ens));
	if (!(loop = ev_loop_new(EVFLAG_AUTO)) ||
	    admin_session_open(loop, harness_zk_connect_string(ens), WAIT_MS, 0, &zk, ERR) !=
	    BROOK_ERR_NO_ERROR) {
		fprintf(stderr, "test_admin: %s\n", loop ? err : "no event loop");
		if (loop)
			ev_loop_destroy(loop);
		harness_zk_stop(ens);
		return 1;
	}
	rc = harness_run("admin", tests);
	zk_session_free(zk);
	ev_loop_destroy(loop);
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	return rc;
}
