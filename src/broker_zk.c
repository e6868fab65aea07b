/*
 * broker_zk.c - the broker's ZooKeeper side (see broker_zk.h).
 *
 * Startup, one step per state, each started by the previous one's
 * completion:
 *
 *   CONNECTING    session_new; on_fatal if not established within
 *                 connection_timeout_ms
 *   CHROOT        (only with a chroot) a session without it creates it
 *   PREPARING     create_path x7 (Kafka's persistent folders), then
 *                 get /cluster/id
 *                   NOENT -> create {"version":"1","id":<random>}
 *                            EXISTS / CONNECTION_LOSS -> get again
 *                 then meta.properties in every log dir (blocking, once)
 *   LOADING       read and watch the view; when no read is left in flight:
 *   REGISTERING   create ephemeral /brokers/ids/<id>
 *                   EXISTS / CONNECTION_LOSS -> get, compare ephemeralOwner:
 *                     ours -> done
 *                     another session -> exists-watch it and retry when it
 *                     goes; on_fatal 1.5 session timeouts after first seen
 *   REGISTERED    on_registered, then on_metadata on every change
 *
 * Session expiry: every watch and ephemeral is gone; the new session
 * clears every "watch armed" flag, re-reads everything (LOADING) and
 * registers again, keeping the old view until new data replaces it. The
 * generation number (bz->gen) makes completions of an older session, or of
 * a step restarted since, fall on the floor.
 *
 * Watches: every watched node has a flag meaning "a watch is armed, or a
 * read that will arm one is in flight". Reads are only issued when it is
 * clear, so a node never collects duplicate watches; a watch firing clears
 * it and re-reads. A data read that finds no node falls back to an exists
 * watch where the node's creation matters (partition states, /controller,
 * topic configs).
 *
 * Topic configs: /config/topics/<t> is read (and watched) once the topic's
 * assignment is in the view, and before its partition states are, so on
 * the one session (requests answered in order) a topic's overrides are
 * known before any state that could make this broker lead it. A missing
 * znode means no overrides; its creation (brook topics alter, a Kafka tool)
 * is caught by the exists watch.
 *
 * Lifetime: every request holds a context counted in bz->pending; every
 * entry point runs between enter() and leave(); broker_zk_free() marks the
 * struct closing and the outermost leave() frees it once no completion is
 * outstanding, so callbacks may free it from anywhere. The session hands a
 * watch the same opaque pointer as the read that set it, so a context
 * whose read armed a watch outlives its completion: it waits on
 * bz->watch_ctxs until the watch fires, or until the session drops every
 * watch without a call (expiry, free), when the list is emptied.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "blog.h"
#include "broker_zk.h"
#include "errstr.h"
#include "log_file.h"
#include "zk_paths.h"

#define SUBSYS "zk"
#define META_PROPERTIES "meta.properties"
#define META_PROPERTIES_MAX (64 * 1024)
/* Retries of one write whose outcome stayed unknown or whose parent
 * vanished, before it counts as a failure. */
#define WRITE_ATTEMPTS 10
/* Pause before re-reading nodes whose read failed. */
#define RESYNC_DELAY_S 1.0

typedef enum bz_state {
	BZ_NEW,
	BZ_CONNECTING,
	BZ_CHROOT,
	BZ_PREPARING,
	BZ_LOADING,
	BZ_REGISTERING,
	BZ_REGISTERED,
	BZ_EXPIRED,
	BZ_FAILED,
} bz_state_t;

static const char *const state_names[] = {
	[BZ_NEW] = "NEW",
	[BZ_CONNECTING] = "CONNECTING",
	[BZ_CHROOT] = "CHROOT",
	[BZ_PREPARING] = "PREPARING",
	[BZ_LOADING] = "LOADING",
	[BZ_REGISTERING] = "REGISTERING",
	[BZ_REGISTERED] = "REGISTERED",
	[BZ_EXPIRED] = "EXPIRED",
	[BZ_FAILED] = "FAILED",
};

/* Watched data nodes. */
typedef enum node_kind {
	NODE_BROKER,       /* /brokers/ids/<num> */
	NODE_TOPIC,        /* /brokers/topics/<topic> */
	NODE_STATE,        /* /brokers/topics/<topic>/partitions/<num>/state */
	NODE_CONTROLLER,   /* /controller */
	NODE_CONFIG,       /* /config/topics/<topic> */
} node_kind_t;

typedef enum bz_op {
	OP_CHROOT,
	OP_PATH,
	OP_CLUSTER_ID_GET,
	OP_CLUSTER_ID_CREATE,
	OP_REGISTER,
	OP_REG_CHECK,
	OP_REG_EXISTS,
	OP_BROKER_IDS,
	OP_TOPICS,
	OP_NODE_GET,       /* get with a watch */
	OP_NODE_EXISTS,    /* the node was missing: exists with a watch */
	OP_NODE_GET2,      /* it appeared meanwhile: get, the watch is armed */
	OP_CLAIM_CREATE,
	OP_CLAIM_CHECK,
} bz_op_t;

/* The context of one ZooKeeper request. */
typedef struct bz_req {
	struct broker_zk *bz;
	uint64_t gen;
	bz_op_t op;
	node_kind_t kind;
	int view;                      /* a view read: counted in bz->loading */
	int step;                      /* claim: which znode of the chain */
	int attempt;
	int32_t num;                   /* broker id or partition */
	int has_watch;                 /* the request asked for a watch */
	struct bz_req *wprev, *wnext;  /* on bz->watch_ctxs while it is armed */
	char topic[ZK_TOPIC_MAX + 1];
	char cluster_id[ZK_CLUSTER_ID_MAX + 1];
} bz_req_t;

typedef struct bz_broker {
	int32_t id;
	unsigned char watch, seen;
} bz_broker_t;

typedef struct bz_topic {
	char name[ZK_TOPIC_MAX + 1];
	unsigned char watch, seen;
	int32_t nparts;
	unsigned char *state_watch;    /* [nparts] */
	unsigned char *claiming;       /* [nparts]: a claim chain is in flight */
	unsigned char config_watch;    /* /config/topics/<name> */
} bz_topic_t;

struct broker_zk {
	struct ev_loop *loop;
	char *connect;
	char *hosts;                   /* connect string without the chroot */
	char *chroot;                  /* NULL without one */
	int session_timeout_ms, connection_timeout_ms;
	int32_t id;
	char **log_dirs;
	int nlog_dirs;
	zk_broker_reg_t reg;           /* timestamp filled per registration */
	char reg_path[ZK_PATH_MAX];
	char endpoints_str[512];       /* for log lines */
	broker_zk_callbacks_t cb;
	void *opaque;

	zk_session_t *zk;
	zk_session_t *root_zk;         /* CHROOT only */
	bz_state_t state;
	uint64_t gen;
	int started, session_ok, closing, depth;
	size_t pending;                /* requests whose completion has not run */
	size_t loading;                /* view reads of this generation in flight */
	bz_req_t *watch_ctxs;          /* contexts of the armed watches */
	int paths_left;
	int meta_checked;
	int ever_registered, registered;
	int reg_attempts;              /* creates since the last success */

	/* registration */
	int reg_busy;                  /* a create or ownership check is in flight */
	int reg_watch;
	ev_tstamp reg_deadline;        /* 0: no conflict seen in this attempt */

	ev_timer conn_timer, reg_timer, resync_timer, notify_timer;

	metadata_t *md;
	int brokers_watch, topics_watch, controller_watch;
	bz_broker_t *brokers;          /* sorted by id */
	size_t nbrokers, cap_brokers;
	bz_topic_t **topics;           /* sorted by name */
	size_t ntopics, cap_topics;
};

/* Kafka's persistent folders, created at startup like KafkaZkClient does,
 * and /cluster, the parent of /cluster/id (Kafka creates it recursively
 * with the id). */
static const char *const persistent_paths[] = {
	ZK_PATH_BROKER_IDS, ZK_PATH_TOPICS, ZK_PATH_CONFIG_TOPICS,
	ZK_PATH_DELETE_TOPICS, ZK_PATH_CONSUMERS, ZK_PATH_ISR_CHANGE,
	"/cluster",
};
#define NPERSISTENT_PATHS (sizeof(persistent_paths) / sizeof(persistent_paths[0]))

static void do_register(broker_zk_t *bz);
static void endpoint_of(const zk_broker_reg_t *reg, md_broker_t *b);
static void load(broker_zk_t *bz);
static void resync(broker_zk_t *bz);
static void node_read(broker_zk_t *bz, node_kind_t kind, const char *topic, int32_t num);
static void read_cluster_id(broker_zk_t *bz, int attempt);

/* --- small helpers ---------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long long session_hex(const broker_zk_t *bz)
{
	return bz->zk ? (unsigned long long)zk_session_id(bz->zk) : 0ULL;
}

static void set_state(broker_zk_t *bz, bz_state_t state)
{
	if (bz->state == state)
		return;
	blog(BLOG_DEBUG, SUBSYS, "state %s -> %s", state_names[bz->state], state_names[state]);
	bz->state = state;
}

/* Requests and watches matter only while this holds. */
static int live(const broker_zk_t *bz)
{
	return !bz->closing && bz->state != BZ_FAILED;
}

static void enter(broker_zk_t *bz)
{
	bz->depth++;
}

static void destroy(broker_zk_t *bz);

static void leave(broker_zk_t *bz)
{
	if (--bz->depth == 0 && bz->closing && bz->pending == 0)
		destroy(bz);
}

static void fatal(broker_zk_t *bz, brook_err_t err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Startup cannot go on: report once and go quiet. The owner frees us. */
static void fatal(broker_zk_t *bz, brook_err_t err, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	if (!live(bz))
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	set_state(bz, BZ_FAILED);
	bz->registered = 0;
	ev_timer_stop(bz->loop, &bz->conn_timer);
	ev_timer_stop(bz->loop, &bz->reg_timer);
	ev_timer_stop(bz->loop, &bz->resync_timer);
	ev_timer_stop(bz->loop, &bz->notify_timer);
	blog(BLOG_ERROR, SUBSYS, "%s", reason);
	if (bz->cb.on_fatal)
		bz->cb.on_fatal(bz->opaque, err, reason);
}

/* The view changed: tell the owner once this loop iteration is done, so a
 * burst of znode reads costs one reconciliation. Not while we are not
 * registered (startup, and re-reading after an expiry, when the view lacks
 * ourselves for a moment): registered() tells then. */
static void changed(broker_zk_t *bz)
{
	if (!bz->registered || !live(bz) || ev_is_active(&bz->notify_timer))
		return;
	ev_timer_set(&bz->notify_timer, 0., 0.);
	ev_timer_start(bz->loop, &bz->notify_timer);
}

static void notify_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	broker_zk_t *bz = w->data;

	(void)loop;
	(void)revents;
	enter(bz);
	if (live(bz) && bz->cb.on_metadata)
		bz->cb.on_metadata(bz->opaque);
	leave(bz);
}

