/*
 * group.c - the group consumer: membership, rebalancing on watches,
 * ownership znodes and fenced commits.
 *
 * The protocol every member runs (DESIGN.md "Consumer groups"):
 *
 *   session established (new)  -> new member id, create ids/<member>
 *                                 (ephemeral), start a round
 *   round                      -> children of ids (watch); data of members
 *                                 not cached yet; children of
 *                                 /brokers/topics (watch) when some member
 *                                 subscribes by pattern; data of subscribed
 *                                 topics not cached (watch: partitions
 *                                 added); then the target assignment,
 *                                 computed from the sorted member list by
 *                                 group_assign() and applied
 *   any of those watches fires -> invalidate what it covers, new round
 *   apply target               -> partitions lost: stop fetching, on_revoke
 *                                 in the application's poll(), then one
 *                                 multi {commit (auto), delete owner}
 *                                 partitions gained: create owners/<t>/<p>
 *                                 (ephemeral); if it exists, get it with a
 *                                 watch and create again when it is deleted;
 *                                 then read the committed offset, on_assign,
 *                                 fetch. Partitions kept are not touched.
 *   commit                     -> one multi {check ids/<member>, and per
 *                                 partition check owners/<t>/<p> at the
 *                                 version we created, set (or create)
 *                                 offsets/<t>/<p>}
 *   session expired            -> every partition is lost (the ephemerals
 *                                 are gone): on_revoke with _FENCED, no
 *                                 commit possible, register anew.
 *
 * Why commits cannot overwrite a new owner's offsets: a member loses a
 * partition either by releasing it itself (after which its own commits for
 * it are refused here, by the ownership generation they carry) or with its
 * session (after which ZooKeeper refuses every write of that session, and
 * the new session's member id differs, so the check on ids/<member> of the
 * old id fails). The owner check guards against the owner znode having
 * been deleted behind our back.
 */
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "consumer.h"
#include "errstr.h"
#include "group.h"
#include "group_assign.h"
#include "zk_json.h"
#include "zk_paths.h"
#include "zk_session.h"

#define PATH_MAX_ ZK_PATH_MAX
#define ROUND_RETRY_MS 500

/* ---- the I/O thread's picture ---- */

typedef enum gtp_state {
	GTP_CLAIM,       /* owner znode create in flight */
	GTP_WAIT,        /* owner znode held by another member; watch armed */
	GTP_OFFSET,      /* owned; reading the committed offset */
	GTP_OWNED,       /* owned and fetched */
	GTP_REVOKING,    /* lost by the target; waiting for on_revoke */
	GTP_RELEASE,     /* owner znode delete in flight (never assigned) */
	GTP_STALLED,     /* a write failed on a connection loss: redo when connected */
} gtp_state_t;

static const char *const gtp_state_names[] = {
	"CLAIM", "WAIT", "OFFSET", "OWNED", "REVOKING", "RELEASE", "STALLED",
};

typedef struct gtp {
	struct gtp *next;
	char *topic;
	int32_t partition;
	gtp_state_t state;
	int wanted;              /* in the current target */
	uint32_t own_gen;        /* this claim's generation (group-wide counter) */
	uint32_t seq;            /* bumped by every request, to drop stale answers */
	int32_t owner_version;
	int offset_exists;
	int64_t start;           /* committed offset read at the claim, or INVALID */
	gtp_state_t stalled_from;
	int fetch_pending;       /* owned; fetching starts with the on_assign */
} gtp_t;

typedef struct gmember {
	char *id;
	zk_consumer_member_t *m;  /* NULL until read */
	int present;
	char **owned_topics;      /* sticky: what it declared it owns */
	int32_t *owned_parts;
	size_t owned_cnt;
} gmember_t;

typedef struct gtopic {
	char *name;
	int32_t partitions;       /* -1 until read; 0: deleted */
	int present;
} gtopic_t;

/* ---- shared with the application thread (consumer lock) ---- */

typedef struct gpos {
	char *topic;
	int32_t partition;
	uint32_t own_gen;
	int64_t position;         /* after the last message poll() returned */
	int64_t committable;      /* position at the latest poll() entry */
	int64_t committed;
	int revoked;              /* on_revoke posted */
	int64_t start;            /* where this ownership began consuming */
} gpos_t;

typedef struct gentry {
	char *topic;
	int32_t partition;
	int64_t offset;           /* >= 0: commit it */
	uint32_t own_gen;
	int release;              /* delete the owner znode too */
	brook_err_t err;
} gentry_t;

enum { OP_MEMBER, OP_OWNER, OP_OFFSET, OP_DELETE };

typedef struct gcommit {
	struct gcommit *next;
	gentry_t *e;
	size_t cnt;
	int async;                /* the result goes to the commit callback */
	int quiet;                /* nobody to tell (a release without offsets) */
	int read;                 /* not a commit: read e[0]'s committed offset */
	int abandoned;            /* a sync caller gave up waiting: free when done */
	int done;
	brook_err_t err;
	/* I/O thread: which multi op belongs to which entry */
	size_t *op_entry;
	unsigned char *op_kind;
	size_t nops;
} gcommit_t;

typedef enum gev_type { GEV_ASSIGN, GEV_REVOKE, GEV_COMMIT } gev_type_t;

typedef struct gevent {
	struct gevent *next;
	gev_type_t type;
	brook_topic_partition_t *parts;
	uint32_t *gens;
	size_t cnt, cap_;
	gcommit_t *commit;
} gevent_t;

struct group {
	brook_consumer_t *c;
	client_t *cl;
	char *group_id;
	char *connect;
	int session_ms;
	group_assign_strategy_t strategy;
	int auto_commit;
	int auto_commit_ms;
	int reset;                /* BROOK_OFFSET_BEGINNING, _END, or 0 for none */
	char **subs;              /* subscription as given */
	size_t sub_cnt;
	regex_t *regs;            /* compiled patterns (subs starting with '^') */
	int *is_re;
	brook_rebalance_cb *on_assign, *on_revoke;
	void *rebalance_opaque;
	brook_commit_cb *commit_cb;
	void *commit_opaque;
	char host[64];

	/* I/O thread */
	zk_session_t *zk;
	int started;
	int connected;
	int registered;           /* ids/<member> exists for this session */
	char member[ZK_PATH_MAX];
	char member_path[ZK_PATH_MAX];
	uint64_t session_gen;     /* zk_session_generation() when registered */
	gmember_t *members;
	size_t member_cnt, member_cap;
	int members_valid;
	gtopic_t *topics;
	size_t topic_cnt, topic_cap;
	char **all_topics;        /* /brokers/topics children, for patterns */
	size_t all_cnt;
	int all_valid;
	int round_busy, round_again, round_phase, round_pending, round_failed;
	uint32_t round_id;
	int64_t round_retry_at;
	group_assignment_t *target;
	gtp_t *parts;
	uint32_t gen_counter;
	gcommit_t *inflight;
	gcommit_t *cq_head, *cq_tail;  /* taken from the shared queue */
	int64_t next_auto;
	int leave_sent;
	int leaving_io;           /* the I/O thread's copy of `leaving` */
	int registering;
	struct gevent *pending_assign;
	struct greq *watches;
	int need_resume;
	int settled;
	uint64_t zk_ops, zk_ops_at_trigger;
	int64_t trigger_ms;
	char owned_declared[4096];     /* sticky: the owned list last written */

	/* shared (consumer lock) */
	gevent_t *ev_head, *ev_tail;
	gcommit_t *req_head, *req_tail;
	gpos_t *pos;
	size_t pos_cnt, pos_cap;
	size_t pos_hint;
	char member_shared[ZK_PATH_MAX];
	int leaving, left;
	int closed;

	/* the application thread's: the revocation whose on_revoke runs */
	gevent_t *revoke_ev;
};

static void round_start(group_t *g, const char *why);
static void apply_target(group_t *g);
static void claim_start(group_t *g, gtp_t *p);
static void commit_next(group_t *g);

/* ---- small helpers ---- */

static void glog(group_t *g, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void glog(group_t *g, int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	client_log(g->cl, level, "group %s: %s", g->group_id, buf);
}

static void set_state(group_t *g, gtp_t *p, gtp_state_t st)
{
	if (p->state == st)
		return;
	glog(g, BROOK_LOG_DEBUG, "%s [%d]: %s -> %s", p->topic, (int)p->partition,
	     gtp_state_names[p->state], gtp_state_names[st]);
	p->state = st;
}

/* A write failed on a lost connection: redone when connected again. */
static void stall(group_t *g, gtp_t *p)
{
	if (p->state != GTP_STALLED)
		p->stalled_from = p->state;
	set_state(g, p, GTP_STALLED);
	g->need_resume = 1;
}

static void lock(group_t *g)
{
	pthread_mutex_lock(&g->cl->lock);
}

static void unlock(group_t *g)
{
	pthread_mutex_unlock(&g->cl->lock);
}

static void signal_app(group_t *g)
{
	pthread_cond_broadcast(&g->cl->cond);
}

static gtp_t *gtp_find(group_t *g, const char *topic, int32_t partition)
{
	for (gtp_t *p = g->parts; p; p = p->next)
		if (p->partition == partition && strcmp(p->topic, topic) == 0)
			return p;
	return NULL;
}

static void gtp_unlink(group_t *g, gtp_t *p)
{
	for (gtp_t **pp = &g->parts; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p->topic);
	free(p);
}

/* A request's context: the partition by name, never by pointer, since the
 * entry may be gone when the answer comes. */
typedef struct greq {
	group_t *g;
	struct greq *wprev, *wnext;  /* in g->watches while a watch holds it */
	uint32_t seq;             /* gtp seq, or round id */
	int32_t partition;
	char topic[];
} greq_t;

static greq_t *greq_new(group_t *g, const char *topic, int32_t partition, uint32_t seq)
{
	size_t len = topic ? strlen(topic) + 1 : 1;
	greq_t *r = malloc(sizeof(*r) + len);

	if (!r)
		return NULL;
	r->g = g;
	r->seq = seq;
	r->partition = partition;
	memcpy(r->topic, topic ? topic : "", len);
	return r;
}

/* A read that left a watch: its context stays for the watch callback
 * (ZooKeeper hands both the same pointer), listed so that watches that never
 * fire (dropped with an expired session) do not leak it. */
static void greq_done(greq_t *r, int watching)
{
	group_t *g = r->g;

	if (!watching) {
		free(r);
		return;
	}
	r->wprev = NULL;
	r->wnext = g->watches;
	if (g->watches)
		g->watches->wprev = r;
	g->watches = r;
}

/* A watch fired: its context is done with. */
static group_t *greq_fired(greq_t *r)
{
	group_t *g = r->g;

	if (r->wprev)
		r->wprev->wnext = r->wnext;
	else
		g->watches = r->wnext;
	if (r->wnext)
		r->wnext->wprev = r->wprev;
	free(r);
	return g;
}

static void watches_drop(group_t *g)
{
	while (g->watches) {
		greq_t *r = g->watches;

		g->watches = r->wnext;
		free(r);
	}
}

/* The gtp a partition request was for, if it is still in that step. */
static gtp_t *greq_gtp(greq_t *r, gtp_state_t st)
{
	gtp_t *p = gtp_find(r->g, r->topic, r->partition);

	return p && p->seq == r->seq && p->state == st ? p : NULL;
}

static int closing_err(brook_err_t err)
{
	return err == BROOK_ERR__CLOSED || err == BROOK_ERR__SESSION_EXPIRED;
}

static int topic_split(const char *path, char *topic, size_t size, int32_t *partition)
{
	/* ".../<topic>/<partition>" */
	const char *slash = strrchr(path, '/'), *prev;
	char *end;
	long v;

	if (!slash || slash == path)
		return -1;
	for (prev = slash - 1; prev > path && *prev != '/'; prev--)
		;
	if (*prev != '/' || (size_t)(slash - prev - 1) >= size)
		return -1;
	memcpy(topic, prev + 1, (size_t)(slash - prev - 1));
	topic[slash - prev - 1] = '\0';
	errno = 0;
	v = strtol(slash + 1, &end, 10);
	if (errno || *end || v < 0 || v > INT32_MAX)
		return -1;
	*partition = (int32_t)v;
	return 0;
}

/* ---- events to the application ---- */

static void event_push_locked(group_t *g, gevent_t *e)
{
	e->next = NULL;
	if (g->ev_tail)
		g->ev_tail->next = e;
	else
		g->ev_head = e;
	g->ev_tail = e;
	signal_app(g);
}

static void event_free(gevent_t *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->cnt; i++)
		free((char *)e->parts[i].topic);
	free(e->parts);
	free(e->gens);
	free(e);
}

