/* handler_metadata.c - Metadata: brokers, controller, topics, leaders. */
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "blog.h"
#include "handler.h"
#include "metadata.h"
#include "zk_json.h"
#include "zk_paths.h"

static void pack_ids(msgpack_packer *pk, const int32_t *ids, int32_t n)
{
	msgpack_pack_array(pk, (size_t)n);
	for (int32_t i = 0; i < n; i++)
		msgpack_pack_int32(pk, ids[i]);
}

/* The leader to announce: the view's, except that this broker names
 * itself only once it serves the partition (the view can run ahead of the
 * broker's own state by a loop iteration, and a client sent here must not
 * get NOT_LEADER_OR_FOLLOWER for following our own answer). */
static int32_t announced_leader(broker_t *b, const metadata_t *md, const md_topic_t *t,
				const md_partition_t *mp)
{
	int32_t leader = mp->has_state ? metadata_effective_leader(md, t, mp) : -1;
	partition_t *p;

	if (leader == b->id && (!(p = partition_find(&b->parts, t->name, mp->id)) || !p->is_leader))
		return -1;
	return leader;
}

static void pack_topic(broker_t *b, msgpack_packer *pk, const metadata_t *md, const md_topic_t *t)
{
	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "error_code", BROOK_ERR_NO_ERROR);
	proto_pack_kv_str(pk, "name", t->name);
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, (size_t)t->npartitions);
	for (int32_t i = 0; i < t->npartitions; i++) {
		const md_partition_t *p = &t->partitions[i];
		int32_t leader = announced_leader(b, md, t, p);
		int32_t offline[64], noff = 0;

		for (int32_t r = 0; r < p->nreplicas && noff < 64; r++)
			if (!metadata_broker_alive(md, p->replicas[r]))
				offline[noff++] = p->replicas[r];
		msgpack_pack_map(pk, 7);
		proto_pack_kv_int(pk, "error_code",
				  leader < 0 ? BROOK_ERR_LEADER_NOT_AVAILABLE : BROOK_ERR_NO_ERROR);
		proto_pack_kv_int(pk, "partition_index", p->id);
		proto_pack_kv_int(pk, "leader_id", leader);
		proto_pack_kv_int(pk, "leader_epoch", p->has_state ? p->leader_epoch : 0);
		proto_pack_key(pk, "replica_nodes");
		pack_ids(pk, p->replicas, p->nreplicas);
		proto_pack_key(pk, "isr_nodes");
		if (p->has_state)
			pack_ids(pk, p->isr, p->nisr);
		else if (leader >= 0)
			pack_ids(pk, &leader, 1);
		else
			pack_ids(pk, NULL, 0);
		proto_pack_key(pk, "offline_replicas");
		pack_ids(pk, offline, noff);
	}
}

static void pack_unknown(msgpack_packer *pk, const char *name, uint32_t len, brook_err_t err)
{
	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "error_code", err);
	proto_pack_kv_strn(pk, "name", name, len);
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, 0);
}

static void on_auto_created(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	(void)s;
	(void)opaque;
	if (err == BROOK_ERR_NO_ERROR)
		blog(BLOG_INFO, "metadata", "auto-created %s", path);
	else if (err != BROOK_ERR__EXISTS) /* another broker won the race: fine */
		blog(BLOG_WARN, "metadata", "auto-creating %s: %s", path, brook_err_str(err));
}

/* Kafka's auto.create.topics.enable: an unknown topic named in a Metadata
 * request that allows it is written to /brokers/topics with num.partitions
 * and default.replication.factor over the live brokers, spread as
 * `brook topics create` spreads them. The write is asynchronous: this
 * answer says LEADER_NOT_AVAILABLE and the client asks again, as with
 * Kafka. The controller (or, until it exists, each assigned broker) takes
 * it from the topics watch. Returns the error code for this answer. */
