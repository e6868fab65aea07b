/* broker_ctrl.c - this broker's controller and its requests to the
 * brokers; controlled shutdown (see broker_ctrl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "blog.h"
#include "broker.h"
#include "broker_ctrl.h"
#include "conn.h"
#include "controller.h"
#include "peer.h"
#include "proto.h"
#include "zk_json.h"
#include "zk_paths.h"

/* How often a stopping broker asks again while its leaderships move. */
#define SHUTDOWN_POLL_S 0.1
#define CTRL_REQUEST_TIMEOUT_MS 10000

struct broker_ctrl {
	broker_t *b;
	controller_t *c;
	peer_t **peers;          /* each allocated alone: its connection points at it */
	size_t npeers;
	/* controlled shutdown */
	void (*done)(broker_t *b);
	int64_t shutdown_deadline_ms;
	int asking;
	int finished;
	ev_timer shutdown_timer;
};

/* --- connections to the brokers --------------------------------------------------- */

static conn_t *peer_conn(broker_ctrl_t *bc, int32_t id)
{
	peer_t **np, *p;

	for (size_t i = 0; i < bc->npeers; i++)
		if (bc->peers[i]->id == id)
			return peer_refresh(bc->peers[i], bc->b) == 0 ? bc->peers[i]->conn : NULL;
	if (!(np = realloc(bc->peers, (bc->npeers + 1) * sizeof(*np))))
		return NULL;
	bc->peers = np;
	if (!(p = malloc(sizeof(*p))))
		return NULL;
	if (peer_open(p, bc->b, id, "controller")) {
		free(p);
		return NULL;
	}
	bc->peers[bc->npeers++] = p;
	return p->conn;
}

/* --- LeaderAndIsr, UpdateMetadata, StopReplica ------------------------------------ */

typedef struct lai_req {
	broker_ctrl_t *bc;
	int32_t to;
	int32_t epoch;
	char topic[LOG_TOPIC_MAX + 1];
	int32_t partition;
	zk_partition_state_t st;
	int32_t zk_version;
	int32_t nreplicas;
	int32_t replicas[ZK_MAX_REPLICAS];
} lai_req_t;

static void pack_ids(msgpack_packer *pk, const int32_t *ids, int32_t n)
{
	msgpack_pack_array(pk, (size_t)n);
	for (int32_t i = 0; i < n; i++)
		msgpack_pack_int32(pk, ids[i]);
}

static void pack_lai(msgpack_packer *pk, void *arg)
{
	lai_req_t *r = arg;

	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "controller_id", r->bc->b->id);
	proto_pack_kv_int(pk, "controller_epoch", r->epoch);
	proto_pack_key(pk, "partition_states");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 8);
	proto_pack_kv_str(pk, "topic_name", r->topic);
	proto_pack_kv_int(pk, "partition_index", r->partition);
	proto_pack_kv_int(pk, "controller_epoch", r->st.controller_epoch);
	proto_pack_kv_int(pk, "leader", r->st.leader);
	proto_pack_kv_int(pk, "leader_epoch", r->st.leader_epoch);
	proto_pack_key(pk, "isr");
	pack_ids(pk, r->st.isr, r->st.isr_cnt);
	proto_pack_kv_int(pk, "zk_version", r->zk_version);
	proto_pack_key(pk, "replicas");
	pack_ids(pk, r->replicas, r->nreplicas);
}

static void on_lai_response(conn_t *c, brook_err_t err, const msgpack_object *body, void *opaque)
{
	lai_req_t *r = opaque;
	int64_t ec = 0;

	(void)c;
	if (!err && body)
		proto_get_int(body, "error_code", 0, INT16_MIN, INT16_MAX, &ec, NULL, 0);
	if (err || ec)
		blog(BLOG_DEBUG, "controller", "LeaderAndIsr for %s-%d to broker %d: %s", r->topic,
		     (int)r->partition, (int)r->to,
		     brook_err_str(err ? err : (brook_err_t)ec));
	free(r);
}

/* A state we wrote landed: its replicas hear it at once rather than at
 * their next watch. */
