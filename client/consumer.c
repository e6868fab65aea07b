/* consumer.c - assignment, offset lookup, fetching and the message queue. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "client.h"
#include "consumer.h"
#include "errstr.h"
#include "group.h"
#include "proto.h"
#include "record.h"

/* Largest decompressed batch we accept: a zstd bomb stops here. */
#define MAX_INFLATED (256u << 20)

typedef struct cmsg {
	brook_message_t m;        /* first: brook_message_free() gets &m */
	struct cmsg *next;
	size_t bytes;
	char data[];
} cmsg_t;

typedef struct cmsgq {
	cmsg_t *head, *tail;
	size_t cnt, bytes;
} cmsgq_t;

typedef struct ctoppar {
	struct ctoppar *next;
	char *topic;
	int32_t id;
	consumer_state_t state;
	int64_t query_ts;         /* ListOffsets: PROTO_TS_LATEST or _EARLIEST */
	int64_t tail;             /* > 0: start this many before the end */
	int tail_clamp;           /* an out-of-range tail start goes to the beginning */
	int64_t offset;           /* next offset to fetch */
	int64_t hwm;
	int eof_sent;
	int busy;                 /* a ListOffsets or Fetch for it is in flight */
	int64_t backoff_until;
	int32_t max_bytes_next;   /* > 0: one fetch asks this much (a big batch) */
	uint32_t gen;             /* bumped by a new assign: older answers are dropped */
	int removed;              /* unassigned; freed once no request holds it */
} ctoppar_t;

typedef struct cassign {
	struct cassign *next;
	char *topic;
	int32_t partition;
	int64_t offset;
	int64_t start_ms;
	int done;
	brook_err_t err;
	char errstr[256];
} cassign_t;

typedef struct fetch_broker {
	int32_t id;
	int inflight;
} fetch_broker_t;

/* What one request asked for, to match the answer against. */
typedef struct creq_entry {
	ctoppar_t *tp;
	uint32_t gen;
	int64_t offset;
} creq_entry_t;

typedef struct creq {
	brook_consumer_t *c;
	int32_t leader;
	size_t n, cap;
	creq_entry_t *e;
} creq_t;

struct brook_consumer {
	client_t c;
	size_t queue_limit;

	/* shared with the application (c.lock) */
	cassign_t *cmds_head, *cmds_tail;
	cmsgq_t q;
	int paused;
	int assigned;

	/* the I/O thread's */
	cassign_t *waiting;
	ctoppar_t *parts, *parts_tail;
	fetch_broker_t *fb;
	size_t fb_cnt, fb_cap;
	cmsgq_t out;              /* filled while handling a response, then queued */

	group_t *group;           /* set once by subscribe, under the lock */
	brook_rebalance_cb *on_assign, *on_revoke;
	void *rebalance_opaque;
	brook_commit_cb *commit_cb;
	void *commit_opaque;
};

static const char *const state_names[] = { "QUERY", "QUERY_WAIT", "ACTIVE", "STOPPED" };

const char *consumer_state_name(consumer_state_t state)
{
	return (unsigned)state < 4 ? state_names[state] : "?";
}

static void set_state(brook_consumer_t *c, ctoppar_t *tp, consumer_state_t state)
{
	if (tp->state == state)
		return;
	client_log(&c->c, BROOK_LOG_DEBUG, "%s [%d]: %s -> %s (offset %" PRId64 ")", tp->topic,
		   (int)tp->id, consumer_state_name(tp->state), consumer_state_name(state),
		   tp->offset);
	tp->state = state;
}

/* ---- messages ---- */

static void mq_push(cmsgq_t *q, cmsg_t *m)
{
	m->next = NULL;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->cnt++;
	q->bytes += m->bytes;
}

static cmsg_t *mq_pop(cmsgq_t *q)
{
	cmsg_t *m = q->head;

	if (!m)
		return NULL;
	q->head = m->next;
	if (!q->head)
		q->tail = NULL;
	q->cnt--;
	q->bytes -= m->bytes;
	return m;
}

static void mq_free(cmsgq_t *q)
{
	cmsg_t *m;

	while ((m = mq_pop(q)))
		free(m);
}

