/* replica.c - replication: the leader's view of its followers, the ISR and
 * the high watermark; the followers' fetchers (see replica.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "blog.h"
#include "broker.h"
#include "conn.h"
#include "peer.h"
#include "log_checkpoint.h"
#include "proto.h"
#include "record.h"
#include "replica.h"
#include "zk_json.h"
#include "zk_paths.h"

#define HW_CHECKPOINT "replication-offset-checkpoint"
/* A fetcher whose every partition failed waits this long before the next
 * request, so a leader that does not know it leads yet is not hammered. */
#define FETCH_ERROR_BACKOFF_S 0.1
/* After a lost connection. */
#define FETCH_CONN_BACKOFF_S 0.5

typedef struct fetcher fetcher_t;

/* The checkpointed high watermarks of one log dir, read once. */
typedef struct hw_file {
	char *dir;
	log_checkpoint_entry_t *entries;
	size_t n;
} hw_file_t;

struct replica_mgr {
	broker_t *b;
	fetcher_t *fetchers;
	ev_timer isr_timer;
	int64_t isr_last_check_ms;
	hw_file_t *hw_files;
	size_t nhw_files;
};

struct fetcher {
	replica_mgr_t *m;
	fetcher_t *next;
	int32_t leader;
	peer_t peer;
	int inflight;
	int closing;
	ev_timer retry;
};

/* One partition of a fetch request: the name is copied, because the
 * partition may be gone when the response comes. */
typedef struct fetch_item {
	char topic[LOG_TOPIC_MAX + 1];
	int32_t partition;
	int64_t offset;
	int32_t epoch;
} fetch_item_t;

typedef struct fetch_req {
	fetcher_t *f;
	size_t n;
	fetch_item_t items[];
} fetch_req_t;

static int64_t mono_ms(void)
{
	return conn_now_ms();
}