static gevent_t *event_new(gev_type_t type, size_t cap)
{
	gevent_t *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->type = type;
	e->cap_ = cap;
	if (cap && (!(e->parts = calloc(cap, sizeof(*e->parts))) ||
		    !(e->gens = calloc(cap, sizeof(*e->gens))))) {
		event_free(e);
		return NULL;
	}
	return e;
}

static int event_add(gevent_t *e, const char *topic, int32_t partition, int64_t offset,
		     uint32_t gen, brook_err_t err)
{
	char *t = strdup(topic);

	if (!t)
		return -1;
	e->parts[e->cnt].topic = t;
	e->parts[e->cnt].partition = partition;
	e->parts[e->cnt].offset = offset;
	e->parts[e->cnt].err = err;
	e->gens[e->cnt] = gen;
	e->cnt++;
	return 0;
}

static gpos_t *pos_find_locked(group_t *g, const char *topic, int32_t partition)
{
	if (g->pos_hint < g->pos_cnt) {
		gpos_t *h = &g->pos[g->pos_hint];

		if (h->partition == partition && strcmp(h->topic, topic) == 0)
			return h;
	}
	for (size_t i = 0; i < g->pos_cnt; i++)
		if (g->pos[i].partition == partition && strcmp(g->pos[i].topic, topic) == 0) {
			g->pos_hint = i;
			return &g->pos[i];
		}
	return NULL;
}

static void pos_remove_locked(group_t *g, const char *topic, int32_t partition, uint32_t gen)
{
	gpos_t *p = pos_find_locked(g, topic, partition);

	if (!p || p->own_gen != gen)
		return;
	free(p->topic);
	*p = g->pos[--g->pos_cnt];
}

static int pos_add_locked(group_t *g, const char *topic, int32_t partition, uint32_t gen,
			  int64_t start)
{
	gpos_t *p = pos_find_locked(g, topic, partition);

	if (!p) {
		if (g->pos_cnt == g->pos_cap) {
			size_t nc = g->pos_cap ? g->pos_cap * 2 : 16;
			gpos_t *np = realloc(g->pos, nc * sizeof(*np));

			if (!np)
				return -1;
			g->pos = np;
			g->pos_cap = nc;
		}
		p = &g->pos[g->pos_cnt];
		if (!(p->topic = strdup(topic)))
			return -1;
		g->pos_cnt++;
	}
	p->partition = partition;
	p->own_gen = gen;
	p->position = p->committable = p->committed = start;
	p->start = start;
	p->revoked = 0;
	return 0;
}

/* ---- assignment and revocation ---- */

/* Hands a revocation to the application: its positions stop moving and the
 * event tells on_revoke where each partition got to. */
static void revoke_push(group_t *g, gevent_t *rev)
{
	lock(g);
	for (size_t i = 0; i < rev->cnt; i++) {
		gpos_t *ps = pos_find_locked(g, rev->parts[i].topic, rev->parts[i].partition);

		if (ps) {
			ps->revoked = 1;
			rev->parts[i].offset = ps->position;
		}
	}
	event_push_locked(g, rev);
	unlock(g);
}

/* Partitions this member gets in the current target, or NULL. */
static const group_member_assignment_t *my_target(group_t *g)
{
	if (!g->target)
		return NULL;
	for (size_t i = 0; i < g->target->cnt; i++)
		if (strcmp(g->target->members[i].member_id, g->member) == 0)
			return &g->target->members[i];
	return NULL;
}

static void check_settled(group_t *g);

/* The partition is ours: fetch it and tell the application first. */
static void become_owner(group_t *g, gtp_t *p)
{
	int64_t start = p->start;
	gevent_t *e;

	p->own_gen = ++g->gen_counter;
	set_state(g, p, GTP_OWNED);
	lock(g);
	if (!(e = g->pending_assign) || e->cnt == e->cap_) {
		gevent_t *ne = event_new(GEV_ASSIGN, e ? e->cap_ * 2 : 16);

		for (size_t i = 0; ne && e && i < e->cnt; i++) {
			ne->parts[i] = e->parts[i];
			ne->gens[i] = e->gens[i];
		}
		if (ne && e) {
			ne->cnt = e->cnt;
			e->cnt = 0;
			event_free(e);
		}
		if (ne)
			g->pending_assign = e = ne;
	}
	if (!e || e->cnt == e->cap_ ||
	    pos_add_locked(g, p->topic, p->partition, p->own_gen, start) ||
	    event_add(e, p->topic, p->partition, start, p->own_gen, BROOK_ERR_NO_ERROR)) {
		unlock(g);
		glog(g, BROOK_LOG_ERR, "%s [%d]: out of memory taking the partition", p->topic,
		     (int)p->partition);
		return;
	}
	p->fetch_pending = 1;
	unlock(g);
	glog(g, BROOK_LOG_DEBUG, "%s [%d]: owned (generation %u), from %" PRId64, p->topic,
	     (int)p->partition, p->own_gen, start);
}

/* Partitions gained make one on_assign when no other claim is between
 * steps (and before any other event, to keep the order): the event is
 * queued first, and only then are the partitions fetched, so the
 * application hears of a partition before its first message. */
static void flush_assign(group_t *g)
{
	gevent_t *e = g->pending_assign;

	if (!e)
		return;
	g->pending_assign = NULL;
	lock(g);
	event_push_locked(g, e);
	unlock(g);
	for (gtp_t *p = g->parts; p; p = p->next) {
		brook_err_t err;

		if (!p->fetch_pending)
			continue;
		p->fetch_pending = 0;
		if (p->state != GTP_OWNED)
			continue;
		if (p->start == BROOK_OFFSET_INVALID && !g->reset) {
			consumer_emit_error(g->c, p->topic, p->partition, BROOK_ERR__NO_OFFSET,
					    "no committed offset and auto.offset.reset=none");
			glog(g, BROOK_LOG_WARNING, "%s [%d]: owned, but nothing committed and "
			     "auto.offset.reset=none: not consuming", p->topic, (int)p->partition);
			continue;
		}
		err = consumer_tp_add(g->c, p->topic, p->partition,
				      p->start >= 0 ? p->start : g->reset);
		if (err)
			glog(g, BROOK_LOG_ERR, "%s [%d]: cannot fetch: %s", p->topic,
			     (int)p->partition, brook_err_str(err));
	}
}

static void release_done(zk_session_t *zk, brook_err_t err, void *opaque)
{
	greq_t *r = opaque;
	group_t *g = r->g;
	gtp_t *p;

	(void)zk;
	if (err == BROOK_ERR__CLOSED || !(p = greq_gtp(r, GTP_RELEASE))) {
		free(r);
		return;
	}
	if (err == BROOK_ERR__CONNECTION_LOSS) {
		stall(g, p);
	} else {
		/* deleted, already gone, or gone with the session */
		gtp_unlink(g, p);
		apply_target(g);
	}
	free(r);
}

/* Gives back an owner znode that was claimed but never handed to the
 * application (the target moved on meanwhile). */
static void release_quiet(group_t *g, gtp_t *p)
{
	char path[PATH_MAX_];
	greq_t *r;

	set_state(g, p, GTP_RELEASE);
	p->seq++;
	if (zk_path_group_owner(path, sizeof(path), g->group_id, p->topic, p->partition) ||
	    !(r = greq_new(g, p->topic, p->partition, p->seq)))
		return;
	g->zk_ops++;
	if (zk_delete(g->zk, path, p->owner_version, release_done, r)) {
		free(r);
		stall(g, p);
	}
}

static void offset_dir_done(zk_session_t *zk, brook_err_t err, void *opaque)
{
	greq_t *r = opaque;
	group_t *g = r->g;
	gtp_t *p;

	(void)zk;
	if (!(p = greq_gtp(r, GTP_OFFSET))) {
		free(r);
		return;
	}
	free(r);
	if (err && !closing_err(err)) {
		/* commits would fail on the missing folder: try the claim again */
		glog(g, BROOK_LOG_WARNING, "%s [%d]: cannot create the offsets folder: %s",
		     p->topic, (int)p->partition, brook_err_str(err));
		stall(g, p);
		return;
	}
	if (err)
		return;
	if (!p->wanted)
		release_quiet(g, p);
	else
		become_owner(g, p);
	check_settled(g);
}

static void offset_read_done(zk_session_t *zk, brook_err_t err, const char *data, size_t len,
			     const zk_stat_t *stat, void *opaque)
{
	greq_t *r = opaque;
	group_t *g = r->g;
	char path[PATH_MAX_], why[256];
	int64_t off = -1;
	gtp_t *p;

	(void)stat;
	if (!(p = greq_gtp(r, GTP_OFFSET))) {
		free(r);
		return;
	}
	if (closing_err(err)) {
		free(r);
		return;
	}
	if (err == BROOK_ERR_NO_ERROR) {
		if (zk_json_offset_decode(data, len, &off, why, sizeof(why))) {
			glog(g, BROOK_LOG_WARNING, "%s [%d]: committed offset unreadable (%s): "
			     "following auto.offset.reset", p->topic, (int)p->partition, why);
			off = BROOK_OFFSET_INVALID;
		}
		p->offset_exists = 1;
		p->start = off;
	} else if (err == BROOK_ERR__NOENT) {
		p->offset_exists = 0;
		p->start = BROOK_OFFSET_INVALID;
		/* the first commit creates offsets/<t>/<p> inside a multi, which
		 * needs the folder */
		r->seq = p->seq;
		if (zk_path_group_offsets(path, sizeof(path), g->group_id, p->topic) == 0) {
			g->zk_ops++;
			if (zk_create_path(g->zk, path, offset_dir_done, r) == 0)
				return;
		}
	} else {
		glog(g, BROOK_LOG_WARNING, "%s [%d]: cannot read the committed offset: %s",
		     p->topic, (int)p->partition, brook_err_str(err));
		stall(g, p);
		free(r);
		return;
	}
	free(r);
	if (!p->wanted)
		release_quiet(g, p);
	else
		become_owner(g, p);
	check_settled(g);
}

