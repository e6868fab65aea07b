/* client_md.c - Metadata request/response and the client's topic cache. */
#include <stdlib.h>
#include <string.h>

#include "errstr.h"
#include "client_md.h"
#include "proto.h"

#define MAX_INDEX (CLIENT_MD_MAX_PARTITIONS - 1)

void client_md_request_pack(msgpack_packer *pk, void *arg)
{
	const client_md_request_t *req = arg;

	msgpack_pack_map(pk, 2);
	proto_pack_key(pk, "topics");
	if (!req->topics) {
		msgpack_pack_nil(pk);
	} else {
		msgpack_pack_array(pk, req->topic_cnt);
		for (size_t i = 0; i < req->topic_cnt; i++)
			proto_pack_str(pk, req->topics[i]);
	}
	proto_pack_kv_bool(pk, "allow_auto_topic_creation", req->allow_auto_create);
}

static void topic_free(client_md_topic_t *t)
{
	free(t->name);
	free(t->partitions);
	t->name = NULL;
	t->partitions = NULL;
}

void client_md_response_free(client_md_response_t *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->topic_cnt; i++)
		topic_free(&r->topics[i]);
	free(r->topics);
	free(r->brokers);
	free(r);
}

static brook_err_t bad(char *errstr, size_t errstr_size, const char *what, const char *why)
{
	brook_errstr(errstr, errstr_size, "Metadata response: %s: %s", what, why);
	return BROOK_ERR__BAD_MSG;
}