static cmsg_t *event_new(const char *topic, int32_t partition, brook_err_t err, int64_t offset,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static cmsg_t *event_new(const char *topic, int32_t partition, brook_err_t err, int64_t offset,
			 const char *fmt, ...)
{
	char why[512];
	size_t tlen = topic ? strlen(topic) + 1 : 0, wlen;
	cmsg_t *m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	wlen = strlen(why) + 1;
	m = calloc(1, sizeof(*m) + tlen + wlen);
	if (!m)
		return NULL;
	m->bytes = sizeof(*m) + tlen + wlen;
	m->m.err = err;
	m->m.partition = partition;
	m->m.offset = offset;
	m->m.timestamp = -1;
	if (topic) {
		memcpy(m->data, topic, tlen);
		m->m.topic = m->data;
	}
	memcpy(m->data + tlen, why, wlen);
	m->m.errstr = m->data + tlen;
	return m;
}

static void emit(brook_consumer_t *c, cmsg_t *m)
{
	if (m)
		mq_push(&c->out, m);
	else
		client_log(&c->c, BROOK_LOG_ERR, "out of memory: an event was lost");
}

static cmsg_t *message_new(const char *topic, int32_t partition, const record_t *rec)
{
	size_t tlen = strlen(topic) + 1, klen = rec->key ? (size_t)rec->key_len : 0;
	size_t vlen = rec->value ? (size_t)rec->value_len : 0, size, hbytes = 0;
	brook_header_t *hs;
	cmsg_t *m;
	char *d;

	for (size_t i = 0; i < rec->header_count; i++) {
		record_header_t h;

		if (record_header_at(rec, i, &h))
			return NULL;
		hbytes += h.key_len + (h.value ? h.value_len : 0);
	}
	size = sizeof(*m) + rec->header_count * sizeof(brook_header_t) + tlen + klen + vlen +
	       hbytes;
	m = malloc(size);
	if (!m)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->bytes = size;
	hs = (brook_header_t *)m->data;
	d = m->data + rec->header_count * sizeof(brook_header_t);
	memcpy(d, topic, tlen);
	m->m.topic = d;
	d += tlen;
	m->m.partition = partition;
	m->m.offset = rec->offset;
	m->m.timestamp = rec->timestamp;
	if (rec->key) {
		memcpy(d, rec->key, klen);
		m->m.key = d;
		m->m.key_len = klen;
		d += klen;
	}
	if (rec->value) {
		memcpy(d, rec->value, vlen);
		m->m.value = d;
		m->m.value_len = vlen;
		d += vlen;
	}
	for (size_t i = 0; i < rec->header_count; i++) {
		record_header_t h;

		record_header_at(rec, i, &h);
		memcpy(d, h.key, h.key_len);
		hs[i].key = d;
		hs[i].key_len = h.key_len;
		d += h.key_len;
		if (h.value) {
			memcpy(d, h.value, h.value_len);
			hs[i].value = d;
			hs[i].value_len = h.value_len;
			d += h.value_len;
		}
	}
	m->m.header_count = rec->header_count;
	m->m.headers = rec->header_count ? hs : NULL;
	return m;
}

/* Moves what this round produced to the application's queue. */
static void publish(brook_consumer_t *c)
{
	cmsg_t *m;

	if (!c->out.cnt)
		return;
	pthread_mutex_lock(&c->c.lock);
	while ((m = mq_pop(&c->out)))
		mq_push(&c->q, m);
	pthread_cond_broadcast(&c->c.cond);
	pthread_mutex_unlock(&c->c.lock);
}

/* ---- assignment ---- */

static ctoppar_t *tp_find(brook_consumer_t *c, const char *topic, int32_t id)
{
	for (ctoppar_t *tp = c->parts; tp; tp = tp->next)
		if (!tp->removed && tp->id == id && strcmp(tp->topic, topic) == 0)
			return tp;
	return NULL;
}

static void tp_start(ctoppar_t *tp, int64_t offset)
{
	tp->gen++;
	tp->tail = 0;
	tp->tail_clamp = 0;
	tp->eof_sent = 0;
	tp->backoff_until = 0;
	tp->max_bytes_next = 0;
	tp->hwm = -1;
	if (offset >= 0) {
		tp->offset = offset;
		tp->state = CONSUMER_ACTIVE;
		return;
	}
	tp->state = CONSUMER_QUERY;
	tp->offset = -1;
	if (offset == BROOK_OFFSET_BEGINNING) {
		tp->query_ts = PROTO_TS_EARLIEST;
	} else {
		tp->query_ts = PROTO_TS_LATEST;
		if (offset <= BROOK_OFFSET_TAIL_BASE)
			tp->tail = BROOK_OFFSET_TAIL_BASE - offset;
	}
}

static brook_err_t tp_assign(brook_consumer_t *c, const char *topic, int32_t id, int64_t offset)
{
	ctoppar_t *tp = tp_find(c, topic, id);

	if (!tp) {
		tp = calloc(1, sizeof(*tp));
		if (!tp || !(tp->topic = strdup(topic))) {
			free(tp);
			return BROOK_ERR__NOMEM;
		}
		tp->id = id;
		if (c->parts_tail)
			c->parts_tail->next = tp;
		else
			c->parts = tp;
		c->parts_tail = tp;
		pthread_mutex_lock(&c->c.lock);
		c->assigned++;
		pthread_mutex_unlock(&c->c.lock);
	}
	tp_start(tp, offset);
	client_log(&c->c, BROOK_LOG_DEBUG, "%s [%d]: assigned, start %" PRId64, topic, (int)id,
		   offset);
	return BROOK_ERR_NO_ERROR;
}

brook_err_t consumer_tp_add(brook_consumer_t *c, const char *topic, int32_t partition,
			    int64_t offset)
{
	client_want_topic(&c->c, topic);
	return tp_assign(c, topic, partition, offset);
}

/* Drops the partition's messages from q (lock held) or from out. */
static void mq_purge(cmsgq_t *q, const char *topic, int32_t partition)
{
	cmsgq_t keep = { 0 };
	cmsg_t *m;

	while ((m = mq_pop(q))) {
		if (m->m.partition == partition && m->m.topic && strcmp(m->m.topic, topic) == 0)
			free(m);
		else
			mq_push(&keep, m);
	}
	*q = keep;
}

void consumer_tp_remove(brook_consumer_t *c, const char *topic, int32_t partition)
{
	ctoppar_t *tp = tp_find(c, topic, partition);

	if (!tp)
		return;
	/* answers in flight still point at tp: the new gen drops them, and
	 * serve() frees tp once it is no longer busy */
	tp->gen++;
	tp->state = CONSUMER_STOPPED;
	tp->removed = 1;
	mq_purge(&c->out, topic, partition);
	pthread_mutex_lock(&c->c.lock);
	mq_purge(&c->q, topic, partition);
	c->assigned--;
	pthread_mutex_unlock(&c->c.lock);
	client_log(&c->c, BROOK_LOG_DEBUG, "%s [%d]: unassigned", topic, (int)partition);
}

void consumer_emit_error(brook_consumer_t *c, const char *topic, int32_t partition,
			 brook_err_t err, const char *why)
{
	cmsg_t *m = event_new(topic, partition, err, -1, "%s", why);

	if (!m) {
		client_log(&c->c, BROOK_LOG_ERR, "out of memory: an event was lost");
		return;
	}
	pthread_mutex_lock(&c->c.lock);
	mq_push(&c->q, m);
	pthread_cond_broadcast(&c->c.cond);
	pthread_mutex_unlock(&c->c.lock);
}

static void assign_done(brook_consumer_t *c, cassign_t *a, brook_err_t err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void assign_done(brook_consumer_t *c, cassign_t *a, brook_err_t err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&c->c.lock);
	a->err = err;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(a->errstr, sizeof(a->errstr), fmt, ap);
		va_end(ap);
	}
	a->done = 1;
	pthread_cond_broadcast(&c->c.cond);
	pthread_mutex_unlock(&c->c.lock);
}

