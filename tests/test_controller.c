/*
 * test_controller.c - the controller against a real one-server ZooKeeper,
 * without brokers: each test builds the cluster view by hand (what
 * broker_zk would hold), hands it to controller_update(), runs the loop
 * until the controller is quiet, and reads the znodes back with a second
 * session (`raw`), which also plays the other actors (admin tools, a
 * racing writer).
 *
 * Every test works under its own chroot, so they share the ensemble
 * without seeing each other.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "blog.h"
#include "controller.h"
#include "harness.h"
#include "harness_zk.h"
#include "metadata.h"
#include "zk_json.h"
#include "zk_paths.h"
#include "zk_session.h"

#define WAIT_MS 15000
#define SESSION_MS 6000

static harness_zk_t *ens;
static struct ev_loop *loop;
static zk_session_t *raw;

/* --- running the loop ------------------------------------------------------ */

static void tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until cond(arg) holds or timeout_ms passed; 0 when it
 * holds. A 10 ms tick re-checks conditions no event announces. */
static int run_until(int (*cond)(const void *), const void *arg, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	ev_timer tick;
	int ok;

	ev_timer_init(&tick, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &tick);
	while (!(ok = cond(arg)) && mono_ms() < deadline)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return ok ? 0 : -1;
}

static int never(const void *arg)
{
	(void)arg;
	return 0;
}

static void run_for(int ms)
{
	run_until(never, NULL, ms);
}

/* --- synchronous raw operations --------------------------------------------- */

typedef struct result {
	int done;
	brook_err_t err;
	char data[4096];
	size_t len;
	zk_stat_t stat;
	size_t nchildren;
} result_t;

static void data_cb(zk_session_t *s, brook_err_t err, const char *data, size_t len,
		    const zk_stat_t *stat, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->err = err;
	r->len = 0;
	if (!err) {
		r->len = len < sizeof(r->data) - 1 ? len : sizeof(r->data) - 1;
		memcpy(r->data, data ? data : "", r->len);
		r->stat = *stat;
	}
	r->data[r->len] = '\0';
	r->done = 1;
}

static void children_cb(zk_session_t *s, brook_err_t err, const char *const *names, size_t count,
			const zk_stat_t *stat, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	(void)names;
	(void)stat;
	r->err = err;
	r->nchildren = err ? 0 : count;
	r->done = 1;
}

static void create_cb(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	(void)path;
	r->err = err;
	r->done = 1;
}

static void stat_cb(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->err = err;
	if (stat)
		r->stat = *stat;
	r->done = 1;
}

static void void_cb(zk_session_t *s, brook_err_t err, void *opaque)
{
	result_t *r = opaque;

	(void)s;
	r->err = err;
	r->done = 1;
}

static brook_err_t finish(brook_err_t err, result_t *r)
{
	if (err)
		return err;
	CU_ASSERT_EQUAL_FATAL(zk_run_until(raw, &r->done, WAIT_MS), BROOK_ERR_NO_ERROR);
	return r->err;
}

static brook_err_t r_get(const char *path, result_t *r)
{
	memset(r, 0, sizeof(*r));
	return finish(zk_get(raw, path, NULL, data_cb, r), r);
}

static brook_err_t r_children(const char *path, size_t *n)
{
	result_t r;
	brook_err_t err;

	memset(&r, 0, sizeof(r));
	err = finish(zk_get_children(raw, path, NULL, children_cb, &r), &r);
	*n = r.nchildren;
	return err;
}

static brook_err_t r_create(const char *path, const char *data, int flags)
{
	result_t r;

	memset(&r, 0, sizeof(r));
	return finish(zk_create(raw, path, data, data ? strlen(data) : 0, flags, create_cb, &r),
		      &r);
}

static brook_err_t r_set(const char *path, const char *data, int version)
{
	result_t r;

	memset(&r, 0, sizeof(r));
	return finish(zk_set(raw, path, data, strlen(data), version, stat_cb, &r), &r);
}

static brook_err_t r_delete(const char *path)
{
	result_t r;

	memset(&r, 0, sizeof(r));
	return finish(zk_delete(raw, path, ZK_ANY_VERSION, void_cb, &r), &r);
}

static brook_err_t r_mkdirs(const char *path)
{
	result_t r;

	memset(&r, 0, sizeof(r));
	return finish(zk_create_path(raw, path, void_cb, &r), &r);
}

/* A controller's writes reach raw's server in its own time: read until
 * `path` reads as `want`, bounded. */
static brook_err_t wait_get(const char *path, brook_err_t want, result_t *r)
{
	brook_err_t err = BROOK_ERR__TIMED_OUT;

	for (int i = 0; i < 200; i++) {
		if ((err = r_get(path, r)) == want)
			break;
		run_for(50);
	}
	return err;
}

/* --- the cluster in ZooKeeper ---------------------------------------------------- */

/* A chroot with the persistent folders brokers create at startup (the
 * controller creates its two watched folders itself when missing). */
static void setup_chroot(const char *chroot)
{
	static const char *const folders[] = {
		"/brokers/ids", "/brokers/topics", "/config/topics",
	};
	char path[256];

	for (size_t i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", chroot, folders[i]);
		CU_ASSERT_EQUAL_FATAL(r_mkdirs(path), BROOK_ERR_NO_ERROR);
	}
}