/* --- requests ----------------------------------------------------------------- */

static bz_req_t *req_new(broker_zk_t *bz, bz_op_t op, const char *topic, int32_t num)
{
	bz_req_t *r = calloc(1, sizeof(*r));

	if (!r) {
		blog(BLOG_ERROR, SUBSYS, "out of memory for a ZooKeeper request");
		return NULL;
	}
	r->bz = bz;
	r->gen = bz->gen;
	r->op = op;
	r->num = num;
	if (topic)
		snprintf(r->topic, sizeof(r->topic), "%s", topic);
	return r;
}

/* Takes the result of the zk_* call that was given r: from now on r is
 * the completion's, or it is freed here. */
static brook_err_t req_submitted(bz_req_t *r, brook_err_t err)
{
	broker_zk_t *bz = r->bz;

	if (err) {
		free(r);
		return err;
	}
	bz->pending++;
	if (r->view)
		bz->loading++;
	return BROOK_ERR_NO_ERROR;
}

/* Opens a completion: 1 when its result still matters. */
static int req_begin(bz_req_t *r)
{
	broker_zk_t *bz = r->bz;

	enter(bz);
	return live(bz) && r->gen == bz->gen;
}

/* The session left the watch r asked for: after a successful read, and
 * after an exists that found nothing. */
static int watch_armed(const bz_req_t *r, brook_err_t err)
{
	if (!r->has_watch)
		return 0;
	return !err || (err == BROOK_ERR__NOENT && (r->op == OP_NODE_EXISTS || r->op == OP_REG_EXISTS));
}

static void watch_ctx_unlink(broker_zk_t *bz, bz_req_t *r)
{
	if (r->wprev)
		r->wprev->wnext = r->wnext;
	else
		bz->watch_ctxs = r->wnext;
	if (r->wnext)
		r->wnext->wprev = r->wprev;
	r->wprev = r->wnext = NULL;
}

/* The session dropped every watch without calling them. */
static void watch_ctxs_free(broker_zk_t *bz)
{
	bz_req_t *r;

	while ((r = bz->watch_ctxs)) {
		watch_ctx_unlink(bz, r);
		free(r);
	}
}

/* Closes a completion (after any follow-up request was issued, so the
 * LOADING count cannot touch zero too early). `err` is the completion's:
 * it says whether a watch now holds r. */
static void req_end(bz_req_t *r, brook_err_t err)
{
	broker_zk_t *bz = r->bz;

	bz->pending--;
	if (r->view && r->gen == bz->gen) {
		bz->loading--;
		if (bz->loading == 0 && bz->state == BZ_LOADING && live(bz)) {
			set_state(bz, BZ_REGISTERING);
			do_register(bz);
		}
	}
	if (watch_armed(r, err)) {
		r->wprev = NULL;
		r->wnext = bz->watch_ctxs;
		if (bz->watch_ctxs)
			bz->watch_ctxs->wprev = r;
		bz->watch_ctxs = r;
	} else {
		free(r);
	}
	leave(bz);
}

/* Opens a watch callback: takes r off the list (the caller frees it with
 * watch_end); 1 when the watch still matters. */
static int watch_begin(bz_req_t *r)
{
	broker_zk_t *bz = r->bz;

	enter(bz);
	watch_ctx_unlink(bz, r);
	return live(bz) && bz->session_ok && r->gen == bz->gen;
}

static void watch_end(bz_req_t *r)
{
	broker_zk_t *bz = r->bz;

	free(r);
	leave(bz);
}

/* A read failed for a reason that may pass (connection loss past the
 * read deadline, a server error): try the unwatched nodes again soon. One
 * log line per retry round, not per znode. */
static void read_failed(broker_zk_t *bz, const char *what, brook_err_t err)
{
	if (err == BROOK_ERR__SESSION_EXPIRED || err == BROOK_ERR__CLOSED || !live(bz))
		return;
	if (!ev_is_active(&bz->resync_timer)) {
		blog(BLOG_WARN, SUBSYS, "reading %s: %s; reading what failed again in %.0f s",
		     what, brook_err_str(err), RESYNC_DELAY_S);
		ev_timer_set(&bz->resync_timer, RESYNC_DELAY_S, 0.);
		ev_timer_start(bz->loop, &bz->resync_timer);
	}
}

static void resync_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	broker_zk_t *bz = w->data;

	(void)loop;
	(void)revents;
	enter(bz);
	if (live(bz) && bz->session_ok)
		resync(bz);
	leave(bz);
}

/* --- tracking tables -------------------------------------------------------- */