static int contains(const int32_t *ids, int32_t n, int32_t id)
{
	for (int32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* --- leader side ----------------------------------------------------------------- */

static follower_t *follower_find(partition_t *p, int32_t id)
{
	for (int32_t i = 0; i < p->nfollowers; i++)
		if (p->followers[i].id == id)
			return &p->followers[i];
	return NULL;
}

/* Kafka starts every follower as "caught up now" when it becomes leader,
 * so a follower that never fetches leaves the ISR after the lag bound. */
static void followers_reset(partition_t *p, int32_t self)
{
	int64_t now = mono_ms();

	p->nfollowers = 0;
	for (int32_t i = 0; i < p->nreplicas; i++) {
		follower_t *f;

		if (p->replicas[i] == self)
			continue;
		f = &p->followers[p->nfollowers++];
		f->id = p->replicas[i];
		f->leo = -1;
		f->last_caught_up_ms = now;
		f->last_fetch_leader_leo = -1;
		f->last_fetch_ms = now;
	}
}

void replica_update_hw(broker_t *b, partition_t *p)
{
	int64_t hw = log_end_offset(p->log);

	if (!p->is_leader)
		return;
	for (int32_t i = 0; i < p->nisr; i++) {
		follower_t *f;

		if (p->isr[i] == b->id)
			continue;
		f = follower_find(p, p->isr[i]);
		/* An ISR member we have not heard from since we lead holds
		 * the high watermark where it is. */
		if (!f || f->leo < 0) {
			hw = p->high_watermark;
			break;
		}
		if (f->leo < hw)
			hw = f->leo;
	}
	if (hw > p->high_watermark) {
		p->high_watermark = hw;
		broker_partition_hw_advanced(b, p);
	}
}

typedef struct isr_write {
	broker_t *b;
	char topic[LOG_TOPIC_MAX + 1];
	int32_t partition;
	int32_t leader_epoch;
	int32_t nisr;
	int32_t isr[PARTITION_MAX_REPLICAS];
	int32_t old_nisr;
} isr_write_t;

static void on_notified(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	(void)s;
	(void)opaque;
	if (err)
		blog(BLOG_WARN, "replica", "cannot announce an ISR change: %s", brook_err_str(err));
	else
		blog(BLOG_DEBUG, "replica", "announced %s", path);
}

/* Tells the controller (Kafka's isr_change_notification): it propagates
 * ISR changes to the brokers that do not watch the state znodes. */
static void announce_isr_change(broker_t *b, const char *topic, int32_t partition)
{
	char json[LOG_TOPIC_MAX + 128];
	zk_session_t *zk = broker_zk_session(b->zk);

	snprintf(json, sizeof(json), "{\"version\":1,\"partitions\":[{\"topic\":\"%s\",\"partition\":%d}]}",
		 topic, (int)partition);
	if (zk && zk_create(zk, ZK_PATH_ISR_CHANGE_PREFIX, json, strlen(json),
			    ZK_PERSISTENT | ZK_SEQUENTIAL, on_notified, NULL))
		blog(BLOG_WARN, "replica", "%s-%d: cannot announce the ISR change", topic,
		     (int)partition);
}

static void format_ids(char *buf, size_t size, const int32_t *ids, int32_t n)
{
	size_t off = 0;

	buf[0] = 0;
	for (int32_t i = 0; i < n && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%d", i ? "," : "", (int)ids[i]);
}

static void on_isr_written(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	isr_write_t *w = opaque;
	broker_t *b = w->b;
	partition_t *p = partition_find(&b->parts, w->topic, w->partition);
	char ids[512];

	(void)s;
	if (p)
		p->isr_write_inflight = 0;
	format_ids(ids, sizeof(ids), w->isr, w->nisr);
	if (err) {
		/* _VERSION: the controller (or a new leader) changed the state
		 * first; its watch brings the new one and we decide again. */
		blog(err == BROOK_ERR__VERSION ? BLOG_INFO : BLOG_WARN, "replica",
		     "%s-%d: ISR change to [%s] not written: %s", w->topic, (int)w->partition, ids,
		     brook_err_str(err));
		free(w);
		return;
	}
	blog(BLOG_INFO, "replica", "%s-%d: ISR %s to [%s]", w->topic, (int)w->partition,
	     w->nisr < w->old_nisr ? "shrunk" : "expanded", ids);
	if (p && p->is_leader && p->leader_epoch == w->leader_epoch) {
		memcpy(p->isr, w->isr, (size_t)w->nisr * sizeof(*p->isr));
		p->nisr = w->nisr;
		if (stat)
			p->state_version = stat->version;
		replica_update_hw(b, p);
	}
	announce_isr_change(b, w->topic, w->partition);
	free(w);
}

/* Writes p's state with a new ISR, conditional on the version we know. */
static void isr_change(broker_t *b, partition_t *p, const int32_t *isr, int32_t n)
{
	zk_session_t *zk = broker_zk_session(b->zk);
	zk_partition_state_t st;
	isr_write_t *w;
	char path[ZK_PATH_MAX], *json = NULL;

	if (!zk || p->isr_write_inflight || p->state_version < 0 || n < 1 ||
	    n > ZK_MAX_REPLICAS)
		return;
	memset(&st, 0, sizeof(st));
	st.version = 1;
	st.controller_epoch = p->controller_epoch;
	st.leader = b->id;
	st.leader_epoch = p->leader_epoch;
	st.isr_cnt = n;
	memcpy(st.isr, isr, (size_t)n * sizeof(*isr));
	if (!(w = calloc(1, sizeof(*w))) || zk_json_partition_state_encode(&st, &json) ||
	    zk_path_partition_state(path, sizeof(path), p->topic, p->id)) {
		free(w);
		free(json);
		blog(BLOG_ERROR, "replica", "%s-%d: cannot build the ISR change", p->topic, p->id);
		return;
	}
	w->b = b;
	memcpy(w->topic, p->topic, sizeof(w->topic));
	w->partition = p->id;
	w->leader_epoch = p->leader_epoch;
	w->nisr = n;
	w->old_nisr = p->nisr;
	memcpy(w->isr, isr, (size_t)n * sizeof(*isr));
	if (zk_set(zk, path, json, strlen(json), p->state_version, on_isr_written, w)) {
		blog(BLOG_WARN, "replica", "%s-%d: cannot send the ISR change", p->topic, p->id);
		free(w);
	} else {
		p->isr_write_inflight = 1;
	}
	free(json);
}

static void maybe_expand_isr(broker_t *b, partition_t *p, const follower_t *f)
{
	int32_t isr[PARTITION_MAX_REPLICAS];

	/* Kafka: in once its log end reached the high watermark. */
	if (contains(p->isr, p->nisr, f->id) || f->leo < p->high_watermark ||
	    p->nisr >= PARTITION_MAX_REPLICAS)
		return;
	memcpy(isr, p->isr, (size_t)p->nisr * sizeof(*isr));
	isr[p->nisr] = f->id;
	isr_change(b, p, isr, p->nisr + 1);
}

void replica_follower_fetched(broker_t *b, partition_t *p, int32_t replica_id,
			      int64_t fetch_offset)
{
	follower_t *f;
	int64_t now = mono_ms(), leo;

	if (!p->is_leader || !(f = follower_find(p, replica_id)))
		return;
	leo = log_end_offset(p->log);
	/* Kafka's Replica.updateFetchState: caught up now when the fetch
	 * reaches our log end; caught up at the previous fetch when it
	 * reaches what our log end was then. */
	if (fetch_offset >= leo)
		f->last_caught_up_ms = now;
	else if (f->last_fetch_leader_leo >= 0 && fetch_offset >= f->last_fetch_leader_leo)
		f->last_caught_up_ms = f->last_fetch_ms;
	f->last_fetch_leader_leo = leo;
	f->last_fetch_ms = now;
	f->leo = fetch_offset <= leo ? fetch_offset : leo;
	maybe_expand_isr(b, p, f);
	replica_update_hw(b, p);
}

static void on_isr_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	replica_mgr_t *m = t->data;
	broker_t *b = m->b;
	int64_t now = mono_ms(), lag = b->conf->replica_lag_time_max_ms;

	(void)loop;
	(void)revents;
	/* A check that comes late (this process was stopped or starved) would
	 * judge followers by fetches it has not read yet: skip one round. */
	if (m->isr_last_check_ms && now - m->isr_last_check_ms > 2 * (int64_t)(t->repeat * 1000.0) + 100) {
		m->isr_last_check_ms = now;
		return;
	}
	m->isr_last_check_ms = now;
	for (size_t i = 0; i < b->parts.n; i++) {
		partition_t *p = b->parts.parts[i];
		int32_t isr[PARTITION_MAX_REPLICAS], n = 0;

		if (!p->is_leader || p->isr_write_inflight || p->nisr <= 1)
			continue;
		for (int32_t j = 0; j < p->nisr; j++) {
			follower_t *f = p->isr[j] == b->id ? NULL : follower_find(p, p->isr[j]);

			/* Kafka's Replica.isCaughtUp: at our log end, or caught up
			 * within the lag bound */
			if (f && f->leo != log_end_offset(p->log) && now - f->last_caught_up_ms > lag) {
				blog(BLOG_INFO, "replica",
				     "%s-%d: follower %d has not caught up for %" PRId64
				     " ms (log end %" PRId64 ", ours %" PRId64 ")",
				     p->topic, p->id, (int)f->id, now - f->last_caught_up_ms, f->leo,
				     log_end_offset(p->log));
				continue;
			}
			isr[n++] = p->isr[j];
		}
		if (n < p->nisr && n >= 1)
			isr_change(b, p, isr, n);
	}
}

/* --- follower side ------------------------------------------------------------------ */

static void fetcher_kick(fetcher_t *f);

static fetcher_t *fetcher_find(replica_mgr_t *m, int32_t leader)
{
	for (fetcher_t *f = m->fetchers; f; f = f->next)
		if (f->leader == leader)
			return f;
	return NULL;
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	fetcher_kick(t->data);
}

static void fetcher_backoff(fetcher_t *f, double s)
{
	ev_timer_stop(f->m->b->loop, &f->retry);
	ev_timer_set(&f->retry, s, 0.);
	ev_timer_start(f->m->b->loop, &f->retry);
}

static fetcher_t *fetcher_get(replica_mgr_t *m, int32_t leader)
{
	fetcher_t *f = fetcher_find(m, leader);

	if (f)
		return peer_refresh(&f->peer, m->b) == 0 ? f : NULL;
	if (!(f = calloc(1, sizeof(*f))))
		return NULL;
	if (peer_open(&f->peer, m->b, leader, "replica fetcher")) {
		free(f);
		return NULL;
	}
	f->m = m;
	f->leader = leader;
	ev_timer_init(&f->retry, on_retry, 0., 0.);
	f->retry.data = f;
	f->next = m->fetchers;
	m->fetchers = f;
	blog(BLOG_INFO, "replica", "fetching from leader %d at %s:%d", (int)leader, f->peer.host,
	     f->peer.port);
	return f;
}

static void fetcher_free(fetcher_t *f)
{
	replica_mgr_t *m = f->m;

	for (fetcher_t **pp = &m->fetchers; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	f->closing = 1;
	ev_timer_stop(m->b->loop, &f->retry);
	peer_close(&f->peer); /* fails the fetch in flight: its callback sees closing */
	free(f);
}

/* Packs "topics": [{name, partitions: [...]}] from r's items, which come
 * grouped by topic (the partition table is sorted); one_part packs the map
 * of one partition. Both Fetch and OffsetsForLeaderEpoch are shaped so. */
static void pack_topics(msgpack_packer *pk, const fetch_req_t *r,
			void (*one_part)(msgpack_packer *pk, const fetch_req_t *r,
					 const fetch_item_t *it))
{
	size_t ntopics = 0;

	for (size_t i = 0; i < r->n; i++)
		if (i == 0 || strcmp(r->items[i].topic, r->items[i - 1].topic))
			ntopics++;
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, ntopics);
	for (size_t i = 0; i < r->n;) {
		size_t j = i;

		while (j < r->n && strcmp(r->items[j].topic, r->items[i].topic) == 0)
			j++;
		msgpack_pack_map(pk, 2);
		proto_pack_kv_str(pk, "name", r->items[i].topic);
		proto_pack_key(pk, "partitions");
		msgpack_pack_array(pk, j - i);
		for (size_t k = i; k < j; k++)
			one_part(pk, r, &r->items[k]);
		i = j;
	}
}

static void pack_fetch_part(msgpack_packer *pk, const fetch_req_t *r, const fetch_item_t *it)
{
	msgpack_pack_map(pk, 4);
	proto_pack_kv_int(pk, "partition", it->partition);
	proto_pack_kv_int(pk, "fetch_offset", it->offset);
	proto_pack_kv_int(pk, "partition_max_bytes", r->f->m->b->conf->replica_fetch_max_bytes);
	proto_pack_kv_int(pk, "current_leader_epoch", it->epoch);
}

static void pack_fetch(msgpack_packer *pk, void *arg)
{
	fetch_req_t *r = arg;
	const broker_conf_t *c = r->f->m->b->conf;

	msgpack_pack_map(pk, 6);
	proto_pack_kv_int(pk, "replica_id", r->f->m->b->id);
	proto_pack_kv_int(pk, "max_wait_ms", c->replica_fetch_wait_max_ms);
	proto_pack_kv_int(pk, "min_bytes", 1);
	proto_pack_kv_int(pk, "max_bytes", c->replica_fetch_max_bytes);
	proto_pack_kv_int(pk, "isolation_level", 0);
	pack_topics(pk, r, pack_fetch_part);
}

/* The whole batches at the start of buf (a fetch may end with a cut one). */
static size_t whole_batches(const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		record_batch_header_t h;

		if (record_batch_header_parse(buf + off, len - off, &h) ||
		    record_batch_size(&h) > len - off)
			break;
		off += record_batch_size(&h);
	}
	return off;
}

static void follower_truncate(broker_t *b, partition_t *p, int64_t to, const char *why)
{
	char err[512];
	int64_t leo = log_end_offset(p->log);
	brook_err_t e;

	if (to >= leo)
		return;
	e = to < p->log->log_start_offset ? log_truncate_fully(p->log, to, err, sizeof(err))
					  : log_truncate_to(p->log, to, err, sizeof(err));
	if (e) {
		blog(BLOG_ERROR, "replica", "%s-%d: cannot truncate to %" PRId64 ": %s", p->topic,
		     p->id, to, err);
		p->offline = 1;
		return;
	}
	blog(BLOG_INFO, "replica", "%s-%d: truncated from %" PRId64 " to %" PRId64 " (%s)",
	     p->topic, p->id, leo, log_end_offset(p->log), why);
	if (p->epochs) {
		e = to < p->log->log_start_offset || log_end_offset(p->log) == p->log->log_start_offset
			    ? leader_epoch_clear(p->epochs, err, sizeof(err))
			    : leader_epoch_truncate_from_end(p->epochs, log_end_offset(p->log), err,
							    sizeof(err));
		if (e)
			blog(BLOG_WARN, "replica", "%s-%d: leader epochs: %s", p->topic, p->id, err);
	}
	if (p->high_watermark > log_end_offset(p->log))
		p->high_watermark = log_end_offset(p->log);
}

/* A follower learns the leader epochs from the batches it appends: each
 * new epoch starts at the first batch that carries it. */
static void note_epochs(partition_t *p, const uint8_t *buf, size_t len)
{
	int32_t latest = -1;
	size_t off = 0;

	if (!p->epochs)
		return;
	leader_epoch_latest(p->epochs, &latest);
	while (off < len) {
		record_batch_header_t h;
		char err[512];

		if (record_batch_header_parse(buf + off, len - off, &h))
			break;
		if (h.partition_leader_epoch > latest) {
			if (leader_epoch_assign(p->epochs, h.partition_leader_epoch, h.base_offset, err,
						sizeof(err)))
				blog(BLOG_WARN, "replica", "%s-%d: leader epochs: %s", p->topic, p->id,
				     err);
			latest = h.partition_leader_epoch;
		}
		off += record_batch_size(&h);
	}
}

/* One partition of a fetch response. */
static int handle_part(fetcher_t *f, const fetch_item_t *it, const msgpack_object *pm)
{
	broker_t *b = f->m->b;
	partition_t *p = partition_find(&b->parts, it->topic, it->partition);
	int64_t ec = 0, hw = -1, lso = -1;
	const char *rec = NULL;
	uint32_t rlen = 0;

	if (!p || p->is_leader || p->fetch_from != f->leader || p->offline ||
	    log_end_offset(p->log) != it->offset)
		return 0; /* changed while the fetch was out: the next one decides */
	if (proto_get_int(pm, "error_code", 1, INT16_MIN, INT16_MAX, &ec, NULL, 0) ||
	    proto_get_int(pm, "high_watermark", 0, -1, INT64_MAX, &hw, NULL, 0) ||
	    proto_get_int(pm, "log_start_offset", 0, -1, INT64_MAX, &lso, NULL, 0) ||
	    proto_get_bin(pm, "records", 0, &rec, &rlen, NULL, 0)) {
		blog(BLOG_WARN, "replica", "%s-%d: malformed fetch response from %d", p->topic,
		     p->id, (int)f->leader);
		p->fetch_error = 1;
		return -1;
	}
	if (ec == BROOK_ERR_OFFSET_OUT_OF_RANGE) {
		/* Behind the leader's log start: start over there. Ahead of
		 * its log end: cut back to what it has committed. */
		if (lso > it->offset)
			follower_truncate(b, p, lso, "behind the leader's log start");
		else if (hw >= 0 && hw < it->offset)
			follower_truncate(b, p, hw, "ahead of the leader");
		if (lso > log_end_offset(p->log)) {
			char err[512];

			if (log_truncate_fully(p->log, lso, err, sizeof(err)) == BROOK_ERR_NO_ERROR)
				blog(BLOG_INFO, "replica", "%s-%d: log restarted at %" PRId64,
				     p->topic, p->id, lso);
		}
		return 0;
	}
	if (ec) {
		if (!p->fetch_error)
			blog(BLOG_INFO, "replica", "%s-%d: leader %d answered %s", p->topic, p->id,
			     (int)f->leader, brook_err_name((brook_err_t)ec));
		p->fetch_error = 1;
		return -1;
	}
	p->fetch_error = 0;
	rlen = (uint32_t)whole_batches((const uint8_t *)rec, rlen);
	if (rlen > 0) {
		log_append_opts_t opts = { .assign_offsets = 0, .leader_epoch = -1,
					   .now_ms = broker_now_ms() };
		log_append_info_t info;
		char err[512];
		brook_err_t e;

		/* assign_offsets 0: the log only reads the batches (log.h) */
		e = log_append(p->log, (uint8_t *)(uintptr_t)rec, rlen, &opts, &info, err,
			       sizeof(err));
		if (e) {
			blog(BLOG_ERROR, "replica", "%s-%d: cannot append what leader %d sent: %s",
			     p->topic, p->id, (int)f->leader, err);
			if (e == BROOK_ERR__NO_SPACE || e == BROOK_ERR__IO || e == BROOK_ERR__READ_ONLY)
				p->offline = 1;
			p->fetch_error = 1;
			return -1;
		}
		if (log_maybe_flush(p->log, opts.now_ms, err, sizeof(err)))
			blog(BLOG_ERROR, "log", "%s-%d: flush failed: %s", p->topic, p->id, err);
		note_epochs(p, (const uint8_t *)rec, rlen);
	}
	if (hw >= 0) {
		int64_t leo = log_end_offset(p->log);

		p->high_watermark = hw < leo ? hw : leo;
	}
	return 0;
}

static void on_fetch_response(conn_t *c, brook_err_t err, const msgpack_object *body, void *opaque)
{
	fetch_req_t *r = opaque;
	fetcher_t *f = r->f;
	const msgpack_object_array *topics;
	size_t ok = 0;

	(void)c;
	if (f->closing) {
		free(r);
		return;
	}
	f->inflight = 0;
	if (err || !body || proto_get_array(body, "responses", 1, &topics, NULL, 0)) {
		if (err != BROOK_ERR__CLOSED)
			blog(BLOG_DEBUG, "replica", "fetch from leader %d failed: %s", (int)f->leader,
			     brook_err_str(err ? err : BROOK_ERR__BAD_MSG));
		free(r);
		fetcher_backoff(f, FETCH_CONN_BACKOFF_S);
		return;
	}
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object_array *ps;
		const char *name;
		uint32_t nlen;

		if (proto_get_str(&topics->ptr[i], "name", 1, &name, &nlen, NULL, 0) ||
		    proto_get_array(&topics->ptr[i], "partitions", 1, &ps, NULL, 0))
			continue;
		for (uint32_t j = 0; j < ps->size; j++) {
			int32_t idx;

			if (proto_get_i32(&ps->ptr[j], "partition_index", 1, &idx, NULL, 0))
				continue;
			for (size_t k = 0; k < r->n; k++) {
				const fetch_item_t *it = &r->items[k];

				if (it->partition == idx && strlen(it->topic) == nlen &&
				    memcmp(it->topic, name, nlen) == 0) {
					if (handle_part(f, it, &ps->ptr[j]) == 0)
						ok++;
					break;
				}
			}
		}
	}
	free(r);
	if (ok == 0)
		fetcher_backoff(f, FETCH_ERROR_BACKOFF_S);
	else
		fetcher_kick(f);
}

