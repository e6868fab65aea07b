/* test_client.c - producer and consumer handles (client.c, producer.c,
 * consumer.c) against a scripted fake broker that runs in a thread of this
 * test and speaks proto.h: Metadata, Produce, ListOffsets and Fetch on
 * 127.0.0.1, with in-memory partition logs.
 *
 * The fake makes the cases a real broker rarely shows on demand: leader
 * errors for the first N produce attempts, a trailing partial batch in
 * every fetch answer, a batch with a bad CRC, offsets inside compressed
 * batches. It is a unit test of the client's logic; the end-to-end tests
 * run real brokers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "conn.h"
#include "harness.h"
#include "partitioner.h"
#include "proto.h"
#include "record.h"

/* ---- the fake broker ---- */

#define FB_MAX_PARTS 8
#define FB_MAX_TOPICS 4
#define FB_MAX_CONNS 16

typedef struct fb_batch {
	uint8_t *bytes;
	size_t len;
	int64_t base, last;
	int16_t attributes;
} fb_batch_t;

typedef struct fb_part {
	fb_batch_t *b;
	size_t n, cap;
	int64_t next;             /* high watermark */
	int64_t start;            /* log start offset */
	int produce_errors;       /* answer this many produce attempts with `error` */
	int error;
	int attempts;
} fb_part_t;

typedef struct fb_topic {
	char name[64];
	int nparts;
	fb_part_t parts[FB_MAX_PARTS];
} fb_topic_t;

typedef struct fb_conn {
	int fd;
	char *in;
	size_t len, cap;
	int held;                 /* a Fetch waits for data: later frames wait too */
	int64_t held_due;
} fb_conn_t;

typedef struct fake {
	int lfd, port;
	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t lock;
	fb_topic_t topics[FB_MAX_TOPICS];
	int ntopics;
	int trailing_partial;     /* append part of the next batch to fetch answers */
	int produce_reqs, fetch_reqs, metadata_reqs;
	fb_conn_t conns[FB_MAX_CONNS];
	int nconns;
} fake_t;

