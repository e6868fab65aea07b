/* client_conf.c - the client settings table and the brook_conf_* API. */
#include <stdlib.h>
#include <string.h>

#include "client_conf.h"
#include "compress.h"
#include "errstr.h"

#define OFF(field) offsetof(client_conf_t, field)
#define I32MAX 2147483647

static const char *const acks_values[] = { "all", "-1", "0", "1", NULL };
/* snappy is left out: compress.h cannot write it, so refuse it up front. */
static const char *const codec_values[] = { "none", "gzip", "lz4", "zstd", NULL };
static const char *const reset_values[] = { "earliest", "latest", "none", NULL };
static const char *const strategy_values[] = { "range", "roundrobin", "sticky", NULL };

const conf_def_t client_conf_table[] = {
	/* common */
	{ "bootstrap.servers", CONF_LIST, OFF(bootstrap_servers), NULL, 0, 0, NULL, 0,
	  "Brokers to ask for the cluster's metadata first: host:port,host:port" },
	{ "client.id", CONF_STRING, OFF(client_id), "brook", 0, 0, NULL, 0,
	  "Name sent with every request, for the brokers' logs" },
	{ "request.timeout.ms", CONF_INT, OFF(request_timeout_ms), "30000", 1, 900000, NULL, 0,
	  "How long to wait for a broker's answer before failing the request and reconnecting" },
	{ "socket.timeout.ms", CONF_INT, OFF(socket_timeout_ms), "10000", 10, 300000, NULL, 0,
	  "How long a TCP connection to a broker may take to establish" },
	{ "reconnect.backoff.ms", CONF_INT, OFF(reconnect_backoff_ms), "100", 0, 3600000, NULL, 0,
	  "First wait before reconnecting to a broker; doubles on every failure" },
	{ "reconnect.backoff.max.ms", CONF_INT, OFF(reconnect_backoff_max_ms), "10000", 0,
	  3600000, NULL, 0, "Upper bound of the reconnect wait" },
	{ "retry.backoff.ms", CONF_INT, OFF(retry_backoff_ms), "100", 1, 300000, NULL, 0,
	  "Wait before retrying a failed request, and between two metadata refreshes" },
	{ "metadata.max.age.ms", CONF_INT, OFF(metadata_max_age_ms), "300000", 1, 86400000, NULL,
	  0, "Refresh the metadata at least this often, even without errors" },
	{ "topic.metadata.propagation.max.ms", CONF_INT, OFF(topic_metadata_propagation_max_ms),
	  "30000", 0, 3600000, NULL, 0,
	  "How long a topic the cluster does not know may take to appear (a topic just created) "
	  "before its messages or assignment fail with UNKNOWN_TOPIC_OR_PARTITION" },
	{ "allow.auto.create.topics", CONF_BOOL, OFF(allow_auto_create_topics), "true", 0, 0,
	  NULL, 0, "Let metadata requests create missing topics (when the broker allows it)" },
	{ "max.in.flight.requests.per.connection", CONF_INT, OFF(max_in_flight), "5", 1, 1000000,
	  NULL, 0,
	  "Requests sent to one broker without waiting for answers; the producer keeps at most "
	  "one batch per partition in flight when retries > 0, so retries never reorder" },
	{ "message.max.bytes", CONF_INT, OFF(message_max_bytes), "1000000", 1000, 1000000000,
	  NULL, 0, "Largest message (and produce request) the client sends" },
	{ "log_level", CONF_INT, OFF(log_level), "4", 0, 7, NULL, 0,
	  "Log events up to this syslog level: 3 errors, 4 warnings, 6 info, 7 debug" },
	/* producer */
	{ "acks", CONF_ENUM, OFF(acks), "all", 0, 0, acks_values, 0,
	  "Acknowledgements the leader waits for: 0 none, 1 the leader, all (-1) the in-sync "
	  "replicas" },
	{ "linger.ms", CONF_INT, OFF(linger_ms), "5", 0, 900000, NULL, 0,
	  "Wait up to this long for more messages to fill a batch" },
	{ "batch.size", CONF_INT, OFF(batch_size), "16384", 1, I32MAX, NULL, 0,
	  "Bytes of messages per partition batch; a full batch is sent without waiting" },
	{ "compression.type", CONF_ENUM, OFF(compression_type), "none", 0, 0, codec_values, 0,
	  "Codec for produced batches" },
	{ "delivery.timeout.ms", CONF_INT, OFF(delivery_timeout_ms), "120000", 1, I32MAX, NULL, 0,
	  "Fail a message not acknowledged this long after brook_produce(); must be at least "
	  "linger.ms + request.timeout.ms" },
	{ "retries", CONF_INT, OFF(retries), "2147483647", 0, I32MAX, NULL, 0,
	  "Times a batch is resent after a retriable error, within delivery.timeout.ms" },
	{ "queue.buffering.max.messages", CONF_INT, OFF(queue_buffering_max_messages), "100000",
	  1, 100000000, NULL, 0, "Messages queued (sent or not, unreported) before _QUEUE_FULL" },
	{ "queue.buffering.max.kbytes", CONF_INT, OFF(queue_buffering_max_kbytes), "1048576", 1,
	  I32MAX, NULL, 0, "Kilobytes of messages queued before _QUEUE_FULL" },
	/* consumer */
	{ "fetch.min.bytes", CONF_INT, OFF(fetch_min_bytes), "1", 1, 100000000, NULL, 0,
	  "The broker answers a fetch once it has this many bytes (or fetch.max.wait.ms passed)" },
	{ "fetch.max.wait.ms", CONF_INT, OFF(fetch_max_wait_ms), "500", 0, 300000, NULL, 0,
	  "How long the broker may hold a fetch waiting for fetch.min.bytes" },
	{ "fetch.max.bytes", CONF_INT, OFF(fetch_max_bytes), "52428800", 1, I32MAX, NULL, 0,
	  "Bytes one fetch response may carry (at least one batch comes anyway)" },
	{ "max.partition.fetch.bytes", CONF_INT, OFF(max_partition_fetch_bytes), "1048576", 1,
	  I32MAX, NULL, 0, "Bytes per partition in one fetch (at least one batch comes anyway)" },
	{ "queued.max.messages.kbytes", CONF_INT, OFF(queued_max_messages_kbytes), "65536", 1,
	  2097151, NULL, 0, "Fetched kilobytes waiting for brook_consumer_poll() before fetching "
	  "pauses" },
	{ "fetch.error.backoff.ms", CONF_INT, OFF(fetch_error_backoff_ms), "500", 0, 300000, NULL,
	  0, "Wait before fetching a partition again after an error" },
	{ "auto.offset.reset", CONF_ENUM, OFF(auto_offset_reset), "latest", 0, 0, reset_values, 0,
	  "Where to go when the offset is outside the log: earliest, latest, or none (an error "
	  "event)" },
	{ "enable.partition.eof", CONF_BOOL, OFF(enable_partition_eof), "true", 0, 0, NULL, 0,
	  "Report _PARTITION_EOF events when a partition reaches its high watermark" },
	/* group consumer */
	{ "group.id", CONF_STRING, OFF(group_id), NULL, 0, 0, NULL, 0,
	  "Consumer group to join with brook_consumer_subscribe()" },
	{ "zookeeper.connect", CONF_STRING, OFF(zookeeper_connect), NULL, 0, 0, NULL, 0,
	  "ZooKeeper ensemble the group coordinates through: host:port,host:port[/chroot]" },
	{ "zookeeper.session.timeout.ms", CONF_INT, OFF(zookeeper_session_timeout_ms), "6000",
	  1000, 600000, NULL, 0,
	  "A member silent this long loses its session, its membership and its partitions" },
	{ "enable.auto.commit", CONF_BOOL, OFF(enable_auto_commit), "true", 0, 0, NULL, 0,
	  "Commit the positions of the messages poll() returned, every auto.commit.interval.ms "
	  "and before partitions are revoked" },
	{ "auto.commit.interval.ms", CONF_INT, OFF(auto_commit_interval_ms), "5000", 1, 86400000,
	  NULL, 0, "How often enable.auto.commit commits" },
	{ "partition.assignment.strategy", CONF_ENUM, OFF(partition_assignment_strategy), "range",
	  0, 0, strategy_values, 0,
	  "How the group shares partitions: range, roundrobin or sticky (Kafka's assignors); "
	  "every member of a group must use the same" },
	{ NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

brook_err_t client_conf_copy(client_conf_t *dst, const client_conf_t *src)
{
	memcpy(dst, src, sizeof(*dst));
	for (const conf_def_t *d = client_conf_table; d->name; d++) {
		char **dp = (char **)((char *)dst + d->offset);

		if (d->type != CONF_STRING && d->type != CONF_LIST && d->type != CONF_ENUM)
			continue;
		if (*dp && !(*dp = strdup(*dp))) {
			/* null the not-yet-copied strings so conf_destroy frees only ours */
			for (const conf_def_t *e = d + 1; e->name; e++)
				if (e->type == CONF_STRING || e->type == CONF_LIST ||
				    e->type == CONF_ENUM)
					*(char **)((char *)dst + e->offset) = NULL;
			conf_destroy(client_conf_table, dst);
			return BROOK_ERR__NOMEM;
		}
	}
	return BROOK_ERR_NO_ERROR;
}

int client_conf_acks(const client_conf_t *c)
{
	if (strcmp(c->acks, "0") == 0)
		return 0;
	if (strcmp(c->acks, "1") == 0)
		return 1;
	return -1;
}

brook_err_t client_conf_check(const client_conf_t *c, int producer, char *errstr,
			      size_t errstr_size)
{
	if (!c->bootstrap_servers || !*c->bootstrap_servers) {
		brook_errstr(errstr, errstr_size, "bootstrap.servers: must be set");
		return BROOK_ERR__CONFIG;
	}
	if (producer &&
	    (int64_t)c->delivery_timeout_ms < (int64_t)c->linger_ms + c->request_timeout_ms) {
		brook_errstr(errstr, errstr_size,
			     "delivery.timeout.ms: must be at least linger.ms + request.timeout.ms "
			     "(%d + %d)", (int)c->linger_ms, (int)c->request_timeout_ms);
		return BROOK_ERR__CONFIG;
	}
	if (c->reconnect_backoff_max_ms < c->reconnect_backoff_ms) {
		brook_errstr(errstr, errstr_size,
			     "reconnect.backoff.max.ms: must be at least reconnect.backoff.ms");
		return BROOK_ERR__CONFIG;
	}
	return BROOK_ERR_NO_ERROR;
}

/* ---- public API ---- */

brook_conf_t *brook_conf_new(void)
{
	brook_conf_t *conf = calloc(1, sizeof(*conf));

	if (!conf)
		return NULL;
	if (conf_init(client_conf_table, &conf->c, NULL, 0) != BROOK_ERR_NO_ERROR) {
		conf_destroy(client_conf_table, &conf->c);
		free(conf);
		return NULL;
	}
	return conf;
}

brook_conf_t *brook_conf_dup(const brook_conf_t *conf)
{
	brook_conf_t *copy = calloc(1, sizeof(*copy));

	if (!copy)
		return NULL;
	if (client_conf_copy(&copy->c, &conf->c) != BROOK_ERR_NO_ERROR) {
		free(copy);
		return NULL;
	}
	copy->log_cb = conf->log_cb;
	copy->log_opaque = conf->log_opaque;
	copy->on_assign = conf->on_assign;
	copy->on_revoke = conf->on_revoke;
	copy->rebalance_opaque = conf->rebalance_opaque;
	copy->commit_cb = conf->commit_cb;
	copy->commit_opaque = conf->commit_opaque;
	return copy;
}

void brook_conf_free(brook_conf_t *conf)
{
	if (!conf)
		return;
	conf_destroy(client_conf_table, &conf->c);
	free(conf);
}

brook_err_t brook_conf_set(brook_conf_t *conf, const char *key, const char *value,
			   char *errstr, size_t errstr_size)
{
	if (!conf || !key || !value) {
		brook_errstr(errstr, errstr_size, "brook_conf_set: NULL argument");
		return BROOK_ERR__INVALID_ARG;
	}
	return conf_set(client_conf_table, &conf->c, key, value, errstr, errstr_size);
}

brook_err_t brook_conf_get(const brook_conf_t *conf, const char *key, char *buf, size_t size)
{
	const conf_def_t *d = conf_find(client_conf_table, key);

	if (!d || !buf || size == 0)
		return BROOK_ERR__INVALID_ARG;
	conf_get(d, &conf->c, buf, size);
	return BROOK_ERR_NO_ERROR;
}

void brook_conf_print_help(FILE *out)
{
	conf_print_help(client_conf_table, out);
}

void brook_conf_set_log_cb(brook_conf_t *conf, brook_log_cb *cb, void *opaque)
{
	conf->log_cb = cb;
	conf->log_opaque = opaque;
}

void brook_conf_set_rebalance_cb(brook_conf_t *conf, brook_rebalance_cb *on_assign,
				 brook_rebalance_cb *on_revoke, void *opaque)
{
	conf->on_assign = on_assign;
	conf->on_revoke = on_revoke;
	conf->rebalance_opaque = opaque;
}

void brook_conf_set_offset_commit_cb(brook_conf_t *conf, brook_commit_cb *cb, void *opaque)
{
	conf->commit_cb = cb;
	conf->commit_opaque = opaque;
}