static void read_offset(group_t *g, gtp_t *p)
{
	char path[PATH_MAX_];
	greq_t *r;

	set_state(g, p, GTP_OFFSET);
	p->seq++;
	if (zk_path_group_offset(path, sizeof(path), g->group_id, p->topic, p->partition) ||
	    !(r = greq_new(g, p->topic, p->partition, p->seq)))
		return;
	g->zk_ops++;
	if (zk_get(g->zk, path, NULL, offset_read_done, r)) {
		free(r);
		stall(g, p);
	}
}

static void owner_watch(zk_session_t *zk, zk_event_t ev, const char *path, void *opaque)
{
	group_t *g = greq_fired(opaque);
	char topic[ZK_TOPIC_MAX + 1];
	int32_t partition;
	gtp_t *p;

	(void)zk;
	(void)ev;
	if (topic_split(path, topic, sizeof(topic), &partition))
		return;
	p = gtp_find(g, topic, partition);
	if (p && p->state == GTP_WAIT && p->wanted)
		claim_start(g, p);
}

static void owner_read_done(zk_session_t *zk, brook_err_t err, const char *data, size_t len,
			    const zk_stat_t *stat, void *opaque)
{
	greq_t *r = opaque;
	group_t *g = r->g;
	gtp_t *p;

	(void)zk;
	if (!(p = greq_gtp(r, GTP_WAIT)) || closing_err(err)) {
		greq_done(r, !err);
		return;
	}
	greq_done(r, !err);
	if (err == BROOK_ERR__NOENT) {
		/* released between our create and this read */
		if (p->wanted)
			claim_start(g, p);
		else
			gtp_unlink(g, p);
		return;
	}
	if (err) {
		stall(g, p);
		return;
	}
	if (len == strlen(g->member) && memcmp(data, g->member, len) == 0 && stat &&
	    stat->ephemeral_owner == zk_session_id(g->zk)) {
		/* ours: a create retried after a connection loss had worked */
		p->owner_version = stat->version;
		read_offset(g, p);
		return;
	}
	if (!p->wanted) {
		gtp_unlink(g, p);
		return;
	}
	/* the watch left by the read calls claim_start on deletion */
	glog(g, BROOK_LOG_DEBUG, "%s [%d]: waiting for %.*s to release it", p->topic,
	     (int)p->partition, (int)len, data ? data : "");
}

static void owner_dir_done(zk_session_t *zk, brook_err_t err, void *opaque)
{
	greq_t *r = opaque;
	gtp_t *p = greq_gtp(r, GTP_CLAIM);

	(void)zk;
	if (p && !closing_err(err)) {
		if (err) {
			stall(r->g, p);
		} else if (p->wanted) {
			claim_start(r->g, p);
		} else {
			gtp_unlink(r->g, p);
		}
	}
	free(r);
}

static void claim_done(zk_session_t *zk, brook_err_t err, const char *path, void *opaque)
{
	greq_t *r = opaque;
	group_t *g = r->g;
	char buf[PATH_MAX_];
	gtp_t *p;

	(void)zk;
	(void)path;
	if (!(p = greq_gtp(r, GTP_CLAIM)) || closing_err(err)) {
		free(r);
		return;
	}
	switch (err) {
	case BROOK_ERR_NO_ERROR:
		free(r);
		p->owner_version = 0;
		read_offset(g, p);
		return;
	case BROOK_ERR__EXISTS:
		/* still owned by someone (maybe us, after a lost connection):
		 * read it and leave a watch that fires on its deletion */
		set_state(g, p, GTP_WAIT);
		r->seq = ++p->seq;
		zk_path_group_owner(buf, sizeof(buf), g->group_id, p->topic, p->partition);
		g->zk_ops++;
		if (zk_get(g->zk, buf, owner_watch, owner_read_done, r) == 0)
			return;
		break;
	case BROOK_ERR__NOENT:
		/* owners/<t> does not exist yet */
		zk_path_group_owners(buf, sizeof(buf), g->group_id, p->topic);
		g->zk_ops++;
		if (zk_create_path(g->zk, buf, owner_dir_done, r) == 0)
			return;
		break;
	default:
		glog(g, BROOK_LOG_DEBUG, "%s [%d]: claim failed: %s", p->topic,
		     (int)p->partition, brook_err_str(err));
		break;
	}
	free(r);
	stall(g, p);
}

static void claim_start(group_t *g, gtp_t *p)
{
	char path[PATH_MAX_];
	greq_t *r;

	set_state(g, p, GTP_CLAIM);
	p->seq++;
	if (zk_path_group_owner(path, sizeof(path), g->group_id, p->topic, p->partition)) {
		glog(g, BROOK_LOG_ERR, "%s [%d]: bad owner path", p->topic, (int)p->partition);
		return;
	}
	if (!(r = greq_new(g, p->topic, p->partition, p->seq))) {
		stall(g, p);
		return;
	}
	g->zk_ops++;
	if (zk_create(g->zk, path, g->member, strlen(g->member), ZK_EPHEMERAL, claim_done, r)) {
		free(r);
		stall(g, p);
	}
}

/* Brings the partitions in line with g->target: claims what is missing,
 * revokes what is owned and no longer ours, leaves the rest alone. */
static void apply_target(group_t *g)
{
	const group_member_assignment_t *mine = g->leaving_io ? NULL : my_target(g);
	gevent_t *rev = NULL;
	size_t nrev = 0;

	if (!g->registered)
		return;
	for (gtp_t *p = g->parts; p; p = p->next)
		p->wanted = 0;
	for (size_t i = 0; mine && i < mine->cnt; i++) {
		gtp_t *p = gtp_find(g, mine->tps[i].topic, mine->tps[i].partition);

		if (p) {
			p->wanted = 1;
			continue;
		}
		if (!(p = calloc(1, sizeof(*p))) || !(p->topic = strdup(mine->tps[i].topic))) {
			free(p);
			glog(g, BROOK_LOG_ERR, "out of memory");
			continue;
		}
		p->partition = mine->tps[i].partition;
		p->wanted = 1;
		p->start = BROOK_OFFSET_INVALID;
		p->next = g->parts;
		g->parts = p;
		claim_start(g, p);
	}
	for (gtp_t *p = g->parts, *next; p; p = next) {
		next = p->next;
		if (p->wanted)
			continue;
		if (p->state == GTP_WAIT) {
			gtp_unlink(g, p);
		} else if (p->state == GTP_OWNED) {
			nrev++;
		}
	}
	if (nrev)
		flush_assign(g); /* on_assign before on_revoke */
	if (nrev && !(rev = event_new(GEV_REVOKE, nrev))) {
		glog(g, BROOK_LOG_ERR, "out of memory revoking partitions");
		return;
	}
	for (gtp_t *p = g->parts; p && rev; p = p->next) {
		if (p->wanted || p->state != GTP_OWNED)
			continue;
		set_state(g, p, GTP_REVOKING);
		consumer_tp_remove(g->c, p->topic, p->partition);
		event_add(rev, p->topic, p->partition, BROOK_OFFSET_INVALID, p->own_gen,
			  BROOK_ERR_NO_ERROR);
	}
	if (rev)
		revoke_push(g, rev);
	check_settled(g);
}

/* ---- sticky: what each member declares it owns ---- */

/* The owned list as JSON text [["t",p],...] in buf; 0, or -1 when it does
 * not fit. Sorted (gtp order is not), so equal sets give equal text. */
static int owned_text(group_t *g, char *buf, size_t size)
{
	group_assignment_t *a = group_assignment_new();
	json_t *arr = json_array();
	char *s = NULL;
	int rc = -1;

	if (!a || !arr)
		goto out;
	for (gtp_t *p = g->parts; p; p = p->next)
		if (p->state == GTP_OWNED &&
		    group_assignment_add(a, g->member, p->topic, p->partition))
			goto out;
	for (size_t i = 0; i < a->cnt; i++) {
		group_member_assignment_t *m = &a->members[i];

		for (size_t j = 0; j < m->cnt; j++)
			if (json_array_append_new(arr, json_pack("[si]", m->tps[j].topic,
								 (int)m->tps[j].partition)))
				goto out;
	}
	if (!(s = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS)) || strlen(s) >= size)
		goto out;
	strcpy(buf, s);
	rc = 0;
out:
	free(s);
	json_decref(arr);
	group_assignment_free(a);
	return rc;
}

static char *member_json(group_t *g, const char *owned)
{
	zk_consumer_member_t *m = zk_consumer_member_new();
	json_t *root = NULL;
	char *text = NULL, *out = NULL;
	int pattern = 0;

	if (!m)
		return NULL;
	for (size_t i = 0; i < g->sub_cnt; i++)
		pattern |= g->is_re[i];
	strcpy(m->pattern, pattern ? "white_list" : "static");
	m->timestamp_ms = client_wallclock_ms();
	for (size_t i = 0; i < g->sub_cnt; i++) {
		char buf[ZK_TOPIC_MAX + 8];
		const char *key = g->subs[i];

		/* a white_list holds expressions only: a plain name becomes one */
		if (pattern && !g->is_re[i]) {
			snprintf(buf, sizeof(buf), "^%s$", g->subs[i]);
			key = buf;
		}
		if (zk_consumer_member_subscribe(m, key, 1))
			goto out;
	}
	if (zk_json_consumer_member_encode(m, &text))
		goto out;
	if (!owned) {
		out = text;
		text = NULL;
		goto out;
	}
	/* sticky adds what it owns, as KIP-341's user data carries it */
	if (!(root = json_loads(text, 0, NULL)) ||
	    json_object_set_new(root, "owned", json_loads(owned, JSON_DECODE_ANY, NULL)))
		goto out;
	out = json_dumps(root, JSON_COMPACT);
out:
	free(text);
	json_decref(root);
	zk_consumer_member_free(m);
	return out;
}

static void declare_done(zk_session_t *zk, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	group_t *g = opaque;

	(void)zk;
	(void)stat;
	if (err && !closing_err(err))
		glog(g, BROOK_LOG_WARNING, "cannot declare the partitions owned: %s",
		     brook_err_str(err));
}

/* Sticky only: once settled, the member znode says what this member owns,
 * so every member computes the next assignment from the same "previous". */
static void declare_owned(group_t *g)
{
	char owned[sizeof(g->owned_declared)];
	char *json;

	if (g->strategy != GROUP_ASSIGN_STICKY || !g->registered || g->leaving_io ||
	    owned_text(g, owned, sizeof(owned)) || strcmp(owned, g->owned_declared) == 0)
		return;
	if (!(json = member_json(g, owned)))
		return;
	g->zk_ops++;
	if (zk_set(g->zk, g->member_path, json, strlen(json), ZK_ANY_VERSION, declare_done, g) == 0)
		strcpy(g->owned_declared, owned);
	free(json);
}

