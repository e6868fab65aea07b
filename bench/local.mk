# Benchmarks: built by `make`, never run by `make check`.
noinst_PROGRAMS += bench/storage_bench
bench_storage_bench_LDADD = $(BROOKD_LIBS)

# One broker's produce and fetch throughput over the real protocol.
noinst_PROGRAMS += bench/broker_bench
bench_broker_bench_LDADD = $(BROOK_CLIENT_LIBS)

# Consumer-group figures: partition handoff time after a member's kill -9
# or clean leave, and ZooKeeper operations per rebalance (bench/groups.sh).
noinst_PROGRAMS += bench/group_bench
bench_group_bench_LDADD = $(BROOK_CLIENT_LIBS)
EXTRA_DIST += bench/groups.sh bench/cluster.sh