static int64_t now_ms(void)
{
	return conn_now_ms();
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

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

static fb_topic_t *fb_topic(fake_t *f, const char *name, size_t len)
{
	for (int i = 0; i < f->ntopics; i++)
		if (strlen(f->topics[i].name) == len && memcmp(f->topics[i].name, name, len) == 0)
			return &f->topics[i];
	return NULL;
}

static void fb_add_topic(fake_t *f, const char *name, int nparts)
{
	fb_topic_t *t;

	pthread_mutex_lock(&f->lock);
	t = &f->topics[f->ntopics++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->nparts = nparts;
	pthread_mutex_unlock(&f->lock);
}

/* Appends a batch the way a broker does: base offset stamped, CRC kept. */
static int64_t fb_append_locked(fb_part_t *p, const uint8_t *batch, size_t len)
{
	record_batch_header_t h;
	fb_batch_t *b;

	if (record_batch_header_parse(batch, len, &h))
		return -1;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->b = realloc(p->b, p->cap * sizeof(*p->b));
	}
	b = &p->b[p->n++];
	b->bytes = malloc(len);
	memcpy(b->bytes, batch, len);
	b->len = len;
	b->base = p->next;
	b->last = p->next + h.last_offset_delta;
	b->attributes = h.attributes;
	record_batch_set_base_offset(b->bytes, b->base);
	p->next = b->last + 1;
	return b->base;
}

static void reply_frame(fb_conn_t *c, proto_buf_t *b)
{
	if (proto_frame_end(b, 0) == 0)
		write_full(c->fd, b->sb.data, b->sb.size);
}

static void begin(proto_buf_t *b, msgpack_packer *pk, int32_t corr)
{
	proto_buf_init(b);
	msgpack_packer_init(pk, b, proto_buf_write);
	proto_frame_begin(b);
	proto_pack_response_header(pk, corr);
}

static void h_metadata(fake_t *f, fb_conn_t *c, int32_t corr, const msgpack_object *body)
{
	const msgpack_object_array *topics = NULL;
	proto_buf_t b;
	msgpack_packer pk;

	f->metadata_reqs++;
	proto_get_array(body, "topics", 0, &topics, NULL, 0);
	begin(&b, &pk, corr);
	msgpack_pack_map(&pk, 4);
	proto_pack_key(&pk, "brokers");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 4);
	proto_pack_kv_int(&pk, "node_id", 1);
	proto_pack_kv_str(&pk, "host", "127.0.0.1");
	proto_pack_kv_int(&pk, "port", f->port);
	proto_pack_kv_str(&pk, "rack", NULL);
	proto_pack_kv_str(&pk, "cluster_id", "fake");
	proto_pack_kv_int(&pk, "controller_id", 1);
	proto_pack_key(&pk, "topics");
	msgpack_pack_array(&pk, topics ? topics->size : 0);
	for (uint32_t i = 0; topics && i < topics->size; i++) {
		const msgpack_object *o = &topics->ptr[i];
		fb_topic_t *t = fb_topic(f, o->via.str.ptr, o->via.str.size);

		msgpack_pack_map(&pk, 3);
		proto_pack_kv_int(&pk, "error_code", t ? 0 : BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		proto_pack_kv_strn(&pk, "name", o->via.str.ptr, o->via.str.size);
		proto_pack_key(&pk, "partitions");
		msgpack_pack_array(&pk, t ? t->nparts : 0);
		for (int p = 0; t && p < t->nparts; p++) {
			msgpack_pack_map(&pk, 5);
			proto_pack_kv_int(&pk, "error_code", 0);
			proto_pack_kv_int(&pk, "partition_index", p);
			proto_pack_kv_int(&pk, "leader_id", 1);
			proto_pack_kv_int(&pk, "leader_epoch", 0);
			proto_pack_key(&pk, "replica_nodes");
			msgpack_pack_array(&pk, 1);
			msgpack_pack_int(&pk, 1);
		}
	}
	reply_frame(c, &b);
	proto_buf_destroy(&b);
}

static void h_produce(fake_t *f, fb_conn_t *c, int32_t corr, const msgpack_object *body)
{
	const msgpack_object_array *topics = NULL;
	int64_t acks = -1;
	proto_buf_t b;
	msgpack_packer pk;

	f->produce_reqs++;
	proto_get_int(body, "acks", 1, -1, 1, &acks, NULL, 0);
	proto_get_array(body, "topics", 1, &topics, NULL, 0);
	begin(&b, &pk, corr);
	msgpack_pack_map(&pk, 2);
	proto_pack_kv_int(&pk, "throttle_time_ms", 0);
	proto_pack_key(&pk, "responses");
	msgpack_pack_array(&pk, topics ? topics->size : 0);
	for (uint32_t i = 0; topics && i < topics->size; i++) {
		const msgpack_object_array *parts = NULL;
		const char *name;
		uint32_t nlen;
		fb_topic_t *t;

		proto_get_str(&topics->ptr[i], "name", 1, &name, &nlen, NULL, 0);
		proto_get_array(&topics->ptr[i], "partitions", 1, &parts, NULL, 0);
		t = fb_topic(f, name, nlen);
		msgpack_pack_map(&pk, 2);
		proto_pack_kv_strn(&pk, "name", name, nlen);
		proto_pack_key(&pk, "partitions");
		msgpack_pack_array(&pk, parts->size);
		for (uint32_t j = 0; j < parts->size; j++) {
			int64_t idx = -1, base = -1;
			const char *rec;
			uint32_t rlen;
			int err = 0;

			proto_get_int(&parts->ptr[j], "index", 1, 0, 100, &idx, NULL, 0);
			proto_get_bin(&parts->ptr[j], "records", 1, &rec, &rlen, NULL, 0);
			if (!t || idx >= t->nparts) {
				err = BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			} else if (record_batch_verify((const uint8_t *)rec, rlen, NULL)) {
				err = BROOK_ERR_CORRUPT_MESSAGE;
			} else {
				fb_part_t *p = &t->parts[idx];

				p->attempts++;
				if (p->produce_errors > 0) {
					p->produce_errors--;
					err = p->error;
				} else {
					base = fb_append_locked(p, (const uint8_t *)rec, rlen);
				}
			}
			msgpack_pack_map(&pk, 4);
			proto_pack_kv_int(&pk, "index", idx);
			proto_pack_kv_int(&pk, "error_code", err);
			proto_pack_kv_int(&pk, "base_offset", base);
			proto_pack_kv_int(&pk, "log_start_offset", 0);
		}
	}
	if (acks != 0)
		reply_frame(c, &b);
	proto_buf_destroy(&b);
}

static void h_list_offsets(fake_t *f, fb_conn_t *c, int32_t corr, const msgpack_object *body)
{
	const msgpack_object_array *topics = NULL;
	proto_buf_t b;
	msgpack_packer pk;

	proto_get_array(body, "topics", 1, &topics, NULL, 0);
	begin(&b, &pk, corr);
	msgpack_pack_map(&pk, 1);
	proto_pack_key(&pk, "topics");
	msgpack_pack_array(&pk, topics->size);
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object_array *parts = NULL;
		const char *name;
		uint32_t nlen;
		fb_topic_t *t;

		proto_get_str(&topics->ptr[i], "name", 1, &name, &nlen, NULL, 0);
		proto_get_array(&topics->ptr[i], "partitions", 1, &parts, NULL, 0);
		t = fb_topic(f, name, nlen);
		msgpack_pack_map(&pk, 2);
		proto_pack_kv_strn(&pk, "name", name, nlen);
		proto_pack_key(&pk, "partitions");
		msgpack_pack_array(&pk, parts->size);
		for (uint32_t j = 0; j < parts->size; j++) {
			int64_t idx = -1, ts = 0, off = -1;

			proto_get_int(&parts->ptr[j], "partition_index", 1, 0, 100, &idx, NULL, 0);
			proto_get_int(&parts->ptr[j], "timestamp", 1, INT64_MIN, INT64_MAX, &ts,
				      NULL, 0);
			if (t && idx < t->nparts) {
				fb_part_t *p = &t->parts[idx];

				off = ts == PROTO_TS_EARLIEST ? p->start : p->next;
			}
			msgpack_pack_map(&pk, 5);
			proto_pack_kv_int(&pk, "partition_index", idx);
			proto_pack_kv_int(&pk, "error_code",
					  off < 0 ? BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION : 0);
			proto_pack_kv_int(&pk, "timestamp", -1);
			proto_pack_kv_int(&pk, "offset", off);
			proto_pack_kv_int(&pk, "leader_epoch", 0);
		}
	}
	reply_frame(c, &b);
	proto_buf_destroy(&b);
}

/* The bytes a fetch at `offset` returns: whole batches from the one
 * holding offset, up to max (at least one), plus, when asked, a partial
 * copy of the next batch as a broker cut by partition_max_bytes sends. */
static void fetch_bytes(fake_t *f, fb_part_t *p, int64_t offset, int64_t max, proto_buf_t *out)
{
	size_t total = 0, i = 0;

	while (i < p->n && p->b[i].last < offset)
		i++;
	for (; i < p->n; i++) {
		if (total && total + p->b[i].len > (size_t)max)
			break;
		proto_buf_write(out, (const char *)p->b[i].bytes, p->b[i].len);
		total += p->b[i].len;
	}
	if (f->trailing_partial && i < p->n)
		proto_buf_write(out, (const char *)p->b[i].bytes, p->b[i].len / 2);
}

