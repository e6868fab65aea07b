/*
 * test_broker_zk.c - the broker's ZooKeeper side against a real one-server
 * ensemble: startup (chroot, paths, /cluster/id, meta.properties,
 * registration), the conflicts that must stop a broker, the view following
 * topics, partition states, brokers and the controller, claiming a
 * partition, a lost connection and an expired session.
 *
 * Every test works under its own chroot, so they share the ensemble
 * without seeing each other. A second session (`raw`) plays the other
 * actors: an admin tool writing topics, a controller, another broker.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "blog.h"
#include "broker_zk.h"
#include "harness.h"
#include "harness_zk.h"
#include "metadata.h"
#include "zk_json.h"
#include "zk_paths.h"
#include "zk_session.h"

#define WAIT_MS 20000
#define SESSION_MS 6000

static harness_zk_t *ens;
static struct ev_loop *loop;
static zk_session_t *raw;

/* --- one broker_zk under test ------------------------------------------------ */

typedef struct tb {
	broker_zk_t *bz;
	int32_t id;
	int metadata, registered, fatal;
	int self_missing;        /* on_metadata calls whose view lacked us */
	brook_err_t fatal_err;
	char reason[1024];
	int free_on_fatal;
} tb_t;

static void tb_on_metadata(void *opaque)
{
	tb_t *t = opaque;

	t->metadata++;
	if (!metadata_broker_alive(broker_zk_metadata(t->bz), t->id))
		t->self_missing++;
}

static void tb_on_registered(void *opaque)
{
	((tb_t *)opaque)->registered++;
}

static void tb_on_fatal(void *opaque, brook_err_t err, const char *reason)
{
	tb_t *t = opaque;

	t->fatal++;
	t->fatal_err = err;
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
	fprintf(stderr, "test: on_fatal(%s): %s\n", brook_err_name(err), reason);
	/* What brookd does: stop at once, from inside the callback. */
	if (t->free_on_fatal) {
		broker_zk_free(t->bz);
		t->bz = NULL;
	}
}

static const broker_zk_callbacks_t tb_cbs = {
	.on_metadata = tb_on_metadata,
	.on_fatal = tb_on_fatal,
	.on_registered = tb_on_registered,
};

static void chroot_connect(char *buf, size_t size, const char *chroot)
{
	snprintf(buf, size, "%s%s", harness_zk_connect_string(ens), chroot ? chroot : "");
}