static void on_state_written(void *opaque, const char *topic, int32_t partition,
			     const zk_partition_state_t *st, int32_t zk_version)
{
	broker_ctrl_t *bc = opaque;
	const metadata_t *md = broker_zk_metadata(bc->b->zk);
	const md_partition_t *mp = metadata_partition(md, topic, partition);

	if (!mp || !controller_is_active(bc->c))
		return;
	for (int32_t i = 0; i < mp->nreplicas; i++) {
		lai_req_t *r;
		conn_t *conn;

		if (!metadata_broker_alive(md, mp->replicas[i]) ||
		    !(conn = peer_conn(bc, mp->replicas[i])) || !(r = calloc(1, sizeof(*r))))
			continue;
		r->bc = bc;
		r->to = mp->replicas[i];
		r->epoch = controller_epoch(bc->c);
		snprintf(r->topic, sizeof(r->topic), "%s", topic);
		r->partition = partition;
		r->st = *st;
		r->zk_version = zk_version;
		r->nreplicas = mp->nreplicas < ZK_MAX_REPLICAS ? mp->nreplicas : ZK_MAX_REPLICAS;
		memcpy(r->replicas, mp->replicas, (size_t)r->nreplicas * sizeof(*r->replicas));
		if (conn_request(conn, PROTO_API_LEADER_AND_ISR, 0, pack_lai, r,
				 CTRL_REQUEST_TIMEOUT_MS, 1, on_lai_response, r))
			free(r);
	}
}

typedef struct epoch_req {
	broker_ctrl_t *bc;
	int32_t epoch;
	char topic[LOG_TOPIC_MAX + 1];
	int32_t npartitions;
} epoch_req_t;

static void pack_update_metadata(msgpack_packer *pk, void *arg)
{
	epoch_req_t *r = arg;

	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "controller_id", r->bc->b->id);
	proto_pack_kv_int(pk, "controller_epoch", r->epoch);
}

static void pack_stop_replica(msgpack_packer *pk, void *arg)
{
	epoch_req_t *r = arg;

	msgpack_pack_map(pk, 4);
	proto_pack_kv_int(pk, "controller_id", r->bc->b->id);
	proto_pack_kv_int(pk, "controller_epoch", r->epoch);
	proto_pack_kv_bool(pk, "delete_partitions", 1);
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, (size_t)r->npartitions);
	for (int32_t i = 0; i < r->npartitions; i++) {
		msgpack_pack_map(pk, 2);
		proto_pack_kv_str(pk, "topic_name", r->topic);
		proto_pack_kv_int(pk, "partition_index", i);
	}
}

static void on_simple_response(conn_t *c, brook_err_t err, const msgpack_object *body,
			       void *opaque)
{
	(void)c;
	(void)body;
	if (err)
		blog(BLOG_DEBUG, "controller", "request failed: %s", brook_err_str(err));
	free(opaque);
}

/* Sends one epoch_req-shaped request to every live broker. */
static void to_all(broker_ctrl_t *bc, int16_t api, conn_body_fn *fn, const char *topic,
		   int32_t npartitions)
{
	const metadata_t *md = broker_zk_metadata(bc->b->zk);

	for (size_t i = 0; md && i < md->nbrokers; i++) {
		epoch_req_t *r;
		conn_t *conn = peer_conn(bc, md->brokers[i].id);

		if (!conn || !(r = calloc(1, sizeof(*r))))
			continue;
		r->bc = bc;
		r->epoch = controller_epoch(bc->c);
		snprintf(r->topic, sizeof(r->topic), "%s", topic ? topic : "");
		r->npartitions = npartitions;
		if (conn_request(conn, api, 0, fn, r, CTRL_REQUEST_TIMEOUT_MS, 1, on_simple_response,
				 r))
			free(r);
	}
}

/* --- /admin/preferred_replica_election (brook topics preferred-leader) --------------
 * Watched only while we are the controller. Callbacks get the broker (it
 * outlives everything) and find the current broker_ctrl through it, so a
 * watch that fires after a resignation or after broker_ctrl_free does
 * nothing. */

static void election_check(broker_t *b);

static void on_election_deleted(zk_session_t *s, brook_err_t err, void *opaque)
{
	(void)s;
	(void)opaque;
	if (err && err != BROOK_ERR__NOENT)
		blog(BLOG_WARN, "controller", "%s: cannot remove: %s", ZK_PATH_PREFERRED_ELECTION,
		     brook_err_str(err));
}

static void on_election_data(zk_session_t *s, brook_err_t err, const char *data, size_t len,
			     const zk_stat_t *stat, void *opaque)
{
	broker_t *b = opaque;
	broker_ctrl_t *bc = b->ctrl;
	char **topics = NULL, why[256];
	size_t n = 0;
	int total = 0;

	if (err || !bc || !controller_is_active(bc->c))
		return;
	if (zk_json_election_topics_decode(data, len, &topics, &n, why, sizeof(why)))
		blog(BLOG_WARN, "controller", "%s: %s; removing it", ZK_PATH_PREFERRED_ELECTION, why);
	for (size_t i = 0; i < n; i++) {
		int started = 0;

		if (controller_preferred_election(bc->c, topics[i], &started) == BROOK_ERR_NO_ERROR)
			total += started;
	}
	blog(BLOG_INFO, "controller", "preferred-leader election for %zu topic(s): %d move(s)", n,
	     total);
	zk_json_election_topics_free(topics, n);
	/* Kafka removes the request once it has acted on it */
	zk_delete(s, ZK_PATH_PREFERRED_ELECTION, stat ? stat->version : ZK_ANY_VERSION,
		  on_election_deleted, NULL);
}