static void check_settled(group_t *g)
{
	size_t owned = 0;

	if (g->round_busy)
		return;
	for (gtp_t *p = g->parts; p; p = p->next) {
		if (p->state != GTP_OWNED || !p->wanted)
			return;
		owned++;
	}
	if (g->inflight)
		return;
	if (g->settled)
		return;
	g->settled = 1;
	glog(g, BROOK_LOG_INFO, "rebalance settled: member %s owns %zu partitions, %" PRIu64
	     " ZooKeeper operations and %" PRId64 " ms since the trigger", g->member, owned,
	     g->zk_ops - g->zk_ops_at_trigger, conn_now_ms() - g->trigger_ms);
	declare_owned(g);
}

/* ---- rounds: read the group and compute the target ---- */

static gmember_t *member_find(group_t *g, const char *id)
{
	for (size_t i = 0; i < g->member_cnt; i++)
		if (strcmp(g->members[i].id, id) == 0)
			return &g->members[i];
	return NULL;
}

static void member_clear(gmember_t *m)
{
	zk_consumer_member_free(m->m);
	m->m = NULL;
	for (size_t i = 0; i < m->owned_cnt; i++)
		free(m->owned_topics[i]);
	free(m->owned_topics);
	free(m->owned_parts);
	m->owned_topics = NULL;
	m->owned_parts = NULL;
	m->owned_cnt = 0;
}

static gtopic_t *topic_find(group_t *g, const char *name)
{
	for (size_t i = 0; i < g->topic_cnt; i++)
		if (strcmp(g->topics[i].name, name) == 0)
			return &g->topics[i];
	return NULL;
}

static gtopic_t *topic_get(group_t *g, const char *name)
{
	gtopic_t *t = topic_find(g, name);

	if (t)
		return t;
	if (g->topic_cnt == g->topic_cap) {
		size_t nc = g->topic_cap ? g->topic_cap * 2 : 8;
		gtopic_t *nt = realloc(g->topics, nc * sizeof(*nt));

		if (!nt)
			return NULL;
		g->topics = nt;
		g->topic_cap = nc;
	}
	t = &g->topics[g->topic_cnt];
	if (!(t->name = strdup(name)))
		return NULL;
	t->partitions = -1;
	t->present = 0;
	g->topic_cnt++;
	return t;
}

static void round_failed(group_t *g, brook_err_t err, const char *what)
{
	if (!closing_err(err))
		glog(g, BROOK_LOG_WARNING, "rebalance: cannot read %s: %s; retrying", what,
		     brook_err_str(err));
	g->round_busy = 0;
	g->round_id++;
	if (!closing_err(err)) {
		g->round_failed = 1;
		g->round_retry_at = conn_now_ms() + ROUND_RETRY_MS;
	}
}

static void round_step(group_t *g);

static void ids_watch(zk_session_t *zk, zk_event_t ev, const char *path, void *opaque)
{
	group_t *g = greq_fired(opaque);

	(void)zk;
	(void)ev;
	(void)path;
	g->members_valid = 0;
	round_start(g, "members changed");
}

static void member_watch(zk_session_t *zk, zk_event_t ev, const char *path, void *opaque)
{
	group_t *g = greq_fired(opaque);
	const char *slash = strrchr(path, '/');
	gmember_t *m;

	(void)zk;
	if (ev != ZK_EVENT_CHANGED || !slash || !(m = member_find(g, slash + 1)))
		return;
	member_clear(m);
	round_start(g, "a member's data changed");
}

static void topics_watch(zk_session_t *zk, zk_event_t ev, const char *path, void *opaque)
{
	group_t *g = greq_fired(opaque);

	(void)zk;
	(void)ev;
	(void)path;
	g->all_valid = 0;
	round_start(g, "topics created or deleted");
}

static void topic_watch(zk_session_t *zk, zk_event_t ev, const char *path, void *opaque)
{
	group_t *g = greq_fired(opaque);
	const char *slash = strrchr(path, '/');
	gtopic_t *t;

	(void)zk;
	(void)ev;
	if (!slash || !(t = topic_find(g, slash + 1)))
		return;
	t->partitions = -1;
	round_start(g, "a topic's partitions changed");
}

static void ids_done(zk_session_t *zk, brook_err_t err, const char *const *names, size_t count,
		     const zk_stat_t *stat, void *opaque)
{
	greq_t *r = opaque;
	group_t *g = r->g;

	(void)zk;
	(void)stat;
	if (r->seq != g->round_id || !g->round_busy) {
		greq_done(r, !err);
		return;
	}
	greq_done(r, !err);
	if (err) {
		round_failed(g, err, "the member list");
		return;
	}
	for (size_t i = 0; i < g->member_cnt; i++)
		g->members[i].present = 0;
	for (size_t i = 0; i < count; i++) {
		gmember_t *m = member_find(g, names[i]);

		if (!m) {
			if (g->member_cnt == g->member_cap) {
				size_t nc = g->member_cap ? g->member_cap * 2 : 8;
				gmember_t *nm = realloc(g->members, nc * sizeof(*nm));

				if (!nm)
					continue;
				g->members = nm;
				g->member_cap = nc;
			}
			m = &g->members[g->member_cnt];
			memset(m, 0, sizeof(*m));
			if (!(m->id = strdup(names[i])))
				continue;
			g->member_cnt++;
		}
		m->present = 1;
	}
	/* forget members that left */
	for (size_t i = 0; i < g->member_cnt;) {
		if (g->members[i].present) {
			i++;
			continue;
		}
		member_clear(&g->members[i]);
		free(g->members[i].id);
		g->members[i] = g->members[--g->member_cnt];
	}
	g->members_valid = 1;
	round_step(g);
}

static int decode_owned(gmember_t *m, const char *data, size_t len)
{
	json_t *root = json_loadb(data, len, 0, NULL), *owned, *item;
	size_t i;

	if (!root)
		return -1;
	owned = json_object_get(root, "owned");
	if (json_is_array(owned) && json_array_size(owned)) {
		size_t n = json_array_size(owned);

		m->owned_topics = calloc(n, sizeof(char *));
		m->owned_parts = calloc(n, sizeof(int32_t));
		if (!m->owned_topics || !m->owned_parts) {
			json_decref(root);
			return -1;
		}
		json_array_foreach(owned, i, item) {
			const char *t = json_string_value(json_array_get(item, 0));
			json_int_t p = json_integer_value(json_array_get(item, 1));

			if (!t || p < 0 || p > INT32_MAX)
				continue;
			if (!(m->owned_topics[m->owned_cnt] = strdup(t)))
				break;
			m->owned_parts[m->owned_cnt++] = (int32_t)p;
		}
	}
	json_decref(root);
	return 0;
}

static void member_done(zk_session_t *zk, brook_err_t err, const char *data, size_t len,
			const zk_stat_t *stat, void *opaque)
{
	greq_t *r = opaque;
	group_t *g = r->g;
	char why[256];
	gmember_t *m;

	(void)zk;
	(void)stat;
	if (r->seq != g->round_id || !g->round_busy) {
		greq_done(r, !err && g->strategy == GROUP_ASSIGN_STICKY);
		return;
	}
	m = member_find(g, r->topic);
	greq_done(r, !err && g->strategy == GROUP_ASSIGN_STICKY);
	g->round_pending--;
	if (err == BROOK_ERR__NOENT) {
		/* left meanwhile; the ids watch brings another round */
		if (m)
			m->present = 0;
	} else if (err) {
		round_failed(g, err, "a member");
		return;
	} else if (m) {
		member_clear(m);
		if (zk_json_consumer_member_decode(data, len, &m->m, why, sizeof(why))) {
			glog(g, BROOK_LOG_WARNING, "member %s: unreadable (%s): ignored", m->id,
			     why);
			m->present = 0;
		} else if (g->strategy == GROUP_ASSIGN_STICKY) {
			decode_owned(m, data, len);
		}
	}
	if (!g->round_pending)
		round_step(g);
}

static void all_topics_done(zk_session_t *zk, brook_err_t err, const char *const *names,
			    size_t count, const zk_stat_t *stat, void *opaque)
{
	greq_t *r = opaque;
	group_t *g = r->g;

	(void)zk;
	(void)stat;
	if (r->seq != g->round_id || !g->round_busy) {
		greq_done(r, !err);
		return;
	}
	greq_done(r, !err);
	if (err && err != BROOK_ERR__NOENT) {
		round_failed(g, err, "the topic list");
		return;
	}
	for (size_t i = 0; i < g->all_cnt; i++)
		free(g->all_topics[i]);
	free(g->all_topics);
	g->all_topics = NULL;
	g->all_cnt = 0;
	if (count && !(g->all_topics = calloc(count, sizeof(char *)))) {
		round_failed(g, BROOK_ERR__NOMEM, "the topic list");
		return;
	}
	for (size_t i = 0; !err && i < count; i++)
		if ((g->all_topics[g->all_cnt] = strdup(names[i])))
			g->all_cnt++;
	g->all_valid = 1;
	round_step(g);
}

static void topic_done(zk_session_t *zk, brook_err_t err, const char *data, size_t len,
		       const zk_stat_t *stat, void *opaque)
{
	greq_t *r = opaque;
	group_t *g = r->g;
	zk_topic_assignment_t *ta = NULL;
	char why[256];
	gtopic_t *t;

	(void)zk;
	(void)stat;
	if (r->seq != g->round_id || !g->round_busy) {
		greq_done(r, !err);
		return;
	}
	t = topic_find(g, r->topic);
	greq_done(r, !err);
	g->round_pending--;
	if (err && err != BROOK_ERR__NOENT) {
		round_failed(g, err, "a topic");
		return;
	}
	if (t) {
		t->partitions = 0;
		if (!err && zk_json_topic_assignment_decode(data, len, &ta, why, sizeof(why)) == 0)
			t->partitions = (int32_t)ta->partition_cnt;
		else if (!err)
			glog(g, BROOK_LOG_WARNING, "topic %s: unreadable (%s)", t->name, why);
		zk_topic_assignment_free(ta);
	}
	if (!g->round_pending)
		round_step(g);
}

/* Does subscription `key` (of a member with `pattern`) cover `topic`? */
static int sub_matches(const char *pattern, const char *key, const char *topic)
{
	regex_t re;
	int hit;

	if (strcmp(pattern, "static") == 0)
		return strcmp(key, topic) == 0;
	if (regcomp(&re, key, REG_EXTENDED | REG_NOSUB))
		return 0;
	hit = regexec(&re, topic, 0, NULL, 0) == 0;
	regfree(&re);
	return hit;
}

static int member_wants(const gmember_t *m, const char *topic)
{
	int any = 0;

	if (!m->m)
		return 0;
	for (size_t i = 0; i < m->m->sub_cnt; i++)
		any |= sub_matches(strcmp(m->m->pattern, "black_list") == 0 ? "white_list"
				   : m->m->pattern, m->m->subs[i].topic, topic);
	return strcmp(m->m->pattern, "black_list") == 0 ? !any : any;
}

static int some_pattern(group_t *g)
{
	for (size_t i = 0; i < g->member_cnt; i++)
		if (g->members[i].present && g->members[i].m &&
		    strcmp(g->members[i].m->pattern, "static") != 0)
			return 1;
	return 0;
}