static long tbroker_index(const broker_zk_t *bz, int32_t id)
{
	size_t lo = 0, hi = bz->nbrokers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bz->brokers[mid].id == id)
			return (long)mid;
		if (bz->brokers[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static bz_broker_t *tbroker_find(broker_zk_t *bz, int32_t id)
{
	long i = tbroker_index(bz, id);

	return i >= 0 ? &bz->brokers[i] : NULL;
}

static bz_broker_t *tbroker_add(broker_zk_t *bz, int32_t id)
{
	long i = tbroker_index(bz, id);
	size_t at;

	if (i >= 0)
		return &bz->brokers[i];
	at = (size_t)(-i - 1);
	if (bz->nbrokers == bz->cap_brokers) {
		size_t cap = bz->cap_brokers ? 2 * bz->cap_brokers : 16;
		bz_broker_t *nb = realloc(bz->brokers, cap * sizeof(*nb));

		if (!nb)
			return NULL;
		bz->brokers = nb;
		bz->cap_brokers = cap;
	}
	memmove(&bz->brokers[at + 1], &bz->brokers[at], (bz->nbrokers - at) * sizeof(*bz->brokers));
	memset(&bz->brokers[at], 0, sizeof(bz->brokers[at]));
	bz->brokers[at].id = id;
	bz->nbrokers++;
	return &bz->brokers[at];
}

static void tbroker_remove(broker_zk_t *bz, int32_t id)
{
	long i = tbroker_index(bz, id);

	if (i < 0)
		return;
	memmove(&bz->brokers[i], &bz->brokers[i + 1],
		(bz->nbrokers - (size_t)i - 1) * sizeof(*bz->brokers));
	bz->nbrokers--;
}

static long ttopic_index(const broker_zk_t *bz, const char *name)
{
	size_t lo = 0, hi = bz->ntopics;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(bz->topics[mid]->name, name);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static bz_topic_t *ttopic_find(broker_zk_t *bz, const char *name)
{
	long i = ttopic_index(bz, name);

	return i >= 0 ? bz->topics[i] : NULL;
}

static void ttopic_free(bz_topic_t *t)
{
	if (!t)
		return;
	free(t->state_watch);
	free(t->claiming);
	free(t);
}

static bz_topic_t *ttopic_add(broker_zk_t *bz, const char *name)
{
	long i = ttopic_index(bz, name);
	bz_topic_t *t;
	size_t at;

	if (i >= 0)
		return bz->topics[i];
	at = (size_t)(-i - 1);
	if (bz->ntopics == bz->cap_topics) {
		size_t cap = bz->cap_topics ? 2 * bz->cap_topics : 16;
		bz_topic_t **nt = realloc(bz->topics, cap * sizeof(*nt));

		if (!nt)
			return NULL;
		bz->topics = nt;
		bz->cap_topics = cap;
	}
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	memmove(&bz->topics[at + 1], &bz->topics[at], (bz->ntopics - at) * sizeof(*bz->topics));
	bz->topics[at] = t;
	bz->ntopics++;
	return t;
}

static void ttopic_remove(broker_zk_t *bz, const char *name)
{
	long i = ttopic_index(bz, name);

	if (i < 0)
		return;
	ttopic_free(bz->topics[i]);
	memmove(&bz->topics[i], &bz->topics[i + 1],
		(bz->ntopics - (size_t)i - 1) * sizeof(*bz->topics));
	bz->ntopics--;
}

/* Follows a new partition count, keeping the flags of the partitions that
 * stay (their watches are still armed). */
static brook_err_t ttopic_resize(bz_topic_t *t, int32_t nparts)
{
	unsigned char *sw, *cl;
	size_t n = nparts > 0 ? (size_t)nparts : 0, keep;

	if (nparts == t->nparts)
		return BROOK_ERR_NO_ERROR;
	sw = calloc(n ? n : 1, 1);
	cl = calloc(n ? n : 1, 1);
	if (!sw || !cl) {
		free(sw);
		free(cl);
		return BROOK_ERR__NOMEM;
	}
	keep = (size_t)(t->nparts < nparts ? t->nparts : nparts);
	if (keep) {
		memcpy(sw, t->state_watch, keep);
		memcpy(cl, t->claiming, keep);
	}
	free(t->state_watch);
	free(t->claiming);
	t->state_watch = sw;
	t->claiming = cl;
	t->nparts = nparts;
	return BROOK_ERR_NO_ERROR;
}

/* A new session has none of the old one's watches. */
static void clear_watch_flags(broker_zk_t *bz)
{
	bz->brokers_watch = bz->topics_watch = bz->controller_watch = 0;
	bz->reg_watch = 0;
	bz->reg_busy = 0;
	for (size_t i = 0; i < bz->nbrokers; i++)
		bz->brokers[i].watch = 0;
	for (size_t i = 0; i < bz->ntopics; i++) {
		bz_topic_t *t = bz->topics[i];

		t->watch = 0;
		t->config_watch = 0;
		if (t->nparts > 0) {
			memset(t->state_watch, 0, (size_t)t->nparts);
			memset(t->claiming, 0, (size_t)t->nparts);
		}
	}
}

/* --- meta.properties ---------------------------------------------------------- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\f')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\f'))
		*--e = '\0';
	return s;
}

static int parse_i32(const char *s, int32_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < INT32_MIN || v > INT32_MAX)
		return -1;
	*out = (int32_t)v;
	return 0;
}

/* Kafka's meta.properties for a ZooKeeper-mode broker (java.util.Properties
 * text: '#' or '!' comments, key=value or key:value):
 *   #
 *   #<date>
 *   version=0
 *   broker.id=1
 *   cluster.id=<cluster id>
 * A log dir whose file names another cluster or broker is not ours to
 * use; a missing file, or one from before cluster ids, is (re)written. */
static brook_err_t meta_properties_check(const char *dir, int32_t broker_id, const char *cluster_id,
					 char *errstr, size_t errstr_size)
{
	char path[4096], *text = NULL, *line, *next, out[1024], date[64];
	int has_cluster = 0, has_broker = 0, lineno = 0;
	brook_err_t err;
	time_t now = time(NULL);
	struct tm tm;

	if (snprintf(path, sizeof(path), "%s/%s", dir, META_PROPERTIES) >= (int)sizeof(path)) {
		brook_errstr(errstr, errstr_size, "%s: log dir path too long", dir);
		return BROOK_ERR__INVALID_ARG;
	}
	err = log_file_slurp(path, META_PROPERTIES_MAX, &text, NULL, errstr, errstr_size);
	if (err && err != BROOK_ERR__NOENT)
		return err;
	for (line = text; line; line = next) {
		char *s, *sep, *key, *val;

		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		s = trim(line);
		lineno++;
		if (!*s || *s == '#' || *s == '!')
			continue;
		sep = s + strcspn(s, "=:");
		if (!*sep) {
			brook_errstr(errstr, errstr_size, "%s:%d: expected key=value", path, lineno);
			free(text);
			return BROOK_ERR__CORRUPT;
		}
		*sep = '\0';
		key = trim(s);
		val = trim(sep + 1);
		if (strcmp(key, "version") == 0) {
			if (strcmp(val, "0") != 0) {
				brook_errstr(errstr, errstr_size,
					     "%s: version %s is not supported (a ZooKeeper-mode broker "
					     "uses version 0)", path, val);
				free(text);
				return BROOK_ERR__NOT_OURS;
			}
		} else if (strcmp(key, "broker.id") == 0) {
			int32_t id;

			if (parse_i32(val, &id) != 0) {
				brook_errstr(errstr, errstr_size, "%s:%d: broker.id: not a number: %s",
					     path, lineno, val);
				free(text);
				return BROOK_ERR__CORRUPT;
			}
			if (id != broker_id) {
				brook_errstr(errstr, errstr_size,
					     "%s: broker.id %d does not match the configured broker.id "
					     "%d (this log dir belongs to another broker)", path,
					     (int)id, (int)broker_id);
				free(text);
				return BROOK_ERR__NOT_OURS;
			}
			has_broker = 1;
		} else if (strcmp(key, "cluster.id") == 0) {
			if (strcmp(val, cluster_id) != 0) {
				brook_errstr(errstr, errstr_size,
					     "%s: cluster.id %s does not match ZooKeeper's %s (this log "
					     "dir belongs to another cluster)", path, val, cluster_id);
				free(text);
				return BROOK_ERR__NOT_OURS;
			}
			has_cluster = 1;
		}
	}
	free(text);
	if (has_cluster && has_broker)
		return BROOK_ERR_NO_ERROR;
	localtime_r(&now, &tm);
	if (!strftime(date, sizeof(date), "%a %b %d %H:%M:%S %Z %Y", &tm))
		date[0] = '\0';
	snprintf(out, sizeof(out), "#\n#%s\nversion=0\nbroker.id=%d\ncluster.id=%s\n", date,
		 (int)broker_id, cluster_id);
	err = log_file_replace(path, out, strlen(out), errstr, errstr_size);
	if (!err)
		blog(BLOG_INFO, SUBSYS, "wrote %s (broker.id %d, cluster.id %s)", path, (int)broker_id,
		     cluster_id);
	return err;
}

/* --- cluster id ----------------------------------------------------------------- */

/* 22 characters of base64url without padding over a random version-4 UUID,
 * the shape of Kafka's generated cluster ids. */
static brook_err_t random_cluster_id(char *out, size_t size)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char u[18] = { 0 };
	size_t got = 0;
	char *p = out;

	if (size < 23)
		return BROOK_ERR__INVALID_ARG;
	while (got < 16) {
		ssize_t n = getrandom(u + got, 16 - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return brook_err_from_errno(errno);
		got += (size_t)n;
	}
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	/* 16 bytes -> 5 full groups of 3, then one byte (2 characters). */
	for (int i = 0; i < 15; i += 3) {
		uint32_t v = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];

		*p++ = b64[(v >> 18) & 63];
		*p++ = b64[(v >> 12) & 63];
		*p++ = b64[(v >> 6) & 63];
		*p++ = b64[v & 63];
	}
	*p++ = b64[u[15] >> 2];
	*p++ = b64[(u[15] & 3) << 4];
	*p = '\0';
	return BROOK_ERR_NO_ERROR;
}

/* The cluster id is known: check the log dirs (once per process), then
 * load the view. */
static void cluster_id_known(broker_zk_t *bz, const char *id, int created)
{
	char errstr[1024];

	if (metadata_set_cluster_id(bz->md, id)) {
		fatal(bz, BROOK_ERR__BAD_MSG, "%s: cluster id too long", ZK_PATH_CLUSTER_ID);
		return;
	}
	blog(BLOG_INFO, SUBSYS, "%s cluster id %s", created ? "created" : "using", id);
	if (!bz->meta_checked) {
		for (int i = 0; i < bz->nlog_dirs; i++) {
			brook_err_t err = meta_properties_check(bz->log_dirs[i], bz->id, id, errstr,
								sizeof(errstr));

			if (err) {
				fatal(bz, err, "%s", errstr);
				return;
			}
		}
		bz->meta_checked = 1;
	}
	load(bz);
}

static void on_cluster_id_created(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)path;
	if (req_begin(r)) {
		if (!err)
			cluster_id_known(bz, r->cluster_id, 1);
		else if (err == BROOK_ERR__EXISTS || err == BROOK_ERR__CONNECTION_LOSS)
			/* Another broker won the race, or our write may have
			 * landed: what is there now is the cluster's id. */
			read_cluster_id(bz, r->attempt + 1);
		else if (err != BROOK_ERR__SESSION_EXPIRED)
			fatal(bz, err, "cannot create %s: %s", ZK_PATH_CLUSTER_ID, brook_err_str(err));
	}
	req_end(r, err);
}

static void create_cluster_id(broker_zk_t *bz, int attempt)
{
	zk_cluster_id_t cid;
	char *json = NULL;
	bz_req_t *r;
	brook_err_t err;

	memset(&cid, 0, sizeof(cid));
	if ((err = random_cluster_id(cid.id, sizeof(cid.id))) ||
	    (err = zk_json_cluster_id_encode(&cid, &json))) {
		fatal(bz, err, "cannot make a cluster id: %s", brook_err_str(err));
		return;
	}
	if (!(r = req_new(bz, OP_CLUSTER_ID_CREATE, NULL, 0))) {
		free(json);
		fatal(bz, BROOK_ERR__NOMEM, "out of memory");
		return;
	}
	r->attempt = attempt;
	snprintf(r->cluster_id, sizeof(r->cluster_id), "%s", cid.id);
	err = req_submitted(r, zk_create(bz->zk, ZK_PATH_CLUSTER_ID, json, strlen(json),
					 ZK_PERSISTENT, on_cluster_id_created, r));
	free(json);
	if (err && err != BROOK_ERR__SESSION_EXPIRED && err != BROOK_ERR__CONNECTION_LOSS)
		fatal(bz, err, "cannot create %s: %s", ZK_PATH_CLUSTER_ID, brook_err_str(err));
	else if (err == BROOK_ERR__CONNECTION_LOSS)
		read_cluster_id(bz, attempt + 1);
}

static void on_cluster_id(zk_session_t *s, brook_err_t err, const char *data, size_t len,
			  const zk_stat_t *stat, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)stat;
	if (req_begin(r)) {
		if (!err) {
			zk_cluster_id_t cid;
			char errstr[256];

			if (zk_json_cluster_id_decode(data, len, &cid, errstr, sizeof(errstr)))
				fatal(bz, BROOK_ERR__BAD_MSG, "%s: %s", ZK_PATH_CLUSTER_ID, errstr);
			else
				cluster_id_known(bz, cid.id, 0);
		} else if (err == BROOK_ERR__NOENT) {
			if (r->attempt >= WRITE_ATTEMPTS)
				fatal(bz, BROOK_ERR__ZK, "cannot create %s: gone again after %d attempts",
				      ZK_PATH_CLUSTER_ID, r->attempt);
			else
				create_cluster_id(bz, r->attempt);
		} else if (err == BROOK_ERR__CONNECTION_LOSS) {
			read_cluster_id(bz, r->attempt);
		} else if (err != BROOK_ERR__SESSION_EXPIRED) {
			fatal(bz, err, "cannot read %s: %s", ZK_PATH_CLUSTER_ID, brook_err_str(err));
		}
	}
	req_end(r, err);
}

static void read_cluster_id(broker_zk_t *bz, int attempt)
{
	bz_req_t *r = req_new(bz, OP_CLUSTER_ID_GET, NULL, 0);
	brook_err_t err;

	if (!r) {
		fatal(bz, BROOK_ERR__NOMEM, "out of memory");
		return;
	}
	r->attempt = attempt;
	err = req_submitted(r, zk_get(bz->zk, ZK_PATH_CLUSTER_ID, NULL, on_cluster_id, r));
	if (err && err != BROOK_ERR__SESSION_EXPIRED)
		fatal(bz, err, "cannot read %s: %s", ZK_PATH_CLUSTER_ID, brook_err_str(err));
}

/* --- persistent paths ------------------------------------------------------------ */

static void create_persistent_path(broker_zk_t *bz, int i);

static void on_path_created(zk_session_t *s, brook_err_t err, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	if (req_begin(r)) {
		if (!err) {
			if (--bz->paths_left == 0)
				read_cluster_id(bz, 0);
		} else if (err == BROOK_ERR__CONNECTION_LOSS) {
			/* Idempotent, and the session layer holds it until a
			 * connection is back: simply ask again. */
			create_persistent_path(bz, r->num);
		} else if (err != BROOK_ERR__SESSION_EXPIRED) {
			fatal(bz, err, "cannot create %s: %s", persistent_paths[r->num],
			      brook_err_str(err));
		}
	}
	req_end(r, err);
}

static void create_persistent_path(broker_zk_t *bz, int i)
{
	bz_req_t *r = req_new(bz, OP_PATH, NULL, i);
	brook_err_t err;

	if (!r) {
		fatal(bz, BROOK_ERR__NOMEM, "out of memory");
		return;
	}
	err = req_submitted(r, zk_create_path(bz->zk, persistent_paths[i], on_path_created, r));
	if (err && err != BROOK_ERR__SESSION_EXPIRED)
		fatal(bz, err, "cannot create %s: %s", persistent_paths[i], brook_err_str(err));
}

static void prepare(broker_zk_t *bz)
{
	set_state(bz, BZ_PREPARING);
	bz->paths_left = (int)NPERSISTENT_PATHS;
	for (size_t i = 0; i < NPERSISTENT_PATHS && live(bz) && bz->state == BZ_PREPARING; i++)
		create_persistent_path(bz, (int)i);
}

