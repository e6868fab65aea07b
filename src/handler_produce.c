/* handler_produce.c - Produce: validate, append, answer with base offsets.
 *
 * The limits are the partition's: the broker's min.insync.replicas and
 * message.max.bytes unless its topic overrides them (min.insync.replicas,
 * max.message.bytes in /config/topics/<t>; broker.c applies them). A
 * leader that does not know its topic's overrides yet (a LeaderAndIsr
 * came before the topic reached its view) refuses writes with the
 * retriable NOT_LEADER_OR_FOLLOWER rather than guess them.
 *
 * acks=all (-1): refused with NOT_ENOUGH_REPLICAS before anything is
 * appended when the ISR is smaller than min.insync.replicas; otherwise
 * answered once the high watermark covers every batch of the request
 * (Kafka's delayed produce), or at timeout_ms with REQUEST_TIMED_OUT for
 * the partitions it does not cover yet. The waiting request keeps its own
 * copy of the topic names: the frame is gone when the handler returns.
 */
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "blog.h"
#include "handler.h"
#include "record.h"
#include "replica.h"

/* One partition's part of the request, pointing into the frame. */
typedef struct produce_part {
	const char *topic;
	uint32_t topic_len;
	int32_t partition;
	char *records;   /* the frame is ours to modify (net.h) */
	uint32_t len;
	int topic_first; /* first partition of its topic in the array */
	int topic_parts; /* partitions of the topic (on topic_first) */
} produce_part_t;

/* Reads every topic and partition before anything is appended, so a
 * malformed request changes nothing. */
static brook_err_t parse(const msgpack_object *body, produce_part_t **out, size_t *n,
			 int *ntopics, char *err, size_t errsize)
{
	const msgpack_object_array *topics;
	produce_part_t *parts = NULL;
	size_t cnt = 0, cap = 0;
	brook_err_t e;

	*out = NULL;
	*n = 0;
	if ((e = proto_get_array(body, "topics", 1, &topics, err, errsize)))
		return e;
	*ntopics = (int)topics->size;
	for (uint32_t i = 0; i < topics->size; i++) {
		const msgpack_object *t = &topics->ptr[i];
		const msgpack_object_array *ps;
		const char *name;
		uint32_t nlen;
		size_t first = cnt;

		if ((e = proto_get_str(t, "name", 1, &name, &nlen, err, errsize)) ||
		    (e = proto_get_array(t, "partitions", 1, &ps, err, errsize)))
			goto fail;
		for (uint32_t j = 0; j < ps->size; j++) {
			const msgpack_object *p = &ps->ptr[j];
			produce_part_t *pp;
			const char *rec;
			int32_t idx = 0;

			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 8;
				produce_part_t *np = realloc(parts, nc * sizeof(*np));

				if (!np) {
					e = BROOK_ERR__NOMEM;
					goto fail;
				}
				parts = np;
				cap = nc;
			}
			pp = &parts[cnt];
			if ((e = proto_get_i32(p, "index", 1, &idx, err, errsize)) ||
			    (e = proto_get_bin(p, "records", 1, &rec, &pp->len, err, errsize)))
				goto fail;
			pp->topic = name;
			pp->topic_len = nlen;
			pp->partition = idx;
			pp->records = (char *)rec;
			pp->topic_first = j == 0;
			pp->topic_parts = 0;
			cnt++;
		}
		if (cnt > first)
			parts[first].topic_parts = (int)(cnt - first);
		else
			(*ntopics)--; /* a topic with no partitions has nothing to answer */
	}
	*out = parts;
	*n = cnt;
	return BROOK_ERR_NO_ERROR;
fail:
	free(parts);
	return e;
}

/* Every batch within max.message.bytes (Kafka checks batch by batch). */
static brook_err_t check_sizes(const uint8_t *buf, size_t len, int32_t max)
{
	size_t off = 0;

	while (off < len) {
		record_batch_header_t h;
		brook_err_t e = record_batch_header_parse(buf + off, len - off, &h);

		if (e)
			return BROOK_ERR_CORRUPT_MESSAGE;
		if (record_batch_size(&h) > (size_t)max)
			return BROOK_ERR_MESSAGE_TOO_LARGE;
		off += record_batch_size(&h);
	}
	return BROOK_ERR_NO_ERROR;
}