/* Settles an assignment once the topic's metadata says yes or no, or the
 * wait is over. Returns 1 when a was completed (and must be unlinked). */
static int assign_try(brook_consumer_t *c, cassign_t *a, int64_t now, int64_t *next)
{
	const client_md_topic_t *md = client_md_topic(&c->c, a->topic);
	int64_t deadline = a->start_ms + c->c.conf.topic_metadata_propagation_max_ms;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	if (md && md->err == BROOK_ERR_NO_ERROR && md->partition_cnt > 0) {
		if (a->partition >= md->partition_cnt) {
			assign_done(c, a, BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
				    "topic %s has no partition %d (it has %d)", a->topic,
				    (int)a->partition, (int)md->partition_cnt);
			return 1;
		}
		for (int32_t p = 0; p < md->partition_cnt && !err; p++)
			if (a->partition < 0 || a->partition == p)
				err = tp_assign(c, a->topic, p, a->offset);
		assign_done(c, a, err, err ? "%s" : NULL, brook_err_str(err));
		return 1;
	}
	if (md && md->err && !client_md_err_retriable(md->err)) {
		assign_done(c, a, md->err, "topic %s: %s", a->topic, brook_err_str(md->err));
		return 1;
	}
	if (now >= deadline) {
		if (md)
			assign_done(c, a, md->err ? md->err : BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
				    "topic %s: %s", a->topic,
				    brook_err_str(md->err ? md->err
							  : BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION));
		else if (c->c.md_last_err)
			assign_done(c, a, c->c.md_last_err, "cannot get the cluster's metadata: %s",
				    c->c.md_last_errstr);
		else
			assign_done(c, a, BROOK_ERR__TIMED_OUT,
				    "no metadata for topic %s after %d ms", a->topic,
				    (int)c->c.conf.topic_metadata_propagation_max_ms);
		return 1;
	}
	if (md)
		client_md_refresh(&c->c, "assigned topic not known yet");
	if (deadline < *next)
		*next = deadline;
	return 0;
}

static void on_metadata(client_t *cl)
{
	(void)cl; /* serve() runs right after and looks at the cache */
}

/* ---- requests ---- */

static creq_t *creq_new(brook_consumer_t *c, int32_t leader)
{
	creq_t *r = calloc(1, sizeof(*r));

	if (r) {
		r->c = c;
		r->leader = leader;
	}
	return r;
}

static void creq_free(creq_t *r)
{
	if (!r)
		return;
	free(r->e);
	free(r);
}

static int creq_add(creq_t *r, ctoppar_t *tp)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		creq_entry_t *v = realloc(r->e, cap * sizeof(*v));

		if (!v)
			return -1;
		r->e = v;
		r->cap = cap;
	}
	r->e[r->n].tp = tp;
	r->e[r->n].gen = tp->gen;
	r->e[r->n].offset = tp->offset;
	r->n++;
	tp->busy = 1;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const creq_entry_t *x = a, *y = b;
	int d = strcmp(x->tp->topic, y->tp->topic);

	return d ? d : (x->tp->id > y->tp->id) - (x->tp->id < y->tp->id);
}

/* Packs topics: [{name, partitions: [...]}] from entries sorted by topic,
 * each partition map written by `part`. */
static void pack_topics(msgpack_packer *pk, const creq_t *r,
			void (*part)(msgpack_packer *pk, const creq_t *r, const creq_entry_t *e))
{
	size_t topics = 0;

	for (size_t i = 0; i < r->n; i++)
		if (i == 0 || strcmp(r->e[i].tp->topic, r->e[i - 1].tp->topic) != 0)
			topics++;
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, topics);
	for (size_t i = 0; i < r->n;) {
		size_t j = i;

		while (j < r->n && strcmp(r->e[j].tp->topic, r->e[i].tp->topic) == 0)
			j++;
		msgpack_pack_map(pk, 2);
		proto_pack_kv_str(pk, "name", r->e[i].tp->topic);
		proto_pack_key(pk, "partitions");
		msgpack_pack_array(pk, j - i);
		for (; i < j; i++)
			part(pk, r, &r->e[i]);
	}
}

/* Finds the entry a response partition answers; NULL when none (or twice). */
static creq_entry_t *match(creq_t *r, const char *name, uint32_t name_len, int64_t index)
{
	for (size_t i = 0; i < r->n; i++) {
		creq_entry_t *e = &r->e[i];

		if (e->tp && e->tp->id == index && strlen(e->tp->topic) == name_len &&
		    memcmp(e->tp->topic, name, name_len) == 0)
			return e;
	}
	return NULL;
}

/* Retry later, after a metadata refresh: the leader moved or is away. */
static void leader_trouble(brook_consumer_t *c, ctoppar_t *tp, brook_err_t err)
{
	client_log(&c->c, BROOK_LOG_DEBUG, "%s [%d]: %s; refreshing metadata", tp->topic,
		   (int)tp->id, brook_err_name(err));
	tp->backoff_until = conn_now_ms() + c->c.conf.retry_backoff_ms;
	client_md_refresh(&c->c, "leader error");
}

static int leader_err(brook_err_t err)
{
	switch (err) {
	case BROOK_ERR_NOT_LEADER_OR_FOLLOWER:
	case BROOK_ERR_LEADER_NOT_AVAILABLE:
	case BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
	case BROOK_ERR_FENCED_LEADER_EPOCH:
	case BROOK_ERR_UNKNOWN_LEADER_EPOCH:
	case BROOK_ERR_REPLICA_NOT_AVAILABLE:
	case BROOK_ERR_BROKER_NOT_AVAILABLE:
	case BROOK_ERR_REQUEST_TIMED_OUT:
	case BROOK_ERR_NETWORK_EXCEPTION:
	case BROOK_ERR_KAFKA_STORAGE_ERROR:
	case BROOK_ERR__TRANSPORT:
	case BROOK_ERR__TIMED_OUT:
	case BROOK_ERR__BAD_MSG:
		return 1;
	default:
		return 0;
	}
}

/* ---- ListOffsets ---- */

