/*
 * controller.c - the cluster controller (see controller.h).
 *
 * Election, one step per state, each started by the previous one's
 * completion:
 *
 *   IDLE       the view shows no controller -> create ephemeral /controller
 *   ELECTING     OK -> BUMPING
 *                EXISTS / CONNECTION_LOSS -> get /controller, compare
 *                  ephemeralOwner: ours -> BUMPING; another's -> IDLE (the
 *                  view will name it; retried every second while it
 *                  shows none); gone -> create again
 *   BUMPING    get /controller_epoch
 *                NOENT -> create "1"               -> ACTIVE(1)
 *                E     -> set E+1 on its version   -> ACTIVE(E+1)
 *                  VERSION -> someone else bumped it: give /controller
 *                  back (if still ours) -> IDLE
 *                  CONNECTION_LOSS -> read again: E+1 at version+1 is ours
 *   ACTIVE     reconcile passes -> IDLE when the view names another
 *              controller, when /controller vanished after the view showed
 *              it ours, when a write's /controller_epoch fence fails, when
 *              the session changes, on controller_free (which deletes
 *              /controller, fenced).
 *
 * The state counts terms (c->term, +1 on every change): completions of an
 * older term fall on the floor, except that they clear the per-partition
 * "write in flight" mark, which spans terms so that a znode never has two
 * of our writes in flight.
 *
 * Reconcile pass (ACTIVE, at most once per loop iteration, plus directly
 * from controlled shutdown and preferred election), level-triggered: for
 * every partition of the copied view, outside topics being deleted, the
 * current state is the view's, or our own last landed write while the
 * view has not caught up with it (c->parts records); ce_decide() says
 * what it should be; a difference becomes one write:
 *
 *   create   multi{check /controller_epoch, create .../partitions/<p>,
 *            create .../state}; NOENT on the first create: create
 *            .../partitions, then again; EXISTS: multi{check, create state}
 *   update   multi{check /controller_epoch, set state @ zkVersion}
 *
 * Parents are created one level at a time, never with create_path, so a
 * write racing a topic deletion cannot resurrect /brokers/topics/<t>.
 * A write that fails on the state's own version (someone else wrote it)
 * marks the partition stale: it is skipped until the view shows a
 * different version, then decided afresh. A create that finds the topic
 * znode gone waits for the next view (the topic is being deleted). Other
 * failures retry after RETRY_DELAY_S. A failed epoch check means a
 * successor exists (or someone edited the epoch): resign, giving our
 * /controller back if it is still ours.
 *
 * Topic configs (only unclean.leader.election.enable, only for partitions
 * whose answer depends on it) are read on demand and cached; the cached
 * value is used at once and refreshed in the background after every view
 * update, so a stream of updates never starves the decision.
 *
 * Watches: the controller watches /admin/delete_topics and
 * /isr_change_notification itself. It does not own the session, so it
 * cannot drop watches when it is freed: their opaque is not a pointer but
 * a token naming the controller in a per-thread registry, and a watch (or
 * its read's completion) whose controller is gone does nothing. Every
 * other request carries a heap context counted in c->pending; entry points
 * run between enter() and leave(), and controller_free() leaves the
 * struct to the last leave() once no completion is outstanding.
 *
 * Deletion of a marked topic: read the topic and config nodes and the
 * partitions' children, then delete deepest first (states, partitions/<p>,
 * partitions, topic, config, the mark) in fenced multis of at most
 * MULTI_MAX_OPS operations, one after the other; a failure restarts from
 * the reads after RETRY_DELAY_S.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ev.h>

#include "blog.h"
#include "controller.h"
#include "controller_elect.h"
#include "zk_paths.h"

#define SUBSYS "controller"
/* Pause before retrying what failed for a reason other than a conflict. */
#define RETRY_DELAY_S 1.0
/* Pause between election attempts while the view shows no controller but
 * /controller exists, and after a lost race for /controller_epoch. */
#define ELECT_RETRY_S 1.0
/* Steps of one write whose outcome stayed unknown, or whose parent kept
 * vanishing, before it waits for the next pass. */
#define WRITE_ATTEMPTS 10
/* A multi stays far below ZooKeeper's 1 MB jute.maxbuffer. */
#define MULTI_MAX_OPS 1000
#define MULTI_MAX_BYTES (512 * 1024)
#define UNCLEAN_KEY "unclean.leader.election.enable"

/* How resign() treats our /controller. */
#define KEEP_ZNODE 0      /* not ours any more, or gone with the session */
#define RELEASE_FENCED 1  /* active: delete fenced on our epoch version */
#define RELEASE_OWNED 2   /* delete if its ephemeralOwner is our session */

typedef enum ctl_state {
	CTL_IDLE,
	CTL_ELECTING,
	CTL_BUMPING,
	CTL_ACTIVE,
} ctl_state_t;

static const char *const state_names[] = {
	[CTL_IDLE] = "IDLE",
	[CTL_ELECTING] = "ELECTING",
	[CTL_BUMPING] = "BUMPING",
	[CTL_ACTIVE] = "ACTIVE",
};

typedef enum ctl_op {
	OP_ELECT_CREATE,
	OP_ELECT_CHECK,
	OP_EPOCH_GET,
	OP_EPOCH_CREATE,
	OP_EPOCH_SET,
	OP_RELEASE_GET,
	OP_RELEASE_DELETE,
	OP_RELEASE_FENCED,
	OP_STATE_WRITE,
	OP_STATE_PARENT,
	OP_CONFIG_GET,
	OP_FOLDER,
	OP_DEL_TOPIC,
	OP_DEL_PARTS,
	OP_DEL_PART,
	OP_DEL_CONFIG,
	OP_DEL_MULTI,
	OP_ISR_DELETE,
} ctl_op_t;

/* Steps of a state write. */
typedef enum ctl_step {
	STEP_SET,              /* multi{check, set state} */
	STEP_CREATE_PARENT,    /* multi{check, create partitions/<p>, create state} */
	STEP_CREATE,           /* multi{check, create state} */
	STEP_PARTITIONS,       /* create .../partitions, then STEP_CREATE_PARENT */
} ctl_step_t;

/* The two folders the controller watches. */
enum { FOLDER_MARKS, FOLDER_ISR };

typedef struct strlist {
	char **v;
	size_t n, cap;
} strlist_t;

/* A topic deletion in progress (or failed, waiting for retry_at). */
typedef enum del_state { DEL_READING, DEL_DELETING, DEL_FAILED } del_state_t;

typedef struct ctl_del {
	struct ctl_del *next;
	uint64_t term;
	del_state_t state;
	int refs;                /* requests in flight that point here */
	int waiting;             /* reads still to come back */
	int linked;              /* on c->dels; else freed by the last request */
	int failed;
	brook_err_t err;
	int topic_exists, config_exists, have_partitions;
	ev_tstamp retry_at;
	strlist_t children;      /* .../partitions/<p>/<child> */
	strlist_t parts;         /* .../partitions/<p> */
	strlist_t ops;           /* every delete, deepest first */
	size_t next_op;
	char topic[ZK_TOPIC_MAX + 1];
} ctl_del_t;

/* What the controller knows about one partition beyond the view: a write
 * in flight, our last landed write (until the view shows it), or a
 * conflict (skip until the view moves past stale_version). */
typedef struct ctl_part {
	struct ctl_part *next;
	uint32_t hash;
	int32_t partition;
	unsigned char inflight, has_record, has_stale, stale_has_state;
	int32_t record_version, stale_version;
	zk_partition_state_t record;
	char topic[];
} ctl_part_t;

/* A topic's unclean.leader.election.enable as last read. */
typedef struct ctl_tconf {
	int unclean;             /* -1: not known yet */
	int reading;
	uint64_t read_seq;       /* c->update_seq when the last read was sent */
	char topic[ZK_TOPIC_MAX + 1];
} ctl_tconf_t;

/* The context of one ZooKeeper request. */
typedef struct ctl_req {
	struct controller *c;
	uint64_t term;
	ctl_op_t op;
	ctl_step_t step;
	int attempt;
	int after_loss;          /* epoch read after a write of unknown outcome */
	int32_t partition;       /* state writes; FOLDER_* for OP_FOLDER */
	int32_t version;         /* expected version (-1: a create) */
	int32_t epoch;           /* epoch write: the value written */
	int32_t old_leader;
	unsigned reasons;
	size_t count;            /* deletion multi: delete operations in it */
	int64_t sid;             /* release: the session that owns /controller */
	ctl_del_t *del;
	zk_partition_state_t st;
	char topic[ZK_TOPIC_MAX + 1];
} ctl_req_t;

/* Options of one reconcile pass: preferred-leader election and its scope. */
typedef struct pass_opts {
	int preferred;
	const char *topic;       /* NULL: every topic */
	/* NULL: every partition; else those whose preferred replica is one of
	 * these (ascending) */
	const int32_t *brokers;
	int nbrokers;
	int started;             /* out: preferred moves issued */
} pass_opts_t;

struct controller {
	struct ev_loop *loop;
	zk_session_t *zk;
	int32_t id;
	controller_config_t cfg;
	uint64_t token;                /* names us to watches (registry) */
	struct controller *reg_next;

	ctl_state_t state;
	uint64_t term;
	int64_t sid;                   /* session that owns our /controller */
	int32_t epoch, epoch_version;  /* while ACTIVE */
	int seen_self;                 /* the view named us during this term */
	int self_checked;              /* idle, the view names us: owner checked */
	int closing, depth;
	size_t pending;                /* heap requests in flight */
	size_t watch_reads;            /* token reads in flight */
	ev_tstamp elect_not_before;

	metadata_t *md;                /* copy of the view; NULL when not needed */
	int32_t view_controller;
	uint64_t update_seq;

	int32_t *shutting;             /* ascending */
	size_t nshutting, cap_shutting;

	ctl_part_t **buckets;
	size_t nbuckets, nparts;

	ctl_tconf_t *confs;
	size_t nconfs, cap_confs;

	strlist_t marks;               /* children of /admin/delete_topics */
	ctl_del_t *dels;

	int marks_watch, isr_watch;    /* a watch armed, or a read arming one in flight */
	int64_t marks_watch_sid, isr_watch_sid;

	ev_timer pass_timer, retry_timer, elect_timer, rebalance_timer;
};

