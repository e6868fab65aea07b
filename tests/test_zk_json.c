/* test_zk_json.c - Kafka's znode JSON shapes: round trips, Kafka's own
 * samples, and rejection of hand-edited nonsense. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "zk_json.h"

static char err[512];

#define DEC(fn, s, out) fn((s), strlen(s), (out), err, sizeof(err))

static void test_broker_roundtrip(void)
{
	zk_broker_reg_t b, d;
	char *json = NULL;

	memset(&b, 0, sizeof(b));
	b.version = 4;
	strcpy(b.host, "broker1.example");
	b.port = 9092;
	b.endpoint_cnt = 2;
	strcpy(b.endpoints[0].listener, "BROOK");
	strcpy(b.endpoints[0].host, "broker1.example");
	b.endpoints[0].port = 9092;
	strcpy(b.endpoints[1].listener, "INTERNAL");
	strcpy(b.endpoints[1].host, "::1");
	b.endpoints[1].port = 9093;
	b.jmx_port = -1;
	b.timestamp_ms = 1548342545232LL;
	CU_ASSERT_EQUAL_FATAL(zk_json_broker_encode(&b, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(json,
		"{\"version\":4,\"host\":\"broker1.example\",\"port\":9092,"
		"\"endpoints\":[\"BROOK://broker1.example:9092\",\"INTERNAL://[::1]:9093\"],"
		"\"jmx_port\":-1,\"timestamp\":\"1548342545232\",\"rack\":null}");
	CU_ASSERT_EQUAL(DEC(zk_json_broker_decode, json, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(d.version, 4);
	CU_ASSERT_STRING_EQUAL(d.host, "broker1.example");
	CU_ASSERT_EQUAL(d.port, 9092);
	CU_ASSERT_EQUAL(d.endpoint_cnt, 2);
	CU_ASSERT_STRING_EQUAL(d.endpoints[1].listener, "INTERNAL");
	CU_ASSERT_STRING_EQUAL(d.endpoints[1].host, "::1");
	CU_ASSERT_EQUAL(d.endpoints[1].port, 9093);
	CU_ASSERT_EQUAL(d.jmx_port, -1);
	CU_ASSERT_EQUAL(d.timestamp_ms, 1548342545232LL);
	CU_ASSERT_EQUAL(d.has_rack, 0);
	free(json);

	b.has_rack = 1;
	strcpy(b.rack, "dc1");
	CU_ASSERT_EQUAL_FATAL(zk_json_broker_encode(&b, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(DEC(zk_json_broker_decode, json, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(d.has_rack, 1);
	CU_ASSERT_STRING_EQUAL(d.rack, "dc1");
	free(json);

	/* Encoders refuse what would not decode. */
	b.port = 70000;
	CU_ASSERT_EQUAL(zk_json_broker_encode(&b, &json), BROOK_ERR__INVALID_ARG);
	b.port = 9092;
	b.version = 0;
	CU_ASSERT_EQUAL(zk_json_broker_encode(&b, &json), BROOK_ERR__INVALID_ARG);
}