static void pack_lo_part(msgpack_packer *pk, const creq_t *r, const creq_entry_t *e)
{
	(void)r;
	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "partition_index", e->tp->id);
	proto_pack_kv_int(pk, "timestamp", e->tp->query_ts);
}

static void pack_list_offsets(msgpack_packer *pk, void *arg)
{
	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "replica_id", -1);
	proto_pack_kv_int(pk, "isolation_level", 0);
	pack_topics(pk, arg, pack_lo_part);
}

static void lo_result(brook_consumer_t *c, ctoppar_t *tp, brook_err_t err, int64_t offset)
{
	if (err) {
		set_state(c, tp, CONSUMER_QUERY);
		if (leader_err(err)) {
			leader_trouble(c, tp, err);
			return;
		}
		emit(c, event_new(tp->topic, tp->id, err, -1, "%s [%d]: offset lookup failed: %s",
				  tp->topic, (int)tp->id, brook_err_str(err)));
		tp->backoff_until = conn_now_ms() + c->c.conf.fetch_error_backoff_ms;
		return;
	}
	if (tp->tail > 0 && tp->query_ts == PROTO_TS_LATEST) {
		offset = offset > tp->tail ? offset - tp->tail : 0;
		tp->tail = 0;
		tp->tail_clamp = 1;
	}
	tp->offset = offset;
	tp->eof_sent = 0;
	set_state(c, tp, CONSUMER_ACTIVE);
}

static void list_offsets_done(conn_t *conn, brook_err_t err, const msgpack_object *body,
			      void *opaque)
{
	creq_t *r = opaque;
	brook_consumer_t *c = r->c;
	const msgpack_object_array *topics = NULL;
	int64_t top = 0;

	(void)conn;
	for (size_t i = 0; i < r->n; i++)
		r->e[i].tp->busy = 0;
	if (err == BROOK_ERR__CLOSED) {
		creq_free(r);
		return;
	}
	if (!err && (proto_get_int(body, "error_code", 0, INT16_MIN, INT16_MAX, &top, NULL, 0) ||
		     (!top && proto_get_array(body, "topics", 1, &topics, NULL, 0))))
		err = BROOK_ERR__BAD_MSG;
	if (!err && top)
		err = (brook_err_t)top;
	for (uint32_t i = 0; !err && i < topics->size; i++) {
		const msgpack_object_array *parts;
		const char *name;
		uint32_t name_len;

		if (proto_get_str(&topics->ptr[i], "name", 1, &name, &name_len, NULL, 0) ||
		    proto_get_array(&topics->ptr[i], "partitions", 1, &parts, NULL, 0))
			continue;
		for (uint32_t j = 0; j < parts->size; j++) {
			const msgpack_object *po = &parts->ptr[j];
			int64_t index = -1, code = 0, offset = -1;
			creq_entry_t *e;

			if (proto_get_int(po, "partition_index", 1, 0, INT32_MAX, &index, NULL,
					  0) ||
			    !(e = match(r, name, name_len, index)))
				continue;
			if (e->gen == e->tp->gen) {
				if (proto_get_int(po, "error_code", 1, INT16_MIN, INT16_MAX, &code,
						  NULL, 0) ||
				    (!code && proto_get_int(po, "offset", 1, 0, INT64_MAX, &offset,
							    NULL, 0)))
					code = BROOK_ERR__BAD_MSG;
				lo_result(c, e->tp, (brook_err_t)code, offset);
			}
			e->tp = NULL;
		}
	}
	/* unanswered partitions, or all of them after a request error */
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].tp && r->e[i].gen == r->e[i].tp->gen)
			lo_result(c, r->e[i].tp, err ? err : BROOK_ERR__BAD_MSG, -1);
	creq_free(r);
	publish(c);
}

/* ---- Fetch ---- */

static fetch_broker_t *fb_get(brook_consumer_t *c, int32_t id)
{
	for (size_t i = 0; i < c->fb_cnt; i++)
		if (c->fb[i].id == id)
			return &c->fb[i];
	if (c->fb_cnt == c->fb_cap) {
		size_t cap = c->fb_cap ? c->fb_cap * 2 : 8;
		fetch_broker_t *v = realloc(c->fb, cap * sizeof(*v));

		if (!v)
			return NULL;
		c->fb = v;
		c->fb_cap = cap;
	}
	c->fb[c->fb_cnt].id = id;
	c->fb[c->fb_cnt].inflight = 0;
	return &c->fb[c->fb_cnt++];
}

static void pack_fetch_part(msgpack_packer *pk, const creq_t *r, const creq_entry_t *e)
{
	int32_t max = r->c->c.conf.max_partition_fetch_bytes;

	if (e->tp->max_bytes_next > max)
		max = e->tp->max_bytes_next;
	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "partition", e->tp->id);
	proto_pack_kv_int(pk, "fetch_offset", e->offset);
	proto_pack_kv_int(pk, "partition_max_bytes", max);
}

static void pack_fetch(msgpack_packer *pk, void *arg)
{
	const creq_t *r = arg;
	const client_conf_t *conf = &r->c->c.conf;

	msgpack_pack_map(pk, 6);
	proto_pack_kv_int(pk, "replica_id", -1);
	proto_pack_kv_int(pk, "max_wait_ms", conf->fetch_max_wait_ms);
	proto_pack_kv_int(pk, "min_bytes", conf->fetch_min_bytes);
	proto_pack_kv_int(pk, "max_bytes", conf->fetch_max_bytes);
	proto_pack_kv_int(pk, "isolation_level", 0);
	pack_topics(pk, r, pack_fetch_part);
}

/* Walks the whole batches of one partition's records: CRC-checked and
 * decoded by record.h; records below the offset we asked for (a
 * compressed batch starts where it starts) are skipped; a trailing partial
 * batch (cut by partition_max_bytes, see proto.h Fetch) is dropped. */