/* --- registration ------------------------------------------------------------------- */

/* Our registration as the view shows it: what we just wrote. */
static void view_add_self(broker_zk_t *bz)
{
	md_broker_t self;

	memset(&self, 0, sizeof(self));
	self.id = bz->id;
	endpoint_of(&bz->reg, &self);
	self.has_rack = bz->reg.has_rack;
	if (self.has_rack)
		snprintf(self.rack, sizeof(self.rack), "%s", bz->reg.rack);
	if (!tbroker_add(bz, bz->id) || metadata_set_broker(bz->md, &self, NULL))
		blog(BLOG_WARN, SUBSYS, "out of memory adding broker %d to the view", (int)bz->id);
}

static void registered(broker_zk_t *bz)
{
	if (bz->state != BZ_REGISTERING)
		return;
	/* The /brokers/ids child watch confirms it soon; the owner must not
	 * see a view without us in between. */
	view_add_self(bz);
	bz->reg_busy = 0;
	bz->reg_deadline = 0;
	bz->reg_attempts = 0;
	ev_timer_stop(bz->loop, &bz->reg_timer);
	bz->registered = 1;
	bz->ever_registered = 1;
	set_state(bz, BZ_REGISTERED);
	blog(BLOG_INFO, SUBSYS, "registered broker %d at %s (session 0x%llx)", (int)bz->id,
	     bz->endpoints_str, session_hex(bz));
	changed(bz);
	if (bz->cb.on_registered)
		bz->cb.on_registered(bz->opaque);
}

static void check_registration(broker_zk_t *bz);

static void on_reg_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)event;
	(void)path;
	if (watch_begin(r)) {
		bz->reg_watch = 0;
		if (bz->state == BZ_REGISTERING && !bz->reg_busy)
			do_register(bz);
	}
	watch_end(r);
}

static void on_reg_exists(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)stat;
	if (req_begin(r) && bz->state == BZ_REGISTERING) {
		if (err == BROOK_ERR__NOENT) {
			/* Gone between our read and this watch: go now. */
			do_register(bz);
		} else if (err) {
			bz->reg_watch = 0;
			if (err != BROOK_ERR__SESSION_EXPIRED)
				check_registration(bz);
		}
		/* Still there: the watch or the deadline timer goes on. */
	}
	req_end(r, err);
}

/* /brokers/ids/<id> belongs to another session. After a kill -9 the old
 * process's node stays until its session expires, so wait for that (a
 * watch tells when it goes), but no longer than a session's lifetime:
 * past that it is a live broker with our id. */
static void registration_conflict(broker_zk_t *bz, int64_t owner)
{
	ev_tstamp now = ev_now(bz->loop);
	double wait_s = 1.5 * bz->session_timeout_ms / 1000.0;

	bz->reg_busy = 0;
	if (bz->reg_deadline == 0) {
		bz->reg_deadline = now + wait_s;
		blog(BLOG_WARN, SUBSYS,
		     "broker.id %d is registered by session 0x%llx; waiting up to %d ms for it to "
		     "expire (a restarted broker's old registration lingers until then)",
		     (int)bz->id, (unsigned long long)owner, (int)(wait_s * 1000));
		ev_timer_stop(bz->loop, &bz->reg_timer);
		ev_timer_set(&bz->reg_timer, wait_s, 0.);
		ev_timer_start(bz->loop, &bz->reg_timer);
	}
	if (now >= bz->reg_deadline) {
		fatal(bz, BROOK_ERR__EXISTS,
		      "broker.id %d is already registered by another broker (session 0x%llx)",
		      (int)bz->id, (unsigned long long)owner);
		return;
	}
	if (!ev_is_active(&bz->reg_timer)) {
		/* Woken before the deadline: check again at the deadline. */
		ev_timer_set(&bz->reg_timer, bz->reg_deadline - now, 0.);
		ev_timer_start(bz->loop, &bz->reg_timer);
	}
	if (!bz->reg_watch) {
		bz_req_t *r = req_new(bz, OP_REG_EXISTS, NULL, 0);
		brook_err_t err;

		if (!r) {
			fatal(bz, BROOK_ERR__NOMEM, "out of memory");
			return;
		}
		bz->reg_watch = 1;
		r->has_watch = 1;
		err = req_submitted(r, zk_exists(bz->zk, bz->reg_path, on_reg_watch, on_reg_exists, r));
		if (err) {
			/* The deadline timer checks again. */
			bz->reg_watch = 0;
			blog(BLOG_WARN, SUBSYS, "cannot watch %s: %s", bz->reg_path,
			     brook_err_str(err));
		}
	}
}

static void reg_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	broker_zk_t *bz = w->data;

	(void)loop;
	(void)revents;
	enter(bz);
	if (live(bz) && bz->session_ok && bz->state == BZ_REGISTERING && !bz->reg_busy)
		check_registration(bz);
	leave(bz);
}

static void on_reg_check(zk_session_t *s, brook_err_t err, const char *data, size_t len,
			 const zk_stat_t *stat, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)data;
	(void)len;
	if (req_begin(r) && bz->state == BZ_REGISTERING) {
		bz->reg_busy = 0;
		if (!err) {
			if (stat->ephemeral_owner == zk_session_id(s))
				registered(bz);   /* our create landed before the loss */
			else
				registration_conflict(bz, stat->ephemeral_owner);
		} else if (err == BROOK_ERR__NOENT) {
			do_register(bz);
		} else if (err == BROOK_ERR__CONNECTION_LOSS) {
			check_registration(bz);
		} else if (err != BROOK_ERR__SESSION_EXPIRED) {
			fatal(bz, err, "cannot read %s: %s", bz->reg_path, brook_err_str(err));
		}
	}
	req_end(r, err);
}

static void check_registration(broker_zk_t *bz)
{
	bz_req_t *r = req_new(bz, OP_REG_CHECK, NULL, 0);
	brook_err_t err;

	if (!r) {
		fatal(bz, BROOK_ERR__NOMEM, "out of memory");
		return;
	}
	bz->reg_busy = 1;
	err = req_submitted(r, zk_get(bz->zk, bz->reg_path, NULL, on_reg_check, r));
	if (err) {
		bz->reg_busy = 0;
		if (err != BROOK_ERR__SESSION_EXPIRED)
			fatal(bz, err, "cannot read %s: %s", bz->reg_path, brook_err_str(err));
	}
}

static void on_ids_path(zk_session_t *s, brook_err_t err, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	if (req_begin(r) && bz->state == BZ_REGISTERING) {
		bz->reg_busy = 0;
		if (!err || err == BROOK_ERR__CONNECTION_LOSS)
			do_register(bz);
		else if (err != BROOK_ERR__SESSION_EXPIRED)
			fatal(bz, err, "cannot create %s: %s", ZK_PATH_BROKER_IDS, brook_err_str(err));
	}
	req_end(r, err);
}

static void on_registered_create(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)path;
	if (req_begin(r) && bz->state == BZ_REGISTERING) {
		bz->reg_busy = 0;
		if (!err) {
			registered(bz);
		} else if (err == BROOK_ERR__EXISTS || err == BROOK_ERR__CONNECTION_LOSS) {
			/* Whose is it? After a loss it may be our own create. */
			check_registration(bz);
		} else if (err == BROOK_ERR__NOENT && r->attempt < WRITE_ATTEMPTS) {
			/* Someone removed /brokers/ids: put it back. */
			bz_req_t *m = req_new(bz, OP_PATH, NULL, 0);

			if (!m) {
				fatal(bz, BROOK_ERR__NOMEM, "out of memory");
			} else {
				bz->reg_busy = 1;
				if (req_submitted(m, zk_create_path(bz->zk, ZK_PATH_BROKER_IDS,
								    on_ids_path, m)))
					bz->reg_busy = 0;
			}
		} else if (err != BROOK_ERR__SESSION_EXPIRED) {
			fatal(bz, err, "cannot register %s: %s", bz->reg_path, brook_err_str(err));
		}
	}
	req_end(r, err);
}

static void do_register(broker_zk_t *bz)
{
	char *json = NULL;
	bz_req_t *r;
	brook_err_t err;

	if (bz->reg_busy || bz->state != BZ_REGISTERING)
		return;
	bz->reg.timestamp_ms = now_ms();
	if ((err = zk_json_broker_encode(&bz->reg, &json))) {
		fatal(bz, err, "cannot encode the registration: %s", brook_err_str(err));
		return;
	}
	if (!(r = req_new(bz, OP_REGISTER, NULL, 0))) {
		free(json);
		fatal(bz, BROOK_ERR__NOMEM, "out of memory");
		return;
	}
	r->attempt = ++bz->reg_attempts;
	bz->reg_busy = 1;
	err = req_submitted(r, zk_create(bz->zk, bz->reg_path, json, strlen(json), ZK_EPHEMERAL,
					 on_registered_create, r));
	free(json);
	if (err) {
		bz->reg_busy = 0;
		if (err == BROOK_ERR__CONNECTION_LOSS)
			check_registration(bz);
		else if (err != BROOK_ERR__SESSION_EXPIRED)
			fatal(bz, err, "cannot register %s: %s", bz->reg_path, brook_err_str(err));
	}
}

/* --- the view: children lists ------------------------------------------------------ */

static void read_broker_ids(broker_zk_t *bz);
static void read_topics(broker_zk_t *bz);

static void broker_left(broker_zk_t *bz, int32_t id)
{
	tbroker_remove(bz, id);
	if (metadata_remove_broker(bz->md, id)) {
		blog(BLOG_INFO, SUBSYS, "broker %d left", (int)id);
		changed(bz);
	}
}

static void topic_gone(broker_zk_t *bz, const char *name)
{
	ttopic_remove(bz, name);
	if (metadata_remove_topic(bz->md, name)) {
		blog(BLOG_INFO, SUBSYS, "topic %s deleted", name);
		changed(bz);
	}
}

static void on_broker_ids_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)event;
	(void)path;
	if (watch_begin(r)) {
		bz->brokers_watch = 0;
		read_broker_ids(bz);
	}
	watch_end(r);
}

