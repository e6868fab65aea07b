/* broker.c - startup, reconciling hosted partitions, periodic work, stop. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "admin.h"
#include "blog.h"
#include "broker.h"
#include "broker_ctrl.h"
#include "errstr.h"
#include "handler.h"
#include "metadata.h"
#include "replica.h"

int64_t broker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stop_timer(broker_t *b, ev_timer **t)
{
	if (*t) {
		ev_timer_stop(b->loop, *t);
		free(*t);
		*t = NULL;
	}
}

void broker_fatal(broker_t *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->fatal, sizeof(b->fatal), fmt, ap);
	va_end(ap);
	blog(BLOG_ERROR, "broker", "fatal: %s", b->fatal);
	b->exit_code = 1;
	/* Often called from inside a ZooKeeper callback: stop from the loop,
	 * not under the session that is calling us. */
	ev_timer_start(b->loop, &b->stop_timer);
}

static void on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	broker_stop(w->data);
}

/* Kafka creates missing log.dirs (and their parents) at startup; the log
 * layer itself never creates its folder behind a caller's back. */
static brook_err_t make_log_dir(const char *path, char *errstr, size_t errstr_size)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return BROOK_ERR__INVALID_ARG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
			int e = errno;

			snprintf(errstr, errstr_size, "%s: cannot create log dir: %s", buf,
				 strerror(e));
			return brook_err_from_errno(e);
		}
		if (i < len)
			buf[i] = '/';
	}
	return BROOK_ERR_NO_ERROR;
}

static void on_log_dir_warning(void *opaque, const char *msg)
{
	blog(BLOG_WARN, "log", "%s", msg);
}

/* New partitions go to the log dir holding the fewest (Kafka's rule). */
static log_dir_t *pick_dir(broker_t *b)
{
	log_dir_t *best = b->dirs[0];

	for (int i = 1; i < b->ndirs; i++)
		if (b->dirs[i]->nparts < best->nparts)
			best = b->dirs[i];
	return best;
}

/* The hosted partition for topic/id, opening or creating its log (broker.h). */
partition_t *broker_host_partition(broker_t *b, const char *topic, int32_t id)
{
	partition_t *p = partition_find(&b->parts, topic, id);
	log_dir_t *dir = NULL;
	log_t *log = NULL;
	char err[512];

	if (p)
		return p;
	for (int i = 0; i < b->ndirs && !log; i++)
		if ((log = log_dir_get(b->dirs[i], topic, id)))
			dir = b->dirs[i];
	if (!log) {
		dir = pick_dir(b);
		if (log_dir_create_log(dir, topic, id, broker_now_ms(), &log, err, sizeof(err))) {
			blog(BLOG_ERROR, "log", "%s-%d: cannot create the log: %s", topic, id, err);
			return NULL;
		}
		blog(BLOG_INFO, "log", "created %s-%d in %s", topic, id, dir->path);
	}
	if (partition_add(&b->parts, topic, id, log, dir, &p)) {
		blog(BLOG_ERROR, "broker", "%s-%d: out of memory", topic, id);
		return NULL;
	}
	/* The broker's settings until broker_apply_state() applies the
	 * topic's overrides; the log is set in full then, whatever an
	 * earlier run left in it. */
	p->min_insync_replicas = b->conf->min_insync_replicas;
	p->max_message_bytes = b->conf->message_max_bytes;
	p->config_seq = 0;
	p->config_known = 0;
	/* What was committed when we last knew; without a checkpoint nothing
	 * is known committed (a follower then fetches its log again). */
	{
		int64_t hw = replica_checkpointed_hw(b, dir->path, topic, id);

		p->high_watermark = hw < 0 ? 0 : hw < log_end_offset(log) ? hw : log_end_offset(log);
	}
	/* A damaged leader-epoch-checkpoint only costs precision: without
	 * it a follower truncates to its high watermark, as before epochs. */
	if (leader_epoch_open(log->dir, &p->epochs, err, sizeof(err))) {
		blog(BLOG_WARN, "replica", "%s; truncating by high watermark instead", err);
		p->epochs = NULL;
	} else if (leader_epoch_truncate_from_end(p->epochs, log_end_offset(log), err,
						  sizeof(err))) {
		blog(BLOG_WARN, "replica", "%s-%d: %s", topic, id, err);
	}
	return p;
}

