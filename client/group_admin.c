/*
 * group_admin.c - consumer-group administration on ZooKeeper
 * (group_admin.h).
 *
 * ZooKeeper reads go out in rounds, every request of a round together (a
 * group with 1000 committed offsets is one round trip for the offsets),
 * using the abandon-on-timeout batches of zk_batch.h that admin.c uses
 * too: a batch the caller gave up on is freed by its last completion, so
 * a late answer never writes into a stack frame that is gone.
 *
 * Offsets that only the broker knows (log start, high watermark) come
 * from ListOffsets at each partition's leader: one request per partition,
 * pipelined on one connection per leader, on a private loop so that the
 * ZooKeeper session's loop stays untouched.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "admin.h"
#include "conn.h"
#include "errstr.h"
#include "group_admin.h"
#include "proto.h"
#include "zk_batch.h"
#include "zk_paths.h"

/* A path builder's failure (a group or topic name that cannot be a path
 * component) as one line. */
static brook_err_t bad_name(brook_err_t err, const char *what, const char *name, char *errstr,
			    size_t errstr_size)
{
	brook_errstr(errstr, errstr_size, "%s \"%s\": not a valid name", what, name);
	return err;
}

/* --- list ------------------------------------------------------------------ */

void group_list_free(group_list_t *l)
{
	if (!l)
		return;
	zkb_names_free(l->names, l->cnt);
	free(l);
}

brook_err_t group_admin_list(zk_session_t *zk, group_list_t **out, int timeout_ms, char *errstr,
			     size_t errstr_size)
{
	group_list_t *l;
	zkb_batch_t *b;
	zkb_req_t *r;
	zkb_deadline_t d;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	*out = NULL;
	zkb_deadline_init(&d, timeout_ms);
	if (!(b = zkb_batch_new(1)))
		return zkb_nomem(errstr, errstr_size);
	r = &b->reqs[0];
	zkb_req_submitted(r, zk_get_children(zk, ZK_PATH_CONSUMERS, NULL, zkb_on_children, r));
	if (zkb_batch_wait(zk, b, &d))
		return zkb_path_error(errstr, errstr_size, ZK_PATH_CONSUMERS, BROOK_ERR__TIMED_OUT,
				      &d);
	if (r->err && r->err != BROOK_ERR__NOENT) {
		err = zkb_path_error(errstr, errstr_size, ZK_PATH_CONSUMERS, r->err, &d);
	} else if (!(l = calloc(1, sizeof(*l)))) {
		err = zkb_nomem(errstr, errstr_size);
	} else {
		l->names = r->names;
		l->cnt = r->name_cnt;
		r->names = NULL;
		r->name_cnt = 0;
		if (l->cnt)
			qsort(l->names, l->cnt, sizeof(*l->names), zkb_cmp_str);
		*out = l;
	}
	zkb_batch_free(b);
	return err;
}

/* --- group checks -------------------------------------------------------------- */

/* Fails with _NOENT when /consumers/<g> does not exist and, with
 * need_empty, with _STATE while /consumers/<g>/ids has children: a live
 * member commits its own offsets and would undo a reset, and deleting its
 * folders under it would orphan it (Kafka refuses both as well). */
static brook_err_t group_check(zk_session_t *zk, const char *group, int need_empty,
			       const char *doing, const zkb_deadline_t *d, char *errstr,
			       size_t errstr_size)
{
	char gpath[ZK_PATH_MAX], ipath[ZK_PATH_MAX];
	zkb_batch_t *b;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	if ((err = zk_path_group(gpath, sizeof(gpath), group)) ||
	    (err = zk_path_group_ids(ipath, sizeof(ipath), group)))
		return bad_name(err, "group", group, errstr, errstr_size);
	if (!(b = zkb_batch_new(2)))
		return zkb_nomem(errstr, errstr_size);
	zkb_req_submitted(&b->reqs[0], zk_get_children(zk, gpath, NULL, zkb_on_children,
						       &b->reqs[0]));
	zkb_req_submitted(&b->reqs[1], zk_get_children(zk, ipath, NULL, zkb_on_children,
						       &b->reqs[1]));
	if (zkb_batch_wait(zk, b, d))
		return zkb_path_error(errstr, errstr_size, gpath, BROOK_ERR__TIMED_OUT, d);
	if (b->reqs[0].err == BROOK_ERR__NOENT) {
		brook_errstr(errstr, errstr_size, "consumer group \"%s\" does not exist", group);
		err = BROOK_ERR__NOENT;
	} else if (b->reqs[0].err) {
		err = zkb_path_error(errstr, errstr_size, gpath, b->reqs[0].err, d);
	} else if (b->reqs[1].err && b->reqs[1].err != BROOK_ERR__NOENT) {
		err = zkb_path_error(errstr, errstr_size, ipath, b->reqs[1].err, d);
	} else if (need_empty && b->reqs[1].name_cnt > 0) {
		qsort(b->reqs[1].names, b->reqs[1].name_cnt, sizeof(char *), zkb_cmp_str);
		brook_errstr(errstr, errstr_size,
			     "consumer group \"%s\" has %zu active member(s) (%s%s); stop them "
			     "before %s", group, b->reqs[1].name_cnt, b->reqs[1].names[0],
			     b->reqs[1].name_cnt > 1 ? ", ..." : "", doing);
		err = BROOK_ERR__STATE;
	}
	zkb_batch_free(b);
	return err;
}

