/*
 * broker_conf.h - brookd's settings: one conf_def_t table (conf.h), the
 * struct it fills, and the checks that span several settings.
 *
 * Sources apply in order, later ones winning: defaults, the properties
 * file, then --override pairs. Kafka's names and defaults are kept where
 * the meaning is the same; brook-only settings say so in their doc.
 *
 * Ownership: the strings and the log_dir array belong to the struct and are
 * freed by broker_conf_destroy(). After a failed broker_conf_load() nothing
 * is left to free (destroying it again is still harmless).
 */
#ifndef BROOK_BROKER_CONF_H
#define BROOK_BROKER_CONF_H

#include <stdint.h>
#include <stdio.h>

#include "brook.h"
#include "conf.h"
#include "log.h"

#define BROKER_CONF_MAX_LISTENERS 16
#define BROKER_CONF_HOST_MAX 255 /* a DNS name is at most 253 bytes */

/* One BROOK://host:port endpoint, checked and split. */
typedef struct broker_listener {
	char host[BROKER_CONF_HOST_MAX + 1]; /* name or IP literal, IPv6 without [] */
	int port;                            /* 0 in listeners: any free port */
} broker_listener_t;

typedef struct broker_conf {
	/* Filled from the table (field types match conf.h: INT int32_t,
	 * LONG int64_t, BOOL int, the rest char *). */
	int32_t broker_id;                        /* broker.id */
	char *listeners;                          /* listeners */
	char *advertised_listeners;               /* advertised.listeners, NULL: listeners */
	char *log_dirs;                           /* log.dirs */
	char *zookeeper_connect;                  /* zookeeper.connect */
	int32_t zookeeper_session_timeout_ms;     /* zookeeper.session.timeout.ms */
	int32_t zookeeper_connection_timeout_ms;  /* zookeeper.connection.timeout.ms */
	int32_t num_partitions;                   /* num.partitions */
	int32_t default_replication_factor;       /* default.replication.factor */
	int32_t min_insync_replicas;              /* min.insync.replicas */
	int unclean_leader_election_enable;       /* unclean.leader.election.enable */
	int auto_create_topics_enable;            /* auto.create.topics.enable */
	int delete_topic_enable;                  /* delete.topic.enable */
	int32_t log_segment_bytes;                /* log.segment.bytes */
	int64_t log_roll_ms;                      /* log.roll.ms */
	int64_t log_retention_ms;                 /* log.retention.ms, -1: forever */
	int64_t log_retention_bytes;              /* log.retention.bytes, -1: no limit */
	int64_t log_retention_check_interval_ms;  /* log.retention.check.interval.ms */
	int32_t log_index_interval_bytes;         /* log.index.interval.bytes */
	int64_t log_flush_interval_messages;      /* log.flush.interval.messages */
	int64_t log_flush_interval_ms;            /* log.flush.interval.ms */
	int64_t replica_lag_time_max_ms;          /* replica.lag.time.max.ms */
	int32_t replica_fetch_max_bytes;          /* replica.fetch.max.bytes */
	int32_t replica_fetch_wait_max_ms;        /* replica.fetch.wait.max.ms */
	int32_t socket_request_max_bytes;         /* socket.request.max.bytes */
	int32_t message_max_bytes;                /* message.max.bytes */
	int64_t connections_max_idle_ms;          /* connections.max.idle.ms */
	int controlled_shutdown_enable;           /* controlled.shutdown.enable */
	int32_t controlled_shutdown_max_retries;  /* controlled.shutdown.max.retries */
	int64_t controlled_shutdown_retry_backoff_ms; /* controlled.shutdown.retry.backoff.ms */
	int auto_leader_rebalance_enable;         /* auto.leader.rebalance.enable */
	int64_t leader_imbalance_check_interval_seconds; /* leader.imbalance.check.interval.seconds */
	int32_t leader_imbalance_per_broker_percentage;  /* leader.imbalance.per.broker.percentage */
	int64_t connection_output_max_bytes;      /* connection.output.max.bytes (brook) */
	char *log_file;                           /* log.file (brook), NULL: stderr */

	/* Derived by broker_conf_load from the text settings above. */
	broker_listener_t listener[BROKER_CONF_MAX_LISTENERS];
	int listener_cnt;
	broker_listener_t advertised; /* advertised.listeners, else listener[0] */
	char **log_dir;               /* log.dirs split, log_dir_cnt >= 1 */
	int log_dir_cnt;
} broker_conf_t;

/* Defaults, then the file at path (NULL: none), then each "key=value" of
 * overrides in order, then the required settings and the cross-setting
 * checks. Errors name the place ("server.properties:12: log.segment.bytes:
 * must be ...", "--override listeners: ...") and are BROOK_ERR_INVALID_CONFIG,
 * BROOK_ERR__INVALID_ARG (unknown key), an errno code for an unreadable
 * file, or BROOK_ERR__NOMEM. c need not be initialised beforehand. */
brook_err_t broker_conf_load(broker_conf_t *c, const char *path, char **overrides,
			     int override_cnt, char *errstr, size_t errstr_size);

/* Frees what broker_conf_load allocated. NULL ok; twice ok. */
void broker_conf_destroy(broker_conf_t *c);

/* `brookd --help`: every setting with type, range, default and doc. */
void broker_conf_print_help(FILE *out);

/* Every setting as key=value, for the startup log. */
void broker_conf_dump(const broker_conf_t *c, FILE *out);

/* The storage settings as the log module takes them. */
void broker_conf_log_config(const broker_conf_t *c, log_config_t *out);

/* The table itself, for generated docs. */
const conf_def_t *broker_conf_table(void);

/* Splits "BROOK://host:port": host a name or an IP literal ("[::1]" for
 * IPv6), port 0..65535. On error, errstr gets the reason alone. */
brook_err_t broker_conf_parse_listener(const char *text, broker_listener_t *out, char *errstr,
				       size_t errstr_size);

#endif /* BROOK_BROKER_CONF_H */