/* 1: answered; 0: nothing to send yet (the caller holds the request). */
static int h_fetch(fake_t *f, fb_conn_t *c, int32_t corr, const msgpack_object *body, int force)
{
	const msgpack_object_array *topics = NULL;
	int any = 0;
	proto_buf_t b;
	msgpack_packer pk;

	proto_get_array(body, "topics", 1, &topics, NULL, 0);
	for (uint32_t i = 0; i < topics->size && !any; i++) {
		const msgpack_object_array *parts = NULL;
		const char *name;
		uint32_t nlen;
		fb_topic_t *t;

		proto_get_str(&topics->ptr[i], "name", 1, &name, &nlen, NULL, 0);
		proto_get_array(&topics->ptr[i], "partitions", 1, &parts, NULL, 0);
		t = fb_topic(f, name, nlen);
		for (uint32_t j = 0; j < parts->size; j++) {
			int64_t idx = 0, off = 0;

			proto_get_int(&parts->ptr[j], "partition", 1, 0, 100, &idx, NULL, 0);
			proto_get_int(&parts->ptr[j], "fetch_offset", 1, INT64_MIN, INT64_MAX, &off,
				      NULL, 0);
			if (!t || idx >= t->nparts || off != t->parts[idx].next)
				any = 1; /* data or an error to report */
		}
	}
	if (!any && !force)
		return 0;
	f->fetch_reqs++;
	begin(&b, &pk, corr);
	msgpack_pack_map(&pk, 3);
	proto_pack_kv_int(&pk, "throttle_time_ms", 0);
	proto_pack_kv_int(&pk, "error_code", 0);
	proto_pack_key(&pk, "responses");
	msgpack_pack_array(&pk, topics->size);
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object_array *parts = NULL;
		const char *name;
		uint32_t nlen;
		fb_topic_t *t;

		proto_get_str(&topics->ptr[i], "name", 1, &name, &nlen, NULL, 0);
		proto_get_array(&topics->ptr[i], "partitions", 1, &parts, NULL, 0);
		t = fb_topic(f, name, nlen);
		msgpack_pack_map(&pk, 2);
		proto_pack_kv_strn(&pk, "name", name, nlen);
		proto_pack_key(&pk, "partitions");
		msgpack_pack_array(&pk, parts->size);
		for (uint32_t j = 0; j < parts->size; j++) {
			int64_t idx = 0, off = 0, max = 1 << 20;
			fb_part_t *p = NULL;
			proto_buf_t rec;
			int err = 0;

			proto_get_int(&parts->ptr[j], "partition", 1, 0, 100, &idx, NULL, 0);
			proto_get_int(&parts->ptr[j], "fetch_offset", 1, INT64_MIN, INT64_MAX, &off,
				      NULL, 0);
			proto_get_int(&parts->ptr[j], "partition_max_bytes", 1, 0, INT32_MAX, &max,
				      NULL, 0);
			proto_buf_init(&rec);
			if (!t || idx >= t->nparts)
				err = BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			else if (off < t->parts[idx].start || off > t->parts[idx].next)
				err = BROOK_ERR_OFFSET_OUT_OF_RANGE;
			else
				fetch_bytes(f, p = &t->parts[idx], off, max, &rec);
			msgpack_pack_map(&pk, 6);
			proto_pack_kv_int(&pk, "partition_index", idx);
			proto_pack_kv_int(&pk, "error_code", err);
			proto_pack_kv_int(&pk, "high_watermark", p ? p->next : -1);
			proto_pack_kv_int(&pk, "last_stable_offset", p ? p->next : -1);
			proto_pack_kv_int(&pk, "log_start_offset", p ? p->start : -1);
			proto_pack_kv_bin(&pk, "records", rec.sb.data, rec.sb.size);
			proto_buf_destroy(&rec);
		}
	}
	reply_frame(c, &b);
	proto_buf_destroy(&b);
	return 1;
}

/* Handles the frames buffered on c, in order; stops at a held Fetch. */
static void fb_process(fake_t *f, fb_conn_t *c)
{
	size_t pos = 0;

	while (c->len - pos >= 4) {
		uint32_t flen = proto_frame_len((const uint8_t *)c->in + pos);
		msgpack_unpacked u;
		proto_request_t req;
		int have, done = 1;

		if (c->len - pos - 4 < flen)
			break;
		msgpack_unpacked_init(&u);
		if (proto_request_decode(c->in + pos + 4, flen, &u, &req, &have, NULL, 0) == 0) {
			pthread_mutex_lock(&f->lock);
			switch (req.api_key) {
			case PROTO_API_METADATA:
				h_metadata(f, c, req.correlation_id, req.body);
				break;
			case PROTO_API_PRODUCE:
				h_produce(f, c, req.correlation_id, req.body);
				break;
			case PROTO_API_LIST_OFFSETS:
				h_list_offsets(f, c, req.correlation_id, req.body);
				break;
			case PROTO_API_FETCH: {
				int64_t wait = 0;

				proto_get_int(req.body, "max_wait_ms", 1, 0, 100000, &wait, NULL,
					      0);
				if (!c->held)
					c->held_due = now_ms() + wait;
				done = h_fetch(f, c, req.correlation_id, req.body,
					       now_ms() >= c->held_due);
				break;
			}
			}
			pthread_mutex_unlock(&f->lock);
		}
		msgpack_unpacked_destroy(&u);
		if (!done) {
			c->held = 1;
			break;
		}
		c->held = 0;
		pos += 4 + (size_t)flen;
	}
	if (pos) {
		memmove(c->in, c->in + pos, c->len - pos);
		c->len -= pos;
	}
}