static void reconcile(controller_t *c, pass_opts_t *o);
static void elect(controller_t *c);
static void resign(controller_t *c, int release, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int state_issue(controller_t *c, ctl_req_t *r);
static void del_exec(controller_t *c, ctl_del_t *d);
static void arm_folder(controller_t *c, int which);

/* --- registry of live controllers (for watch tokens) --------------------- */

static _Thread_local controller_t *registry;
static _Thread_local uint64_t last_token;

static void *token_of(const controller_t *c)
{
	return (void *)(uintptr_t)c->token;
}

static controller_t *lookup(void *opaque)
{
	uint64_t token = (uint64_t)(uintptr_t)opaque;

	for (controller_t *c = registry; c; c = c->reg_next)
		if (c->token == token)
			return c;
	return NULL;
}

static void registry_remove(controller_t *c)
{
	for (controller_t **pp = &registry; *pp; pp = &(*pp)->reg_next) {
		if (*pp == c) {
			*pp = c->reg_next;
			return;
		}
	}
}

/* --- small helpers ------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int quiet_err(brook_err_t err)
{
	return err == BROOK_ERR__SESSION_EXPIRED || err == BROOK_ERR__CLOSED;
}

static const char *ids_str(const int32_t *ids, int n, char *buf, size_t size)
{
	size_t off = 0;

	off += (size_t)snprintf(buf, size, "[");
	for (int i = 0; i < n && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%d", i ? "," : "", (int)ids[i]);
	if (off < size)
		snprintf(buf + off, size - off, "]");
	return buf;
}

static void set_state(controller_t *c, ctl_state_t state)
{
	blog(BLOG_DEBUG, SUBSYS, "state %s -> %s", state_names[c->state], state_names[state]);
	c->state = state;
	c->term++;
}

static void enter(controller_t *c)
{
	c->depth++;
}

static void destroy(controller_t *c);

static void leave(controller_t *c)
{
	if (--c->depth == 0 && c->closing && c->pending == 0)
		destroy(c);
}

/* --- string lists ---------------------------------------------------------- */

static int strlist_contains(const strlist_t *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static brook_err_t strlist_add(strlist_t *l, const char *s)
{
	char *d;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		char **nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return BROOK_ERR__NOMEM;
		l->v = nv;
		l->cap = cap;
	}
	if (!(d = strdup(s)))
		return BROOK_ERR__NOMEM;
	l->v[l->n++] = d;
	return BROOK_ERR_NO_ERROR;
}

static void strlist_remove(strlist_t *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], s) == 0) {
			free(l->v[i]);
			l->v[i] = l->v[--l->n];
			return;
		}
	}
}

static void strlist_clear(strlist_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* --- requests ---------------------------------------------------------------- */

static ctl_req_t *req_new(controller_t *c, ctl_op_t op, const char *topic)
{
	ctl_req_t *r = calloc(1, sizeof(*r));

	if (!r) {
		blog(BLOG_ERROR, SUBSYS, "out of memory for a ZooKeeper request");
		return NULL;
	}
	r->c = c;
	r->term = c->term;
	r->op = op;
	if (topic)
		snprintf(r->topic, sizeof(r->topic), "%s", topic);
	return r;
}

/* A copy for the next step of the same operation. */
static ctl_req_t *req_next(const ctl_req_t *r)
{
	ctl_req_t *n = malloc(sizeof(*n));

	if (!n) {
		blog(BLOG_ERROR, SUBSYS, "out of memory for a ZooKeeper request");
		return NULL;
	}
	*n = *r;
	return n;
}

/* Takes the result of the zk_* call that was given r: from now on r is
 * the completion's, or it is freed here. */
static brook_err_t req_submitted(ctl_req_t *r, brook_err_t err)
{
	if (err) {
		free(r);
		return err;
	}
	r->c->pending++;
	if (r->del)
		r->del->refs++;
	return BROOK_ERR_NO_ERROR;
}

/* Opens a completion: 1 unless the controller is being freed. */
static int req_begin(ctl_req_t *r)
{
	enter(r->c);
	return !r->c->closing;
}

/* Whether a completion belongs to the current term of an active controller. */
static int req_current(const ctl_req_t *r)
{
	return !r->c->closing && r->term == r->c->term && r->c->state == CTL_ACTIVE;
}

static void del_free(ctl_del_t *d);

static void req_end(ctl_req_t *r)
{
	controller_t *c = r->c;
	ctl_del_t *d = r->del;

	c->pending--;
	if (d && --d->refs == 0 && !d->linked)
		del_free(d);
	free(r);
	leave(c);
}

/* --- timers ------------------------------------------------------------------ */

static void schedule_pass(controller_t *c)
{
	if (c->closing || c->state != CTL_ACTIVE || ev_is_active(&c->pass_timer))
		return;
	ev_timer_set(&c->pass_timer, 0., 0.);
	ev_timer_start(c->loop, &c->pass_timer);
}

/* Something failed for a reason that may pass: a pass in a while. */
static void schedule_retry(controller_t *c)
{
	if (c->closing || c->state != CTL_ACTIVE || ev_is_active(&c->retry_timer))
		return;
	ev_timer_set(&c->retry_timer, RETRY_DELAY_S, 0.);
	ev_timer_start(c->loop, &c->retry_timer);
}

/* Failures of one retry round get one WARN line (the first); the rest
 * are DEBUG, so an outage costs a line a second, not one per partition. */
static int retry_level(const controller_t *c)
{
	return ev_is_active(&c->retry_timer) ? BLOG_DEBUG : BLOG_WARN;
}

static void elect_later(controller_t *c, double delay)
{
	if (c->closing || ev_is_active(&c->elect_timer))
		return;
	ev_timer_set(&c->elect_timer, delay, 0.);
	ev_timer_start(c->loop, &c->elect_timer);
}

static void pass_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	controller_t *c = w->data;

	(void)loop;
	(void)revents;
	enter(c);
	reconcile(c, NULL);
	leave(c);
}

static void elect_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	controller_t *c = w->data;

	(void)loop;
	(void)revents;
	enter(c);
	elect(c);
	leave(c);
}

static void auto_rebalance(controller_t *c);

static void rebalance_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	controller_t *c = w->data;

	(void)loop;
	(void)revents;
	enter(c);
	auto_rebalance(c);
	leave(c);
}

/* --- brokers in controlled shutdown ------------------------------------------ */

static int shutting_contains(const controller_t *c, int32_t id)
{
	return ce_sorted_contains(c->shutting, (int)c->nshutting, id);
}

static brook_err_t shutting_add(controller_t *c, int32_t id)
{
	size_t at = 0;

	if (shutting_contains(c, id))
		return BROOK_ERR_NO_ERROR;
	if (c->nshutting == c->cap_shutting) {
		size_t cap = c->cap_shutting ? 2 * c->cap_shutting : 8;
		int32_t *n = realloc(c->shutting, cap * sizeof(*n));

		if (!n)
			return BROOK_ERR__NOMEM;
		c->shutting = n;
		c->cap_shutting = cap;
	}
	while (at < c->nshutting && c->shutting[at] < id)
		at++;
	memmove(&c->shutting[at + 1], &c->shutting[at], (c->nshutting - at) * sizeof(*c->shutting));
	c->shutting[at] = id;
	c->nshutting++;
	return BROOK_ERR_NO_ERROR;
}

/* A broker that left the view is done shutting down (a restarted one asks
 * again). */
static void shutting_prune(controller_t *c, const metadata_t *md)
{
	size_t k = 0;

	for (size_t i = 0; i < c->nshutting; i++) {
		if (metadata_broker_alive(md, c->shutting[i]))
			c->shutting[k++] = c->shutting[i];
		else
			blog(BLOG_INFO, SUBSYS, "broker %d finished its controlled shutdown",
			     (int)c->shutting[i]);
	}
	c->nshutting = k;
}

/* --- partition records -------------------------------------------------------- */

static uint32_t part_hash(const char *topic, int32_t p)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (const unsigned char *s = (const unsigned char *)topic; *s; s++) {
		h ^= *s;
		h *= 16777619u;
	}
	for (int i = 0; i < 4; i++) {
		h ^= ((uint32_t)p >> (8 * i)) & 0xffu;
		h *= 16777619u;
	}
	return h;
}

static ctl_part_t *part_find(const controller_t *c, const char *topic, int32_t p)
{
	uint32_t h;

	if (!c->nbuckets)
		return NULL;
	h = part_hash(topic, p);
	for (ctl_part_t *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && e->partition == p && strcmp(e->topic, topic) == 0)
			return e;
	return NULL;
}

static ctl_part_t *part_get(controller_t *c, const char *topic, int32_t p)
{
	ctl_part_t *e = part_find(c, topic, p);
	size_t len;

	if (e)
		return e;
	if (c->nparts >= c->nbuckets) {
		size_t nb = c->nbuckets ? 2 * c->nbuckets : 64;
		ctl_part_t **b = calloc(nb, sizeof(*b));

		if (!b)
			return NULL;
		for (size_t i = 0; i < c->nbuckets; i++) {
			ctl_part_t *x, *next;

			for (x = c->buckets[i]; x; x = next) {
				next = x->next;
				x->next = b[x->hash & (nb - 1)];
				b[x->hash & (nb - 1)] = x;
			}
		}
		free(c->buckets);
		c->buckets = b;
		c->nbuckets = nb;
	}
	len = strlen(topic);
	if (!(e = calloc(1, sizeof(*e) + len + 1)))
		return NULL;
	memcpy(e->topic, topic, len + 1);
	e->partition = p;
	e->hash = part_hash(topic, p);
	e->next = c->buckets[e->hash & (c->nbuckets - 1)];
	c->buckets[e->hash & (c->nbuckets - 1)] = e;
	c->nparts++;
	return e;
}

/* Frees e once it holds nothing. */
static void part_maybe_free(controller_t *c, ctl_part_t *e)
{
	ctl_part_t **pp;

	if (!e || e->inflight || e->has_record || e->has_stale)
		return;
	for (pp = &c->buckets[e->hash & (c->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			c->nparts--;
			free(e);
			return;
		}
	}
}

/* The view still shows what our failed write was based on. */
static int stale_matches(const ctl_part_t *e, const md_partition_t *mp)
{
	return mp->has_state == e->stale_has_state &&
	       (!mp->has_state || mp->state_version == e->stale_version);
}

/* Drops what the view has caught up with (records it shows, conflicts it
 * moved past) and whatever belongs to partitions it no longer has. With
 * `topic`, only that topic's entries, all of them (a deleted topic). */
static void parts_sweep(controller_t *c, const char *topic)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		ctl_part_t *e = c->buckets[i], *next;

		for (; e; e = next) {
			const md_partition_t *mp;

			next = e->next;
			if (topic) {
				if (strcmp(e->topic, topic) != 0)
					continue;
				mp = NULL;
			} else {
				mp = c->md ? metadata_partition(c->md, e->topic, e->partition) :
					     NULL;
			}
			if (!mp) {
				e->has_record = e->has_stale = 0;
			} else {
				if (e->has_record && mp->has_state &&
				    mp->state_version >= e->record_version)
					e->has_record = 0;
				if (e->has_stale && !stale_matches(e, mp))
					e->has_stale = 0;
			}
			part_maybe_free(c, e);
		}
	}
}

/* A new term starts from the view alone. */
static void parts_forget(controller_t *c)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		ctl_part_t *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->has_record = e->has_stale = 0;
			part_maybe_free(c, e);
		}
	}
}

/* --- topic configs ----------------------------------------------------------- */

static ctl_tconf_t *conf_find(controller_t *c, const char *topic)
{
	for (size_t i = 0; i < c->nconfs; i++)
		if (strcmp(c->confs[i].topic, topic) == 0)
			return &c->confs[i];
	return NULL;
}

static ctl_tconf_t *conf_get(controller_t *c, const char *topic)
{
	ctl_tconf_t *tc = conf_find(c, topic);

	if (tc)
		return tc;
	if (c->nconfs == c->cap_confs) {
		size_t cap = c->cap_confs ? 2 * c->cap_confs : 8;
		ctl_tconf_t *n = realloc(c->confs, cap * sizeof(*n));

		if (!n)
			return NULL;
		c->confs = n;
		c->cap_confs = cap;
	}
	tc = &c->confs[c->nconfs++];
	memset(tc, 0, sizeof(*tc));
	tc->unclean = -1;
	snprintf(tc->topic, sizeof(tc->topic), "%s", topic);
	return tc;
}

static void conf_remove(controller_t *c, const char *topic)
{
	ctl_tconf_t *tc = conf_find(c, topic);

	if (tc)
		*tc = c->confs[--c->nconfs];
}

