/* client.c - the handle's I/O thread, broker table and metadata refresh. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "errstr.h"
#include "proto.h"

/* ---- time and waiting ---- */

int64_t client_wallclock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t client_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? INT64_MAX : conn_now_ms() + timeout_ms;
}

int client_cond_wait(client_t *c, int64_t abs_ms)
{
	struct timespec ts;
	int rc;

	if (abs_ms == INT64_MAX) {
		pthread_cond_wait(&c->cond, &c->lock);
		return 0;
	}
	ts.tv_sec = (time_t)(abs_ms / 1000);
	ts.tv_nsec = (long)(abs_ms % 1000) * 1000000;
	rc = pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	return rc == ETIMEDOUT ? ETIMEDOUT : 0;
}

/* ---- logging ---- */

static const char *level_name(int level)
{
	if (level <= BROOK_LOG_ERR)
		return "ERROR";
	if (level == BROOK_LOG_WARNING)
		return "WARN";
	if (level <= BROOK_LOG_INFO)
		return "INFO";
	return "DEBUG";
}

static void vlog(client_t *c, int level, const char *facility, const char *fmt, va_list ap)
{
	char msg[768];

	if (level > c->conf.log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->log_cb)
		c->log_cb(level, facility, msg, c->log_opaque);
	else
		fprintf(stderr, "%s [brook %s] %s\n", level_name(level), facility, msg);
}

void client_log(client_t *c, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(c, level, c->role->name, fmt, ap);
	va_end(ap);
}