static void on_broker_ids(zk_session_t *s, brook_err_t err, const char *const *names, size_t count,
			  const zk_stat_t *stat, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;
	int self = 0;

	(void)s;
	(void)stat;
	if (!req_begin(r))
		goto out;
	if (err) {
		bz->brokers_watch = 0;
		read_failed(bz, ZK_PATH_BROKER_IDS, err);
		goto out;
	}
	for (size_t i = 0; i < bz->nbrokers; i++)
		bz->brokers[i].seen = 0;
	for (size_t i = 0; i < count; i++) {
		bz_broker_t *b;
		int32_t id;

		if (zk_path_parse_id(names[i], &id)) {
			blog(BLOG_DEBUG, SUBSYS, "%s: ignoring child %s", ZK_PATH_BROKER_IDS, names[i]);
			continue;
		}
		if (!(b = tbroker_add(bz, id))) {
			read_failed(bz, ZK_PATH_BROKER_IDS, BROOK_ERR__NOMEM);
			continue;
		}
		b->seen = 1;
		self |= id == bz->id;
	}
	for (size_t i = bz->nbrokers; i-- > 0;)
		if (!bz->brokers[i].seen)
			broker_left(bz, bz->brokers[i].id);
	for (size_t i = 0; i < bz->nbrokers; i++)
		if (!bz->brokers[i].watch)
			node_read(bz, NODE_BROKER, NULL, bz->brokers[i].id);
	if (!self && bz->state == BZ_REGISTERED && !bz->reg_busy) {
		/* Deleted by hand (zkCli.sh) while our session lives on. */
		blog(BLOG_WARN, SUBSYS, "%s disappeared; registering again", bz->reg_path);
		bz->registered = 0;
		set_state(bz, BZ_REGISTERING);
		do_register(bz);
	}
out:
	req_end(r, err);
}

static void read_broker_ids(broker_zk_t *bz)
{
	bz_req_t *r;

	if (bz->brokers_watch || !(r = req_new(bz, OP_BROKER_IDS, NULL, 0)))
		return;
	r->view = 1;
	r->has_watch = 1;
	bz->brokers_watch = 1;
	if (req_submitted(r, zk_get_children(bz->zk, ZK_PATH_BROKER_IDS, on_broker_ids_watch,
					     on_broker_ids, r)))
		bz->brokers_watch = 0;
}

static void on_topics_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)event;
	(void)path;
	if (watch_begin(r)) {
		bz->topics_watch = 0;
		read_topics(bz);
	}
	watch_end(r);
}

static void on_topics(zk_session_t *s, brook_err_t err, const char *const *names, size_t count,
		      const zk_stat_t *stat, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)stat;
	if (!req_begin(r))
		goto out;
	if (err) {
		bz->topics_watch = 0;
		read_failed(bz, ZK_PATH_TOPICS, err);
		goto out;
	}
	for (size_t i = 0; i < bz->ntopics; i++)
		bz->topics[i]->seen = 0;
	for (size_t i = 0; i < count; i++) {
		bz_topic_t *t;

		if (zk_topic_validate(names[i], NULL, 0)) {
			blog(BLOG_WARN, SUBSYS, "%s: ignoring %s: not a valid topic name",
			     ZK_PATH_TOPICS, names[i]);
			continue;
		}
		if (!(t = ttopic_add(bz, names[i]))) {
			read_failed(bz, ZK_PATH_TOPICS, BROOK_ERR__NOMEM);
			continue;
		}
		t->seen = 1;
	}
	for (size_t i = bz->ntopics; i-- > 0;) {
		if (!bz->topics[i]->seen) {
			char name[ZK_TOPIC_MAX + 1];

			snprintf(name, sizeof(name), "%s", bz->topics[i]->name);
			topic_gone(bz, name);
		}
	}
	for (size_t i = 0; i < bz->ntopics; i++)
		if (!bz->topics[i]->watch)
			node_read(bz, NODE_TOPIC, bz->topics[i]->name, 0);
out:
	req_end(r, err);
}

static void read_topics(broker_zk_t *bz)
{
	bz_req_t *r;

	if (bz->topics_watch || !(r = req_new(bz, OP_TOPICS, NULL, 0)))
		return;
	r->view = 1;
	r->has_watch = 1;
	bz->topics_watch = 1;
	if (req_submitted(r, zk_get_children(bz->zk, ZK_PATH_TOPICS, on_topics_watch, on_topics, r)))
		bz->topics_watch = 0;
}

/* --- the view: watched data nodes ------------------------------------------------- */

/* The flag of a watched node, or NULL when the node is no longer tracked
 * (its broker left, its topic went or shrank). */
static unsigned char *node_flag(broker_zk_t *bz, node_kind_t kind, const char *topic, int32_t num)
{
	bz_broker_t *b;
	bz_topic_t *t;

	switch (kind) {
	case NODE_BROKER:
		b = tbroker_find(bz, num);
		return b ? &b->watch : NULL;
	case NODE_TOPIC:
		t = ttopic_find(bz, topic);
		return t ? &t->watch : NULL;
	case NODE_STATE:
		t = ttopic_find(bz, topic);
		return t && num >= 0 && num < t->nparts ? &t->state_watch[num] : NULL;
	case NODE_CONFIG:
		t = ttopic_find(bz, topic);
		return t ? &t->config_watch : NULL;
	case NODE_CONTROLLER:
		break;
	}
	return NULL;
}

/* Flag get/set that also covers /controller (an int in the struct). */
static int flag_get(broker_zk_t *bz, node_kind_t kind, const char *topic, int32_t num, int *tracked)
{
	unsigned char *f;

	if (kind == NODE_CONTROLLER) {
		*tracked = 1;
		return bz->controller_watch;
	}
	f = node_flag(bz, kind, topic, num);
	*tracked = f != NULL;
	return f ? *f : 0;
}

static void flag_set(broker_zk_t *bz, node_kind_t kind, const char *topic, int32_t num, int v)
{
	unsigned char *f;

	if (kind == NODE_CONTROLLER) {
		bz->controller_watch = v;
		return;
	}
	if ((f = node_flag(bz, kind, topic, num)))
		*f = (unsigned char)v;
}

static brook_err_t node_path(node_kind_t kind, const char *topic, int32_t num, char *buf,
			     size_t size)
{
	switch (kind) {
	case NODE_BROKER:
		return zk_path_broker(buf, size, num);
	case NODE_TOPIC:
		return zk_path_topic(buf, size, topic);
	case NODE_STATE:
		return zk_path_partition_state(buf, size, topic, num);
	case NODE_CONTROLLER:
		snprintf(buf, size, "%s", ZK_PATH_CONTROLLER);
		return BROOK_ERR_NO_ERROR;
	case NODE_CONFIG:
		return zk_path_topic_config(buf, size, topic);
	}
	return BROOK_ERR__INVALID_ARG;
}

/* Where a missing node's creation must be noticed: a partition state
 * (written later by the controller or a claim), /controller and a topic
 * config (added by an alter after the topic was created without one).
 * Brokers and topics appear through their parent's child watch. */
static int watch_creation(node_kind_t kind)
{
	return kind == NODE_STATE || kind == NODE_CONTROLLER || kind == NODE_CONFIG;
}

static void endpoint_of(const zk_broker_reg_t *reg, md_broker_t *b)
{
	const zk_endpoint_t *ep = NULL;

	for (int i = 0; i < reg->endpoint_cnt; i++) {
		if (strcmp(reg->endpoints[i].listener, "BROOK") == 0) {
			ep = &reg->endpoints[i];
			break;
		}
	}
	if (!ep && reg->endpoint_cnt > 0)
		ep = &reg->endpoints[0];
	snprintf(b->host, sizeof(b->host), "%s", ep ? ep->host : reg->host);
	b->port = ep ? ep->port : reg->port;
}

static void apply_broker(broker_zk_t *bz, int32_t id, const char *data, size_t len, int present)
{
	zk_broker_reg_t reg;
	md_broker_t b;
	char errstr[256];
	int was, diff = 0;

	if (!present) {
		broker_left(bz, id);
		return;
	}
	if (zk_json_broker_decode(data, len, &reg, errstr, sizeof(errstr))) {
		blog(BLOG_WARN, SUBSYS, "%s/%d: %s; treating the broker as down", ZK_PATH_BROKER_IDS,
		     (int)id, errstr);
		if (metadata_remove_broker(bz->md, id))
			changed(bz);
		return;
	}
	memset(&b, 0, sizeof(b));
	b.id = id;
	endpoint_of(&reg, &b);
	b.has_rack = reg.has_rack;
	if (reg.has_rack)
		snprintf(b.rack, sizeof(b.rack), "%s", reg.rack);
	was = metadata_broker_alive(bz->md, id);
	if (metadata_set_broker(bz->md, &b, &diff)) {
		read_failed(bz, ZK_PATH_BROKER_IDS, BROOK_ERR__NOMEM);
		return;
	}
	if (diff) {
		blog(BLOG_INFO, SUBSYS, "broker %d %s at %s:%d%s%s", (int)id,
		     was ? "moved" : "is up", b.host, (int)b.port, b.has_rack ? " rack " : "",
		     b.has_rack ? b.rack : "");
		changed(bz);
	}
}

static void apply_topic(broker_zk_t *bz, const char *name, const char *data, size_t len,
			int present)
{
	zk_topic_assignment_t *a = NULL;
	const md_topic_t *old;
	bz_topic_t *t;
	int32_t before;
	char errstr[256];
	int diff = 0;
	brook_err_t err;

	if (!present) {
		topic_gone(bz, name);
		return;
	}
	if (!(t = ttopic_find(bz, name)))
		return;
	if (zk_json_topic_assignment_decode(data, len, &a, errstr, sizeof(errstr))) {
		blog(BLOG_WARN, SUBSYS, "%s/%s: %s; keeping what we knew", ZK_PATH_TOPICS, name,
		     errstr);
		return;
	}
	old = metadata_topic(bz->md, name);
	before = old ? old->npartitions : -1;
	if ((err = ttopic_resize(t, a->partition_cnt)) ||
	    (err = metadata_set_topic(bz->md, name, a, &diff))) {
		zk_topic_assignment_free(a);
		read_failed(bz, name, err);
		return;
	}
	if (before < 0)
		blog(BLOG_INFO, SUBSYS, "topic %s: %d partitions", name, (int)a->partition_cnt);
	else if (before != a->partition_cnt)
		blog(BLOG_INFO, SUBSYS, "topic %s: %d -> %d partitions", name, (int)before,
		     (int)a->partition_cnt);
	else if (diff)
		blog(BLOG_INFO, SUBSYS, "topic %s: replicas reassigned", name);
	zk_topic_assignment_free(a);
	if (diff)
		changed(bz);
	/* The config before the states: see the top of the file. */
	if (!t->config_watch && live(bz))
		node_read(bz, NODE_CONFIG, name, 0);
	for (int32_t p = 0; p < t->nparts && live(bz); p++)
		if (!t->state_watch[p])
			node_read(bz, NODE_STATE, name, p);
}