/* Leaders decompress each batch to check its records; a batch that inflates
 * past this is refused rather than allowed to take the broker's memory. */
#define PRODUCE_MAX_INFLATED ((size_t)128 << 20)

typedef struct produce_result {
	brook_err_t err;
	int64_t base_offset, log_start_offset;
	int64_t required;      /* acks=all: the high watermark that covers it */
	int waiting;           /* acks=all: not covered yet */
	char msg[160];
} produce_result_t;

static void append_one(broker_t *b, produce_part_t *pp, int64_t acks, produce_result_t *res)
{
	partition_t *p;
	log_append_opts_t opts;
	log_append_info_t info;
	char err[512];
	int64_t now = broker_now_ms();

	res->base_offset = -1;
	res->log_start_offset = -1;
	res->msg[0] = 0;
	if ((res->err = handler_partition_error(b, pp->topic, pp->topic_len, pp->partition, &p)))
		return;
	res->log_start_offset = p->log->log_start_offset;
	if (!p->config_known) {
		res->err = BROOK_ERR_NOT_LEADER_OR_FOLLOWER;
		snprintf(res->msg, sizeof(res->msg), "the topic's config is not known here yet");
		return;
	}
	if (acks == -1 && p->nisr > 0 && p->nisr < p->min_insync_replicas) {
		res->err = BROOK_ERR_NOT_ENOUGH_REPLICAS;
		snprintf(res->msg, sizeof(res->msg), "%d in-sync replicas, min.insync.replicas is %d",
			 (int)p->nisr, (int)p->min_insync_replicas);
		return;
	}
	if (pp->len == 0) {
		res->err = BROOK_ERR_CORRUPT_MESSAGE;
		snprintf(res->msg, sizeof(res->msg), "no record batch");
		return;
	}
	if ((res->err = check_sizes((uint8_t *)pp->records, pp->len, p->max_message_bytes))) {
		if (res->err == BROOK_ERR_MESSAGE_TOO_LARGE)
			snprintf(res->msg, sizeof(res->msg),
				 "a record batch is larger than max.message.bytes (%d)",
				 (int)p->max_message_bytes);
		else
			snprintf(res->msg, sizeof(res->msg), "record batch header does not parse");
		return;
	}
	opts = (log_append_opts_t){ .assign_offsets = 1, .leader_epoch = p->leader_epoch,
				    .now_ms = now, .max_inflated = PRODUCE_MAX_INFLATED };
	res->err = log_append(p->log, (uint8_t *)pp->records, pp->len, &opts, &info, err,
			      sizeof(err));
	if (res->err == BROOK_ERR__NO_SPACE || res->err == BROOK_ERR__IO ||
	    res->err == BROOK_ERR__READ_ONLY) {
		/* Nothing was appended (log.h); the broker stays up and says
		 * so, and the producer retries elsewhere or later. */
		blog(BLOG_ERROR, "log", "%s-%d: append failed: %s", p->topic, p->id, err);
		snprintf(res->msg, sizeof(res->msg), "storage error: %s", brook_err_str(res->err));
		res->err = BROOK_ERR_KAFKA_STORAGE_ERROR;
		return;
	}
	if (res->err) {
		if (res->err < 0) /* a local code: not for the wire */
			res->err = BROOK_ERR_CORRUPT_MESSAGE;
		snprintf(res->msg, sizeof(res->msg), "%.159s", err); /* msg is 160 bytes */
		return;
	}
	res->base_offset = info.first_offset;
	res->required = info.last_offset + 1;
	if (log_maybe_flush(p->log, now, err, sizeof(err)))
		blog(BLOG_ERROR, "log", "%s-%d: flush failed: %s", p->topic, p->id, err);
	/* An ISR of one commits at once; followers are woken to fetch it. */
	replica_update_hw(b, p);
	broker_partition_appended(b, p);
	res->waiting = acks == -1 && p->high_watermark < res->required;
}

/* The response (or the part of it known so far). Topic names come from
 * parts, which the caller keeps valid. */
