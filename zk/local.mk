# Coordination layer: ZooKeeper sessions on libev, znode paths and JSON.
noinst_LIBRARIES += zk/libbrookzk.a
zk_libbrookzk_a_SOURCES = \
	zk/zk_session.h zk/zk_session.c \
	zk/zk_paths.h zk/zk_paths.c \
	zk/zk_json.h zk/zk_json.c

# What a program linking the coordination layer needs, in link order.
BROOKZK_LIBS = zk/libbrookzk.a client/libbrook.a $(ZK_LIBS) $(EV_LIBS) $(JANSSON_LIBS)

# Starts a real local ZooKeeper ensemble (quickstart and integration tests).
dist_noinst_SCRIPTS += zk/zk-ensemble

# Ensemble control for integration tests (start, kill -9, restart, expire).
tests_harness_libharness_a_SOURCES += tests/harness/harness_zk.h tests/harness/harness_zk.c

check_PROGRAMS += tests/test_zk_paths tests/test_zk_json tests/test_zk_session
TESTS += tests/test_zk_paths tests/test_zk_json tests/test_zk_session
tests_test_zk_paths_LDADD = $(TEST_LIBS) $(BROOKZK_LIBS)
tests_test_zk_json_LDADD = $(TEST_LIBS) $(BROOKZK_LIBS)
tests_test_zk_session_LDADD = $(TEST_LIBS) $(BROOKZK_LIBS)