static void compute(group_t *g)
{
	group_member_t *ms = calloc(g->member_cnt + 1, sizeof(*ms));
	group_topic_t *ts = calloc(g->topic_cnt + 1, sizeof(*ts));
	const char ***subs = calloc(g->member_cnt + 1, sizeof(*subs));
	group_assignment_t *prev = NULL, *out = NULL;
	size_t nm = 0, nt = 0;
	char why[256];
	brook_err_t err;

	if (!ms || !ts || !subs)
		goto out;
	for (size_t i = 0; i < g->topic_cnt; i++)
		if (g->topics[i].present && g->topics[i].partitions > 0) {
			ts[nt].name = g->topics[i].name;
			ts[nt++].partitions = g->topics[i].partitions;
		}
	for (size_t i = 0; i < g->member_cnt; i++) {
		gmember_t *m = &g->members[i];
		size_t n = 0;

		if (!m->present || !m->m)
			continue;
		if (!(subs[nm] = calloc(nt + 1, sizeof(char *))))
			goto out;
		for (size_t j = 0; j < nt; j++)
			if (member_wants(m, ts[j].name))
				subs[nm][n++] = ts[j].name;
		ms[nm].id = m->id;
		ms[nm].topics = subs[nm];
		ms[nm++].ntopics = n;
	}
	if (g->strategy == GROUP_ASSIGN_STICKY) {
		if (!(prev = group_assignment_new()))
			goto out;
		for (size_t i = 0; i < g->member_cnt; i++)
			for (size_t j = 0; g->members[i].present && j < g->members[i].owned_cnt; j++)
				group_assignment_add(prev, g->members[i].id,
						     g->members[i].owned_topics[j],
						     g->members[i].owned_parts[j]);
	}
	err = group_assign(g->strategy, ms, nm, ts, nt, prev, &out, why, sizeof(why));
	if (err) {
		glog(g, BROOK_LOG_ERR, "assignment failed: %s", why);
		goto out;
	}
	group_assignment_free(g->target);
	g->target = out;
	out = NULL;
	{
		const group_member_assignment_t *mine = my_target(g);
		char list[512];
		size_t len = 0;

		list[0] = '\0';
		for (size_t i = 0; mine && i < mine->cnt && len < sizeof(list) - 40; i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s-%d",
						i ? "," : "", mine->tps[i].topic,
						(int)mine->tps[i].partition);
		glog(g, BROOK_LOG_INFO, "rebalance: %zu members, %zu topics; %s gets [%s]", nm, nt,
		     g->member, list);
	}
	apply_target(g);
out:
	for (size_t i = 0; subs && i < nm; i++)
		free(subs[i]);
	free(subs);
	free(ms);
	free(ts);
	group_assignment_free(prev);
	group_assignment_free(out);
}

/* The round's next read, or the computation once everything is known. */
static void round_step(group_t *g)
{
	greq_t *r;

	/* members whose data we do not have */
	for (size_t i = 0; i < g->member_cnt; i++) {
		gmember_t *m = &g->members[i];
		char path[PATH_MAX_];

		if (!m->present || m->m)
			continue;
		if (zk_path_group_member(path, sizeof(path), g->group_id, m->id)) {
			m->present = 0;
			continue;
		}
		if (!(r = greq_new(g, m->id, -1, g->round_id)))
			goto nomem;
		g->zk_ops++;
		if (zk_get(g->zk, path, g->strategy == GROUP_ASSIGN_STICKY ? member_watch : NULL,
			   member_done, r)) {
			free(r);
			goto nomem;
		}
		g->round_pending++;
	}
	if (g->round_pending)
		return;
	if (some_pattern(g) && !g->all_valid) {
		if (!(r = greq_new(g, NULL, -1, g->round_id)))
			goto nomem;
		g->zk_ops++;
		if (zk_get_children(g->zk, ZK_PATH_TOPICS, topics_watch, all_topics_done, r)) {
			free(r);
			goto nomem;
		}
		return;
	}
	/* the topics someone subscribes to */
	for (size_t i = 0; i < g->topic_cnt; i++)
		g->topics[i].present = 0;
	for (size_t i = 0; i < g->member_cnt; i++) {
		gmember_t *m = &g->members[i];

		if (!m->present || !m->m)
			continue;
		if (strcmp(m->m->pattern, "static") == 0) {
			for (size_t j = 0; j < m->m->sub_cnt; j++) {
				gtopic_t *t = topic_get(g, m->m->subs[j].topic);

				if (t)
					t->present = 1;
			}
			continue;
		}
		for (size_t j = 0; j < g->all_cnt; j++)
			if (member_wants(m, g->all_topics[j])) {
				gtopic_t *t = topic_get(g, g->all_topics[j]);

				if (t)
					t->present = 1;
			}
	}
	for (size_t i = 0; i < g->topic_cnt; i++) {
		gtopic_t *t = &g->topics[i];
		char path[PATH_MAX_];

		if (!t->present || t->partitions >= 0)
			continue;
		if (zk_path_topic(path, sizeof(path), t->name)) {
			t->partitions = 0;
			continue;
		}
		if (!(r = greq_new(g, t->name, -1, g->round_id)))
			goto nomem;
		g->zk_ops++;
		if (zk_get(g->zk, path, topic_watch, topic_done, r)) {
			free(r);
			goto nomem;
		}
		g->round_pending++;
	}
	if (g->round_pending)
		return;
	g->round_busy = 0;
	compute(g);
	if (g->round_again) {
		g->round_again = 0;
		round_start(g, "changes during the last round");
	}
	return;
nomem:
	round_failed(g, BROOK_ERR__NOMEM, "the group");
}

static void round_start(group_t *g, const char *why)
{
	greq_t *r;
	char path[PATH_MAX_];

	if (!g->registered || g->leaving_io)
		return;
	if (g->settled || !g->trigger_ms) {
		g->trigger_ms = conn_now_ms();
		g->zk_ops_at_trigger = g->zk_ops;
	}
	g->settled = 0;
	if (g->round_busy) {
		g->round_again = 1;
		return;
	}
	glog(g, BROOK_LOG_DEBUG, "rebalance round: %s", why);
	g->round_busy = 1;
	g->round_failed = 0;
	g->round_pending = 0;
	g->round_id++;
	if (g->members_valid) {
		round_step(g);
		return;
	}
	if (zk_path_group_ids(path, sizeof(path), g->group_id) ||
	    !(r = greq_new(g, NULL, -1, g->round_id))) {
		round_failed(g, BROOK_ERR__NOMEM, "the member list");
		return;
	}
	g->zk_ops++;
	if (zk_get_children(g->zk, path, ids_watch, ids_done, r)) {
		free(r);
		round_failed(g, BROOK_ERR__ZK, "the member list");
	}
}

/* ---- membership and the session ---- */

static void make_member_id(group_t *g)
{
	uint32_t rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)conn_now_ms() ^ (uint32_t)getpid();
	/* Kafka's ZooKeeper consumer ids: <group>_<host>-<ms>-<8 hex> */
	snprintf(g->member, sizeof(g->member), "%s_%s-%" PRId64 "-%08x", g->group_id, g->host,
		 client_wallclock_ms(), rnd);
	if (zk_path_group_member(g->member_path, sizeof(g->member_path), g->group_id, g->member)) {
		/* a long group id plus the suffix went past our cap: shorten */
		snprintf(g->member, sizeof(g->member), "%.*s-%08x", ZK_NAME_MAX - 9,
			 g->group_id, rnd);
		zk_path_group_member(g->member_path, sizeof(g->member_path), g->group_id,
				     g->member);
	}
}

static void registered(group_t *g)
{
	g->registered = 1;
	g->registering = 0;
	g->session_gen = zk_session_generation(g->zk);
	g->owned_declared[0] = '\0';
	lock(g);
	snprintf(g->member_shared, sizeof(g->member_shared), "%s", g->member);
	signal_app(g);
	unlock(g);
	glog(g, BROOK_LOG_INFO, "joined as %s", g->member);
	round_start(g, "joined");
}

static void register_member(group_t *g);

static void member_stat_done(zk_session_t *zk, brook_err_t err, const zk_stat_t *stat,
			     void *opaque)
{
	group_t *g = opaque;

	if (closing_err(err))
		return;
	if (!err && stat && stat->ephemeral_owner == zk_session_id(zk)) {
		/* our create went through before the connection dropped */
		registered(g);
		return;
	}
	g->registering = 0;
	make_member_id(g);
	register_member(g);
}

static void member_created(zk_session_t *zk, brook_err_t err, const char *path, void *opaque)
{
	group_t *g = opaque;

	(void)path;
	if (closing_err(err))
		return;
	if (err == BROOK_ERR_NO_ERROR) {
		registered(g);
		return;
	}
	if (err == BROOK_ERR__EXISTS) {
		g->zk_ops++;
		if (zk_exists(zk, g->member_path, NULL, member_stat_done, g) == 0)
			return;
	}
	glog(g, BROOK_LOG_WARNING, "cannot register %s: %s; retrying", g->member,
	     brook_err_str(err));
	g->registering = 0;
	g->need_resume = 1;
}

static void ids_dir_done(zk_session_t *zk, brook_err_t err, void *opaque)
{
	group_t *g = opaque;
	char *json;

	if (closing_err(err))
		return;
	if (err) {
		glog(g, BROOK_LOG_WARNING, "cannot create the group's folders: %s; retrying",
		     brook_err_str(err));
		g->registering = 0;
		g->need_resume = 1;
		return;
	}
	if (!(json = member_json(g, g->strategy == GROUP_ASSIGN_STICKY ? "[]" : NULL))) {
		g->registering = 0;
		g->need_resume = 1;
		return;
	}
	g->zk_ops++;
	if (zk_create(zk, g->member_path, json, strlen(json), ZK_EPHEMERAL, member_created, g)) {
		g->registering = 0;
		g->need_resume = 1;
	}
	free(json);
}

static void register_member(group_t *g)
{
	char path[PATH_MAX_];

	if (g->registering || zk_path_group_ids(path, sizeof(path), g->group_id))
		return;
	g->registering = 1;
	g->zk_ops++;
	if (zk_create_path(g->zk, path, ids_dir_done, g)) {
		g->registering = 0;
		g->need_resume = 1;
	}
}

/* The session is gone with every ephemeral: nothing is ours any more. */
static void lose_all(group_t *g, const char *why)
{
	gevent_t *rev;
	size_t n = 0;

	flush_assign(g);
	for (gtp_t *p = g->parts; p; p = p->next)
		n += p->state == GTP_OWNED;
	rev = n ? event_new(GEV_REVOKE, n) : NULL;
	while (g->parts) {
		gtp_t *p = g->parts;

		if (p->state == GTP_OWNED) {
			consumer_tp_remove(g->c, p->topic, p->partition);
			if (rev)
				event_add(rev, p->topic, p->partition, BROOK_OFFSET_INVALID,
					  p->own_gen, BROOK_ERR__FENCED);
		}
		gtp_unlink(g, p);
	}
	if (n)
		glog(g, BROOK_LOG_WARNING, "%s: lost %zu partitions", why, n);
	if (rev)
		revoke_push(g, rev);
	for (size_t i = 0; i < g->member_cnt; i++) {
		member_clear(&g->members[i]);
		free(g->members[i].id);
	}
	g->member_cnt = 0;
	g->members_valid = 0;
	for (size_t i = 0; i < g->topic_cnt; i++)
		g->topics[i].partitions = -1;
	g->all_valid = 0;
	g->round_busy = 0;
	g->round_again = 0;
	g->round_id++;
	g->registered = 0;
	g->registering = 0;
	watches_drop(g);
	group_assignment_free(g->target);
	g->target = NULL;
	lock(g);
	g->member_shared[0] = '\0';
	unlock(g);
}