/* --- truncation by leader epoch (OffsetsForLeaderEpoch) --- */

static void pack_epoch_part(msgpack_packer *pk, const fetch_req_t *r, const fetch_item_t *it)
{
	(void)r;
	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "partition", it->partition);
	proto_pack_kv_int(pk, "current_leader_epoch", it->epoch);
	proto_pack_kv_int(pk, "leader_epoch", it->offset); /* see epochs_kick */
}

static void pack_epochs(msgpack_packer *pk, void *arg)
{
	fetch_req_t *r = arg;

	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "replica_id", r->f->m->b->id);
	pack_topics(pk, r, pack_epoch_part);
}

/* Kafka's follower truncation (KIP-101, KIP-279): the leader gives the end
 * offset of the newest epoch it shares with us; when that epoch is older
 * than ours, our own end of it counts too. */
static void truncate_by_epoch(broker_t *b, partition_t *p, int32_t asked, int32_t epoch,
			      int64_t end)
{
	int64_t to = end;

	if (epoch < 0 || end < 0) {
		follower_truncate(b, p, p->high_watermark, "the leader knows no common epoch");
		return;
	}
	if (epoch < asked && p->epochs) {
		int32_t found;
		int64_t own;

		leader_epoch_end_offset_for(p->epochs, epoch, log_end_offset(p->log), &found, &own);
		if (own >= 0 && own < to)
			to = own;
	}
	follower_truncate(b, p, to, "where the leader's epochs end");
}