/* --- ListOffsets at the leaders ----------------------------------------------------- */

typedef struct lo_broker {
	int32_t id;
	conn_t *conn;
} lo_broker_t;

typedef struct lo_req {
	group_offset_query_t *q;
	int *pending;
} lo_req_t;

/* ListOffsets v0 (proto.h): {replica_id: -1 (a consumer: the latest offset
 * is the high watermark), isolation_level: 0, topics: [{name,
 * partitions: [{partition_index, timestamp}]}]} */
static void pack_list_offsets(msgpack_packer *pk, void *arg)
{
	const lo_req_t *r = arg;

	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "replica_id", -1);
	proto_pack_kv_int(pk, "isolation_level", 0);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_str(pk, "name", r->q->topic);
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "partition_index", r->q->partition);
	proto_pack_kv_int(pk, "timestamp", r->q->timestamp);
}

/* {topics: [{name, partitions: [{partition_index, error_code, timestamp,
 * offset, leader_epoch}]}]}, or a top-level {error_code} when the broker
 * refused the whole request. */
static void list_offsets_done(conn_t *conn, brook_err_t err, const msgpack_object *body,
			      void *opaque)
{
	lo_req_t *r = opaque;
	const msgpack_object_array *topics, *parts;
	int64_t code = 0, offset = -1;

	(void)conn;
	(*r->pending)--;
	if (err) {
		r->q->err = err;
		return;
	}
	if (proto_get_int(body, "error_code", 0, INT16_MIN, INT16_MAX, &code, NULL, 0)) {
		r->q->err = BROOK_ERR__BAD_MSG;
		return;
	}
	if (code) {
		r->q->err = (brook_err_t)code;
		return;
	}
	if (proto_get_array(body, "topics", 1, &topics, NULL, 0) || topics->size != 1 ||
	    proto_get_array(&topics->ptr[0], "partitions", 1, &parts, NULL, 0) ||
	    parts->size != 1 ||
	    proto_get_int(&parts->ptr[0], "error_code", 1, INT16_MIN, INT16_MAX, &code, NULL, 0)) {
		r->q->err = BROOK_ERR__BAD_MSG;
		return;
	}
	if (code) {
		r->q->err = (brook_err_t)code;
		return;
	}
	if (proto_get_int(&parts->ptr[0], "offset", 1, 0, INT64_MAX, &offset, NULL, 0)) {
		r->q->err = BROOK_ERR__BAD_MSG;
		return;
	}
	r->q->err = BROOK_ERR_NO_ERROR;
	r->q->offset = offset;
}

/* The address a client uses: the BROOK listener, else the first one, else
 * the legacy host/port. 0 when the broker advertises nothing usable. */
static int broker_address(const zk_broker_reg_t *reg, const char **host, int *port)
{
	const zk_endpoint_t *ep = NULL;

	for (int i = 0; i < reg->endpoint_cnt; i++)
		if (strcmp(reg->endpoints[i].listener, "BROOK") == 0) {
			ep = &reg->endpoints[i];
			break;
		}
	if (!ep && reg->endpoint_cnt > 0)
		ep = &reg->endpoints[0];
	if (ep && ep->host[0] && ep->port > 0) {
		*host = ep->host;
		*port = ep->port;
		return 1;
	}
	if (reg->host[0] && reg->port > 0) {
		*host = reg->host;
		*port = reg->port;
		return 1;
	}
	return 0;
}

/* The leader of q's partition from the topic descriptions, or an error. */
static brook_err_t leader_of(const group_offset_query_t *q, admin_topic_info_t **infos,
			     const char **topics, size_t topic_cnt, int32_t *leader)
{
	for (size_t t = 0; t < topic_cnt; t++) {
		const admin_topic_info_t *ti = infos[t];

		if (strcmp(topics[t], q->topic) != 0)
			continue;
		if (!ti || q->partition < 0 || q->partition >= ti->assignment->partition_cnt)
			return BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		if (!ti->partitions[q->partition].has_state ||
		    ti->partitions[q->partition].state.leader < 0)
			return BROOK_ERR_LEADER_NOT_AVAILABLE;
		*leader = ti->partitions[q->partition].state.leader;
		return BROOK_ERR_NO_ERROR;
	}
	return BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
}