static void tb_start(tb_t *t, const char *chroot, int32_t id, const char *const *dirs, int ndirs,
		     int session_ms, int port, const char *rack)
{
	char connect[256], errstr[256];
	zk_endpoint_t ep;

	memset(t, 0, sizeof(*t));
	t->id = id;
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.listener, sizeof(ep.listener), "BROOK");
	snprintf(ep.host, sizeof(ep.host), "127.0.0.1");
	ep.port = port;
	chroot_connect(connect, sizeof(connect), chroot);
	CU_ASSERT_EQUAL_FATAL(broker_zk_new(loop, connect, session_ms, 10000, id, dirs, ndirs, &ep, 1,
					    rack, &tb_cbs, t, &t->bz, errstr, sizeof(errstr)),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(broker_zk_start(t->bz), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(broker_zk_start(t->bz), BROOK_ERR__STATE);
}

/* --- running the loop ----------------------------------------------------------- */

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
 * holds. A 10 ms tick re-checks conditions that no event announces. */
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

static int is_registered(const void *arg)
{
	const tb_t *t = arg;

	return t->registered > 0 || t->fatal > 0;
}

static int is_fatal(const void *arg)
{
	return ((const tb_t *)arg)->fatal > 0;
}

/* --- synchronous raw operations -------------------------------------------------- */

typedef struct result {
	int done;
	brook_err_t err;
	char data[4096];
	size_t len;
	zk_stat_t stat;
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

static brook_err_t r_create(const char *path, const char *data, int flags)
{
	result_t r;

	memset(&r, 0, sizeof(r));
	return finish(zk_create(raw, path, data, data ? strlen(data) : 0, flags, create_cb, &r), &r);
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

/* The raw session reads its own writes, but a broker_zk's writes only once
 * the server has them; wait, bounded, until `path` reads as `want`. */
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

/* /<chroot>/brokers/topics/<t> with `nparts` partitions, replicas from ids
 * (rf per partition). */
static char *assignment_json(int32_t nparts, int32_t rf, const int32_t *ids)
{
	zk_topic_assignment_t *a = zk_topic_assignment_new(nparts, rf);
	char *json = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (int32_t p = 0; p < nparts; p++)
		for (int32_t i = 0; i < rf; i++)
			a->partitions[p].ids[i] = ids[(p * rf + i)];
	CU_ASSERT_EQUAL_FATAL(zk_json_topic_assignment_encode(a, &json), BROOK_ERR_NO_ERROR);
	zk_topic_assignment_free(a);
	return json;
}

static brook_err_t create_topic(const char *chroot, const char *topic, int32_t nparts, int32_t rf,
				const int32_t *ids)
{
	char path[ZK_PATH_MAX + 64], *json = assignment_json(nparts, rf, ids);
	brook_err_t err;

	snprintf(path, sizeof(path), "%s/brokers/topics/%s", chroot, topic);
	err = r_create(path, json, ZK_PERSISTENT);
	free(json);
	return err;
}

static brook_err_t alter_topic(const char *chroot, const char *topic, int32_t nparts, int32_t rf,
			       const int32_t *ids)
{
	char path[ZK_PATH_MAX + 64], *json = assignment_json(nparts, rf, ids);
	brook_err_t err;

	snprintf(path, sizeof(path), "%s/brokers/topics/%s", chroot, topic);
	err = r_set(path, json, ZK_ANY_VERSION);
	free(json);
	return err;
}

/* Kafka's topic deletion, by hand: states, partition folders, topic. */
static void delete_topic(const char *chroot, const char *topic, int32_t nparts)
{
	char path[ZK_PATH_MAX + 64];

	for (int32_t p = 0; p < nparts; p++) {
		snprintf(path, sizeof(path), "%s/brokers/topics/%s/partitions/%d/state", chroot, topic,
			 (int)p);
		r_delete(path);
		snprintf(path, sizeof(path), "%s/brokers/topics/%s/partitions/%d", chroot, topic,
			 (int)p);
		r_delete(path);
	}
	snprintf(path, sizeof(path), "%s/brokers/topics/%s/partitions", chroot, topic);
	r_delete(path);
	snprintf(path, sizeof(path), "%s/brokers/topics/%s", chroot, topic);
	CU_ASSERT_EQUAL(r_delete(path), BROOK_ERR_NO_ERROR);
}

/* --- view conditions ---------------------------------------------------------------- */

typedef struct topic_cond {
	const tb_t *t;
	const char *topic;
	int32_t nparts;          /* -1: the topic must be absent */
} topic_cond_t;

static int topic_has(const void *arg)
{
	const topic_cond_t *c = arg;
	const md_topic_t *t = metadata_topic(broker_zk_metadata(c->t->bz), c->topic);

	return c->nparts < 0 ? t == NULL : t && t->npartitions == c->nparts;
}

static int wait_topic(const tb_t *t, const char *topic, int32_t nparts)
{
	topic_cond_t c = { t, topic, nparts };

	return run_until(topic_has, &c, WAIT_MS);
}

typedef struct broker_cond {
	const tb_t *t;
	int32_t id;
	int alive;
} broker_cond_t;

static int broker_is(const void *arg)
{
	const broker_cond_t *c = arg;

	return metadata_broker_alive(broker_zk_metadata(c->t->bz), c->id) == c->alive;
}

static int wait_broker(const tb_t *t, int32_t id, int alive)
{
	broker_cond_t c = { t, id, alive };

	return run_until(broker_is, &c, WAIT_MS);
}

typedef struct state_cond {
	const tb_t *t;
	const char *topic;
	int32_t p;
	int has_state;
	int32_t leader_epoch;    /* with has_state: wait for this epoch too */
} state_cond_t;

static int state_is(const void *arg)
{
	const state_cond_t *c = arg;
	const md_partition_t *p = metadata_partition(broker_zk_metadata(c->t->bz), c->topic, c->p);

	return p && p->has_state == c->has_state &&
	       (!c->has_state || p->leader_epoch == c->leader_epoch);
}

static int wait_state(const tb_t *t, const char *topic, int32_t p, int has_state, int32_t epoch)
{
	state_cond_t c = { t, topic, p, has_state, epoch };

	return run_until(state_is, &c, WAIT_MS);
}

typedef struct ctrl_cond {
	const tb_t *t;
	int32_t id;
} ctrl_cond_t;

static int controller_is(const void *arg)
{
	const ctrl_cond_t *c = arg;

	return broker_zk_metadata(c->t->bz)->controller_id == c->id;
}

static int32_t leader_of(const tb_t *t, const char *topic, int32_t partition)
{
	const metadata_t *md = broker_zk_metadata(t->bz);
	const md_topic_t *mt = metadata_topic(md, topic);

	if (!mt || partition >= mt->npartitions)
		return -2;
	return metadata_effective_leader(md, mt, &mt->partitions[partition]);
}

static char *read_text(const char *path)
{
	size_t len;
	uint8_t *buf = harness_read_file(path, &len);
	char *s;

	if (!buf)
		return NULL;
	s = realloc(buf, len + 1);
	if (!s) {
		free(buf);
		return NULL;
	}
	s[len] = '\0';
	return s;
}

/* --- tests ----------------------------------------------------------------------------- */

static void test_bad_arguments(void)
{
	zk_endpoint_t ep = { "BROOK", "127.0.0.1", 9092 };
	broker_zk_t *bz = (broker_zk_t *)1;
	char errstr[256];

	CU_ASSERT_EQUAL(broker_zk_new(loop, "", 6000, 1000, 1, NULL, 0, &ep, 1, NULL, &tb_cbs, NULL,
				      &bz, errstr, sizeof(errstr)), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_PTR_NULL(bz);
	CU_ASSERT_EQUAL(broker_zk_new(loop, "127.0.0.1:1", 6000, 1000, -1, NULL, 0, &ep, 1, NULL,
				      &tb_cbs, NULL, &bz, errstr, sizeof(errstr)),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT(strstr(errstr, "broker.id") != NULL);
	CU_ASSERT_EQUAL(broker_zk_new(loop, "127.0.0.1:1", 6000, 1000, 1, NULL, 0, &ep, 0, NULL,
				      &tb_cbs, NULL, &bz, errstr, sizeof(errstr)),
			BROOK_ERR__INVALID_ARG);
	ep.port = 70000;
	CU_ASSERT_EQUAL(broker_zk_new(loop, "127.0.0.1:1", 6000, 1000, 1, NULL, 0, &ep, 1, NULL,
				      &tb_cbs, NULL, &bz, errstr, sizeof(errstr)),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT(strstr(errstr, "listeners") != NULL);
	broker_zk_free(NULL);
	CU_ASSERT_PTR_NULL(broker_zk_metadata(NULL));
}

/* Nothing listens on 127.0.0.1:1: on_fatal once the connection timeout
 * passes, and never anything else. */
static void test_connection_timeout(void)
{
	zk_endpoint_t ep = { "BROOK", "127.0.0.1", 9092 };
	char errstr[256];
	int64_t t0 = mono_ms();
	tb_t t;

	memset(&t, 0, sizeof(t));
	CU_ASSERT_EQUAL_FATAL(broker_zk_new(loop, "127.0.0.1:1", 6000, 700, 1, NULL, 0, &ep, 1, NULL,
					    &tb_cbs, &t, &t.bz, errstr, sizeof(errstr)),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(broker_zk_start(t.bz), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(run_until(is_fatal, &t, 5000), 0);
	CU_ASSERT(mono_ms() - t0 >= 650);
	CU_ASSERT_EQUAL(t.fatal_err, BROOK_ERR__TIMED_OUT);
	CU_ASSERT(strstr(t.reason, "127.0.0.1:1") != NULL);
	run_for(200);
	CU_ASSERT_EQUAL(t.fatal, 1);
	CU_ASSERT_EQUAL(t.registered, 0);
	CU_ASSERT_EQUAL(t.metadata, 0);
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "x", 0), BROOK_ERR__STATE);
	broker_zk_free(t.bz);
}

static void test_fresh_cluster(void)
{
	const char *d1 = harness_tmpdir("bzk-fresh1"), *d2 = harness_tmpdir("bzk-fresh2");
	const char *dirs[] = { d1, d2 };
	char path[512], expect[1024], *mp1, *mp2, *again;
	zk_cluster_id_t cid;
	zk_broker_reg_t reg;
	result_t r;
	tb_t t;

	tb_start(&t, "/fresh", 1, dirs, 2, SESSION_MS, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(t.fatal, 0);
	CU_ASSERT_EQUAL(t.registered, 1);
	CU_ASSERT(broker_zk_registered(t.bz));

	/* The chroot and Kafka's folders exist. */
	for (size_t i = 0; i < 6; i++) {
		static const char *const folders[] = {
			"/brokers/ids", "/brokers/topics", "/config/topics",
			"/admin/delete_topics", "/consumers", "/isr_change_notification",
		};

		snprintf(path, sizeof(path), "/fresh%s", folders[i]);
		CU_ASSERT_EQUAL(r_get(path, &r), BROOK_ERR_NO_ERROR);
	}

	/* /cluster/id: Kafka's shape, a 22-character base64url id. */
	CU_ASSERT_EQUAL_FATAL(r_get("/fresh/cluster/id", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_json_cluster_id_decode(r.data, r.len, &cid, NULL, 0),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(strlen(cid.id), 22);
	CU_ASSERT_EQUAL(strspn(cid.id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_"), 22);
	snprintf(expect, sizeof(expect), "{\"version\":\"1\",\"id\":\"%s\"}", cid.id);
	CU_ASSERT_STRING_EQUAL(r.data, expect);
	CU_ASSERT_STRING_EQUAL(broker_zk_cluster_id(t.bz), cid.id);
	CU_ASSERT_STRING_EQUAL(broker_zk_metadata(t.bz)->cluster_id, cid.id);

	/* meta.properties in both dirs, Kafka's version-0 format. */
	snprintf(path, sizeof(path), "%s/meta.properties", d1);
	mp1 = read_text(path);
	snprintf(path, sizeof(path), "%s/meta.properties", d2);
	mp2 = read_text(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mp1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mp2);
	snprintf(expect, sizeof(expect), "version=0\nbroker.id=1\ncluster.id=%s\n", cid.id);
	CU_ASSERT(strstr(mp1, expect) != NULL);
	CU_ASSERT(strstr(mp2, expect) != NULL);
	CU_ASSERT(mp1[0] == '#');

	/* The registration: exact shape, ephemeral, owned by our session. */
	CU_ASSERT_EQUAL_FATAL(r_get("/fresh/brokers/ids/1", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.stat.ephemeral_owner, zk_session_id(broker_zk_session(t.bz)));
	CU_ASSERT_EQUAL_FATAL(zk_json_broker_decode(r.data, r.len, &reg, NULL, 0),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT(reg.timestamp_ms > 1600000000000LL);
	snprintf(expect, sizeof(expect),
		 "{\"version\":4,\"host\":\"127.0.0.1\",\"port\":9092,"
		 "\"endpoints\":[\"BROOK://127.0.0.1:9092\"],\"jmx_port\":-1,"
		 "\"timestamp\":\"%" PRId64 "\",\"rack\":null}", reg.timestamp_ms);
	CU_ASSERT_STRING_EQUAL(r.data, expect);

	/* The view has us, and no controller yet. */
	CU_ASSERT_EQUAL(wait_broker(&t, 1, 1), 0);
	CU_ASSERT_EQUAL(broker_zk_metadata(t.bz)->nbrokers, 1);
	CU_ASSERT_STRING_EQUAL(metadata_broker(broker_zk_metadata(t.bz), 1)->host, "127.0.0.1");
	CU_ASSERT_EQUAL(metadata_broker(broker_zk_metadata(t.bz), 1)->port, 9092);
	CU_ASSERT_EQUAL(broker_zk_metadata(t.bz)->controller_id, -1);
	CU_ASSERT(t.metadata >= 1);

	/* Clean shutdown: the registration goes at once, not after the
	 * session timeout. */
	{
		int64_t t0 = mono_ms();

		broker_zk_free(t.bz);
		CU_ASSERT_EQUAL(wait_get("/fresh/brokers/ids/1", BROOK_ERR__NOENT, &r),
				BROOK_ERR__NOENT);
		CU_ASSERT(mono_ms() - t0 < SESSION_MS / 2);
	}

	/* A restart reuses the id and leaves meta.properties alone. */
	tb_start(&t, "/fresh", 1, dirs, 2, SESSION_MS, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL(t.fatal, 0);
	CU_ASSERT_STRING_EQUAL(broker_zk_cluster_id(t.bz), cid.id);
	snprintf(path, sizeof(path), "%s/meta.properties", d1);
	again = read_text(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(again);
	CU_ASSERT_STRING_EQUAL(again, mp1);
	broker_zk_free(t.bz);
	free(mp1);
	free(mp2);
	free(again);
}

/* A log dir of another cluster, or of another broker, stops startup with
 * the file named; Kafka's file with comments and in its own key order is
 * accepted as it is. */
static void test_foreign_log_dir(void)
{
	const char *good = harness_tmpdir("bzk-good"), *bad = harness_tmpdir("bzk-bad");
	const char *dirs[] = { good, bad };
	char path[512], expect[1024], text[512], cluster[ZK_CLUSTER_ID_MAX + 1];
	zk_cluster_id_t cid;
	result_t r;
	tb_t t;

	/* Learn the cluster id with a first, dir-less start. */
	tb_start(&t, "/foreign", 1, NULL, 0, SESSION_MS, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	broker_zk_free(t.bz);
	CU_ASSERT_EQUAL_FATAL(r_get("/foreign/cluster/id", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(zk_json_cluster_id_decode(r.data, r.len, &cid, NULL, 0),
			      BROOK_ERR_NO_ERROR);
	snprintf(cluster, sizeof(cluster), "%s", cid.id);

	snprintf(path, sizeof(path), "%s/meta.properties", good);
	snprintf(text, sizeof(text), "#\n#Thu Jan 01 00:00:00 UTC 2026\ncluster.id = %s\r\n"
		 "version=0\n\nbroker.id=1\n", cluster);
	CU_ASSERT_EQUAL_FATAL(harness_write_file(path, text, strlen(text)), 0);
	snprintf(path, sizeof(path), "%s/meta.properties", bad);
	snprintf(text, sizeof(text), "version=0\nbroker.id=1\ncluster.id=OTHERCLUSTERxxxxxxxxxx\n");
	CU_ASSERT_EQUAL_FATAL(harness_write_file(path, text, strlen(text)), 0);

	tb_start(&t, "/foreign", 1, dirs, 2, SESSION_MS, 9092, NULL);
	t.free_on_fatal = 1;
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL(t.fatal, 1);
	CU_ASSERT_EQUAL(t.registered, 0);
	CU_ASSERT_EQUAL(t.fatal_err, BROOK_ERR__NOT_OURS);
	snprintf(expect, sizeof(expect),
		 "%s/meta.properties: cluster.id OTHERCLUSTERxxxxxxxxxx does not match ZooKeeper's "
		 "%s (this log dir belongs to another cluster)", bad, cluster);
	CU_ASSERT_STRING_EQUAL(t.reason, expect);
	CU_ASSERT_PTR_NULL(t.bz);   /* freed from inside on_fatal */
	CU_ASSERT_EQUAL(r_get("/foreign/brokers/ids/1", &r), BROOK_ERR__NOENT);
	/* The good dir was accepted as it was. */
	snprintf(path, sizeof(path), "%s/meta.properties", good);
	{
		char *now = read_text(path);

		CU_ASSERT_PTR_NOT_NULL_FATAL(now);
		CU_ASSERT(strstr(now, "Thu Jan 01") != NULL);
		free(now);
	}

	/* Another broker's dir. */
	snprintf(path, sizeof(path), "%s/meta.properties", bad);
	snprintf(text, sizeof(text), "version=0\nbroker.id=5\ncluster.id=%s\n", cluster);
	CU_ASSERT_EQUAL_FATAL(harness_write_file(path, text, strlen(text)), 0);
	tb_start(&t, "/foreign", 1, dirs, 2, SESSION_MS, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL(t.fatal, 1);
	CU_ASSERT(strstr(t.reason, "meta.properties: broker.id 5 does not match the configured "
				   "broker.id 1") != NULL);
	broker_zk_free(t.bz);

	/* A file that is not properties at all. */
	snprintf(text, sizeof(text), "version=0\ngarbage\n");
	CU_ASSERT_EQUAL_FATAL(harness_write_file(path, text, strlen(text)), 0);
	tb_start(&t, "/foreign", 1, dirs, 2, SESSION_MS, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL(t.fatal, 1);
	CU_ASSERT_EQUAL(t.fatal_err, BROOK_ERR__CORRUPT);
	CU_ASSERT(strstr(t.reason, "meta.properties:2:") != NULL);
	broker_zk_free(t.bz);
}

/* Another live session holds our id: retried, then on_fatal after about
 * 1.5 session timeouts. */
static void test_id_taken(void)
{
	char expect[256];
	int64_t t0;
	tb_t t;

	CU_ASSERT_EQUAL_FATAL(r_mkdirs("/taken/brokers/ids"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(r_create("/taken/brokers/ids/7", "{}", ZK_EPHEMERAL),
			      BROOK_ERR_NO_ERROR);
	t0 = mono_ms();
	tb_start(&t, "/taken", 7, NULL, 0, 2000, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	fprintf(stderr, "test: id conflict reported after %lld ms\n",
		(long long)(mono_ms() - t0));
	CU_ASSERT_EQUAL(t.fatal, 1);
	CU_ASSERT_EQUAL(t.registered, 0);
	CU_ASSERT_EQUAL(t.fatal_err, BROOK_ERR__EXISTS);
	snprintf(expect, sizeof(expect),
		 "broker.id 7 is already registered by another broker (session 0x%llx)",
		 (unsigned long long)zk_session_id(raw));
	CU_ASSERT_STRING_EQUAL(t.reason, expect);
	CU_ASSERT(mono_ms() - t0 >= 2900);
	broker_zk_free(t.bz);
	CU_ASSERT_EQUAL(r_delete("/taken/brokers/ids/7"), BROOK_ERR_NO_ERROR);
}

/* The kill -9 restart: the dead broker's node lingers until its session
 * expires; the new process waits for that instead of failing. */
static void child_hold_registration(int fd)
{
	struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
	zk_session_t *s = NULL;
	result_t r;
	char errstr[256];

	memset(&r, 0, sizeof(r));
	if (!l || zk_session_new(l, harness_zk_connect_string(ens), 2000, NULL, NULL, &s, errstr,
				 sizeof(errstr)) ||
	    zk_session_wait_connected(s, WAIT_MS) ||
	    zk_create(s, "/k9/brokers/ids/8", "{}", 2, ZK_EPHEMERAL, create_cb, &r) ||
	    zk_run_until(s, &r.done, WAIT_MS) || r.err)
		_exit(1);
	if (write(fd, "x", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static void test_restart_after_kill9(void)
{
	int fds[2], status;
	char c;
	pid_t pid;
	int64_t t0;
	result_t r;
	tb_t t;

	CU_ASSERT_EQUAL_FATAL(r_mkdirs("/k9/brokers/ids"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_hold_registration(fds[1]);
	}
	close(fds[1]);
	CU_ASSERT_EQUAL(read(fds[0], &c, 1), 1);
	close(fds[0]);
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_EQUAL_FATAL(r_get("/k9/brokers/ids/8", &r), BROOK_ERR_NO_ERROR);

	t0 = mono_ms();
	tb_start(&t, "/k9", 8, NULL, 0, 2000, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	fprintf(stderr, "test: registered %lld ms after the kill\n", (long long)(mono_ms() - t0));
	CU_ASSERT_EQUAL(t.fatal, 0);
	CU_ASSERT_EQUAL(t.registered, 1);
	CU_ASSERT_EQUAL(r_get("/k9/brokers/ids/8", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.stat.ephemeral_owner, zk_session_id(broker_zk_session(t.bz)));
	broker_zk_free(t.bz);
}

static void test_topics_and_claims(void)
{
	static const int32_t one3[] = { 1, 1, 1 }, one5[] = { 1, 1, 1, 1, 1 }, bad[] = { 9 };
	const metadata_t *md;
	const md_partition_t *p;
	result_t r, r2;
	int before;
	tb_t t;

	tb_start(&t, "/topics", 1, NULL, 0, SESSION_MS, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(wait_broker(&t, 1, 1), 0);

	/* A topic appears. */
	before = t.metadata;
	CU_ASSERT_EQUAL_FATAL(create_topic("/topics", "orders", 3, 1, one3), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_topic(&t, "orders", 3), 0);
	CU_ASSERT(t.metadata > before);
	md = broker_zk_metadata(t.bz);
	p = metadata_partition(md, "orders", 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(p->nreplicas == 1 && p->replicas[0] == 1 && !p->has_state);
	CU_ASSERT_EQUAL(leader_of(&t, "orders", 0), 1);   /* no state: first live replica */

	/* Claims: the state znode is created once, in Kafka's shape. */
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "orders", 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "orders", 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "orders", 3),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "nope", 0),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	CU_ASSERT_EQUAL_FATAL(wait_state(&t, "orders", 0, 1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(r_get("/topics/brokers/topics/orders/partitions/0/state", &r),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_STRING_EQUAL(r.data, "{\"controller_epoch\":0,\"leader\":1,\"version\":1,"
				       "\"leader_epoch\":0,\"isr\":[1]}");
	CU_ASSERT_EQUAL(r.stat.version, 0);
	p = metadata_partition(broker_zk_metadata(t.bz), "orders", 0);
	CU_ASSERT(p->leader == 1 && p->nisr == 1 && p->isr[0] == 1 && p->state_version == 0);
	CU_ASSERT_EQUAL(leader_of(&t, "orders", 0), 1);
	/* Known state: nothing is written again. */
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "orders", 0), BROOK_ERR_NO_ERROR);
	run_for(200);
	CU_ASSERT_EQUAL(r_get("/topics/brokers/topics/orders/partitions/0/state", &r2),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r2.stat.mzxid, r.stat.mzxid);

	/* Someone else's state wins over a claim. */
	CU_ASSERT_EQUAL(r_mkdirs("/topics/brokers/topics/orders/partitions/1"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r_create("/topics/brokers/topics/orders/partitions/1/state",
				 "{\"controller_epoch\":2,\"leader\":1,\"version\":1,"
				 "\"leader_epoch\":5,\"isr\":[1]}", ZK_PERSISTENT),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "orders", 1), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_state(&t, "orders", 1, 1, 5), 0);
	CU_ASSERT_EQUAL(metadata_partition(broker_zk_metadata(t.bz), "orders", 1)->controller_epoch,
			2);

	/* More partitions: known states stay, new partitions have none. */
	CU_ASSERT_EQUAL_FATAL(alter_topic("/topics", "orders", 5, 1, one5), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_topic(&t, "orders", 5), 0);
	p = metadata_partition(broker_zk_metadata(t.bz), "orders", 0);
	CU_ASSERT(p->has_state && p->leader == 1);
	CU_ASSERT_FALSE(metadata_partition(broker_zk_metadata(t.bz), "orders", 4)->has_state);

	/* A state written later (a controller) shows up through the exists
	 * watch; its updates through the data watch. */
	CU_ASSERT_EQUAL(r_mkdirs("/topics/brokers/topics/orders/partitions/4"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r_create("/topics/brokers/topics/orders/partitions/4/state",
				 "{\"controller_epoch\":1,\"leader\":1,\"version\":1,"
				 "\"leader_epoch\":3,\"isr\":[1]}", ZK_PERSISTENT),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_state(&t, "orders", 4, 1, 3), 0);
	CU_ASSERT_EQUAL(r_set("/topics/brokers/topics/orders/partitions/4/state",
			      "{\"controller_epoch\":1,\"leader\":-1,\"version\":1,"
			      "\"leader_epoch\":4,\"isr\":[]}", 0),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_state(&t, "orders", 4, 1, 4), 0);
	CU_ASSERT_EQUAL(leader_of(&t, "orders", 4), -1);   /* offline, not re-elected */
	CU_ASSERT_EQUAL(metadata_partition(broker_zk_metadata(t.bz), "orders", 4)->state_version, 1);
	/* And its deletion. */
	CU_ASSERT_EQUAL(r_delete("/topics/brokers/topics/orders/partitions/4/state"),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_state(&t, "orders", 4, 0, 0), 0);
	CU_ASSERT_EQUAL(leader_of(&t, "orders", 4), 1);

	/* A topic whose znode does not decode is left out, and the others
	 * still flow. */
	CU_ASSERT_EQUAL(r_create("/topics/brokers/topics/broken", "{\"version\":1}", ZK_PERSISTENT),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(create_topic("/topics", "audit", 1, 1, bad), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_topic(&t, "audit", 1), 0);
	CU_ASSERT_PTR_NULL(metadata_topic(broker_zk_metadata(t.bz), "broken"));
	CU_ASSERT_EQUAL(leader_of(&t, "audit", 0), -1);    /* broker 9 is not alive */
	/* Fixed by hand: it shows up. */
	{
		char *json = assignment_json(2, 1, one3);

		CU_ASSERT_EQUAL(r_set("/topics/brokers/topics/broken", json, ZK_ANY_VERSION),
				BROOK_ERR_NO_ERROR);
		free(json);
	}
	CU_ASSERT_EQUAL(wait_topic(&t, "broken", 2), 0);

	/* Deletion. */
	before = t.metadata;
	delete_topic("/topics", "orders", 5);
	CU_ASSERT_EQUAL_FATAL(wait_topic(&t, "orders", -1), 0);
	CU_ASSERT(t.metadata > before);
	CU_ASSERT_PTR_NOT_NULL(metadata_topic(broker_zk_metadata(t.bz), "audit"));
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "orders", 0),
			BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	/* Re-created with the same name: a fresh topic, no old states. */
	CU_ASSERT_EQUAL(create_topic("/topics", "orders", 3, 1, one3), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_topic(&t, "orders", 3), 0);
	CU_ASSERT_FALSE(metadata_partition(broker_zk_metadata(t.bz), "orders", 0)->has_state);
	broker_zk_free(t.bz);
}

static void test_brokers_and_controller(void)
{
	static const int32_t two_one[] = { 2, 1 };
	ctrl_cond_t cc;
	result_t r;
	zk_broker_reg_t reg;
	tb_t a, b;

	tb_start(&a, "/members", 1, NULL, 0, SESSION_MS, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &a, WAIT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(create_topic("/members", "fo", 1, 2, two_one), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_topic(&a, "fo", 1), 0);
	CU_ASSERT_EQUAL(leader_of(&a, "fo", 0), 1);   /* 2 is not there yet */

	/* Broker 2 joins (same process, same loop), with a rack. */
	tb_start(&b, "/members", 2, NULL, 0, SESSION_MS, 9093, "r2");
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &b, WAIT_MS), 0);
	CU_ASSERT_EQUAL(b.fatal, 0);
	CU_ASSERT_EQUAL_FATAL(wait_broker(&a, 2, 1), 0);
	CU_ASSERT_EQUAL(metadata_broker(broker_zk_metadata(a.bz), 2)->port, 9093);
	CU_ASSERT(metadata_broker(broker_zk_metadata(a.bz), 2)->has_rack);
	CU_ASSERT_STRING_EQUAL(metadata_broker(broker_zk_metadata(a.bz), 2)->rack, "r2");
	CU_ASSERT_EQUAL(r_get("/members/brokers/ids/2", &r), BROOK_ERR_NO_ERROR);
	CU_ASSERT(strstr(r.data, "\"rack\":\"r2\"") != NULL);
	CU_ASSERT_EQUAL(zk_json_broker_decode(r.data, r.len, &reg, NULL, 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wait_topic(&b, "fo", 1), 0);
	CU_ASSERT_EQUAL(wait_broker(&b, 1, 1), 0);
	/* The preferred replica is back: it leads. */
	CU_ASSERT_EQUAL(leader_of(&a, "fo", 0), 2);
	CU_ASSERT_EQUAL(leader_of(&b, "fo", 0), 2);

	/* Broker 2 records its leadership; both views see it. */
	CU_ASSERT_EQUAL(broker_zk_claim_partition(b.bz, "fo", 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_state(&a, "fo", 0, 1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(wait_state(&b, "fo", 0, 1, 0), 0);
	CU_ASSERT_EQUAL(metadata_partition(broker_zk_metadata(a.bz), "fo", 0)->leader, 2);
	/* Broker 1 claiming now does nothing: the state is known. */
	CU_ASSERT_EQUAL(broker_zk_claim_partition(a.bz, "fo", 0), BROOK_ERR_NO_ERROR);

	/* The controller comes and goes. */
	CU_ASSERT_EQUAL(r_create("/members/controller",
				 "{\"version\":1,\"brokerid\":1,\"timestamp\":\"1700000000000\"}",
				 ZK_EPHEMERAL), BROOK_ERR_NO_ERROR);
	cc.t = &a;
	cc.id = 1;
	CU_ASSERT_EQUAL(run_until(controller_is, &cc, WAIT_MS), 0);
	cc.t = &b;
	CU_ASSERT_EQUAL(run_until(controller_is, &cc, WAIT_MS), 0);
	CU_ASSERT_EQUAL(r_delete("/members/controller"), BROOK_ERR_NO_ERROR);
	cc.t = &a;
	cc.id = -1;
	CU_ASSERT_EQUAL(run_until(controller_is, &cc, WAIT_MS), 0);
	CU_ASSERT_EQUAL(r_create("/members/controller",
				 "{\"version\":1,\"brokerid\":2,\"timestamp\":\"1700000000000\"}",
				 ZK_EPHEMERAL), BROOK_ERR_NO_ERROR);
	cc.id = 2;
	CU_ASSERT_EQUAL(run_until(controller_is, &cc, WAIT_MS), 0);
	CU_ASSERT_EQUAL(r_delete("/members/controller"), BROOK_ERR_NO_ERROR);

	/* Broker 2 leaves: the partition it leads is offline (its state
	 * names it; no unclean election), one without state moves on. */
	CU_ASSERT_EQUAL_FATAL(create_topic("/members", "fo2", 1, 2, two_one), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_topic(&a, "fo2", 1), 0);
	CU_ASSERT_EQUAL(leader_of(&a, "fo2", 0), 2);
	broker_zk_free(b.bz);
	CU_ASSERT_EQUAL_FATAL(wait_broker(&a, 2, 0), 0);
	CU_ASSERT_EQUAL(broker_zk_metadata(a.bz)->nbrokers, 1);
	CU_ASSERT_EQUAL(leader_of(&a, "fo", 0), -1);
	CU_ASSERT_EQUAL(leader_of(&a, "fo2", 0), 1);

	/* A registration edited by hand is followed too. */
	CU_ASSERT_EQUAL(r_create("/members/brokers/ids/5",
				 "{\"version\":4,\"host\":\"h5\",\"port\":1,\"endpoints\":"
				 "[\"BROOK://h5:1\"],\"jmx_port\":-1,\"timestamp\":\"1\","
				 "\"rack\":null}", ZK_EPHEMERAL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_broker(&a, 5, 1), 0);
	CU_ASSERT_EQUAL(r_set("/members/brokers/ids/5",
			      "{\"version\":4,\"host\":\"h5\",\"port\":2,\"endpoints\":"
			      "[\"BROOK://h5b:2\"],\"jmx_port\":-1,\"timestamp\":\"1\","
			      "\"rack\":null}", ZK_ANY_VERSION), BROOK_ERR_NO_ERROR);
	for (int i = 0; i < 200; i++) {
		const md_broker_t *m = metadata_broker(broker_zk_metadata(a.bz), 5);

		if (m && m->port == 2)
			break;
		run_for(20);
	}
	CU_ASSERT_STRING_EQUAL(metadata_broker(broker_zk_metadata(a.bz), 5)->host, "h5b");
	CU_ASSERT_EQUAL(r_delete("/members/brokers/ids/5"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wait_broker(&a, 5, 0), 0);

	/* Our own registration deleted by hand: registered again. */
	CU_ASSERT_EQUAL(r_delete("/members/brokers/ids/1"), BROOK_ERR_NO_ERROR);
	{
		tb_t *pa = &a;
		int want = 2;

		for (int i = 0; i < 400 && pa->registered < want; i++)
			run_for(20);
		CU_ASSERT_EQUAL(a.registered, 2);
	}
	CU_ASSERT_EQUAL(wait_get("/members/brokers/ids/1", BROOK_ERR_NO_ERROR, &r),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.stat.ephemeral_owner, zk_session_id(broker_zk_session(a.bz)));
	broker_zk_free(a.bz);
}

/* Session expiry: a new session, registered again, every watch re-armed
 * (changes made after the expiry are seen). */
static void test_session_expiry(void)
{
	static const int32_t ids[] = { 1, 1, 1, 1 };
	unsigned char pw[ZK_PASSWD_LEN];
	int64_t old_id;
	result_t r;
	tb_t t;

	tb_start(&t, "/expiry", 1, NULL, 0, SESSION_MS, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(create_topic("/expiry", "before", 2, 1, ids), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_topic(&t, "before", 2), 0);
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "before", 0), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_state(&t, "before", 0, 1, 0), 0);

	CU_ASSERT_EQUAL_FATAL(zk_session_credentials(broker_zk_session(t.bz), &old_id, pw),
			      BROOK_ERR_NO_ERROR);
	fprintf(stderr, "test: expiring session 0x%llx\n", (unsigned long long)old_id);
	CU_ASSERT_EQUAL_FATAL(harness_zk_expire_session(harness_zk_connect_string(ens), old_id, pw,
							WAIT_MS), 0);
	/* The view is kept meanwhile. */
	CU_ASSERT_PTR_NOT_NULL(metadata_topic(broker_zk_metadata(t.bz), "before"));
	{
		int64_t deadline = mono_ms() + WAIT_MS;

		while (t.registered < 2 && mono_ms() < deadline)
			run_for(20);
	}
	CU_ASSERT_EQUAL_FATAL(t.registered, 2);
	CU_ASSERT_EQUAL(t.fatal, 0);
	/* Re-reading after the expiry never showed the owner a view
	 * without ourselves. */
	CU_ASSERT_EQUAL(t.self_missing, 0);
	CU_ASSERT(zk_session_id(broker_zk_session(t.bz)) != old_id);
	CU_ASSERT_EQUAL(wait_get("/expiry/brokers/ids/1", BROOK_ERR_NO_ERROR, &r),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(r.stat.ephemeral_owner, zk_session_id(broker_zk_session(t.bz)));
	CU_ASSERT(metadata_broker_alive(broker_zk_metadata(t.bz), 1));
	CU_ASSERT(metadata_partition(broker_zk_metadata(t.bz), "before", 0)->has_state);

	/* Every kind of watch works in the new session. */
	CU_ASSERT_EQUAL(create_topic("/expiry", "after", 1, 1, ids), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wait_topic(&t, "after", 1), 0);
	CU_ASSERT_EQUAL(alter_topic("/expiry", "before", 4, 1, ids), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wait_topic(&t, "before", 4), 0);
	CU_ASSERT_EQUAL(r_set("/expiry/brokers/topics/before/partitions/0/state",
			      "{\"controller_epoch\":1,\"leader\":1,\"version\":1,"
			      "\"leader_epoch\":1,\"isr\":[1]}", ZK_ANY_VERSION),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wait_state(&t, "before", 0, 1, 1), 0);
	CU_ASSERT_EQUAL(broker_zk_claim_partition(t.bz, "before", 1), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wait_state(&t, "before", 1, 1, 0), 0);
	CU_ASSERT_EQUAL(r_create("/expiry/brokers/ids/3",
				 "{\"version\":4,\"host\":\"h\",\"port\":1,\"endpoints\":"
				 "[\"BROOK://h:1\"],\"jmx_port\":-1,\"timestamp\":\"1\","
				 "\"rack\":null}", ZK_EPHEMERAL), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wait_broker(&t, 3, 1), 0);
	CU_ASSERT_EQUAL(r_delete("/expiry/brokers/ids/3"), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wait_broker(&t, 3, 0), 0);
	delete_topic("/expiry", "after", 1);
	CU_ASSERT_EQUAL(wait_topic(&t, "after", -1), 0);
	broker_zk_free(t.bz);
}

/* The server goes away and comes back within the session timeout: same
 * session, nothing re-registered, the view kept throughout and still
 * followed afterwards. */
static void test_connection_loss(void)
{
	static const int32_t ids[] = { 1 };
	int64_t sid;
	tb_t t;

	tb_start(&t, "/loss", 1, NULL, 0, 10000, 9092, NULL);
	CU_ASSERT_EQUAL_FATAL(run_until(is_registered, &t, WAIT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(create_topic("/loss", "kept", 1, 1, ids), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL_FATAL(wait_topic(&t, "kept", 1), 0);
	sid = zk_session_id(broker_zk_session(t.bz));

	CU_ASSERT_EQUAL_FATAL(harness_zk_kill(ens, 1), 0);
	run_for(1000);
	CU_ASSERT_PTR_NOT_NULL(metadata_topic(broker_zk_metadata(t.bz), "kept"));
	CU_ASSERT(metadata_broker_alive(broker_zk_metadata(t.bz), 1));
	CU_ASSERT_EQUAL_FATAL(harness_zk_restart(ens, 1), 0);
	CU_ASSERT_EQUAL(zk_session_wait_connected(raw, WAIT_MS), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(create_topic("/loss", "later", 1, 1, ids), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(wait_topic(&t, "later", 1), 0);
	CU_ASSERT_EQUAL(zk_session_id(broker_zk_session(t.bz)), sid);
	CU_ASSERT_EQUAL(t.registered, 1);
	CU_ASSERT_EQUAL(t.fatal, 0);
	CU_ASSERT(broker_zk_registered(t.bz));
	CU_ASSERT_PTR_NOT_NULL(metadata_topic(broker_zk_metadata(t.bz), "kept"));
	broker_zk_free(t.bz);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "bad arguments", test_bad_arguments },
		{ "connection timeout at startup", test_connection_timeout },
		{ "fresh cluster: paths, cluster id, meta.properties, registration",
		  test_fresh_cluster },
		{ "log dir of another cluster or broker", test_foreign_log_dir },
		{ "broker id held by another live session", test_id_taken },
		{ "restart after kill -9: waits for the old registration", test_restart_after_kill9 },
		{ "topics, partition states, claims", test_topics_and_claims },
		{ "brokers join and leave, controller", test_brokers_and_controller },
		{ "session expiry: re-registered, watches re-armed", test_session_expiry },
		{ "connection loss: the view and the session survive", test_connection_loss },
		{ NULL, NULL },
	};
	char errstr[256];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (getenv("BROOK_TEST_DEBUG"))
		blog_set_level(BLOG_DEBUG);
	if (harness_zk_start(1, &ens) != 0) {
		fprintf(stderr, "test_broker_zk: cannot start ZooKeeper\n");
		return 1;
	}
	fprintf(stderr, "test_broker_zk: ZooKeeper at %s\n", harness_zk_connect_string(ens));
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop || zk_session_new(loop, harness_zk_connect_string(ens), 10000, NULL, NULL, &raw,
				    errstr, sizeof(errstr)) ||
	    zk_session_wait_connected(raw, WAIT_MS)) {
		fprintf(stderr, "test_broker_zk: cannot connect: %s\n", errstr);
		harness_zk_stop(ens);
		return 1;
	}
	rc = harness_run("broker_zk", tests);
	zk_session_free(raw);
	ev_loop_destroy(loop);
	if (harness_zk_stop(ens) != 0)
		rc = 1;
	return rc;
}
