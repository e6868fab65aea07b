# brookd: log storage, network server, handlers, replication, controller.
# Everything but main() lives in libbrookd.a so the tests link the real code.
noinst_LIBRARIES += src/libbrookd.a
src_libbrookd_a_SOURCES = \
	src/log_file.h src/log_file.c \
	src/log_index.h src/log_index.c \
	src/log_segment.h src/log_segment.c \
	src/log.h src/log.c \
	src/log_checkpoint.h src/log_checkpoint.c \
	src/log_dir.h src/log_dir.c \
	src/broker_conf.h src/broker_conf.c \
	src/blog.h src/blog.c \
	src/metadata.h src/metadata.c \
	src/broker_zk.h src/broker_zk.c

BROOKD_LIBS = src/libbrookd.a client/libbrook.a $(CODEC_LIBS)

check_PROGRAMS += tests/test_log_index tests/test_log tests/test_log_dir
TESTS += tests/test_log_index tests/test_log tests/test_log_dir
tests_test_log_index_LDADD = $(TEST_LIBS) $(BROOKD_LIBS)
tests_test_log_LDADD = tests/harness/libbrooklogtest.a $(TEST_LIBS) $(BROOKD_LIBS)
tests_test_log_dir_LDADD = tests/harness/libbrooklogtest.a $(TEST_LIBS) $(BROOKD_LIBS)

# test_broker_conf loads conf/server.properties; `make check` exports
# BROOK_TOP_SRCDIR, and the same path is compiled in for runs by hand.
check_PROGRAMS += tests/test_broker_conf
TESTS += tests/test_broker_conf
tests_test_broker_conf_LDADD = $(TEST_LIBS) $(BROOKD_LIBS)
tests_test_broker_conf_CPPFLAGS = $(AM_CPPFLAGS) -DBROOK_TOP_SRCDIR_BUILT='"$(abs_top_srcdir)"'

# The cluster view (pure unit test) and the broker's ZooKeeper side, run
# against a real ZooKeeper (tests/harness/harness_zk.h).
check_PROGRAMS += tests/test_metadata tests/test_broker_zk
TESTS += tests/test_metadata tests/test_broker_zk
tests_test_metadata_LDADD = $(TEST_LIBS) $(BROOKD_LIBS) $(BROOKZK_LIBS)
tests_test_broker_zk_LDADD = $(TEST_LIBS) $(BROOKD_LIBS) $(BROOKZK_LIBS)

# Helpers that build batches for the log tests and the storage benchmark.
check_LIBRARIES += tests/harness/libbrooklogtest.a
tests_harness_libbrooklogtest_a_SOURCES = tests/harness/logtest.h tests/harness/logtest.c
include $(srcdir)/src/server.mk
include $(srcdir)/src/leader_epoch.mk
include $(srcdir)/src/controller.mk