static void log_facility(client_t *c, int level, const char *facility, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void log_facility(client_t *c, int level, const char *facility, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(c, level, facility, fmt, ap);
	va_end(ap);
}

static void conn_log(void *opaque, int level, const char *message)
{
	log_facility(opaque, level, "conn", "%s", message);
}

/* ---- brokers ---- */

brook_err_t client_parse_hostport(const char *s, size_t len, char *host, size_t size, int *port)
{
	const char *colon, *h = s, *end = s + len;
	size_t hlen;
	long p = 0;

	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close || close + 1 >= end || close[1] != ':')
			return BROOK_ERR__INVALID_ARG;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = NULL;
		for (const char *q = s; q < end; q++)
			if (*q == ':')
				colon = q;
		if (!colon)
			return BROOK_ERR__INVALID_ARG;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= size || colon + 1 >= end || end - (colon + 1) > 5)
		return BROOK_ERR__INVALID_ARG;
	for (const char *q = colon + 1; q < end; q++) {
		if (*q < '0' || *q > '9')
			return BROOK_ERR__INVALID_ARG;
		p = p * 10 + (*q - '0');
	}
	if (p < 1 || p > 65535)
		return BROOK_ERR__INVALID_ARG;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	*port = (int)p;
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t add_broker(client_t *c, int32_t id, const char *host, int port)
{
	client_broker_t *b;
	conn_opts_t opts = {
		.client_id = c->conf.client_id,
		.connect_timeout_ms = c->conf.socket_timeout_ms,
		.backoff_ms = c->conf.reconnect_backoff_ms,
		.backoff_max_ms = c->conf.reconnect_backoff_max_ms,
		.log = conn_log,
		.opaque = c,
	};
	brook_err_t err;

	if (c->broker_cnt == c->broker_cap) {
		size_t cap = c->broker_cap ? c->broker_cap * 2 : 8;
		client_broker_t **v = realloc(c->brokers, cap * sizeof(*v));

		if (!v)
			return BROOK_ERR__NOMEM;
		c->brokers = v;
		c->broker_cap = cap;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return BROOK_ERR__NOMEM;
	b->id = id;
	if ((err = conn_new(c->loop, host, port, &opts, &b->conn))) {
		free(b);
		return err;
	}
	c->brokers[c->broker_cnt++] = b;
	return BROOK_ERR_NO_ERROR;
}

static client_broker_t *find_broker(client_t *c, int32_t id)
{
	for (size_t i = 0; i < c->broker_cnt; i++)
		if (c->brokers[i]->id == id)
			return c->brokers[i];
	return NULL;
}

conn_t *client_broker_conn(client_t *c, int32_t node_id)
{
	client_broker_t *b = node_id >= 0 ? find_broker(c, node_id) : NULL;

	return b ? b->conn : NULL;
}

/* ---- metadata ---- */

static void md_send(client_t *c);

static void md_arm(client_t *c)
{
	int64_t now = conn_now_ms(), due;

	ev_timer_stop(c->loop, &c->md_timer);
	if (c->md_inflight || c->want_cnt == 0)
		return;
	due = c->md_last_ok + c->conf.metadata_max_age_ms;
	if (c->md_forced) {
		int64_t forced = c->md_last_request + c->conf.retry_backoff_ms;

		if (forced < due)
			due = forced;
	}
	ev_timer_set(&c->md_timer, due > now ? (double)(due - now) / 1000.0 : 0.0, 0.0);
	ev_timer_start(c->loop, &c->md_timer);
}

static void md_done(conn_t *conn, brook_err_t err, const msgpack_object *body, void *opaque)
{
	client_t *c = opaque;
	client_md_response_t *r = NULL;
	char why[256];

	c->md_inflight = 0;
	if (err == BROOK_ERR__CLOSED)
		return;
	if (!err)
		err = client_md_response_parse(body, &r, why, sizeof(why));
	else if ((err == BROOK_ERR__TRANSPORT || err == BROOK_ERR__TIMED_OUT ||
		  err == BROOK_ERR__BAD_MSG) && conn_last_error(conn)[0])
		snprintf(why, sizeof(why), "%s", conn_last_error(conn));
	else
		snprintf(why, sizeof(why), "%s", brook_err_str(err));
	if (!err) {
		for (size_t i = 0; i < r->broker_cnt && !err; i++) {
			client_broker_t *b = find_broker(c, r->brokers[i].id);

			if (b)
				err = conn_set_address(b->conn, r->brokers[i].host,
						       r->brokers[i].port);
			else
				err = add_broker(c, r->brokers[i].id, r->brokers[i].host,
						 r->brokers[i].port);
		}
		if (!err)
			err = client_md_cache_update(&c->md, r);
		if (err)
			snprintf(why, sizeof(why), "%s", brook_err_str(err));
		client_md_response_free(r);
	}
	if (err) {
		/* next time ask another broker: this one may be the problem */
		c->md_rr++;
		c->md_forced = 1;
		c->md_last_err = err;
		snprintf(c->md_last_errstr, sizeof(c->md_last_errstr), "%.200s: %.250s",
			 conn_name(conn), why);
		log_facility(c, BROOK_LOG_DEBUG, "metadata", "request to %s failed: %s",
			     conn_name(conn), why);
	} else {
		c->md_last_ok = conn_now_ms();
		c->md_last_err = BROOK_ERR_NO_ERROR;
		c->md_last_errstr[0] = 0;
		if (c->role->on_metadata)
			c->role->on_metadata(c);
	}
	md_arm(c);
}

/* A connected broker if there is one (no connect wait); else the next one
 * in turn that may connect now; else the one whose backoff ends first. */
static client_broker_t *pick_md_broker(client_t *c)
{
	client_broker_t *best = NULL;
	int64_t best_left = INT64_MAX;

	for (size_t k = 0; k < c->broker_cnt; k++) {
		client_broker_t *b = c->brokers[(c->md_rr + k) % c->broker_cnt];

		if (conn_state(b->conn) == CONN_UP)
			return b;
	}
	for (size_t k = 0; k < c->broker_cnt; k++) {
		client_broker_t *b = c->brokers[(c->md_rr + k) % c->broker_cnt];
		int64_t left = conn_backoff_left_ms(b->conn);

		if (left < best_left) {
			best = b;
			best_left = left;
		}
	}
	return best;
}

static void md_send(client_t *c)
{
	client_md_request_t req = {
		.topics = (const char *const *)c->want,
		.topic_cnt = c->want_cnt,
		.allow_auto_create = c->conf.allow_auto_create_topics,
	};
	client_broker_t *b;
	brook_err_t err;

	if (c->md_inflight || c->want_cnt == 0)
		return;
	b = pick_md_broker(c);
	if (!b)
		return;
	c->md_forced = 0;
	c->md_last_request = conn_now_ms();
	err = conn_request(b->conn, PROTO_API_METADATA, 0, client_md_request_pack, &req,
			   c->conf.request_timeout_ms, 1, md_done, c);
	if (err) {
		c->md_forced = 1;
		log_facility(c, BROOK_LOG_WARNING, "metadata", "cannot queue a request: %s",
			     brook_err_str(err));
		md_arm(c);
		return;
	}
	c->md_inflight = 1;
	ev_timer_stop(c->loop, &c->md_timer);
}

static void md_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	client_t *c = w->data;

	(void)loop;
	(void)revents;
	md_send(c);
	if (!c->md_inflight)
		md_arm(c);
}