static void on_established(zk_session_t *zk, int is_new, void *opaque)
{
	group_t *g = opaque;

	(void)zk;
	g->connected = 1;
	if (!is_new) {
		g->need_resume = 1;
		return;
	}
	if (g->registered)
		lose_all(g, "ZooKeeper session expired");
	if (g->leaving) {
		/* nothing to leave: the old session took our znodes along */
		lock(g);
		g->left = 1;
		signal_app(g);
		unlock(g);
		return;
	}
	make_member_id(g);
	register_member(g);
}

static void on_disconnected(zk_session_t *zk, void *opaque)
{
	group_t *g = opaque;

	(void)zk;
	g->connected = 0;
}

static void on_expired(zk_session_t *zk, void *opaque)
{
	group_t *g = opaque;

	(void)zk;
	g->connected = 0;
	if (g->registered)
		lose_all(g, "ZooKeeper session expired");
}

static const zk_session_callbacks_t session_cbs = {
	.on_disconnected = on_disconnected,
	.on_session_expired = on_expired,
	.on_session_established = on_established,
};

/* Redoes what a lost connection interrupted. */
static void resume(group_t *g)
{
	g->need_resume = 0;
	if (!g->registered) {
		if (!g->leaving)
			register_member(g);
		return;
	}
	for (gtp_t *p = g->parts, *next; p; p = next) {
		next = p->next;
		if (p->state != GTP_STALLED)
			continue;
		switch (p->stalled_from) {
		case GTP_OFFSET:
			read_offset(g, p);
			break;
		case GTP_RELEASE:
			release_quiet(g, p);
			break;
		default:
			if (p->wanted)
				claim_start(g, p);
			else
				gtp_unlink(g, p);
			break;
		}
	}
	if (g->round_failed)
		round_start(g, "retry");
}

/* ---- commits ---- */

static void gcommit_free(gcommit_t *gc)
{
	if (!gc)
		return;
	for (size_t i = 0; i < gc->cnt; i++)
		free(gc->e[i].topic);
	free(gc->e);
	free(gc->op_entry);
	free(gc->op_kind);
	free(gc);
}

static void commit_finish(group_t *g, gcommit_t *gc, brook_err_t err)
{
	int free_it = 0;

	if (!err)
		for (size_t i = 0; i < gc->cnt && !err; i++)
			err = gc->e[i].err;
	lock(g);
	gc->err = err;
	gc->done = 1;
	if (!err || err == BROOK_ERR__FENCED)
		for (size_t i = 0; i < gc->cnt; i++) {
			gpos_t *ps = pos_find_locked(g, gc->e[i].topic, gc->e[i].partition);

			if (ps && ps->own_gen == gc->e[i].own_gen && !gc->e[i].err &&
			    gc->e[i].offset >= 0 && !gc->read)
				ps->committed = gc->e[i].offset;
		}
	if (gc->abandoned || (gc->async && gc->quiet)) {
		free_it = 1;
	} else if (gc->async) {
		gevent_t *e = event_new(GEV_COMMIT, 0);

		if (e) {
			e->commit = gc;
			event_push_locked(g, e);
		} else {
			free_it = 1;
		}
	}
	signal_app(g);
	unlock(g);
	if (free_it)
		gcommit_free(gc);
}

static gtp_t *entry_gtp(group_t *g, const gentry_t *e)
{
	gtp_t *p = gtp_find(g, e->topic, e->partition);

	if (!p || p->own_gen != e->own_gen ||
	    (p->state != GTP_OWNED && p->state != GTP_REVOKING))
		return NULL;
	return p;
}

/* A partition ZooKeeper says is not ours (owner znode gone or replaced):
 * stop it as a revocation the application hears about. */
static void lost_one(group_t *g, gtp_t *p)
{
	gevent_t *e;

	if (p->state == GTP_OWNED) {
		flush_assign(g);
		consumer_tp_remove(g->c, p->topic, p->partition);
		if ((e = event_new(GEV_REVOKE, 1))) {
			event_add(e, p->topic, p->partition, BROOK_OFFSET_INVALID, p->own_gen,
				  BROOK_ERR__FENCED);
			lock(g);
			event_push_locked(g, e);
			unlock(g);
		}
	}
	gtp_unlink(g, p);
	round_start(g, "ownership lost");
}

/* The I/O thread's queue of commits, releases and reads, sent in order. */
static void cq_append(group_t *g, gcommit_t *gc)
{
	gc->next = NULL;
	if (g->cq_tail)
		g->cq_tail->next = gc;
	else
		g->cq_head = gc;
	g->cq_tail = gc;
}

static void commit_requeue(group_t *g, gcommit_t *gc)
{
	gc->next = g->cq_head;
	g->cq_head = gc;
	if (!g->cq_tail)
		g->cq_tail = gc;
}

static void read_done(zk_session_t *zk, brook_err_t err, const char *data, size_t len,
		      const zk_stat_t *stat, void *opaque)
{
	gcommit_t *gc = opaque;
	group_t *g = (group_t *)gc->next;
	int64_t off = BROOK_OFFSET_INVALID;

	(void)zk;
	(void)stat;
	gc->next = NULL;
	g->inflight = NULL;
	if (!err && zk_json_offset_decode(data, len, &off, NULL, 0))
		err = BROOK_ERR__BAD_MSG;
	if (err == BROOK_ERR__NOENT)
		err = BROOK_ERR_NO_ERROR;
	gc->e[0].offset = off;
	commit_finish(g, gc, err);
	if (err != BROOK_ERR__CLOSED)
		commit_next(g);
}

static void multi_done(zk_session_t *zk, brook_err_t err, const zk_multi_t *m, void *opaque)
{
	gcommit_t *gc = opaque;
	group_t *g = (group_t *)gc->next;
	int failed = m ? zk_multi_failed_op(m) : -1;

	(void)zk;
	gc->next = NULL;
	g->inflight = NULL;
	if (err == BROOK_ERR_NO_ERROR) {
		for (size_t k = 0; k < gc->nops; k++) {
			gentry_t *e = &gc->e[gc->op_entry[k]];
			gtp_t *p;

			if (gc->op_kind[k] == OP_MEMBER || !(p = entry_gtp(g, e)))
				continue;
			if (gc->op_kind[k] == OP_OFFSET)
				p->offset_exists = 1;
			else if (gc->op_kind[k] == OP_DELETE)
				gtp_unlink(g, p);
		}
		commit_finish(g, gc, BROOK_ERR_NO_ERROR);
		apply_target(g);
		commit_next(g);
		return;
	}
	if (err == BROOK_ERR__CLOSED) {
		commit_finish(g, gc, err);
		return;
	}
	if (err == BROOK_ERR__CONNECTION_LOSS) {
		/* maybe applied, maybe not: the same multi is safe to repeat
		 * (the offsets are absolute) once connected again */
		commit_requeue(g, gc);
		g->need_resume = 1;
		return;
	}
	if (err == BROOK_ERR__SESSION_EXPIRED) {
		/* ZooKeeper refused the session that owned these partitions */
		for (size_t i = 0; i < gc->cnt; i++)
			gc->e[i].err = BROOK_ERR__FENCED;
		glog(g, BROOK_LOG_WARNING, "commit refused: session expired, partitions lost");
		commit_finish(g, gc, BROOK_ERR__FENCED);
		commit_next(g);
		return;
	}
	if (failed >= 0 && (size_t)failed < gc->nops) {
		int kind = gc->op_kind[failed];
		gentry_t *e = &gc->e[gc->op_entry[failed]];
		gtp_t *p = kind == OP_MEMBER ? NULL : entry_gtp(g, e);

		if (kind == OP_MEMBER) {
			/* our member znode is not the one we created: not ours */
			glog(g, BROOK_LOG_WARNING, "commit fenced: %s is gone (%s)", g->member,
			     brook_err_str(err));
			for (size_t i = 0; i < gc->cnt; i++)
				gc->e[i].err = BROOK_ERR__FENCED;
			commit_finish(g, gc, BROOK_ERR__FENCED);
			commit_next(g);
			return;
		}
		if (kind == OP_OFFSET && p && err == BROOK_ERR__EXISTS) {
			p->offset_exists = 1;
		} else if (kind == OP_OFFSET && p && err == BROOK_ERR__NOENT) {
			p->offset_exists = 0;
		} else {
			/* the owner check or delete: someone else's now */
			glog(g, BROOK_LOG_WARNING, "commit for %s [%d] fenced by ZooKeeper: %s",
			     e->topic, (int)e->partition, brook_err_str(err));
			e->err = BROOK_ERR__FENCED;
			if (p)
				lost_one(g, p);
		}
		commit_requeue(g, gc);
		commit_next(g);
		return;
	}
	commit_finish(g, gc, err);
	commit_next(g);
}

/* Sends the next commit, release or read: one at a time, so a create of
 * an offset znode is never raced by our own next commit. */
