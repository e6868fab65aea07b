/* producer.c - batching, partitioning, retries and delivery reports. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "compress.h"
#include "errstr.h"
#include "partitioner.h"
#include "producer.h"
#include "proto.h"
#include "record.h"

/* Kafka's topic name limit; longer names cannot exist on any broker. */
#define TOPIC_NAME_MAX 249
/* Bytes a record adds to its key and value inside a batch, at most
 * (length, attributes, deltas, key/value lengths, header count varints). */
#define RECORD_OVERHEAD_MAX 32

typedef struct pmsg {
	struct pmsg *next;
	const char *topic;        /* inside data[] */
	int32_t partition;        /* asked for; then the one it went to */
	int64_t timestamp;
	int64_t enq_ms;           /* conn_now_ms() at brook_produce() */
	const void *key;          /* NULL: null key */
	size_t key_len;
	const void *value;
	size_t value_len;
	brook_delivery_cb *cb;
	void *opaque;
	brook_err_t err;
	int64_t offset;
	size_t bytes;             /* what it counts against the queue limit */
	char data[];
} pmsg_t;

typedef struct msgq {
	pmsg_t *head, *tail;
	size_t cnt;
	size_t bytes;             /* key + value bytes, for batch.size */
} msgq_t;

struct ptopic;

typedef struct pbatch {
	struct ptoppar *tp;
	msgq_t msgs;
	uint8_t *bytes;
	size_t len;
	int attempts;
	brook_err_t last_err;
} pbatch_t;

typedef struct ptoppar {
	struct ptopic *topic;
	int32_t id;
	msgq_t q;
	pbatch_t *held;           /* built, not in flight: a retry, or a batch
				   * that found no room; goes out before q */
	int inflight;
	int64_t backoff_until;
} ptoppar_t;

typedef struct ptopic {
	struct ptopic *next;
	char *name;
	msgq_t pending;           /* waiting for the topic's metadata */
	int32_t cnt;
	ptoppar_t **parts;
	int32_t sticky;           /* partition for null keys; -1: pick one */
	int64_t unknown_since;    /* when the cluster first said "no such topic" */
	brook_err_t md_err;
	int known;
} ptopic_t;

/* One Produce request's batches, all for one leader. */
typedef struct preq {
	brook_producer_t *p;
	size_t n, cap;
	pbatch_t **batches;
	size_t bytes;
} preq_t;

struct brook_producer {
	client_t c;
	compress_codec_t codec;
	int acks;
	int inflight_per_partition;

	/* shared with the application (c.lock) */
	msgq_t inq;
	msgq_t reports;
	size_t outstanding;       /* accepted, report not served yet */
	size_t outstanding_bytes;
	int flushing;

	/* the I/O thread's */
	ptopic_t *topics;
	msgq_t done;              /* finished, to hand to deliver() */
	uint32_t rand;
};

int producer_err_retriable(brook_err_t err)
{
	return client_md_err_retriable(err);
}

/* ---- queues ---- */

static void q_push(msgq_t *q, pmsg_t *m)
{
	m->next = NULL;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->cnt++;
	q->bytes += m->key_len + m->value_len;
}

static pmsg_t *q_pop(msgq_t *q)
{
	pmsg_t *m = q->head;

	if (!m)
		return NULL;
	q->head = m->next;
	if (!q->head)
		q->tail = NULL;
	q->cnt--;
	q->bytes -= m->key_len + m->value_len;
	m->next = NULL;
	return m;
}

/* Appends all of src to dst; src ends empty. */
static void q_concat(msgq_t *dst, msgq_t *src)
{
	if (!src->head)
		return;
	if (dst->tail)
		dst->tail->next = src->head;
	else
		dst->head = src->head;
	dst->tail = src->tail;
	dst->cnt += src->cnt;
	dst->bytes += src->bytes;
	memset(src, 0, sizeof(*src));
}

static uint32_t next_rand(brook_producer_t *p)
{
	p->rand ^= p->rand << 13;
	p->rand ^= p->rand >> 17;
	p->rand ^= p->rand << 5;
	return p->rand;
}

/* ---- reports ---- */

