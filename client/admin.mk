# Topic administration through ZooKeeper and `brook topics|cluster`.
# admin.c (with zk_batch.c, its request batches, which group_admin.c
# shares) goes into the CLI and into a library that the tests (and later
# the broker's controller and libbrook's admin API) link.
noinst_LIBRARIES += client/libbrookadmin.a
client_libbrookadmin_a_SOURCES = client/admin.h client/admin.c client/zk_batch.h client/zk_batch.c

client_brook_SOURCES += client/admin.h client/admin.c client/zk_batch.h client/zk_batch.c client/cli_topics.c client/cli_cluster.c

# Unit tests of the assignment algorithm and config table, the admin calls
# against a real ZooKeeper, and the `brook` binary end to end.
check_PROGRAMS += tests/test_admin_assign tests/test_admin
TESTS += tests/test_admin_assign tests/test_admin tests/test_cli_topics.sh
EXTRA_DIST += tests/test_cli_topics.sh
tests_test_admin_assign_LDADD = $(TEST_LIBS) client/libbrookadmin.a $(BROOKZK_LIBS)
tests_test_admin_LDADD = $(TEST_LIBS) client/libbrookadmin.a $(BROOKZK_LIBS)