/* --- per-topic settings ----------------------------------------------------- */

static void on_flush(struct ev_loop *loop, ev_timer *w, int revents);
static brook_err_t start_timer(broker_t *b, ev_timer **t,
			       void (*cb)(struct ev_loop *, ev_timer *, int), double every);

/* What a hosted partition runs with. */
typedef struct topic_settings {
	log_config_t log;
	int32_t min_insync_replicas;
	int32_t max_message_bytes;
} topic_settings_t;

/* The topic-level settings the broker applies, by Kafka's names
 * (LogConfig). The admin table knows a few more: those are someone
 * else's (unclean.leader.election.enable: the controller) or have only
 * one behaviour so far (cleanup.policy delete, compression.type producer). */
typedef enum topic_key {
	TK_RETENTION_MS,
	TK_RETENTION_BYTES,
	TK_SEGMENT_BYTES,
	TK_SEGMENT_MS,
	TK_INDEX_INTERVAL_BYTES,
	TK_FLUSH_MESSAGES,
	TK_FLUSH_MS,
	TK_MAX_MESSAGE_BYTES,
	TK_MIN_INSYNC_REPLICAS,
	TK_NONE,
} topic_key_t;

static const struct {
	const char *name;
	topic_key_t key;
} topic_keys[] = {
	{ "retention.ms", TK_RETENTION_MS },
	{ "retention.bytes", TK_RETENTION_BYTES },
	{ "segment.bytes", TK_SEGMENT_BYTES },
	{ "segment.ms", TK_SEGMENT_MS },
	{ "index.interval.bytes", TK_INDEX_INTERVAL_BYTES },
	{ "flush.messages", TK_FLUSH_MESSAGES },
	{ "flush.ms", TK_FLUSH_MS },
	{ "max.message.bytes", TK_MAX_MESSAGE_BYTES },
	{ "min.insync.replicas", TK_MIN_INSYNC_REPLICAS },
};
#define NTOPIC_KEYS (sizeof(topic_keys) / sizeof(topic_keys[0]))

static topic_key_t topic_key(const char *name)
{
	for (size_t i = 0; i < NTOPIC_KEYS; i++)
		if (strcmp(topic_keys[i].name, name) == 0)
			return topic_keys[i].key;
	return TK_NONE;
}

/* Copies the one setting `k` from the parsed overrides. */
static void take_override(topic_settings_t *s, const admin_topic_conf_t *c, topic_key_t k)
{
	switch (k) {
	case TK_RETENTION_MS:
		s->log.retention_ms = c->retention_ms;
		break;
	case TK_RETENTION_BYTES:
		s->log.retention_bytes = c->retention_bytes;
		break;
	case TK_SEGMENT_BYTES:
		s->log.segment_bytes = (uint64_t)c->segment_bytes;
		break;
	case TK_SEGMENT_MS:
		s->log.roll_ms = c->segment_ms;
		break;
	case TK_INDEX_INTERVAL_BYTES:
		s->log.index_interval_bytes = (uint32_t)c->index_interval_bytes;
		break;
	case TK_FLUSH_MESSAGES:
		s->log.flush_interval_messages = c->flush_messages;
		break;
	case TK_FLUSH_MS:
		s->log.flush_interval_ms = c->flush_ms;
		break;
	case TK_MAX_MESSAGE_BYTES:
		s->max_message_bytes = c->max_message_bytes;
		break;
	case TK_MIN_INSYNC_REPLICAS:
		s->min_insync_replicas = c->min_insync_replicas;
		break;
	case TK_NONE:
		break;
	}
}