static void on_epoch_response(conn_t *c, brook_err_t err, const msgpack_object *body, void *opaque)
{
	fetch_req_t *r = opaque;
	fetcher_t *f = r->f;
	broker_t *b;
	const msgpack_object_array *topics;
	int errors = 0;

	(void)c;
	if (f->closing) {
		free(r);
		return;
	}
	b = f->m->b;
	f->inflight = 0;
	if (err || !body || proto_get_array(body, "topics", 1, &topics, NULL, 0)) {
		blog(BLOG_DEBUG, "replica", "OffsetsForLeaderEpoch to %d failed: %s", (int)f->leader,
		     brook_err_str(err ? err : BROOK_ERR__BAD_MSG));
		free(r);
		fetcher_backoff(f, FETCH_CONN_BACKOFF_S);
		return;
	}
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object_array *ps;
		const char *name;
		uint32_t nlen;

		if (proto_get_str(&topics->ptr[i], "name", 1, &name, &nlen, NULL, 0) ||
		    proto_get_array(&topics->ptr[i], "partitions", 1, &ps, NULL, 0))
			continue;
		for (uint32_t j = 0; j < ps->size; j++) {
			int64_t ec = 0, end = -1;
			int32_t idx, epoch = -1;
			partition_t *p;

			if (proto_get_i32(&ps->ptr[j], "partition", 1, &idx, NULL, 0) ||
			    proto_get_int(&ps->ptr[j], "error_code", 1, INT16_MIN, INT16_MAX, &ec, NULL,
					  0) ||
			    proto_get_i32(&ps->ptr[j], "leader_epoch", 0, &epoch, NULL, 0) ||
			    proto_get_int(&ps->ptr[j], "end_offset", 0, -1, INT64_MAX, &end, NULL, 0))
				continue;
			p = partition_findn(&b->parts, name, nlen, idx);
			if (!p || !p->truncating || p->fetch_from != f->leader)
				continue;
			if (ec) {
				/* the leader does not lead it yet: ask again */
				p->fetch_error = 1;
				errors++;
				continue;
			}
			for (size_t k = 0; k < r->n; k++)
				if (r->items[k].partition == idx && strcmp(r->items[k].topic, p->topic) == 0)
					truncate_by_epoch(b, p, (int32_t)r->items[k].offset, epoch, end);
			p->truncating = 0;
			p->fetch_error = 0;
		}
	}
	free(r);
	/* fetch (or ask again) from the loop */
	fetcher_backoff(f, errors ? FETCH_ERROR_BACKOFF_S : 0.);
}