static void finish(brook_producer_t *p, pmsg_t *m, brook_err_t err, int64_t offset)
{
	m->err = err;
	m->offset = err ? -1 : offset;
	q_push(&p->done, m);
}

static void fail_q(brook_producer_t *p, msgq_t *q, brook_err_t err)
{
	pmsg_t *m;

	while ((m = q_pop(q)))
		finish(p, m, err, -1);
}

/* Hands the finished messages to the application: those with a callback
 * to the report queue, the others are freed here. */
static void deliver(brook_producer_t *p)
{
	size_t freed = 0, freed_bytes = 0;
	msgq_t keep = { 0 };
	pmsg_t *m;

	if (!p->done.cnt)
		return;
	while ((m = q_pop(&p->done))) {
		if (m->cb) {
			q_push(&keep, m);
		} else {
			freed++;
			freed_bytes += m->bytes;
			free(m);
		}
	}
	pthread_mutex_lock(&p->c.lock);
	q_concat(&p->reports, &keep);
	p->outstanding -= freed;
	p->outstanding_bytes -= freed_bytes;
	pthread_cond_broadcast(&p->c.cond);
	pthread_mutex_unlock(&p->c.lock);
}

/* Calls the callbacks of a taken report queue on the caller's thread. */
static int serve_reports(brook_producer_t *p, msgq_t *q)
{
	size_t n = 0, bytes = 0;
	pmsg_t *m;

	while ((m = q_pop(q))) {
		m->cb(m->err, m->topic, m->partition, m->offset, m->key, m->key_len, m->value,
		      m->value_len, m->opaque);
		n++;
		bytes += m->bytes;
		free(m);
	}
	if (n) {
		pthread_mutex_lock(&p->c.lock);
		p->outstanding -= n;
		p->outstanding_bytes -= bytes;
		pthread_cond_broadcast(&p->c.cond);
		pthread_mutex_unlock(&p->c.lock);
	}
	return (int)n;
}

/* ---- topics and partitioning (I/O thread) ---- */