/* Forgets the configs of topics the view no longer has (a read in flight
 * finds nothing to fill and is dropped). */
static void confs_sweep(controller_t *c)
{
	for (size_t i = c->nconfs; i-- > 0;)
		if (!c->md || !metadata_topic(c->md, c->confs[i].topic))
			c->confs[i] = c->confs[--c->nconfs];
}

/* Kafka's booleans: "true" / "false", any case. */
static int parse_unclean(const char *topic, const char *data, size_t len, int dflt)
{
	zk_topic_config_t *cfg = NULL;
	const char *v;
	char errstr[256];
	int out = dflt;

	if (zk_json_topic_config_decode(data, len, &cfg, errstr, sizeof(errstr))) {
		blog(BLOG_WARN, SUBSYS, "%s/%s: %s; using unclean.leader.election.enable=%s",
		     ZK_PATH_CONFIG_TOPICS, topic, errstr, dflt ? "true" : "false");
		return dflt;
	}
	if ((v = zk_topic_config_get(cfg, UNCLEAN_KEY))) {
		if (strcasecmp(v, "true") == 0)
			out = 1;
		else if (strcasecmp(v, "false") == 0)
			out = 0;
		else
			blog(BLOG_WARN, SUBSYS, "%s/%s: %s: not a boolean: %s; using %s",
			     ZK_PATH_CONFIG_TOPICS, topic, UNCLEAN_KEY, v, dflt ? "true" : "false");
	}
	zk_topic_config_free(cfg);
	return out;
}

static void on_config(zk_session_t *s, brook_err_t err, const char *data, size_t len,
		      const zk_stat_t *stat, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;
	ctl_tconf_t *tc;
	int v;

	(void)s;
	(void)stat;
	if (!req_begin(r) || !(tc = conf_find(c, r->topic)))
		goto out;
	tc->reading = 0;
	if (err == BROOK_ERR__NOENT) {
		v = c->cfg.unclean_leader_election_enable;
	} else if (!err) {
		v = parse_unclean(r->topic, data, len, c->cfg.unclean_leader_election_enable);
	} else {
		if (!quiet_err(err))
			blog(retry_level(c), SUBSYS, "reading %s/%s: %s; retrying",
			     ZK_PATH_CONFIG_TOPICS, r->topic, brook_err_str(err));
		schedule_retry(c);
		goto out;
	}
	if (v != tc->unclean) {
		tc->unclean = v;
		schedule_pass(c);
	}
out:
	req_end(r);
}

/* The topic's unclean.leader.election.enable: the cached value (refreshed
 * in the background when the view changed since it was read), or -1 while
 * the first read is in flight. */
static int topic_unclean(controller_t *c, const char *topic)
{
	ctl_tconf_t *tc = conf_get(c, topic);
	char path[ZK_PATH_MAX];
	ctl_req_t *r;
	brook_err_t err;

	if (!tc) {
		blog(BLOG_WARN, SUBSYS, "out of memory caching the config of %s", topic);
		return c->cfg.unclean_leader_election_enable;
	}
	if (tc->reading || (tc->unclean >= 0 && tc->read_seq >= c->update_seq))
		return tc->unclean;
	if ((err = zk_path_topic_config(path, sizeof(path), topic)) ||
	    !(r = req_new(c, OP_CONFIG_GET, topic))) {
		schedule_retry(c);
		return tc->unclean;
	}
	tc->reading = 1;
	tc->read_seq = c->update_seq;
	if ((err = req_submitted(r, zk_get(c->zk, path, NULL, on_config, r)))) {
		tc->reading = 0;
		if (!quiet_err(err))
			schedule_retry(c);
	}
	return tc->unclean;
}

/* --- the view ----------------------------------------------------------------- */

/* Our own copy: the caller's is only valid during controller_update(). */
static metadata_t *view_copy(const metadata_t *src)
{
	metadata_t *md = metadata_new();

	if (!md)
		return NULL;
	metadata_set_controller(md, src->controller_id);
	if (metadata_set_brokers(md, src->brokers, src->nbrokers, NULL))
		goto fail;
	for (size_t i = 0; i < src->ntopics; i++) {
		const md_topic_t *t = src->topics[i];
		zk_topic_assignment_t a;
		zk_replica_list_t *lists;
		brook_err_t err;

		memset(&a, 0, sizeof(a));
		lists = calloc(t->npartitions > 0 ? (size_t)t->npartitions : 1, sizeof(*lists));
		if (!lists)
			goto fail;
		for (int32_t p = 0; p < t->npartitions; p++) {
			lists[p].cnt = t->partitions[p].nreplicas;
			lists[p].ids = t->partitions[p].replicas;
		}
		a.version = 1;
		a.partition_cnt = t->npartitions;
		a.partitions = lists;
		err = metadata_set_topic(md, t->name, &a, NULL);
		free(lists);
		if (err)
			goto fail;
		for (int32_t p = 0; p < t->npartitions; p++) {
			const md_partition_t *mp = &t->partitions[p];
			zk_partition_state_t st;

			if (!mp->has_state)
				continue;
			memset(&st, 0, sizeof(st));
			st.version = 1;
			st.controller_epoch = mp->controller_epoch;
			st.leader = mp->leader;
			st.leader_epoch = mp->leader_epoch;
			st.isr_cnt = mp->nisr < ZK_MAX_REPLICAS ? mp->nisr : ZK_MAX_REPLICAS;
			if (st.isr_cnt > 0)
				memcpy(st.isr, mp->isr, (size_t)st.isr_cnt * sizeof(*st.isr));
			if (metadata_set_partition_state(md, t->name, p, &st, mp->state_version,
							 NULL))
				goto fail;
		}
	}
	return md;
fail:
	metadata_free(md);
	return NULL;
}

/* Topics the pass leaves alone: those being deleted. (Once deleted, the
 * view may list a topic a little longer; writes to it fail harmlessly,
 * since parents are never created above .../partitions.) */
static int topic_excluded(const controller_t *c, const char *topic)
{
	return c->cfg.delete_topic_enable && strlist_contains(&c->marks, topic);
}

/* The current state of mp as far as we know: our landed write while the
 * view lags behind it, else the view's. */
static void current_state(const controller_t *c, const char *topic, const md_partition_t *mp,
			  ce_partition_t *p, int32_t *version)
{
	const ctl_part_t *e = part_find(c, topic, mp->id);

	p->replicas = mp->replicas;
	p->nrep = mp->nreplicas;
	if (e && e->has_record) {
		p->has_state = 1;
		p->leader = e->record.leader;
		p->leader_epoch = e->record.leader_epoch;
		p->isr = e->record.isr;
		p->nisr = e->record.isr_cnt;
		*version = e->record_version;
	} else {
		p->has_state = mp->has_state;
		p->leader = mp->has_state ? mp->leader : -1;
		p->leader_epoch = mp->leader_epoch;
		p->isr = mp->isr;
		p->nisr = mp->nisr;
		*version = mp->state_version;
	}
}

/* --- giving /controller back -------------------------------------------------- */

static void on_released(zk_session_t *s, brook_err_t err, void *opaque)
{
	ctl_req_t *r = opaque;

	(void)s;
	req_begin(r);
	if (!err)
		blog(BLOG_INFO, SUBSYS, "deleted %s", ZK_PATH_CONTROLLER);
	else if (err != BROOK_ERR__NOENT && !quiet_err(err))
		blog(BLOG_WARN, SUBSYS, "deleting %s: %s (it goes with our session)",
		     ZK_PATH_CONTROLLER, brook_err_str(err));
	req_end(r);
}

static void on_released_fenced(zk_session_t *s, brook_err_t err, const zk_multi_t *m, void *opaque)
{
	ctl_req_t *r = opaque;

	(void)s;
	req_begin(r);
	if (!err)
		blog(BLOG_INFO, SUBSYS, "deleted %s", ZK_PATH_CONTROLLER);
	else if (zk_multi_failed_op(m) == 0)
		blog(BLOG_INFO, SUBSYS, "not deleting %s: %s moved on (a successor holds it)",
		     ZK_PATH_CONTROLLER, ZK_PATH_CONTROLLER_EPOCH);
	else if (err != BROOK_ERR__NOENT && !quiet_err(err))
		blog(BLOG_WARN, SUBSYS, "deleting %s: %s (it goes with our session)",
		     ZK_PATH_CONTROLLER, brook_err_str(err));
	req_end(r);
}

static void on_release_get(zk_session_t *s, brook_err_t err, const char *data, size_t len,
			   const zk_stat_t *stat, void *opaque)
{
	ctl_req_t *r = opaque, *d;
	controller_t *c = r->c;

	(void)data;
	(void)len;
	req_begin(r);
	if (!err && stat->ephemeral_owner == r->sid && zk_session_id(s) == r->sid &&
	    (d = req_new(c, OP_RELEASE_DELETE, NULL)))
		req_submitted(d, zk_delete(s, ZK_PATH_CONTROLLER, stat->version, on_released, d));
	req_end(r);
}

/* Deletes our /controller. RELEASE_FENCED while active: in a multi fenced
 * on the epoch version we wrote (Kafka's deleteController), so a
 * successor's node is never touched. Otherwise (before the bump, or when
 * the fence itself failed: someone moved the epoch while our node stayed,
 * and nobody would take office while it stands): only when its
 * ephemeralOwner is our session. */
static void release_controller(controller_t *c, int mode)
{
	ctl_req_t *r;

	if (!c->sid || zk_session_id(c->zk) != c->sid)
		return;   /* the node went with the session */
	if (mode == RELEASE_FENCED && c->state == CTL_ACTIVE) {
		zk_multi_t *m = zk_multi_new();

		if (!m || zk_multi_add_check(m, ZK_PATH_CONTROLLER_EPOCH, c->epoch_version) ||
		    zk_multi_add_delete(m, ZK_PATH_CONTROLLER, ZK_ANY_VERSION) ||
		    !(r = req_new(c, OP_RELEASE_FENCED, NULL))) {
			zk_multi_free(m);
			return;
		}
		req_submitted(r, zk_multi(c->zk, m, on_released_fenced, r));
		return;
	}
	if (!(r = req_new(c, OP_RELEASE_GET, NULL)))
		return;
	r->sid = c->sid;
	req_submitted(r, zk_get(c->zk, ZK_PATH_CONTROLLER, NULL, on_release_get, r));
}

/* --- terms ---------------------------------------------------------------------- */

static void resign(controller_t *c, int release, const char *fmt, ...)
{
	ctl_state_t was = c->state;
	int32_t epoch = c->epoch;
	char why[512];
	va_list ap;

	if (was == CTL_IDLE)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (release != KEEP_ZNODE) {
		release_controller(c, release);
		/* Not before the delete has landed: a create now would find
		 * our own node and take office on it again. Then again even
		 * if no view change comes to say the office is free. */
		c->elect_not_before = ev_now(c->loop) + ELECT_RETRY_S;
		elect_later(c, ELECT_RETRY_S);
	}
	if (was == CTL_ACTIVE)
		blog(BLOG_INFO, SUBSYS, "broker %d resigns as controller (epoch %d): %s",
		     (int)c->id, (int)epoch, why);
	else
		blog(BLOG_INFO, SUBSYS, "broker %d leaves the controller election: %s", (int)c->id,
		     why);
	set_state(c, CTL_IDLE);
	c->sid = 0;
	c->epoch = -1;
	c->epoch_version = -1;
	c->seen_self = 0;
	c->nshutting = 0;
	c->nconfs = 0;
	parts_forget(c);
	ev_timer_stop(c->loop, &c->pass_timer);
	ev_timer_stop(c->loop, &c->retry_timer);
	ev_timer_stop(c->loop, &c->rebalance_timer);
	if (was == CTL_ACTIVE && !c->closing && c->cfg.on_active)
		c->cfg.on_active(c->cfg.opaque, 0, epoch);
}