/* Asks f->leader where our logs agree for every partition still to be
 * truncated; 1 when a request went out (or must be retried), 0 when none
 * is needed. */
static int epochs_kick(fetcher_t *f)
{
	broker_t *b = f->m->b;
	fetch_req_t *r;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < b->parts.n; i++) {
		partition_t *p = b->parts.parts[i];

		if (p->truncating && !p->is_leader && p->fetch_from == f->leader)
			n++;
	}
	if (n == 0)
		return 0;
	if (!(r = calloc(1, sizeof(*r) + n * sizeof(fetch_item_t)))) {
		fetcher_backoff(f, FETCH_CONN_BACKOFF_S);
		return 1;
	}
	r->f = f;
	for (size_t i = 0; i < b->parts.n; i++) {
		partition_t *p = b->parts.parts[i];
		fetch_item_t *it;
		int32_t latest = -1;

		if (!p->truncating || p->is_leader || p->fetch_from != f->leader)
			continue;
		it = &r->items[k++];
		memcpy(it->topic, p->topic, sizeof(it->topic));
		it->partition = p->id;
		leader_epoch_latest(p->epochs, &latest);
		it->offset = latest; /* the epoch we ask about */
		it->epoch = p->fetch_epoch;
	}
	r->n = k;
	if (conn_request(f->peer.conn, PROTO_API_OFFSETS_FOR_LEADER_EPOCH, 0, pack_epochs, r, 10000, 1,
			 on_epoch_response, r)) {
		free(r);
		fetcher_backoff(f, FETCH_CONN_BACKOFF_S);
		return 1;
	}
	f->inflight = 1;
	return 1;
}

