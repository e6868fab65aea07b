# Leader-epoch cache: the leader-epoch-checkpoint file of each partition.
src_libbrookd_a_SOURCES += src/leader_epoch.h src/leader_epoch.c

check_PROGRAMS += tests/test_leader_epoch
TESTS += tests/test_leader_epoch
tests_test_leader_epoch_LDADD = $(TEST_LIBS) $(BROOKD_LIBS)