/* A new session id means the old session, and /controller with it, is
 * gone; so are the watches it carried. */
static void check_session(controller_t *c)
{
	int64_t sid = zk_session_id(c->zk);

	if (c->marks_watch && c->marks_watch_sid != sid)
		c->marks_watch = 0;
	if (c->isr_watch && c->isr_watch_sid != sid)
		c->isr_watch = 0;
	if ((c->state == CTL_BUMPING || c->state == CTL_ACTIVE) && sid != c->sid)
		resign(c, KEEP_ZNODE, "ZooKeeper session 0x%llx is gone, and %s with it",
		       (unsigned long long)c->sid, ZK_PATH_CONTROLLER);
}

static void become_active(controller_t *c, int32_t epoch, int32_t version)
{
	c->epoch = epoch;
	c->epoch_version = version;
	set_state(c, CTL_ACTIVE);
	c->seen_self = c->view_controller == c->id;
	blog(BLOG_INFO, SUBSYS, "broker %d is the controller, epoch %d", (int)c->id, (int)epoch);
	if (c->cfg.auto_leader_rebalance_enable) {
		double iv = (double)c->cfg.leader_imbalance_check_interval_ms / 1000.0;

		ev_timer_set(&c->rebalance_timer, iv, iv);
		ev_timer_start(c->loop, &c->rebalance_timer);
	}
	if (c->cfg.on_active)
		c->cfg.on_active(c->cfg.opaque, 1, epoch);
	schedule_pass(c);
}

/* A write's check on /controller_epoch failed: a successor bumped it (or
 * someone edited it). Kafka's ControllerMovedException: resign. */
static void fenced_out(controller_t *c)
{
	resign(c, RELEASE_OWNED, "%s moved past our version %d: another controller took over",
	       ZK_PATH_CONTROLLER_EPOCH, (int)c->epoch_version);
}

/* Someone else moved /controller_epoch while we were taking office. */
static void lost_bump(controller_t *c, const char *what)
{
	blog(BLOG_WARN, SUBSYS, "%s changed while broker %d was taking office (%s); giving up %s",
	     ZK_PATH_CONTROLLER_EPOCH, (int)c->id, what, ZK_PATH_CONTROLLER);
	resign(c, RELEASE_OWNED, "lost the race for %s", ZK_PATH_CONTROLLER_EPOCH);
}

/* --- election ------------------------------------------------------------------- */

static void epoch_read(controller_t *c, const ctl_req_t *prev, int after_loss);

static void on_epoch_set(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;

	(void)s;
	if (!req_begin(r) || r->term != c->term || c->state != CTL_BUMPING)
		goto out;
	if (!err)
		become_active(c, r->epoch, stat->version);
	else if (err == BROOK_ERR__VERSION)
		lost_bump(c, "version check failed");
	else if (err == BROOK_ERR__CONNECTION_LOSS || err == BROOK_ERR__NOENT)
		epoch_read(c, r, err == BROOK_ERR__CONNECTION_LOSS);
	else if (quiet_err(err))
		resign(c, KEEP_ZNODE, "%s", brook_err_str(err));
	else
		resign(c, RELEASE_OWNED, "cannot write %s: %s", ZK_PATH_CONTROLLER_EPOCH,
		       brook_err_str(err));
out:
	req_end(r);
}

static void on_epoch_created(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;

	(void)s;
	(void)path;
	if (!req_begin(r) || r->term != c->term || c->state != CTL_BUMPING)
		goto out;
	if (!err)
		become_active(c, 1, 0);
	else if (err == BROOK_ERR__EXISTS || err == BROOK_ERR__CONNECTION_LOSS)
		epoch_read(c, r, err == BROOK_ERR__CONNECTION_LOSS);
	else if (quiet_err(err))
		resign(c, KEEP_ZNODE, "%s", brook_err_str(err));
	else
		resign(c, RELEASE_OWNED, "cannot create %s: %s", ZK_PATH_CONTROLLER_EPOCH,
		       brook_err_str(err));
out:
	req_end(r);
}

static void epoch_read(controller_t *c, const ctl_req_t *prev, int after_loss);

/* Writes the bumped epoch: a create of "1" (expected -1), else a set of
 * `epoch` on `version`. */
static void epoch_write(controller_t *c, const ctl_req_t *prev, int32_t epoch, int32_t version)
{
	ctl_req_t *r = req_new(c, version < 0 ? OP_EPOCH_CREATE : OP_EPOCH_SET, NULL);
	char *text = NULL;
	brook_err_t err;

	if (!r || (err = zk_json_controller_epoch_encode(epoch, &text))) {
		free(r);
		resign(c, RELEASE_OWNED, "cannot encode epoch %d", (int)epoch);
		return;
	}
	r->attempt = prev ? prev->attempt + 1 : 0;
	r->epoch = epoch;
	r->version = version;
	if (version < 0)
		err = req_submitted(r, zk_create(c->zk, ZK_PATH_CONTROLLER_EPOCH, text,
						 strlen(text), ZK_PERSISTENT, on_epoch_created,
						 r));
	else
		err = req_submitted(r, zk_set(c->zk, ZK_PATH_CONTROLLER_EPOCH, text, strlen(text),
					      version, on_epoch_set, r));
	free(text);
	if (err == BROOK_ERR__CONNECTION_LOSS && prev)
		epoch_read(c, prev, 0);   /* no connection yet: a read waits for one */
	else if (err)
		resign(c, quiet_err(err) ? KEEP_ZNODE : RELEASE_OWNED, "cannot write %s: %s",
		       ZK_PATH_CONTROLLER_EPOCH, brook_err_str(err));
}

static void on_epoch(zk_session_t *s, brook_err_t err, const char *data, size_t len,
		     const zk_stat_t *stat, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;
	char errstr[256];
	int32_t epoch;

	(void)s;
	if (!req_begin(r) || r->term != c->term || c->state != CTL_BUMPING)
		goto out;
	if (r->attempt >= WRITE_ATTEMPTS) {
		resign(c, RELEASE_OWNED, "%s kept changing under us", ZK_PATH_CONTROLLER_EPOCH);
		goto out;
	}
	if (err == BROOK_ERR__NOENT) {
		/* Kafka's first controller creates the node with epoch 1 (after a
		 * lost create, NOENT says it did not land: create again). */
		epoch_write(c, r, 1, -1);
	} else if (!err) {
		if (zk_json_controller_epoch_decode(data, len, &epoch, errstr, sizeof(errstr))) {
			blog(BLOG_ERROR, SUBSYS, "%s: %s", ZK_PATH_CONTROLLER_EPOCH, errstr);
			resign(c, RELEASE_OWNED, "cannot read %s", ZK_PATH_CONTROLLER_EPOCH);
			} else if (!r->after_loss) {
			if (epoch == INT32_MAX)
				resign(c, RELEASE_OWNED, "%s is at its maximum",
				       ZK_PATH_CONTROLLER_EPOCH);
			else
				epoch_write(c, r, epoch + 1, stat->version);
		} else if (epoch == r->epoch && stat->version == r->version + 1) {
			become_active(c, epoch, stat->version);   /* our lost write landed */
		} else if (epoch == r->epoch - 1 && stat->version == r->version) {
			epoch_write(c, r, r->epoch, r->version);  /* it did not: again */
		} else {
			lost_bump(c, "changed during a lost connection");
		}
	} else if (err == BROOK_ERR__CONNECTION_LOSS) {
		epoch_read(c, r, r->after_loss);
	} else if (quiet_err(err)) {
		resign(c, KEEP_ZNODE, "%s", brook_err_str(err));
	} else {
		resign(c, RELEASE_OWNED, "cannot read %s: %s", ZK_PATH_CONTROLLER_EPOCH,
		       brook_err_str(err));
	}
out:
	req_end(r);
}

/* Reads /controller_epoch; after_loss: prev's write of prev->epoch on
 * prev->version has an unknown outcome, and the read tells. */
static void epoch_read(controller_t *c, const ctl_req_t *prev, int after_loss)
{
	ctl_req_t *r = req_new(c, OP_EPOCH_GET, NULL);
	brook_err_t err;

	if (!r) {
		resign(c, RELEASE_OWNED, "out of memory");
		return;
	}
	if (prev) {
		r->attempt = prev->attempt + 1;
		r->epoch = prev->epoch;
		r->version = prev->version;
	}
	r->after_loss = after_loss;
	if ((err = req_submitted(r, zk_get(c->zk, ZK_PATH_CONTROLLER_EPOCH, NULL, on_epoch, r))))
		resign(c, quiet_err(err) ? KEEP_ZNODE : RELEASE_OWNED, "cannot read %s: %s",
		       ZK_PATH_CONTROLLER_EPOCH, brook_err_str(err));
}

static void won(controller_t *c, int64_t sid)
{
	c->sid = sid;
	set_state(c, CTL_BUMPING);
	blog(BLOG_DEBUG, SUBSYS, "broker %d holds %s; bumping %s", (int)c->id, ZK_PATH_CONTROLLER,
	     ZK_PATH_CONTROLLER_EPOCH);
	epoch_read(c, NULL, 0);
}

static void lost(controller_t *c, const char *why)
{
	blog(BLOG_DEBUG, SUBSYS, "broker %d did not get %s: %s", (int)c->id, ZK_PATH_CONTROLLER,
	     why);
	set_state(c, CTL_IDLE);
	/* The view names the winner soon; until then (or if its node
	 * vanished unseen) try again now and then. */
	elect_later(c, ELECT_RETRY_S);
}

static void elect_create(controller_t *c, int attempt);
static void elect_check(controller_t *c, int attempt);

static void on_elect_check(zk_session_t *s, brook_err_t err, const char *data, size_t len,
			   const zk_stat_t *stat, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;
	zk_controller_t who;
	char errstr[128], why[160];

	if (!req_begin(r) || r->term != c->term || c->state != CTL_ELECTING)
		goto out;
	if (!err && stat->ephemeral_owner == zk_session_id(s)) {
		won(c, zk_session_id(s));
	} else if (!err) {
		if (zk_json_controller_decode(data, len, &who, errstr, sizeof(errstr)) == 0)
			snprintf(why, sizeof(why), "broker %d holds it", (int)who.broker_id);
		else
			snprintf(why, sizeof(why), "another session holds it");
		lost(c, why);
	} else if (err == BROOK_ERR__NOENT && r->attempt < WRITE_ATTEMPTS) {
		elect_create(c, r->attempt + 1);
	} else if (err == BROOK_ERR__CONNECTION_LOSS && r->attempt < WRITE_ATTEMPTS) {
		elect_check(c, r->attempt + 1);
	} else {
		lost(c, brook_err_str(err));
	}
out:
	req_end(r);
}

static void elect_check(controller_t *c, int attempt)
{
	ctl_req_t *r = req_new(c, OP_ELECT_CHECK, NULL);
	brook_err_t err;

	if (!r) {
		lost(c, "out of memory");
		return;
	}
	r->attempt = attempt;
	if ((err = req_submitted(r, zk_get(c->zk, ZK_PATH_CONTROLLER, NULL, on_elect_check, r))))
		lost(c, brook_err_str(err));
}