void client_md_refresh(client_t *c, const char *reason)
{
	if (!c->md_forced)
		log_facility(c, BROOK_LOG_DEBUG, "metadata", "refresh: %s", reason);
	c->md_forced = 1;
	if (c->md_inflight)
		return;
	if (conn_now_ms() - c->md_last_request >= c->conf.retry_backoff_ms)
		md_send(c);
	else
		md_arm(c);
}

void client_want_topic(client_t *c, const char *topic)
{
	char *copy;

	for (size_t i = 0; i < c->want_cnt; i++)
		if (strcmp(c->want[i], topic) == 0)
			return;
	if (c->want_cnt == c->want_cap) {
		size_t cap = c->want_cap ? c->want_cap * 2 : 8;
		char **v = realloc(c->want, cap * sizeof(*v));

		if (!v)
			return; /* the role sees no metadata and fails by its deadline */
		c->want = v;
		c->want_cap = cap;
	}
	if (!(copy = strdup(topic)))
		return;
	c->want[c->want_cnt++] = copy;
	/* A new topic is worth asking about right away: a request in flight
	 * did not include it. */
	c->md_forced = 1;
	if (!c->md_inflight)
		md_send(c);
}

const client_md_topic_t *client_md_topic(client_t *c, const char *topic)
{
	return client_md_cache_topic(&c->md, topic);
}

/* ---- the I/O thread ---- */

static void serve(client_t *c)
{
	int64_t now = conn_now_ms(), next;

	next = c->role->serve(c, now);
	ev_timer_stop(c->loop, &c->serve_timer);
	if (next == INT64_MAX)
		return;
	now = conn_now_ms();
	ev_timer_set(&c->serve_timer, next > now ? (double)(next - now) / 1000.0 : 0.0, 0.0);
	ev_timer_start(c->loop, &c->serve_timer);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	serve(w->data);
}

/* The timer only has to wake the loop: prepare_cb serves. */
static void serve_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	client_t *c = w->data;
	int stop;

	(void)revents;
	pthread_mutex_lock(&c->lock);
	stop = c->terminate;
	pthread_mutex_unlock(&c->lock);
	if (stop)
		ev_break(loop, EVBREAK_ALL);
}

