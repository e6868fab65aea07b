/*
 * broker_bench.c - one broker's produce and fetch throughput over the real
 * protocol, without the client library in the way.
 *
 * Produces COUNT 100-byte records (batches of BATCH records, acks=1, up to
 * INFLIGHT requests pipelined on one connection) to one partition, then
 * fetches them all back from offset 0 (1 MiB per fetch, pipelined too),
 * verifying each batch's CRC. Prints records/s and MB/s for both phases.
 *
 *   broker_bench --port PORT --topic T [--partition P] [--count N]
 *                [--batch N] [--size BYTES] [--inflight N]
 *
 * The topic must exist with this broker leading the partition.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "proto.h"
#include "record.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_all(int fd, char *p, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one response frame into *buf (grown as needed); returns its size. */
static long recv_frame(int fd, char **buf, size_t *cap)
{
	uint8_t hdr[4];
	uint32_t len;

	if (recv_all(fd, (char *)hdr, 4))
		return -1;
	len = be32_get(hdr);
	if (len > *cap) {
		char *p = realloc(*buf, len);

		if (!p)
			return -1;
		*buf = p;
		*cap = len;
	}
	if (recv_all(fd, *buf, len))
		return -1;
	return (long)len;
}

/* Checks a response's error codes: returns the first non-zero found under
 * any "error_code" key (depth-first). */