static void on_election_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	(void)s;
	(void)event;
	(void)path;
	election_check(opaque);
}

static void on_election_exists(zk_session_t *s, brook_err_t err, const zk_stat_t *stat,
			       void *opaque)
{
	(void)stat;
	if (err == BROOK_ERR_NO_ERROR)
		zk_get(s, ZK_PATH_PREFERRED_ELECTION, NULL, on_election_data, opaque);
}

/* Arms the watch and acts on a pending request. */
static void election_check(broker_t *b)
{
	zk_session_t *zk = b->zk ? broker_zk_session(b->zk) : NULL;

	if (!zk || !b->ctrl || !controller_is_active(b->ctrl->c))
		return;
	zk_exists(zk, ZK_PATH_PREFERRED_ELECTION, on_election_watch, on_election_exists, b);
}

static void on_active(void *opaque, int active, int32_t epoch)
{
	broker_ctrl_t *bc = opaque;

	blog(BLOG_INFO, "controller", "broker %d %s the controller (epoch %d)", (int)bc->b->id,
	     active ? "is now" : "is no longer", (int)epoch);
	/* brokers learn the new epoch at once: the old controller is fenced */
	if (active) {
		to_all(bc, PROTO_API_UPDATE_METADATA, pack_update_metadata, NULL, 0);
		election_check(bc->b);
	}
}

static void on_topic_deleted(void *opaque, const char *topic)
{
	broker_ctrl_t *bc = opaque;
	const md_topic_t *t = metadata_topic(broker_zk_metadata(bc->b->zk), topic);

	blog(BLOG_INFO, "controller", "topic %s deleted", topic);
	if (t)
		to_all(bc, PROTO_API_STOP_REPLICA, pack_stop_replica, topic, t->npartitions);
}

/* --- lifecycle ---------------------------------------------------------------------- */

brook_err_t broker_ctrl_new(broker_t *b, broker_ctrl_t **out)
{
	broker_ctrl_t *bc = calloc(1, sizeof(*bc));
	controller_config_t cfg;
	brook_err_t err;

	if (!bc)
		return BROOK_ERR__NOMEM;
	bc->b = b;
	controller_config_defaults(&cfg);
	cfg.unclean_leader_election_enable = b->conf->unclean_leader_election_enable;
	cfg.delete_topic_enable = b->conf->delete_topic_enable;
	cfg.auto_leader_rebalance_enable = b->conf->auto_leader_rebalance_enable;
	cfg.leader_imbalance_check_interval_ms =
		b->conf->leader_imbalance_check_interval_seconds * 1000;
	cfg.leader_imbalance_per_broker_percentage = b->conf->leader_imbalance_per_broker_percentage;
	cfg.on_active = on_active;
	cfg.on_state_written = on_state_written;
	cfg.on_topic_deleted = on_topic_deleted;
	cfg.opaque = bc;
	err = controller_new(b->loop, broker_zk_session(b->zk), b->id, &cfg, &bc->c);
	if (err) {
		free(bc);
		return err;
	}
	ev_timer_init(&bc->shutdown_timer, NULL, 0., 0.);
	*out = bc;
	return BROOK_ERR_NO_ERROR;
}

void broker_ctrl_update(broker_ctrl_t *bc)
{
	if (bc)
		controller_update(bc->c, broker_zk_metadata(bc->b->zk));
}

brook_err_t broker_ctrl_controlled_shutdown(broker_ctrl_t *bc, int32_t broker_id, int *remaining)
{
	*remaining = -1;
	if (!bc)
		return BROOK_ERR_NOT_CONTROLLER;
	return controller_controlled_shutdown(bc->c, broker_id, remaining);
}

void broker_ctrl_free(broker_ctrl_t *bc)
{
	if (!bc)
		return;
	ev_timer_stop(bc->b->loop, &bc->shutdown_timer);
	controller_free(bc->c);
	for (size_t i = 0; i < bc->npeers; i++) {
		peer_close(bc->peers[i]);
		free(bc->peers[i]);
	}
	free(bc->peers);
	free(bc);
}