brook_err_t group_admin_list_offsets(zk_session_t *zk, group_offset_query_t *q, size_t n,
				     int timeout_ms, char *errstr, size_t errstr_size)
{
	const char **topics = NULL;
	admin_topic_info_t **infos = NULL;
	admin_broker_list_t *brokers = NULL;
	lo_broker_t *conns = NULL;
	lo_req_t *reqs = NULL;
	size_t topic_cnt = 0, conn_cnt = 0;
	struct ev_loop *loop = NULL;
	int pending = 0;
	zkb_deadline_t d;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	zkb_deadline_init(&d, timeout_ms);
	for (size_t i = 0; i < n; i++) {
		q[i].err = BROOK_ERR__STATE;
		q[i].offset = -1;
	}
	if (n == 0)
		return BROOK_ERR_NO_ERROR;
	if (!(topics = calloc(n, sizeof(*topics))) || !(infos = calloc(n, sizeof(*infos))) ||
	    !(conns = calloc(n, sizeof(*conns))) || !(reqs = calloc(n, sizeof(*reqs)))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	/* Each distinct topic once: its partition states name the leaders. */
	for (size_t i = 0; i < n; i++) {
		size_t t;

		for (t = 0; t < topic_cnt; t++)
			if (strcmp(topics[t], q[i].topic) == 0)
				break;
		if (t < topic_cnt)
			continue;
		topics[topic_cnt] = q[i].topic;
		err = admin_topic_describe(zk, q[i].topic, &infos[topic_cnt], zkb_deadline_left(&d),
					   errstr, errstr_size);
		if (err == BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION)
			err = BROOK_ERR_NO_ERROR; /* per query, below */
		if (err)
			goto done;
		topic_cnt++;
	}
	if ((err = admin_brokers_list(zk, &brokers, zkb_deadline_left(&d), errstr, errstr_size)))
		goto done;
	if (!(loop = ev_loop_new(EVFLAG_AUTO))) {
		brook_errstr(errstr, errstr_size, "cannot create an event loop");
		err = BROOK_ERR__NOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		int32_t leader = -1;
		lo_broker_t *lb = NULL;
		size_t bi;

		if ((q[i].err = leader_of(&q[i], infos, topics, topic_cnt, &leader)))
			continue;
		for (size_t c = 0; c < conn_cnt; c++)
			if (conns[c].id == leader)
				lb = &conns[c];
		if (!lb) {
			conn_opts_t opts = {
				.client_id = "brook-groups",
				.connect_timeout_ms = zkb_deadline_left(&d) > 0 ? zkb_deadline_left(&d) : 1,
				.backoff_ms = 100,
				.backoff_max_ms = 1000,
			};
			const char *host;
			int port;

			for (bi = 0; bi < brokers->cnt; bi++)
				if (brokers->ids[bi] == leader)
					break;
			if (bi == brokers->cnt ||
			    !broker_address(&brokers->brokers[bi], &host, &port)) {
				q[i].err = BROOK_ERR_BROKER_NOT_AVAILABLE;
				continue;
			}
			lb = &conns[conn_cnt];
			lb->id = leader;
			if ((q[i].err = conn_new(loop, host, port, &opts, &lb->conn)))
				continue;
			conn_cnt++;
		}
		reqs[i].q = &q[i];
		reqs[i].pending = &pending;
		if (zkb_deadline_left(&d) <= 0) {
			q[i].err = BROOK_ERR__TIMED_OUT;
			continue;
		}
		q[i].err = conn_request(lb->conn, PROTO_API_LIST_OFFSETS, 0, pack_list_offsets,
					&reqs[i], zkb_deadline_left(&d), 1, list_offsets_done,
					&reqs[i]);
		if (!q[i].err)
			pending++;
	}
	/* Every request has a deadline inside conn.h, so each callback runs
	 * and this ends; an unreachable leader fails its requests early. */
	while (pending > 0)
		ev_run(loop, EVRUN_ONCE);
done:
	for (size_t c = 0; c < conn_cnt; c++)
		conn_free(conns[c].conn);
	if (loop)
		ev_loop_destroy(loop);
	for (size_t t = 0; infos && t < topic_cnt; t++)
		admin_topic_info_free(infos[t]);
	admin_broker_list_free(brokers);
	free(reqs);
	free(conns);
	free(infos);
	free(topics);
	return err;
}

/* --- describe ------------------------------------------------------------------------ */

void group_info_free(group_info_t *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->member_cnt; i++) {
		free(g->members[i].id);
		zk_consumer_member_free(g->members[i].reg);
	}
	for (size_t i = 0; i < g->partition_cnt; i++) {
		free(g->partitions[i].topic);
		free(g->partitions[i].owner);
	}
	free(g->members);
	free(g->partitions);
	free(g->name);
	free(g);
}

static int cmp_partition(const void *a, const void *b)
{
	const group_partition_t *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	if (c)
		return c;
	return (x->partition > y->partition) - (x->partition < y->partition);
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp(((const group_member_t *)a)->id, ((const group_member_t *)b)->id);
}

