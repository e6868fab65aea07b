# The broker proper: network server, request handlers, hosted partitions,
# lifecycle; and the brookd program.
src_libbrookd_a_SOURCES += \
	src/net.h src/net.c \
	src/partition.h src/partition.c \
	src/replica.h src/replica.c \
	src/peer.h src/peer.c \
	src/handler.h src/handler.c \
	src/handler_metadata.c src/handler_produce.c src/handler_fetch.c \
	src/handler_list_offsets.c src/handler_offsets_for_leader_epoch.c \
	src/handler_controller.c \
	src/broker_ctrl.h src/broker_ctrl.c \
	src/broker.h src/broker.c

bin_PROGRAMS += src/brookd
src_brookd_SOURCES = src/main.c
src_brookd_LDADD = src/libbrookd.a client/libbrookadmin.a $(BROOKZK_LIBS) $(BROOK_CLIENT_LIBS)