static ptopic_t *topic_get(brook_producer_t *p, const char *name)
{
	ptopic_t *t;

	for (t = p->topics; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->name = strdup(name);
	if (!t->name) {
		free(t);
		return NULL;
	}
	t->sticky = -1;
	t->next = p->topics;
	p->topics = t;
	client_want_topic(&p->c, name);
	return t;
}

static int topic_grow(ptopic_t *t, int32_t cnt)
{
	ptoppar_t **v;

	if (cnt <= t->cnt)
		return 0;
	v = realloc(t->parts, (size_t)cnt * sizeof(*v));
	if (!v)
		return -1;
	t->parts = v;
	for (int32_t i = t->cnt; i < cnt; i++) {
		ptoppar_t *tp = calloc(1, sizeof(*tp));

		if (!tp)
			return -1;
		tp->topic = t;
		tp->id = i;
		t->parts[i] = tp;
		t->cnt = i + 1;
	}
	return 0;
}

static int available(const client_md_topic_t *md, int32_t part)
{
	return md && part < md->partition_cnt && md->partitions[part].leader >= 0;
}

/* Kafka's sticky partitioner: null-key messages share one partition until a
 * batch for it goes out, so they travel in full batches. */
static int32_t sticky_pick(brook_producer_t *p, ptopic_t *t, const client_md_topic_t *md)
{
	int32_t avail = 0, k;

	for (int32_t i = 0; i < t->cnt; i++)
		avail += available(md, i) && i != t->sticky;
	if (avail == 0)
		return t->sticky >= 0 ? t->sticky : (int32_t)(next_rand(p) % (uint32_t)t->cnt);
	k = (int32_t)(next_rand(p) % (uint32_t)avail);
	for (int32_t i = 0; i < t->cnt; i++)
		if (available(md, i) && i != t->sticky && k-- == 0)
			return i;
	return 0;
}

/* Puts a message on its partition's queue, or fails it. The topic's
 * metadata is known. */
static void place(brook_producer_t *p, ptopic_t *t, pmsg_t *m)
{
	const client_md_topic_t *md = client_md_topic(&p->c, t->name);
	int32_t part = m->partition;

	if (part >= t->cnt) {
		finish(p, m, BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION, -1);
		return;
	}
	if (part < 0) {
		if (m->key) {
			part = partitioner_for_key(m->key, m->key_len, t->cnt);
		} else {
			if (t->sticky < 0 || t->sticky >= t->cnt)
				t->sticky = sticky_pick(p, t, md);
			part = t->sticky;
		}
	}
	m->partition = part;
	q_push(&t->parts[part]->q, m);
}

static void route(brook_producer_t *p, pmsg_t *m)
{
	ptopic_t *t = topic_get(p, m->topic);

	if (!t) {
		finish(p, m, BROOK_ERR__NOMEM, -1);
		return;
	}
	if (t->known && !t->pending.cnt)
		place(p, t, m);
	else
		q_push(&t->pending, m);
}

static void on_metadata(client_t *c)
{
	brook_producer_t *p = c->role_state;
	int64_t now = conn_now_ms();

	for (ptopic_t *t = p->topics; t; t = t->next) {
		const client_md_topic_t *md = client_md_topic(c, t->name);
		pmsg_t *m;

		if (!md)
			continue;
		if (md->err == BROOK_ERR_NO_ERROR && md->partition_cnt > 0) {
			if (topic_grow(t, md->partition_cnt) != 0) {
				fail_q(p, &t->pending, BROOK_ERR__NOMEM);
				continue;
			}
			t->known = 1;
			t->unknown_since = 0;
			while ((m = q_pop(&t->pending)))
				place(p, t, m);
			continue;
		}
		if (t->known)
			continue; /* keep the partitions; leaders come back, or timeouts fire */
		t->md_err = md->err ? md->err : BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		if (!client_md_err_retriable(t->md_err)) {
			client_log(c, BROOK_LOG_WARNING, "topic %s: %s", t->name,
				   brook_err_str(t->md_err));
			fail_q(p, &t->pending, t->md_err);
			continue;
		}
		if (!t->unknown_since)
			t->unknown_since = now;
		client_md_refresh(c, "topic not known yet");
	}
	deliver(p);
}

/* ---- sending ---- */

static void batch_free(pbatch_t *b)
{
	if (!b)
		return;
	free(b->bytes);
	free(b);
}

static pbatch_t *batch_build(brook_producer_t *p, ptoppar_t *tp)
{
	size_t limit = (size_t)p->c.conf.batch_size;
	record_batch_builder_t *bld = NULL;
	pbatch_t *b = calloc(1, sizeof(*b));
	brook_err_t err;

	if ((size_t)p->c.conf.message_max_bytes < limit)
		limit = (size_t)p->c.conf.message_max_bytes;
	if (!b || (err = record_batch_builder_new(p->codec, RECORD_NO_PRODUCER_ID, -1,
						  RECORD_NO_SEQUENCE, &bld))) {
		free(b);
		return NULL;
	}
	b->tp = tp;
	while (tp->q.head) {
		pmsg_t *m = tp->q.head;

		if (b->msgs.cnt && record_batch_builder_size(bld) + m->key_len + m->value_len +
					   RECORD_OVERHEAD_MAX > limit)
			break;
		err = record_batch_builder_add(bld, m->timestamp, m->key, m->key_len, m->value,
					       m->value_len, NULL, 0);
		q_pop(&tp->q);
		if (err) {
			finish(p, m, err, -1);
			continue;
		}
		q_push(&b->msgs, m);
	}
	if (!b->msgs.cnt) {
		record_batch_builder_free(bld);
		free(b);
		return NULL;
	}
	err = record_batch_builder_finish(bld, &b->bytes, &b->len);
	record_batch_builder_free(bld);
	if (err) {
		fail_q(p, &b->msgs, err);
		free(b);
		return NULL;
	}
	return b;
}

static void pack_produce(msgpack_packer *pk, void *arg)
{
	const preq_t *r = arg;
	size_t topics = 0;

	for (size_t i = 0; i < r->n; i++)
		if (i == 0 || r->batches[i]->tp->topic != r->batches[i - 1]->tp->topic)
			topics++;
	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "acks", r->p->acks);
	proto_pack_kv_int(pk, "timeout_ms", r->p->c.conf.request_timeout_ms);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, topics);
	for (size_t i = 0; i < r->n;) {
		ptopic_t *t = r->batches[i]->tp->topic;
		size_t j = i;

		while (j < r->n && r->batches[j]->tp->topic == t)
			j++;
		msgpack_pack_map(pk, 2);
		proto_pack_kv_str(pk, "name", t->name);
		proto_pack_key(pk, "partitions");
		msgpack_pack_array(pk, j - i);
		for (; i < j; i++) {
			msgpack_pack_map(pk, 2);
			proto_pack_kv_int(pk, "index", r->batches[i]->tp->id);
			proto_pack_kv_bin(pk, "records", r->batches[i]->bytes, r->batches[i]->len);
		}
	}
}

