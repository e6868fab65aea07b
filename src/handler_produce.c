/* handler_produce.c - Produce: validate, append, answer with base offsets. */
#include <stdlib.h>
#include <string.h>

#include "blog.h"
#include "handler.h"
#include "record.h"

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

/* Every batch within message.max.bytes (Kafka checks batch by batch). */
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
	char msg[160];
} produce_result_t;

static void append_one(broker_t *b, produce_part_t *pp, produce_result_t *res)
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
	if (pp->len == 0) {
		res->err = BROOK_ERR_CORRUPT_MESSAGE;
		snprintf(res->msg, sizeof(res->msg), "no record batch");
		return;
	}
	if ((res->err = check_sizes((uint8_t *)pp->records, pp->len, b->conf->message_max_bytes))) {
		snprintf(res->msg, sizeof(res->msg), "%s",
			 res->err == BROOK_ERR_MESSAGE_TOO_LARGE
				 ? "a record batch is larger than message.max.bytes"
				 : "record batch header does not parse");
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
	/* The ISR is the leader alone until replication exists. */
	p->high_watermark = log_end_offset(p->log);
	if (log_maybe_flush(p->log, now, err, sizeof(err)))
		blog(BLOG_ERROR, "log", "%s-%d: flush failed: %s", p->topic, p->id, err);
	broker_partition_appended(b, p);
}

void handler_produce(handler_ctx_t *ctx)
{
	msgpack_packer *pk = &ctx->pk;
	produce_part_t *parts;
	produce_result_t *res;
	size_t n;
	int ntopics;
	int64_t acks = 1, timeout = 0;
	char err[256];
	brook_err_t e;

	if ((e = proto_get_int(ctx->req->body, "acks", 1, INT16_MIN, INT16_MAX, &acks, err,
			       sizeof(err))) ||
	    (e = proto_get_int(ctx->req->body, "timeout_ms", 0, 0, INT32_MAX, &timeout, err,
			       sizeof(err))) ||
	    (e = parse(ctx->req->body, &parts, &n, &ntopics, err, sizeof(err)))) {
		if (e == BROOK_ERR__NOMEM)
			snprintf(err, sizeof(err), "out of memory");
		handler_pack_error_body(pk, BROOK_ERR_INVALID_REQUEST, err);
		net_resp_close_after(ctx->resp);
		handler_finish(ctx->resp);
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
		append_one(ctx->b, &parts[i], &res[i]);
	}
	if (acks == 0) {
		/* Kafka's rule: no response at all, even for errors. */
		net_resp_drop(ctx->resp);
	} else {
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
		handler_finish(ctx->resp);
	}
	free(res);
	free(parts);
}
