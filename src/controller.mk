# The controller: election through /controller, partition states, deletion.
# controller_elect is its pure decision logic (unit test); test_controller
# drives the controller against a real ZooKeeper, without brokers.
src_libbrookd_a_SOURCES += \
	src/controller_elect.h src/controller_elect.c \
	src/controller.h src/controller.c

check_PROGRAMS += tests/test_controller_elect tests/test_controller
TESTS += tests/test_controller_elect tests/test_controller
tests_test_controller_elect_LDADD = $(TEST_LIBS) $(BROOKD_LIBS) $(BROOKZK_LIBS)
tests_test_controller_LDADD = $(TEST_LIBS) $(BROOKD_LIBS) $(BROOKZK_LIBS)