static void commit_next(group_t *g)
{
	gcommit_t *gc;
	zk_multi_t *m;
	char path[PATH_MAX_];

	while (!g->inflight && g->cq_head && g->connected && g->registered) {
		size_t k = 0;

		gc = g->cq_head;
		g->cq_head = gc->next;
		if (!g->cq_head)
			g->cq_tail = NULL;
		gc->next = (gcommit_t *)g; /* the completion's way back */
		if (gc->read) {
			if (zk_path_group_offset(path, sizeof(path), g->group_id, gc->e[0].topic,
						 gc->e[0].partition)) {
				gc->next = NULL;
				commit_finish(g, gc, BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
				continue;
			}
			g->inflight = gc;
			g->zk_ops++;
			if (zk_get(g->zk, path, NULL, read_done, gc)) {
				g->inflight = NULL;
				gc->next = NULL;
				commit_finish(g, gc, BROOK_ERR__ZK);
			}
			continue;
		}
		free(gc->op_entry);
		free(gc->op_kind);
		gc->op_entry = calloc(gc->cnt * 3 + 1, sizeof(*gc->op_entry));
		gc->op_kind = calloc(gc->cnt * 3 + 1, 1);
		if (!(m = zk_multi_new()) || !gc->op_entry || !gc->op_kind) {
			zk_multi_free(m);
			gc->next = NULL;
			commit_finish(g, gc, BROOK_ERR__NOMEM);
			continue;
		}
		/* the member znode we created in this session (any data version:
		 * sticky rewrites it): a member that lost its session, and so its
		 * partitions, fails here, since a new session has a new id */
		zk_multi_add_check(m, g->member_path, ZK_ANY_VERSION);
		gc->op_kind[k] = OP_MEMBER;
		gc->op_entry[k++] = 0;
		for (size_t i = 0; i < gc->cnt; i++) {
			gentry_t *e = &gc->e[i];
			gtp_t *p;
			char *text = NULL;

			if (e->err)
				continue;
			if (!(p = entry_gtp(g, e))) {
				e->err = BROOK_ERR__FENCED;
				continue;
			}
			zk_path_group_owner(path, sizeof(path), g->group_id, e->topic, e->partition);
			if (e->offset >= 0) {
				zk_multi_add_check(m, path, p->owner_version);
				gc->op_kind[k] = OP_OWNER;
				gc->op_entry[k++] = i;
				zk_path_group_offset(path, sizeof(path), g->group_id, e->topic,
						     e->partition);
				if (zk_json_offset_encode(e->offset, &text)) {
					e->err = BROOK_ERR__NOMEM;
					continue;
				}
				if (p->offset_exists)
					zk_multi_add_set(m, path, text, strlen(text), ZK_ANY_VERSION);
				else
					zk_multi_add_create(m, path, text, strlen(text),
							    ZK_PERSISTENT);
				free(text);
				gc->op_kind[k] = OP_OFFSET;
				gc->op_entry[k++] = i;
				zk_path_group_owner(path, sizeof(path), g->group_id, e->topic,
						    e->partition);
			}
			if (e->release) {
				zk_multi_add_delete(m, path, p->owner_version);
				gc->op_kind[k] = OP_DELETE;
				gc->op_entry[k++] = i;
			}
		}
		gc->nops = k;
		if (k == 1) {
			/* nothing left to write: every entry was refused here */
			zk_multi_free(m);
			gc->next = NULL;
			commit_finish(g, gc, BROOK_ERR_NO_ERROR);
			continue;
		}
		g->inflight = gc;
		g->zk_ops++;
		if (zk_multi(g->zk, m, multi_done, gc)) {
			g->inflight = NULL;
			gc->next = NULL;
			commit_requeue(g, gc);
			g->need_resume = 1;
			return;
		}
	}
}

/* ---- the I/O thread's entry point ---- */

static void member_deleted(zk_session_t *zk, brook_err_t err, void *opaque)
{
	group_t *g = opaque;

	(void)zk;
	if (err == BROOK_ERR__CONNECTION_LOSS) {
		g->leave_sent = 0;
		g->need_resume = 1;
		return;
	}
	g->registered = 0;
	glog(g, BROOK_LOG_INFO, "left the group");
	lock(g);
	g->left = 1;
	signal_app(g);
	unlock(g);
}

static void auto_commit(group_t *g)
{
	gcommit_t *gc = calloc(1, sizeof(*gc));
	size_t n = 0;

	if (!gc)
		return;
	lock(g);
	if (g->pos_cnt && !(gc->e = calloc(g->pos_cnt, sizeof(*gc->e)))) {
		unlock(g);
		free(gc);
		return;
	}
	for (size_t i = 0; i < g->pos_cnt; i++) {
		gpos_t *ps = &g->pos[i];

		if (ps->revoked || ps->committable < 0 || ps->committable == ps->committed)
			continue;
		if (!(gc->e[n].topic = strdup(ps->topic)))
			break;
		gc->e[n].partition = ps->partition;
		gc->e[n].offset = ps->committable;
		gc->e[n].own_gen = ps->own_gen;
		n++;
	}
	unlock(g);
	gc->cnt = n;
	gc->async = 1;
	if (!n) {
		free(gc->e);
		free(gc);
		return;
	}
	cq_append(g, gc);
}

int64_t group_serve(group_t *g, int64_t now)
{
	int64_t next = INT64_MAX;
	gcommit_t *reqs;
	int leaving, claiming;

	if (!g->started) {
		char errstr[256];
		brook_err_t err;

		g->started = 1;
		err = zk_session_new(g->cl->loop, g->connect, g->session_ms, &session_cbs, g,
				     &g->zk, errstr, sizeof(errstr));
		if (err) {
			glog(g, BROOK_LOG_ERR, "cannot open a ZooKeeper session: %s", errstr);
			consumer_emit_error(g->c, NULL, -1, err, errstr);
			lock(g);
			g->left = 1;
			unlock(g);
			return next;
		}
		zk_session_set_read_timeout(g->zk, g->session_ms * 2);
		g->next_auto = now + g->auto_commit_ms;
	}
	if (!g->zk)
		return next;
	claiming = 0;
	for (gtp_t *p = g->parts; p; p = p->next)
		claiming |= p->state == GTP_CLAIM || p->state == GTP_OFFSET;
	if (!claiming)
		flush_assign(g);
	lock(g);
	reqs = g->req_head;
	g->req_head = g->req_tail = NULL;
	leaving = g->leaving;
	unlock(g);
	g->leaving_io = leaving;
	while (reqs) {
		gcommit_t *gc = reqs;

		reqs = gc->next;
		cq_append(g, gc);
	}
	if (g->connected && g->need_resume)
		resume(g);
	if (g->round_failed && g->registered) {
		if (now >= g->round_retry_at)
			round_start(g, "retry");
		else if (g->round_retry_at < next)
			next = g->round_retry_at;
	}
	if (g->auto_commit && g->registered && !leaving) {
		if (now >= g->next_auto) {
			auto_commit(g);
			g->next_auto = now + g->auto_commit_ms;
		}
		if (g->next_auto < next)
			next = g->next_auto;
	}
	commit_next(g);
	if (leaving && !g->leave_sent) {
		if (!g->registered) {
			lock(g);
			g->left = 1;
			signal_app(g);
			unlock(g);
			g->leave_sent = 1;
		} else {
			apply_target(g); /* leaving: the target is empty */
			if (!g->inflight && !g->cq_head && !g->parts && g->connected) {
				g->leave_sent = 1;
				g->zk_ops++;
				if (zk_delete(g->zk, g->member_path, ZK_ANY_VERSION, member_deleted, g))
					g->leave_sent = 0;
			}
		}
	}
	return next;
}

/* ---- the application's side ---- */

void group_app_poll_begin_locked(group_t *g)
{
	for (size_t i = 0; i < g->pos_cnt; i++)
		g->pos[i].committable = g->pos[i].position;
}

void group_app_on_message_locked(group_t *g, const brook_message_t *m)
{
	gpos_t *ps = pos_find_locked(g, m->topic, m->partition);

	if (ps && !ps->revoked) {
		ps->position = m->offset + 1;
		if (ps->start < 0)
			ps->start = m->offset;
	}
}

int group_app_has_events_locked(const group_t *g)
{
	return g->ev_head != NULL;
}

static void request_push_locked(group_t *g, gcommit_t *gc)
{
	gc->next = NULL;
	if (g->req_tail)
		g->req_tail->next = gc;
	else
		g->req_head = gc;
	g->req_tail = gc;
}

/* After on_revoke: commit (with enable.auto.commit) and delete the owner
 * znodes, in one multi. */
static void release_after_revoke(group_t *g, gevent_t *ev)
{
	gcommit_t *gc = calloc(1, sizeof(*gc));
	size_t n = 0;
	int offsets = 0;

	if (gc && ev->cnt && !(gc->e = calloc(ev->cnt, sizeof(*gc->e)))) {
		free(gc);
		gc = NULL;
	}
	lock(g);
	for (size_t i = 0; i < ev->cnt; i++) {
		gpos_t *ps = pos_find_locked(g, ev->parts[i].topic, ev->parts[i].partition);
		int64_t pos = ps && ps->own_gen == ev->gens[i] ? ps->position : -1;

		if (gc && !ev->parts[i].err && (gc->e[n].topic = strdup(ev->parts[i].topic))) {
			gc->e[n].partition = ev->parts[i].partition;
			gc->e[n].own_gen = ev->gens[i];
			gc->e[n].release = 1;
			gc->e[n].offset = g->auto_commit && pos >= 0 &&
					  (!ps || pos != ps->committed) ? pos : -1;
			offsets |= gc->e[n].offset >= 0;
			n++;
		}
		pos_remove_locked(g, ev->parts[i].topic, ev->parts[i].partition, ev->gens[i]);
	}
	if (gc && n) {
		gc->cnt = n;
		gc->async = 1;
		gc->quiet = !offsets;
		request_push_locked(g, gc);
		gc = NULL;
	}
	unlock(g);
	gcommit_free(gc);
	client_wakeup(g->cl);
}

int group_app_run_events(group_t *g)
{
	int n = 0;

	for (;;) {
		gevent_t *ev;

		lock(g);
		if ((ev = g->ev_head) && !(g->ev_head = ev->next))
			g->ev_tail = NULL;
		unlock(g);
		if (!ev)
			return n;
		n++;
		switch (ev->type) {
		case GEV_ASSIGN:
			if (g->on_assign)
				g->on_assign(g->c, ev->parts, ev->cnt, g->rebalance_opaque);
			break;
		case GEV_REVOKE:
			/* commits from the callback are for the ownership it ends */
			g->revoke_ev = ev;
			if (g->on_revoke)
				g->on_revoke(g->c, ev->parts, ev->cnt, g->rebalance_opaque);
			g->revoke_ev = NULL;
			release_after_revoke(g, ev);
			break;
		case GEV_COMMIT: {
			gcommit_t *gc = ev->commit;
			brook_topic_partition_t *tps = calloc(gc->cnt + 1, sizeof(*tps));

			if (tps && g->commit_cb && !gc->quiet) {
				for (size_t i = 0; i < gc->cnt; i++) {
					tps[i].topic = gc->e[i].topic;
					tps[i].partition = gc->e[i].partition;
					tps[i].offset = gc->e[i].offset;
					tps[i].err = gc->e[i].err;
				}
				g->commit_cb(g->c, gc->err, tps, gc->cnt, g->commit_opaque);
			}
			free(tps);
			gcommit_free(gc);
			break;
		}
		}
		event_free(ev);
	}
}

/* Queues gc and, for a sync call, waits for its result (lock not held). */
static brook_err_t submit(group_t *g, gcommit_t *gc, int async)
{
	int64_t deadline = conn_now_ms() + (int64_t)g->session_ms * 2;
	brook_err_t err;

	lock(g);
	if (g->closed || g->left) {
		unlock(g);
		gcommit_free(gc);
		return BROOK_ERR__STATE;
	}
	gc->async = async;
	request_push_locked(g, gc);
	unlock(g);
	client_wakeup(g->cl);
	if (async)
		return BROOK_ERR_NO_ERROR;
	lock(g);
	while (!gc->done)
		if (client_cond_wait(g->cl, deadline) == ETIMEDOUT)
			break;
	if (!gc->done) {
		gc->abandoned = 1;
		unlock(g);
		return BROOK_ERR__TIMED_OUT;
	}
	unlock(g);
	err = gc->err;
	return err;
}

brook_err_t group_app_commit(group_t *g, const brook_topic_partition_t *offsets, size_t cnt,
			     int async)
{
	gcommit_t *gc = calloc(1, sizeof(*gc));
	size_t n = 0, cap;
	brook_err_t err;

	if (!gc)
		return BROOK_ERR__NOMEM;
	for (size_t i = 0; offsets && i < cnt; i++)
		if (!offsets[i].topic || offsets[i].partition < 0 || offsets[i].offset < 0) {
			free(gc);
			return BROOK_ERR__INVALID_ARG;
		}
	lock(g);
	cap = offsets ? cnt : g->pos_cnt;
	if (cap && !(gc->e = calloc(cap, sizeof(*gc->e)))) {
		unlock(g);
		free(gc);
		return BROOK_ERR__NOMEM;
	}
	for (size_t i = 0; i < cap; i++) {
		const char *topic = offsets ? offsets[i].topic : g->pos[i].topic;
		int32_t part = offsets ? offsets[i].partition : g->pos[i].partition;
		gpos_t *ps = offsets ? pos_find_locked(g, topic, part) : &g->pos[i];
		int64_t off = offsets ? offsets[i].offset : ps->position;

		if (off < 0)
			continue;
		if (!(gc->e[n].topic = strdup(topic))) {
			gc->cnt = n;
			unlock(g);
			gcommit_free(gc);
			return BROOK_ERR__NOMEM;
		}
		gc->e[n].partition = part;
		gc->e[n].offset = off;
		/* The ownership the offset belongs to: the one on_revoke ends,
		 * inside it; else the current one, unless the offset lies below
		 * where it began, which only an earlier ownership of the partition
		 * (lost, then owned again) can have delivered. Generation 0 is
		 * never handed out: refused as not ours. */
		gc->e[n].own_gen = ps ? ps->own_gen : 0;
		if (offsets && ps && ps->start >= 0 && off < ps->start)
			gc->e[n].own_gen = 0;
		for (size_t k = 0; g->revoke_ev && k < g->revoke_ev->cnt; k++)
			if (g->revoke_ev->parts[k].partition == part &&
			    strcmp(g->revoke_ev->parts[k].topic, topic) == 0)
				gc->e[n].own_gen = g->revoke_ev->gens[k];
		n++;
	}
	gc->cnt = n;
	unlock(g);
	if (!n) {
		gcommit_free(gc);
		return BROOK_ERR_NO_ERROR;
	}
	err = submit(g, gc, async);
	if (!async && err != BROOK_ERR__TIMED_OUT && err != BROOK_ERR__STATE)
		gcommit_free(gc);
	return err;
}

brook_err_t group_app_committed(group_t *g, const char *topic, int32_t partition,
				int64_t *offset, int timeout_ms)
{
	gcommit_t *gc = calloc(1, sizeof(*gc));
	brook_err_t err;

	(void)timeout_ms; /* bounded by the session timeout like commits */
	if (!gc || !(gc->e = calloc(1, sizeof(*gc->e))) || !(gc->e[0].topic = strdup(topic))) {
		if (gc)
			free(gc->e);
		free(gc);
		return BROOK_ERR__NOMEM;
	}
	gc->cnt = 1;
	gc->read = 1;
	gc->e[0].partition = partition;
	err = submit(g, gc, 0);
	if (err == BROOK_ERR__TIMED_OUT || err == BROOK_ERR__STATE)
		return err;
	*offset = gc->e[0].offset;
	gcommit_free(gc);
	return err;
}

static int tp_cmp(const void *a, const void *b)
{
	const brook_topic_partition_t *x = a, *y = b;
	int r = strcmp(x->topic, y->topic);

	return r ? r : (x->partition > y->partition) - (x->partition < y->partition);
}

brook_err_t group_app_assignment(group_t *g, brook_topic_partition_t **parts, size_t *cnt)
{
	brook_topic_partition_t *tps;
	size_t n = 0, bytes = 0;
	char *strs;

	lock(g);
	for (size_t i = 0; i < g->pos_cnt; i++)
		bytes += strlen(g->pos[i].topic) + 1;
	if (!g->pos_cnt) {
		unlock(g);
		return BROOK_ERR_NO_ERROR;
	}
	/* one allocation: the array, then the topic names */
	if (!(tps = malloc(g->pos_cnt * sizeof(*tps) + bytes))) {
		unlock(g);
		return BROOK_ERR__NOMEM;
	}
	strs = (char *)(tps + g->pos_cnt);
	for (size_t i = 0; i < g->pos_cnt; i++) {
		size_t len = strlen(g->pos[i].topic) + 1;

		if (g->pos[i].revoked)
			continue;
		memcpy(strs, g->pos[i].topic, len);
		tps[n].topic = strs;
		strs += len;
		tps[n].partition = g->pos[i].partition;
		tps[n].offset = g->pos[i].position;
		tps[n].err = BROOK_ERR_NO_ERROR;
		n++;
	}
	unlock(g);
	qsort(tps, n, sizeof(*tps), tp_cmp);
	*parts = tps;
	*cnt = n;
	if (!n) {
		free(tps);
		*parts = NULL;
	}
	return BROOK_ERR_NO_ERROR;
}

void group_app_member_id(group_t *g, char *buf, size_t size)
{
	lock(g);
	snprintf(buf, size, "%s", g->member_shared);
	unlock(g);
}

brook_err_t group_app_close(group_t *g)
{
	int64_t deadline = conn_now_ms() + g->session_ms;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	lock(g);
	if (g->closed) {
		unlock(g);
		return BROOK_ERR_NO_ERROR;
	}
	g->leaving = 1;
	unlock(g);
	client_wakeup(g->cl);
	for (;;) {
		int left, events;

		group_app_run_events(g);
		lock(g);
		while (!g->left && !g->ev_head)
			if (client_cond_wait(g->cl, deadline) == ETIMEDOUT)
				break;
		left = g->left;
		events = g->ev_head != NULL;
		unlock(g);
		if (left)
			break;
		if (!events && conn_now_ms() >= deadline) {
			err = BROOK_ERR__TIMED_OUT;
			break;
		}
	}
	group_app_run_events(g);
	lock(g);
	g->closed = 1;
	unlock(g);
	return err;
}

/* ---- life cycle ---- */

brook_err_t group_new(brook_consumer_t *c, struct client *cl, const brook_conf_t *conf,
		      const char *const *topics, size_t cnt, group_t **out, char *errstr,
		      size_t errstr_size)
{
	const client_conf_t *cc = &conf->c;
	char path[PATH_MAX_];
	group_t *g;

	*out = NULL;
	if (!cc->group_id || !*cc->group_id ||
	    zk_path_group(path, sizeof(path), cc->group_id)) {
		brook_errstr(errstr, errstr_size, cc->group_id && *cc->group_id ?
			     "group.id: not a valid group name" : "group.id: must be set");
		return BROOK_ERR__CONFIG;
	}
	if (!cc->zookeeper_connect || !*cc->zookeeper_connect) {
		brook_errstr(errstr, errstr_size, "zookeeper.connect: must be set for a group");
		return BROOK_ERR__CONFIG;
	}
	if (!topics || !cnt) {
		brook_errstr(errstr, errstr_size, "subscribe: no topics");
		return BROOK_ERR__INVALID_ARG;
	}
	if (!(g = calloc(1, sizeof(*g))))
		goto nomem;
	g->c = c;
	g->cl = cl;
	g->session_ms = cc->zookeeper_session_timeout_ms;
	g->auto_commit = cc->enable_auto_commit;
	g->auto_commit_ms = cc->auto_commit_interval_ms;
	g->on_assign = conf->on_assign;
	g->on_revoke = conf->on_revoke;
	g->rebalance_opaque = conf->rebalance_opaque;
	g->commit_cb = conf->commit_cb;
	g->commit_opaque = conf->commit_opaque;
	if (strcmp(cc->auto_offset_reset, "earliest") == 0)
		g->reset = BROOK_OFFSET_BEGINNING;
	else if (strcmp(cc->auto_offset_reset, "latest") == 0)
		g->reset = BROOK_OFFSET_END;
	if (group_assign_parse(cc->partition_assignment_strategy, &g->strategy)) {
		brook_errstr(errstr, errstr_size, "partition.assignment.strategy: unknown");
		group_free(g);
		return BROOK_ERR__CONFIG;
	}
	if (gethostname(g->host, sizeof(g->host)) != 0 || !g->host[0])
		strcpy(g->host, "localhost");
	g->host[sizeof(g->host) - 1] = '\0';
	for (char *h = g->host; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '.' || *h == '-'))
			*h = '-';
	if (!(g->group_id = strdup(cc->group_id)) || !(g->connect = strdup(cc->zookeeper_connect)) ||
	    !(g->subs = calloc(cnt, sizeof(char *))) || !(g->regs = calloc(cnt, sizeof(regex_t))) ||
	    !(g->is_re = calloc(cnt, sizeof(int))))
		goto nomem_g;
	for (size_t i = 0; i < cnt; i++) {
		if (!topics[i] || !*topics[i]) {
			brook_errstr(errstr, errstr_size, "subscribe: empty topic name");
			group_free(g);
			return BROOK_ERR__INVALID_ARG;
		}
		if (topics[i][0] == '^') {
			int rc = regcomp(&g->regs[i], topics[i], REG_EXTENDED | REG_NOSUB);

			if (rc) {
				char why[128];

				regerror(rc, &g->regs[i], why, sizeof(why));
				brook_errstr(errstr, errstr_size, "subscribe: %s: %s", topics[i],
					     why);
				group_free(g);
				return BROOK_ERR__INVALID_ARG;
			}
			g->is_re[i] = 1;
		} else if (zk_path_topic(path, sizeof(path), topics[i])) {
			brook_errstr(errstr, errstr_size, "subscribe: %s: not a valid topic name",
				     topics[i]);
			group_free(g);
			return BROOK_ERR__INVALID_ARG;
		}
		if (!(g->subs[i] = strdup(topics[i])))
			goto nomem_g;
		g->sub_cnt++;
	}
	*out = g;
	return BROOK_ERR_NO_ERROR;
nomem_g:
	group_free(g);
nomem:
	brook_errstr(errstr, errstr_size, "out of memory");
	return BROOK_ERR__NOMEM;
}