/* "k=v, k=v" for a log line; truncated with "..." past the buffer. */
static void config_str(const zk_topic_config_t *c, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; c && i < c->cnt; i++) {
		int n = snprintf(buf + off, size - off, "%s%s=%s", i ? ", " : "",
				 c->entries[i].name, c->entries[i].value);

		if (n < 0 || (size_t)n >= size - off) {
			if (size > 4)
				snprintf(buf + size - 4, 4, "...");
			return;
		}
		off += (size_t)n;
	}
}

/* /config/topics/<t> was read: NULL data (present 0) means no overrides.
 * Only the syntax is checked here; the values are the broker's to judge
 * against its defaults when it applies them (broker.c), where a bad one
 * costs only its own key. */
static void apply_config(broker_zk_t *bz, const char *name, const char *data, size_t len,
			 int present)
{
	zk_topic_config_t *c = NULL;
	const md_topic_t *t = metadata_topic(bz->md, name);
	char errstr[256], desc[512];
	int diff = 0, had;
	brook_err_t err;

	/* Cannot happen: the read is issued once the assignment is in the
	 * view, and topic_gone() forgets both together (the read's flag
	 * with them, so its completion is dropped before this). */
	if (!t)
		return;
	if (present && zk_json_topic_config_decode(data, len, &c, errstr, sizeof(errstr))) {
		/* What we knew still stands; never known: the topic must not
		 * wait for a fixed znode to be served at all, so the broker's
		 * defaults apply. */
		blog(BLOG_WARN, SUBSYS, "%s/%s: %s; %s", ZK_PATH_CONFIG_TOPICS, name, errstr,
		     t->config_known ? "keeping the overrides we knew" : "using the broker's defaults");
		if (t->config_known)
			return;
		c = NULL;
	}
	had = t->config != NULL;
	err = metadata_set_topic_config(bz->md, name, c, &diff);
	if (err) {
		zk_topic_config_free(c);
		read_failed(bz, name, err);
		return;
	}
	if (diff) {
		/* Most topics have none: that is only news when it changed. */
		config_str(c, desc, sizeof(desc));
		if (desc[0])
			blog(BLOG_INFO, SUBSYS, "topic %s: config overrides %s", name, desc);
		else
			blog(had ? BLOG_INFO : BLOG_DEBUG, SUBSYS, "topic %s: no config overrides",
			     name);
		changed(bz);
	}
	zk_topic_config_free(c);
}

static void apply_state(broker_zk_t *bz, const char *topic, int32_t p, const char *data,
			size_t len, const zk_stat_t *stat, int present)
{
	zk_partition_state_t st;
	char errstr[256];
	int diff = 0;

	if (!present) {
		if (metadata_clear_partition_state(bz->md, topic, p)) {
			blog(BLOG_INFO, SUBSYS, "%s-%d: state znode gone", topic, (int)p);
			changed(bz);
		}
		return;
	}
	if (zk_json_partition_state_decode(data, len, &st, errstr, sizeof(errstr))) {
		blog(BLOG_WARN, SUBSYS, "%s-%d state: %s; keeping what we knew", topic, (int)p,
		     errstr);
		return;
	}
	if (metadata_set_partition_state(bz->md, topic, p, &st, stat->version, &diff) ==
	    BROOK_ERR__NOMEM) {
		read_failed(bz, topic, BROOK_ERR__NOMEM);
		return;
	}
	if (diff) {
		blog(BLOG_INFO, SUBSYS, "%s-%d: leader %d, leader epoch %d, isr of %d (zk version %d)",
		     topic, (int)p, (int)st.leader, (int)st.leader_epoch, (int)st.isr_cnt,
		     (int)stat->version);
		changed(bz);
	}
}

static void apply_controller(broker_zk_t *bz, const char *data, size_t len, int present)
{
	zk_controller_t c;
	char errstr[256];
	int32_t id = -1;

	if (present) {
		if (zk_json_controller_decode(data, len, &c, errstr, sizeof(errstr)))
			blog(BLOG_WARN, SUBSYS, "%s: %s; no controller", ZK_PATH_CONTROLLER, errstr);
		else
			id = c.broker_id;
	}
	if (metadata_set_controller(bz->md, id)) {
		if (id >= 0)
			blog(BLOG_INFO, SUBSYS, "controller is broker %d", (int)id);
		else
			blog(BLOG_INFO, SUBSYS, "no controller");
		changed(bz);
	}
}

static void node_apply(broker_zk_t *bz, node_kind_t kind, const char *topic, int32_t num,
		       const char *data, size_t len, const zk_stat_t *stat)
{
	int present = stat != NULL;

	switch (kind) {
	case NODE_BROKER:
		apply_broker(bz, num, data, len, present);
		break;
	case NODE_TOPIC:
		apply_topic(bz, topic, data, len, present);
		break;
	case NODE_STATE:
		apply_state(bz, topic, num, data, len, stat, present);
		break;
	case NODE_CONTROLLER:
		apply_controller(bz, data, len, present);
		break;
	case NODE_CONFIG:
		apply_config(bz, topic, data, len, present);
		break;
	}
}

/* A node's watch fired: whatever happened (created, changed, deleted),
 * read it again and re-arm. */
static void node_watch_fired(bz_req_t *r)
{
	broker_zk_t *bz = r->bz;
	int tracked;

	if (watch_begin(r)) {
		flag_get(bz, r->kind, r->topic, r->num, &tracked);
		if (tracked) {
			flag_set(bz, r->kind, r->topic, r->num, 0);
			node_read(bz, r->kind, r->topic, r->num);
		}
	}
	watch_end(r);
}

static void on_broker_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	(void)s;
	(void)event;
	(void)path;
	node_watch_fired(opaque);
}

static void on_topic_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	(void)s;
	(void)event;
	(void)path;
	node_watch_fired(opaque);
}

static void on_state_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	(void)s;
	(void)event;
	(void)path;
	node_watch_fired(opaque);
}

static void on_controller_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	(void)s;
	(void)event;
	(void)path;
	node_watch_fired(opaque);
}

static void on_config_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	(void)s;
	(void)event;
	(void)path;
	node_watch_fired(opaque);
}

static zk_watch_cb *const node_watchers[] = {
	[NODE_BROKER] = on_broker_watch,
	[NODE_TOPIC] = on_topic_watch,
	[NODE_STATE] = on_state_watch,
	[NODE_CONTROLLER] = on_controller_watch,
	[NODE_CONFIG] = on_config_watch,
};

static void on_node_data(zk_session_t *s, brook_err_t err, const char *data, size_t len,
			 const zk_stat_t *stat, void *opaque);
static void on_node_exists(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque);

/* Issues one step of a watched read; the flag is the caller's business. */
static brook_err_t node_issue(broker_zk_t *bz, bz_op_t op, node_kind_t kind, const char *topic,
			      int32_t num)
{
	char path[ZK_PATH_MAX];
	bz_req_t *r;
	brook_err_t err;

	if ((err = node_path(kind, topic, num, path, sizeof(path))))
		return err;
	if (!(r = req_new(bz, op, topic, num)))
		return BROOK_ERR__NOMEM;
	r->kind = kind;
	r->view = 1;
	r->has_watch = op != OP_NODE_GET2;
	switch (op) {
	case OP_NODE_GET:
		err = zk_get(bz->zk, path, node_watchers[kind], on_node_data, r);
		break;
	case OP_NODE_EXISTS:
		err = zk_exists(bz->zk, path, node_watchers[kind], on_node_exists, r);
		break;
	default:
		err = zk_get(bz->zk, path, NULL, on_node_data, r);
		break;
	}
	return req_submitted(r, err);
}

/* Reads a node and leaves a watch on it, unless one is armed already. */
static void node_read(broker_zk_t *bz, node_kind_t kind, const char *topic, int32_t num)
{
	brook_err_t err;
	int tracked;

	if (flag_get(bz, kind, topic, num, &tracked) || !tracked)
		return;
	flag_set(bz, kind, topic, num, 1);
	if ((err = node_issue(bz, OP_NODE_GET, kind, topic, num))) {
		flag_set(bz, kind, topic, num, 0);
		read_failed(bz, topic ? topic : "a znode", err);
	}
}

static void node_failed(broker_zk_t *bz, const bz_req_t *r, brook_err_t err)
{
	char path[ZK_PATH_MAX];

	flag_set(bz, r->kind, r->topic, r->num, 0);
	if (node_path(r->kind, r->topic, r->num, path, sizeof(path)))
		snprintf(path, sizeof(path), "a znode");
	read_failed(bz, path, err);
}

static void on_node_data(zk_session_t *s, brook_err_t err, const char *data, size_t len,
			 const zk_stat_t *stat, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;
	int tracked;

	(void)s;
	if (!req_begin(r))
		goto out;
	flag_get(bz, r->kind, r->topic, r->num, &tracked);
	if (!tracked)
		goto out;   /* forgotten meanwhile (broker left, topic gone) */
	if (!err) {
		node_apply(bz, r->kind, r->topic, r->num, data, len, stat);
	} else if (err == BROOK_ERR__NOENT) {
		if (r->op == OP_NODE_GET && watch_creation(r->kind)) {
			brook_err_t e2 = node_issue(bz, OP_NODE_EXISTS, r->kind, r->topic, r->num);

			if (e2)
				node_failed(bz, r, e2);
		} else if (r->op == OP_NODE_GET) {
			flag_set(bz, r->kind, r->topic, r->num, 0);   /* no watch left */
		}
		/* OP_NODE_GET2: the exists watch stays armed. */
		node_apply(bz, r->kind, r->topic, r->num, NULL, 0, NULL);
	} else {
		node_failed(bz, r, err);
	}
out:
	req_end(r, err);
}

static void on_node_exists(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;
	int tracked;

	(void)s;
	(void)stat;
	if (!req_begin(r))
		goto out;
	flag_get(bz, r->kind, r->topic, r->num, &tracked);
	if (!tracked)
		goto out;
	if (err == BROOK_ERR__NOENT) {
		node_apply(bz, r->kind, r->topic, r->num, NULL, 0, NULL);
	} else if (!err) {
		/* Created between our get and this exists; the watch is armed,
		 * so fetch the data without another one. */
		brook_err_t e2 = node_issue(bz, OP_NODE_GET2, r->kind, r->topic, r->num);

		if (e2)
			node_failed(bz, r, e2);
	} else {
		node_failed(bz, r, err);
	}
out:
	req_end(r, err);
}

/* Reads whatever has no watch armed: everything after a new session, the
 * failed reads otherwise. */
