# Benchmarks: built by `make`, never run by `make check`.
noinst_PROGRAMS += bench/storage_bench
bench_storage_bench_LDADD = $(BROOKD_LIBS)
