/* test_zk_paths.c - Kafka's znode paths and name validation. */
#include <string.h>

#include "harness.h"
#include "zk_paths.h"

static void test_topic_names(void)
{
	char err[256];
	char longest[ZK_TOPIC_MAX + 2];

	CU_ASSERT_EQUAL(zk_topic_validate("orders", err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_topic_validate("a.b_c-D9", err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_topic_validate("...", err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_topic_validate("", err, sizeof(err)), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_EQUAL(zk_topic_validate(NULL, err, sizeof(err)), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_EQUAL(zk_topic_validate(".", err, sizeof(err)), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_EQUAL(zk_topic_validate("..", err, sizeof(err)), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_EQUAL(zk_topic_validate("a/b", err, sizeof(err)), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "position 1"));
	CU_ASSERT_EQUAL(zk_topic_validate("a b", err, sizeof(err)), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_EQUAL(zk_topic_validate("caf\xc3\xa9", err, sizeof(err)),
			BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	memset(longest, 'x', ZK_TOPIC_MAX);
	longest[ZK_TOPIC_MAX] = '\0';
	CU_ASSERT_EQUAL(zk_topic_validate(longest, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	longest[ZK_TOPIC_MAX] = 'x';
	longest[ZK_TOPIC_MAX + 1] = '\0';
	CU_ASSERT_EQUAL(zk_topic_validate(longest, err, sizeof(err)),
			BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	/* errstr is optional */
	CU_ASSERT_EQUAL(zk_topic_validate("a/b", NULL, 0), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
}

static void test_names(void)
{
	CU_ASSERT_EQUAL(zk_name_validate("group-1", NULL, 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_name_validate("my group@host:1", NULL, 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_name_validate("", NULL, 0), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_name_validate("a/b", NULL, 0), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_name_validate("..", NULL, 0), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_name_validate("tab\there", NULL, 0), BROOK_ERR__INVALID_ARG);
}

static void test_parse_id(void)
{
	int32_t id = -5;

	CU_ASSERT_EQUAL(zk_path_parse_id("0", &id), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(zk_path_parse_id("2147483647", &id), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(id, INT32_MAX);
	CU_ASSERT_EQUAL(zk_path_parse_id("2147483648", &id), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_path_parse_id("99999999999999999999", &id), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_path_parse_id("-1", &id), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_path_parse_id("+1", &id), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_path_parse_id("01", &id), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_path_parse_id("1a", &id), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_path_parse_id("", &id), BROOK_ERR__BAD_MSG);
	CU_ASSERT_EQUAL(zk_path_parse_id(" 1", &id), BROOK_ERR__BAD_MSG);
}

static void test_paths(void)
{
	char p[ZK_PATH_MAX];

	CU_ASSERT_EQUAL(zk_path_broker(p, sizeof(p), 3), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/brokers/ids/3");
	CU_ASSERT_EQUAL(zk_path_topic(p, sizeof(p), "orders"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/orders");
	CU_ASSERT_EQUAL(zk_path_partitions(p, sizeof(p), "orders"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/orders/partitions");
	CU_ASSERT_EQUAL(zk_path_partition(p, sizeof(p), "orders", 7), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/orders/partitions/7");
	CU_ASSERT_EQUAL(zk_path_partition_state(p, sizeof(p), "orders", 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/brokers/topics/orders/partitions/0/state");
	CU_ASSERT_EQUAL(zk_path_topic_config(p, sizeof(p), "orders"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/config/topics/orders");
	CU_ASSERT_EQUAL(zk_path_delete_topic(p, sizeof(p), "orders"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/admin/delete_topics/orders");
	CU_ASSERT_EQUAL(zk_path_group(p, sizeof(p), "g1"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/consumers/g1");
	CU_ASSERT_EQUAL(zk_path_group_ids(p, sizeof(p), "g1"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/consumers/g1/ids");
	CU_ASSERT_EQUAL(zk_path_group_member(p, sizeof(p), "g1", "g1_host-1700000000-ab12"),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/consumers/g1/ids/g1_host-1700000000-ab12");
	CU_ASSERT_EQUAL(zk_path_group_owners(p, sizeof(p), "g1", "orders"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/consumers/g1/owners/orders");
	CU_ASSERT_EQUAL(zk_path_group_owner(p, sizeof(p), "g1", "orders", 2), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/consumers/g1/owners/orders/2");
	CU_ASSERT_EQUAL(zk_path_group_offsets(p, sizeof(p), "g1", "orders"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/consumers/g1/offsets/orders");
	CU_ASSERT_EQUAL(zk_path_group_offset(p, sizeof(p), "g1", "orders", 11), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(p, "/consumers/g1/offsets/orders/11");
	CU_ASSERT_STRING_EQUAL(ZK_PATH_ISR_CHANGE_PREFIX, "/isr_change_notification/isr_change_");
	CU_ASSERT_STRING_EQUAL(ZK_PATH_PRODUCER_ID_BLOCK, "/latest_producer_id_block");
	CU_ASSERT_STRING_EQUAL(ZK_PATH_CONTROLLER, "/controller");
	CU_ASSERT_STRING_EQUAL(ZK_PATH_CONTROLLER_EPOCH, "/controller_epoch");
	CU_ASSERT_STRING_EQUAL(ZK_PATH_CLUSTER_ID, "/cluster/id");
}

static void test_bad_arguments(void)
{
	char p[ZK_PATH_MAX];

	strcpy(p, "junk");
	CU_ASSERT_EQUAL(zk_path_topic(p, sizeof(p), "a/b"), BROOK_ERR_INVALID_TOPIC_EXCEPTION);
	CU_ASSERT_STRING_EQUAL(p, "");
	CU_ASSERT_EQUAL(zk_path_broker(p, sizeof(p), -1), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_path_partition(p, sizeof(p), "t", -1), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_path_group_member(p, sizeof(p), "g", "a/b"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_path_group_offset(p, sizeof(p), "", "t", 0), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(zk_path_group_offset(p, sizeof(p), "g", "", 0),
			BROOK_ERR_INVALID_TOPIC_EXCEPTION);
}

static void test_truncation(void)
{
	char small[16];
	char longest[ZK_TOPIC_MAX + 1];
	char name[ZK_NAME_MAX + 1];
	char p[ZK_PATH_MAX];

	/* "/brokers/ids/3" needs 15 bytes: fits exactly, one less fails. */
	CU_ASSERT_EQUAL(zk_path_broker(small, 15, 3), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(small, "/brokers/ids/3");
	strcpy(small, "junk");
	CU_ASSERT_EQUAL(zk_path_broker(small, 14, 3), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_STRING_EQUAL(small, ""); /* never a truncated path */
	CU_ASSERT_EQUAL(zk_path_topic(small, sizeof(small), "orders-and-more"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_STRING_EQUAL(small, "");
	CU_ASSERT_EQUAL(zk_path_broker(small, 0, 3), BROOK_ERR__INVALID_ARG);

	/* ZK_PATH_MAX holds the longest valid names. */
	memset(longest, 't', ZK_TOPIC_MAX);
	longest[ZK_TOPIC_MAX] = '\0';
	memset(name, 'g', ZK_NAME_MAX);
	name[ZK_NAME_MAX] = '\0';
	CU_ASSERT_EQUAL(zk_path_group_offset(p, sizeof(p), name, longest, INT32_MAX),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_path_group_member(p, sizeof(p), name, name), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_path_partition_state(p, sizeof(p), longest, INT32_MAX), BROOK_ERR_NO_ERROR);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "topic names", test_topic_names },
		{ "group and member names", test_names },
		{ "child ids", test_parse_id },
		{ "Kafka's paths", test_paths },
		{ "bad arguments", test_bad_arguments },
		{ "truncation is an error", test_truncation },
		{ NULL, NULL },
	};

	return harness_run("zk_paths", tests);
}