static void fetch_records(brook_consumer_t *c, ctoppar_t *tp, const uint8_t *p, size_t len)
{
	size_t pos = 0;
	int delivered = 0;

	while (len - pos >= RECORD_BATCH_LOG_OVERHEAD) {
		record_batch_header_t h;
		record_batch_reader_t rd;
		record_t rec;
		brook_err_t err;
		size_t size;

		if (len - pos < RECORD_BATCH_HEADER_SIZE) {
			/* partial header; batchLength (bytes 8..11) says how much the
			 * next fetch must ask for if this is the first batch */
			size = RECORD_BATCH_LOG_OVERHEAD + (size_t)be32_get(p + pos + 8);
			if (pos == 0 && size <= INT32_MAX)
				tp->max_bytes_next = (int32_t)size;
			break;
		}
		if ((err = record_batch_header_parse(p + pos, len - pos, &h))) {
			emit(c, event_new(tp->topic, tp->id, BROOK_ERR_CORRUPT_MESSAGE, tp->offset,
					  "%s [%d]: malformed batch header at offset %" PRId64,
					  tp->topic, (int)tp->id, tp->offset));
			tp->backoff_until = conn_now_ms() + c->c.conf.fetch_error_backoff_ms;
			return;
		}
		size = record_batch_size(&h);
		if (size > len - pos) {
			/* The first batch did not fit the limit: ask for all of it
			 * next time, or we would never move on. */
			if (pos == 0 && size <= INT32_MAX)
				tp->max_bytes_next = (int32_t)size;
			break;
		}
		if (record_batch_last_offset(&h) < tp->offset) {
			pos += size;
			continue;
		}
		if (h.attributes & RECORD_ATTR_CONTROL) {
			tp->offset = record_batch_last_offset(&h) + 1;
			pos += size;
			continue;
		}
		if ((err = record_batch_reader_init(&rd, p + pos, size, MAX_INFLATED))) {
			brook_err_t code = err;

			if (err == BROOK_ERR__BAD_MSG)
				code = BROOK_ERR_CORRUPT_MESSAGE;
			emit(c, event_new(tp->topic, tp->id, code, h.base_offset,
					  "%s [%d]: batch at offset %" PRId64 " rejected: %s",
					  tp->topic, (int)tp->id, h.base_offset,
					  brook_err_str(err)));
			tp->backoff_until = conn_now_ms() + c->c.conf.fetch_error_backoff_ms;
			return;
		}
		while ((err = record_batch_reader_next(&rd, &rec)) == BROOK_ERR_NO_ERROR) {
			cmsg_t *m;

			if (rec.offset < tp->offset)
				continue;
			m = message_new(tp->topic, tp->id, &rec);
			if (!m) {
				err = BROOK_ERR__NOMEM;
				break;
			}
			mq_push(&c->out, m);
			tp->offset = rec.offset + 1;
			delivered = 1;
		}
		record_batch_reader_destroy(&rd);
		if (err != BROOK_ERR__PARTITION_EOF) {
			emit(c, event_new(tp->topic, tp->id,
					  err == BROOK_ERR__NOMEM ? err : BROOK_ERR_CORRUPT_MESSAGE,
					  tp->offset, "%s [%d]: batch at offset %" PRId64 ": %s",
					  tp->topic, (int)tp->id, h.base_offset,
					  brook_err_str(err)));
			tp->backoff_until = conn_now_ms() + c->c.conf.fetch_error_backoff_ms;
			return;
		}
		/* offsets removed by compaction: go past the batch anyway */
		if (tp->offset <= record_batch_last_offset(&h))
			tp->offset = record_batch_last_offset(&h) + 1;
		pos += size;
	}
	if (pos > 0)
		tp->max_bytes_next = 0;
	if (delivered)
		tp->eof_sent = 0;
}

static void offset_reset(brook_consumer_t *c, ctoppar_t *tp)
{
	const char *policy = c->c.conf.auto_offset_reset;

	if (tp->tail_clamp) {
		/* "the last N" reached before the log start: start at the start */
		tp->tail_clamp = 0;
		tp->query_ts = PROTO_TS_EARLIEST;
		set_state(c, tp, CONSUMER_QUERY);
		return;
	}
	if (strcmp(policy, "none") == 0) {
		emit(c, event_new(tp->topic, tp->id, BROOK_ERR_OFFSET_OUT_OF_RANGE, tp->offset,
				  "%s [%d]: offset %" PRId64 " is out of range "
				  "(auto.offset.reset=none)", tp->topic, (int)tp->id, tp->offset));
		set_state(c, tp, CONSUMER_STOPPED);
		return;
	}
	client_log(&c->c, BROOK_LOG_INFO,
		   "%s [%d]: offset %" PRId64 " out of range, resetting to %s", tp->topic,
		   (int)tp->id, tp->offset, policy);
	tp->query_ts = strcmp(policy, "earliest") == 0 ? PROTO_TS_EARLIEST : PROTO_TS_LATEST;
	set_state(c, tp, CONSUMER_QUERY);
}

static void fetch_partition(brook_consumer_t *c, ctoppar_t *tp, const msgpack_object *po)
{
	int64_t code = 0, hwm = -1;
	const char *records = NULL;
	uint32_t len = 0;

	if (proto_get_int(po, "error_code", 1, INT16_MIN, INT16_MAX, &code, NULL, 0) ||
	    proto_get_int(po, "high_watermark", 0, -1, INT64_MAX, &hwm, NULL, 0) ||
	    proto_get_bin(po, "records", 0, &records, &len, NULL, 0)) {
		leader_trouble(c, tp, BROOK_ERR__BAD_MSG);
		return;
	}
	if (code == BROOK_ERR_OFFSET_OUT_OF_RANGE) {
		offset_reset(c, tp);
		return;
	}
	if (code) {
		if (leader_err((brook_err_t)code)) {
			leader_trouble(c, tp, (brook_err_t)code);
			return;
		}
		emit(c, event_new(tp->topic, tp->id, (brook_err_t)code, tp->offset,
				  "%s [%d]: fetch failed: %s", tp->topic, (int)tp->id,
				  brook_err_str((brook_err_t)code)));
		tp->backoff_until = conn_now_ms() + c->c.conf.fetch_error_backoff_ms;
		return;
	}
	tp->hwm = hwm;
	if (records && len)
		fetch_records(c, tp, (const uint8_t *)records, len);
	if (hwm >= 0 && tp->offset >= hwm && !tp->eof_sent && c->c.conf.enable_partition_eof &&
	    tp->state == CONSUMER_ACTIVE) {
		emit(c, event_new(tp->topic, tp->id, BROOK_ERR__PARTITION_EOF, tp->offset,
				  "%s [%d]: reached end at offset %" PRId64, tp->topic, (int)tp->id,
				  tp->offset));
		tp->eof_sent = 1;
	}
}