static void pack_response(msgpack_packer *pk, const produce_part_t *parts,
			  const produce_result_t *res, size_t n, int ntopics)
{
	msgpack_pack_map(pk, 2);
	proto_pack_key(pk, "responses");
	msgpack_pack_array(pk, (size_t)ntopics);
	for (size_t i = 0; i < n; i++) {
		if (!parts[i].topic_first || parts[i].topic_parts == 0)
			continue;
		msgpack_pack_map(pk, 2);
		proto_pack_kv_strn(pk, "name", parts[i].topic, parts[i].topic_len);
		proto_pack_key(pk, "partitions");
		msgpack_pack_array(pk, (size_t)parts[i].topic_parts);
		for (size_t j = i; j < i + (size_t)parts[i].topic_parts; j++) {
			msgpack_pack_map(pk, 6);
			proto_pack_kv_int(pk, "index", parts[j].partition);
			proto_pack_kv_int(pk, "error_code", res[j].err);
			proto_pack_kv_str(pk, "error_message",
					  res[j].err && res[j].msg[0] ? res[j].msg : NULL);
			proto_pack_kv_int(pk, "base_offset", res[j].base_offset);
			proto_pack_kv_int(pk, "log_append_time_ms", -1);
			proto_pack_kv_int(pk, "log_start_offset", res[j].log_start_offset);
		}
	}
	proto_pack_kv_int(pk, "throttle_time_ms", 0);
}

/* --- acks=all: waiting for the high watermark ------------------------------ */

struct produce_waiter {
	broker_t *b;
	produce_waiter_t *prev, *next;
	net_resp_t *resp;
	ev_timer timer;
	size_t n;
	int ntopics;
	produce_part_t *parts;    /* topic points into names */
	produce_result_t *res;
	char *names;
};

static void pwaiter_unlink(produce_waiter_t *w)
{
	broker_t *b = w->b;

	if (w->prev)
		w->prev->next = w->next;
	else if (b->produce_waiters == w)
		b->produce_waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	ev_timer_stop(b->loop, &w->timer);
}

static void pwaiter_free(produce_waiter_t *w)
{
	free(w->parts);
	free(w->res);
	free(w->names);
	free(w);
}

static void pwaiter_answer(produce_waiter_t *w)
{
	msgpack_packer pk;

	pwaiter_unlink(w);
	msgpack_packer_init(&pk, net_resp_buf(w->resp), proto_buf_write);
	pack_response(&pk, w->parts, w->res, w->n, w->ntopics);
	handler_finish(w->resp);
	pwaiter_free(w);
}

static void on_produce_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	produce_waiter_t *w = t->data;

	(void)loop;
	(void)revents;
	for (size_t i = 0; i < w->n; i++)
		if (w->res[i].waiting) {
			w->res[i].waiting = 0;
			w->res[i].err = BROOK_ERR_REQUEST_TIMED_OUT;
			snprintf(w->res[i].msg, sizeof(w->res[i].msg),
				 "the in-sync replicas did not all have it within timeout_ms");
		}
	pwaiter_answer(w);
}

static void on_produce_cancel(void *arg)
{
	produce_waiter_t *w = arg;

	pwaiter_unlink(w);
	pwaiter_free(w);
}

/* Answering may run more requests on that connection, which may append,
 * advance a high watermark and come back here; so the scan restarts from
 * the head after each answer. */
void broker_partition_hw_advanced(broker_t *b, partition_t *p)
{
	produce_waiter_t *w;

restart:
	for (w = b->produce_waiters; w; w = w->next) {
		int left = 0;

		for (size_t i = 0; i < w->n; i++) {
			produce_result_t *r = &w->res[i];

			if (r->waiting && w->parts[i].partition == p->id &&
			    w->parts[i].topic_len == strlen(p->topic) &&
			    memcmp(w->parts[i].topic, p->topic, w->parts[i].topic_len) == 0) {
				if (!p->is_leader) {
					r->waiting = 0;
					r->err = BROOK_ERR_NOT_LEADER_OR_FOLLOWER;
					snprintf(r->msg, sizeof(r->msg),
						 "leadership moved before the ISR had it");
				} else if (p->high_watermark >= r->required) {
					r->waiting = 0;
				}
			}
			left += r->waiting;
		}
		if (!left) {
			pwaiter_answer(w);
			goto restart;
		}
	}
	broker_partition_appended(b, p);
}