void group_free(group_t *g)
{
	if (!g)
		return;
	/* completes what is in flight with _CLOSED, on this thread */
	zk_session_free(g->zk);
	g->zk = NULL;
	watches_drop(g);
	while (g->parts)
		gtp_unlink(g, g->parts);
	for (size_t i = 0; i < g->member_cnt; i++) {
		member_clear(&g->members[i]);
		free(g->members[i].id);
	}
	free(g->members);
	for (size_t i = 0; i < g->topic_cnt; i++)
		free(g->topics[i].name);
	free(g->topics);
	for (size_t i = 0; i < g->all_cnt; i++)
		free(g->all_topics[i]);
	free(g->all_topics);
	group_assignment_free(g->target);
	while (g->cq_head) {
		gcommit_t *gc = g->cq_head;

		g->cq_head = gc->next;
		gcommit_free(gc);
	}
	while (g->req_head) {
		gcommit_t *gc = g->req_head;

		g->req_head = gc->next;
		gcommit_free(gc);
	}
	event_free(g->pending_assign);
	while (g->ev_head) {
		gevent_t *e = g->ev_head;

		g->ev_head = e->next;
		if (e->type == GEV_COMMIT)
			gcommit_free(e->commit);
		event_free(e);
	}
	for (size_t i = 0; i < g->pos_cnt; i++)
		free(g->pos[i].topic);
	free(g->pos);
	for (size_t i = 0; i < g->sub_cnt; i++) {
		if (g->is_re[i])
			regfree(&g->regs[i]);
		free(g->subs[i]);
	}
	free(g->subs);
	free(g->regs);
	free(g->is_re);
	free(g->group_id);
	free(g->connect);
	free(g);
}
