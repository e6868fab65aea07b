/* test_client_conf.c - the client settings table and brook_conf_*: defaults,
 * parsing and ranges, copies, the checks a handle makes, bootstrap.servers
 * parsing, and handles refusing bad settings with one clear reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_conf.h"
#include "harness.h"

static char err[512];

static const char *get(const brook_conf_t *c, const char *key)
{
	static char buf[256];

	CU_ASSERT_EQUAL(brook_conf_get(c, key, buf, sizeof(buf)), BROOK_ERR_NO_ERROR);
	return buf;
}

static void test_defaults(void)
{
	brook_conf_t *c = brook_conf_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(get(c, "bootstrap.servers"), "");
	CU_ASSERT_STRING_EQUAL(get(c, "acks"), "all");
	CU_ASSERT_STRING_EQUAL(get(c, "linger.ms"), "5");
	CU_ASSERT_STRING_EQUAL(get(c, "batch.size"), "16384");
	CU_ASSERT_STRING_EQUAL(get(c, "compression.type"), "none");
	CU_ASSERT_STRING_EQUAL(get(c, "request.timeout.ms"), "30000");
	CU_ASSERT_STRING_EQUAL(get(c, "delivery.timeout.ms"), "120000");
	CU_ASSERT_STRING_EQUAL(get(c, "retries"), "2147483647");
	CU_ASSERT_STRING_EQUAL(get(c, "retry.backoff.ms"), "100");
	CU_ASSERT_STRING_EQUAL(get(c, "max.in.flight.requests.per.connection"), "5");
	CU_ASSERT_STRING_EQUAL(get(c, "fetch.max.wait.ms"), "500");
	CU_ASSERT_STRING_EQUAL(get(c, "auto.offset.reset"), "latest");
	CU_ASSERT_STRING_EQUAL(get(c, "enable.partition.eof"), "true");
	CU_ASSERT_EQUAL(client_conf_acks(&c->c), -1);
	brook_conf_free(c);
	brook_conf_free(NULL);
}

static void test_set(void)
{
	brook_conf_t *c = brook_conf_new();
	char buf[8];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(brook_conf_set(c, "acks", "0", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(client_conf_acks(&c->c), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "acks", "1", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(client_conf_acks(&c->c), 1);
	CU_ASSERT_EQUAL(brook_conf_set(c, "acks", "-1", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(client_conf_acks(&c->c), -1);
	CU_ASSERT_EQUAL(brook_conf_set(c, "acks", "2", err, sizeof(err)), BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT(strstr(err, "acks") != NULL);
	CU_ASSERT_EQUAL(client_conf_acks(&c->c), -1); /* unchanged */

	CU_ASSERT_EQUAL(brook_conf_set(c, "linger.ms", "100", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c->c.linger_ms, 100);
	CU_ASSERT_EQUAL(brook_conf_set(c, "linger.ms", "-1", err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT(strstr(err, "linger.ms") != NULL);
	CU_ASSERT_EQUAL(brook_conf_set(c, "linger.ms", "ten", err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_EQUAL(c->c.linger_ms, 100);

	CU_ASSERT_EQUAL(brook_conf_set(c, "compression.type", "zstd", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(get(c, "compression.type"), "zstd");
	/* compress.h cannot write snappy: refused when set, not on the first batch */
	CU_ASSERT_EQUAL(brook_conf_set(c, "compression.type", "snappy", err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);

	CU_ASSERT_EQUAL(brook_conf_set(c, "auto.offset.reset", "earliest", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "auto.offset.reset", "smallest", err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_EQUAL(brook_conf_set(c, "enable.partition.eof", "false", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c->c.enable_partition_eof, 0);

	CU_ASSERT_EQUAL(brook_conf_set(c, "bootstrap.servers", "a:1, b:2", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(get(c, "bootstrap.servers"), "a:1,b:2");

	CU_ASSERT_EQUAL(brook_conf_set(c, "no.such.setting", "1", err, sizeof(err)),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT(strstr(err, "no.such.setting") != NULL);
	CU_ASSERT_EQUAL(brook_conf_get(c, "no.such.setting", buf, sizeof(buf)),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(brook_conf_set(c, NULL, "1", err, sizeof(err)), BROOK_ERR__INVALID_ARG);
	brook_conf_free(c);
}

static void test_dup(void)
{
	brook_conf_t *a = brook_conf_new(), *b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(brook_conf_set(a, "client.id", "one", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(a, "bootstrap.servers", "h:1", err, sizeof(err)), 0);
	b = brook_conf_dup(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(brook_conf_set(a, "client.id", "two", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(get(b, "client.id"), "one");
	CU_ASSERT_STRING_EQUAL(get(b, "bootstrap.servers"), "h:1");
	CU_ASSERT_STRING_EQUAL(get(a, "client.id"), "two");
	brook_conf_free(a);
	CU_ASSERT_STRING_EQUAL(get(b, "client.id"), "one");
	brook_conf_free(b);
}

static void test_check(void)
{
	brook_conf_t *c = brook_conf_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(client_conf_check(&c->c, 1, err, sizeof(err)), BROOK_ERR__CONFIG);
	CU_ASSERT_STRING_EQUAL(err, "bootstrap.servers: must be set");
	CU_ASSERT_EQUAL(brook_conf_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(client_conf_check(&c->c, 1, err, sizeof(err)), 0);
	/* Kafka: delivery.timeout.ms >= linger.ms + request.timeout.ms */
	CU_ASSERT_EQUAL(brook_conf_set(c, "delivery.timeout.ms", "1000", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(client_conf_check(&c->c, 1, err, sizeof(err)), BROOK_ERR__CONFIG);
	CU_ASSERT(strstr(err, "delivery.timeout.ms") != NULL);
	CU_ASSERT_EQUAL(client_conf_check(&c->c, 0, err, sizeof(err)), 0); /* consumers */
	brook_conf_free(c);
}

static void test_hostport(void)
{
	char host[64];
	int port = 0;

#define HP(s) client_parse_hostport(s, strlen(s), host, sizeof(host), &port)
	CU_ASSERT_EQUAL(HP("localhost:9092"), 0);
	CU_ASSERT_STRING_EQUAL(host, "localhost");
	CU_ASSERT_EQUAL(port, 9092);
	CU_ASSERT_EQUAL(HP("10.0.0.1:1"), 0);
	CU_ASSERT_STRING_EQUAL(host, "10.0.0.1");
	CU_ASSERT_EQUAL(HP("[::1]:65535"), 0);
	CU_ASSERT_STRING_EQUAL(host, "::1");
	CU_ASSERT_EQUAL(port, 65535);
	CU_ASSERT_EQUAL(HP("localhost"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(HP("localhost:"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(HP(":9092"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(HP("h:0"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(HP("h:65536"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(HP("h:12a"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(HP("h:-1"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(HP("[::1]9092"), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(HP("[::1:9092"), BROOK_ERR__INVALID_ARG);
#undef HP
}

/* Handles refuse bad settings up front, with the reason. */
static void test_handles_refuse(void)
{
	brook_conf_t *c = brook_conf_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NULL(brook_producer_new(c, err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "bootstrap.servers: must be set");
	CU_ASSERT_PTR_NULL(brook_consumer_new(c, err, sizeof(err)));
	CU_ASSERT_EQUAL(brook_conf_set(c, "bootstrap.servers", "localhost", err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(brook_producer_new(c, err, sizeof(err)));
	CU_ASSERT(strstr(err, "expected host:port") != NULL);
	CU_ASSERT_PTR_NULL(brook_producer_new(NULL, err, sizeof(err)));
	brook_conf_free(c);
}

/* A producer whose cluster never answers reports every message, with
 * _TIMED_OUT, within delivery.timeout.ms; flush waits for exactly that. */
static int reports, timeouts;

static void count_cb(brook_err_t e, const char *topic, int32_t partition, int64_t offset,
		     const void *key, size_t key_len, const void *value, size_t value_len,
		     void *opaque)
{
	reports++;
	timeouts += e == BROOK_ERR__TIMED_OUT;
	CU_ASSERT_STRING_EQUAL(topic, "t");
	CU_ASSERT_EQUAL(offset, -1);
	CU_ASSERT(value_len == 5 && memcmp(value, "hello", 5) == 0);
	CU_ASSERT_PTR_EQUAL(opaque, &reports);
	(void)partition;
	(void)key;
	(void)key_len;
}

static void test_producer_no_cluster(void)
{
	brook_conf_t *c = brook_conf_new();
	brook_producer_t *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	/* port 1 on loopback: refused at once */
	CU_ASSERT_EQUAL(brook_conf_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "request.timeout.ms", "200", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "delivery.timeout.ms", "600", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "log_level", "0", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "queue.buffering.max.messages", "3", err, sizeof(err)),
			0);
	p = brook_producer_new(c, err, sizeof(err));
	brook_conf_free(c); /* the handle has its own copy */
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	reports = timeouts = 0;
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(brook_produce(p, "t", -1, NULL, 0, "hello", 5, 0, count_cb,
					      &reports), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(brook_produce(p, "t", -1, NULL, 0, "hello", 5, 0, count_cb, &reports),
			BROOK_ERR__QUEUE_FULL);
	CU_ASSERT_EQUAL(brook_produce(p, "", -1, NULL, 0, "x", 1, 0, NULL, NULL),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(brook_produce(p, "t", -2, NULL, 0, "x", 1, 0, NULL, NULL),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(brook_producer_outq_len(p), 3);
	CU_ASSERT_EQUAL(brook_producer_flush(p, 100), BROOK_ERR__TIMED_OUT);
	CU_ASSERT_EQUAL(brook_producer_flush(p, 5000), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(reports, 3);
	CU_ASSERT_EQUAL(timeouts, 3);
	CU_ASSERT_EQUAL(brook_producer_outq_len(p), 0);
	CU_ASSERT_EQUAL(brook_poll(p, 0), 0);
	/* a message left behind is reported by free, with _CLOSED */
	CU_ASSERT_EQUAL(brook_produce(p, "t", 0, NULL, 0, "hello", 5, 0, count_cb, &reports), 0);
	brook_producer_free(p);
	CU_ASSERT_EQUAL(reports, 4);
	brook_producer_free(NULL);
}

/* assign waits at most topic.metadata.propagation.max.ms and names why */
static void test_consumer_no_cluster(void)
{
	brook_conf_t *c = brook_conf_new();
	brook_consumer_t *k;
	brook_message_t *m = (brook_message_t *)&m;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(brook_conf_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "topic.metadata.propagation.max.ms", "300", err,
				       sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "log_level", "0", err, sizeof(err)), 0);
	k = brook_consumer_new(c, err, sizeof(err));
	brook_conf_free(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "t", -1, BROOK_OFFSET_BEGINNING, err, sizeof(err)),
			BROOK_ERR__TRANSPORT);
	CU_ASSERT(strstr(err, "127.0.0.1:1") != NULL);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "t", -1, -3, err, sizeof(err)),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(brook_consumer_assignment_count(k), 0);
	CU_ASSERT_EQUAL(brook_consumer_poll(k, 10, &m), BROOK_ERR__TIMED_OUT);
	CU_ASSERT_PTR_NULL(m);
	brook_consumer_free(k);
	brook_consumer_free(NULL);
	brook_message_free(NULL);
}

static void test_help(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	brook_conf_print_help(f);
	fclose(f);
	for (const conf_def_t *d = client_conf_table; d->name; d++)
		CU_ASSERT(strstr(buf, d->name) != NULL);
	free(buf);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "defaults are Kafka's", test_defaults },
		{ "set: values, ranges, enums, unknown keys", test_set },
		{ "dup is a deep copy", test_dup },
		{ "handle checks", test_check },
		{ "host:port parsing", test_hostport },
		{ "handles refuse bad settings", test_handles_refuse },
		{ "producer without a cluster: timeouts, queue limit, free",
		  test_producer_no_cluster },
		{ "consumer without a cluster: bounded assign", test_consumer_no_cluster },
		{ "help lists every setting", test_help },
		{ NULL, NULL },
	};

	return harness_run("client_conf", tests);
}
