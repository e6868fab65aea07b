/*
 * broker.h - the one broker struct (as Redis keeps one `server`): the loop,
 * the settings, the log dirs, the hosted partitions, the ZooKeeper side,
 * the network server and the waiting fetches, and their lifecycle.
 *
 * Startup: open every log dir (recovery), start ZooKeeper (cluster id,
 * meta.properties, registration, watches), and only once registered listen
 * for clients. Every change of the cluster view reconciles the hosted
 * partitions: a partition assigned here gets a log; the effective leader
 * (metadata.h) decides who serves it.
 *
 * Ownership: broker_t owns everything it points to. Everything runs on the
 * loop thread; nothing here is thread-safe.
 */
#ifndef BROOK_BROKER_H
#define BROOK_BROKER_H

#include <stdint.h>

#include <ev.h>

#include "broker_conf.h"
#include "broker_zk.h"
#include "log_dir.h"
#include "net.h"
#include "partition.h"

typedef struct fetch_waiter fetch_waiter_t;
typedef struct produce_waiter produce_waiter_t;
typedef struct replica_mgr replica_mgr_t;
typedef struct broker_ctrl broker_ctrl_t;

typedef enum broker_state {
	BROKER_STARTING,
	BROKER_RUNNING,
	BROKER_STOPPING,
	BROKER_STOPPED,
} broker_state_t;

typedef struct broker {
	struct ev_loop *loop;
	const broker_conf_t *conf;
	int32_t id;
	broker_state_t state;
	log_config_t log_cfg;
	log_dir_t **dirs;
	int ndirs;
	partition_table_t parts;
	broker_zk_t *zk;
	net_server_t *net;
	fetch_waiter_t *waiters;   /* long-poll fetches (handler_fetch.c) */
	produce_waiter_t *produce_waiters; /* acks=all (handler_produce.c) */
	replica_mgr_t *replicas;   /* followers, ISR, fetchers (replica.c) */
	broker_ctrl_t *ctrl;       /* our controller and its requests (broker_ctrl.c) */
	int32_t controller_epoch;  /* highest seen in a controller request */
	int shutting_down;         /* controlled shutdown under way */
	int exit_code;             /* for main(): 0, or 1 after a fatal error */
	char fatal[1024];
	/* periodic work */
	ev_timer *retention_timer, *flush_timer, *checkpoint_timer, *hw_timer;
	ev_timer stop_timer;       /* broker_fatal stops from the loop */
} broker_t;

/* Opens the log dirs and starts ZooKeeper; the listener opens once the
 * broker is registered. Errors name the file or setting. */
brook_err_t broker_start(broker_t *b, struct ev_loop *loop, const broker_conf_t *conf,
			 char *errstr, size_t errstr_size);

/* Clean shutdown (SIGTERM): stop accepting, answer nothing more, close
 * every log (flush, indexes, recovery points, clean-shutdown marker),
 * deregister from ZooKeeper. Then the loop has nothing left to run. */
void broker_stop(broker_t *b);

/* SIGTERM: with controlled.shutdown.enable, first asks the controller to
 * move this broker's leaderships (broker_ctrl.h), then broker_stop(). A
 * second call stops at once. */
void broker_shutdown(broker_t *b);
/* A fatal error after startup (id taken, cluster mismatch): logs, stops. */
void broker_fatal(broker_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Milliseconds since the epoch (record timestamps, retention). */
int64_t broker_now_ms(void);

/* The hosted partition topic/id, opening or creating its log; NULL (and
 * logged) when the log cannot be created. */
partition_t *broker_host_partition(broker_t *b, const char *topic, int32_t id);
/* Takes a partition state (assignment, leader, epoch, ISR, zkVersion) as
 * the view or the controller's LeaderAndIsr gives it, unless it is older
 * than what p has (leader epoch, then zkVersion, only grow); `leader` is
 * the leader to follow (-1: none). p then leads, follows or waits. Also
 * applies the topic's config overrides when they changed. */
struct md_partition;
void broker_apply_state(broker_t *b, partition_t *p, const struct md_partition *mp, int32_t leader);
/* p is neither led nor followed here any more (kept on disk): stops its
 * fetching and answers the produces and fetches waiting on it. */
void broker_stop_serving(broker_t *b, partition_t *p);
/* Answers what waits on p, removes it from the table and deletes its log
 * from disk (a deleted topic, or StopReplica with deletion). */
void broker_delete_partition(broker_t *b, partition_t *p);
/* Called after a successful append to p: wakes waiting fetches. */
void broker_partition_appended(broker_t *b, partition_t *p);
/* p's high watermark grew (or p stopped being led here): answers the
 * acks=all produces it satisfies and the consumer fetches now possible. */
void broker_partition_hw_advanced(broker_t *b, partition_t *p);

#endif