static int64_t first_error(const msgpack_object *o)
{
	if (o->type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			int64_t e;

			if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 10 &&
			    memcmp(kv->key.via.str.ptr, "error_code", 10) == 0 &&
			    proto_obj_int(&kv->val, INT16_MIN, INT16_MAX, &e) == 0 && e)
				return e;
			if ((e = first_error(&kv->val)))
				return e;
		}
	} else if (o->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			int64_t e = first_error(&o->via.array.ptr[i]);

			if (e)
				return e;
		}
	}
	return 0;
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("connect");
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int main(int argc, char **argv)
{
	int port = 0, partition = 0, batch_n = 1000, inflight = 8;
	long count = 2000000, size = 100;
	const char *topic = NULL;
	uint8_t *batch, *value;
	size_t blen, cap = 0;
	char *rbuf = NULL;
	proto_buf_t pb;
	msgpack_packer pk;
	record_batch_builder_t *b;
	long nbatches, sent = 0, acked = 0;
	double t0, t_prod, t_fetch;
	int fd;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--topic")) topic = argv[i + 1];
		else if (!strcmp(argv[i], "--partition")) partition = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--count")) count = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--batch")) batch_n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--size")) size = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--inflight")) inflight = atoi(argv[i + 1]);
		else {
			fprintf(stderr, "broker_bench: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!port || !topic || batch_n < 1 || size < 0 || inflight < 1 || count < batch_n) {
		fprintf(stderr, "usage: broker_bench --port PORT --topic T [--partition P] "
				"[--count N] [--batch N] [--size BYTES] [--inflight N]\n");
		return 2;
	}
	if ((fd = connect_to(port)) < 0)
		return 1;
	if (!(value = malloc((size_t)size ? (size_t)size : 1)))
		return 1;
	memset(value, 'v', (size_t)size);
	if (record_batch_builder_new(COMPRESS_NONE, -1, -1, -1, &b))
		return 1;
	for (int i = 0; i < batch_n; i++)
		if (record_batch_builder_add(b, 1700000000000LL, NULL, 0, value, (size_t)size, NULL,
					     0))
			return 1;
	if (record_batch_builder_finish(b, &batch, &blen))
		return 1;
	record_batch_builder_free(b);
	nbatches = count / batch_n;
	count = nbatches * batch_n;

	/* Produce: keep `inflight` requests on the wire. The request is
	 * the same bytes each time (the broker stamps offsets in its copy). */
	proto_buf_init(&pb);
	msgpack_packer_init(&pk, &pb, proto_buf_write);
	t0 = now_s();
	while (acked < nbatches) {
		while (sent < nbatches && sent - acked < inflight) {
			proto_buf_reset(&pb);
			proto_frame_begin(&pb);
			proto_pack_request_header(&pk, PROTO_API_PRODUCE, 0, (int32_t)sent, "bench");
			msgpack_pack_map(&pk, 3);
			proto_pack_kv_int(&pk, "acks", 1);
			proto_pack_kv_int(&pk, "timeout_ms", 30000);
			proto_pack_key(&pk, "topics");
			msgpack_pack_array(&pk, 1);
			msgpack_pack_map(&pk, 2);
			proto_pack_kv_str(&pk, "name", topic);
			proto_pack_key(&pk, "partitions");
			msgpack_pack_array(&pk, 1);
			msgpack_pack_map(&pk, 2);
			proto_pack_kv_int(&pk, "index", partition);
			proto_pack_kv_bin(&pk, "records", batch, blen);
			if (proto_frame_end(&pb, 0) || send_all(fd, pb.sb.data, pb.sb.size)) {
				fprintf(stderr, "broker_bench: send failed\n");
				return 1;
			}
			sent++;
		}
		{
			long n = recv_frame(fd, &rbuf, &cap);
			msgpack_unpacked u;
			const msgpack_object *body;
			int32_t corr;
			int64_t e;

			if (n < 0) {
				fprintf(stderr, "broker_bench: connection lost\n");
				return 1;
			}
			msgpack_unpacked_init(&u);
			if (proto_response_decode(rbuf, (size_t)n, &u, &corr, &body, NULL, 0) ||
			    corr != (int32_t)acked || (e = first_error(body))) {
				fprintf(stderr, "broker_bench: produce %ld failed\n", acked);
				return 1;
			}
			msgpack_unpacked_destroy(&u);
			acked++;
		}
	}
	t_prod = now_s() - t0;

	/* Fetch everything back from offset 0, one 1 MiB fetch at a time. */
	{
		int64_t offset = 0, got = 0;
		uint64_t bytes = 0;

		t0 = now_s();
		while (got < count) {
			long n;
			msgpack_unpacked u;
			const msgpack_object *body;
			int32_t corr;
			const msgpack_object *rs, *ps, *rec;

			proto_buf_reset(&pb);
			proto_frame_begin(&pb);
			proto_pack_request_header(&pk, PROTO_API_FETCH, 0, 1, "bench");
			msgpack_pack_map(&pk, 5);
			proto_pack_kv_int(&pk, "replica_id", -1);
			proto_pack_kv_int(&pk, "max_wait_ms", 500);
			proto_pack_kv_int(&pk, "min_bytes", 1);
			proto_pack_kv_int(&pk, "max_bytes", 1 << 20);
			proto_pack_key(&pk, "topics");
			msgpack_pack_array(&pk, 1);
			msgpack_pack_map(&pk, 2);
			proto_pack_kv_str(&pk, "name", topic);
			proto_pack_key(&pk, "partitions");
			msgpack_pack_array(&pk, 1);
			msgpack_pack_map(&pk, 3);
			proto_pack_kv_int(&pk, "partition", partition);
			proto_pack_kv_int(&pk, "fetch_offset", offset);
			proto_pack_kv_int(&pk, "partition_max_bytes", 1 << 20);
			if (proto_frame_end(&pb, 0) || send_all(fd, pb.sb.data, pb.sb.size) ||
			    (n = recv_frame(fd, &rbuf, &cap)) < 0) {
				fprintf(stderr, "broker_bench: fetch failed\n");
				return 1;
			}
			msgpack_unpacked_init(&u);
			if (proto_response_decode(rbuf, (size_t)n, &u, &corr, &body, NULL, 0) ||
			    first_error(body) || !(rs = proto_map_get(body, "responses")) ||
			    rs->type != MSGPACK_OBJECT_ARRAY || rs->via.array.size != 1 ||
			    !(ps = proto_map_get(&rs->via.array.ptr[0], "partitions")) ||
			    ps->type != MSGPACK_OBJECT_ARRAY || ps->via.array.size != 1 ||
			    !(rec = proto_map_get(&ps->via.array.ptr[0], "records")) ||
			    rec->type != MSGPACK_OBJECT_BIN) {
				fprintf(stderr, "broker_bench: bad fetch response at %" PRId64 "\n",
					offset);
				return 1;
			}
			{
				const uint8_t *p = (const uint8_t *)rec->via.bin.ptr;
				size_t len = rec->via.bin.size, off = 0;

				while (off < len) {
					record_batch_header_t h;

					if (record_batch_verify(p + off, len - off, &h))
						break; /* a cut-short last batch */
					got += h.last_offset_delta + 1;
					offset = h.base_offset + h.last_offset_delta + 1;
					off += record_batch_size(&h);
				}
				bytes += off;
			}
			msgpack_unpacked_destroy(&u);
		}
		t_fetch = now_s() - t0;
		printf("broker_bench: %ld records of %ld bytes, batches of %d, %d in flight\n",
		       count, size, batch_n, inflight);
		printf("  produce (acks=1) %12.0f records/s %8.1f MB/s\n", (double)count / t_prod,
		       (double)count * (double)blen / batch_n / t_prod / 1e6);
		printf("  fetch            %12.0f records/s %8.1f MB/s (CRC-checked)\n",
		       (double)count / t_fetch, (double)bytes / t_fetch / 1e6);
	}
	proto_buf_destroy(&pb);
	free(rbuf);
	free(batch);
	free(value);
	close(fd);
	return 0;
}