static zk_session_t *open_session(const char *chroot)
{
	char connect[256], errstr[256];
	zk_session_t *s = NULL;

	snprintf(connect, sizeof(connect), "%s%s", harness_zk_connect_string(ens), chroot);
	CU_ASSERT_EQUAL_FATAL(zk_session_new(loop, connect, SESSION_MS, NULL, NULL, &s, errstr,
					     sizeof(errstr)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_session_wait_connected(s, WAIT_MS), BROOK_ERR_NO_ERROR);
	return s;
}

static zk_topic_assignment_t *assignment(int32_t nparts, int32_t rf, const int32_t *ids)
{
	zk_topic_assignment_t *a = zk_topic_assignment_new(nparts, rf);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (int32_t p = 0; p < nparts; p++)
		for (int32_t i = 0; i < rf; i++)
			a->partitions[p].ids[i] = ids[p * rf + i];
	return a;
}

/* /<chroot>/brokers/topics/<t> (what an admin tool writes), and the same
 * topic in the view. */
static void create_topic(const char *chroot, metadata_t *md, const char *topic, int32_t nparts,
			 int32_t rf, const int32_t *ids)
{
	zk_topic_assignment_t *a = assignment(nparts, rf, ids);
	char path[512], *json = NULL;

	CU_ASSERT_EQUAL_FATAL(zk_json_topic_assignment_encode(a, &json), BROOK_ERR_NO_ERROR);
	snprintf(path, sizeof(path), "%s/brokers/topics/%s", chroot, topic);
	CU_ASSERT_EQUAL_FATAL(r_create(path, json, ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	free(json);
	if (md) {
		CU_ASSERT_EQUAL_FATAL(metadata_set_topic(md, topic, a, NULL), BROOK_ERR_NO_ERROR);
	}
	zk_topic_assignment_free(a);
}

static void state_path(char *buf, size_t size, const char *chroot, const char *topic, int32_t p)
{
	snprintf(buf, size, "%s/brokers/topics/%s/partitions/%d/state", chroot, topic, (int)p);
}

static char *state_json(int32_t leader, int32_t leader_epoch, int nisr, const int32_t *isr)
{
	zk_partition_state_t st;
	char *json = NULL;

	memset(&st, 0, sizeof(st));
	st.version = 1;
	st.controller_epoch = 0;
	st.leader = leader;
	st.leader_epoch = leader_epoch;
	st.isr_cnt = nisr;
	memcpy(st.isr, isr, (size_t)nisr * sizeof(*isr));
	CU_ASSERT_EQUAL_FATAL(zk_json_partition_state_encode(&st, &json), BROOK_ERR_NO_ERROR);
	return json;
}

/* Writes a state behind the controller's back (another writer). */
static void put_state(const char *chroot, const char *topic, int32_t p, int32_t leader,
		      int32_t leader_epoch, int nisr, const int32_t *isr)
{
	char path[512], *json = state_json(leader, leader_epoch, nisr, isr);

	snprintf(path, sizeof(path), "%s/brokers/topics/%s/partitions/%d", chroot, topic, (int)p);
	CU_ASSERT_EQUAL_FATAL(r_mkdirs(path), BROOK_ERR_NO_ERROR);
	state_path(path, sizeof(path), chroot, topic, p);
	CU_ASSERT_EQUAL_FATAL(r_create(path, json, ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	free(json);
}

/* The state znode: NO_ERROR with st and its zkVersion, or the error. */
static brook_err_t read_state(const char *chroot, const char *topic, int32_t p,
			      zk_partition_state_t *st, int32_t *version)
{
	char path[512], errstr[256];
	result_t r;
	brook_err_t err;

	state_path(path, sizeof(path), chroot, topic, p);
	if ((err = r_get(path, &r)))
		return err;
	CU_ASSERT_EQUAL_FATAL(zk_json_partition_state_decode(r.data, r.len, st, errstr,
							     sizeof(errstr)), BROOK_ERR_NO_ERROR);
	if (version)
		*version = r.stat.version;
	return BROOK_ERR_NO_ERROR;
}

static int isr_is(const zk_partition_state_t *st, int n, const int32_t *want)
{
	return st->isr_cnt == n && memcmp(st->isr, want, (size_t)n * sizeof(*want)) == 0;
}

/* The state of topic-p in chroot is leader L, leader epoch E, isr (...). */
#define ASSERT_STATE(chroot, topic, p, L, E, ...)                                      \
	do {                                                                           \
		static const int32_t isr_[] = { __VA_ARGS__ };                         \
		zk_partition_state_t st_;                                              \
		CU_ASSERT_EQUAL_FATAL(read_state(chroot, topic, p, &st_, NULL),        \
				      BROOK_ERR_NO_ERROR);                             \
		CU_ASSERT_EQUAL(st_.leader, (L));                                      \
		CU_ASSERT_EQUAL(st_.leader_epoch, (E));                                \
		CU_ASSERT(isr_is(&st_, (int)(sizeof(isr_) / sizeof(isr_[0])), isr_));  \
	} while (0)

/* --- the view ------------------------------------------------------------------ */

static metadata_t *view_new(const int32_t *ids, int n)
{
	metadata_t *md = metadata_new();
	md_broker_t b[16];

	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	memset(b, 0, sizeof(b));
	for (int i = 0; i < n; i++) {
		b[i].id = ids[i];
		snprintf(b[i].host, sizeof(b[i].host), "127.0.0.1");
		b[i].port = 9000 + ids[i];
	}
	CU_ASSERT_EQUAL_FATAL(metadata_set_brokers(md, b, (size_t)n, NULL), BROOK_ERR_NO_ERROR);
	return md;
}

static void view_brokers(metadata_t *md, const int32_t *ids, int n)
{
	md_broker_t b[16];

	memset(b, 0, sizeof(b));
	for (int i = 0; i < n; i++) {
		b[i].id = ids[i];
		snprintf(b[i].host, sizeof(b[i].host), "127.0.0.1");
		b[i].port = 9000 + ids[i];
	}
	CU_ASSERT_EQUAL_FATAL(metadata_set_brokers(md, b, (size_t)n, NULL), BROOK_ERR_NO_ERROR);
}

/* What broker_zk's state watches would bring: every partition of the
 * topic as ZooKeeper has it now. */
static void view_sync(metadata_t *md, const char *chroot, const char *topic)
{
	const md_topic_t *t = metadata_topic(md, topic);

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (int32_t p = 0; p < t->npartitions; p++) {
		zk_partition_state_t st;
		int32_t version;

		if (read_state(chroot, topic, p, &st, &version) == BROOK_ERR_NO_ERROR) {
			CU_ASSERT_EQUAL(metadata_set_partition_state(md, topic, p, &st, version,
								     NULL), BROOK_ERR_NO_ERROR);
		} else {
			metadata_clear_partition_state(md, topic, p);
		}
	}
}

/* --- a controller under test ----------------------------------------------------- */

typedef struct tc {
	controller_t *c;
	zk_session_t *zk;
	int32_t id;
	int activated, resigned;
	int32_t last_epoch;
	int written;
	int deleted;
	char deleted_topic[256];
} tc_t;

static void tc_on_active(void *opaque, int active, int32_t epoch)
{
	tc_t *t = opaque;

	if (active)
		t->activated++;
	else
		t->resigned++;
	t->last_epoch = epoch;
}

static void tc_on_written(void *opaque, const char *topic, int32_t partition,
			  const zk_partition_state_t *st, int32_t zk_version)
{
	(void)topic;
	(void)partition;
	(void)st;
	(void)zk_version;
	((tc_t *)opaque)->written++;
}

static void tc_on_deleted(void *opaque, const char *topic)
{
	tc_t *t = opaque;

	t->deleted++;
	snprintf(t->deleted_topic, sizeof(t->deleted_topic), "%s", topic);
}

static void tc_start_cfg(tc_t *t, zk_session_t *zk, int32_t id, controller_config_t *cfg)
{
	memset(t, 0, sizeof(*t));
	t->zk = zk;
	t->id = id;
	t->last_epoch = -1;
	cfg->on_active = tc_on_active;
	cfg->on_state_written = tc_on_written;
	cfg->on_topic_deleted = tc_on_deleted;
	cfg->opaque = t;
	CU_ASSERT_EQUAL_FATAL(controller_new(loop, zk, id, cfg, &t->c), BROOK_ERR_NO_ERROR);
}

static void tc_start(tc_t *t, zk_session_t *zk, int32_t id)
{
	controller_config_t cfg;

	controller_config_defaults(&cfg);
	cfg.auto_leader_rebalance_enable = 0;
	tc_start_cfg(t, zk, id, &cfg);
}

static int is_quiet(const void *arg)
{
	return controller_pending(((const tc_t *)arg)->c) == 0;
}

static int is_active(const void *arg)
{
	return controller_is_active(((const tc_t *)arg)->c) && is_quiet(arg);
}

/* Hands the view over and waits until the controller has nothing left to
 * do with it. */
static void update(tc_t *t, const metadata_t *md)
{
	controller_update(t->c, md);
	CU_ASSERT_EQUAL(run_until(is_quiet, t, WAIT_MS), 0);
}

/* One controller in a fresh chroot, active with epoch 1. */
static void start_active(tc_t *t, const char *chroot, int32_t id, metadata_t *md)
{
	setup_chroot(chroot);
	tc_start(t, open_session(chroot), id);
	controller_update(t->c, md);
	CU_ASSERT_EQUAL_FATAL(run_until(is_active, t, WAIT_MS), 0);
	CU_ASSERT_EQUAL(controller_epoch(t->c), 1);
}

static void tc_stop(tc_t *t)
{
	controller_free(t->c);
	zk_session_free(t->zk);
	t->c = NULL;
	t->zk = NULL;
}

/* --- tests ----------------------------------------------------------------------- */

static void test_bad_arguments(void)
{
	controller_config_t cfg;
	controller_t *c = (controller_t *)1;

	controller_config_defaults(&cfg);
	CU_ASSERT_EQUAL(cfg.delete_topic_enable, 1);
	CU_ASSERT_EQUAL(cfg.unclean_leader_election_enable, 0);
	CU_ASSERT_EQUAL(controller_new(NULL, raw, 1, &cfg, &c), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_EQUAL(controller_new(loop, NULL, 1, &cfg, &c), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(controller_new(loop, raw, -1, &cfg, &c), BROOK_ERR__INVALID_ARG);
	cfg.leader_imbalance_check_interval_ms = 0;
	CU_ASSERT_EQUAL(controller_new(loop, raw, 1, &cfg, &c), BROOK_ERR__INVALID_ARG);
	controller_config_defaults(&cfg);
	cfg.leader_imbalance_per_broker_percentage = 101;
	CU_ASSERT_EQUAL(controller_new(loop, raw, 1, &cfg, &c), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(controller_new(loop, raw, 1, NULL, &c), BROOK_ERR_NO_ERROR);
	CU_ASSERT(!controller_is_active(c));
	CU_ASSERT_EQUAL(controller_epoch(c), -1);
	CU_ASSERT_EQUAL(controller_pending(c), 0);
	controller_free(c);
	controller_free(NULL);
	controller_update(NULL, NULL);
	CU_ASSERT_EQUAL(controller_pending(NULL), 0);
}

static int exactly_one_active(const void *arg)
{
	const tc_t *t = arg;
	int a = controller_is_active(t[0].c), b = controller_is_active(t[1].c);

	return (a ^ b) && is_quiet(&t[0]) && is_quiet(&t[1]);
}

/* Two brokers race for /controller: one wins with epoch 1; after it goes,
 * the other takes over with epoch 2; a controller resigns when the view
 * names another, takes office again on its own surviving znode (named by
 * the view, or found by its create), and runs again when its znode is
 * deleted under it. */
static void test_election(void)
{
	static const int32_t ids[] = { 1, 2 };
	metadata_t *md = view_new(ids, 2);
	zk_controller_t who;
	char errstr[256];
	int32_t epoch;
	tc_t t[2], *w, *l;
	result_t r;

	setup_chroot("/elect");
	tc_start(&t[0], open_session("/elect"), 1);
	tc_start(&t[1], open_session("/elect"), 2);
	controller_update(t[0].c, md);
	controller_update(t[1].c, md);
	CU_ASSERT_EQUAL_FATAL(run_until(exactly_one_active, t, WAIT_MS), 0);
	w = controller_is_active(t[0].c) ? &t[0] : &t[1];
	l = w == &t[0] ? &t[1] : &t[0];
	fprintf(stderr, "test: broker %d won\n", (int)w->id);
	CU_ASSERT_EQUAL(controller_epoch(w->c), 1);
	CU_ASSERT_EQUAL(controller_epoch(l->c), -1);
	CU_ASSERT_EQUAL(w->activated, 1);
	CU_ASSERT_EQUAL(w->last_epoch, 1);
	CU_ASSERT_EQUAL(l->activated, 0);
	CU_ASSERT_EQUAL_FATAL(r_get("/elect/controller", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_json_controller_decode(r.data, r.len, &who, errstr, sizeof(errstr)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(who.broker_id, w->id);
	CU_ASSERT(who.timestamp_ms > 0);
	CU_ASSERT_EQUAL(r.stat.ephemeral_owner, zk_session_id(w->zk));
	CU_ASSERT_EQUAL_FATAL(r_get("/elect/controller_epoch", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(r.data, "1");
	/* The loser keeps trying while the view shows nobody, and keeps
	 * losing. */
	run_for(1300);
	CU_ASSERT(!controller_is_active(l->c));
	CU_ASSERT(controller_is_active(w->c));

	/* The winner goes: its /controller goes with it (fenced delete), and
	 * the other one takes office with the next epoch. */
	controller_free(w->c);
	w->c = NULL;
	controller_update(l->c, md);
	CU_ASSERT_EQUAL_FATAL(run_until(is_active, l, WAIT_MS), 0);
	CU_ASSERT_EQUAL(controller_epoch(l->c), 2);
	CU_ASSERT_EQUAL_FATAL(r_get("/elect/controller_epoch", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_json_controller_epoch_decode(r.data, r.len, &epoch, errstr,
							sizeof(errstr)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(epoch, 2);
	CU_ASSERT_EQUAL_FATAL(r_get("/elect/controller", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(zk_json_controller_decode(r.data, r.len, &who, errstr, sizeof(errstr)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(who.broker_id, l->id);

	/* The view names someone else: resign, and leave the znode alone
	 * (it is not ours to judge). */
	metadata_set_controller(md, 7);
	update(l, md);
	CU_ASSERT(!controller_is_active(l->c));
	CU_ASSERT_EQUAL(l->resigned, 1);
	CU_ASSERT_EQUAL(l->last_epoch, 2);
	CU_ASSERT_EQUAL(r_get("/elect/controller", &r), BROOK_ERR_NO_ERROR);
	/* That view was wrong: the next one names us, and /controller is
	 * still our session's: back in office, epoch 3. */
	metadata_set_controller(md, l->id);
	controller_update(l->c, md);
	CU_ASSERT_EQUAL_FATAL(run_until(is_active, l, WAIT_MS), 0);
	CU_ASSERT_EQUAL(controller_epoch(l->c), 3);
	/* Again, but now the view shows nobody: the create finds our own
	 * node, which the ownership check recognises; epoch 4. */
	metadata_set_controller(md, 7);
	update(l, md);
	CU_ASSERT(!controller_is_active(l->c));
	metadata_set_controller(md, -1);
	controller_update(l->c, md);
	CU_ASSERT_EQUAL_FATAL(run_until(is_active, l, WAIT_MS), 0);
	CU_ASSERT_EQUAL(controller_epoch(l->c), 4);
	/* Seen in the view, then gone from it: /controller was deleted under
	 * us: resign and run again. */
	metadata_set_controller(md, l->id);
	update(l, md);
	CU_ASSERT(controller_is_active(l->c));
	CU_ASSERT_EQUAL(r_get("/elect/controller", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r_delete("/elect/controller"), BROOK_ERR_NO_ERROR);
	metadata_set_controller(md, -1);
	controller_update(l->c, md);
	CU_ASSERT_EQUAL_FATAL(run_until(is_active, l, WAIT_MS), 0);
	CU_ASSERT_EQUAL(controller_epoch(l->c), 5);
	CU_ASSERT_EQUAL(l->resigned, 3);

	zk_session_free(w->zk);
	tc_stop(l);
	/* Freed with its session alive: the fenced delete removed the node. */
	CU_ASSERT_EQUAL(wait_get("/elect/controller", BROOK_ERR__NOENT, &r), BROOK_ERR__NOENT);
	metadata_free(md);
}

/* New partitions get their first state: the first live replica leads, the
 * live replicas form the ISR; nothing is written without a live replica,
 * and a state someone else wrote is left alone. */
static void test_initial_states(void)
{
	static const int32_t live[] = { 1, 3 }, all[] = { 1, 2, 3 };
	static const int32_t ids[] = { 1, 2, 3, 2, 3, 1, 2, 2, 2, 3, 1, 1 };
	metadata_t *md = view_new(live, 2);
	zk_partition_state_t st;
	int32_t version;
	tc_t t;

	start_active(&t, "/init", 1, md);
	/* rf 3 rows: p0 [1,2,3], p1 [2,3,1], p2 [2,2,2]->[2] below, p3 [3,1,1]. */
	{
		zk_topic_assignment_t *a = assignment(4, 3, ids);
		char *json = NULL;

		a->partitions[2].cnt = 1;
		a->partitions[3].cnt = 2;
		CU_ASSERT_EQUAL_FATAL(zk_json_topic_assignment_encode(a, &json),
				      BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL_FATAL(r_create("/init/brokers/topics/t", json, ZK_PERSISTENT),
				      BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL_FATAL(metadata_set_topic(md, "t", a, NULL), BROOK_ERR_NO_ERROR);
		free(json);
		zk_topic_assignment_free(a);
	}
	{
		static const int32_t isr3[] = { 3 };

		put_state("/init", "t", 3, 3, 5, 1, isr3);
	}
	update(&t, md);
	ASSERT_STATE("/init", "t", 0, 1, 0, 1, 3);
	ASSERT_STATE("/init", "t", 1, 3, 0, 3, 1);
	CU_ASSERT_EQUAL(read_state("/init", "t", 2, &st, NULL), BROOK_ERR__NOENT);
	ASSERT_STATE("/init", "t", 3, 3, 5, 3);   /* EXISTS: someone else's stays */
	CU_ASSERT_EQUAL_FATAL(read_state("/init", "t", 0, &st, &version), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(st.controller_epoch, 1);
	CU_ASSERT_EQUAL(version, 0);
	CU_ASSERT_EQUAL(t.written, 2);

	/* Broker 2 comes: p2 gets its state; an ISR is the leader's to grow,
	 * so p0 and p1 stay. */
	view_brokers(md, all, 3);
	update(&t, md);
	ASSERT_STATE("/init", "t", 2, 2, 0, 2);
	CU_ASSERT_EQUAL_FATAL(read_state("/init", "t", 0, &st, &version), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(version, 0);
	CU_ASSERT_EQUAL(t.written, 3);
	/* The view catches up with everything: nothing more to write. */
	view_sync(md, "/init", "t");
	update(&t, md);
	CU_ASSERT_EQUAL(t.written, 3);
	tc_stop(&t);
	metadata_free(md);
}

/* The leader dies: the next ISR member in assignment order leads, with the
 * next leader epoch; dead followers leave the ISR. */
static void test_leader_failure(void)
{
	static const int32_t all[] = { 1, 2, 3 }, ids[] = { 1, 2, 3, 3, 1, 2 };
	static const int32_t b23[] = { 2, 3 }, b2[] = { 2 };
	metadata_t *md = view_new(all, 3);
	zk_partition_state_t st;
	tc_t t;

	start_active(&t, "/fail", 1, md);
	create_topic("/fail", md, "f", 2, 3, ids);
	update(&t, md);
	ASSERT_STATE("/fail", "f", 0, 1, 0, 1, 2, 3);
	ASSERT_STATE("/fail", "f", 1, 3, 0, 3, 1, 2);
	view_sync(md, "/fail", "f");

	view_brokers(md, b23, 2);
	update(&t, md);
	ASSERT_STATE("/fail", "f", 0, 2, 1, 2, 3);     /* leader 1 died */
	ASSERT_STATE("/fail", "f", 1, 3, 1, 3, 2);     /* follower 1 died */
	CU_ASSERT_EQUAL_FATAL(read_state("/fail", "f", 0, &st, NULL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(st.controller_epoch, 1);
	/* Until the view shows its writes, the controller goes by them: the
	 * same view again writes nothing. */
	update(&t, md);
	ASSERT_STATE("/fail", "f", 0, 2, 1, 2, 3);
	view_sync(md, "/fail", "f");

	view_brokers(md, b2, 1);
	update(&t, md);
	ASSERT_STATE("/fail", "f", 0, 2, 2, 2);
	ASSERT_STATE("/fail", "f", 1, 2, 2, 2);
	tc_stop(&t);
	metadata_free(md);
}

/* No live ISR member: leader -1 with the last ISR kept, unless the topic
 * allows unclean election, which brings a live out-of-sync replica. */
static void test_offline_and_unclean(void)
{
	static const int32_t b12[] = { 1, 2 }, b34[] = { 3, 4 }, ids[] = { 1, 2, 4 };
	metadata_t *md = view_new(b12, 2);
	int32_t version;
	zk_partition_state_t st;
	tc_t t;

	start_active(&t, "/unclean", 1, md);
	create_topic("/unclean", md, "u", 1, 3, ids);
	update(&t, md);
	ASSERT_STATE("/unclean", "u", 0, 1, 0, 1, 2);
	view_sync(md, "/unclean", "u");

	/* 1 and 2 die; 4 is up but was never in sync. */
	view_brokers(md, b34, 2);
	update(&t, md);
	ASSERT_STATE("/unclean", "u", 0, -1, 1, 1, 2);
	view_sync(md, "/unclean", "u");
	update(&t, md);
	CU_ASSERT_EQUAL_FATAL(read_state("/unclean", "u", 0, &st, &version), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(version, 1);              /* leaderless already: no new write */

	/* The topic allows unclean election. */
	CU_ASSERT_EQUAL_FATAL(r_create("/unclean/config/topics/u",
				       "{\"version\":1,\"config\":"
				       "{\"unclean.leader.election.enable\":\"true\"}}",
				       ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	update(&t, md);
	ASSERT_STATE("/unclean", "u", 0, 4, 2, 4);
	tc_stop(&t);
	metadata_free(md);
}

/* A state written behind the controller's back: its conditional write
 * fails and nothing is overwritten; once the view shows the new version,
 * it decides again and writes. */
static void test_version_race(void)
{
	static const int32_t b12[] = { 1, 2 }, b2[] = { 2 }, ids[] = { 1, 2 };
	static const int32_t isr12[] = { 1, 2 };
	metadata_t *md = view_new(b12, 2);
	char path[256], *json;
	int32_t version;
	zk_partition_state_t st;
	tc_t t;

	start_active(&t, "/race", 1, md);
	create_topic("/race", md, "r", 1, 2, ids);
	update(&t, md);
	view_sync(md, "/race", "r");
	CU_ASSERT_EQUAL(metadata_partition(md, "r", 0)->state_version, 0);

	/* Someone else moves the state to version 1. */
	json = state_json(1, 3, 2, isr12);
	state_path(path, sizeof(path), "/race", "r", 0);
	CU_ASSERT_EQUAL_FATAL(r_set(path, json, 0), BROOK_ERR_NO_ERROR);
	free(json);

	view_brokers(md, b2, 1);          /* the view still has version 0 */
	update(&t, md);
	CU_ASSERT_EQUAL_FATAL(read_state("/race", "r", 0, &st, &version), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(version, 1);
	CU_ASSERT_EQUAL(st.leader, 1);
	CU_ASSERT_EQUAL(st.leader_epoch, 3);
	/* The same stale view again: still nothing (no retry loop). */
	update(&t, md);
	run_for(200);
	CU_ASSERT_EQUAL(controller_pending(t.c), 0);
	CU_ASSERT_EQUAL_FATAL(read_state("/race", "r", 0, &st, &version), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(version, 1);

	/* The view catches up: decided afresh on version 1. */
	view_sync(md, "/race", "r");
	update(&t, md);
	CU_ASSERT_EQUAL_FATAL(read_state("/race", "r", 0, &st, &version), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(version, 2);
	CU_ASSERT_EQUAL(st.leader, 2);
	CU_ASSERT_EQUAL(st.leader_epoch, 4);
	CU_ASSERT(isr_is(&st, 1, b2));
	tc_stop(&t);
	metadata_free(md);
}

static int deleted_cond(const void *arg)
{
	const tc_t *t = arg;

	return t->deleted > 0 && is_quiet(t);
}

/* A topic marked in /admin/delete_topics loses every znode (states,
 * partition folders, topic, config) and then the mark; a mark for a topic
 * that does not exist is just removed; with deletion disabled, only the
 * mark goes. */
static void test_deletion(void)
{
	static const int32_t b1[] = { 1 }, ids[] = { 1, 1, 1 };
	metadata_t *md = view_new(b1, 1);
	size_t n;
	result_t r;
	tc_t t;

	setup_chroot("/del");
	/* Marked before the controller starts: read at once. */
	CU_ASSERT_EQUAL_FATAL(r_mkdirs("/del/admin/delete_topics/ghost"), BROOK_ERR_NO_ERROR);
	start_active(&t, "/del", 1, md);
	create_topic("/del", md, "d", 3, 1, ids);
	create_topic("/del", md, "keep", 1, 1, ids);
	CU_ASSERT_EQUAL_FATAL(r_create("/del/config/topics/d",
				       "{\"version\":1,\"config\":{\"retention.ms\":\"1000\"}}",
				       ZK_PERSISTENT), BROOK_ERR_NO_ERROR);
	update(&t, md);
	CU_ASSERT_EQUAL(wait_get("/del/admin/delete_topics/ghost", BROOK_ERR__NOENT, &r),
			BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(r_get("/del/brokers/topics/ghost", &r), BROOK_ERR__NOENT);
	ASSERT_STATE("/del", "d", 2, 1, 0, 1);
	view_sync(md, "/del", "d");
	view_sync(md, "/del", "keep");
	update(&t, md);

	/* Marked while active: the watch tells. */
	CU_ASSERT_EQUAL_FATAL(r_create("/del/admin/delete_topics/d", NULL, ZK_PERSISTENT),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(run_until(deleted_cond, &t, WAIT_MS), 0);
	CU_ASSERT_STRING_EQUAL(t.deleted_topic, "d");
	CU_ASSERT_EQUAL(t.deleted, 1);
	CU_ASSERT_EQUAL(r_get("/del/brokers/topics/d", &r), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(r_get("/del/config/topics/d", &r), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(wait_get("/del/admin/delete_topics/d", BROOK_ERR__NOENT, &r),
			BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(r_children("/del/admin/delete_topics", &n), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(n, 0);
	ASSERT_STATE("/del", "keep", 0, 1, 0, 1);
	/* The view lags behind the deletion: nothing is resurrected. */
	view_sync(md, "/del", "keep");
	update(&t, md);
	run_for(300);
	CU_ASSERT_EQUAL(r_get("/del/brokers/topics/d", &r), BROOK_ERR__NOENT);
	metadata_remove_topic(md, "d");
	update(&t, md);

	/* More znodes than one multi takes (1203 deletes): deleted in
	 * chunks, deepest first. */
	{
		static int32_t many[600];
		const md_topic_t *mt;

		for (int i = 0; i < 600; i++)
			many[i] = 1;
		create_topic("/del", md, "big", 600, 1, many);
		update(&t, md);
		ASSERT_STATE("/del", "big", 599, 1, 0, 1);
		CU_ASSERT_EQUAL_FATAL(r_create("/del/admin/delete_topics/big", NULL, ZK_PERSISTENT),
				      BROOK_ERR_NO_ERROR);
		t.deleted = 0;
		CU_ASSERT_EQUAL_FATAL(run_until(deleted_cond, &t, WAIT_MS), 0);
		CU_ASSERT_STRING_EQUAL(t.deleted_topic, "big");
		CU_ASSERT_EQUAL(r_get("/del/brokers/topics/big", &r), BROOK_ERR__NOENT);
		CU_ASSERT_EQUAL(wait_get("/del/admin/delete_topics/big", BROOK_ERR__NOENT, &r),
				BROOK_ERR__NOENT);
		mt = metadata_topic(md, "big");
		CU_ASSERT(mt && mt->npartitions == 600);
		metadata_remove_topic(md, "big");
		update(&t, md);
	}
	tc_stop(&t);

	/* delete.topic.enable=false: the request is refused by removing it. */
	{
		controller_config_t cfg;
		metadata_t *md2 = view_new(b1, 1);

		setup_chroot("/nodel");
		controller_config_defaults(&cfg);
		cfg.auto_leader_rebalance_enable = 0;
		cfg.delete_topic_enable = 0;
		create_topic("/nodel", md2, "x", 1, 1, ids);
		CU_ASSERT_EQUAL_FATAL(r_mkdirs("/nodel/admin/delete_topics/x"), BROOK_ERR_NO_ERROR);
		tc_start_cfg(&t, open_session("/nodel"), 1, &cfg);
		controller_update(t.c, md2);
		CU_ASSERT_EQUAL_FATAL(run_until(is_active, &t, WAIT_MS), 0);
		CU_ASSERT_EQUAL(wait_get("/nodel/admin/delete_topics/x", BROOK_ERR__NOENT, &r),
				BROOK_ERR__NOENT);
		CU_ASSERT_EQUAL(run_until(is_quiet, &t, WAIT_MS), 0);
		CU_ASSERT_EQUAL(r_get("/nodel/brokers/topics/x", &r), BROOK_ERR_NO_ERROR);
		ASSERT_STATE("/nodel", "x", 0, 1, 0, 1);
		CU_ASSERT_EQUAL(t.deleted, 0);
		tc_stop(&t);
		metadata_free(md2);
	}
	metadata_free(md);
}

/* A stopping broker's leaderships move to the next live ISR member; it
 * leaves the ISRs it follows; single-replica partitions stay and do not
 * count as remaining. */
static void test_controlled_shutdown(void)
{
	static const int32_t all[] = { 1, 2, 3 }, b23[] = { 2, 3 };
	static const int32_t ids[] = { 1, 2, 3, 2, 1, 3, 1, 1, 1 };
	metadata_t *md = view_new(all, 3);
	zk_topic_assignment_t *a;
	int remaining = -1;
	tc_t t, idle;

	start_active(&t, "/shut", 3, md);
	a = assignment(3, 3, ids);
	a->partitions[2].cnt = 1;
	{
		char *json = NULL;

		CU_ASSERT_EQUAL_FATAL(zk_json_topic_assignment_encode(a, &json),
				      BROOK_ERR_NO_ERROR);
		CU_ASSERT_EQUAL_FATAL(r_create("/shut/brokers/topics/s", json, ZK_PERSISTENT),
				      BROOK_ERR_NO_ERROR);
		free(json);
	}
	CU_ASSERT_EQUAL_FATAL(metadata_set_topic(md, "s", a, NULL), BROOK_ERR_NO_ERROR);
	zk_topic_assignment_free(a);
	update(&t, md);
	ASSERT_STATE("/shut", "s", 0, 1, 0, 1, 2, 3);
	ASSERT_STATE("/shut", "s", 1, 2, 0, 2, 1, 3);
	ASSERT_STATE("/shut", "s", 2, 1, 0, 1);
	view_sync(md, "/shut", "s");
	update(&t, md);

	/* Only the active controller answers. */
	tc_start(&idle, t.zk, 2);
	CU_ASSERT_EQUAL(controller_controlled_shutdown(idle.c, 1, &remaining),
			BROOK_ERR_NOT_CONTROLLER);
	CU_ASSERT_EQUAL(controller_preferred_election(idle.c, NULL, NULL),
			BROOK_ERR_NOT_CONTROLLER);
	controller_free(idle.c);
	CU_ASSERT_EQUAL(controller_controlled_shutdown(t.c, 9, &remaining),
			BROOK_ERR_BROKER_NOT_AVAILABLE);

	CU_ASSERT_EQUAL(controller_controlled_shutdown(t.c, 1, &remaining), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(remaining, 1);          /* s-0, its move in flight */
	CU_ASSERT_EQUAL(run_until(is_quiet, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL(controller_controlled_shutdown(t.c, 1, &remaining), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(remaining, 0);
	ASSERT_STATE("/shut", "s", 0, 2, 1, 2, 3);
	ASSERT_STATE("/shut", "s", 1, 2, 1, 2, 3);
	ASSERT_STATE("/shut", "s", 2, 1, 0, 1);
	/* While it stops, it is elected nowhere: not even by a preferred
	 * election. */
	view_sync(md, "/shut", "s");
	CU_ASSERT_EQUAL(controller_preferred_election(t.c, "s", &remaining), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(remaining, 0);

	/* It is gone: s-2 (only replica 1) goes offline. */
	view_brokers(md, b23, 2);
	update(&t, md);
	ASSERT_STATE("/shut", "s", 2, -1, 1, 1);
	ASSERT_STATE("/shut", "s", 0, 2, 1, 2, 3);
	tc_stop(&t);
	metadata_free(md);
}

static int written_cond(const void *arg)
{
	const tc_t *t = arg;

	return t->written > 0 && is_quiet(t);
}

/* The first assigned replica takes leadership back when it is in the ISR;
 * on request, and with auto rebalance on a timer. */
static void test_preferred_election(void)
{
	static const int32_t b12[] = { 1, 2 }, ids[] = { 1, 2, 1, 2 };
	static const int32_t isr21[] = { 2, 1 }, isr2[] = { 2 };
	metadata_t *md = view_new(b12, 2);
	int started = -1;
	tc_t t;

	setup_chroot("/pref");
	create_topic("/pref", md, "p", 2, 2, ids);
	put_state("/pref", "p", 0, 2, 0, 2, isr21);
	put_state("/pref", "p", 1, 2, 0, 1, isr2);
	view_sync(md, "/pref", "p");
	start_active(&t, "/pref", 1, md);
	update(&t, md);
	CU_ASSERT_EQUAL(t.written, 0);            /* imbalance alone changes nothing */
	CU_ASSERT_EQUAL(controller_preferred_election(t.c, "nope", &started),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_EQUAL(controller_preferred_election(t.c, "p", &started), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(started, 1);
	CU_ASSERT_EQUAL(run_until(is_quiet, &t, WAIT_MS), 0);
	ASSERT_STATE("/pref", "p", 0, 1, 1, 2, 1);
	ASSERT_STATE("/pref", "p", 1, 2, 0, 2);   /* preferred not in the ISR: no-op */
	view_sync(md, "/pref", "p");
	CU_ASSERT_EQUAL(controller_preferred_election(t.c, NULL, &started), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(started, 0);
	tc_stop(&t);

	/* Auto rebalance: broker 1 prefers 2 partitions and leads none. */
	{
		controller_config_t cfg;
		metadata_t *md2 = view_new(b12, 2);

		setup_chroot("/auto");
		create_topic("/auto", md2, "a", 2, 2, ids);
		put_state("/auto", "a", 0, 2, 0, 2, isr21);
		put_state("/auto", "a", 1, 2, 0, 2, isr21);
		view_sync(md2, "/auto", "a");
		controller_config_defaults(&cfg);
		cfg.leader_imbalance_check_interval_ms = 200;
		tc_start_cfg(&t, open_session("/auto"), 2, &cfg);
		controller_update(t.c, md2);
		CU_ASSERT_EQUAL_FATAL(run_until(is_active, &t, WAIT_MS), 0);
		CU_ASSERT_EQUAL(t.written, 0);
		CU_ASSERT_EQUAL(run_until(written_cond, &t, WAIT_MS), 0);
		run_until(is_quiet, &t, WAIT_MS);
		ASSERT_STATE("/auto", "a", 0, 1, 1, 2, 1);
		ASSERT_STATE("/auto", "a", 1, 1, 1, 2, 1);
		tc_stop(&t);
		metadata_free(md2);
	}
	metadata_free(md);
}

typedef struct children_cond {
	const char *path;
	size_t want;
} children_cond_t;

static int children_are(const void *arg)
{
	const children_cond_t *c = arg;
	size_t n = (size_t)-1;

	return r_children(c->path, &n) == BROOK_ERR_NO_ERROR && n == c->want;
}

/* ISR change notifications are garbage-collected. */
static void test_isr_notifications(void)
{
	static const int32_t b1[] = { 1 };
	metadata_t *md = view_new(b1, 1);
	children_cond_t cond = { "/isrn/isr_change_notification", 0 };
	tc_t t;

	start_active(&t, "/isrn", 1, md);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(r_create("/isrn/isr_change_notification/isr_change_",
					       "{\"version\":1,\"partitions\":[]}",
					       ZK_PERSISTENT | ZK_SEQUENTIAL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(run_until(children_are, &cond, WAIT_MS), 0);
	tc_stop(&t);
	metadata_free(md);
}

typedef struct session_cond {
	const zk_session_t *s;
	int64_t old;
} session_cond_t;

static int session_replaced(const void *arg)
{
	const session_cond_t *c = arg;

	return zk_session_id(c->s) != 0 && zk_session_id(c->s) != c->old;
}

/* The session expires under an active controller: it is no longer active
 * (its /controller is gone), notices at its next update, runs again with
 * the next epoch, and its watches work in the new session. */
static void test_session_expiry(void)
{
	static const int32_t b1[] = { 1 }, ids[] = { 1 };
	metadata_t *md = view_new(b1, 1);
	unsigned char pw[ZK_PASSWD_LEN];
	session_cond_t old;
	result_t r;
	tc_t t;

	start_active(&t, "/exp", 1, md);
	old.s = t.zk;
	CU_ASSERT_EQUAL_FATAL(zk_session_credentials(t.zk, &old.old, pw), BROOK_ERR_NO_ERROR);
	fprintf(stderr, "test: expiring session 0x%llx\n", (unsigned long long)old.old);
	CU_ASSERT_EQUAL_FATAL(harness_zk_expire_session(harness_zk_connect_string(ens), old.old, pw,
							WAIT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(run_until(session_replaced, &old, WAIT_MS), 0);
	CU_ASSERT(!controller_is_active(t.c));
	controller_update(t.c, md);
	CU_ASSERT_EQUAL(t.resigned, 1);
	CU_ASSERT_EQUAL_FATAL(run_until(is_active, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL(controller_epoch(t.c), 2);
	CU_ASSERT_EQUAL(t.activated, 2);
	/* The deletion watch is armed in the new session. */
	create_topic("/exp", md, "gone", 1, 1, ids);
	update(&t, md);
	CU_ASSERT_EQUAL_FATAL(r_create("/exp/admin/delete_topics/gone", NULL, ZK_PERSISTENT),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(run_until(deleted_cond, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL(r_get("/exp/brokers/topics/gone", &r), BROOK_ERR__NOENT);
	/* controller_session_expired() resigns at once. */
	controller_session_expired(t.c);
	CU_ASSERT(!controller_is_active(t.c));
	CU_ASSERT_EQUAL(t.resigned, 2);
	tc_stop(&t);
	metadata_free(md);
}

static int writing(const void *arg)
{
	return controller_pending(((const tc_t *)arg)->c) > 1;
}

/* Freed with writes in flight and watches armed, on a session that lives
 * on: completions and watches that come later find nothing to touch (the
 * sanitizer build checks), and nobody acts for the freed controller. */
static void test_free_in_flight(void)
{
	static const int32_t b1[] = { 1 };
	int32_t ids[40];
	metadata_t *md = view_new(b1, 1);
	zk_session_t *zk;
	result_t r;
	tc_t t;

	for (int i = 0; i < 40; i++)
		ids[i] = 1;
	start_active(&t, "/freeing", 1, md);
	create_topic("/freeing", md, "many", 40, 1, ids);
	controller_update(t.c, md);
	CU_ASSERT_EQUAL_FATAL(run_until(writing, &t, WAIT_MS), 0);
	zk = t.zk;
	controller_free(t.c);
	t.c = NULL;
	CU_ASSERT_EQUAL_FATAL(r_create("/freeing/admin/delete_topics/many", NULL, ZK_PERSISTENT),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(r_create("/freeing/isr_change_notification/isr_change_", "{}",
				       ZK_PERSISTENT | ZK_SEQUENTIAL), BROOK_ERR_NO_ERROR);
	run_for(500);
	CU_ASSERT_EQUAL(r_get("/freeing/brokers/topics/many", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r_get("/freeing/admin/delete_topics/many", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r_get("/freeing/controller", &r), BROOK_ERR__NOENT);
	CU_ASSERT_EQUAL(t.resigned, 0);        /* no callback after free */
	zk_session_free(zk);
	metadata_free(md);
}

/* ZooKeeper goes away and comes back within the session timeout: the
 * controller stays in office with its epoch, and the write that failed
 * meanwhile is retried. */
static void test_connection_loss(void)
{
	static const int32_t b12[] = { 1, 2 }, b2[] = { 2 }, ids[] = { 1, 2 };
	metadata_t *md = view_new(b12, 2);
	int64_t sid;
	tc_t t;

	start_active(&t, "/loss", 1, md);
	create_topic("/loss", md, "c", 1, 2, ids);
	update(&t, md);
	view_sync(md, "/loss", "c");
	sid = zk_session_id(t.zk);

	CU_ASSERT_EQUAL_FATAL(harness_zk_kill(ens, 1), 0);
	view_brokers(md, b2, 1);
	controller_update(t.c, md);
	run_for(1500);
	CU_ASSERT(controller_is_active(t.c));
	CU_ASSERT_EQUAL_FATAL(harness_zk_restart(ens, 1), 0);
	CU_ASSERT_EQUAL_FATAL(zk_session_wait_connected(raw, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(run_until(is_quiet, &t, WAIT_MS), 0);
	ASSERT_STATE("/loss", "c", 0, 2, 1, 2);
	CU_ASSERT(controller_is_active(t.c));
	CU_ASSERT_EQUAL(controller_epoch(t.c), 1);
	CU_ASSERT_EQUAL(zk_session_id(t.zk), sid);
	CU_ASSERT_EQUAL(t.resigned, 0);
	tc_stop(&t);
	metadata_free(md);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "bad arguments", test_bad_arguments },
		{ "election: one winner, epochs 1 to 5, resignation", test_election },
		{ "initial states of new partitions", test_initial_states },
		{ "leader failure: next ISR member, ISR shrink", test_leader_failure },
		{ "no live ISR member: offline, then unclean by topic config",
		  test_offline_and_unclean },
		{ "conditional writes: a stale version overwrites nothing", test_version_race },
		{ "topic deletion", test_deletion },
		{ "controlled shutdown", test_controlled_shutdown },
		{ "preferred-leader election, on request and automatic", test_preferred_election },
		{ "ISR change notifications are removed", test_isr_notifications },
		{ "session expiry: resign, run again, watches re-armed", test_session_expiry },
		{ "freed with requests in flight and watches armed", test_free_in_flight },
		{ "connection loss: stays in office, retries the write", test_connection_loss },
		{ NULL, NULL },
	};
	char errstr[256];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (getenv("BROOK_TEST_DEBUG"))
		blog_set_level(BLOG_DEBUG);
	if (harness_zk_start(1, &ens) != 0) {
		fprintf(stderr, "test_controller: cannot start ZooKeeper\n");
		return 1;
	}
	fprintf(stderr, "test_controller: ZooKeeper at %s\n", harness_zk_connect_string(ens));
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop || zk_session_new(loop, harness_zk_connect_string(ens), 10000, NULL, NULL, &raw,
				    errstr, sizeof(errstr)) ||
	    zk_session_wait_connected(raw, WAIT_MS)) {
		fprintf(stderr, "test_controller: cannot connect: %s\n", errstr);
		harness_zk_stop(ens);
		return 1;
	}
	rc = harness_run("controller", tests);
	zk_session_free(raw);
	ev_loop_destroy(loop);
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	return rc;
}