/* A whole Fetch request failed for tp. */
static void fetch_failed(brook_consumer_t *c, ctoppar_t *tp, brook_err_t err)
{
	if (leader_err(err)) {
		leader_trouble(c, tp, err);
		return;
	}
	emit(c, event_new(tp->topic, tp->id, err, tp->offset, "%s [%d]: fetch failed: %s",
			  tp->topic, (int)tp->id, brook_err_str(err)));
	tp->backoff_until = conn_now_ms() + c->c.conf.fetch_error_backoff_ms;
}

static void fetch_done(conn_t *conn, brook_err_t err, const msgpack_object *body, void *opaque)
{
	creq_t *r = opaque;
	brook_consumer_t *c = r->c;
	const msgpack_object_array *resps = NULL;
	fetch_broker_t *fb = fb_get(c, r->leader);
	int64_t top = 0;

	(void)conn;
	if (fb)
		fb->inflight = 0;
	for (size_t i = 0; i < r->n; i++)
		r->e[i].tp->busy = 0;
	if (err == BROOK_ERR__CLOSED) {
		creq_free(r);
		return;
	}
	if (!err && (proto_get_int(body, "error_code", 0, INT16_MIN, INT16_MAX, &top, NULL, 0) ||
		     (!top && proto_get_array(body, "responses", 1, &resps, NULL, 0))))
		err = BROOK_ERR__BAD_MSG;
	if (!err && top)
		err = (brook_err_t)top;
	if (err) {
		client_log(&c->c, BROOK_LOG_DEBUG, "fetch from %s failed: %s", conn_name(conn),
			   brook_err_name(err));
		for (size_t i = 0; i < r->n; i++)
			if (r->e[i].gen == r->e[i].tp->gen)
				fetch_failed(c, r->e[i].tp, err);
		creq_free(r);
		publish(c);
		return;
	}
	for (uint32_t i = 0; i < resps->size; i++) {
		const msgpack_object_array *parts;
		const char *name;
		uint32_t name_len;

		if (proto_get_str(&resps->ptr[i], "name", 1, &name, &name_len, NULL, 0) ||
		    proto_get_array(&resps->ptr[i], "partitions", 1, &parts, NULL, 0))
			continue;
		for (uint32_t j = 0; j < parts->size; j++) {
			const msgpack_object *po = &parts->ptr[j];
			int64_t index = -1;
			creq_entry_t *e;

			if (proto_get_int(po, "partition_index", 1, 0, INT32_MAX, &index, NULL,
					  0) ||
			    !(e = match(r, name, name_len, index)))
				continue;
			/* drop answers to a fetch the partition moved away from */
			if (e->gen == e->tp->gen && e->tp->state == CONSUMER_ACTIVE &&
			    e->offset == e->tp->offset)
				fetch_partition(c, e->tp, po);
			e->tp = NULL;
		}
	}
	creq_free(r);
	publish(c);
}

/* ---- serving ---- */

typedef struct leader_reqs {
	int32_t leader;
	conn_t *conn;
	creq_t *lo, *fetch;
} leader_reqs_t;

static leader_reqs_t *lr_get(leader_reqs_t **v, size_t *n, size_t *cap, int32_t leader,
			     conn_t *conn)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].leader == leader)
			return &(*v)[i];
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		leader_reqs_t *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return NULL;
		*v = nv;
		*cap = nc;
	}
	(*v)[*n].leader = leader;
	(*v)[*n].conn = conn;
	(*v)[*n].lo = (*v)[*n].fetch = NULL;
	return &(*v)[(*n)++];
}

static void send_req(brook_consumer_t *c, conn_t *conn, creq_t *r, int fetch)
{
	brook_err_t err;
	int timeout = c->c.conf.request_timeout_ms + (fetch ? c->c.conf.fetch_max_wait_ms : 0);

	qsort(r->e, r->n, sizeof(*r->e), entry_cmp);
	err = conn_request(conn, fetch ? PROTO_API_FETCH : PROTO_API_LIST_OFFSETS, 0,
			   fetch ? pack_fetch : pack_list_offsets, r, timeout, 1,
			   fetch ? fetch_done : list_offsets_done, r);
	if (err) {
		client_log(&c->c, BROOK_LOG_WARNING, "cannot queue a request: %s",
			   brook_err_str(err));
		for (size_t i = 0; i < r->n; i++) {
			r->e[i].tp->busy = 0;
			r->e[i].tp->backoff_until = conn_now_ms() + c->c.conf.retry_backoff_ms;
		}
		creq_free(r);
		return;
	}
	if (fetch) {
		fetch_broker_t *fb = fb_get(c, r->leader);

		if (fb)
			fb->inflight = 1;
	} else {
		for (size_t i = 0; i < r->n; i++)
			set_state(c, r->e[i].tp, CONSUMER_QUERY_WAIT);
	}
}