/* Parks the request until the ISR has every batch; 0, or -1 without
 * memory (the caller answers at once then). */
static int produce_wait(handler_ctx_t *ctx, const produce_part_t *parts, produce_result_t *res,
			size_t n, int ntopics, int64_t timeout_ms)
{
	produce_waiter_t *w = calloc(1, sizeof(*w));
	size_t names = 0, off = 0;

	if (!w)
		return -1;
	for (size_t i = 0; i < n; i++)
		names += parts[i].topic_len;
	w->parts = malloc(n * sizeof(*w->parts));
	w->res = malloc(n * sizeof(*w->res));
	w->names = malloc(names ? names : 1);
	if (!w->parts || !w->res || !w->names) {
		pwaiter_free(w);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		w->parts[i] = parts[i];
		memcpy(w->names + off, parts[i].topic, parts[i].topic_len);
		w->parts[i].topic = w->names + off;
		w->parts[i].records = NULL;
		off += parts[i].topic_len;
	}
	memcpy(w->res, res, n * sizeof(*res));
	w->b = ctx->b;
	w->resp = ctx->resp;
	w->n = n;
	w->ntopics = ntopics;
	ev_timer_init(&w->timer, on_produce_timeout, (double)timeout_ms / 1000.0, 0.);
	w->timer.data = w;
	ev_timer_start(ctx->b->loop, &w->timer);
	net_resp_set_cancel(ctx->resp, on_produce_cancel, w);
	w->next = ctx->b->produce_waiters;
	if (w->next)
		w->next->prev = w;
	ctx->b->produce_waiters = w;
	return 0;
}

void handler_produce(handler_ctx_t *ctx)
{
	msgpack_packer *pk = &ctx->pk;
	produce_part_t *parts;
	produce_result_t *res;
	size_t n;
	int ntopics;
	int64_t acks = 1, timeout = 30000; /* Kafka's request.timeout.ms */
	char err[256];
	brook_err_t e;

	if ((e = proto_get_int(ctx->req->body, "acks", 1, INT16_MIN, INT16_MAX, &acks, err,
			       sizeof(err))) ||
	    (e = proto_get_int(ctx->req->body, "timeout_ms", 0, 0, INT32_MAX, &timeout, err,
			       sizeof(err))) ||
	    (e = parse(ctx->req->body, &parts, &n, &ntopics, err, sizeof(err)))) {
		if (e == BROOK_ERR__NOMEM)
			snprintf(err, sizeof(err), "out of memory");
		handler_reject(ctx, err);
		return;
	}
	if (!(res = calloc(n ? n : 1, sizeof(*res)))) {
		free(parts);
		handler_pack_error_body(pk, BROOK_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
		handler_finish(ctx->resp);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (acks != 0 && acks != 1 && acks != -1) {
			res[i].err = BROOK_ERR_INVALID_REQUIRED_ACKS;
			res[i].base_offset = res[i].log_start_offset = -1;
			snprintf(res[i].msg, sizeof(res[i].msg), "acks must be 0, 1 or -1 (all)");
			continue;
		}
		append_one(ctx->b, &parts[i], acks, &res[i]);
	}
	if (acks == 0) {
		/* Kafka's rule: no response at all, even for errors. */
		net_resp_drop(ctx->resp);
	} else {
		int waiting = 0;

		for (size_t i = 0; i < n; i++)
			waiting |= res[i].waiting;
		if (waiting && timeout > 0 && produce_wait(ctx, parts, res, n, ntopics, timeout) == 0) {
			free(res);
			free(parts);
			return;
		}
		for (size_t i = 0; i < n; i++)
			if (res[i].waiting) {
				res[i].err = BROOK_ERR_REQUEST_TIMED_OUT;
				snprintf(res[i].msg, sizeof(res[i].msg),
					 "not yet on every in-sync replica (timeout_ms %d)",
					 (int)timeout);
			}
		pack_response(pk, parts, res, n, ntopics);
		handler_finish(ctx->resp);
	}
	free(res);
	free(parts);
}