static void resync(broker_zk_t *bz)
{
	read_broker_ids(bz);
	read_topics(bz);
	node_read(bz, NODE_CONTROLLER, NULL, 0);
	for (size_t i = 0; i < bz->nbrokers && live(bz); i++)
		if (!bz->brokers[i].watch)
			node_read(bz, NODE_BROKER, NULL, bz->brokers[i].id);
	for (size_t i = 0; i < bz->ntopics && live(bz); i++) {
		bz_topic_t *t = bz->topics[i];

		if (!t->watch)
			node_read(bz, NODE_TOPIC, t->name, 0);
		/* Without its assignment in the view, apply_topic reads it. */
		if (!t->config_watch && metadata_topic(bz->md, t->name))
			node_read(bz, NODE_CONFIG, t->name, 0);
		for (int32_t p = 0; p < t->nparts; p++)
			if (!t->state_watch[p])
				node_read(bz, NODE_STATE, t->name, p);
	}
}

static void load(broker_zk_t *bz)
{
	set_state(bz, BZ_LOADING);
	bz->reg_deadline = 0;
	resync(bz);
	if (live(bz) && bz->state == BZ_LOADING && bz->loading == 0) {
		/* Nothing could be sent (the reads retry later). */
		set_state(bz, BZ_REGISTERING);
		do_register(bz);
	}
}

/* --- claiming a partition ---------------------------------------------------------- */

static void claim_step(broker_zk_t *bz, const char *topic, int32_t p, int step, int attempt);

static void claim_done(broker_zk_t *bz, const char *topic, int32_t p)
{
	bz_topic_t *t = ttopic_find(bz, topic);

	if (t && p < t->nparts)
		t->claiming[p] = 0;
}

/* The chain's znodes: 0 .../partitions, 1 .../partitions/<p>, 2 .../state. */
static brook_err_t claim_path(const char *topic, int32_t p, int step, char *buf, size_t size)
{
	if (step == 0)
		return zk_path_partitions(buf, size, topic);
	if (step == 1)
		return zk_path_partition(buf, size, topic, p);
	return zk_path_partition_state(buf, size, topic, p);
}

static void on_claim_checked(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)stat;
	if (!req_begin(r))
		goto out;
	if (!err && r->step < 2)
		claim_step(bz, r->topic, r->num, r->step + 1, 0);
	else if (err == BROOK_ERR__NOENT && r->attempt < WRITE_ATTEMPTS)
		claim_step(bz, r->topic, r->num, r->step, r->attempt + 1);
	else if (err == BROOK_ERR__CONNECTION_LOSS && r->attempt < WRITE_ATTEMPTS)
		claim_step(bz, r->topic, r->num, r->step, r->attempt + 1);
	else
		claim_done(bz, r->topic, r->num);   /* state exists (watch tells), or gave up */
out:
	req_end(r, err);
}

static brook_err_t claim_check(broker_zk_t *bz, const bz_req_t *r)
{
	char path[ZK_PATH_MAX];
	bz_req_t *c;
	brook_err_t err;

	if ((err = claim_path(r->topic, r->num, r->step, path, sizeof(path))))
		return err;
	if (!(c = req_new(bz, OP_CLAIM_CHECK, r->topic, r->num)))
		return BROOK_ERR__NOMEM;
	c->step = r->step;
	c->attempt = r->attempt;
	return req_submitted(c, zk_exists(bz->zk, path, NULL, on_claim_checked, c));
}

static void on_claim_created(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	(void)path;
	if (!req_begin(r))
		goto out;
	if (!err || err == BROOK_ERR__EXISTS) {
		if (r->step < 2) {
			claim_step(bz, r->topic, r->num, r->step + 1, 0);
		} else {
			if (!err)
				blog(BLOG_INFO, SUBSYS, "claimed %s-%d: leader %d, leader epoch 0",
				     r->topic, (int)r->num, (int)bz->id);
			else
				blog(BLOG_DEBUG, SUBSYS, "%s-%d: state written by someone else",
				     r->topic, (int)r->num);
			/* The state's exists watch brings it into the view. */
			claim_done(bz, r->topic, r->num);
		}
	} else if (err == BROOK_ERR__CONNECTION_LOSS) {
		/* Applied or not? A read waits for the connection and tells. */
		if (claim_check(bz, r))
			claim_done(bz, r->topic, r->num);
	} else {
		/* NOENT: the topic is being deleted; otherwise a server error.
		 * Either way the next on_metadata decides again. */
		if (err != BROOK_ERR__SESSION_EXPIRED && err != BROOK_ERR__CLOSED)
			blog(BLOG_WARN, SUBSYS, "claiming %s-%d: %s", r->topic, (int)r->num,
			     brook_err_str(err));
		claim_done(bz, r->topic, r->num);
	}
out:
	req_end(r, err);
}

static void claim_step(broker_zk_t *bz, const char *topic, int32_t p, int step, int attempt)
{
	char path[ZK_PATH_MAX], *json = NULL;
	bz_req_t *r;
	brook_err_t err;

	if ((err = claim_path(topic, p, step, path, sizeof(path))))
		goto fail;
	if (step == 2) {
		zk_partition_state_t st;

		memset(&st, 0, sizeof(st));
		st.version = 1;
		st.controller_epoch = 0;
		st.leader = bz->id;
		st.leader_epoch = 0;
		st.isr_cnt = 1;
		st.isr[0] = bz->id;
		if ((err = zk_json_partition_state_encode(&st, &json)))
			goto fail;
	}
	if (!(r = req_new(bz, OP_CLAIM_CREATE, topic, p))) {
		err = BROOK_ERR__NOMEM;
		goto fail;
	}
	r->step = step;
	r->attempt = attempt;
	err = req_submitted(r, zk_create(bz->zk, path, json, json ? strlen(json) : 0, ZK_PERSISTENT,
					 on_claim_created, r));
	free(json);
	if (!err)
		return;
fail:
	if (err != BROOK_ERR__SESSION_EXPIRED && err != BROOK_ERR__CONNECTION_LOSS)
		blog(BLOG_WARN, SUBSYS, "claiming %s-%d: %s", topic, (int)p, brook_err_str(err));
	claim_done(bz, topic, p);
}

brook_err_t broker_zk_claim_partition(broker_zk_t *bz, const char *topic, int32_t partition)
{
	const md_partition_t *mp;
	bz_topic_t *t;

	if (!bz || !topic)
		return BROOK_ERR__INVALID_ARG;
	if (!live(bz) || !bz->session_ok || !bz->registered)
		return BROOK_ERR__STATE;
	mp = metadata_partition(bz->md, topic, partition);
	t = ttopic_find(bz, topic);
	if (!mp || !t || partition >= t->nparts)
		return BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (mp->has_state || t->claiming[partition])
		return BROOK_ERR_NO_ERROR;
	t->claiming[partition] = 1;
	enter(bz);
	claim_step(bz, topic, partition, 0, 0);
	leave(bz);
	return BROOK_ERR_NO_ERROR;
}

/* --- the session ------------------------------------------------------------------ */

static void on_connected(zk_session_t *s, const char *server, void *opaque)
{
	(void)s;
	(void)opaque;
	blog(BLOG_INFO, SUBSYS, "connected to ZooKeeper server %s", server);
}

static void on_disconnected(zk_session_t *s, void *opaque)
{
	broker_zk_t *bz = opaque;

	(void)s;
	if (live(bz))
		blog(BLOG_WARN, SUBSYS,
		     "lost the connection to ZooKeeper (session 0x%llx); serving from the cached view",
		     session_hex(bz));
}

static void on_expired(zk_session_t *s, void *opaque)
{
	broker_zk_t *bz = opaque;

	(void)s;
	enter(bz);
	/* The session dropped the old watches without calling them. */
	watch_ctxs_free(bz);
	bz->session_ok = 0;
	if (live(bz)) {
		blog(BLOG_WARN, SUBSYS,
		     "ZooKeeper session expired: our registration and watches are gone; opening "
		     "a new session");
		bz->registered = 0;
		bz->reg_busy = 0;
		ev_timer_stop(bz->loop, &bz->reg_timer);
		ev_timer_stop(bz->loop, &bz->resync_timer);
		if (bz->state >= BZ_LOADING)
			set_state(bz, BZ_EXPIRED);
	}
	leave(bz);
}

static void on_established(zk_session_t *s, int is_new, void *opaque)
{
	broker_zk_t *bz = opaque;

	enter(bz);
	if (!live(bz) || !is_new) {
		if (live(bz))
			blog(BLOG_INFO, SUBSYS, "reconnected; session 0x%llx is intact",
			     (unsigned long long)zk_session_id(s));
		goto out;
	}
	ev_timer_stop(bz->loop, &bz->conn_timer);
	bz->gen++;
	bz->session_ok = 1;
	bz->loading = 0;
	bz->registered = 0;
	bz->reg_deadline = 0;
	ev_timer_stop(bz->loop, &bz->reg_timer);
	clear_watch_flags(bz);
	blog(BLOG_INFO, SUBSYS, "session 0x%llx established (timeout %d ms)",
	     (unsigned long long)zk_session_id(s), zk_session_timeout(s));
	if (!bz->meta_checked)
		prepare(bz);        /* first session, or expired during startup */
	else
		load(bz);
out:
	leave(bz);
}

static const zk_session_callbacks_t session_cbs = {
	.on_connected = on_connected,
	.on_disconnected = on_disconnected,
	.on_session_expired = on_expired,
	.on_session_established = on_established,
};

static brook_err_t open_main_session(broker_zk_t *bz)
{
	char errstr[512];
	brook_err_t err;

	set_state(bz, BZ_CONNECTING);
	err = zk_session_new(bz->loop, bz->connect, bz->session_timeout_ms, &session_cbs, bz,
			     &bz->zk, errstr, sizeof(errstr));
	if (err)
		blog(BLOG_ERROR, SUBSYS, "%s", errstr);
	return err;
}

/* The chroot: Kafka creates it with a session outside it, then connects
 * inside. */
static void create_chroot(broker_zk_t *bz);

static void on_chroot_created(zk_session_t *s, brook_err_t err, void *opaque)
{
	bz_req_t *r = opaque;
	broker_zk_t *bz = r->bz;

	(void)s;
	if (!req_begin(r) || bz->state != BZ_CHROOT)
		goto out;
	if (err == BROOK_ERR__CONNECTION_LOSS) {
		create_chroot(bz);
	} else if (err == BROOK_ERR__SESSION_EXPIRED) {
		/* on_root_established(is_new) asks again. */
	} else if (err) {
		fatal(bz, err, "cannot create the chroot %s: %s", bz->chroot, brook_err_str(err));
	} else {
		zk_session_free(bz->root_zk);   /* completes after this callback */
		bz->root_zk = NULL;
		if ((err = open_main_session(bz)))
			fatal(bz, err, "cannot open a ZooKeeper session to %s", bz->connect);
	}
out:
	req_end(r, err);
}