static void *fb_main(void *arg)
{
	fake_t *f = arg;

	while (!f->stop) {
		struct pollfd pf[FB_MAX_CONNS + 1];
		int n = 0;

		pf[n++] = (struct pollfd){ .fd = f->lfd, .events = POLLIN };
		for (int i = 0; i < f->nconns; i++)
			pf[n++] = (struct pollfd){ .fd = f->conns[i].fd, .events = POLLIN };
		poll(pf, (nfds_t)n, 5);
		if ((pf[0].revents & POLLIN) && f->nconns < FB_MAX_CONNS) {
			int fd = accept(f->lfd, NULL, NULL);

			if (fd >= 0) {
				memset(&f->conns[f->nconns], 0, sizeof(f->conns[0]));
				f->conns[f->nconns++].fd = fd;
			}
		}
		for (int i = 0; i < f->nconns; i++) {
			fb_conn_t *c = &f->conns[i];

			if (i + 1 < n && (pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
				ssize_t r;

				if (c->cap - c->len < 65536) {
					c->cap = c->cap ? c->cap * 2 : 1 << 20;
					c->in = realloc(c->in, c->cap);
				}
				r = read(c->fd, c->in + c->len, c->cap - c->len);
				if (r <= 0) {
					close(c->fd);
					free(c->in);
					f->conns[i--] = f->conns[--f->nconns];
					n = 0; /* pf no longer lines up with conns */
					continue;
				}
				c->len += (size_t)r;
			}
			fb_process(f, c);
		}
	}
	for (int i = 0; i < f->nconns; i++) {
		close(f->conns[i].fd);
		free(f->conns[i].in);
	}
	return NULL;
}

static fake_t *fake_start(void)
{
	fake_t *f = calloc(1, sizeof(*f));
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(f->lfd, 16) ||
	    getsockname(f->lfd, (struct sockaddr *)&a, &len)) {
		close(f->lfd);
		free(f);
		return NULL;
	}
	f->port = ntohs(a.sin_port);
	pthread_mutex_init(&f->lock, NULL);
	pthread_create(&f->thread, NULL, fb_main, f);
	return f;
}

static void fake_stop(fake_t *f)
{
	f->stop = 1;
	pthread_join(f->thread, NULL);
	close(f->lfd);
	for (int t = 0; t < f->ntopics; t++)
		for (int p = 0; p < f->topics[t].nparts; p++) {
			for (size_t i = 0; i < f->topics[t].parts[p].n; i++)
				free(f->topics[t].parts[p].b[i].bytes);
			free(f->topics[t].parts[p].b);
		}
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Writes `count` records "k<i>" -> "<prefix><offset>" with one header into
 * partition p as one batch. */
static void fake_append(fake_t *f, const char *topic, int p, compress_codec_t codec, int count,
			const char *prefix)
{
	record_batch_builder_t *bld;
	record_header_t hdr = { "h", 1, "hv", 2 };
	fb_part_t *part;
	uint8_t *batch;
	size_t len;

	pthread_mutex_lock(&f->lock);
	part = &fb_topic(f, topic, strlen(topic))->parts[p];
	CU_ASSERT_EQUAL_FATAL(record_batch_builder_new(codec, -1, -1, -1, &bld), 0);
	for (int i = 0; i < count; i++) {
		char k[32], v[64];

		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "%s%lld", prefix, (long long)(part->next + i));
		CU_ASSERT_EQUAL(record_batch_builder_add(bld, 1000 + i, k, strlen(k), v, strlen(v),
							 &hdr, 1), 0);
	}
	CU_ASSERT_EQUAL_FATAL(record_batch_builder_finish(bld, &batch, &len), 0);
	record_batch_builder_free(bld);
	fb_append_locked(part, batch, len);
	free(batch);
	pthread_mutex_unlock(&f->lock);
}