/* The outcome of one batch. */
static void batch_done(brook_producer_t *p, pbatch_t *b, brook_err_t err, int64_t base_offset,
		       const char *why)
{
	ptoppar_t *tp = b->tp;
	int64_t now = conn_now_ms();
	pmsg_t *m;

	tp->inflight--;
	if (err == BROOK_ERR_NO_ERROR) {
		int64_t off = base_offset;

		while ((m = q_pop(&b->msgs)))
			finish(p, m, BROOK_ERR_NO_ERROR, base_offset >= 0 ? off++ : -1);
		batch_free(b);
		return;
	}
	b->last_err = err;
	if (err != BROOK_ERR__CLOSED && producer_err_retriable(err) &&
	    b->attempts <= p->c.conf.retries &&
	    now - b->msgs.head->enq_ms < p->c.conf.delivery_timeout_ms && !tp->held) {
		client_log(&p->c, b->attempts == 1 ? BROOK_LOG_INFO : BROOK_LOG_DEBUG,
			   "%s [%d]: retrying %zu messages after %s (attempt %d)%s%s",
			   tp->topic->name, (int)tp->id, b->msgs.cnt, brook_err_name(err),
			   b->attempts, why ? ": " : "", why ? why : "");
		tp->held = b;
		tp->backoff_until = now + p->c.conf.retry_backoff_ms;
		client_md_refresh(&p->c, "produce error");
		return;
	}
	if (err != BROOK_ERR__CLOSED)
		client_log(&p->c, BROOK_LOG_WARNING, "%s [%d]: %zu messages failed: %s%s%s",
			   tp->topic->name, (int)tp->id, b->msgs.cnt, brook_err_str(err),
			   why ? ": " : "", why ? why : "");
	fail_q(p, &b->msgs, err);
	batch_free(b);
}

static pbatch_t *take_batch(preq_t *r, const char *name, uint32_t name_len, int64_t index)
{
	for (size_t i = 0; i < r->n; i++) {
		pbatch_t *b = r->batches[i];

		if (b && b->tp->id == index && strlen(b->tp->topic->name) == name_len &&
		    memcmp(b->tp->topic->name, name, name_len) == 0) {
			r->batches[i] = NULL;
			return b;
		}
	}
	return NULL;
}

static void preq_free(preq_t *r)
{
	free(r->batches);
	free(r);
}

static void parse_produce_response(brook_producer_t *p, preq_t *r, const msgpack_object *body)
{
	const msgpack_object_array *topics;
	int64_t top = 0;

	if (proto_get_int(body, "error_code", 0, INT16_MIN, INT16_MAX, &top, NULL, 0))
		top = BROOK_ERR__BAD_MSG;
	if (top == 0 && proto_get_array(body, "responses", 1, &topics, NULL, 0))
		top = BROOK_ERR__BAD_MSG;
	if (top != 0)
		return; /* every batch stays in r and fails with the caller's default */
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object *to = &topics->ptr[i];
		const msgpack_object_array *parts;
		const char *name;
		uint32_t name_len;

		if (proto_get_str(to, "name", 1, &name, &name_len, NULL, 0) ||
		    proto_get_array(to, "partitions", 1, &parts, NULL, 0))
			continue;
		for (uint32_t j = 0; j < parts->size; j++) {
			const msgpack_object *po = &parts->ptr[j];
			int64_t index = -1, code = 0, base = -1;
			const char *msg = NULL;
			uint32_t msg_len = 0;
			char why[256] = "";
			pbatch_t *b;

			if (proto_get_int(po, "index", 1, 0, INT32_MAX, &index, NULL, 0) ||
			    !(b = take_batch(r, name, name_len, index)))
				continue;
			if (proto_get_int(po, "error_code", 1, INT16_MIN, INT16_MAX, &code, NULL,
					  0) ||
			    proto_get_int(po, "base_offset", 0, -1, INT64_MAX, &base, NULL, 0)) {
				batch_done(p, b, BROOK_ERR__BAD_MSG, -1, "malformed response");
				continue;
			}
			if (code == 0 && base < 0 && p->acks != 0) {
				batch_done(p, b, BROOK_ERR__BAD_MSG, -1, "no base_offset");
				continue;
			}
			proto_get_str(po, "error_message", 0, &msg, &msg_len, NULL, 0);
			if (msg && msg_len)
				snprintf(why, sizeof(why), "%.*s", (int)msg_len, msg);
			batch_done(p, b, (brook_err_t)code, base, why[0] ? why : NULL);
		}
	}
}