static brook_err_t auto_create(broker_t *b, const metadata_t *md, const char *name)
{
	const broker_conf_t *conf = b->conf;
	zk_topic_assignment_t *a = NULL;
	int32_t ids[1024];
	size_t n = 0;
	char path[512], why[256], *json = NULL;
	brook_err_t err;

	if (zk_topic_validate(name, why, sizeof(why)))
		return BROOK_ERR_INVALID_TOPIC_EXCEPTION;
	for (size_t i = 0; i < md->nbrokers && n < sizeof(ids) / sizeof(ids[0]); i++)
		ids[n++] = md->brokers[i].id;
	err = admin_assign_replicas(ids, n, conf->num_partitions, conf->default_replication_factor,
				    ADMIN_RANDOM, ADMIN_RANDOM, 0, &a, why, sizeof(why));
	if (err) {
		blog(BLOG_WARN, "metadata", "cannot auto-create topic %s: %s", name, why);
		return err;
	}
	err = zk_json_topic_assignment_encode(a, &json);
	zk_topic_assignment_free(a);
	if (err)
		return err;
	zk_path_topic(path, sizeof(path), name);
	err = zk_create(broker_zk_session(b->zk), path, json, strlen(json), ZK_PERSISTENT,
			on_auto_created, NULL);
	free(json);
	if (err)
		blog(BLOG_WARN, "metadata", "auto-creating %s: %s", path, brook_err_str(err));
	return BROOK_ERR_LEADER_NOT_AVAILABLE;
}

void handler_metadata(handler_ctx_t *ctx)
{
	msgpack_packer *pk = &ctx->pk;
	const metadata_t *md = broker_zk_metadata(ctx->b->zk);
	const msgpack_object_array *topics;
	int allow_auto = 1;
	char err[256];

	if (proto_get_array(ctx->req->body, "topics", 0, &topics, err, sizeof(err)) ||
	    proto_get_bool(ctx->req->body, "allow_auto_topic_creation", 0, &allow_auto, err,
			   sizeof(err))) {
		handler_reject(ctx, err);
		return;
	}
	if (topics) {
		for (uint32_t i = 0; i < topics->size; i++)
			if (topics->ptr[i].type != MSGPACK_OBJECT_STR) {
				handler_reject(ctx, "topics: must be an array of strings");
				return;
			}
	}
	msgpack_pack_map(pk, 4);
	proto_pack_key(pk, "brokers");
	msgpack_pack_array(pk, md->nbrokers);
	for (size_t i = 0; i < md->nbrokers; i++) {
		const md_broker_t *br = &md->brokers[i];

		msgpack_pack_map(pk, 4);
		proto_pack_kv_int(pk, "node_id", br->id);
		proto_pack_kv_str(pk, "host", br->host);
		proto_pack_kv_int(pk, "port", br->port);
		proto_pack_kv_str(pk, "rack", br->has_rack ? br->rack : NULL);
	}
	proto_pack_kv_str(pk, "cluster_id", md->cluster_id[0] ? md->cluster_id : NULL);
	proto_pack_kv_int(pk, "controller_id", md->controller_id);
	proto_pack_key(pk, "topics");
	if (!topics) {
		msgpack_pack_array(pk, md->ntopics);
		for (size_t i = 0; i < md->ntopics; i++)
			pack_topic(ctx->b, pk, md, md->topics[i]);
	} else {
		msgpack_pack_array(pk, topics->size);
		for (uint32_t i = 0; i < topics->size; i++) {
			const msgpack_object_str *s = &topics->ptr[i].via.str;
			char name[LOG_TOPIC_MAX + 1] = "";
			const md_topic_t *t = NULL;

			if (proto_copy_str(s->ptr, s->size, name, sizeof(name)) == 0)
				t = metadata_topic(md, name);
			if (t)
				pack_topic(ctx->b, pk, md, t);
			else if (s->size > LOG_TOPIC_MAX || s->size == 0 || !name[0])
				pack_unknown(pk, s->ptr, s->size, BROOK_ERR_INVALID_TOPIC_EXCEPTION);
			else if (allow_auto && ctx->b->conf->auto_create_topics_enable)
				pack_unknown(pk, s->ptr, s->size, auto_create(ctx->b, md, name));
			else
				pack_unknown(pk, s->ptr, s->size,
					     BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		}
	}
	handler_finish(ctx->resp);
}