/* The broker's settings overridden by the topic's config, key by key, as
 * Kafka's LogConfig does. Each value goes through the admin tool's table
 * (admin_topic_conf_apply), so the names, types and ranges are those
 * `brook topics create --config` accepts. A bad value (a hand-edited
 * znode, a tool with other rules) is logged and its key keeps the
 * broker's default: one wrong override must not cost the other overrides,
 * the partition or the broker. */
static void topic_settings(const broker_t *b, const md_topic_t *t, topic_settings_t *s)
{
	const conf_def_t *table = admin_topic_config_table();
	admin_topic_conf_t c;
	char err[256];

	s->log = b->log_cfg;
	s->min_insync_replicas = b->conf->min_insync_replicas;
	s->max_message_bytes = b->conf->message_max_bytes;
	if (!t || !t->config || t->config->cnt == 0)
		return;
	if (conf_init(table, &c, err, sizeof(err))) {
		blog(BLOG_ERROR, "broker", "topic %s: cannot apply its config overrides (%s); "
		     "using the broker's settings", t->name, err);
		return;
	}
	for (size_t i = 0; i < t->config->cnt; i++) {
		/* one entry at a time, so a bad one leaves the others */
		zk_config_entry_t e = t->config->entries[i];
		zk_topic_config_t one = { .version = 1, .cnt = 1, .cap = 1, .entries = &e };

		if (admin_topic_conf_apply(&c, &one, err, sizeof(err))) {
			/* errstr is "<key>: <reason>"; the key is named already */
			const char *why = err;
			size_t kl = strlen(e.name);

			if (strncmp(err, e.name, kl) == 0 && strncmp(err + kl, ": ", 2) == 0)
				why = err + kl + 2;
			blog(BLOG_WARN, "broker", "topic %s: config %s=%s: %s; using the broker's "
			     "default instead", t->name, e.name, e.value, why);
			continue;
		}
		take_override(s, &c, topic_key(e.name));
	}
	conf_destroy(table, &c);
}

/* Time-based flushing needs a tick at least as fine as the shortest
 * flush interval in use: the timer is started, or made finer, when an
 * override asks for one (and never made coarser again: a tick with
 * nothing to flush costs a loop over the partitions). */
static void flush_tick_for(broker_t *b, int64_t flush_ms)
{
	double every = flush_ms < 1000 ? 0.05 : 1.0;

	if (flush_ms == INT64_MAX || (b->state != BROKER_STARTING && b->state != BROKER_RUNNING))
		return;
	if (!b->flush_timer) {
		if (start_timer(b, &b->flush_timer, on_flush, every))
			blog(BLOG_ERROR, "broker", "out of memory for the flush timer: flush.ms "
			     "applies only at appends");
		return;
	}
	if (b->flush_timer->repeat > every) {
		b->flush_timer->repeat = every;
		ev_timer_again(b->loop, b->flush_timer);
	}
}

/* Brings p's settings in line with its topic's overrides as the view
 * shows them, once per change of them (config_seq). The partitions of a
 * topic share one computation, so a bad override is logged once per
 * change rather than once per partition. A topic the view does not have
 * yet (a LeaderAndIsr got here first) leaves p as it is: with the
 * broker's settings and config_known 0, refusing writes until it is. */
static void apply_topic_config(broker_t *b, partition_t *p)
{
	const metadata_t *md = broker_zk_metadata(b->zk);
	const md_topic_t *t = md ? metadata_topic(md, p->topic) : NULL;
	const partition_t *same = NULL;
	topic_settings_t s;
	size_t first, n;

	if (!t || p->config_seq == t->config_seq)
		return;
	n = partition_topic_range(&b->parts, p->topic, &first);
	for (size_t i = first; i < first + n && !same; i++)
		if (b->parts.parts[i] != p && b->parts.parts[i]->config_seq == t->config_seq)
			same = b->parts.parts[i];
	if (same) {
		s.log = same->log->cfg;
		s.min_insync_replicas = same->min_insync_replicas;
		s.max_message_bytes = same->max_message_bytes;
	} else {
		topic_settings(b, t, &s);
	}
	log_set_config(p->log, &s.log);
	p->min_insync_replicas = s.min_insync_replicas;
	p->max_message_bytes = s.max_message_bytes;
	p->config_seq = t->config_seq;
	p->config_known = t->config_known;
	flush_tick_for(b, s.log.flush_interval_ms);
}