static void produce_done(conn_t *conn, brook_err_t err, const msgpack_object *body, void *opaque)
{
	preq_t *r = opaque;
	brook_producer_t *p = r->p;
	const char *why = NULL;

	if (!err && body)
		parse_produce_response(p, r, body);
	if (err == BROOK_ERR__TRANSPORT || err == BROOK_ERR__TIMED_OUT)
		why = conn_name(conn);
	/* batches the response did not mention, or all of them on an error */
	for (size_t i = 0; i < r->n; i++) {
		if (!r->batches[i])
			continue;
		if (!err && !body)
			batch_done(p, r->batches[i], BROOK_ERR_NO_ERROR, -1, NULL); /* acks=0 */
		else
			batch_done(p, r->batches[i], err ? err : BROOK_ERR__BAD_MSG, -1,
				   err ? why : "partition missing from the response");
	}
	preq_free(r);
	deliver(p);
}

static void send_request(brook_producer_t *p, conn_t *conn, preq_t *r)
{
	brook_err_t err;

	err = conn_request(conn, PROTO_API_PRODUCE, 0, pack_produce, r,
			   p->c.conf.request_timeout_ms, p->acks != 0, produce_done, r);
	if (err) {
		for (size_t i = 0; i < r->n; i++)
			batch_done(p, r->batches[i], err, -1, "cannot queue the request");
		preq_free(r);
	}
}

static int preq_add(preq_t *r, pbatch_t *b)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		pbatch_t **v = realloc(r->batches, cap * sizeof(*v));

		if (!v)
			return -1;
		r->batches = v;
		r->cap = cap;
	}
	r->batches[r->n++] = b;
	r->bytes += b->len;
	/* in flight from here: the partition's limit counts it */
	b->attempts++;
	b->tp->inflight++;
	return 0;
}

/* Per-leader requests being filled during one serve. */
typedef struct leader_req {
	int32_t leader;
	conn_t *conn;
	preq_t *r;
} leader_req_t;