/* --- controlled shutdown ----------------------------------------------------------- */

static void shutdown_step(broker_ctrl_t *bc);

/* done() frees us and our connections, so it runs from the timer, never
 * from inside a connection's callback. */
static void shutdown_finish(broker_ctrl_t *bc, const char *why)
{
	if (bc->finished)
		return;
	bc->finished = 1;
	blog(BLOG_INFO, "broker", "controlled shutdown: %s", why);
	ev_timer_stop(bc->b->loop, &bc->shutdown_timer);
	ev_timer_set(&bc->shutdown_timer, 0., 0.);
	ev_timer_start(bc->b->loop, &bc->shutdown_timer);
}

static void on_shutdown_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	broker_ctrl_t *bc = t->data;

	(void)loop;
	(void)revents;
	if (bc->finished)
		bc->done(bc->b);
	else
		shutdown_step(bc);
}

static void shutdown_result(broker_ctrl_t *bc, brook_err_t err, int remaining)
{
	char why[128];

	if (!err && remaining == 0) {
		shutdown_finish(bc, "no leadership left here");
		return;
	}
	if (conn_now_ms() >= bc->shutdown_deadline_ms) {
		snprintf(why, sizeof(why), "giving up with %d leadership(s) left (%s)", remaining,
			 err ? brook_err_str(err) : "could not move");
		shutdown_finish(bc, why);
		return;
	}
	ev_timer_set(&bc->shutdown_timer, SHUTDOWN_POLL_S, 0.);
	ev_timer_start(bc->b->loop, &bc->shutdown_timer);
}

static void pack_cs(msgpack_packer *pk, void *arg)
{
	broker_ctrl_t *bc = arg;

	msgpack_pack_map(pk, 1);
	proto_pack_kv_int(pk, "broker_id", bc->b->id);
}

static void on_cs_response(conn_t *c, brook_err_t err, const msgpack_object *body, void *opaque)
{
	broker_ctrl_t *bc = opaque;
	int64_t ec = 0, remaining = -1;

	(void)c;
	bc->asking = 0;
	if (err == BROOK_ERR__CLOSED || bc->finished)
		return;
	if (!err && body &&
	    (proto_get_int(body, "error_code", 1, INT16_MIN, INT16_MAX, &ec, NULL, 0) ||
	     proto_get_int(body, "remaining_count", 0, -1, INT32_MAX, &remaining, NULL, 0)))
		err = BROOK_ERR__BAD_MSG;
	shutdown_result(bc, err ? err : (brook_err_t)ec, (int)remaining);
}

static void shutdown_step(broker_ctrl_t *bc)
{
	const metadata_t *md = broker_zk_metadata(bc->b->zk);
	int32_t ctrl = md ? md->controller_id : -1;
	int remaining = -1;
	conn_t *conn;

	if (bc->finished || bc->asking)
		return;
	if (ctrl == bc->b->id && controller_is_active(bc->c)) {
		brook_err_t err = controller_controlled_shutdown(bc->c, bc->b->id, &remaining);

		shutdown_result(bc, err, remaining);
		return;
	}
	if (ctrl < 0 || !(conn = peer_conn(bc, ctrl))) {
		shutdown_result(bc, BROOK_ERR_NOT_CONTROLLER, -1);
		return;
	}
	if (conn_request(conn, PROTO_API_CONTROLLED_SHUTDOWN, 0, pack_cs, bc, CTRL_REQUEST_TIMEOUT_MS,
			 1, on_cs_response, bc)) {
		shutdown_result(bc, BROOK_ERR__NOMEM, -1);
		return;
	}
	bc->asking = 1;
}

void broker_ctrl_shutdown(broker_ctrl_t *bc, void (*done)(broker_t *b))
{
	const broker_conf_t *conf = bc->b->conf;
	const metadata_t *md = broker_zk_metadata(bc->b->zk);

	bc->done = done;
	ev_init(&bc->shutdown_timer, on_shutdown_timer);
	bc->shutdown_timer.data = bc;
	if (!md || md->nbrokers <= 1) {
		shutdown_finish(bc, "no other broker to move leadership to");
		return;
	}
	/* Kafka tries max.retries + 1 times, backoff apart; we ask every
	 * 100 ms within the same total, so a quick move stops quickly */
	bc->shutdown_deadline_ms = conn_now_ms() + (int64_t)(conf->controlled_shutdown_max_retries + 1) *
							   conf->controlled_shutdown_retry_backoff_ms;
	blog(BLOG_INFO, "broker", "controlled shutdown: asking the controller to move leadership");
	shutdown_step(bc);
}
