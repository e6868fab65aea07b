/* test_broker_conf.c - brookd's settings: Kafka's defaults, the example
 * config, listener syntax, cross-setting checks and where errors point. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_conf.h"
#include "harness.h"

static char err[1024];

/* The two settings without a default, so the rest can be tested alone. */
static char *required[] = { "broker.id=0", "zookeeper.connect=127.0.0.1:2181" };

static const char *write_conf(const char *text)
{
	static char path[4096];
	static int n;
	const char *dir = harness_tmpdir("broker-conf");

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/server-%d.properties", dir, n++);
	CU_ASSERT_EQUAL_FATAL(harness_write_file(path, text, strlen(text)), 0);
	return path;
}

/* Loads with the required settings plus `extra` overrides; returns the
 * error code, leaving c loaded on success. */
static brook_err_t load_with(broker_conf_t *c, const char *extra1, const char *extra2)
{
	char *ov[4] = { required[0], required[1], (char *)extra1, (char *)extra2 };
	int n = 2 + (extra1 != NULL) + (extra2 != NULL);

	err[0] = '\0';
	return broker_conf_load(c, NULL, ov, n, err, sizeof(err));
}

static void test_defaults(void)
{
	broker_conf_t c;
	log_config_t lc, def;

	CU_ASSERT_EQUAL_FATAL(load_with(&c, NULL, NULL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.broker_id, 0);
	CU_ASSERT_STRING_EQUAL(c.listeners, "BROOK://127.0.0.1:9092");
	CU_ASSERT_PTR_NULL(c.advertised_listeners);
	CU_ASSERT_STRING_EQUAL(c.log_dirs, "/tmp/brook-logs");
	CU_ASSERT_STRING_EQUAL(c.zookeeper_connect, "127.0.0.1:2181");
	CU_ASSERT_EQUAL(c.zookeeper_session_timeout_ms, 18000);
	CU_ASSERT_EQUAL(c.zookeeper_connection_timeout_ms, 18000);
	CU_ASSERT_EQUAL(c.num_partitions, 1);
	CU_ASSERT_EQUAL(c.default_replication_factor, 1);
	CU_ASSERT_EQUAL(c.min_insync_replicas, 1);
	CU_ASSERT_EQUAL(c.unclean_leader_election_enable, 0);
	CU_ASSERT_EQUAL(c.auto_create_topics_enable, 1);
	CU_ASSERT_EQUAL(c.delete_topic_enable, 1);
	CU_ASSERT_EQUAL(c.log_segment_bytes, 1073741824);
	CU_ASSERT_EQUAL(c.log_roll_ms, 604800000);
	CU_ASSERT_EQUAL(c.log_retention_ms, 604800000);
	CU_ASSERT_EQUAL(c.log_retention_bytes, -1);
	CU_ASSERT_EQUAL(c.log_retention_check_interval_ms, 300000);
	CU_ASSERT_EQUAL(c.log_index_interval_bytes, 4096);
	CU_ASSERT_EQUAL(c.log_flush_interval_messages, INT64_MAX);
	CU_ASSERT_EQUAL(c.log_flush_interval_ms, INT64_MAX);
	CU_ASSERT_EQUAL(c.replica_lag_time_max_ms, 30000);
	CU_ASSERT_EQUAL(c.replica_fetch_max_bytes, 1048576);
	CU_ASSERT_EQUAL(c.replica_fetch_wait_max_ms, 500);
	CU_ASSERT_EQUAL(c.socket_request_max_bytes, 104857600);
	CU_ASSERT_EQUAL(c.message_max_bytes, 1048588);
	CU_ASSERT_EQUAL(c.connections_max_idle_ms, 600000);
	CU_ASSERT_EQUAL(c.controlled_shutdown_enable, 1);
	CU_ASSERT_EQUAL(c.connection_output_max_bytes, 67108864);
	CU_ASSERT_PTR_NULL(c.log_file);
	/* derived */
	CU_ASSERT_EQUAL(c.listener_cnt, 1);
	CU_ASSERT_STRING_EQUAL(c.listener[0].host, "127.0.0.1");
	CU_ASSERT_EQUAL(c.listener[0].port, 9092);
	CU_ASSERT_STRING_EQUAL(c.advertised.host, "127.0.0.1");
	CU_ASSERT_EQUAL(c.advertised.port, 9092);
	CU_ASSERT_EQUAL_FATAL(c.log_dir_cnt, 1);
	CU_ASSERT_STRING_EQUAL(c.log_dir[0], "/tmp/brook-logs");
	/* the broker's storage defaults are the log module's own (field by field:
	 * the struct has padding) */
	broker_conf_log_config(&c, &lc);
	log_config_default(&def);
	CU_ASSERT_EQUAL(lc.segment_bytes, def.segment_bytes);
	CU_ASSERT_EQUAL(lc.roll_ms, def.roll_ms);
	CU_ASSERT_EQUAL(lc.retention_bytes, def.retention_bytes);
	CU_ASSERT_EQUAL(lc.retention_ms, def.retention_ms);
	CU_ASSERT_EQUAL(lc.index_interval_bytes, def.index_interval_bytes);
	CU_ASSERT_EQUAL(lc.flush_interval_messages, def.flush_interval_messages);
	CU_ASSERT_EQUAL(lc.flush_interval_ms, def.flush_interval_ms);
	broker_conf_destroy(&c);
	broker_conf_destroy(&c);
	broker_conf_destroy(NULL);
}

static void test_full_file(void)
{
	const char *path = write_conf(
		"# every setting away from its default\n"
		"broker.id = 2147483647\n"
		"listeners=BROOK://0.0.0.0:9093, BROOK://[::1]:9094\n"
		"advertised.listeners=BROOK://broker7.example.com:9093\n"
		"log.dirs=/data/a, /data/b ,/data/c\n"
		"zookeeper.connect=zk1:2181,zk2:2181,[::1]:2182/brook/prod\n"
		"zookeeper.session.timeout.ms=6000\n"
		"zookeeper.connection.timeout.ms=3000\n"
		"num.partitions=12\n"
		"default.replication.factor=3\n"
		"min.insync.replicas=2\n"
		"unclean.leader.election.enable=true\n"
		"auto.create.topics.enable=false\n"
		"delete.topic.enable=false\n"
		"log.segment.bytes=1024\n"
		"log.roll.ms=3600000\n"
		"log.retention.ms=-1\n"
		"log.retention.bytes=10737418240\n"
		"log.retention.check.interval.ms=1000\n"
		"log.index.interval.bytes=0\n"
		"log.flush.interval.messages=1\n"
		"log.flush.interval.ms=0\n"
		"replica.lag.time.max.ms=10000\n"
		"replica.fetch.max.bytes=0\n"
		"replica.fetch.wait.max.ms=10000\n"
		"socket.request.max.bytes=1\n"
		"message.max.bytes=0\n"
		"connections.max.idle.ms=1\n"
		"controlled.shutdown.enable=false\n"
		"connection.output.max.bytes=1024\n"
		"log.file=/var/log/brookd.log\n");
	broker_conf_t c;
	log_config_t lc;

	CU_ASSERT_EQUAL_FATAL(broker_conf_load(&c, path, NULL, 0, err, sizeof(err)),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.broker_id, INT32_MAX);
	CU_ASSERT_STRING_EQUAL(c.listeners, "BROOK://0.0.0.0:9093,BROOK://[::1]:9094");
	CU_ASSERT_EQUAL_FATAL(c.listener_cnt, 2);
	CU_ASSERT_STRING_EQUAL(c.listener[0].host, "0.0.0.0");
	CU_ASSERT_EQUAL(c.listener[0].port, 9093);
	CU_ASSERT_STRING_EQUAL(c.listener[1].host, "::1");
	CU_ASSERT_EQUAL(c.listener[1].port, 9094);
	CU_ASSERT_STRING_EQUAL(c.advertised.host, "broker7.example.com");
	CU_ASSERT_EQUAL(c.advertised.port, 9093);
	CU_ASSERT_EQUAL_FATAL(c.log_dir_cnt, 3);
	CU_ASSERT_STRING_EQUAL(c.log_dir[0], "/data/a");
	CU_ASSERT_STRING_EQUAL(c.log_dir[1], "/data/b");
	CU_ASSERT_STRING_EQUAL(c.log_dir[2], "/data/c");
	CU_ASSERT_STRING_EQUAL(c.zookeeper_connect, "zk1:2181,zk2:2181,[::1]:2182/brook/prod");
	CU_ASSERT_EQUAL(c.zookeeper_session_timeout_ms, 6000);
	CU_ASSERT_EQUAL(c.zookeeper_connection_timeout_ms, 3000);
	CU_ASSERT_EQUAL(c.num_partitions, 12);
	CU_ASSERT_EQUAL(c.default_replication_factor, 3);
	CU_ASSERT_EQUAL(c.min_insync_replicas, 2);
	CU_ASSERT_EQUAL(c.unclean_leader_election_enable, 1);
	CU_ASSERT_EQUAL(c.auto_create_topics_enable, 0);
	CU_ASSERT_EQUAL(c.delete_topic_enable, 0);
	CU_ASSERT_EQUAL(c.log_retention_check_interval_ms, 1000);
	CU_ASSERT_EQUAL(c.replica_lag_time_max_ms, 10000);
	CU_ASSERT_EQUAL(c.replica_fetch_max_bytes, 0);
	CU_ASSERT_EQUAL(c.replica_fetch_wait_max_ms, 10000);
	CU_ASSERT_EQUAL(c.socket_request_max_bytes, 1);
	CU_ASSERT_EQUAL(c.message_max_bytes, 0);
	CU_ASSERT_EQUAL(c.connections_max_idle_ms, 1);
	CU_ASSERT_EQUAL(c.controlled_shutdown_enable, 0);
	CU_ASSERT_EQUAL(c.connection_output_max_bytes, 1024);
	CU_ASSERT_STRING_EQUAL(c.log_file, "/var/log/brookd.log");
	broker_conf_log_config(&c, &lc);
	CU_ASSERT_EQUAL(lc.segment_bytes, 1024u);
	CU_ASSERT_EQUAL(lc.roll_ms, 3600000);
	CU_ASSERT_EQUAL(lc.retention_ms, -1);
	CU_ASSERT_EQUAL(lc.retention_bytes, 10737418240LL);
	CU_ASSERT_EQUAL(lc.index_interval_bytes, 0u);
	CU_ASSERT_EQUAL(lc.flush_interval_messages, 1);
	CU_ASSERT_EQUAL(lc.flush_interval_ms, 0);
	broker_conf_destroy(&c);
}

/* The shipped example loads as is and mentions every setting. */
static void test_example_config(void)
{
	const char *top = getenv("BROOK_TOP_SRCDIR");
	const conf_def_t *d;
	char path[4096];
	broker_conf_t c;
	uint8_t *text;
	size_t len;

	if (!top || !*top)
		top = BROOK_TOP_SRCDIR_BUILT;
	snprintf(path, sizeof(path), "%s/conf/server.properties", top);
	err[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(broker_conf_load(&c, path, NULL, 0, err, sizeof(err)),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.broker_id, 1);
	CU_ASSERT_STRING_EQUAL(c.listeners, "BROOK://127.0.0.1:9092");
	CU_ASSERT_STRING_EQUAL(c.advertised.host, "127.0.0.1");
	CU_ASSERT_EQUAL(c.advertised.port, 9092);
	CU_ASSERT_EQUAL_FATAL(c.log_dir_cnt, 1);
	CU_ASSERT_STRING_EQUAL(c.log_dir[0], "/tmp/brook-logs-1");
	CU_ASSERT_STRING_EQUAL(c.zookeeper_connect, "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183");
	broker_conf_destroy(&c);

	text = harness_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	text = realloc(text, len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	text[len] = '\0';
	for (d = broker_conf_table(); d->name; d++) {
		char set[128], commented[128];

		snprintf(set, sizeof(set), "\n%s=", d->name);
		snprintf(commented, sizeof(commented), "\n#%s=", d->name);
		if (!strstr((char *)text, set) && !strstr((char *)text, commented))
			fprintf(stderr, "\nserver.properties does not mention %s\n", d->name);
		CU_ASSERT(strstr((char *)text, set) || strstr((char *)text, commented));
	}
	free(text);
}

static void test_listener_syntax(void)
{
	static const struct {
		const char *text;
		const char *host;
		int port;
	} good[] = {
		{ "BROOK://127.0.0.1:9092", "127.0.0.1", 9092 },
		{ "BROOK://localhost:0", "localhost", 0 },
		{ "BROOK://my-host.example.com:65535", "my-host.example.com", 65535 },
		{ "BROOK://broker_1:9092", "broker_1", 9092 },
		{ "BROOK://[::1]:9092", "::1", 9092 },
		{ "BROOK://[fe80::1:2]:1", "fe80::1:2", 1 },
		{ "BROOK://0.0.0.0:9092", "0.0.0.0", 9092 },
	};
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{ "127.0.0.1:9092", "expected BROOK://host:port" },
		{ "PLAINTEXT://127.0.0.1:9092", "expected BROOK://host:port" },
		{ "brook://127.0.0.1:9092", "expected BROOK://host:port" },
		{ "BROOK://127.0.0.1", "expected BROOK://host:port (no port)" },
		{ "BROOK://:9092", "host is missing" },
		{ "BROOK://[]:9092", "host is missing" },
		{ "BROOK://h:65536", "port must be a number between 0 and 65535" },
		{ "BROOK://h:-1", "port must be a number between 0 and 65535" },
		{ "BROOK://h:", "port must be a number between 0 and 65535" },
		{ "BROOK://h:9092x", "port must be a number between 0 and 65535" },
		{ "BROOK://h:9092/", "port must be a number between 0 and 65535" },
		{ "BROOK://h: 9092", "port must be a number between 0 and 65535" },
		{ "BROOK://h:0000009092", "port must be a number between 0 and 65535" },
		{ "BROOK://256.1.1.1:9092", "\"256.1.1.1\" is not a valid IPv4 address" },
		{ "BROOK://1.2.3:9092", "\"1.2.3\" is not a valid IPv4 address" },
		{ "BROOK://::1:9092", "IPv6 addresses go in brackets" },
		{ "BROOK://[::1:9092", "'[' without ']'" },
		{ "BROOK://[::g]:9092", "\"::g\" is not a valid IPv6 address" },
		{ "BROOK://[::1]9092", "expected BROOK://host:port (no port)" },
		{ "BROOK://-host:9092", "\"-host\" is not a valid host name" },
		{ "BROOK://host-:9092", "\"host-\" is not a valid host name" },
		{ "BROOK://a..b:9092", "\"a..b\" is not a valid host name" },
		{ "BROOK://a b:9092", "\"a b\" is not a valid host name" },
		{ "BROOK://host.:9092", "\"host.\" is not a valid host name" },
		{ "BROOK://h/x:9092", "\"h/x\" is not a valid host name" },
	};
	broker_listener_t l;
	char longhost[400];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(broker_conf_parse_listener(good[i].text, &l, err, sizeof(err)),
				BROOK_ERR_NO_ERROR);
		CU_ASSERT_STRING_EQUAL(l.host, good[i].host);
		CU_ASSERT_EQUAL(l.port, good[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(broker_conf_parse_listener(bad[i].text, &l, err, sizeof(err)),
				BROOK_ERR_INVALID_CONFIG);
		if (!strstr(err, bad[i].why))
			fprintf(stderr, "\n%s: want \"%s\", got \"%s\"\n", bad[i].text, bad[i].why,
				err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].why));
	}
	/* a 64-byte label, and a name past 253 bytes */
	snprintf(longhost, sizeof(longhost), "BROOK://%064d.example:9092", 0);
	CU_ASSERT_EQUAL(broker_conf_parse_listener(longhost, &l, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	strcpy(longhost, "BROOK://");
	for (int i = 0; i < 30; i++)
		strcat(longhost, "abcdefghi.");
	strcat(longhost, "x:9092");
	CU_ASSERT_EQUAL(broker_conf_parse_listener(longhost, &l, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "host is longer than 255 bytes"));
}

/* Loading with one extra override must fail with exactly `want`. */
static void load_bad(const char *extra1, const char *extra2, const char *want)
{
	broker_conf_t c;

	CU_ASSERT_NOT_EQUAL(load_with(&c, extra1, extra2), BROOK_ERR_NO_ERROR);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\nwant: %s\n got: %s\n", want, err);
	CU_ASSERT_STRING_EQUAL(err, want);
	/* nothing is left allocated after a failure, and destroying is harmless */
	CU_ASSERT_PTR_NULL(c.listeners);
	CU_ASSERT_PTR_NULL(c.log_dir);
	broker_conf_destroy(&c);
}

static void test_bad_listeners(void)
{
	broker_conf_t c;

	load_bad("listeners=BROOK://127.0.0.1:99999", NULL,
		 "--override listeners: \"BROOK://127.0.0.1:99999\": port must be a number "
		 "between 0 and 65535");
	load_bad("listeners=PLAINTEXT://:9092", NULL,
		 "--override listeners: \"PLAINTEXT://:9092\": expected BROOK://host:port");
	load_bad("listeners=", NULL, "--override listeners: must not be empty");
	load_bad("listeners=BROOK://h:1,BROOK://h:1", "advertised.listeners=BROOK://h:1",
		 "--override listeners: \"BROOK://h:1\" is listed twice");
	/* several listeners, or a wildcard one, need an explicit advertised address */
	load_bad("listeners=BROOK://127.0.0.1:1,BROOK://[::1]:1", NULL,
		 "advertised.listeners: must be set when listeners has more than one entry");
	load_bad("listeners=BROOK://0.0.0.0:9092", NULL,
		 "advertised.listeners: must be set when the listener's host is 0.0.0.0, which "
		 "clients cannot connect to");
	load_bad("listeners=BROOK://0.0.0.0:9092", "advertised.listeners=BROOK://0.0.0.0:9092",
		 "--override advertised.listeners: \"BROOK://0.0.0.0:9092\": clients cannot "
		 "connect to 0.0.0.0");
	load_bad("advertised.listeners=BROOK://h:0", NULL,
		 "--override advertised.listeners: \"BROOK://h:0\": clients cannot connect to "
		 "port 0");
	load_bad("advertised.listeners=BROOK://a:1,BROOK://b:1", NULL,
		 "--override advertised.listeners: must have at most 1 item (got 2)");

	/* port 0 is fine for listening; the broker advertises the bound port */
	CU_ASSERT_EQUAL_FATAL(load_with(&c, "listeners=BROOK://127.0.0.1:0", NULL),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.advertised.port, 0);
	broker_conf_destroy(&c);
	CU_ASSERT_EQUAL_FATAL(load_with(&c, "listeners=BROOK://0.0.0.0:9092",
					"advertised.listeners=BROOK://10.0.0.7:9092"),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(c.listener[0].host, "0.0.0.0");
	CU_ASSERT_STRING_EQUAL(c.advertised.host, "10.0.0.7");
	broker_conf_destroy(&c);
}

static void test_other_checks(void)
{
	load_bad("log.dirs=/a,/b, /a", NULL, "--override log.dirs: \"/a\" is listed twice");
	load_bad("log.dirs= ", NULL, "--override log.dirs: must not be empty");
	load_bad("zookeeper.connect=h:2181,", NULL,
		 "--override zookeeper.connect: empty server address");
	load_bad("zookeeper.connect=h:2181,,h2", NULL,
		 "--override zookeeper.connect: empty server address");
	load_bad("zookeeper.connect=h:99999", NULL,
		 "--override zookeeper.connect: port must be a number between 1 and 65535 "
		 "(got \"99999\")");
	load_bad("zookeeper.connect=h:2181/brook/", NULL,
		 "--override zookeeper.connect: chroot \"/brook/\" must not end with '/' or "
		 "contain \"//\"");
	load_bad("zookeeper.connect=/brook", NULL,
		 "--override zookeeper.connect: no servers before the chroot");
	load_bad("zookeeper.connect=h 1:2181", NULL,
		 "--override zookeeper.connect: blank inside a server address");
	load_bad("replica.fetch.wait.max.ms=30001", NULL,
		 "--override replica.fetch.wait.max.ms: must not exceed replica.lag.time.max.ms "
		 "(30001 > 30000)");
	load_bad("log.segment.bytes=1023", NULL,
		 "--override log.segment.bytes: must be an integer between 1024 and 2147483647 "
		 "(got \"1023\")");
	load_bad("log.segment.bytes=2147483648", NULL,
		 "--override log.segment.bytes: must be an integer between 1024 and 2147483647 "
		 "(got \"2147483648\")");
	load_bad("log.retention.ms=-2", NULL,
		 "--override log.retention.ms: must be an integer between -1 and "
		 "9223372036854775807 (got \"-2\")");
	load_bad("default.replication.factor=32768", NULL,
		 "--override default.replication.factor: must be an integer between 1 and 32767 "
		 "(got \"32768\")");
	load_bad("unclean.leader.election.enable=1", NULL,
		 "--override unclean.leader.election.enable: must be true or false (got \"1\")");
	load_bad("no.such.setting=1", NULL, "--override no.such.setting: unknown setting");
	load_bad("broker.id", NULL, "--override \"broker.id\": expected key=value");
}

static void test_required(void)
{
	char *only_zk[] = { "zookeeper.connect=z:2181" };
	const char *path;
	char want[4200];
	broker_conf_t c;

	CU_ASSERT_EQUAL(broker_conf_load(&c, NULL, only_zk, 1, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(err, "broker.id: required setting is not set");
	CU_ASSERT_EQUAL(broker_conf_load(&c, NULL, NULL, 0, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(err, "broker.id: required setting is not set (and 1 more)");

	path = write_conf("zookeeper.connect=z:2181\nlog.dirs=/x\n");
	CU_ASSERT_EQUAL(broker_conf_load(&c, path, NULL, 0, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	snprintf(want, sizeof(want), "%s: broker.id: required setting is not set", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	/* an override supplies it */
	{
		char *id[] = { "broker.id=0" };

		CU_ASSERT_EQUAL_FATAL(broker_conf_load(&c, path, id, 1, err, sizeof(err)),
				      BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL(c.broker_id, 0);
		broker_conf_destroy(&c);
	}
}

static void test_file_errors(void)
{
	const char *path;
	char want[4200];
	broker_conf_t c;

	path = write_conf("broker.id=1\n"
			  "zookeeper.connect=z:2181\n"
			  "\n"
			  "# storage\n"
			  "log.segment.bytes=5\n");
	CU_ASSERT_EQUAL(broker_conf_load(&c, path, NULL, 0, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	snprintf(want, sizeof(want),
		 "%s:5: log.segment.bytes: must be an integer between 1024 and 2147483647 "
		 "(got \"5\")", path);
	CU_ASSERT_STRING_EQUAL(err, want);

	path = write_conf("broker.id=1\nlog.segmnet.bytes=1048576\n");
	CU_ASSERT_EQUAL(broker_conf_load(&c, path, NULL, 0, err, sizeof(err)),
			BROOK_ERR__INVALID_ARG);
	snprintf(want, sizeof(want), "%s:2: log.segmnet.bytes: unknown setting", path);
	CU_ASSERT_STRING_EQUAL(err, want);

	path = write_conf("broker.id=1\nbroker.id=2\n");
	CU_ASSERT_EQUAL(broker_conf_load(&c, path, NULL, 0, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	snprintf(want, sizeof(want), "%s:2: broker.id: set twice (first on line 1)", path);
	CU_ASSERT_STRING_EQUAL(err, want);

	/* a cross-setting error names the file when the value came from it */
	path = write_conf("broker.id=1\nzookeeper.connect=z:2181\nlisteners=BROOK://h\n");
	CU_ASSERT_EQUAL(broker_conf_load(&c, path, NULL, 0, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	snprintf(want, sizeof(want),
		 "%s: listeners: \"BROOK://h\": expected BROOK://host:port (no port)", path);
	CU_ASSERT_STRING_EQUAL(err, want);

	CU_ASSERT_EQUAL(broker_conf_load(&c, "/nonexistent/brook/server.properties", NULL, 0, err,
					 sizeof(err)),
			BROOK_ERR__NOENT);
	CU_ASSERT_STRING_EQUAL(err,
			       "/nonexistent/brook/server.properties: No such file or directory");
}

static void test_overrides_win(void)
{
	const char *path = write_conf("broker.id=1\n"
				      "zookeeper.connect=z:2181\n"
				      "num.partitions=3\n"
				      "listeners=BROOK://127.0.0.1:9092\n");
	char *ov[] = { "num.partitions=8", "listeners=BROOK://127.0.0.1:0", "num.partitions=9" };
	broker_conf_t c;

	CU_ASSERT_EQUAL_FATAL(broker_conf_load(&c, path, ov, 3, err, sizeof(err)),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.broker_id, 1);
	CU_ASSERT_EQUAL(c.num_partitions, 9); /* the last override wins */
	CU_ASSERT_EQUAL(c.listener[0].port, 0);
	broker_conf_destroy(&c);

	/* an override is checked like a file value, and the error says so */
	{
		char *bad[] = { "num.partitions=0" };

		CU_ASSERT_EQUAL(broker_conf_load(&c, path, bad, 1, err, sizeof(err)),
				BROOK_ERR_INVALID_CONFIG);
		CU_ASSERT_STRING_EQUAL(err, "--override num.partitions: must be an integer between "
					    "1 and 2147483647 (got \"0\")");
	}
}

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fn(f, arg);
	fclose(f);
	return buf;
}

static void help_to(FILE *f, const void *arg)
{
	(void)arg;
	broker_conf_print_help(f);
}

static void dump_to(FILE *f, const void *arg)
{
	broker_conf_dump(arg, f);
}

static void test_help_and_dump(void)
{
	char *help, *dump, *again, *line, *save;
	const char *path;
	broker_conf_t c, d;

	help = capture(help_to, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(help);
	for (const conf_def_t *def = broker_conf_table(); def->name; def++) {
		char name[128];

		CU_ASSERT_PTR_NOT_NULL(def->doc);
		snprintf(name, sizeof(name), "%s\n    ", def->name);
		CU_ASSERT_PTR_NOT_NULL(strstr(help, name));
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(help, "log.segment.bytes\n    int, >= 1024; "
					    "default: 1073741824\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(help, "broker.id\n    int, >= 0; required\n"));
	for (line = strtok_r(help, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		CU_ASSERT(strlen(line) <= 80);
	free(help);

	/* the dump is itself a config file that loads to the same settings */
	CU_ASSERT_EQUAL_FATAL(load_with(&c, "log.dirs=/a,/b", "num.partitions=4"),
			      BROOK_ERR_NO_ERROR);
	dump = capture(dump_to, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dump);
	CU_ASSERT_PTR_NOT_NULL(strstr(dump, "broker.id=0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(dump, "\nlog.dirs=/a,/b\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(dump, "\nadvertised.listeners=\n"));
	path = write_conf(dump);
	CU_ASSERT_EQUAL_FATAL(broker_conf_load(&d, path, NULL, 0, err, sizeof(err)),
			      BROOK_ERR_NO_ERROR);
	again = capture(dump_to, &d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(again);
	CU_ASSERT_STRING_EQUAL(again, dump);
	free(dump);
	free(again);
	broker_conf_destroy(&c);
	broker_conf_destroy(&d);
}

/* A failed allocation anywhere in conf.c fails the load cleanly. */
static void test_out_of_memory(void)
{
	const char *top = getenv("BROOK_TOP_SRCDIR");
	char path[4096];
	broker_conf_t c;
	brook_err_t e;
	int n, ok;

	if (!top || !*top)
		top = BROOK_TOP_SRCDIR_BUILT;
	snprintf(path, sizeof(path), "%s/conf/server.properties", top);
	for (n = 0, ok = 0; n < 200 && !ok; n++) {
		conf_fail_allocs_after(n);
		e = broker_conf_load(&c, path, required, 2, err, sizeof(err));
		conf_fail_allocs_after(-1);
		ok = e == BROOK_ERR_NO_ERROR;
		if (!ok) {
			CU_ASSERT_EQUAL(e, BROOK_ERR__NOMEM);
			CU_ASSERT_PTR_NULL(c.listeners);
		}
	}
	CU_ASSERT(ok && n > 5);
	broker_conf_destroy(&c);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "Kafka's defaults", test_defaults },
		{ "a file setting everything", test_full_file },
		{ "conf/server.properties", test_example_config },
		{ "listener syntax", test_listener_syntax },
		{ "listeners and advertised.listeners", test_bad_listeners },
		{ "other cross-setting checks", test_other_checks },
		{ "required settings", test_required },
		{ "file:line errors", test_file_errors },
		{ "overrides win over the file", test_overrides_win },
		{ "help and dump", test_help_and_dump },
		{ "out of memory", test_out_of_memory },
		{ NULL, NULL },
	};
	return harness_run("broker_conf", tests);
}