static int64_t serve_partition(brook_producer_t *p, ptoppar_t *tp, int flushing, int64_t now,
			       leader_req_t **reqs, size_t *nreqs, size_t *capreqs)
{
	const client_md_topic_t *md = client_md_topic(&p->c, tp->topic->name);
	int64_t next = INT64_MAX, delivery = p->c.conf.delivery_timeout_ms;
	int32_t leader;
	conn_t *conn;
	leader_req_t *lr = NULL;
	int added = 0;

	/* delivery.timeout.ms: messages not in flight that waited too long */
	while (tp->q.head && now - tp->q.head->enq_ms >= delivery)
		finish(p, q_pop(&tp->q), BROOK_ERR__TIMED_OUT, -1);
	if (tp->held && now - tp->held->msgs.head->enq_ms >= delivery) {
		client_log(&p->c, BROOK_LOG_WARNING, "%s [%d]: %zu messages expired after %s",
			   tp->topic->name, (int)tp->id, tp->held->msgs.cnt,
			   brook_err_name(tp->held->last_err));
		fail_q(p, &tp->held->msgs, BROOK_ERR__TIMED_OUT);
		batch_free(tp->held);
		tp->held = NULL;
	}
	if (tp->q.head)
		next = tp->q.head->enq_ms + delivery;
	if (tp->held && tp->held->msgs.head->enq_ms + delivery < next)
		next = tp->held->msgs.head->enq_ms + delivery;
	if (!tp->held && !tp->q.cnt)
		return next;
	if (tp->inflight >= p->inflight_per_partition)
		return next; /* the response wakes us */
	if (now < tp->backoff_until)
		return tp->backoff_until < next ? tp->backoff_until : next;
	if (!tp->held && !flushing && tp->q.bytes < (size_t)p->c.conf.batch_size &&
	    now - tp->q.head->enq_ms < p->c.conf.linger_ms) {
		int64_t due = tp->q.head->enq_ms + p->c.conf.linger_ms;

		return due < next ? due : next;
	}
	leader = md && tp->id < md->partition_cnt ? md->partitions[tp->id].leader : -1;
	conn = client_broker_conn(&p->c, leader);
	if (!conn) {
		client_md_refresh(&p->c, "partition without a leader");
		return next; /* the metadata response wakes us */
	}
	for (size_t i = 0; i < *nreqs; i++)
		if ((*reqs)[i].leader == leader)
			lr = &(*reqs)[i];
	if (!lr) {
		if (*nreqs == *capreqs) {
			size_t cap = *capreqs ? *capreqs * 2 : 4;
			leader_req_t *v = realloc(*reqs, cap * sizeof(*v));

			if (!v)
				return now + 10;
			*reqs = v;
			*capreqs = cap;
		}
		lr = &(*reqs)[(*nreqs)++];
		lr->leader = leader;
		lr->conn = conn;
		lr->r = NULL;
	}
	while (tp->inflight < p->inflight_per_partition && (tp->held || tp->q.cnt)) {
		size_t max = (size_t)p->c.conf.max_in_flight;
		/* Produce carries one records blob per partition: a second
		 * batch of this partition needs a request of its own */
		int need_slot = !lr->r || added;
		pbatch_t *b;

		if (conn_outstanding(conn) + (lr->r ? 1 : 0) + (need_slot ? 1 : 0) > max)
			break; /* a response wakes us */
		if (tp->held) {
			b = tp->held;
			tp->held = NULL;
		} else {
			if (!flushing && tp->q.bytes < (size_t)p->c.conf.batch_size &&
			    now - tp->q.head->enq_ms < p->c.conf.linger_ms)
				break;
			if (!(b = batch_build(p, tp)))
				break;
			if (tp->topic->sticky == tp->id)
				tp->topic->sticky = -1;
		}
		if (lr->r &&
		    (added || lr->r->bytes + b->len > (size_t)p->c.conf.message_max_bytes)) {
			send_request(p, conn, lr->r);
			lr->r = NULL;
			if (conn_outstanding(conn) >= max) {
				tp->held = b;
				break;
			}
		}
		if (!lr->r && (lr->r = calloc(1, sizeof(*lr->r))))
			lr->r->p = p;
		if (!lr->r || preq_add(lr->r, b) != 0) {
			fail_q(p, &b->msgs, BROOK_ERR__NOMEM);
			batch_free(b);
			break;
		}
		added = 1;
	}
	return next;
}

