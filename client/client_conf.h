/*
 * client_conf.h - the client library's settings: one conf.h table with
 * Kafka's names, behind the public brook_conf_t.
 *
 * Ownership: a brook_conf_t owns its strings (conf.h allocates them);
 * handles take a deep copy (client_conf_copy) so the application may free or
 * change its brook_conf_t at any time.
 */
#ifndef BROOK_CLIENT_CONF_H
#define BROOK_CLIENT_CONF_H

#include <stdint.h>

#include "brook.h"
#include "conf.h"

typedef struct client_conf {
	/* common */
	char *bootstrap_servers;         /* "host:port,host:port" */
	char *client_id;
	int32_t request_timeout_ms;
	int32_t socket_timeout_ms;       /* TCP connect bound */
	int32_t reconnect_backoff_ms;
	int32_t reconnect_backoff_max_ms;
	int32_t retry_backoff_ms;
	int32_t metadata_max_age_ms;
	int32_t topic_metadata_propagation_max_ms;
	int allow_auto_create_topics;
	int32_t max_in_flight;           /* per connection */
	int32_t message_max_bytes;
	int32_t log_level;
	/* producer */
	char *acks;                      /* "all", "-1", "0", "1" */
	int32_t linger_ms;
	int32_t batch_size;
	char *compression_type;
	int32_t delivery_timeout_ms;
	int32_t retries;
	int32_t queue_buffering_max_messages;
	int32_t queue_buffering_max_kbytes;
	/* consumer */
	int32_t fetch_min_bytes;
	int32_t fetch_max_wait_ms;
	int32_t fetch_max_bytes;
	int32_t max_partition_fetch_bytes;
	int32_t queued_max_messages_kbytes;
	int32_t fetch_error_backoff_ms;
	char *auto_offset_reset;         /* "earliest", "latest", "none" */
	int enable_partition_eof;
	/* group consumer */
	char *group_id;
	char *zookeeper_connect;
	int32_t zookeeper_session_timeout_ms;
	int enable_auto_commit;
	int32_t auto_commit_interval_ms;
	char *partition_assignment_strategy;  /* "range", "roundrobin", "sticky" */
} client_conf_t;

/* The table, terminated by a NULL name. */
extern const conf_def_t client_conf_table[];

struct brook_conf {
	client_conf_t c;
	brook_log_cb *log_cb;
	void *log_opaque;
	brook_rebalance_cb *on_assign, *on_revoke;
	void *rebalance_opaque;
	brook_commit_cb *commit_cb;
	void *commit_opaque;
};

/* dst gets a deep copy of src (dst uninitialised on entry). _NOMEM leaves
 * dst empty (safe to conf_destroy). */
brook_err_t client_conf_copy(client_conf_t *dst, const client_conf_t *src);

/* acks as the wire wants it: -1, 0 or 1. */
int client_conf_acks(const client_conf_t *c);

/* Checks the settings a handle needs together (bootstrap.servers set,
 * delivery.timeout.ms >= linger.ms + request.timeout.ms, as Kafka's
 * producer demands). BROOK_ERR__CONFIG with the reason. */
brook_err_t client_conf_check(const client_conf_t *c, int producer, char *errstr,
			      size_t errstr_size);

#endif