/* Sends the next fetch with every partition this broker follows from
 * f->leader. A fetcher with none left stays idle (it may be inside its
 * connection's callback, where the connection must not be freed). */
static void fetcher_kick(fetcher_t *f)
{
	broker_t *b = f->m->b;
	fetch_req_t *r;
	size_t n = 0, k = 0;

	if (f->inflight || ev_is_active(&f->retry))
		return;
	if (epochs_kick(f))
		return;
	for (size_t i = 0; i < b->parts.n; i++) {
		partition_t *p = b->parts.parts[i];

		if (!p->is_leader && !p->offline && !p->truncating && p->fetch_from == f->leader)
			n++;
	}
	if (n == 0)
		return; /* idle; kept for when we follow this leader again */
	if (!(r = calloc(1, sizeof(*r) + n * sizeof(fetch_item_t)))) {
		fetcher_backoff(f, FETCH_CONN_BACKOFF_S);
		return;
	}
	r->f = f;
	for (size_t i = 0; i < b->parts.n; i++) {
		partition_t *p = b->parts.parts[i];
		fetch_item_t *it;

		if (p->is_leader || p->offline || p->truncating || p->fetch_from != f->leader)
			continue;
		it = &r->items[k++];
		memcpy(it->topic, p->topic, sizeof(it->topic));
		it->partition = p->id;
		it->offset = log_end_offset(p->log);
		it->epoch = p->fetch_epoch;
	}
	r->n = k;
	/* the leader long-polls up to replica.fetch.wait.max.ms */
	if (conn_request(f->peer.conn, PROTO_API_FETCH, 0, pack_fetch, r,
			 b->conf->replica_fetch_wait_max_ms + 10000, 1, on_fetch_response, r)) {
		free(r);
		fetcher_backoff(f, FETCH_CONN_BACKOFF_S);
		return;
	}
	f->inflight = 1;
}

