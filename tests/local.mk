# Test harness shared by the unit and integration tests. Each folder's
# local.mk adds the tests of its own modules.
check_LIBRARIES = tests/harness/libharness.a
tests_harness_libharness_a_SOURCES = \
	tests/harness/harness.h tests/harness/harness_fs.c
TEST_LIBS = tests/harness/libharness.a $(CUNIT_LIBS)
include $(srcdir)/tests/broker.mk
EXTRA_DIST += tests/harness/harness_zk.sh
EXTRA_DIST += tests/lsan.supp