/* Every record of a partition's log in order, decoded: values into vals. */
static int fake_values(fake_t *f, const char *topic, int p, char vals[][32], int max,
		       int64_t *offsets)
{
	fb_part_t *part;
	int n = 0;

	pthread_mutex_lock(&f->lock);
	part = &fb_topic(f, topic, strlen(topic))->parts[p];
	for (size_t i = 0; i < part->n; i++) {
		record_batch_reader_t r;
		record_t rec;

		CU_ASSERT_EQUAL_FATAL(record_batch_reader_init(&r, part->b[i].bytes, part->b[i].len,
							       1 << 26), 0);
		while (record_batch_reader_next(&r, &rec) == 0 && n < max) {
			snprintf(vals[n], 32, "%.*s", (int)rec.value_len, (const char *)rec.value);
			offsets[n++] = rec.offset;
		}
		record_batch_reader_destroy(&r);
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* ---- client helpers ---- */

static char err[512];

static brook_conf_t *conf_for(fake_t *f, const char *const *kv)
{
	brook_conf_t *c = brook_conf_new();
	char servers[64];

	snprintf(servers, sizeof(servers), "127.0.0.1:%d", f->port);
	CU_ASSERT_EQUAL(brook_conf_set(c, "bootstrap.servers", servers, err, sizeof(err)), 0);
	/* BROOK_TEST_LOG=7 shows the client's debug log */
	CU_ASSERT_EQUAL(brook_conf_set(c, "log_level", getenv("BROOK_TEST_LOG") ?
				       getenv("BROOK_TEST_LOG") : "3", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "retry.backoff.ms", "20", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_conf_set(c, "fetch.max.wait.ms", "100", err, sizeof(err)), 0);
	for (; kv && kv[0]; kv += 2)
		CU_ASSERT_EQUAL(brook_conf_set(c, kv[0], kv[1], err, sizeof(err)), 0);
	return c;
}

#define MAXMSG 4096

typedef struct dr {
	int n;
	int ok;
	brook_err_t last_err;
	int32_t partition[MAXMSG];
	int64_t offset[MAXMSG];
	char value[MAXMSG][32];
} dr_t;

static dr_t drs;

static void dr_cb(brook_err_t e, const char *topic, int32_t partition, int64_t offset,
		  const void *key, size_t key_len, const void *value, size_t value_len,
		  void *opaque)
{
	dr_t *d = &drs;
	int i = (int)(intptr_t)opaque;

	(void)topic;
	(void)key;
	(void)key_len;
	d->n++;
	if (e) {
		d->last_err = e;
		return;
	}
	d->ok++;
	if (i < MAXMSG) {
		d->partition[i] = partition;
		d->offset[i] = offset;
		snprintf(d->value[i], sizeof(d->value[i]), "%.*s", (int)value_len,
			 (const char *)value);
	}
}

/* ---- producer tests ---- */

/* Keyed messages land on murmur2(key) % 3, each partition's offsets in
 * produce order, and the log holds exactly what was sent. */
static void test_produce_keyed(void)
{
	static const char *const kv[] = { "linger.ms", "2", "batch.size", "2000", NULL };
	static char vals[MAXMSG][32];
	static int64_t offs[MAXMSG];
	fake_t *f = fake_start();
	brook_conf_t *c;
	brook_producer_t *p;
	int64_t next[3] = { 0, 0, 0 };
	int total = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "p3", 3);
	c = conf_for(f, kv);
	p = brook_producer_new(c, err, sizeof(err));
	brook_conf_free(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(&drs, 0, sizeof(drs));
	for (int i = 0; i < 1000; i++) {
		char k[16], v[32];

		snprintf(k, sizeof(k), "key-%d", i % 37);
		snprintf(v, sizeof(v), "v%d", i);
		CU_ASSERT_EQUAL(brook_produce(p, "p3", BROOK_PARTITION_UA, k, strlen(k), v,
					      strlen(v), 0, dr_cb, (void *)(intptr_t)i), 0);
	}
	CU_ASSERT_EQUAL(brook_producer_flush(p, 10000), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(drs.n, 1000);
	CU_ASSERT_EQUAL(drs.ok, 1000);
	for (int i = 0; i < 1000; i++) {
		char k[16];
		int32_t want;

		snprintf(k, sizeof(k), "key-%d", i % 37);
		want = partitioner_for_key(k, strlen(k), 3);
		CU_ASSERT_EQUAL(drs.partition[i], want);
		/* offsets per partition follow produce order without gaps */
		CU_ASSERT_EQUAL(drs.offset[i], next[want]);
		next[want]++;
	}
	for (int part = 0; part < 3; part++) {
		int n = fake_values(f, "p3", part, vals, MAXMSG, offs);

		CU_ASSERT_EQUAL(n, next[part]);
		total += n;
		for (int j = 0; j < n; j++)
			CU_ASSERT_EQUAL(offs[j], j);
	}
	CU_ASSERT_EQUAL(total, 1000);
	/* batching: far fewer requests than messages */
	CU_ASSERT(f->produce_reqs < 200);
	brook_producer_free(p);
	fake_stop(f);
}

/* Leader errors are retried after a metadata refresh, and retries never
 * reorder: the log of partition 0 is exactly the produce order. */
static void test_produce_retry_order(void)
{
	static const char *const kv[] = { "linger.ms", "1", "batch.size", "300", NULL };
	static char vals[MAXMSG][32];
	static int64_t offs[MAXMSG];
	fake_t *f = fake_start();
	brook_conf_t *c;
	brook_producer_t *p;
	int n, md_before;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "r", 1);
	pthread_mutex_lock(&f->lock);
	f->topics[0].parts[0].produce_errors = 3;
	f->topics[0].parts[0].error = BROOK_ERR_NOT_LEADER_OR_FOLLOWER;
	pthread_mutex_unlock(&f->lock);
	c = conf_for(f, kv);
	p = brook_producer_new(c, err, sizeof(err));
	brook_conf_free(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(&drs, 0, sizeof(drs));
	md_before = f->metadata_reqs;
	for (int i = 0; i < 300; i++) {
		char v[32];

		snprintf(v, sizeof(v), "m%03d", i);
		CU_ASSERT_EQUAL(brook_produce(p, "r", 0, NULL, 0, v, strlen(v), 0, dr_cb,
					      (void *)(intptr_t)i), 0);
		if (i % 50 == 0)
			brook_poll(p, 5); /* spread the messages over many batches */
	}
	CU_ASSERT_EQUAL(brook_producer_flush(p, 10000), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(drs.ok, 300);
	n = fake_values(f, "r", 0, vals, MAXMSG, offs);
	CU_ASSERT_EQUAL(n, 300);
	for (int i = 0; i < n && i < 300; i++) {
		char v[32];

		snprintf(v, sizeof(v), "m%03d", i);
		CU_ASSERT_STRING_EQUAL(vals[i], v);
		CU_ASSERT_EQUAL(drs.offset[i], i);
	}
	CU_ASSERT(f->topics[0].parts[0].attempts > 3);
	CU_ASSERT(f->metadata_reqs > md_before); /* refreshed on the leader error */
	brook_producer_free(p);
	fake_stop(f);
}

/* A non-retriable error fails the batch's messages with that error; with
 * retries=0 a retriable one does too. */
static void test_produce_fatal(void)
{
	static const char *const kv[] = { "retries", "0", NULL };
	fake_t *f = fake_start();
	brook_conf_t *c;
	brook_producer_t *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "x", 1);
	pthread_mutex_lock(&f->lock);
	f->topics[0].parts[0].produce_errors = 1;
	f->topics[0].parts[0].error = BROOK_ERR_NOT_LEADER_OR_FOLLOWER;
	pthread_mutex_unlock(&f->lock);
	c = conf_for(f, kv);
	p = brook_producer_new(c, err, sizeof(err));
	brook_conf_free(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(&drs, 0, sizeof(drs));
	CU_ASSERT_EQUAL(brook_produce(p, "x", 0, NULL, 0, "a", 1, 0, dr_cb, (void *)0), 0);
	CU_ASSERT_EQUAL(brook_producer_flush(p, 5000), 0);
	CU_ASSERT_EQUAL(drs.n, 1);
	CU_ASSERT_EQUAL(drs.ok, 0);
	CU_ASSERT_EQUAL(drs.last_err, BROOK_ERR_NOT_LEADER_OR_FOLLOWER);
	/* partition that does not exist: fails without a request */
	CU_ASSERT_EQUAL(brook_produce(p, "x", 5, NULL, 0, "a", 1, 0, dr_cb, (void *)0), 0);
	CU_ASSERT_EQUAL(brook_producer_flush(p, 5000), 0);
	CU_ASSERT_EQUAL(drs.last_err, BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	/* too large for message.max.bytes: refused at once */
	{
		static char big[1100000];

		CU_ASSERT_EQUAL(brook_produce(p, "x", 0, NULL, 0, big, sizeof(big), 0, NULL, NULL),
				BROOK_ERR_MESSAGE_TOO_LARGE);
	}
	brook_producer_free(p);
	fake_stop(f);
}

/* acks=0 gets no answer: reported as delivered with offset -1; every
 * codec; null keys go to partitions that have a leader. */
static void test_produce_acks0_codecs(void)
{
	static const char *const codecs[] = { "none", "gzip", "lz4", "zstd" };
	static char vals[MAXMSG][32];
	static int64_t offs[MAXMSG];
	fake_t *f = fake_start();

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "z", 2);
	for (int k = 0; k < 4; k++) {
		const char *kv[] = { "acks", k % 2 ? "0" : "1", "compression.type", codecs[k],
				     NULL };
		brook_conf_t *c = conf_for(f, kv);
		brook_producer_t *p = brook_producer_new(c, err, sizeof(err));

		brook_conf_free(c);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		memset(&drs, 0, sizeof(drs));
		for (int i = 0; i < 50; i++)
			CU_ASSERT_EQUAL(brook_produce(p, "z", BROOK_PARTITION_UA, NULL, 0,
						      "compressible compressible compressible", 38,
						      0, dr_cb, (void *)(intptr_t)i), 0);
		CU_ASSERT_EQUAL(brook_producer_flush(p, 5000), 0);
		CU_ASSERT_EQUAL(drs.ok, 50);
		for (int i = 0; i < 50; i++) {
			CU_ASSERT(drs.partition[i] == 0 || drs.partition[i] == 1);
			if (k % 2)
				CU_ASSERT_EQUAL(drs.offset[i], -1);
		}
		brook_producer_free(p);
	}
	pthread_mutex_lock(&f->lock);
	for (int part = 0; part < 2; part++)
		for (size_t i = 0; i < f->topics[0].parts[part].n; i++) {
			int codec = f->topics[0].parts[part].b[i].attributes &
				    RECORD_ATTR_CODEC_MASK;

			CU_ASSERT(codec >= 0 && codec <= 4 && codec != 2);
		}
	pthread_mutex_unlock(&f->lock);
	/* acks=0 is "written to the socket": the fake may still be reading */
	{
		int64_t end = now_ms() + 5000;
		int n;

		while ((n = fake_values(f, "z", 0, vals, MAXMSG, offs) +
			    fake_values(f, "z", 1, vals, MAXMSG, offs)) < 200 && now_ms() < end)
			usleep(10000);
		CU_ASSERT_EQUAL(n, 200);
	}
	fake_stop(f);
}

/* A topic the cluster does not know fails after
 * topic.metadata.propagation.max.ms, with UNKNOWN_TOPIC_OR_PARTITION. */
static void test_produce_unknown_topic(void)
{
	static const char *const kv[] = { "topic.metadata.propagation.max.ms", "300", NULL };
	fake_t *f = fake_start();
	brook_conf_t *c;
	brook_producer_t *p;
	int64_t t0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	c = conf_for(f, kv);
	p = brook_producer_new(c, err, sizeof(err));
	brook_conf_free(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(&drs, 0, sizeof(drs));
	t0 = now_ms();
	CU_ASSERT_EQUAL(brook_produce(p, "nope", -1, "k", 1, "v", 1, 0, dr_cb, (void *)0), 0);
	CU_ASSERT_EQUAL(brook_producer_flush(p, 5000), 0);
	CU_ASSERT_EQUAL(drs.last_err, BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT(now_ms() - t0 >= 250 && now_ms() - t0 < 3000);
	brook_producer_free(p);
	fake_stop(f);
}

/* ---- consumer tests ---- */

/* Polls until `eofs` EOF events came (or the time is up); collects the
 * messages' values per partition. */
typedef struct seen {
	int n[FB_MAX_PARTS];
	int64_t first[FB_MAX_PARTS], last[FB_MAX_PARTS];
	int eof[FB_MAX_PARTS];
	int errors;
	brook_err_t last_err;
	int order_ok;
	int headers_ok;
} seen_t;

static void consume_until(brook_consumer_t *k, seen_t *s, int eofs, int errors, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	int got_eofs = 0;

	memset(s, 0, sizeof(*s));
	s->order_ok = s->headers_ok = 1;
	while (now_ms() < end && got_eofs < eofs && s->errors < errors) {
		brook_message_t *m;

		if (brook_consumer_poll(k, 50, &m))
			continue;
		if (m->err == BROOK_ERR__PARTITION_EOF) {
			s->eof[m->partition]++;
			got_eofs++;
		} else if (m->err) {
			s->errors++;
			s->last_err = m->err;
		} else {
			int p = m->partition;
			char want[32];

			if (s->n[p] && m->offset != s->last[p] + 1)
				s->order_ok = 0;
			if (!s->n[p])
				s->first[p] = m->offset;
			s->last[p] = m->offset;
			s->n[p]++;
			snprintf(want, sizeof(want), "v%lld", (long long)m->offset);
			if (m->value_len != strlen(want) || memcmp(m->value, want, m->value_len))
				s->order_ok = 0;
			if (m->header_count != 1 || m->headers[0].key_len != 1 ||
			    m->headers[0].value_len != 2 || memcmp(m->headers[0].value, "hv", 2) ||
			    !m->key || m->timestamp < 1000)
				s->headers_ok = 0;
		}
		brook_message_free(m);
	}
}

static brook_consumer_t *consumer_for(fake_t *f, const char *const *kv)
{
	brook_conf_t *c = conf_for(f, kv);
	brook_consumer_t *k = brook_consumer_new(c, err, sizeof(err));

	brook_conf_free(c);
	return k;
}

/* Every codec, every partition, from the beginning: all messages in
 * order with key, headers and timestamp, then one EOF per partition. */
static void test_consume_all(void)
{
	fake_t *f = fake_start();
	brook_consumer_t *k;
	seen_t s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "c", 3);
	for (int part = 0; part < 3; part++) {
		fake_append(f, "c", part, COMPRESS_NONE, 10, "v");
		fake_append(f, "c", part, COMPRESS_GZIP, 10, "v");
		fake_append(f, "c", part, COMPRESS_LZ4, 10, "v");
		fake_append(f, "c", part, COMPRESS_ZSTD, 10, "v");
	}
	k = consumer_for(f, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "c", -1, BROOK_OFFSET_BEGINNING, err,
					      sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_consumer_assignment_count(k), 3);
	consume_until(k, &s, 3, 1, 5000);
	for (int part = 0; part < 3; part++) {
		CU_ASSERT_EQUAL(s.n[part], 40);
		CU_ASSERT_EQUAL(s.first[part], 0);
		CU_ASSERT_EQUAL(s.last[part], 39);
		CU_ASSERT_EQUAL(s.eof[part], 1);
	}
	CU_ASSERT(s.order_ok);
	CU_ASSERT(s.headers_ok);
	CU_ASSERT_EQUAL(s.errors, 0);
	/* more data after EOF: delivered, then EOF again */
	fake_append(f, "c", 1, COMPRESS_LZ4, 5, "v");
	consume_until(k, &s, 1, 1, 5000);
	CU_ASSERT_EQUAL(s.n[1], 5);
	CU_ASSERT_EQUAL(s.first[1], 40);
	CU_ASSERT_EQUAL(s.eof[1], 1);
	brook_consumer_free(k);
	fake_stop(f);
}

/* A start offset inside a compressed batch skips the records before it;
 * tail and end start where they should. */
static void test_consume_offsets(void)
{
	fake_t *f = fake_start();
	brook_consumer_t *k;
	seen_t s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "o", 2);
	fake_append(f, "o", 0, COMPRESS_ZSTD, 10, "v");
	fake_append(f, "o", 0, COMPRESS_GZIP, 10, "v");
	fake_append(f, "o", 1, COMPRESS_NONE, 10, "v");
	k = consumer_for(f, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "o", 0, 5, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "o", 1, BROOK_OFFSET_TAIL(3), err, sizeof(err)),
			0);
	consume_until(k, &s, 2, 1, 5000);
	CU_ASSERT_EQUAL(s.n[0], 15);
	CU_ASSERT_EQUAL(s.first[0], 5);
	CU_ASSERT_EQUAL(s.n[1], 3);
	CU_ASSERT_EQUAL(s.first[1], 7);
	CU_ASSERT(s.order_ok);
	/* re-assign: END gives an EOF and nothing else; TAIL beyond the log
	 * start starts at the start */
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "o", 0, BROOK_OFFSET_END, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "o", 1, BROOK_OFFSET_TAIL(100), err, sizeof(err)),
			0);
	consume_until(k, &s, 2, 1, 5000);
	CU_ASSERT_EQUAL(s.n[0], 0);
	CU_ASSERT_EQUAL(s.eof[0], 1);
	CU_ASSERT_EQUAL(s.n[1], 10);
	CU_ASSERT_EQUAL(s.first[1], 0);
	CU_ASSERT_EQUAL(brook_consumer_assignment_count(k), 2);
	/* no such partition or topic */
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "o", 2, 0, err, sizeof(err)),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT(strstr(err, "partition 2") != NULL);
	brook_consumer_free(k);
	fake_stop(f);
}

static void test_consume_unknown_topic(void)
{
	static const char *const kv[] = { "topic.metadata.propagation.max.ms", "200", NULL };
	fake_t *f = fake_start();
	brook_consumer_t *k;
	int64_t t0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	k = consumer_for(f, kv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	t0 = now_ms();
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "nope", -1, 0, err, sizeof(err)),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT(strstr(err, "nope") != NULL);
	CU_ASSERT(now_ms() - t0 >= 150 && now_ms() - t0 < 3000);
	brook_consumer_free(k);
	fake_stop(f);
}

/* Answers that end in half a batch (partition_max_bytes cut it) lose
 * nothing: the half is dropped and fetched whole next time, also when the
 * first batch alone is larger than the limit. */
static void test_consume_partial(void)
{
	static const char *const kv[] = { "max.partition.fetch.bytes", "300", NULL };
	fake_t *f = fake_start();
	brook_consumer_t *k;
	seen_t s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "pp", 1);
	f->trailing_partial = 1;
	for (int i = 0; i < 20; i++)
		fake_append(f, "pp", 0, COMPRESS_NONE, 1 + i % 4, "v");
	fake_append(f, "pp", 0, COMPRESS_NONE, 100, "v"); /* > 300 bytes alone */
	fake_append(f, "pp", 0, COMPRESS_NONE, 1, "v");
	k = consumer_for(f, kv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "pp", 0, BROOK_OFFSET_BEGINNING, err,
					      sizeof(err)), 0);
	consume_until(k, &s, 1, 1, 5000);
	CU_ASSERT_EQUAL(s.errors, 0);
	CU_ASSERT_EQUAL(s.n[0], 50 + 100 + 1);
	CU_ASSERT_EQUAL(s.last[0], 150);
	CU_ASSERT(s.order_ok);
	brook_consumer_free(k);
	fake_stop(f);
}