static int is_replica(const md_partition_t *mp, int32_t id)
{
	for (int32_t i = 0; i < mp->nreplicas; i++)
		if (mp->replicas[i] == id)
			return 1;
	return 0;
}

/* Copies a partition state (from the view or a LeaderAndIsr) into p and
 * lets replica.c act on it (broker.h). Every caller passes here, so this
 * is also where p takes its topic's current config overrides. */
void broker_apply_state(broker_t *b, partition_t *p, const md_partition_t *mp, int32_t leader)
{
	int was_leader = p->is_leader;
	int32_t old_epoch = p->leader_epoch;
	int32_t n = mp->nreplicas < PARTITION_MAX_REPLICAS ? mp->nreplicas : PARTITION_MAX_REPLICAS;

	/* before the staleness check: the overrides do not depend on it */
	apply_topic_config(b, p);
	memcpy(p->replicas, mp->replicas, (size_t)n * sizeof(*p->replicas));
	p->nreplicas = n;
	/* (leader epoch, zkVersion) only grow: a late watch or a late
	 * LeaderAndIsr never takes p back */
	if (mp->has_state && (mp->leader_epoch < p->leader_epoch ||
			      (mp->leader_epoch == p->leader_epoch &&
			       mp->state_version < p->state_version)))
		return;
	if (mp->has_state) {
		n = mp->nisr < PARTITION_MAX_REPLICAS ? mp->nisr : PARTITION_MAX_REPLICAS;
		memcpy(p->isr, mp->isr, (size_t)n * sizeof(*p->isr));
		p->nisr = n;
		p->state_version = mp->state_version;
		p->controller_epoch = mp->controller_epoch;
	} else if (!mp->has_state) {
		p->nisr = 0;
		p->state_version = -1;
	}
	p->leader_id = leader;
	p->leader_epoch = mp->has_state ? mp->leader_epoch : 0;
	if ((leader == b->id) != p->is_leader || old_epoch != p->leader_epoch)
		blog(BLOG_INFO, "broker", "%s-%d: %s (leader %d, epoch %d)", p->topic, p->id,
		     leader == b->id ? "leading" : "following", leader, p->leader_epoch);
	p->is_leader = leader == b->id;
	replica_apply_state(b, p, was_leader, old_epoch);
}

/* The topic is gone from ZooKeeper (the controller deleted it): its data
 * goes too, as Kafka's StopReplica with deletion does. Requests waiting on
 * it are answered first. */
void broker_stop_serving(broker_t *b, partition_t *p)
{
	p->is_leader = 0;
	p->leader_id = -1;
	replica_forget(b, p);
	broker_partition_hw_advanced(b, p); /* what waits on it learns it must go */
}

void broker_delete_partition(broker_t *b, partition_t *p)
{
	char topic[LOG_TOPIC_MAX + 1], err[512];
	int32_t id = p->id;
	log_dir_t *dir = p->dir;

	memcpy(topic, p->topic, sizeof(topic));
	broker_stop_serving(b, p);
	partition_remove(&b->parts, p);
	if (log_dir_delete_log(dir, topic, id, broker_now_ms(), err, sizeof(err)))
		blog(BLOG_ERROR, "log", "%s-%d: deleting: %s", topic, (int)id, err);
	else
		blog(BLOG_INFO, "log", "%s-%d: deleted (the topic was deleted)", topic, (int)id);
}

/* Brings the hosted partitions in line with the cluster view: every
 * partition assigned here is hosted; the effective leader serves it. A
 * partition no longer assigned here stops being served but keeps its data:
 * deleting data is the controller's decision (StopReplica), not a side
 * effect of a watch. */
