# The client library (I/O thread, producer, consumer) and `brook produce|consume`.
client_libbrook_a_SOURCES += \
	client/client_conf.h client/client_conf.c \
	client/partitioner.h client/partitioner.c \
	client/conn.h client/conn.c \
	client/client_md.h client/client_md.c \
	client/client.h client/client.c \
	client/producer.h client/producer.c \
	client/consumer.h client/consumer.c \
	client/group.h client/group.c \
	zk/zk_session.h zk/zk_session.c zk/zk_paths.h zk/zk_paths.c zk/zk_json.h zk/zk_json.c

client_brook_SOURCES += \
	client/cli_client.h client/cli_client.c \
	client/cli_produce.c client/cli_consume.c client/cli_perf.c

# Unit tests: Kafka's murmur2 vectors; the settings table; the connection
# layer against an in-test msgpack peer on 127.0.0.1 (framing, pipelining,
# deadlines, reconnect); producer and consumer against an in-test fake
# broker (retries and ordering, partial and corrupt batches, offsets). The
# end-to-end tests run real brokers.
check_PROGRAMS += tests/test_partitioner tests/test_client_conf tests/test_conn tests/test_client
TESTS += tests/test_partitioner tests/test_client_conf tests/test_conn tests/test_client
tests_test_partitioner_LDADD = $(TEST_LIBS) $(BROOK_CLIENT_LIBS)
tests_test_client_conf_LDADD = $(TEST_LIBS) $(BROOK_CLIENT_LIBS)
tests_test_conn_LDADD = $(TEST_LIBS) $(BROOK_CLIENT_LIBS)
tests_test_client_LDADD = $(TEST_LIBS) $(BROOK_CLIENT_LIBS)

# `brook produce|consume` without a cluster: help, usage errors, exit codes.
TESTS += tests/test_cli_client.sh
EXTRA_DIST += tests/test_cli_client.sh

# `brook` and `brookd` together against a real ZooKeeper: topics, keyed
# produce and consume, perf, SIGTERM and restart.
TESTS += tests/test_cli_e2e.sh
EXTRA_DIST += tests/test_cli_e2e.sh
