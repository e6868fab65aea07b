# libbrook: error table, byte order, CRC32C, codecs, RecordBatch v2.
# The broker links this library too (DESIGN.md: the broker uses the client's
# protocol and record-batch code, as Kafka's broker does).
lib_LIBRARIES += client/libbrook.a
include_HEADERS = client/brook.h
client_libbrook_a_SOURCES = \
	client/brook.h client/err.c client/bytes.h \
	client/errstr.h client/errstr.c \
	client/conf.h client/conf.c \
	client/proto.h client/proto.c \
	client/crc32c.h client/crc32c.c \
	client/compress.h client/compress.c \
	client/record.h client/record.c

check_PROGRAMS += tests/test_crc32c tests/test_compress tests/test_record
TESTS += tests/test_crc32c tests/test_compress tests/test_record
tests_test_crc32c_LDADD = $(TEST_LIBS) client/libbrook.a $(CODEC_LIBS)
tests_test_compress_LDADD = $(TEST_LIBS) client/libbrook.a $(CODEC_LIBS)
tests_test_record_LDADD = $(TEST_LIBS) client/libbrook.a $(CODEC_LIBS)

# Everything an application linking libbrook needs, in link order.
# The group consumer coordinates through ZooKeeper, so libbrook carries the
# coordination layer's sources (zk/) too.
BROOK_CLIENT_LIBS = client/libbrook.a $(EV_LIBS) $(MSGPACK_LIBS) $(CODEC_LIBS) $(ZK_LIBS) \
	$(JANSSON_LIBS)

# The `brook` command line: one file per subcommand (cli.h). Subcommands
# add their sources in their own fragments below.
bin_PROGRAMS += client/brook
client_brook_SOURCES = client/cli.h client/cli_main.c
client_brook_LDADD = zk/libbrookzk.a $(BROOK_CLIENT_LIBS) $(ZK_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += tests/test_conf tests/test_proto
TESTS += tests/test_conf tests/test_proto
tests_test_proto_LDADD = $(TEST_LIBS) client/libbrook.a $(MSGPACK_LIBS)
tests_test_conf_LDADD = $(TEST_LIBS) client/libbrook.a

include $(srcdir)/client/admin.mk
include $(srcdir)/client/clientlib.mk