static void reconcile(broker_t *b)
{
	const metadata_t *md = broker_zk_metadata(b->zk);

	for (size_t i = 0; i < b->parts.n; i++)
		b->parts.parts[i]->seen = 0;
	for (size_t i = 0; md && i < md->ntopics; i++) {
		const md_topic_t *t = md->topics[i];

		for (int32_t j = 0; j < t->npartitions; j++) {
			const md_partition_t *mp = &t->partitions[j];
			int32_t leader;
			partition_t *p;

			if (!is_replica(mp, b->id))
				continue;
			if (!(p = broker_host_partition(b, t->name, mp->id)))
				continue;
			p->seen = 1;
			/* the controller writes every state; until it has,
			 * nobody leads */
			leader = mp->has_state ? metadata_effective_leader(md, t, mp) : -1;
			broker_apply_state(b, p, mp, leader);
		}
	}
	for (size_t i = 0; i < b->parts.n;) {
		partition_t *p = b->parts.parts[i];

		if (!p->seen && md && !metadata_topic(md, p->topic)) {
			broker_delete_partition(b, p); /* takes it out of the table */
			continue;
		}
		i++;
		if (!p->seen && (p->is_leader || p->fetch_from >= 0)) {
			blog(BLOG_INFO, "broker", "%s-%d: no longer assigned here; not serving it",
			     p->topic, p->id);
			broker_stop_serving(b, p);
		}
	}
}

static void on_metadata(void *opaque)
{
	broker_t *b = opaque;

	if (b->state == BROKER_STARTING || b->state == BROKER_RUNNING) {
		reconcile(b);
		broker_ctrl_update(b->ctrl);
	}
}

static void on_zk_fatal(void *opaque, brook_err_t err, const char *reason)
{
	broker_fatal(opaque, "%s", reason);
}

/* Registered in ZooKeeper: now clients may come. */
static void on_registered(void *opaque)
{
	broker_t *b = opaque;
	const broker_conf_t *c = b->conf;

	if (b->state != BROKER_STARTING)
		return;
	net_server_accept(b->net, 1);
	b->state = BROKER_RUNNING;
	reconcile(b);
	if (!b->ctrl && broker_ctrl_new(b, &b->ctrl))
		blog(BLOG_ERROR, "broker", "cannot start the controller: out of memory");
	broker_ctrl_update(b->ctrl);
	blog(BLOG_INFO, "broker", "broker %d serving on %s:%d (cluster %s)", b->id,
	     c->listener[0].host, net_server_port(b->net), broker_zk_cluster_id(b->zk));
}

/* Binds the listener before registering, as Kafka does, so a taken port
 * stops startup before the broker is announced and port 0 can be
 * advertised as the port the kernel chose; it accepts once registered. */
static brook_err_t open_listener(broker_t *b, char *errstr, size_t errstr_size)
{
	const broker_conf_t *c = b->conf;
	net_limits_t lim = {
		.request_max_bytes = (size_t)c->socket_request_max_bytes,
		.output_max_bytes = (size_t)c->connection_output_max_bytes,
		.idle_ms = c->connections_max_idle_ms,
		.max_in_flight = 1000,
	};
	char err[512];
	brook_err_t rc;

	rc = net_server_new(b->loop, c->listener[0].host, c->listener[0].port, &lim,
			    handler_request, b, &b->net, err, sizeof(err));
	if (rc) {
		brook_errstr(errstr, errstr_size, "listeners: %s", err);
		return rc;
	}
	net_server_accept(b->net, 0);
	return BROOK_ERR_NO_ERROR;
}

static void on_retention(struct ev_loop *loop, ev_timer *w, int revents)
{
	broker_t *b = w->data;
	int64_t now = broker_now_ms();

	for (size_t i = 0; i < b->parts.n; i++) {
		partition_t *p = b->parts.parts[i];
		char err[512];
		int deleted = 0;

		if (p->offline)
			continue;
		if (log_apply_retention(p->log, now, p->high_watermark, &deleted, err, sizeof(err)))
			blog(BLOG_ERROR, "log", "%s-%d: retention: %s", p->topic, p->id, err);
		else if (deleted)
			blog(BLOG_INFO, "log", "%s-%d: retention deleted %d segment(s); log starts at %lld",
			     p->topic, p->id, deleted, (long long)p->log->log_start_offset);
	}
}

