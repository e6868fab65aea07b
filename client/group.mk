# Consumer groups: the pure partition assignors (range, roundrobin, sticky)
# that every member runs on the sorted member list after a rebalance
# trigger (DESIGN.md "Consumer groups"). No I/O, so they live in libbrook
# and their unit test needs neither ZooKeeper nor a broker.
client_libbrook_a_SOURCES += client/group_assign.h client/group_assign.c

# Kafka's documented examples, sticky join/leave sequences with exact move
# counts, and seeded property tests over random groups.
check_PROGRAMS += tests/test_group_assign
TESTS += tests/test_group_assign
tests_test_group_assign_LDADD = $(TEST_LIBS) client/libbrook.a