static int64_t serve(client_t *c, int64_t now)
{
	brook_producer_t *p = c->role_state;
	msgq_t in;
	leader_req_t *reqs = NULL;
	size_t nreqs = 0, capreqs = 0;
	int64_t next = INT64_MAX;
	int flushing;
	pmsg_t *m;

	pthread_mutex_lock(&c->lock);
	in = p->inq;
	memset(&p->inq, 0, sizeof(p->inq));
	flushing = p->flushing;
	pthread_mutex_unlock(&c->lock);
	while ((m = q_pop(&in)))
		route(p, m);

	for (ptopic_t *t = p->topics; t; t = t->next) {
		int64_t delivery = c->conf.delivery_timeout_ms;

		/* waiting for metadata: delivery.timeout.ms, or the topic stays
		 * unknown past topic.metadata.propagation.max.ms */
		if (t->pending.cnt && t->unknown_since &&
		    now - t->unknown_since >= c->conf.topic_metadata_propagation_max_ms) {
			client_log(c, BROOK_LOG_WARNING, "topic %s: %s; failing %zu messages",
				   t->name, brook_err_str(t->md_err), t->pending.cnt);
			fail_q(p, &t->pending, t->md_err);
		}
		while (t->pending.head && now - t->pending.head->enq_ms >= delivery)
			finish(p, q_pop(&t->pending), BROOK_ERR__TIMED_OUT, -1);
		if (t->pending.head) {
			int64_t due = t->pending.head->enq_ms + delivery;

			if (t->unknown_since &&
			    t->unknown_since + c->conf.topic_metadata_propagation_max_ms < due)
				due = t->unknown_since + c->conf.topic_metadata_propagation_max_ms;
			if (due < next)
				next = due;
		}
		for (int32_t i = 0; i < t->cnt; i++) {
			int64_t due = serve_partition(p, t->parts[i], flushing, now, &reqs, &nreqs,
						      &capreqs);

			if (due < next)
				next = due;
		}
	}
	for (size_t i = 0; i < nreqs; i++)
		if (reqs[i].r)
			send_request(p, reqs[i].conn, reqs[i].r);
	free(reqs);
	deliver(p);
	return next;
}

static const client_role_t producer_role = {
	.name = "producer",
	.serve = serve,
	.on_metadata = on_metadata,
};

/* ---- public API ---- */

brook_producer_t *brook_producer_new(const brook_conf_t *conf, char *errstr, size_t errstr_size)
{
	brook_producer_t *p = calloc(1, sizeof(*p));

	if (!p) {
		brook_errstr(errstr, errstr_size, "out of memory");
		return NULL;
	}
	if (client_init(&p->c, conf, 1, &producer_role, p, errstr, errstr_size)) {
		free(p);
		return NULL;
	}
	if (compress_codec_parse(p->c.conf.compression_type, &p->codec)) {
		brook_errstr(errstr, errstr_size, "compression.type: unsupported codec \"%s\"",
			     p->c.conf.compression_type);
		goto fail;
	}
	p->acks = client_conf_acks(&p->c.conf);
	p->inflight_per_partition = p->c.conf.retries > 0 ? 1 : p->c.conf.max_in_flight;
	p->rand = (uint32_t)conn_now_ms() ^ (uint32_t)((uintptr_t)p >> 4) ^ 0x2545f491u;
	if (!p->rand)
		p->rand = 1;
	if (client_start(&p->c, errstr, errstr_size))
		goto fail;
	return p;
fail:
	client_close_conns(&p->c);
	client_destroy(&p->c);
	free(p);
	return NULL;
}

brook_err_t brook_produce(brook_producer_t *p, const char *topic, int32_t partition,
			  const void *key, size_t key_len, const void *value, size_t value_len,
			  int64_t timestamp_ms, brook_delivery_cb *cb, void *opaque)
{
	size_t tlen, size;
	pmsg_t *m;
	char *d;

	if (!p || !topic || partition < -1 || (!key && key_len) || (!value && value_len) ||
	    timestamp_ms < 0)
		return BROOK_ERR__INVALID_ARG;
	tlen = strlen(topic);
	if (tlen == 0 || tlen > TOPIC_NAME_MAX)
		return BROOK_ERR__INVALID_ARG;
	if (key_len > (size_t)p->c.conf.message_max_bytes ||
	    value_len > (size_t)p->c.conf.message_max_bytes ||
	    key_len + value_len + RECORD_BATCH_HEADER_SIZE + RECORD_OVERHEAD_MAX >
		    (size_t)p->c.conf.message_max_bytes)
		return BROOK_ERR_MESSAGE_TOO_LARGE;
	size = sizeof(*m) + tlen + 1 + key_len + value_len;
	m = malloc(size);
	if (!m)
		return BROOK_ERR__NOMEM;
	memset(m, 0, sizeof(*m));
	d = m->data;
	memcpy(d, topic, tlen + 1);
	m->topic = d;
	d += tlen + 1;
	if (key) {
		if (key_len)
			memcpy(d, key, key_len);
		m->key = d;
		m->key_len = key_len;
		d += key_len;
	}
	if (value) {
		if (value_len)
			memcpy(d, value, value_len);
		m->value = d;
		m->value_len = value_len;
	}
	m->partition = partition;
	m->timestamp = timestamp_ms ? timestamp_ms : client_wallclock_ms();
	m->enq_ms = conn_now_ms();
	m->cb = cb;
	m->opaque = opaque;
	m->offset = -1;
	m->bytes = size;

	pthread_mutex_lock(&p->c.lock);
	if (p->outstanding >= (size_t)p->c.conf.queue_buffering_max_messages ||
	    p->outstanding_bytes + size > (size_t)p->c.conf.queue_buffering_max_kbytes * 1024) {
		pthread_mutex_unlock(&p->c.lock);
		free(m);
		return BROOK_ERR__QUEUE_FULL;
	}
	q_push(&p->inq, m);
	p->outstanding++;
	p->outstanding_bytes += size;
	pthread_mutex_unlock(&p->c.lock);
	client_wakeup(&p->c);
	return BROOK_ERR_NO_ERROR;
}