static void on_flush(struct ev_loop *loop, ev_timer *w, int revents)
{
	broker_t *b = w->data;
	int64_t now = broker_now_ms();

	for (size_t i = 0; i < b->parts.n; i++) {
		partition_t *p = b->parts.parts[i];
		char err[512];

		if (!p->offline && log_maybe_flush(p->log, now, err, sizeof(err)))
			blog(BLOG_ERROR, "log", "%s-%d: flush: %s", p->topic, p->id, err);
	}
}

static void on_checkpoint(struct ev_loop *loop, ev_timer *w, int revents)
{
	broker_t *b = w->data;

	for (int i = 0; i < b->ndirs; i++) {
		char err[512];

		if (log_dir_checkpoint(b->dirs[i], err, sizeof(err)))
			blog(BLOG_ERROR, "log", "checkpoint: %s", err);
	}
}

/* Kafka's replica.high.watermark.checkpoint.interval.ms */
#define HW_CHECKPOINT_S 5.0

static void on_hw_checkpoint(struct ev_loop *loop, ev_timer *w, int revents)
{
	broker_t *b = w->data;
	char err[512];

	if (replica_checkpoint_hw(b, err, sizeof(err)))
		blog(BLOG_ERROR, "replica", "high watermark checkpoint: %s", err);
}

static brook_err_t start_timer(broker_t *b, ev_timer **t, void (*cb)(struct ev_loop *, ev_timer *,
								     int), double every)
{
	if (!(*t = calloc(1, sizeof(**t))))
		return BROOK_ERR__NOMEM;
	ev_timer_init(*t, cb, every, every);
	(*t)->data = b;
	ev_timer_start(b->loop, *t);
	return BROOK_ERR_NO_ERROR;
}

brook_err_t broker_start(broker_t *b, struct ev_loop *loop, const broker_conf_t *conf,
			 char *errstr, size_t errstr_size)
{
	broker_zk_callbacks_t cb = { .on_metadata = on_metadata, .on_fatal = on_zk_fatal,
				     .on_registered = on_registered };
	zk_endpoint_t ep;
	int64_t now = broker_now_ms();
	brook_err_t err;
	double flush_every;

	memset(b, 0, sizeof(*b));
	b->loop = loop;
	b->conf = conf;
	b->id = conf->broker_id;
	b->state = BROKER_STARTING;
	partition_table_init(&b->parts);
	ev_timer_init(&b->stop_timer, on_stop_timer, 0., 0.);
	b->stop_timer.data = b;
	broker_conf_log_config(conf, &b->log_cfg);
	if (!(b->dirs = calloc((size_t)conf->log_dir_cnt, sizeof(*b->dirs))))
		return BROOK_ERR__NOMEM;
	for (int i = 0; i < conf->log_dir_cnt; i++) {
		log_dir_t *ld;

		if (access(conf->log_dir[i], F_OK) != 0 && errno == ENOENT) {
			if ((err = make_log_dir(conf->log_dir[i], errstr, errstr_size)))
				return err;
			blog(BLOG_INFO, "log", "%s: created log dir", conf->log_dir[i]);
		}
		err = log_dir_open(conf->log_dir[i], &b->log_cfg, now, on_log_dir_warning, b, &ld,
				   errstr, errstr_size);
		if (err)
			return err;
		b->dirs[b->ndirs++] = ld;
		blog(BLOG_INFO, "log", "%s: %zu partition(s) loaded%s", ld->path, ld->nparts,
		     ld->nparts == 0 ? "" : ld->had_clean_shutdown ? " (clean shutdown)"
								 : " (unclean shutdown: recovered)");
	}
	if ((err = replica_mgr_new(b, &b->replicas)))
		return err;
	if ((err = open_listener(b, errstr, errstr_size)))
		return err;
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.listener, sizeof(ep.listener), "BROOK");
	snprintf(ep.host, sizeof(ep.host), "%s", conf->advertised.host);
	ep.port = conf->advertised.port ? conf->advertised.port : net_server_port(b->net);
	err = broker_zk_new(loop, conf->zookeeper_connect, conf->zookeeper_session_timeout_ms,
			    conf->zookeeper_connection_timeout_ms, conf->broker_id,
			    (const char *const *)conf->log_dir, conf->log_dir_cnt, &ep, 1, NULL, &cb,
			    b, &b->zk, errstr, errstr_size);
	if (err)
		return err;
	if ((err = start_timer(b, &b->retention_timer, on_retention,
			       (double)conf->log_retention_check_interval_ms / 1000.0)) ||
	    (err = start_timer(b, &b->checkpoint_timer, on_checkpoint, 60.0)) ||
	    (err = start_timer(b, &b->hw_timer, on_hw_checkpoint, HW_CHECKPOINT_S)))
		return err;
	/* Time-based flushing needs a tick at least as fine as its interval. */
	flush_every = conf->log_flush_interval_ms < 1000 ? 0.05 : 1.0;
	if (conf->log_flush_interval_ms < INT64_MAX &&
	    (err = start_timer(b, &b->flush_timer, on_flush, flush_every)))
		return err;
	return broker_zk_start(b->zk);
}