static void on_elect_created(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;

	(void)path;
	if (!req_begin(r)) {
		/* Freed meanwhile: give back what we just won. */
		if (!err) {
			c->sid = zk_session_id(s);
			release_controller(c, RELEASE_OWNED);
		}
		goto out;
	}
	if (r->term != c->term || c->state != CTL_ELECTING)
		goto out;
	if (!err)
		won(c, zk_session_id(s));
	else if (err == BROOK_ERR__EXISTS || err == BROOK_ERR__CONNECTION_LOSS)
		elect_check(c, r->attempt);   /* whose is it? after a loss maybe ours */
	else
		lost(c, brook_err_str(err));
out:
	req_end(r);
}

static void elect_create(controller_t *c, int attempt)
{
	zk_controller_t me;
	char *json = NULL;
	ctl_req_t *r;
	brook_err_t err;

	memset(&me, 0, sizeof(me));
	me.version = 1;
	me.broker_id = c->id;
	me.timestamp_ms = now_ms();
	if ((err = zk_json_controller_encode(&me, &json))) {
		lost(c, brook_err_str(err));
		return;
	}
	if (!(r = req_new(c, OP_ELECT_CREATE, NULL))) {
		free(json);
		lost(c, "out of memory");
		return;
	}
	r->attempt = attempt;
	err = req_submitted(r, zk_create(c->zk, ZK_PATH_CONTROLLER, json, strlen(json),
					 ZK_EPHEMERAL, on_elect_created, r));
	free(json);
	if (err)
		lost(c, brook_err_str(err));
}

/* Runs for the office when the view shows nobody holding it. */
static void elect(controller_t *c)
{
	ev_tstamp now = ev_now(c->loop);

	if (c->closing || c->state != CTL_IDLE || c->view_controller >= 0)
		return;
	if (now < c->elect_not_before) {
		elect_later(c, c->elect_not_before - now);
		return;
	}
	ev_timer_stop(c->loop, &c->elect_timer);
	set_state(c, CTL_ELECTING);
	elect_create(c, 0);
}

/* --- watched folders: deletion requests, ISR change notifications -------------- */

static void process_marks(controller_t *c);

static void on_folder_created(zk_session_t *s, brook_err_t err, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;

	(void)s;
	if (req_begin(r) && c->state == CTL_ACTIVE) {
		if (err && !quiet_err(err)) {
			blog(BLOG_WARN, SUBSYS, "cannot create %s: %s",
			     r->partition == FOLDER_MARKS ? ZK_PATH_DELETE_TOPICS :
							    ZK_PATH_ISR_CHANGE,
			     brook_err_str(err));
			schedule_retry(c);
		} else if (!err) {
			arm_folder(c, r->partition);
		}
	}
	req_end(r);
}

/* The folder does not exist (a cluster without brokers' startup paths):
 * create it and watch it then. */
static void folder_create(controller_t *c, int which)
{
	ctl_req_t *r = req_new(c, OP_FOLDER, NULL);

	if (!r) {
		schedule_retry(c);
		return;
	}
	r->partition = which;
	if (req_submitted(r, zk_create_path(c->zk, which == FOLDER_MARKS ? ZK_PATH_DELETE_TOPICS :
						       ZK_PATH_ISR_CHANGE, on_folder_created, r)))
		schedule_retry(c);
}

static void on_isr_deleted(zk_session_t *s, brook_err_t err, void *opaque)
{
	ctl_req_t *r = opaque;

	(void)s;
	if (req_begin(r) && err && err != BROOK_ERR__NOENT && !quiet_err(err))
		blog(BLOG_DEBUG, SUBSYS, "deleting %s/%s: %s", ZK_PATH_ISR_CHANGE, r->topic,
		     brook_err_str(err));
	req_end(r);
}

/* Brokers learn ISR changes from their own watches on the state znodes,
 * so the notifications are only garbage here. */
static void isr_notifications(controller_t *c, const char *const *names, size_t count)
{
	if (count)
		blog(BLOG_DEBUG, SUBSYS, "removing %zu ISR change notification(s)", count);
	for (size_t i = 0; i < count && !c->closing; i++) {
		char path[ZK_PATH_MAX];
		ctl_req_t *r;

		if (strlen(names[i]) > ZK_TOPIC_MAX ||
		    snprintf(path, sizeof(path), "%s/%s", ZK_PATH_ISR_CHANGE, names[i]) >=
		    (int)sizeof(path) || !(r = req_new(c, OP_ISR_DELETE, names[i])))
			continue;
		req_submitted(r, zk_delete(c->zk, path, ZK_ANY_VERSION, on_isr_deleted, r));
	}
}

static void on_folder_watch(controller_t *c, int which)
{
	if (which == FOLDER_MARKS)
		c->marks_watch = 0;
	else
		c->isr_watch = 0;
	if (c->state == CTL_ACTIVE)
		arm_folder(c, which);
}

static void on_marks_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	controller_t *c = lookup(opaque);

	(void)s;
	(void)event;
	(void)path;
	if (!c)
		return;
	enter(c);
	on_folder_watch(c, FOLDER_MARKS);
	leave(c);
}

static void on_isr_watch(zk_session_t *s, zk_event_t event, const char *path, void *opaque)
{
	controller_t *c = lookup(opaque);

	(void)s;
	(void)event;
	(void)path;
	if (!c)
		return;
	enter(c);
	on_folder_watch(c, FOLDER_ISR);
	leave(c);
}

static void folder_read(controller_t *c, int which, brook_err_t err, const char *const *names,
			size_t count)
{
	c->watch_reads--;
	if (err) {
		if (which == FOLDER_MARKS)
			c->marks_watch = 0;
		else
			c->isr_watch = 0;
		if (c->state != CTL_ACTIVE || quiet_err(err))
			return;
		if (err == BROOK_ERR__NOENT) {
			folder_create(c, which);
		} else {
			blog(BLOG_WARN, SUBSYS, "reading %s: %s; retrying",
			     which == FOLDER_MARKS ? ZK_PATH_DELETE_TOPICS : ZK_PATH_ISR_CHANGE,
			     brook_err_str(err));
			schedule_retry(c);
		}
		return;
	}
	if (which == FOLDER_ISR) {
		if (c->state == CTL_ACTIVE)
			isr_notifications(c, names, count);
		return;
	}
	/* The marks are kept while inactive too: the watch stays armed across
	 * terms of one session, so this list is what a new term starts from. */
	for (size_t i = c->marks.n; i-- > 0;) {
		int still = 0;

		for (size_t j = 0; j < count && !still; j++)
			still = strcmp(names[j], c->marks.v[i]) == 0;
		if (!still)
			strlist_remove(&c->marks, c->marks.v[i]);
	}
	for (size_t j = 0; j < count; j++) {
		if (zk_topic_validate(names[j], NULL, 0)) {
			blog(BLOG_WARN, SUBSYS, "%s: ignoring %s: not a valid topic name",
			     ZK_PATH_DELETE_TOPICS, names[j]);
			continue;
		}
		if (!strlist_contains(&c->marks, names[j]) && strlist_add(&c->marks, names[j])) {
			blog(BLOG_WARN, SUBSYS, "out of memory listing deletion requests");
			c->marks_watch = 0;   /* read again later */
			schedule_retry(c);
			break;
		}
	}
	if (c->state == CTL_ACTIVE)
		schedule_pass(c);
}

static void on_marks(zk_session_t *s, brook_err_t err, const char *const *names, size_t count,
		     const zk_stat_t *stat, void *opaque)
{
	controller_t *c = lookup(opaque);

	(void)s;
	(void)stat;
	if (!c)
		return;
	enter(c);
	folder_read(c, FOLDER_MARKS, err, names, count);
	leave(c);
}

static void on_isr(zk_session_t *s, brook_err_t err, const char *const *names, size_t count,
		   const zk_stat_t *stat, void *opaque)
{
	controller_t *c = lookup(opaque);

	(void)s;
	(void)stat;
	if (!c)
		return;
	enter(c);
	folder_read(c, FOLDER_ISR, err, names, count);
	leave(c);
}

/* Reads a folder's children and leaves a watch, unless one is armed. */
static void arm_folder(controller_t *c, int which)
{
	int *flag = which == FOLDER_MARKS ? &c->marks_watch : &c->isr_watch;
	int64_t *fsid = which == FOLDER_MARKS ? &c->marks_watch_sid : &c->isr_watch_sid;
	brook_err_t err;

	if (*flag || c->closing)
		return;
	*flag = 1;
	*fsid = zk_session_id(c->zk);
	c->watch_reads++;
	if (which == FOLDER_MARKS)
		err = zk_get_children(c->zk, ZK_PATH_DELETE_TOPICS, on_marks_watch, on_marks,
				      token_of(c));
	else
		err = zk_get_children(c->zk, ZK_PATH_ISR_CHANGE, on_isr_watch, on_isr, token_of(c));
	if (err) {
		*flag = 0;
		c->watch_reads--;
		if (!quiet_err(err))
			schedule_retry(c);
	}
}

/* --- topic deletion --------------------------------------------------------------- */

static void del_free(ctl_del_t *d)
{
	strlist_clear(&d->children);
	strlist_clear(&d->parts);
	strlist_clear(&d->ops);
	free(d);
}

static ctl_del_t *del_find(controller_t *c, const char *topic)
{
	for (ctl_del_t *d = c->dels; d; d = d->next)
		if (strcmp(d->topic, topic) == 0)
			return d;
	return NULL;
}

