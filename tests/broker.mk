# Integration tests against real brookd processes, and their harness.

# Start/stop/kill -9/restart brookd, a blocking protocol client, batch and
# topic helpers (tests/harness/harness_broker.h).
tests_harness_libharness_a_SOURCES += \
	tests/harness/harness_broker.h tests/harness/harness_broker.c

# Each test runs a real 1-node ZooKeeper and real brookd processes; they
# find src/brookd through BROOK_TOP_BUILDDIR, so it must be built first.
BROKER_TEST_LIBS = $(TEST_LIBS) $(BROOKZK_LIBS) $(BROOK_CLIENT_LIBS)

check_PROGRAMS += tests/test_broker_api tests/test_broker_badinput
TESTS += tests/test_broker_api tests/test_broker_badinput
tests_test_broker_api_LDADD = $(BROKER_TEST_LIBS)
tests_test_broker_badinput_LDADD = $(BROKER_TEST_LIBS)
EXTRA_tests_test_broker_api_DEPENDENCIES = src/brookd
EXTRA_tests_test_broker_badinput_DEPENDENCIES = src/brookd

# The issue's acceptance test: 100,000 keyed messages through libbrook's
# public API to a 3-partition topic and back, then kill -9 mid-produce.
check_PROGRAMS += tests/test_e2e
TESTS += tests/test_e2e
tests_test_e2e_LDADD = $(BROKER_TEST_LIBS)
EXTRA_tests_test_e2e_DEPENDENCIES = src/brookd

# Replication across three brokers and a 3-server ZooKeeper: acks=all,
# ISR shrink/expand (SIGSTOP), the high watermark, follower truncation.
check_PROGRAMS += tests/test_replication
TESTS += tests/test_replication
tests_test_replication_LDADD = $(BROKER_TEST_LIBS)
EXTRA_tests_test_replication_DEPENDENCIES = src/brookd

# Failover across three brokers and a 3-server ZooKeeper: leader kill -9
# under load (10 rounds), controller kill -9, a broker paused past its
# session, unclean election, topic deletion, controlled shutdown and
# preferred-leader election (it also runs client/brook).
check_PROGRAMS += tests/test_failover
TESTS += tests/test_failover
tests_test_failover_LDADD = $(BROKER_TEST_LIBS)
EXTRA_tests_test_failover_DEPENDENCIES = src/brookd client/brook

# Consumer groups end to end: a 3-server ZooKeeper, 3 brokers, continuous
# production and member processes (tests/group_proc) that join, leave,
# get kill -9'd and SIGSTOPped; ownership never overlaps, nothing
# acknowledged is missed, duplicates come only from uncommitted offsets,
# stale commits are fenced, added partitions are taken, describe's lag.
check_PROGRAMS += tests/group_proc tests/test_groups
TESTS += tests/test_groups
tests_group_proc_LDADD = $(BROOK_CLIENT_LIBS)
tests_test_groups_LDADD = $(BROKER_TEST_LIBS)
EXTRA_tests_test_groups_DEPENDENCIES = src/brookd client/brook tests/group_proc