static int64_t serve(client_t *cl, int64_t now)
{
	brook_consumer_t *c = cl->role_state;
	cassign_t *cmds, **pp;
	leader_reqs_t *lrs = NULL;
	size_t nlr = 0, caplr = 0;
	int64_t next = INT64_MAX;
	group_t *g;
	int full;

	pthread_mutex_lock(&cl->lock);
	g = c->group;
	pthread_mutex_unlock(&cl->lock);
	if (g)
		next = group_serve(g, now);
	for (ctoppar_t **pp2 = &c->parts, *prev = NULL; *pp2;) {
		ctoppar_t *tp = *pp2;

		if (tp->removed && !tp->busy) {
			*pp2 = tp->next;
			if (c->parts_tail == tp)
				c->parts_tail = prev;
			free(tp->topic);
			free(tp);
			continue;
		}
		prev = tp;
		pp2 = &tp->next;
	}
	pthread_mutex_lock(&cl->lock);
	cmds = c->cmds_head;
	c->cmds_head = c->cmds_tail = NULL;
	full = c->q.bytes >= c->queue_limit;
	c->paused = full;
	pthread_mutex_unlock(&cl->lock);
	while (cmds) {
		cassign_t *a = cmds;

		cmds = a->next;
		a->start_ms = now;
		a->next = c->waiting;
		c->waiting = a;
		client_want_topic(cl, a->topic);
	}
	for (pp = &c->waiting; *pp;) {
		cassign_t *a = *pp, *after = a->next;

		/* once settled, a belongs to the application thread, which may
		 * free it at once: read nothing from it afterwards */
		if (assign_try(c, a, now, &next))
			*pp = after;
		else
			pp = &a->next;
	}

	for (ctoppar_t *tp = c->parts; tp; tp = tp->next) {
		const client_md_topic_t *md;
		int32_t leader;
		conn_t *conn;
		leader_reqs_t *lr;
		fetch_broker_t *fb;

		if (tp->busy || tp->state == CONSUMER_STOPPED || tp->state == CONSUMER_QUERY_WAIT)
			continue;
		if (tp->state == CONSUMER_ACTIVE && full)
			continue;
		if (now < tp->backoff_until) {
			if (tp->backoff_until < next)
				next = tp->backoff_until;
			continue;
		}
		md = client_md_topic(cl, tp->topic);
		leader = md && tp->id < md->partition_cnt ? md->partitions[tp->id].leader : -1;
		if (!(conn = client_broker_conn(cl, leader))) {
			client_md_refresh(cl, "partition without a leader");
			continue;
		}
		if (tp->state == CONSUMER_ACTIVE) {
			fb = fb_get(c, leader);
			if (!fb || fb->inflight)
				continue; /* its answer wakes us */
		}
		if (!(lr = lr_get(&lrs, &nlr, &caplr, leader, conn)))
			continue;
		if (tp->state == CONSUMER_QUERY) {
			if (!lr->lo)
				lr->lo = creq_new(c, leader);
			if (lr->lo)
				creq_add(lr->lo, tp);
		} else {
			if (!lr->fetch)
				lr->fetch = creq_new(c, leader);
			if (lr->fetch)
				creq_add(lr->fetch, tp);
		}
	}
	for (size_t i = 0; i < nlr; i++) {
		if (lrs[i].lo)
			send_req(c, lrs[i].conn, lrs[i].lo, 0);
		if (lrs[i].fetch)
			send_req(c, lrs[i].conn, lrs[i].fetch, 1);
	}
	free(lrs);
	publish(c);
	return next;
}

static const client_role_t consumer_role = {
	.name = "consumer",
	.serve = serve,
	.on_metadata = on_metadata,
};

/* ---- public API ---- */

brook_consumer_t *brook_consumer_new(const brook_conf_t *conf, char *errstr, size_t errstr_size)
{
	brook_consumer_t *c = calloc(1, sizeof(*c));

	if (!c) {
		brook_errstr(errstr, errstr_size, "out of memory");
		return NULL;
	}
	if (client_init(&c->c, conf, 0, &consumer_role, c, errstr, errstr_size)) {
		free(c);
		return NULL;
	}
	c->queue_limit = (size_t)c->c.conf.queued_max_messages_kbytes * 1024;
	c->on_assign = conf->on_assign;
	c->on_revoke = conf->on_revoke;
	c->rebalance_opaque = conf->rebalance_opaque;
	c->commit_cb = conf->commit_cb;
	c->commit_opaque = conf->commit_opaque;
	if (client_start(&c->c, errstr, errstr_size)) {
		client_close_conns(&c->c);
		client_destroy(&c->c);
		free(c);
		return NULL;
	}
	return c;
}

brook_err_t brook_consumer_assign(brook_consumer_t *c, const char *topic, int32_t partition,
				  int64_t offset, char *errstr, size_t errstr_size)
{
	cassign_t *a;
	brook_err_t err;

	if (c && c->group) {
		brook_errstr(errstr, errstr_size, "the consumer is subscribed to a group");
		return BROOK_ERR__STATE;
	}
	if (!c || !topic || !*topic || partition < -1 ||
	    (offset < 0 && offset != BROOK_OFFSET_BEGINNING && offset != BROOK_OFFSET_END &&
	     offset > BROOK_OFFSET_TAIL_BASE)) {
		brook_errstr(errstr, errstr_size, "invalid topic, partition or offset");
		return BROOK_ERR__INVALID_ARG;
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->topic = strdup(topic))) {
		free(a);
		brook_errstr(errstr, errstr_size, "out of memory");
		return BROOK_ERR__NOMEM;
	}
	a->partition = partition;
	a->offset = offset;
	pthread_mutex_lock(&c->c.lock);
	if (c->cmds_tail)
		c->cmds_tail->next = a;
	else
		c->cmds_head = a;
	c->cmds_tail = a;
	pthread_mutex_unlock(&c->c.lock);
	client_wakeup(&c->c);
	/* The I/O thread settles every assignment within
	 * topic.metadata.propagation.max.ms, so no timeout is needed here. */
	pthread_mutex_lock(&c->c.lock);
	while (!a->done)
		client_cond_wait(&c->c, INT64_MAX);
	pthread_mutex_unlock(&c->c.lock);
	err = a->err;
	if (err)
		brook_errstr(errstr, errstr_size, "%s", a->errstr[0] ? a->errstr :
			     brook_err_str(err));
	free(a->topic);
	free(a);
	return err;
}

int brook_consumer_assignment_count(brook_consumer_t *c)
{
	int n;

	pthread_mutex_lock(&c->c.lock);
	n = c->assigned;
	pthread_mutex_unlock(&c->c.lock);
	return n;
}