/* Off the list; freed now or by its last request. */
static void del_release(controller_t *c, ctl_del_t *d)
{
	for (ctl_del_t **pp = &c->dels; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	d->linked = 0;
	if (d->refs == 0)
		del_free(d);
}

static void del_fail(controller_t *c, ctl_del_t *d, const char *what, brook_err_t err)
{
	if (!quiet_err(err))
		blog(BLOG_WARN, SUBSYS, "deleting topic %s: %s: %s; retrying in %.0f s", d->topic,
		     what, brook_err_str(err), RETRY_DELAY_S);
	d->state = DEL_FAILED;
	d->retry_at = ev_now(c->loop) + RETRY_DELAY_S;
	strlist_clear(&d->children);
	strlist_clear(&d->parts);
	strlist_clear(&d->ops);
	schedule_retry(c);
}

static void del_done(controller_t *c, ctl_del_t *d)
{
	char topic[ZK_TOPIC_MAX + 1];
	int existed = d->topic_exists;

	snprintf(topic, sizeof(topic), "%s", d->topic);
	if (existed)
		blog(BLOG_INFO, SUBSYS, "deleted topic %s (%zu znodes)", topic, d->ops.n - 1);
	else
		blog(BLOG_INFO, SUBSYS, "removed the deletion request for %s", topic);
	strlist_remove(&c->marks, topic);
	del_release(c, d);
	if (!existed)
		return;
	parts_sweep(c, topic);
	conf_remove(c, topic);
	if (c->cfg.on_topic_deleted)
		c->cfg.on_topic_deleted(c->cfg.opaque, topic);
}

static void on_del_multi(zk_session_t *s, brook_err_t err, const zk_multi_t *m, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;
	ctl_del_t *d = r->del;
	int failed;

	(void)s;
	if (!req_begin(r))
		goto out;
	if (!req_current(r) || !d->linked) {
		if (d->linked)
			del_release(c, d);
		goto out;
	}
	failed = zk_multi_failed_op(m);
	if (!err) {
		d->next_op += r->count;
		if (d->next_op < d->ops.n)
			del_exec(c, d);
		else
			del_done(c, d);
	} else if (failed == 0) {
		del_release(c, d);
		fenced_out(c);
	} else {
		size_t at = d->next_op + (failed > 0 ? (size_t)failed - 1 : 0);

		del_fail(c, d, failed > 0 && at < d->ops.n ? d->ops.v[at] : "multi", err);
	}
out:
	req_end(r);
}

/* Deletes the next chunk of d->ops in one multi fenced on our epoch. */
static void del_exec(controller_t *c, ctl_del_t *d)
{
	zk_multi_t *m = zk_multi_new();
	size_t n = 0, bytes = 0;
	ctl_req_t *r;
	brook_err_t err;

	if (!m || zk_multi_add_check(m, ZK_PATH_CONTROLLER_EPOCH, c->epoch_version)) {
		zk_multi_free(m);
		del_fail(c, d, "building a multi", BROOK_ERR__NOMEM);
		return;
	}
	while (d->next_op + n < d->ops.n && n < MULTI_MAX_OPS) {
		const char *path = d->ops.v[d->next_op + n];

		if (n && bytes + strlen(path) + 64 > MULTI_MAX_BYTES)
			break;
		if ((err = zk_multi_add_delete(m, path, ZK_ANY_VERSION))) {
			zk_multi_free(m);
			del_fail(c, d, path, err);
			return;
		}
		bytes += strlen(path) + 64;
		n++;
	}
	if (!(r = req_new(c, OP_DEL_MULTI, d->topic))) {
		zk_multi_free(m);
		del_fail(c, d, "a request", BROOK_ERR__NOMEM);
		return;
	}
	r->del = d;
	r->count = n;
	d->state = DEL_DELETING;
	blog(BLOG_DEBUG, SUBSYS, "deleting topic %s: znodes %zu..%zu of %zu", d->topic,
	     d->next_op + 1, d->next_op + n, d->ops.n);
	if ((err = req_submitted(r, zk_multi(c->zk, m, on_del_multi, r))))
		del_fail(c, d, "multi", err);
}

/* Every read is back: the list of deletes, deepest first. */
static void del_plan(controller_t *c, ctl_del_t *d)
{
	char path[ZK_PATH_MAX];
	brook_err_t err = BROOK_ERR_NO_ERROR;

	if (d->failed) {
		del_fail(c, d, "reading its znodes", d->err);
		return;
	}
	if (!d->topic_exists && d->parts.n) {
		/* Half gone under our feet: read again. */
		del_fail(c, d, "reading its znodes", BROOK_ERR__NOENT);
		return;
	}
	if (d->topic_exists) {
		for (size_t i = 0; i < d->children.n && !err; i++)
			err = strlist_add(&d->ops, d->children.v[i]);
		for (size_t i = 0; i < d->parts.n && !err; i++)
			err = strlist_add(&d->ops, d->parts.v[i]);
		if (!err && d->have_partitions && !zk_path_partitions(path, sizeof(path), d->topic))
			err = strlist_add(&d->ops, path);
		if (!err && !zk_path_topic(path, sizeof(path), d->topic))
			err = strlist_add(&d->ops, path);
		if (!err && d->config_exists && !zk_path_topic_config(path, sizeof(path), d->topic))
			err = strlist_add(&d->ops, path);
	} else {
		blog(BLOG_INFO, SUBSYS, "topic %s is marked for deletion but does not exist",
		     d->topic);
	}
	if (!err && !zk_path_delete_topic(path, sizeof(path), d->topic))
		err = strlist_add(&d->ops, path);
	if (err) {
		del_fail(c, d, "planning", err);
		return;
	}
	d->next_op = 0;
	del_exec(c, d);
}

/* One read of the deletion is back. */
static void del_read_done(controller_t *c, ctl_del_t *d)
{
	if (--d->waiting > 0)
		return;
	if (d->term != c->term || c->state != CTL_ACTIVE || !d->linked) {
		if (d->linked)
			del_release(c, d);
		return;
	}
	del_plan(c, d);
}

static void del_read(controller_t *c, ctl_del_t *d, ctl_op_t op, const char *path);

static void on_del_stat(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;
	ctl_del_t *d = r->del;

	(void)s;
	(void)stat;
	if (!req_begin(r))
		goto out;
	if (err && err != BROOK_ERR__NOENT) {
		d->failed = 1;
		d->err = err;
	} else if (r->op == OP_DEL_TOPIC) {
		d->topic_exists = !err;
	} else {
		d->config_exists = !err;
	}
	del_read_done(c, d);
out:
	req_end(r);
}

static void on_del_children(zk_session_t *s, brook_err_t err, const char *const *names,
			    size_t count, const zk_stat_t *stat, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;
	ctl_del_t *d = r->del;
	char path[ZK_PATH_MAX];

	(void)s;
	(void)stat;
	if (!req_begin(r))
		goto out;
	if (err == BROOK_ERR__NOENT && r->op == OP_DEL_PARTS) {
		/* A topic whose partitions no controller wrote yet. */
	} else if (err) {
		d->failed = 1;
		d->err = err;
	} else if (r->op == OP_DEL_PARTS) {
		d->have_partitions = 1;
		for (size_t i = 0; i < count && !d->failed; i++) {
			if (zk_path_partitions(path, sizeof(path), d->topic) ||
			    strlen(path) + 1 + strlen(names[i]) >= sizeof(path)) {
				d->failed = 1;
				d->err = BROOK_ERR__INVALID_ARG;
				break;
			}
			strcat(path, "/");
			strcat(path, names[i]);
			if (strlist_add(&d->parts, path)) {
				d->failed = 1;
				d->err = BROOK_ERR__NOMEM;
				break;
			}
			del_read(c, d, OP_DEL_PART, path);
		}
	} else {
		/* r->count names the partition folder. */
		for (size_t i = 0; i < count && !d->failed; i++) {
			int n = snprintf(path, sizeof(path), "%s/%s", d->parts.v[r->count],
					 names[i]);

			if (n < 0 || (size_t)n >= sizeof(path)) {
				d->failed = 1;
				d->err = BROOK_ERR__INVALID_ARG;
			} else if (strlist_add(&d->children, path)) {
				d->failed = 1;
				d->err = BROOK_ERR__NOMEM;
			}
		}
	}
	del_read_done(c, d);
out:
	req_end(r);
}

static void del_read(controller_t *c, ctl_del_t *d, ctl_op_t op, const char *path)
{
	ctl_req_t *r = req_new(c, op, d->topic);
	brook_err_t err;

	if (!r) {
		d->failed = 1;
		d->err = BROOK_ERR__NOMEM;
		return;
	}
	r->del = d;
	if (op == OP_DEL_PART)
		r->count = d->parts.n - 1;   /* which partition folder */
	if (op == OP_DEL_PARTS || op == OP_DEL_PART)
		err = zk_get_children(c->zk, path, NULL, on_del_children, r);
	else
		err = zk_exists(c->zk, path, NULL, on_del_stat, r);
	if ((err = req_submitted(r, err))) {
		d->failed = 1;
		d->err = err;
		return;
	}
	d->waiting++;
}

static void del_start(controller_t *c, const char *topic)
{
	ctl_del_t *d = calloc(1, sizeof(*d));
	char path[ZK_PATH_MAX];

	if (!d) {
		schedule_retry(c);
		return;
	}
	snprintf(d->topic, sizeof(d->topic), "%s", topic);
	d->term = c->term;
	d->state = DEL_READING;
	d->linked = 1;
	d->next = c->dels;
	c->dels = d;
	if (!c->cfg.delete_topic_enable) {
		blog(BLOG_INFO, SUBSYS, "topic deletion is disabled (delete.topic.enable=false): "
		     "removing the request to delete %s", topic);
		if (zk_path_delete_topic(path, sizeof(path), topic) || strlist_add(&d->ops, path)) {
			del_fail(c, d, "planning", BROOK_ERR__NOMEM);
			return;
		}
		del_exec(c, d);
		return;
	}
	blog(BLOG_INFO, SUBSYS, "deleting topic %s (requested in %s)", topic,
	     ZK_PATH_DELETE_TOPICS);
	/* One extra count, so no completion can finish the reads before all
	 * three are out. */
	d->waiting = 1;
	if (!zk_path_topic(path, sizeof(path), topic))
		del_read(c, d, OP_DEL_TOPIC, path);
	if (!zk_path_partitions(path, sizeof(path), topic))
		del_read(c, d, OP_DEL_PARTS, path);
	if (!zk_path_topic_config(path, sizeof(path), topic))
		del_read(c, d, OP_DEL_CONFIG, path);
	del_read_done(c, d);
}

/* Starts a deletion for every mark without one (failed ones once their
 * pause is over), and forgets deletions whose mark is gone. */
static void process_marks(controller_t *c)
{
	ev_tstamp now = ev_now(c->loop);
	ctl_del_t *d, *next;

	for (d = c->dels; d; d = next) {
		next = d->next;
		if (d->state == DEL_FAILED && !strlist_contains(&c->marks, d->topic))
			del_release(c, d);
	}
	for (size_t i = 0; i < c->marks.n && c->state == CTL_ACTIVE && !c->closing; i++) {
		char topic[ZK_TOPIC_MAX + 1];

		snprintf(topic, sizeof(topic), "%s", c->marks.v[i]);
		if ((d = del_find(c, topic))) {
			if (d->state != DEL_FAILED)
				continue;
			if (now < d->retry_at) {
				schedule_retry(c);
				continue;
			}
			del_release(c, d);
		}
		del_start(c, topic);
	}
}

/* --- state writes ------------------------------------------------------------------ */

static void state_done(controller_t *c, const ctl_req_t *r)
{
	ctl_part_t *e = part_find(c, r->topic, r->partition);

	if (e) {
		e->inflight = 0;
		part_maybe_free(c, e);
	}
}

static void state_log(const controller_t *c, const ctl_req_t *r, int32_t version)
{
	const zk_partition_state_t *st = &r->st;
	char isr[512];

	ids_str(st->isr, st->isr_cnt, isr, sizeof(isr));
	if (r->reasons & CE_R_INITIAL)
		blog(BLOG_INFO, SUBSYS,
		     "%s-%d: leader %d, isr %s (new partition, controller epoch %d)", r->topic,
		     (int)r->partition, (int)st->leader, isr, (int)c->epoch);
	else if (r->reasons & CE_R_NO_LEADER)
		blog(BLOG_WARN, SUBSYS,
		     "%s-%d: no in-sync replica is live: offline (leader %d -> -1, "
		     "leader epoch %d, isr %s kept)", r->topic, (int)r->partition,
		     (int)r->old_leader, (int)st->leader_epoch, isr);
	else if (r->reasons & CE_R_UNCLEAN)
		blog(BLOG_WARN, SUBSYS, "%s-%d: unclean election of leader %d (not in the isr: "
		     "acknowledged messages may be lost), leader epoch %d, isr %s", r->topic,
		     (int)r->partition, (int)st->leader, (int)st->leader_epoch, isr);
	else if (st->leader != r->old_leader)
		blog(BLOG_INFO, SUBSYS,
		     "%s-%d: elected leader %d (was %d), leader epoch %d, isr %s (%s)", r->topic,
		     (int)r->partition, (int)st->leader, (int)r->old_leader,
		     (int)st->leader_epoch, isr, ce_reason_name(r->reasons));
	else
		blog(BLOG_INFO, SUBSYS, "%s-%d: isr %s, leader %d, leader epoch %d (%s)", r->topic,
		     (int)r->partition, isr, (int)st->leader, (int)st->leader_epoch,
		     ce_reason_name(r->reasons));
	blog(BLOG_DEBUG, SUBSYS, "%s-%d: state at zk version %d", r->topic, (int)r->partition,
	     (int)version);
}

static void state_landed(controller_t *c, const ctl_req_t *r)
{
	int32_t version = r->version + 1;   /* a create (-1) makes version 0 */
	ctl_part_t *e = part_get(c, r->topic, r->partition);

	if (e) {
		e->inflight = 0;
		e->has_stale = 0;
		e->has_record = 1;
		e->record = r->st;
		e->record_version = version;
	} else {
		blog(BLOG_WARN, SUBSYS, "out of memory recording %s-%d", r->topic,
		     (int)r->partition);
	}
	state_log(c, r, version);
	if (c->cfg.on_state_written)
		c->cfg.on_state_written(c->cfg.opaque, r->topic, r->partition, &r->st, version);
	schedule_pass(c);
}

/* The znode is not what the decision assumed: wait for the view to show
 * its new version (the brokers' state watch brings it), then decide
 * again. */
static void state_conflict(controller_t *c, const ctl_req_t *r, brook_err_t err)
{
	ctl_part_t *e = part_get(c, r->topic, r->partition);

	blog(BLOG_INFO, SUBSYS, "%s-%d: %s; waiting for the view to catch up", r->topic,
	     (int)r->partition,
	     err == BROOK_ERR__VERSION ? "the state changed under us (stale zk version)" :
	     err == BROOK_ERR__EXISTS ? "someone else created the state" :
	     "the state znode is gone");
	if (!e) {
		schedule_retry(c);
		return;
	}
	e->inflight = 0;
	e->has_record = 0;
	e->has_stale = 1;
	e->stale_has_state = r->version >= 0;
	e->stale_version = r->version;
	schedule_pass(c);
}

static void state_next(controller_t *c, const ctl_req_t *r, ctl_step_t step)
{
	ctl_req_t *n;

	if (r->attempt >= WRITE_ATTEMPTS || !(n = req_next(r))) {
		state_done(c, r);
		schedule_retry(c);
		return;
	}
	n->attempt++;
	n->step = step;
	n->term = c->term;
	state_issue(c, n);
}

static void on_state_parent(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;

	(void)s;
	(void)path;
	if (!req_begin(r))
		goto out;
	if (!req_current(r)) {
		state_done(c, r);
	} else if (!err || err == BROOK_ERR__EXISTS) {
		state_next(c, r, STEP_CREATE_PARENT);
	} else if (err == BROOK_ERR__NOENT) {
		/* The topic znode is gone (deleted): the view will drop it; until
		 * then each pass finds the same, and no timer insists. */
		blog(BLOG_DEBUG, SUBSYS, "%s-%d: the topic znode is gone", r->topic,
		     (int)r->partition);
		state_done(c, r);
	} else {
		if (!quiet_err(err))
			blog(retry_level(c), SUBSYS, "%s-%d: creating its partitions folder: %s",
			     r->topic, (int)r->partition, brook_err_str(err));
		state_done(c, r);
		schedule_retry(c);
	}
out:
	req_end(r);
}

static void on_state_written(zk_session_t *s, brook_err_t err, const zk_multi_t *m, void *opaque)
{
	ctl_req_t *r = opaque;
	controller_t *c = r->c;
	int failed;

	(void)s;
	if (!req_begin(r))
		goto out;
	failed = zk_multi_failed_op(m);
	if (!req_current(r)) {
		state_done(c, r);
	} else if (!err) {
		state_landed(c, r);
	} else if (failed == 0) {
		state_done(c, r);
		fenced_out(c);
	} else if (r->step == STEP_CREATE_PARENT && failed == 1 && err == BROOK_ERR__NOENT) {
		state_next(c, r, STEP_PARTITIONS);
	} else if (r->step == STEP_CREATE_PARENT && failed == 1 && err == BROOK_ERR__EXISTS) {
		state_next(c, r, STEP_CREATE);
	} else if (err == BROOK_ERR__VERSION || err == BROOK_ERR__EXISTS ||
		   (err == BROOK_ERR__NOENT && r->step == STEP_SET)) {
		state_conflict(c, r, err);
	} else if (err == BROOK_ERR__NOENT) {
		/* A create whose partition folder vanished: the topic is going
		 * away, and the view will say so. */
		state_done(c, r);
	} else {
		/* Connection loss: maybe applied; the view tells, and the
		 * conditional write retried later cannot do harm. */
		if (!quiet_err(err))
			blog(retry_level(c), SUBSYS, "%s-%d: writing its state: %s; retrying",
			     r->topic, (int)r->partition, brook_err_str(err));
		state_done(c, r);
		schedule_retry(c);
	}
out:
	req_end(r);
}

/* Sends r's current step; r is the completion's afterwards, or freed.
 * -1 when nothing was sent (the write is off; a pass decides again). */
static int state_issue(controller_t *c, ctl_req_t *r)
{
	char state_path[ZK_PATH_MAX], parent[ZK_PATH_MAX], *json = NULL;
	char topic[ZK_TOPIC_MAX + 1];
	int32_t partition = r->partition;
	zk_multi_t *m = NULL;
	ctl_part_t *e;
	brook_err_t err;

	snprintf(topic, sizeof(topic), "%s", r->topic);
	if ((err = zk_path_partition_state(state_path, sizeof(state_path), r->topic, r->partition)))
		goto fail;
	if (r->step == STEP_PARTITIONS) {
		if ((err = zk_path_partitions(parent, sizeof(parent), r->topic)))
			goto fail;
		r->op = OP_STATE_PARENT;
		if ((err = req_submitted(r, zk_create(c->zk, parent, NULL, 0, ZK_PERSISTENT,
						      on_state_parent, r))))
			goto failed;
		return 0;
	}
	r->op = OP_STATE_WRITE;
	if ((err = zk_json_partition_state_encode(&r->st, &json)))
		goto fail;
	if (!(m = zk_multi_new())) {
		err = BROOK_ERR__NOMEM;
		goto fail;
	}
	err = zk_multi_add_check(m, ZK_PATH_CONTROLLER_EPOCH, c->epoch_version);
	if (!err && r->step == STEP_CREATE_PARENT &&
	    !(err = zk_path_partition(parent, sizeof(parent), r->topic, r->partition)))
		err = zk_multi_add_create(m, parent, NULL, 0, ZK_PERSISTENT);
	if (!err)
		err = r->step == STEP_SET ?
			zk_multi_add_set(m, state_path, json, strlen(json), r->version) :
			zk_multi_add_create(m, state_path, json, strlen(json), ZK_PERSISTENT);
	free(json);
	if (err) {
		zk_multi_free(m);
		goto fail;
	}
	if ((err = req_submitted(r, zk_multi(c->zk, m, on_state_written, r))))
		goto failed;
	return 0;
fail:
	free(r);
failed:
	/* r is gone: the write is off, the next pass decides again. */
	if ((e = part_find(c, topic, partition))) {
		e->inflight = 0;
		part_maybe_free(c, e);
	}
	if (!quiet_err(err))
		blog(retry_level(c), SUBSYS, "%s-%d: cannot send its state write: %s", topic,
		     (int)partition, brook_err_str(err));
	schedule_retry(c);
	return -1;
}

/* One decision becomes one write (create or conditional update). */
static int write_state(controller_t *c, const char *topic, int32_t partition,
		       const ce_decision_t *d, int create, int32_t version, int32_t old_leader)
{
	ctl_part_t *e = part_get(c, topic, partition);
	ctl_req_t *r;

	if (!e || !(r = req_new(c, OP_STATE_WRITE, topic))) {
		blog(BLOG_WARN, SUBSYS, "out of memory writing %s-%d", topic, (int)partition);
		part_maybe_free(c, e);
		schedule_retry(c);
		return -1;
	}
	r->partition = partition;
	r->step = create ? STEP_CREATE_PARENT : STEP_SET;
	r->version = create ? -1 : version;
	r->old_leader = create ? -1 : old_leader;
	r->reasons = d->reasons;
	r->st.version = 1;
	r->st.controller_epoch = c->epoch;
	r->st.leader = d->leader;
	r->st.leader_epoch = d->leader_epoch;
	r->st.isr_cnt = d->nisr;
	memcpy(r->st.isr, d->isr, (size_t)d->nisr * sizeof(*d->isr));
	e->inflight = 1;
	return state_issue(c, r);
}

/* --- the reconcile pass -------------------------------------------------------- */

static int in_scope(const pass_opts_t *o, const char *topic, const md_partition_t *mp)
{
	if (!o || !o->preferred)
		return 0;
	if (o->topic && strcmp(o->topic, topic) != 0)
		return 0;
	if (o->brokers)
		return mp->nreplicas > 0 &&
		       ce_sorted_contains(o->brokers, o->nbrokers, mp->replicas[0]);
	return 1;
}

static void reconcile_partition(controller_t *c, const md_topic_t *t, const md_partition_t *mp,
				const ce_cluster_t *cl, pass_opts_t *o)
{
	const ctl_part_t *e = part_find(c, t->name, mp->id);
	ce_partition_t p;
	ce_decision_t d;
	ce_action_t a;
	int32_t version;
	int preferred = in_scope(o, t->name, mp), unclean;

	if (e && (e->inflight || (e->has_stale && stale_matches(e, mp))))
		return;
	current_state(c, t->name, mp, &p, &version);
	a = ce_decide(&p, cl, -1, preferred, &d);
	if (a == CE_NEED_CONFIG) {
		if ((unclean = topic_unclean(c, t->name)) < 0)
			return;   /* decided when the config is in */
		a = ce_decide(&p, cl, unclean, preferred, &d);
	}
	if (a != CE_CREATE && a != CE_UPDATE)
		return;
	if (write_state(c, t->name, mp->id, &d, a == CE_CREATE, version, p.leader) == 0 &&
	    (d.reasons & CE_R_PREFERRED))
		o->started++;
}

/* Decides every partition of the view and writes what differs. */
static void reconcile(controller_t *c, pass_opts_t *o)
{
	const metadata_t *md;
	int32_t *live = NULL, *elig = NULL;
	int nlive = 0, nelig = 0;
	ce_cluster_t cl;

	if (c->closing || c->state != CTL_ACTIVE)
		return;
	check_session(c);
	if (c->state != CTL_ACTIVE)
		return;
	arm_folder(c, FOLDER_MARKS);
	arm_folder(c, FOLDER_ISR);
	process_marks(c);
	if (!(md = c->md) || c->state != CTL_ACTIVE)
		return;
	if (md->nbrokers &&
	    (!(live = malloc(md->nbrokers * sizeof(*live))) ||
	     !(elig = malloc(md->nbrokers * sizeof(*elig))))) {
		free(live);
		blog(BLOG_WARN, SUBSYS, "out of memory for a reconcile pass");
		schedule_retry(c);
		return;
	}
	for (size_t i = 0; i < md->nbrokers; i++) {
		live[nlive++] = md->brokers[i].id;
		if (!shutting_contains(c, md->brokers[i].id))
			elig[nelig++] = md->brokers[i].id;
	}
	cl.live = live;
	cl.nlive = nlive;
	cl.eligible = elig;
	cl.neligible = nelig;
	cl.shutting = c->shutting;
	cl.nshutting = (int)c->nshutting;
	for (size_t i = 0; i < md->ntopics && c->state == CTL_ACTIVE && !c->closing; i++) {
		const md_topic_t *t = md->topics[i];

		if (topic_excluded(c, t->name))
			continue;
		for (int32_t p = 0; p < t->npartitions; p++) {
			if (c->state != CTL_ACTIVE || c->closing)
				break;
			reconcile_partition(c, t, &t->partitions[p], &cl, o);
		}
	}
	free(live);
	free(elig);
}

/* Kafka's checkAndTriggerAutoLeaderRebalance: a broker is imbalanced when
 * more than leader.imbalance.per.broker.percentage of the partitions that
 * prefer it are led elsewhere; those partitions get a preferred election. */
static void auto_rebalance(controller_t *c)
{
	const metadata_t *md = c->md;
	size_t *total = NULL, *notled = NULL;
	int32_t *over = NULL;
	int nover = 0;
	pass_opts_t o;

	if (c->closing || c->state != CTL_ACTIVE)
		return;
	check_session(c);
	if (c->state != CTL_ACTIVE || !md || !md->nbrokers)
		return;
	total = calloc(md->nbrokers, sizeof(*total));
	notled = calloc(md->nbrokers, sizeof(*notled));
	over = calloc(md->nbrokers, sizeof(*over));
	if (!total || !notled || !over)
		goto done;
	for (size_t i = 0; i < md->ntopics; i++) {
		const md_topic_t *t = md->topics[i];

		if (topic_excluded(c, t->name))
			continue;
		for (int32_t p = 0; p < t->npartitions; p++) {
			const md_partition_t *mp = &t->partitions[p];
			ce_partition_t cur;
			int32_t version;
			size_t lo = 0, hi = md->nbrokers;

			if (mp->nreplicas < 1)
				continue;
			current_state(c, t->name, mp, &cur, &version);
			if (!cur.has_state)
				continue;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (md->brokers[mid].id < mp->replicas[0])
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo == md->nbrokers || md->brokers[lo].id != mp->replicas[0])
				continue;
			total[lo]++;
			if (cur.leader != mp->replicas[0])
				notled[lo]++;
		}
	}
	for (size_t i = 0; i < md->nbrokers; i++) {
		size_t pct = (size_t)c->cfg.leader_imbalance_per_broker_percentage;

		if (!total[i] || shutting_contains(c, md->brokers[i].id) ||
		    notled[i] * 100 <= pct * total[i])
			continue;
		blog(BLOG_INFO, SUBSYS, "broker %d leads %zu of the %zu partitions that prefer it: "
		     "preferred-leader election", (int)md->brokers[i].id, total[i] - notled[i],
		     total[i]);
		over[nover++] = md->brokers[i].id;
	}
	if (nover) {
		memset(&o, 0, sizeof(o));
		o.preferred = 1;
		o.brokers = over;
		o.nbrokers = nover;
		reconcile(c, &o);
	}
done:
	free(total);
	free(notled);
	free(over);
}