int brook_poll(brook_producer_t *p, int timeout_ms)
{
	int64_t deadline = client_deadline(timeout_ms);
	msgq_t take;

	pthread_mutex_lock(&p->c.lock);
	while (!p->reports.cnt && timeout_ms != 0)
		if (client_cond_wait(&p->c, deadline) == ETIMEDOUT)
			break;
	take = p->reports;
	memset(&p->reports, 0, sizeof(p->reports));
	pthread_mutex_unlock(&p->c.lock);
	return serve_reports(p, &take);
}

brook_err_t brook_producer_flush(brook_producer_t *p, int timeout_ms)
{
	int64_t deadline = client_deadline(timeout_ms);
	brook_err_t err = BROOK_ERR_NO_ERROR;

	pthread_mutex_lock(&p->c.lock);
	p->flushing++;
	pthread_mutex_unlock(&p->c.lock);
	client_wakeup(&p->c);
	for (;;) {
		msgq_t take;
		size_t left;
		int timed_out = 0;

		pthread_mutex_lock(&p->c.lock);
		while (p->outstanding && !p->reports.cnt && !timed_out)
			timed_out = client_cond_wait(&p->c, deadline) == ETIMEDOUT;
		take = p->reports;
		memset(&p->reports, 0, sizeof(p->reports));
		left = p->outstanding - take.cnt;
		pthread_mutex_unlock(&p->c.lock);
		serve_reports(p, &take);
		if (!left)
			break;
		if (timed_out || conn_now_ms() >= deadline) {
			err = BROOK_ERR__TIMED_OUT;
			break;
		}
	}
	pthread_mutex_lock(&p->c.lock);
	p->flushing--;
	pthread_mutex_unlock(&p->c.lock);
	return err;
}

int brook_producer_outq_len(brook_producer_t *p)
{
	size_t n;

	pthread_mutex_lock(&p->c.lock);
	n = p->outstanding;
	pthread_mutex_unlock(&p->c.lock);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

void brook_producer_free(brook_producer_t *p)
{
	msgq_t take;

	if (!p)
		return;
	client_stop(&p->c);
	/* From here on this thread is the only one: in-flight batches come
	 * back through produce_done with _CLOSED, the rest is failed here,
	 * so every accepted message still gets its one report. */
	client_close_conns(&p->c);
	fail_q(p, &p->inq, BROOK_ERR__CLOSED);
	while (p->topics) {
		ptopic_t *t = p->topics;

		p->topics = t->next;
		fail_q(p, &t->pending, BROOK_ERR__CLOSED);
		for (int32_t i = 0; i < t->cnt; i++) {
			ptoppar_t *tp = t->parts[i];

			fail_q(p, &tp->q, BROOK_ERR__CLOSED);
			if (tp->held) {
				fail_q(p, &tp->held->msgs, BROOK_ERR__CLOSED);
				batch_free(tp->held);
			}
			free(tp);
		}
		free(t->parts);
		free(t->name);
		free(t);
	}
	deliver(p);
	take = p->reports;
	memset(&p->reports, 0, sizeof(p->reports));
	serve_reports(p, &take);
	client_destroy(&p->c);
	free(p);
}