static brook_err_t parse_err(const msgpack_object *map, brook_err_t *out)
{
	int64_t v = 0;

	if (proto_get_int(map, "error_code", 0, INT16_MIN, INT16_MAX, &v, NULL, 0))
		return BROOK_ERR__BAD_MSG;
	*out = (brook_err_t)v;
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t parse_broker(const msgpack_object *o, client_md_broker_t *b, char *errstr,
				size_t errstr_size)
{
	const char *host;
	uint32_t len;
	int64_t v;
	char why[128];

	if (o->type != MSGPACK_OBJECT_MAP)
		return bad(errstr, errstr_size, "brokers", "entry is not a map");
	if (proto_get_int(o, "node_id", 1, 0, INT32_MAX, &v, why, sizeof(why)))
		return bad(errstr, errstr_size, "brokers", why);
	b->id = (int32_t)v;
	if (proto_get_int(o, "port", 1, 1, 65535, &v, why, sizeof(why)))
		return bad(errstr, errstr_size, "brokers", why);
	b->port = (int32_t)v;
	if (proto_get_str(o, "host", 1, &host, &len, why, sizeof(why)))
		return bad(errstr, errstr_size, "brokers", why);
	if (len == 0 || proto_copy_str(host, len, b->host, sizeof(b->host)))
		return bad(errstr, errstr_size, "brokers", "host is empty, too long or has a NUL");
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t parse_topic(const msgpack_object *o, client_md_topic_t *t, char *errstr,
			       size_t errstr_size)
{
	const msgpack_object_array *parts;
	const char *name;
	uint32_t len;
	int64_t max_index = -1;
	char why[128];

	if (o->type != MSGPACK_OBJECT_MAP)
		return bad(errstr, errstr_size, "topics", "entry is not a map");
	if (proto_get_str(o, "name", 1, &name, &len, why, sizeof(why)))
		return bad(errstr, errstr_size, "topics", why);
	if (len == 0 || memchr(name, 0, len))
		return bad(errstr, errstr_size, "topics", "name is empty or has a NUL");
	if (!(t->name = strndup(name, len)))
		return BROOK_ERR__NOMEM;
	if (parse_err(o, &t->err))
		return bad(errstr, errstr_size, t->name, "error_code must be an integer");
	if (proto_get_array(o, "partitions", 0, &parts, why, sizeof(why)))
		return bad(errstr, errstr_size, t->name, why);
	if (!parts || parts->size == 0)
		return BROOK_ERR_NO_ERROR;
	for (uint32_t i = 0; i < parts->size; i++) {
		int64_t idx;

		if (proto_get_int(&parts->ptr[i], "partition_index", 1, 0, MAX_INDEX, &idx, why,
				  sizeof(why)))
			return bad(errstr, errstr_size, t->name, why);
		if (idx > max_index)
			max_index = idx;
	}
	t->partition_cnt = (int32_t)(max_index + 1);
	t->partitions = calloc((size_t)t->partition_cnt, sizeof(*t->partitions));
	if (!t->partitions)
		return BROOK_ERR__NOMEM;
	for (int32_t p = 0; p < t->partition_cnt; p++) {
		t->partitions[p].err = BROOK_ERR_LEADER_NOT_AVAILABLE;
		t->partitions[p].leader = -1;
		t->partitions[p].leader_epoch = -1;
	}
	for (uint32_t i = 0; i < parts->size; i++) {
		const msgpack_object *po = &parts->ptr[i];
		int64_t idx = 0, leader = -1, epoch = -1;
		client_md_partition_t *mp;

		proto_get_int(po, "partition_index", 1, 0, MAX_INDEX, &idx, NULL, 0);
		mp = &t->partitions[idx];
		if (parse_err(po, &mp->err) ||
		    proto_get_int(po, "leader_id", 0, -1, INT32_MAX, &leader, why, sizeof(why)) ||
		    proto_get_int(po, "leader_epoch", 0, -1, INT32_MAX, &epoch, why,
				  sizeof(why)))
			return bad(errstr, errstr_size, t->name, "bad partition entry");
		mp->leader = (int32_t)leader;
		mp->leader_epoch = (int32_t)epoch;
		if (mp->err == BROOK_ERR_NO_ERROR && mp->leader < 0)
			mp->err = BROOK_ERR_LEADER_NOT_AVAILABLE;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t client_md_response_parse(const msgpack_object *body, client_md_response_t **out,
				     char *errstr, size_t errstr_size)
{
	const msgpack_object_array *brokers, *topics;
	client_md_response_t *r;
	brook_err_t err = BROOK_ERR_NO_ERROR;
	int64_t ctrl = -1;
	char why[128];

	*out = NULL;
	if (parse_err(body, &err))
		return bad(errstr, errstr_size, "error_code", "must be an integer");
	if (err) {
		brook_errstr(errstr, errstr_size, "Metadata request refused: %s",
			     brook_err_name(err));
		return err;
	}
	if (proto_get_array(body, "brokers", 1, &brokers, why, sizeof(why)))
		return bad(errstr, errstr_size, "brokers", why);
	if (proto_get_array(body, "topics", 0, &topics, why, sizeof(why)))
		return bad(errstr, errstr_size, "topics", why);
	if (proto_get_int(body, "controller_id", 0, -1, INT32_MAX, &ctrl, why, sizeof(why)))
		return bad(errstr, errstr_size, "controller_id", why);
	r = calloc(1, sizeof(*r));
	if (!r)
		return BROOK_ERR__NOMEM;
	r->controller_id = (int32_t)ctrl;
	if (brokers->size) {
		r->brokers = calloc(brokers->size, sizeof(*r->brokers));
		if (!r->brokers) {
			err = BROOK_ERR__NOMEM;
			goto fail;
		}
	}
	for (uint32_t i = 0; i < brokers->size; i++) {
		if ((err = parse_broker(&brokers->ptr[i], &r->brokers[i], errstr, errstr_size)))
			goto fail;
		r->broker_cnt++;
	}
	if (topics && topics->size) {
		r->topics = calloc(topics->size, sizeof(*r->topics));
		if (!r->topics) {
			err = BROOK_ERR__NOMEM;
			goto fail;
		}
		for (uint32_t i = 0; i < topics->size; i++) {
			r->topic_cnt++;
			if ((err = parse_topic(&topics->ptr[i], &r->topics[i], errstr,
					       errstr_size)))
				goto fail;
		}
	}
	*out = r;
	return BROOK_ERR_NO_ERROR;
fail:
	client_md_response_free(r);
	return err;
}

void client_md_cache_init(client_md_cache_t *c)
{
	memset(c, 0, sizeof(*c));
}

void client_md_cache_destroy(client_md_cache_t *c)
{
	for (size_t i = 0; i < c->cnt; i++)
		topic_free(&c->topics[i]);
	free(c->topics);
	memset(c, 0, sizeof(*c));
}

static client_md_topic_t *find(const client_md_cache_t *c, const char *name)
{
	for (size_t i = 0; i < c->cnt; i++)
		if (strcmp(c->topics[i].name, name) == 0)
			return &c->topics[i];
	return NULL;
}

const client_md_topic_t *client_md_cache_topic(const client_md_cache_t *c, const char *name)
{
	return find(c, name);
}

brook_err_t client_md_cache_update(client_md_cache_t *c, client_md_response_t *r)
{
	/* room first, so a failure leaves both sides as they were */
	if (c->cnt + r->topic_cnt > c->cap) {
		size_t cap = c->cap ? c->cap : 8;
		client_md_topic_t *t;

		while (cap < c->cnt + r->topic_cnt)
			cap *= 2;
		t = realloc(c->topics, cap * sizeof(*t));
		if (!t)
			return BROOK_ERR__NOMEM;
		c->topics = t;
		c->cap = cap;
	}
	for (size_t i = 0; i < r->topic_cnt; i++) {
		client_md_topic_t *old = find(c, r->topics[i].name);

		if (old) {
			topic_free(old);
			*old = r->topics[i];
		} else {
			c->topics[c->cnt++] = r->topics[i];
		}
	}
	free(r->topics);
	r->topics = NULL;
	r->topic_cnt = 0;
	return BROOK_ERR_NO_ERROR;
}

int client_md_err_retriable(brook_err_t err)
{
	switch (err) {
	case BROOK_ERR_LEADER_NOT_AVAILABLE:
	case BROOK_ERR_NOT_LEADER_OR_FOLLOWER:
	case BROOK_ERR_REQUEST_TIMED_OUT:
	case BROOK_ERR_NETWORK_EXCEPTION:
	case BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
	case BROOK_ERR_NOT_ENOUGH_REPLICAS:
	case BROOK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case BROOK_ERR_KAFKA_STORAGE_ERROR:
	case BROOK_ERR_CORRUPT_MESSAGE:
	case BROOK_ERR_BROKER_NOT_AVAILABLE:
	case BROOK_ERR_REPLICA_NOT_AVAILABLE:
	case BROOK_ERR_FENCED_LEADER_EPOCH:
	case BROOK_ERR_UNKNOWN_LEADER_EPOCH:
	case BROOK_ERR__TRANSPORT:
	case BROOK_ERR__TIMED_OUT:
	case BROOK_ERR__BAD_MSG:
		return 1;
	default:
		return 0;
	}
}