/* What a round-3 request reads. */
typedef struct part_read {
	const char *topic;       /* a name held by a round-1 request */
	int32_t partition;
	int is_owner;
} part_read_t;

/* Round 3's reads of one folder's partition children (owners/<t> or
 * offsets/<t>). */
static brook_err_t queue_partitions(const zkb_req_t *folder, const char *topic, int is_owner,
				    const char *fpath, part_read_t *reads, size_t *cnt,
				    char *errstr, size_t errstr_size)
{
	for (size_t j = 0; j < folder->name_cnt; j++) {
		int32_t p;

		if (zk_path_parse_id(folder->names[j], &p)) {
			brook_errstr(errstr, errstr_size, "%s/%s: not a partition number", fpath,
				     folder->names[j]);
			return BROOK_ERR__BAD_MSG;
		}
		reads[*cnt].topic = topic;
		reads[*cnt].partition = p;
		reads[*cnt].is_owner = is_owner;
		(*cnt)++;
	}
	return BROOK_ERR_NO_ERROR;
}

/* Round 1: /consumers/<g>, its ids, owners and offsets folders.
 * Round 2: each member's registration, each topic folder's children.
 * Round 3: each owner and offset znode.
 * Then one list of partitions, sorted, an owner and an offset merged. */
brook_err_t group_admin_describe(zk_session_t *zk, const char *group, int with_log_end,
				 group_info_t **out, int timeout_ms, char *errstr,
				 size_t errstr_size)
{
	char gpath[ZK_PATH_MAX], path[ZK_PATH_MAX], reason[512];
	zkb_batch_t *b1 = NULL, *b2 = NULL, *b3 = NULL;
	zkb_req_t *ids, *owners, *offsets;
	part_read_t *reads = NULL;
	group_offset_query_t *lq = NULL;
	group_info_t *g = NULL;
	size_t m_cnt, ot_cnt, ft_cnt, read_cnt = 0, read_cap = 0;
	zkb_deadline_t d;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	*out = NULL;
	zkb_deadline_init(&d, timeout_ms);
	if ((err = zk_path_group(gpath, sizeof(gpath), group)))
		return bad_name(err, "group", group, errstr, errstr_size);
	if (!(b1 = zkb_batch_new(4)))
		return zkb_nomem(errstr, errstr_size);
	{
		static const char *const sub[] = { "", "/ids", "/owners", "/offsets" };

		for (int i = 0; i < 4; i++) {
			snprintf(path, sizeof(path), "%s%s", gpath, sub[i]);
			zkb_req_submitted(&b1->reqs[i],
					  zk_get_children(zk, path, NULL, zkb_on_children,
							  &b1->reqs[i]));
		}
	}
	if (zkb_batch_wait(zk, b1, &d))
		return zkb_path_error(errstr, errstr_size, gpath, BROOK_ERR__TIMED_OUT, &d);
	if (b1->reqs[0].err == BROOK_ERR__NOENT) {
		brook_errstr(errstr, errstr_size, "consumer group \"%s\" does not exist", group);
		err = BROOK_ERR__NOENT;
		goto done;
	}
	for (int i = 0; i < 4; i++)
		if (b1->reqs[i].err && (i == 0 || b1->reqs[i].err != BROOK_ERR__NOENT)) {
			err = zkb_path_error(errstr, errstr_size, gpath, b1->reqs[i].err, &d);
			goto done;
		}
	ids = &b1->reqs[1];
	owners = &b1->reqs[2];
	offsets = &b1->reqs[3];
	m_cnt = ids->name_cnt;
	ot_cnt = owners->name_cnt;
	ft_cnt = offsets->name_cnt;

	if (!(b2 = zkb_batch_new(m_cnt + ot_cnt + ft_cnt))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	for (size_t i = 0; i < m_cnt; i++) {
		if ((err = zk_path_group_member(path, sizeof(path), group, ids->names[i]))) {
			err = bad_name(err, "member", ids->names[i], errstr, errstr_size);
			goto done;
		}
		zkb_req_submitted(&b2->reqs[i], zk_get(zk, path, NULL, zkb_on_data, &b2->reqs[i]));
	}
	for (size_t i = 0; i < ot_cnt + ft_cnt; i++) {
		int is_owner = i < ot_cnt;
		const char *t = is_owner ? owners->names[i] : offsets->names[i - ot_cnt];
		zkb_req_t *r = &b2->reqs[m_cnt + i];

		err = is_owner ? zk_path_group_owners(path, sizeof(path), group, t)
			       : zk_path_group_offsets(path, sizeof(path), group, t);
		if (err) {
			err = bad_name(err, "topic", t, errstr, errstr_size);
			goto done;
		}
		zkb_req_submitted(r, zk_get_children(zk, path, NULL, zkb_on_children, r));
	}
	if (zkb_batch_wait(zk, b2, &d)) {
		b2 = NULL;
		err = zkb_path_error(errstr, errstr_size, gpath, BROOK_ERR__TIMED_OUT, &d);
		goto done;
	}

	if (!(g = calloc(1, sizeof(*g))) || !(g->name = strdup(group)) ||
	    !(g->members = calloc(m_cnt + 1, sizeof(*g->members)))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	for (size_t i = 0; i < m_cnt; i++) {
		zkb_req_t *r = &b2->reqs[i];
		group_member_t *gm = &g->members[g->member_cnt];

		if (r->err == BROOK_ERR__NOENT)
			continue; /* left between the two reads */
		zk_path_group_member(path, sizeof(path), group, ids->names[i]);
		if (r->err) {
			err = zkb_path_error(errstr, errstr_size, path, r->err, &d);
			goto done;
		}
		if ((err = zk_json_consumer_member_decode(r->data, r->len, &gm->reg, reason,
							  sizeof(reason)))) {
			brook_errstr_at(errstr, errstr_size, path, "%s", reason);
			goto done;
		}
		if (!(gm->id = strdup(ids->names[i]))) {
			zk_consumer_member_free(gm->reg);
			err = zkb_nomem(errstr, errstr_size);
			goto done;
		}
		g->member_cnt++;
	}
	if (g->member_cnt > 1)
		qsort(g->members, g->member_cnt, sizeof(*g->members), cmp_member);

	for (size_t i = 0; i < ot_cnt + ft_cnt; i++) {
		zkb_req_t *r = &b2->reqs[m_cnt + i];

		if (r->err && r->err != BROOK_ERR__NOENT) {
			err = zkb_path_error(errstr, errstr_size, gpath, r->err, &d);
			goto done;
		}
		read_cap += r->name_cnt;
	}
	if (!(reads = calloc(read_cap + 1, sizeof(*reads))) || !(b3 = zkb_batch_new(read_cap))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	for (size_t i = 0; i < ot_cnt + ft_cnt; i++) {
		int is_owner = i < ot_cnt;
		const char *t = is_owner ? owners->names[i] : offsets->names[i - ot_cnt];

		if (is_owner)
			zk_path_group_owners(path, sizeof(path), group, t);
		else
			zk_path_group_offsets(path, sizeof(path), group, t);
		if ((err = queue_partitions(&b2->reqs[m_cnt + i], t, is_owner, path, reads,
					    &read_cnt, errstr, errstr_size)))
			goto done;
	}
	for (size_t i = 0; i < read_cnt; i++) {
		if (reads[i].is_owner)
			zk_path_group_owner(path, sizeof(path), group, reads[i].topic,
					    reads[i].partition);
		else
			zk_path_group_offset(path, sizeof(path), group, reads[i].topic,
					     reads[i].partition);
		zkb_req_submitted(&b3->reqs[i], zk_get(zk, path, NULL, zkb_on_data, &b3->reqs[i]));
	}
	if (zkb_batch_wait(zk, b3, &d)) {
		b3 = NULL;
		err = zkb_path_error(errstr, errstr_size, gpath, BROOK_ERR__TIMED_OUT, &d);
		goto done;
	}

	if (!(g->partitions = calloc(read_cnt + 1, sizeof(*g->partitions)))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	for (size_t i = 0; i < read_cnt; i++) {
		zkb_req_t *r = &b3->reqs[i];
		group_partition_t *gp = &g->partitions[g->partition_cnt];

		if (r->err == BROOK_ERR__NOENT)
			continue; /* an owner released it meanwhile */
		if (reads[i].is_owner)
			zk_path_group_owner(path, sizeof(path), group, reads[i].topic,
					    reads[i].partition);
		else
			zk_path_group_offset(path, sizeof(path), group, reads[i].topic,
					     reads[i].partition);
		if (r->err) {
			err = zkb_path_error(errstr, errstr_size, path, r->err, &d);
			goto done;
		}
		gp->partition = reads[i].partition;
		gp->offset = -1;
		gp->offset_version = -1;
		gp->log_end_offset = -1;
		if (reads[i].is_owner) {
			if (!(gp->owner = strdup(r->data))) {
				err = zkb_nomem(errstr, errstr_size);
				goto done;
			}
		} else {
			if ((err = zk_json_offset_decode(r->data, r->len, &gp->offset, reason,
							 sizeof(reason)))) {
				brook_errstr_at(errstr, errstr_size, path, "%s", reason);
				goto done;
			}
			gp->offset_version = r->stat.version;
		}
		if (!(gp->topic = strdup(reads[i].topic))) {
			free(gp->owner);
			gp->owner = NULL;
			err = zkb_nomem(errstr, errstr_size);
			goto done;
		}
		g->partition_cnt++;
	}
	/* Sorted, an owner entry and an offset entry of one partition are
	 * neighbours: merge them into the first. */
	if (g->partition_cnt > 1) {
		size_t w = 0;

		qsort(g->partitions, g->partition_cnt, sizeof(*g->partitions), cmp_partition);
		for (size_t i = 1; i < g->partition_cnt; i++) {
			group_partition_t *a = &g->partitions[w], *x = &g->partitions[i];

			if (cmp_partition(a, x) != 0) {
				g->partitions[++w] = *x;
				continue;
			}
			if (x->owner && !a->owner) {
				a->owner = x->owner;
				x->owner = NULL;
			}
			if (x->offset_version >= 0) {
				a->offset = x->offset;
				a->offset_version = x->offset_version;
			}
			free(x->topic);
			free(x->owner);
		}
		g->partition_cnt = w + 1;
	}

	if (with_log_end && g->partition_cnt > 0) {
		if (!(lq = calloc(g->partition_cnt, sizeof(*lq)))) {
			err = zkb_nomem(errstr, errstr_size);
			goto done;
		}
		for (size_t i = 0; i < g->partition_cnt; i++) {
			lq[i].topic = g->partitions[i].topic;
			lq[i].partition = g->partitions[i].partition;
			lq[i].timestamp = PROTO_TS_LATEST;
		}
		if ((err = group_admin_list_offsets(zk, lq, g->partition_cnt, zkb_deadline_left(&d),
						    errstr, errstr_size)))
			goto done;
		/* An unreachable leader is not an error here: describe shows
		 * what it knows and "-" for the rest. */
		for (size_t i = 0; i < g->partition_cnt; i++)
			if (!lq[i].err)
				g->partitions[i].log_end_offset = lq[i].offset;
	}
	*out = g;
	g = NULL;
done:
	free(lq);
	free(reads);
	group_info_free(g);
	zkb_batch_free(b1);
	zkb_batch_free(b2);
	zkb_batch_free(b3);
	return err;
}

/* --- reset-offsets ---------------------------------------------------------------------- */

void group_reset_result_free(group_reset_result_t *r)
{
	if (!r)
		return;
	free(r->topic);
	free(r->new_offsets);
	free(r);
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* current + shift without overflow (either way, clamping follows). */
static int64_t add_saturating(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

brook_err_t group_admin_reset_offsets(zk_session_t *zk, const char *group, const char *topic,
				      group_reset_how_t how, int64_t value, int dry_run,
				      group_reset_result_t **out, int timeout_ms, char *errstr,
				      size_t errstr_size)
{
	char path[ZK_PATH_MAX], reason[512];
	admin_topic_info_t *ti = NULL;
	group_reset_result_t *res = NULL;
	group_offset_query_t *lq = NULL;
	int64_t *cur = NULL;
	int32_t *ver = NULL, n;
	zkb_batch_t *b = NULL;
	zk_multi_t *m = NULL;
	int missing = 0;
	zkb_deadline_t d;
	brook_err_t err;

	*out = NULL;
	zkb_deadline_init(&d, timeout_ms);
	if ((err = group_check(zk, group, 1, "resetting offsets", &d, errstr, errstr_size)))
		return err;
	if ((err = admin_topic_describe(zk, topic, &ti, zkb_deadline_left(&d), errstr,
					errstr_size)))
		return err;
	n = ti->assignment->partition_cnt;
	if (!(res = calloc(1, sizeof(*res))) || !(res->topic = strdup(topic)) ||
	    !(res->new_offsets = calloc((size_t)n, sizeof(int64_t))) ||
	    !(cur = calloc((size_t)n, sizeof(*cur))) || !(ver = calloc((size_t)n, sizeof(*ver))) ||
	    !(lq = calloc(2 * (size_t)n, sizeof(*lq))) || !(b = zkb_batch_new((size_t)n))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	res->cnt = n;

	/* The committed offsets and their versions, for --shift-by and for
	 * the conditional writes. */
	for (int32_t p = 0; p < n; p++) {
		zk_path_group_offset(path, sizeof(path), group, topic, p);
		zkb_req_submitted(&b->reqs[p], zk_get(zk, path, NULL, zkb_on_data, &b->reqs[p]));
	}
	if (zkb_batch_wait(zk, b, &d)) {
		b = NULL;
		err = zkb_path_error(errstr, errstr_size, topic, BROOK_ERR__TIMED_OUT, &d);
		goto done;
	}
	for (int32_t p = 0; p < n; p++) {
		zkb_req_t *r = &b->reqs[p];

		cur[p] = -1;
		ver[p] = -1;
		if (r->err == BROOK_ERR__NOENT) {
			missing = 1;
			continue;
		}
		zk_path_group_offset(path, sizeof(path), group, topic, p);
		if (r->err) {
			err = zkb_path_error(errstr, errstr_size, path, r->err, &d);
			goto done;
		}
		if ((err = zk_json_offset_decode(r->data, r->len, &cur[p], reason, sizeof(reason)))) {
			brook_errstr_at(errstr, errstr_size, path, "%s", reason);
			goto done;
		}
		ver[p] = r->stat.version;
	}
	zkb_batch_free(b);
	b = NULL;

	/* Every new offset stays within what the log holds, so the leaders'
	 * bounds are needed whatever the mode. */
	for (int32_t p = 0; p < n; p++) {
		lq[2 * p].topic = lq[2 * p + 1].topic = topic;
		lq[2 * p].partition = lq[2 * p + 1].partition = p;
		lq[2 * p].timestamp = PROTO_TS_EARLIEST;
		lq[2 * p + 1].timestamp = PROTO_TS_LATEST;
	}
	if ((err = group_admin_list_offsets(zk, lq, 2 * (size_t)n, zkb_deadline_left(&d), errstr,
					    errstr_size)))
		goto done;
	for (int32_t p = 0; p < n; p++) {
		int64_t lo = lq[2 * p].offset, hi = lq[2 * p + 1].offset;

		for (int k = 0; k < 2; k++)
			if ((err = lq[2 * p + k].err)) {
				brook_errstr(errstr, errstr_size,
					     "%s-%" PRId32 ": cannot read the %s offset from the "
					     "partition's leader: %s (nothing was written)", topic, p,
					     k ? "latest" : "earliest", brook_err_str(err));
				goto done;
			}
		switch (how) {
		case GROUP_RESET_EARLIEST: res->new_offsets[p] = lo; break;
		case GROUP_RESET_LATEST: res->new_offsets[p] = hi; break;
		case GROUP_RESET_TO_OFFSET: res->new_offsets[p] = clamp(value, lo, hi); break;
		case GROUP_RESET_SHIFT_BY:
			/* Kafka refuses too: shifting needs a starting point. */
			if (cur[p] < 0) {
				brook_errstr(errstr, errstr_size,
					     "%s-%" PRId32 ": no committed offset in group \"%s\" "
					     "to shift from (nothing was written)", topic, p, group);
				err = BROOK_ERR__INVALID_ARG;
				goto done;
			}
			res->new_offsets[p] = clamp(add_saturating(cur[p], value), lo, hi);
			break;
		}
	}
	if (dry_run)
		goto ok;

	if (!(b = zkb_batch_new(1))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	/* The offsets folder is created outside the multi: it is idempotent
	 * and harmless when the multi then fails. */
	if (missing) {
		zk_path_group_offsets(path, sizeof(path), group, topic);
		zkb_req_submitted(&b->reqs[0], zk_create_path(zk, path, zkb_on_void, &b->reqs[0]));
		if (zkb_batch_wait(zk, b, &d)) {
			b = NULL;
			err = zkb_path_error(errstr, errstr_size, path, BROOK_ERR__TIMED_OUT, &d);
			goto done;
		}
		if ((err = b->reqs[0].err)) {
			zkb_path_error(errstr, errstr_size, path, err, &d);
			goto done;
		}
		zkb_batch_free(b);
		if (!(b = zkb_batch_new(1))) {
			err = zkb_nomem(errstr, errstr_size);
			goto done;
		}
	}
	if (!(m = zk_multi_new())) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	for (int32_t p = 0; p < n; p++) {
		char *text = NULL;

		zk_path_group_offset(path, sizeof(path), group, topic, p);
		if ((err = zk_json_offset_encode(res->new_offsets[p], &text))) {
			brook_errstr_at(errstr, errstr_size, path, "cannot encode offset %" PRId64,
					res->new_offsets[p]);
			goto done;
		}
		/* Conditional on the version read: a consumer that committed
		 * meanwhile makes the whole reset fail instead of being
		 * silently overwritten. */
		err = ver[p] >= 0 ? zk_multi_add_set(m, path, text, strlen(text), ver[p])
				  : zk_multi_add_create(m, path, text, strlen(text), ZK_PERSISTENT);
		free(text);
		if (err) {
			err = zkb_nomem(errstr, errstr_size);
			goto done;
		}
	}
	zkb_req_submitted(&b->reqs[0], zk_multi(zk, m, zkb_on_multi, &b->reqs[0]));
	m = NULL; /* zk_multi owns it */
	if (zkb_batch_wait(zk, b, &d)) {
		b = NULL;
		err = zkb_path_error(errstr, errstr_size, topic, BROOK_ERR__TIMED_OUT, &d);
		goto done;
	}
	if ((err = b->reqs[0].err)) {
		if (err == BROOK_ERR__VERSION || err == BROOK_ERR__EXISTS ||
		    err == BROOK_ERR__NOENT) {
			brook_errstr(errstr, errstr_size,
				     "offsets of group \"%s\" on %s changed while resetting them; "
				     "nothing was written, run again", group, topic);
			err = BROOK_ERR__VERSION;
		} else {
			zk_path_group_offsets(path, sizeof(path), group, topic);
			zkb_path_error(errstr, errstr_size, path, err, &d);
		}
		goto done;
	}
ok:
	*out = res;
	res = NULL;
	err = BROOK_ERR_NO_ERROR;
done:
	zk_multi_free(m);
	zkb_batch_free(b);
	admin_topic_info_free(ti);
	group_reset_result_free(res);
	free(lq);
	free(cur);
	free(ver);
	return err;
}

/* --- delete -------------------------------------------------------------------------------- */

/* Appends a malloc'd copy of s to a growing array. */
static int push_path(char ***v, size_t *cnt, size_t *cap, const char *s)
{
	if (*cnt == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, ncap * sizeof(*nv));

		if (!nv)
			return -1;
		*v = nv;
		*cap = ncap;
	}
	if (!((*v)[*cnt] = strdup(s)))
		return -1;
	(*cnt)++;
	return 0;
}

brook_err_t group_admin_delete(zk_session_t *zk, const char *group, size_t *deleted,
			       int timeout_ms, char *errstr, size_t errstr_size)
{
	char gpath[ZK_PATH_MAX], path[ZK_PATH_MAX];
	char **all = NULL;
	size_t cnt = 0, cap = 0, level_start = 0;
	zkb_batch_t *b = NULL;
	zkb_deadline_t d;
	brook_err_t err;

	*deleted = 0;
	zkb_deadline_init(&d, timeout_ms);
	if ((err = group_check(zk, group, 1, "deleting the group", &d, errstr, errstr_size)))
		return err;
	zk_path_group(gpath, sizeof(gpath), group);
	if (push_path(&all, &cnt, &cap, gpath)) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	/* Breadth first, one round per level: every node comes after its
	 * parent in `all`, so deleting from the end removes children first. */
	while (level_start < cnt) {
		size_t level_end = cnt;

		if (!(b = zkb_batch_new(level_end - level_start))) {
			err = zkb_nomem(errstr, errstr_size);
			goto done;
		}
		for (size_t i = level_start; i < level_end; i++) {
			zkb_req_t *r = &b->reqs[i - level_start];

			zkb_req_submitted(r, zk_get_children(zk, all[i], NULL, zkb_on_children, r));
		}
		if (zkb_batch_wait(zk, b, &d)) {
			b = NULL;
			err = zkb_path_error(errstr, errstr_size, gpath, BROOK_ERR__TIMED_OUT, &d);
			goto done;
		}
		for (size_t i = level_start; i < level_end; i++) {
			zkb_req_t *r = &b->reqs[i - level_start];

			if (r->err == BROOK_ERR__NOENT)
				continue;
			if (r->err) {
				err = zkb_path_error(errstr, errstr_size, all[i], r->err, &d);
				goto done;
			}
			for (size_t j = 0; j < r->name_cnt; j++) {
				int len = snprintf(path, sizeof(path), "%s/%s", all[i],
						   r->names[j]);

				if (len < 0 || (size_t)len >= sizeof(path)) {
					brook_errstr_at(errstr, errstr_size, all[i],
							"child path too long");
					err = BROOK_ERR__INVALID_ARG;
					goto done;
				}
				if (push_path(&all, &cnt, &cap, path)) {
					err = zkb_nomem(errstr, errstr_size);
					goto done;
				}
			}
		}
		zkb_batch_free(b);
		b = NULL;
		level_start = level_end;
	}
	/* Deepest first, in batches; ZooKeeper applies a multi's operations
	 * in order, so a parent may share a batch with its children. */
	for (size_t done_cnt = 0; done_cnt < cnt;) {
		size_t k = cnt - done_cnt < GROUP_ADMIN_MULTI_BATCH ? cnt - done_cnt
								    : GROUP_ADMIN_MULTI_BATCH;
		zk_multi_t *m = zk_multi_new();

		if (!m || !(b = zkb_batch_new(1))) {
			zk_multi_free(m);
			err = zkb_nomem(errstr, errstr_size);
			goto done;
		}
		for (size_t i = 0; i < k; i++)
			if (zk_multi_add_delete(m, all[cnt - 1 - done_cnt - i], ZK_ANY_VERSION)) {
				zk_multi_free(m);
				err = zkb_nomem(errstr, errstr_size);
				goto done;
			}
		zkb_req_submitted(&b->reqs[0], zk_multi(zk, m, zkb_on_multi, &b->reqs[0]));
		if (zkb_batch_wait(zk, b, &d)) {
			b = NULL;
			err = zkb_path_error(errstr, errstr_size, gpath, BROOK_ERR__TIMED_OUT, &d);
			goto done;
		}
		if ((err = b->reqs[0].err)) {
			int f = b->reqs[0].failed_op;
			const char *at = f >= 0 ? all[cnt - 1 - done_cnt - (size_t)f] : gpath;

			brook_errstr_at(errstr, errstr_size, at,
					"%s (the group changed while being deleted; %zu znode(s) "
					"were removed, run again)", brook_err_str(err), *deleted);
			goto done;
		}
		zkb_batch_free(b);
		b = NULL;
		done_cnt += k;
		*deleted += k;
	}
	err = BROOK_ERR_NO_ERROR;
done:
	zkb_batch_free(b);
	zkb_names_free(all, cnt);
	return err;
}
