# Consumer-group administration through ZooKeeper and `brook groups`.
# group_admin.c goes into the admin library too, for the group consumer
# and tests to link.
client_libbrookadmin_a_SOURCES += client/group_admin.h client/group_admin.c

client_brook_SOURCES += client/group_admin.h client/group_admin.c client/cli_groups.c

# `brook groups` against a real ZooKeeper and brookd: describe's offsets
# and lag, reset-offsets (clamping, dry run, refusal with members), delete.
TESTS += tests/test_cli_groups.sh
EXTRA_DIST += tests/test_cli_groups.sh