void broker_shutdown(broker_t *b)
{
	if (b->state == BROKER_RUNNING && b->conf->controlled_shutdown_enable && b->ctrl &&
	    !b->shutting_down) {
		b->shutting_down = 1;
		broker_ctrl_shutdown(b->ctrl, broker_stop);
		return;
	}
	broker_stop(b);
}

void broker_stop(broker_t *b)
{
	if (b->state == BROKER_STOPPING || b->state == BROKER_STOPPED)
		return;
	b->state = BROKER_STOPPING;
	blog(BLOG_INFO, "broker", "broker %d shutting down", b->id);
	/* Clients first: nothing may be appended after the logs close. */
	net_server_free(b->net);
	b->net = NULL;
	/* before the session closes: it shares it */
	broker_ctrl_free(b->ctrl);
	b->ctrl = NULL;
	stop_timer(b, &b->retention_timer);
	stop_timer(b, &b->flush_timer);
	stop_timer(b, &b->checkpoint_timer);
	stop_timer(b, &b->hw_timer);
	/* No fetcher may append once the logs close. */
	replica_mgr_free(b->replicas);
	{
		char err[512];

		if (b->ndirs && replica_checkpoint_hw(b, err, sizeof(err)))
			blog(BLOG_ERROR, "replica", "high watermark checkpoint: %s", err);
	}
	b->replicas = NULL;
	for (int i = 0; i < b->ndirs; i++) {
		char err[512], path[4096];

		/* log_dir_close frees the dir, its path with it */
		snprintf(path, sizeof(path), "%s", b->dirs[i]->path);
		/* A fatal error must not look like a clean shutdown if the
		 * logs may be inconsistent; a config or ZooKeeper problem
		 * leaves them fine, so they close cleanly either way. */
		if (log_dir_close(b->dirs[i], err, sizeof(err)))
			blog(BLOG_ERROR, "log", "closing %s: %s (the next start recovers it)", path,
			     err);
	}
	free(b->dirs);
	b->dirs = NULL;
	b->ndirs = 0;
	partition_table_destroy(&b->parts);
	/* Deletes our registration: the cluster sees us leave at once
	 * instead of after the session timeout. */
	broker_zk_free(b->zk);
	b->zk = NULL;
	ev_timer_stop(b->loop, &b->stop_timer);
	b->state = BROKER_STOPPED;
	blog(BLOG_INFO, "broker", "stopped");
	ev_break(b->loop, EVBREAK_ALL);
}