/* --- the API --------------------------------------------------------------------- */

void controller_config_defaults(controller_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->unclean_leader_election_enable = 0;
	cfg->delete_topic_enable = 1;
	cfg->auto_leader_rebalance_enable = 1;
	cfg->leader_imbalance_check_interval_ms = 300000;
	cfg->leader_imbalance_per_broker_percentage = 10;
}

brook_err_t controller_new(struct ev_loop *loop, zk_session_t *zk, int32_t broker_id,
			   const controller_config_t *cfg, controller_t **out)
{
	controller_t *c;

	if (out)
		*out = NULL;
	if (!loop || !zk || !out || broker_id < 0)
		return BROOK_ERR__INVALID_ARG;
	if (cfg && ((cfg->auto_leader_rebalance_enable &&
		     cfg->leader_imbalance_check_interval_ms <= 0) ||
		    cfg->leader_imbalance_per_broker_percentage < 0 ||
		    cfg->leader_imbalance_per_broker_percentage > 100))
		return BROOK_ERR__INVALID_ARG;
	if (!(c = calloc(1, sizeof(*c))))
		return BROOK_ERR__NOMEM;
	c->loop = loop;
	c->zk = zk;
	c->id = broker_id;
	if (cfg)
		c->cfg = *cfg;
	else
		controller_config_defaults(&c->cfg);
	c->cfg.unclean_leader_election_enable = !!c->cfg.unclean_leader_election_enable;
	c->state = CTL_IDLE;
	c->epoch = -1;
	c->epoch_version = -1;
	c->view_controller = -1;
	c->token = ++last_token;
	c->reg_next = registry;
	registry = c;
	ev_timer_init(&c->pass_timer, pass_cb, 0., 0.);
	ev_timer_init(&c->retry_timer, pass_cb, 0., 0.);
	ev_timer_init(&c->elect_timer, elect_cb, 0., 0.);
	ev_timer_init(&c->rebalance_timer, rebalance_cb, 0., 0.);
	c->pass_timer.data = c->retry_timer.data = c->elect_timer.data = c;
	c->rebalance_timer.data = c;
	*out = c;
	return BROOK_ERR_NO_ERROR;
}