/* A batch whose CRC does not match is reported, never delivered. */
static void test_consume_corrupt(void)
{
	fake_t *f = fake_start();
	brook_consumer_t *k;
	seen_t s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "bad", 1);
	fake_append(f, "bad", 0, COMPRESS_NONE, 3, "v");
	fake_append(f, "bad", 0, COMPRESS_NONE, 3, "v");
	pthread_mutex_lock(&f->lock);
	f->topics[0].parts[0].b[1].bytes[f->topics[0].parts[0].b[1].len - 1] ^= 0x55;
	pthread_mutex_unlock(&f->lock);
	k = consumer_for(f, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "bad", 0, 0, err, sizeof(err)), 0);
	consume_until(k, &s, 1, 1, 5000);
	CU_ASSERT_EQUAL(s.n[0], 3);
	CU_ASSERT_EQUAL(s.errors, 1);
	CU_ASSERT_EQUAL(s.last_err, BROOK_ERR_CORRUPT_MESSAGE);
	brook_consumer_free(k);
	fake_stop(f);
}

/* OFFSET_OUT_OF_RANGE follows auto.offset.reset. */
static void test_consume_out_of_range(void)
{
	static const char *const earliest[] = { "auto.offset.reset", "earliest", NULL };
	static const char *const none[] = { "auto.offset.reset", "none", NULL };
	fake_t *f = fake_start();
	brook_consumer_t *k;
	seen_t s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "oor", 1);
	fake_append(f, "oor", 0, COMPRESS_NONE, 10, "v");
	pthread_mutex_lock(&f->lock);
	f->topics[0].parts[0].start = 4; /* as if retention removed 0..3 */
	pthread_mutex_unlock(&f->lock);

	k = consumer_for(f, earliest);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "oor", 0, 1000, err, sizeof(err)), 0);
	consume_until(k, &s, 1, 1, 5000);
	CU_ASSERT_EQUAL(s.errors, 0);
	CU_ASSERT_EQUAL(s.first[0], 4);
	CU_ASSERT_EQUAL(s.n[0], 6);
	brook_consumer_free(k);

	k = consumer_for(f, none);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "oor", 0, 1, err, sizeof(err)), 0);
	consume_until(k, &s, 1, 1, 5000);
	CU_ASSERT_EQUAL(s.errors, 1);
	CU_ASSERT_EQUAL(s.last_err, BROOK_ERR_OFFSET_OUT_OF_RANGE);
	CU_ASSERT_EQUAL(s.n[0], 0);
	brook_consumer_free(k);
	fake_stop(f);
}