static void *io_thread(void *arg)
{
	client_t *c = arg;
	sigset_t all;

	/* signals are the application's business, not this thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	ev_run(c->loop, 0);
	return NULL;
}

/* ---- lifecycle ---- */

static brook_err_t parse_bootstrap(client_t *c, char *errstr, size_t errstr_size)
{
	const char *s = c->conf.bootstrap_servers;
	int32_t id = -1;

	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char host[CLIENT_MD_HOST_MAX + 1];
		int port;
		brook_err_t err;

		if (client_parse_hostport(s, len, host, sizeof(host), &port)) {
			brook_errstr(errstr, errstr_size, "bootstrap.servers: \"%.*s\": %s",
				     (int)len, s, "expected host:port");
			return BROOK_ERR__CONFIG;
		}
		if ((err = add_broker(c, id--, host, port))) {
			brook_errstr(errstr, errstr_size, "%s", brook_err_str(err));
			return err;
		}
		s += len;
		if (*s == ',')
			s++;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t client_init(client_t *c, const brook_conf_t *conf, int producer,
			const client_role_t *role, void *role_state, char *errstr,
			size_t errstr_size)
{
	pthread_condattr_t ca;
	brook_err_t err;

	memset(c, 0, sizeof(*c));
	if (!conf) {
		brook_errstr(errstr, errstr_size, "no configuration given");
		return BROOK_ERR__INVALID_ARG;
	}
	if ((err = client_conf_check(&conf->c, producer, errstr, errstr_size)))
		return err;
	if (client_conf_copy(&c->conf, &conf->c)) {
		brook_errstr(errstr, errstr_size, "out of memory");
		return BROOK_ERR__NOMEM;
	}
	c->log_cb = conf->log_cb;
	c->log_opaque = conf->log_opaque;
	c->role = role;
	c->role_state = role_state;
	client_md_cache_init(&c->md);
	c->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!c->loop) {
		brook_errstr(errstr, errstr_size, "cannot create an event loop");
		conf_destroy(client_conf_table, &c->conf);
		return BROOK_ERR__NOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	ev_async_init(&c->wakeup, async_cb);
	ev_prepare_init(&c->prepare, prepare_cb);
	ev_timer_init(&c->serve_timer, serve_timer_cb, 0., 0.);
	ev_timer_init(&c->md_timer, md_timer_cb, 0., 0.);
	c->wakeup.data = c->prepare.data = c->serve_timer.data = c->md_timer.data = c;
	ev_async_start(c->loop, &c->wakeup);
	ev_prepare_start(c->loop, &c->prepare);
	if ((err = parse_bootstrap(c, errstr, errstr_size))) {
		client_close_conns(c);
		client_destroy(c);
		return err;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t client_start(client_t *c, char *errstr, size_t errstr_size)
{
	int rc = pthread_create(&c->thread, NULL, io_thread, c);

	if (rc != 0) {
		brook_errstr(errstr, errstr_size, "cannot start the I/O thread: %s", strerror(rc));
		return BROOK_ERR__NOMEM;
	}
	c->thread_started = 1;
	return BROOK_ERR_NO_ERROR;
}

void client_wakeup(client_t *c)
{
	ev_async_send(c->loop, &c->wakeup);
}

void client_stop(client_t *c)
{
	if (!c->thread_started)
		return;
	pthread_mutex_lock(&c->lock);
	c->terminate = 1;
	pthread_mutex_unlock(&c->lock);
	client_wakeup(c);
	pthread_join(c->thread, NULL);
	c->thread_started = 0;
}

void client_close_conns(client_t *c)
{
	for (size_t i = 0; i < c->broker_cnt; i++) {
		conn_free(c->brokers[i]->conn);
		c->brokers[i]->conn = NULL;
	}
}

void client_destroy(client_t *c)
{
	for (size_t i = 0; i < c->broker_cnt; i++) {
		conn_free(c->brokers[i]->conn);
		free(c->brokers[i]);
	}
	free(c->brokers);
	for (size_t i = 0; i < c->want_cnt; i++)
		free(c->want[i]);
	free(c->want);
	client_md_cache_destroy(&c->md);
	if (c->loop) {
		ev_async_stop(c->loop, &c->wakeup);
		ev_prepare_stop(c->loop, &c->prepare);
		ev_timer_stop(c->loop, &c->serve_timer);
		ev_timer_stop(c->loop, &c->md_timer);
		ev_loop_destroy(c->loop);
	}
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	conf_destroy(client_conf_table, &c->conf);
	memset(c, 0, sizeof(*c));
}