void controller_update(controller_t *c, const metadata_t *md)
{
	metadata_t *copy = NULL;
	int need;

	if (!c || !md || c->closing)
		return;
	enter(c);
	check_session(c);
	c->update_seq++;
	c->view_controller = md->controller_id;
	if (c->state == CTL_ACTIVE) {
		if (md->controller_id == c->id)
			c->seen_self = 1;
		else if (md->controller_id >= 0)
			resign(c, KEEP_ZNODE, "the view names broker %d as the controller",
			       (int)md->controller_id);
		else if (c->seen_self)
			resign(c, KEEP_ZNODE, "%s is gone", ZK_PATH_CONTROLLER);
	}
	/* The view is needed while we hold or seek the office. */
	need = c->state != CTL_IDLE || md->controller_id < 0 || md->controller_id == c->id;
	if (need && !(copy = view_copy(md))) {
		blog(BLOG_WARN, SUBSYS,
		     "out of memory copying the cluster view; keeping the last one");
		schedule_retry(c);
	} else {
		metadata_free(c->md);
		c->md = copy;
	}
	if (c->md)
		shutting_prune(c, c->md);
	if (c->state == CTL_ACTIVE) {
		parts_sweep(c, NULL);
		confs_sweep(c);
		schedule_pass(c);
	} else if (c->state == CTL_IDLE && md->controller_id < 0) {
		elect(c);
	} else if (c->state == CTL_IDLE && md->controller_id == c->id && !c->self_checked) {
		/* The view names us but we are not in office: a node of our
		 * own session (we resigned on a view that was wrong) is taken
		 * up again; one of an earlier process of ours lingers until
		 * its session expires, and then the office is free. */
		c->self_checked = 1;
		set_state(c, CTL_ELECTING);
		elect_check(c, 0);
	}
	if (md->controller_id != c->id)
		c->self_checked = 0;
	leave(c);
}

void controller_session_expired(controller_t *c)
{
	if (!c || c->closing)
		return;
	enter(c);
	c->marks_watch = c->isr_watch = 0;
	resign(c, KEEP_ZNODE, "ZooKeeper session expired");
	leave(c);
}

int controller_is_active(const controller_t *c)
{
	return c && !c->closing && c->state == CTL_ACTIVE && zk_session_id(c->zk) == c->sid;
}

int32_t controller_epoch(const controller_t *c)
{
	return controller_is_active(c) ? c->epoch : -1;
}

brook_err_t controller_controlled_shutdown(controller_t *c, int32_t broker_id, int *remaining)
{
	brook_err_t err = BROOK_ERR_NO_ERROR;
	int n = 0;

	if (remaining)
		*remaining = 0;
	if (!c || !remaining || broker_id < 0)
		return BROOK_ERR__INVALID_ARG;
	if (c->closing)
		return BROOK_ERR_NOT_CONTROLLER;
	enter(c);
	check_session(c);
	if (c->state != CTL_ACTIVE) {
		err = BROOK_ERR_NOT_CONTROLLER;
		goto out;
	}
	if (!c->md || !metadata_broker_alive(c->md, broker_id)) {
		err = BROOK_ERR_BROKER_NOT_AVAILABLE;
		goto out;
	}
	if (!shutting_contains(c, broker_id)) {
		if ((err = shutting_add(c, broker_id)))
			goto out;
		blog(BLOG_INFO, SUBSYS, "controlled shutdown of broker %d: moving its leaderships",
		     (int)broker_id);
	}
	reconcile(c, NULL);
	if (c->state != CTL_ACTIVE || !c->md) {
		err = BROOK_ERR_NOT_CONTROLLER;
		goto out;
	}
	for (size_t i = 0; i < c->md->ntopics; i++) {
		const md_topic_t *t = c->md->topics[i];

		for (int32_t p = 0; p < t->npartitions; p++) {
			ce_partition_t cur;
			int32_t version;

			if (t->partitions[p].nreplicas < 2)
				continue;
			current_state(c, t->name, &t->partitions[p], &cur, &version);
			if (cur.has_state && cur.leader == broker_id)
				n++;
		}
	}
	*remaining = n;
out:
	leave(c);
	return err;
}

brook_err_t controller_preferred_election(controller_t *c, const char *topic, int *started)
{
	brook_err_t err = BROOK_ERR_NO_ERROR;
	pass_opts_t o;

	if (started)
		*started = 0;
	if (!c)
		return BROOK_ERR__INVALID_ARG;
	if (c->closing)
		return BROOK_ERR_NOT_CONTROLLER;
	enter(c);
	check_session(c);
	if (c->state != CTL_ACTIVE) {
		err = BROOK_ERR_NOT_CONTROLLER;
		goto out;
	}
	if (topic && (!c->md || !metadata_topic(c->md, topic))) {
		err = BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.preferred = 1;
	o.topic = topic;
	reconcile(c, &o);
	if (started)
		*started = o.started;
	if (o.started)
		blog(BLOG_INFO, SUBSYS, "preferred-leader election%s%s: %d leader(s) moving",
		     topic ? " for " : "", topic ? topic : "", o.started);
out:
	leave(c);
	return err;
}

size_t controller_pending(const controller_t *c)
{
	if (!c)
		return 0;
	return c->pending + c->watch_reads + (ev_is_active(&c->pass_timer) ? 1 : 0) +
	       (ev_is_active(&c->retry_timer) ? 1 : 0);
}

static void destroy(controller_t *c)
{
	ctl_del_t *d;

	while ((d = c->dels)) {
		c->dels = d->next;
		del_free(d);
	}
	for (size_t i = 0; i < c->nbuckets; i++) {
		ctl_part_t *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(c->buckets);
	free(c->confs);
	free(c->shutting);
	strlist_clear(&c->marks);
	metadata_free(c->md);
	free(c);
}

void controller_free(controller_t *c)
{
	if (!c || c->closing)
		return;
	enter(c);
	c->closing = 1;
	registry_remove(c);
	/* BUMPING or ACTIVE: we hold /controller; ELECTING: the create's
	 * completion gives it back if it won. */
	if (c->state == CTL_BUMPING || c->state == CTL_ACTIVE)
		resign(c, RELEASE_FENCED, "shutting down");
	else if (c->state == CTL_ELECTING)
		set_state(c, CTL_IDLE);
	ev_timer_stop(c->loop, &c->pass_timer);
	ev_timer_stop(c->loop, &c->retry_timer);
	ev_timer_stop(c->loop, &c->elect_timer);
	ev_timer_stop(c->loop, &c->rebalance_timer);
	leave(c);
}