brook_err_t brook_consumer_poll(brook_consumer_t *c, int timeout_ms, brook_message_t **out)
{
	int64_t deadline = client_deadline(timeout_ms);
	group_t *g = c->group;
	int wake = 0;
	cmsg_t *m;

	*out = NULL;
	pthread_mutex_lock(&c->c.lock);
	if (g)
		group_app_poll_begin_locked(g);
	for (;;) {
		/* rebalance callbacks run here, on the application's thread,
		 * before any message of a partition gained is handed out */
		if (g && group_app_has_events_locked(g)) {
			pthread_mutex_unlock(&c->c.lock);
			group_app_run_events(g);
			pthread_mutex_lock(&c->c.lock);
			continue;
		}
		if (c->q.cnt || timeout_ms == 0)
			break;
		if (client_cond_wait(&c->c, deadline) == ETIMEDOUT)
			break;
	}
	m = mq_pop(&c->q);
	if (m && g && m->m.err == BROOK_ERR_NO_ERROR)
		group_app_on_message_locked(g, &m->m);
	if (c->paused && c->q.bytes < c->queue_limit) {
		c->paused = 0;
		wake = 1;
	}
	pthread_mutex_unlock(&c->c.lock);
	if (wake)
		client_wakeup(&c->c);
	if (!m)
		return BROOK_ERR__TIMED_OUT;
	m->next = NULL;
	*out = &m->m;
	return BROOK_ERR_NO_ERROR;
}

void brook_message_free(brook_message_t *m)
{
	/* m is the first member of its cmsg_t */
	free(m);
}

brook_err_t brook_consumer_subscribe(brook_consumer_t *c, const char *const *topics,
				     size_t cnt, char *errstr, size_t errstr_size)
{
	brook_conf_t conf;
	brook_err_t err;
	group_t *g;
	int assigned;

	if (!c) {
		brook_errstr(errstr, errstr_size, "NULL consumer");
		return BROOK_ERR__INVALID_ARG;
	}
	pthread_mutex_lock(&c->c.lock);
	assigned = c->assigned || c->cmds_head;
	pthread_mutex_unlock(&c->c.lock);
	if (c->group || assigned) {
		brook_errstr(errstr, errstr_size, c->group ? "already subscribed"
			     : "the consumer has partitions assigned by hand");
		return BROOK_ERR__INVALID_ARG;
	}
	memset(&conf, 0, sizeof(conf));
	conf.c = c->c.conf;
	conf.on_assign = c->on_assign;
	conf.on_revoke = c->on_revoke;
	conf.rebalance_opaque = c->rebalance_opaque;
	conf.commit_cb = c->commit_cb;
	conf.commit_opaque = c->commit_opaque;
	if ((err = group_new(c, &c->c, &conf, topics, cnt, &g, errstr, errstr_size)))
		return err;
	/* the I/O thread reads c->group in serve(): publish it under the lock */
	pthread_mutex_lock(&c->c.lock);
	c->group = g;
	pthread_mutex_unlock(&c->c.lock);
	client_wakeup(&c->c);
	return BROOK_ERR_NO_ERROR;
}

brook_err_t brook_consumer_commit(brook_consumer_t *c, const brook_topic_partition_t *offsets,
				  size_t cnt, int async)
{
	if (!c || (!offsets && cnt))
		return BROOK_ERR__INVALID_ARG;
	if (!c->group)
		return BROOK_ERR__STATE;
	return group_app_commit(c->group, offsets, cnt, async);
}

brook_err_t brook_consumer_commit_message(brook_consumer_t *c, const brook_message_t *m,
					  int async)
{
	brook_topic_partition_t tp;

	if (!m || m->err || !m->topic)
		return BROOK_ERR__INVALID_ARG;
	tp.topic = m->topic;
	tp.partition = m->partition;
	tp.offset = m->offset + 1;
	tp.err = BROOK_ERR_NO_ERROR;
	return brook_consumer_commit(c, &tp, 1, async);
}

brook_err_t brook_consumer_committed(brook_consumer_t *c, const char *topic, int32_t partition,
				     int64_t *offset, int timeout_ms)
{
	if (!c || !topic || partition < 0 || !offset)
		return BROOK_ERR__INVALID_ARG;
	if (!c->group)
		return BROOK_ERR__STATE;
	return group_app_committed(c->group, topic, partition, offset, timeout_ms);
}

brook_err_t brook_consumer_assignment(brook_consumer_t *c, brook_topic_partition_t **parts,
				      size_t *cnt)
{
	if (!c || !parts || !cnt)
		return BROOK_ERR__INVALID_ARG;
	*parts = NULL;
	*cnt = 0;
	if (!c->group)
		return BROOK_ERR__STATE;
	return group_app_assignment(c->group, parts, cnt);
}

void brook_consumer_member_id(brook_consumer_t *c, char *buf, size_t size)
{
	if (!buf || !size)
		return;
	buf[0] = '\0';
	if (c && c->group)
		group_app_member_id(c->group, buf, size);
}

brook_err_t brook_consumer_close(brook_consumer_t *c)
{
	if (!c)
		return BROOK_ERR__INVALID_ARG;
	if (!c->group)
		return BROOK_ERR_NO_ERROR;
	return group_app_close(c->group);
}

void brook_consumer_free(brook_consumer_t *c)
{
	if (!c)
		return;
	if (c->group)
		group_app_close(c->group);
	client_stop(&c->c);
	group_free(c->group);
	c->group = NULL;
	client_close_conns(&c->c);
	while (c->waiting) {
		cassign_t *a = c->waiting;

		c->waiting = a->next;
		assign_done(c, a, BROOK_ERR__CLOSED, "consumer closed");
	}
	while (c->cmds_head) {
		cassign_t *a = c->cmds_head;

		c->cmds_head = a->next;
		assign_done(c, a, BROOK_ERR__CLOSED, "consumer closed");
	}
	while (c->parts) {
		ctoppar_t *tp = c->parts;

		c->parts = tp->next;
		free(tp->topic);
		free(tp);
	}
	mq_free(&c->out);
	mq_free(&c->q);
	free(c->fb);
	client_destroy(&c->c);
	free(c);
}