/* Messages a producer writes come back through a consumer. */
static void test_round_trip(void)
{
	static const char *const kv[] = { "compression.type", "lz4", NULL };
	fake_t *f = fake_start();
	brook_conf_t *c;
	brook_producer_t *p;
	brook_consumer_t *k;
	brook_message_t *m;
	int got = 0;
	int64_t end;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fb_add_topic(f, "rt", 1);
	k = consumer_for(f, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(brook_consumer_assign(k, "rt", 0, BROOK_OFFSET_END, err, sizeof(err)), 0);
	c = conf_for(f, kv);
	p = brook_producer_new(c, err, sizeof(err));
	brook_conf_free(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < 100; i++) {
		char v[16];

		snprintf(v, sizeof(v), "rt%d", i);
		CU_ASSERT_EQUAL(brook_produce(p, "rt", 0, i % 2 ? "" : NULL, 0, v, strlen(v), 0,
					      NULL, NULL), 0);
	}
	CU_ASSERT_EQUAL(brook_producer_flush(p, 5000), 0);
	brook_producer_free(p);
	end = now_ms() + 5000;
	while (got < 100 && now_ms() < end) {
		char v[16];

		if (brook_consumer_poll(k, 50, &m))
			continue;
		if (m->err == 0) {
			snprintf(v, sizeof(v), "rt%d", got);
			CU_ASSERT(m->value_len == strlen(v) && !memcmp(m->value, v, m->value_len));
			/* null key and empty key stay apart */
			CU_ASSERT(got % 2 ? m->key != NULL && m->key_len == 0 : m->key == NULL);
			CU_ASSERT_EQUAL(m->offset, got);
			got++;
		}
		brook_message_free(m);
	}
	CU_ASSERT_EQUAL(got, 100);
	brook_consumer_free(k);
	fake_stop(f);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "produce: keyed partitioning, offsets, batching", test_produce_keyed },
		{ "produce: leader errors retried in order", test_produce_retry_order },
		{ "produce: fatal errors, bad partition, too large", test_produce_fatal },
		{ "produce: acks=0 and every codec", test_produce_acks0_codecs },
		{ "produce: unknown topic", test_produce_unknown_topic },
		{ "consume: every codec and partition, EOF", test_consume_all },
		{ "consume: offsets in a batch, tail, end", test_consume_offsets },
		{ "consume: unknown topic", test_consume_unknown_topic },
		{ "consume: trailing partial batches", test_consume_partial },
		{ "consume: bad CRC", test_consume_corrupt },
		{ "consume: offset out of range", test_consume_out_of_range },
		{ "produce then consume", test_round_trip },
		{ NULL, NULL },
	};

	return harness_run("client", tests);
}