/* --- state changes ---------------------------------------------------------------------- */

static void become_leader(broker_t *b, partition_t *p)
{
	char err[512];

	/* Kafka: the new epoch starts at our log end; followers ask where
	 * it started to find where their logs and ours agree. */
	if (p->epochs &&
	    leader_epoch_assign(p->epochs, p->leader_epoch, log_end_offset(p->log), err, sizeof(err)))
		blog(BLOG_WARN, "replica", "%s-%d: leader epochs: %s", p->topic, p->id, err);
	p->truncating = 0;
	p->fetch_from = -1;
	p->fetch_epoch = -1;
	p->fetch_error = 0;
	followers_reset(p, b->id);
	/* Our ISR of one: everything we have is committed. Otherwise the
	 * high watermark waits for the followers' fetches. */
	if (p->nisr == 1 && p->isr[0] == b->id && p->high_watermark < log_end_offset(p->log))
		p->high_watermark = log_end_offset(p->log);
	if (p->high_watermark > log_end_offset(p->log))
		p->high_watermark = log_end_offset(p->log);
}

static void become_follower(broker_t *b, partition_t *p, int32_t leader)
{
	fetcher_t *f;

	int32_t latest = -1;

	/* What we have may differ from the new leader's log past some
	 * point. With leader epochs the leader tells us where (Kafka's
	 * KIP-101: OffsetsForLeaderEpoch before the first fetch); without
	 * them, only what is below the high watermark is known committed. */
	if (p->epochs)
		leader_epoch_latest(p->epochs, &latest);
	if (latest >= 0)
		p->truncating = 1;
	else
		follower_truncate(b, p, p->high_watermark, "becoming a follower, no leader epochs");
	p->fetch_from = leader;
	p->fetch_epoch = p->leader_epoch;
	p->fetch_error = 0;
	if ((f = fetcher_get(b->replicas, leader)))
		fetcher_kick(f);
	else
		blog(BLOG_WARN, "replica", "%s-%d: leader %d is not a live broker; not fetching",
		     p->topic, p->id, (int)leader);
}