static void create_chroot(broker_zk_t *bz)
{
	bz_req_t *r = req_new(bz, OP_CHROOT, NULL, 0);
	brook_err_t err;

	if (!r) {
		fatal(bz, BROOK_ERR__NOMEM, "out of memory");
		return;
	}
	err = req_submitted(r, zk_create_path(bz->root_zk, bz->chroot, on_chroot_created, r));
	if (err && err != BROOK_ERR__SESSION_EXPIRED)
		fatal(bz, err, "cannot create the chroot %s: %s", bz->chroot, brook_err_str(err));
}

static void on_root_established(zk_session_t *s, int is_new, void *opaque)
{
	broker_zk_t *bz = opaque;

	(void)s;
	enter(bz);
	/* A reconnect of the same session still has the request in flight. */
	if (live(bz) && is_new && bz->state == BZ_CHROOT)
		create_chroot(bz);
	leave(bz);
}

static const zk_session_callbacks_t root_cbs = {
	.on_session_established = on_root_established,
};

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	broker_zk_t *bz = w->data;

	(void)loop;
	(void)revents;
	enter(bz);
	fatal(bz, BROOK_ERR__TIMED_OUT, "could not connect to ZooKeeper at %s within %d ms",
	      bz->connect, bz->connection_timeout_ms);
	leave(bz);
}

/* --- lifecycle ---------------------------------------------------------------------- */

static void destroy(broker_zk_t *bz)
{
	watch_ctxs_free(bz);
	for (int i = 0; i < bz->nlog_dirs; i++)
		free(bz->log_dirs[i]);
	free(bz->log_dirs);
	for (size_t i = 0; i < bz->ntopics; i++)
		ttopic_free(bz->topics[i]);
	free(bz->topics);
	free(bz->brokers);
	metadata_free(bz->md);
	free(bz->connect);
	free(bz->hosts);
	free(bz->chroot);
	free(bz);
}

brook_err_t broker_zk_new(struct ev_loop *loop, const char *connect, int session_timeout_ms,
			  int connection_timeout_ms, int32_t broker_id,
			  const char *const *log_dirs, int nlog_dirs,
			  const zk_endpoint_t *endpoints, int nendpoints, const char *rack,
			  const broker_zk_callbacks_t *cb, void *opaque, broker_zk_t **out,
			  char *errstr, size_t errstr_size)
{
	broker_zk_t *bz;
	const zk_endpoint_t *ep;
	const char *slash;
	char *json = NULL;
	size_t off = 0;
	brook_err_t err;

	if (out)
		*out = NULL;
	if (!loop || !out || !connect || !*connect) {
		brook_errstr(errstr, errstr_size, "zookeeper.connect: must not be empty");
		return BROOK_ERR__INVALID_ARG;
	}
	if (session_timeout_ms <= 0 || connection_timeout_ms <= 0) {
		brook_errstr(errstr, errstr_size, "ZooKeeper timeouts must be positive");
		return BROOK_ERR__INVALID_ARG;
	}
	if (broker_id < 0) {
		brook_errstr(errstr, errstr_size, "broker.id: must be >= 0");
		return BROOK_ERR__INVALID_ARG;
	}
	if (nlog_dirs < 0 || (nlog_dirs && !log_dirs)) {
		brook_errstr(errstr, errstr_size, "log.dirs: bad list");
		return BROOK_ERR__INVALID_ARG;
	}
	if (nendpoints < 1 || nendpoints > ZK_BROKER_MAX_ENDPOINTS || !endpoints) {
		brook_errstr(errstr, errstr_size, "listeners: between 1 and %d endpoints needed",
			     ZK_BROKER_MAX_ENDPOINTS);
		return BROOK_ERR__INVALID_ARG;
	}
	if (rack && strlen(rack) > ZK_RACK_MAX) {
		brook_errstr(errstr, errstr_size, "broker.rack: longer than %d bytes", ZK_RACK_MAX);
		return BROOK_ERR__INVALID_ARG;
	}
	if (!(bz = calloc(1, sizeof(*bz))))
		return BROOK_ERR__NOMEM;
	bz->loop = loop;
	bz->session_timeout_ms = session_timeout_ms;
	bz->connection_timeout_ms = connection_timeout_ms;
	bz->id = broker_id;
	if (cb)
		bz->cb = *cb;
	bz->opaque = opaque;
	if (!(bz->md = metadata_new()) || !(bz->connect = strdup(connect)))
		goto nomem;
	/* The chroot starts at the first '/', as in the C client. */
	if ((slash = strchr(connect, '/')) && slash[1]) {
		if (!(bz->chroot = strdup(slash)) ||
		    !(bz->hosts = strndup(connect, (size_t)(slash - connect))))
			goto nomem;
	}
	if (nlog_dirs) {
		if (!(bz->log_dirs = calloc((size_t)nlog_dirs, sizeof(*bz->log_dirs))))
			goto nomem;
		for (int i = 0; i < nlog_dirs; i++) {
			if (!log_dirs[i] || !*log_dirs[i]) {
				brook_errstr(errstr, errstr_size, "log.dirs: empty entry");
				err = BROOK_ERR__INVALID_ARG;
				goto fail;
			}
			if (!(bz->log_dirs[i] = strdup(log_dirs[i])))
				goto nomem;
			bz->nlog_dirs = i + 1;
		}
	}

	/* The registration: version 4 as Kafka 2.x writes it; host/port are
	 * the first listener's. */
	bz->reg.version = 4;
	bz->reg.jmx_port = -1;
	bz->reg.endpoint_cnt = nendpoints;
	for (int i = 0; i < nendpoints; i++) {
		bz->reg.endpoints[i] = endpoints[i];
		bz->reg.endpoints[i].listener[ZK_LISTENER_MAX] = '\0';
		bz->reg.endpoints[i].host[ZK_HOST_MAX] = '\0';
		if (!bz->reg.endpoints[i].listener[0])
			snprintf(bz->reg.endpoints[i].listener, ZK_LISTENER_MAX + 1, "BROOK");
		ep = &bz->reg.endpoints[i];
		off += (size_t)snprintf(bz->endpoints_str + off, sizeof(bz->endpoints_str) - off,
					strchr(ep->host, ':') ? "%s%s://[%s]:%d" : "%s%s://%s:%d",
					i ? "," : "", ep->listener, ep->host, (int)ep->port);
		if (off >= sizeof(bz->endpoints_str))
			off = sizeof(bz->endpoints_str) - 1;   /* truncated: only a log string */
	}
	snprintf(bz->reg.host, sizeof(bz->reg.host), "%s", bz->reg.endpoints[0].host);
	bz->reg.port = bz->reg.host[0] ? bz->reg.endpoints[0].port : -1;
	if (rack) {
		bz->reg.has_rack = 1;
		snprintf(bz->reg.rack, sizeof(bz->reg.rack), "%s", rack);
	}
	bz->reg.timestamp_ms = now_ms();
	if ((err = zk_json_broker_encode(&bz->reg, &json))) {
		brook_errstr(errstr, errstr_size, "listeners: cannot be registered (%s)",
			     brook_err_str(err));
		goto fail;
	}
	free(json);
	if ((err = zk_path_broker(bz->reg_path, sizeof(bz->reg_path), broker_id))) {
		brook_errstr(errstr, errstr_size, "broker.id: %d: not a valid id", (int)broker_id);
		goto fail;
	}

	ev_timer_init(&bz->conn_timer, conn_timer_cb, 0., 0.);
	ev_timer_init(&bz->reg_timer, reg_timer_cb, 0., 0.);
	ev_timer_init(&bz->resync_timer, resync_cb, 0., 0.);
	ev_timer_init(&bz->notify_timer, notify_cb, 0., 0.);
	bz->conn_timer.data = bz->reg_timer.data = bz->resync_timer.data = bz->notify_timer.data = bz;
	bz->state = BZ_NEW;
	*out = bz;
	return BROOK_ERR_NO_ERROR;
nomem:
	brook_errstr(errstr, errstr_size, "out of memory");
	err = BROOK_ERR__NOMEM;
fail:
	destroy(bz);
	return err;
}

brook_err_t broker_zk_start(broker_zk_t *bz)
{
	char errstr[512];
	brook_err_t err;

	if (!bz)
		return BROOK_ERR__INVALID_ARG;
	if (bz->started)
		return BROOK_ERR__STATE;
	bz->started = 1;
	blog(BLOG_INFO, SUBSYS, "connecting to ZooKeeper at %s as broker %d", bz->connect,
	     (int)bz->id);
	ev_timer_set(&bz->conn_timer, bz->connection_timeout_ms / 1000.0, 0.);
	ev_timer_start(bz->loop, &bz->conn_timer);
	if (!bz->chroot) {
		err = open_main_session(bz);
	} else {
		set_state(bz, BZ_CHROOT);
		err = zk_session_new(bz->loop, bz->hosts, bz->session_timeout_ms, &root_cbs, bz,
				     &bz->root_zk, errstr, sizeof(errstr));
		if (err)
			blog(BLOG_ERROR, SUBSYS, "%s", errstr);
	}
	if (err) {
		ev_timer_stop(bz->loop, &bz->conn_timer);
		set_state(bz, BZ_FAILED);
	}
	return err;
}

const metadata_t *broker_zk_metadata(const broker_zk_t *bz)
{
	return bz ? bz->md : NULL;
}

const char *broker_zk_cluster_id(const broker_zk_t *bz)
{
	return bz ? bz->md->cluster_id : "";
}

int broker_zk_registered(const broker_zk_t *bz)
{
	return bz && bz->registered && bz->state == BZ_REGISTERED;
}

zk_session_t *broker_zk_session(const broker_zk_t *bz)
{
	return bz ? bz->zk : NULL;
}

void broker_zk_free(broker_zk_t *bz)
{
	zk_session_t *zk, *root;

	if (!bz || bz->closing)
		return;
	enter(bz);
	bz->closing = 1;
	ev_timer_stop(bz->loop, &bz->conn_timer);
	ev_timer_stop(bz->loop, &bz->reg_timer);
	ev_timer_stop(bz->loop, &bz->resync_timer);
	ev_timer_stop(bz->loop, &bz->notify_timer);
	if (bz->registered)
		blog(BLOG_INFO, SUBSYS, "closing session 0x%llx: deregistering broker %d",
		     session_hex(bz), (int)bz->id);
	zk = bz->zk;
	root = bz->root_zk;
	bz->zk = bz->root_zk = NULL;
	bz->registered = 0;
	/* Closing the session deletes our ephemeral registration on the
	 * servers at once; outstanding completions run with _CLOSED (now, or
	 * after the current callback) and the last leave() frees us. */
	zk_session_free(root);
	zk_session_free(zk);
	leave(bz);
}