static void test_broker_kafka_samples(void)
{
	zk_broker_reg_t d;

	/* Kafka 2.x, version 4 (KafkaZkClient.registerBroker). */
	CU_ASSERT_EQUAL(DEC(zk_json_broker_decode,
		"{\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
		"\"endpoints\":[\"PLAINTEXT://broker1:9092\"],\"rack\":\"dc1\",\"jmx_port\":9999,"
		"\"host\":\"broker1\",\"timestamp\":\"1548342545232\",\"port\":9092,\"version\":4}",
		&d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(d.endpoints[0].listener, "PLAINTEXT");
	CU_ASSERT_STRING_EQUAL(d.endpoints[0].host, "broker1");
	CU_ASSERT_EQUAL(d.jmx_port, 9999);
	CU_ASSERT_STRING_EQUAL(d.rack, "dc1");
	/* Kafka 2.8, version 5, with features; no PLAINTEXT listener, so
	 * host is null and port -1. */
	CU_ASSERT_EQUAL(DEC(zk_json_broker_decode,
		"{\"features\":{},\"listener_security_protocol_map\":{\"SSL\":\"SSL\"},"
		"\"endpoints\":[\"SSL://broker2:9093\"],\"jmx_port\":-1,\"host\":null,"
		"\"timestamp\":\"1608000000000\",\"port\":-1,\"version\":5}", &d),
		BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(d.host, "");
	CU_ASSERT_EQUAL(d.port, -1);
	CU_ASSERT_EQUAL(d.endpoints[0].port, 9093);
	/* Kafka 0.8, version 1: host and port only. */
	CU_ASSERT_EQUAL(DEC(zk_json_broker_decode,
		"{\"jmx_port\":-1,\"timestamp\":\"1393542591000\",\"host\":\"h\",\"version\":1,"
		"\"port\":9092}", &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(d.endpoint_cnt, 0);
}

static void test_broker_rejects(void)
{
	zk_broker_reg_t d;
	static const char *bad[] = {
		"",
		"not json",
		"[1,2]",
		"{\"version\":4,\"host\":\"h\",\"port\":9092}",                                 /* no endpoints */
		"{\"version\":\"4\",\"host\":\"h\",\"port\":9092,\"endpoints\":[]}",            /* version type */
		"{\"version\":4,\"host\":\"h\",\"port\":\"9092\",\"endpoints\":[\"B://h:1\"]}", /* port type */
		"{\"version\":4,\"host\":\"h\",\"port\":-1,\"endpoints\":[\"B://h:1\"]}",       /* port range */
		"{\"version\":4,\"host\":\"h\",\"port\":65536,\"endpoints\":[\"B://h:1\"]}",
		"{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":\"B://h:1\"}",
		"{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":[42]}",
		"{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":[\"h:1\"]}",
		"{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":[\"B://h:x\"]}",
		"{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":[\"B://h:99999\"]}",
		"{\"version\":4,\"host\":null,\"port\":-1,\"endpoints\":[]}",                   /* nowhere */
		"{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":[\"B://h:1\"],\"timestamp\":123}",
		"{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":[\"B://h:1\"],\"timestamp\":\"-5\"}",
		"{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":[\"B://h:1\"],\"rack\":7}",
		"{\"version\":4,\"host\":\"h\",\"host\":\"i\",\"port\":9092,\"endpoints\":[\"B://h:1\"]}",
		"{\"version\":9,\"host\":\"h\",\"port\":9092,\"endpoints\":[\"B://h:1\"]}",
		"{\"version\":4,\"host\":\"h\",\"port\":9092.0,\"endpoints\":[\"B://h:1\"]}",
		"{\"version\":4,\"host\":\"h\",\"port\":9092,\"endpoints\":[\"B://h:1\"]} trailing",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (zk_json_broker_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)) !=
		    BROOK_ERR__BAD_MSG) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CU_FAIL("bad broker registration accepted");
		}
		CU_ASSERT(strncmp(err, "broker registration: ", 21) == 0);
	}
	CU_ASSERT_EQUAL(zk_json_broker_decode(NULL, 0, &d, err, sizeof(err)), BROOK_ERR__BAD_MSG);
	/* The message names the field and the problem. */
	DEC(zk_json_broker_decode, "{\"version\":4,\"host\":\"h\",\"port\":\"x\",\"endpoints\":[]}", &d);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"port\": expected an integer, got string"));
}

static void test_topic_assignment(void)
{
	zk_topic_assignment_t *a = zk_topic_assignment_new(2, 3), *d = NULL;
	char *json = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	a->partitions[0].ids[0] = 1;
	a->partitions[0].ids[1] = 2;
	a->partitions[0].ids[2] = 3;
	a->partitions[1].ids[0] = 2;
	a->partitions[1].ids[1] = 3;
	a->partitions[1].ids[2] = 1;
	CU_ASSERT_EQUAL_FATAL(zk_json_topic_assignment_encode(a, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(json, "{\"version\":1,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1]}}");
	CU_ASSERT_EQUAL(DEC(zk_json_topic_assignment_decode, json, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(d->partition_cnt, 2);
	CU_ASSERT_EQUAL(d->partitions[1].cnt, 3);
	CU_ASSERT_EQUAL(d->partitions[1].ids[0], 2);
	CU_ASSERT_EQUAL(d->partitions[1].ids[2], 1);
	free(json);
	zk_topic_assignment_free(d);

	/* Duplicate replica: the encoder refuses. */
	a->partitions[1].ids[1] = 2;
	CU_ASSERT_EQUAL(zk_json_topic_assignment_encode(a, &json), BROOK_ERR__INVALID_ARG);
	zk_topic_assignment_free(a);
	zk_topic_assignment_free(NULL);
	CU_ASSERT_PTR_NULL(zk_topic_assignment_new(0, 1));
	CU_ASSERT_PTR_NULL(zk_topic_assignment_new(1, 0));

	/* Kafka 2.4+ (version 2) and 3.x (version 3, topic_id), keys unordered
	 * and replica counts differing during a reassignment. */
	CU_ASSERT_EQUAL(DEC(zk_json_topic_assignment_decode,
		"{\"version\":2,\"partitions\":{\"1\":[2],\"0\":[0,1]},\"adding_replicas\":{},"
		"\"removing_replicas\":{}}", &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(d->partitions[0].cnt, 2);
	CU_ASSERT_EQUAL(d->partitions[1].cnt, 1);
	CU_ASSERT_EQUAL(d->partitions[1].ids[0], 2);
	zk_topic_assignment_free(d);
	CU_ASSERT_EQUAL(DEC(zk_json_topic_assignment_decode,
		"{\"partitions\":{\"0\":[1]},\"topic_id\":\"9OsqcjDpSsupTrGNgiObYw\","
		"\"adding_replicas\":{},\"removing_replicas\":{},\"version\":3}", &d),
		BROOK_ERR_NO_ERROR);
	zk_topic_assignment_free(d);
}

static void test_topic_assignment_rejects(void)
{
	zk_topic_assignment_t *d = (zk_topic_assignment_t *)1;
	static const char *bad[] = {
		"{\"version\":1}",
		"{\"version\":1,\"partitions\":[]}",
		"{\"version\":1,\"partitions\":{}}",
		"{\"version\":1,\"partitions\":{\"1\":[1]}}",            /* gap: no partition 0 */
		"{\"version\":1,\"partitions\":{\"0\":[1],\"2\":[1]}}",
		"{\"version\":1,\"partitions\":{\"-1\":[1]}}",
		"{\"version\":1,\"partitions\":{\"00\":[1]}}",
		"{\"version\":1,\"partitions\":{\"x\":[1]}}",
		"{\"version\":1,\"partitions\":{\"0\":[]}}",
		"{\"version\":1,\"partitions\":{\"0\":[1,1]}}",
		"{\"version\":1,\"partitions\":{\"0\":[-1]}}",
		"{\"version\":1,\"partitions\":{\"0\":[\"1\"]}}",
		"{\"version\":1,\"partitions\":{\"0\":1}}",
		"{\"version\":1,\"partitions\":{\"0\":[1],\"0\":[2]}}",
		"{\"version\":0,\"partitions\":{\"0\":[1]}}",
		"{\"partitions\":{\"0\":[1]}}",
		"{\"version\":1,\"partitions\":{\"0\":[4294967297]}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (zk_json_topic_assignment_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)) !=
		    BROOK_ERR__BAD_MSG) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CU_FAIL("bad topic assignment accepted");
			zk_topic_assignment_free(d);
		}
		CU_ASSERT_PTR_NULL(d);
	}
	DEC(zk_json_topic_assignment_decode, "{\"version\":1,\"partitions\":{\"0\":[1,1]}}", &d);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "appears twice"));
}

static void test_partition_state(void)
{
	zk_partition_state_t st = { .version = 1, .controller_epoch = 7, .leader = 2,
				    .leader_epoch = 3, .isr_cnt = 2, .isr = { 2, 1 } };
	zk_partition_state_t d;
	char *json = NULL;

	CU_ASSERT_EQUAL_FATAL(zk_json_partition_state_encode(&st, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(json, "{\"controller_epoch\":7,\"leader\":2,\"version\":1,"
				     "\"leader_epoch\":3,\"isr\":[2,1]}");
	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode, json, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(memcmp(&st, &d, sizeof(st)), 0);
	free(json);

	/* Offline partition: no leader. */
	st.leader = -1;
	st.isr_cnt = 1;
	CU_ASSERT_EQUAL_FATAL(zk_json_partition_state_encode(&st, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode, json, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(d.leader, -1);
	free(json);
	st.leader = -2;
	CU_ASSERT_EQUAL(zk_json_partition_state_encode(&st, &json), BROOK_ERR__INVALID_ARG);

	/* Kafka's sample, and Kafka 3.2+ with leader_recovery_state. */
	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode,
		"{\"controller_epoch\":1,\"leader\":0,\"version\":1,\"leader_epoch\":0,\"isr\":[0]}",
		&d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(d.isr_cnt, 1);
	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode,
		"{\"controller_epoch\":2,\"leader\":1,\"version\":2,\"leader_epoch\":4,"
		"\"isr\":[1,2],\"leader_recovery_state\":0}", &d), BROOK_ERR_NO_ERROR);

	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode,
		"{\"controller_epoch\":1,\"leader\":-2,\"version\":1,\"leader_epoch\":0,\"isr\":[0]}",
		&d), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode,
		"{\"controller_epoch\":-1,\"leader\":1,\"version\":1,\"leader_epoch\":0,\"isr\":[1]}",
		&d), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode,
		"{\"controller_epoch\":1,\"leader\":1,\"version\":1,\"leader_epoch\":0}", &d),
		BROOK_ERR__BAD_MSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing field \"isr\""));
	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode,
		"{\"controller_epoch\":1,\"leader\":1,\"version\":1,\"leader_epoch\":0,\"isr\":[1,1]}",
		&d), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode,
		"{\"controller_epoch\":1,\"leader\":true,\"version\":1,\"leader_epoch\":0,\"isr\":[1]}",
		&d), BROOK_ERR__BAD_MSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"leader\": expected an integer, got true"));
	CU_ASSERT_EQUAL(DEC(zk_json_partition_state_decode,
		"{\"controller_epoch\":1,\"leader\":1,\"version\":1,\"leader_epoch\":0,"
		"\"isr\":[1],", &d), BROOK_ERR__BAD_MSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid JSON"));
}

static void test_controller(void)
{
	zk_controller_t c = { .version = 1, .broker_id = 2, .timestamp_ms = 1548342552180LL }, d;
	char *json = NULL;
	int32_t epoch = 0;
	int64_t off = 0;

	CU_ASSERT_EQUAL_FATAL(zk_json_controller_encode(&c, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(json, "{\"version\":1,\"brokerid\":2,\"timestamp\":\"1548342552180\"}");
	CU_ASSERT_EQUAL(DEC(zk_json_controller_decode, json, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(memcmp(&c, &d, sizeof(c)), 0);
	free(json);
	/* Kafka 3.x adds kraftControllerEpoch with version 2. */
	CU_ASSERT_EQUAL(DEC(zk_json_controller_decode,
		"{\"version\":2,\"brokerid\":0,\"timestamp\":\"1548342552180\","
		"\"kraftControllerEpoch\":-1}", &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(DEC(zk_json_controller_decode, "{\"version\":1,\"brokerid\":-1}", &d),
			BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_controller_decode, "{\"version\":1}", &d), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_controller_decode, "{\"version\":1,\"brokerid\":\"1\"}", &d),
			BROOK_ERR__BAD_MSG);

	CU_ASSERT_EQUAL(zk_json_controller_epoch_encode(7, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(json, "7");
	CU_ASSERT_EQUAL(DEC(zk_json_controller_epoch_decode, json, &epoch), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(epoch, 7);
	free(json);
	CU_ASSERT_EQUAL(DEC(zk_json_controller_epoch_decode, "-1", &epoch), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_controller_epoch_decode, "7 ", &epoch), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_controller_epoch_decode, "2147483648", &epoch), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_controller_epoch_decode, "", &epoch), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_json_controller_epoch_encode(-1, &json), BROOK_ERR__INVALID_ARG);

	CU_ASSERT_EQUAL(zk_json_offset_encode(1234567890123LL, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(json, "1234567890123");
	CU_ASSERT_EQUAL(DEC(zk_json_offset_decode, json, &off), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(off, 1234567890123LL);
	free(json);
	CU_ASSERT_EQUAL(DEC(zk_json_offset_decode, "9223372036854775807", &off), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(DEC(zk_json_offset_decode, "9223372036854775808", &off), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_offset_decode, "12abc", &off), BROOK_ERR__BAD_MSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"12abc\""));
	/* Binary junk is quoted safely. */
	CU_ASSERT_EQUAL(zk_json_offset_decode("\x01\x02", 2, &off, err, sizeof(err)), BROOK_ERR__BAD_MSG);
}

static void test_cluster_id(void)
{
	zk_cluster_id_t c, d;
	char *json = NULL;

	strcpy(c.id, "a6NEs0UuSP2lfSCZ19hbuQ");
	CU_ASSERT_EQUAL_FATAL(zk_json_cluster_id_encode(&c, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(json, "{\"version\":\"1\",\"id\":\"a6NEs0UuSP2lfSCZ19hbuQ\"}");
	CU_ASSERT_EQUAL(DEC(zk_json_cluster_id_decode, json, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(d.id, c.id);
	free(json);
	CU_ASSERT_EQUAL(DEC(zk_json_cluster_id_decode, "{\"version\":1,\"id\":\"x\"}", &d),
			BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_cluster_id_decode, "{\"version\":\"1\",\"id\":\"\"}", &d),
			BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_cluster_id_decode, "{\"version\":\"1\",\"id\":\"a b\"}", &d),
			BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_cluster_id_decode, "{\"version\":\"1\"}", &d), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_cluster_id_decode, "{\"version\":\"1\",\"id\":5}", &d),
			BROOK_ERR__BAD_MSG);
	c.id[0] = '\0';
	CU_ASSERT_EQUAL(zk_json_cluster_id_encode(&c, &json), BROOK_ERR__INVALID_ARG);
}

static void test_topic_config(void)
{
	zk_topic_config_t *c = zk_topic_config_new(), *d = NULL;
	char *json = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(zk_topic_config_set(c, "retention.ms", "86400000"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_topic_config_set(c, "cleanup.policy", "delete"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_topic_config_set(c, "retention.ms", "1000"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_topic_config_set(c, "", "x"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(c->cnt, 2);
	CU_ASSERT_EQUAL_FATAL(zk_json_topic_config_encode(c, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(json, "{\"version\":1,\"config\":{\"retention.ms\":\"1000\","
				     "\"cleanup.policy\":\"delete\"}}");
	CU_ASSERT_EQUAL(DEC(zk_json_topic_config_decode, json, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(zk_topic_config_get(d, "retention.ms"), "1000");
	CU_ASSERT_STRING_EQUAL(zk_topic_config_get(d, "cleanup.policy"), "delete");
	CU_ASSERT_PTR_NULL(zk_topic_config_get(d, "segment.bytes"));
	free(json);
	zk_topic_config_free(d);
	zk_topic_config_free(c);
	zk_topic_config_free(NULL);

	/* Empty config, Kafka's usual content for a topic without overrides. */
	CU_ASSERT_EQUAL(DEC(zk_json_topic_config_decode, "{\"version\":1,\"config\":{}}", &d),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(d->cnt, 0);
	zk_topic_config_free(d);
	CU_ASSERT_EQUAL(DEC(zk_json_topic_config_decode,
		"{\"version\":1,\"config\":{\"retention.ms\":86400000}}", &d), BROOK_ERR__BAD_MSG);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "expected a string"));
	CU_ASSERT_EQUAL(DEC(zk_json_topic_config_decode, "{\"version\":1,\"config\":[]}", &d),
			BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_topic_config_decode, "{\"version\":1}", &d), BROOK_ERR__BAD_MSG);
}

static void test_consumer_member(void)
{
	zk_consumer_member_t *m = zk_consumer_member_new(), *d = NULL;
	char *json = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	m->timestamp_ms = 1393542591000LL;
	CU_ASSERT_EQUAL(zk_consumer_member_subscribe(m, "orders", 1), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_consumer_member_subscribe(m, "payments", 2), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_consumer_member_subscribe(m, "orders", 1), BROOK_ERR__EXISTS);
	CU_ASSERT_EQUAL(zk_consumer_member_subscribe(m, "bad/topic", 1), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_consumer_member_subscribe(m, "t", 0), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL_FATAL(zk_json_consumer_member_encode(m, &json), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(json, "{\"version\":1,\"subscription\":{\"orders\":1,\"payments\":2},"
				     "\"pattern\":\"static\",\"timestamp\":\"1393542591000\"}");
	CU_ASSERT_EQUAL(DEC(zk_json_consumer_member_decode, json, &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(d->sub_cnt, 2);
	CU_ASSERT_STRING_EQUAL(d->subs[1].topic, "payments");
	CU_ASSERT_EQUAL(d->subs[1].streams, 2);
	CU_ASSERT_EQUAL(d->timestamp_ms, 1393542591000LL);
	free(json);
	zk_consumer_member_free(d);
	zk_consumer_member_free(m);
	zk_consumer_member_free(NULL);

	/* Kafka's old high-level consumer, with a whitelist regex. */
	CU_ASSERT_EQUAL(DEC(zk_json_consumer_member_decode,
		"{\"version\":1,\"subscription\":{\"orders.*\":1},\"pattern\":\"white_list\","
		"\"timestamp\":\"1393542591000\"}", &d), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(d->pattern, "white_list");
	zk_consumer_member_free(d);

	CU_ASSERT_EQUAL(DEC(zk_json_consumer_member_decode,
		"{\"version\":1,\"subscription\":{\"orders\":0},\"pattern\":\"static\"}", &d),
		BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_consumer_member_decode,
		"{\"version\":1,\"subscription\":{\"a/b\":1},\"pattern\":\"static\"}", &d),
		BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_consumer_member_decode,
		"{\"version\":1,\"subscription\":{\"a\":1},\"pattern\":\"dynamic\"}", &d),
		BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_consumer_member_decode,
		"{\"version\":1,\"subscription\":[\"a\"],\"pattern\":\"static\"}", &d),
		BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(DEC(zk_json_consumer_member_decode,
		"{\"version\":1,\"pattern\":\"static\"}", &d), BROOK_ERR__BAD_MSG);
	CU_ASSERT_PTR_NULL(d);
}

static void test_endpoint_parse(void)
{
	zk_endpoint_t ep;

	CU_ASSERT_EQUAL(zk_endpoint_parse("BROOK://h:9092", &ep, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_endpoint_parse("BROOK://:9092", &ep, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(ep.host, "");
	CU_ASSERT_EQUAL(zk_endpoint_parse("BROOK://[fe80::1]:1", &ep, err, sizeof(err)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(ep.host, "fe80::1");
	CU_ASSERT_EQUAL(zk_endpoint_parse("://h:1", &ep, err, sizeof(err)), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_endpoint_parse("B R://h:1", &ep, err, sizeof(err)), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_endpoint_parse("B://h", &ep, err, sizeof(err)), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_endpoint_parse("B://[::1:1", &ep, err, sizeof(err)), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_endpoint_parse("B://h:", &ep, err, sizeof(err)), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_endpoint_parse("B://h:-1", &ep, err, sizeof(err)), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_endpoint_parse("B://h h:1", &ep, err, sizeof(err)), BROOK_ERR__BAD_MSG);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "broker registration round trip", test_broker_roundtrip },
		{ "broker registration: Kafka's samples", test_broker_kafka_samples },
		{ "broker registration: rejects", test_broker_rejects },
		{ "endpoints", test_endpoint_parse },
		{ "topic assignment", test_topic_assignment },
		{ "topic assignment: rejects", test_topic_assignment_rejects },
		{ "partition state", test_partition_state },
		{ "controller, epoch, offsets", test_controller },
		{ "cluster id", test_cluster_id },
		{ "topic config", test_topic_config },
		{ "consumer member", test_consumer_member },
		{ NULL, NULL },
	};

	return harness_run("zk_json", tests);
}