void replica_apply_state(broker_t *b, partition_t *p, int was_leader, int32_t old_epoch)
{
	int32_t old_from = p->fetch_from;

	if (p->is_leader) {
		if (!was_leader || old_epoch != p->leader_epoch)
			become_leader(b, p);
		else
			replica_update_hw(b, p); /* the ISR may have changed */
		return;
	}
	if (was_leader)
		broker_partition_hw_advanced(b, p); /* waiting produces and fetches learn they must go */
	if (p->leader_id < 0 || p->leader_id == b->id) {
		p->fetch_from = -1;
		return;
	}
	if (was_leader || old_from != p->leader_id || p->fetch_epoch != p->leader_epoch) {
		become_follower(b, p, p->leader_id);
	} else {
		fetcher_t *f = fetcher_get(b->replicas, p->leader_id);

		if (f)
			fetcher_kick(f);
	}
}

void replica_forget(broker_t *b, partition_t *p)
{
	(void)b;
	p->fetch_from = -1;
	p->nfollowers = 0;
}

/* --- high watermark checkpoints ------------------------------------------------------- */

brook_err_t replica_checkpoint_hw(broker_t *b, char *errstr, size_t errstr_size)
{
	brook_err_t first = BROOK_ERR_NO_ERROR;

	for (int d = 0; d < b->ndirs; d++) {
		log_dir_t *ld = b->dirs[d];
		log_checkpoint_entry_t *cp = calloc(b->parts.n ? b->parts.n : 1, sizeof(*cp));
		char path[4200], err[512];
		size_t n = 0;
		brook_err_t e;

		if (!cp)
			return BROOK_ERR__NOMEM;
		for (size_t i = 0; i < b->parts.n; i++) {
			partition_t *p = b->parts.parts[i];

			if (p->dir != ld)
				continue;
			memcpy(cp[n].topic, p->topic, sizeof(cp[n].topic));
			cp[n].partition = p->id;
			cp[n].offset = p->high_watermark;
			n++;
		}
		snprintf(path, sizeof(path), "%s/%s", ld->path, HW_CHECKPOINT);
		e = log_checkpoint_write(path, cp, n, err, sizeof(err));
		free(cp);
		if (e && !first) {
			first = e;
			snprintf(errstr, errstr_size, "%s", err);
		}
	}
	return first;
}

int64_t replica_checkpointed_hw(broker_t *b, const char *dir, const char *topic, int32_t partition)
{
	replica_mgr_t *m = b->replicas;
	hw_file_t *hf = NULL;

	if (!m)
		return -1;
	for (size_t i = 0; i < m->nhw_files; i++)
		if (strcmp(m->hw_files[i].dir, dir) == 0)
			hf = &m->hw_files[i];
	if (!hf) {
		hw_file_t *nf = realloc(m->hw_files, (m->nhw_files + 1) * sizeof(*nf));
		char path[4200], err[512];
		brook_err_t e;

		if (!nf)
			return -1;
		m->hw_files = nf;
		hf = &m->hw_files[m->nhw_files];
		memset(hf, 0, sizeof(*hf));
		if (!(hf->dir = strdup(dir)))
			return -1;
		m->nhw_files++;
		snprintf(path, sizeof(path), "%s/%s", dir, HW_CHECKPOINT);
		e = log_checkpoint_read(path, &hf->entries, &hf->n, err, sizeof(err));
		if (e && e != BROOK_ERR__NOENT)
			blog(BLOG_WARN, "replica", "%s; high watermarks start at 0", err);
	}
	for (size_t i = 0; i < hf->n; i++)
		if (hf->entries[i].partition == partition && strcmp(hf->entries[i].topic, topic) == 0)
			return hf->entries[i].offset;
	return -1;
}

/* --- lifecycle ---------------------------------------------------------------------------- */

brook_err_t replica_mgr_new(broker_t *b, replica_mgr_t **out)
{
	replica_mgr_t *m = calloc(1, sizeof(*m));
	double every;

	if (!m)
		return BROOK_ERR__NOMEM;
	m->b = b;
	/* Kafka checks at half the lag bound */
	every = (double)b->conf->replica_lag_time_max_ms / 2000.0;
	if (every < 0.05)
		every = 0.05;
	ev_timer_init(&m->isr_timer, on_isr_timer, every, every);
	m->isr_timer.data = m;
	ev_timer_start(b->loop, &m->isr_timer);
	*out = m;
	return BROOK_ERR_NO_ERROR;
}

void replica_mgr_free(replica_mgr_t *m)
{
	if (!m)
		return;
	ev_timer_stop(m->b->loop, &m->isr_timer);
	while (m->fetchers)
		fetcher_free(m->fetchers);
	for (size_t i = 0; i < m->nhw_files; i++) {
		free(m->hw_files[i].dir);
		free(m->hw_files[i].entries);
	}
	free(m->hw_files);
	free(m);
}
