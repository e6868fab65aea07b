/*
 * controller.h - the cluster controller's ZooKeeper side. Every broker runs
 * one; the one whose ephemeral /controller create wins bumps
 * /controller_epoch and, while active, keeps every partition state znode
 * right (DESIGN.md, "Controller"): initial states of new partitions, a new
 * leader when one dies (never outside the ISR unless the topic allows
 * unclean election), dead brokers out of the ISR, controlled shutdown,
 * preferred-leader election, topic deletion requested under
 * /admin/delete_topics, and garbage collection of
 * /isr_change_notification. The decisions themselves are the pure
 * functions of controller_elect.h.
 *
 * It reacts to the broker's cluster view (metadata.h, kept current by
 * broker_zk's watches), which the owner hands over on every change; it
 * watches only /admin/delete_topics and /isr_change_notification itself.
 * Brokers learn new states from their own watches on the state znodes.
 *
 * Every controller write is a zk_multi fenced with a version check on
 * /controller_epoch (as Kafka's controller does), and every state write is
 * conditional on the state's zkVersion: a controller that lost its office
 * without noticing cannot overwrite its successor's decisions. A write
 * that fails is retried on a later update (conflicts: once the view shows
 * the znode's new version; other errors: after a pause). Connection loss
 * is not session loss: nothing is given up for it. All calls are
 * asynchronous on the owner's libev loop; nothing blocks.
 *
 * Ownership: the controller borrows the loop and the session (it shares
 * the broker's session and never closes it; both must outlive
 * controller_free()). It copies what it needs from the view; strings and
 * structs passed to callbacks are valid during the call. Callbacks may
 * call controller_free(). Not thread-safe: one loop thread.
 */
#ifndef BROOK_CONTROLLER_H
#define BROOK_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

#include "brook.h"
#include "metadata.h"
#include "zk_json.h"
#include "zk_session.h"

struct ev_loop;

typedef struct controller controller_t;

typedef struct controller_config {
	/* unclean.leader.election.enable for topics without their own
	 * setting in /config/topics/<t>. */
	int unclean_leader_election_enable;
	/* delete.topic.enable: 0 removes deletion requests without deleting
	 * (as Kafka does). */
	int delete_topic_enable;
	/* auto.leader.rebalance.enable: every leader_imbalance_check_interval_ms
	 * run a preferred-leader election for the brokers whose share of
	 * "preferred here but led elsewhere" partitions exceeds
	 * leader_imbalance_per_broker_percentage. */
	int auto_leader_rebalance_enable;
	int64_t leader_imbalance_check_interval_ms;
	int32_t leader_imbalance_per_broker_percentage;

	/* Optional callbacks, with `opaque`. Called from the loop. */
	/* We became the active controller with `epoch` (active 1), or stopped
	 * being it (active 0, epoch: the one we held). */
	void (*on_active)(void *opaque, int active, int32_t epoch);
	/* A state znode we wrote landed (created or updated): the hook for
	 * LeaderAndIsr / UpdateMetadata. zk_version is the znode's new
	 * version. */
	void (*on_state_written)(void *opaque, const char *topic, int32_t partition,
				 const zk_partition_state_t *st, int32_t zk_version);
	/* A topic's znodes are gone after a deletion request (the hook for
	 * StopReplica). */
	void (*on_topic_deleted)(void *opaque, const char *topic);
	void *opaque;
} controller_config_t;

/* Kafka's defaults: unclean off, deletion on, auto rebalance on, every
 * 300000 ms, 10 %; no callbacks. */
void controller_config_defaults(controller_config_t *cfg);

/* A controller for broker `broker_id` on `zk` (a session the caller keeps
 * open). It does nothing until controller_update(). _INVALID_ARG for bad
 * arguments (NULL loop/zk/out, negative id, interval <= 0 with auto
 * rebalance on, percentage outside 0..100), _NOMEM. */
brook_err_t controller_new(struct ev_loop *loop, zk_session_t *zk, int32_t broker_id,
			   const controller_config_t *cfg, controller_t **out);

/* The broker's view changed (call it on every on_metadata, and once after
 * registration). md is only read during the call. With no controller in
 * the view (controller_id -1) this broker runs for the office; when the
 * view names another controller while we are active, we resign (and when
 * it names us while we are not, we take office again if /controller is
 * our session's). While
 * active, the partition work runs once per loop iteration however many
 * updates come. */
void controller_update(controller_t *c, const metadata_t *md);

/* The session expired (its ephemerals and watches are gone): resign
 * without touching ZooKeeper. The controller also notices a new session id
 * on its own at its next entry point; this makes it immediate. The next
 * controller_update() with no controller in the view runs again. */
void controller_session_expired(controller_t *c);

/* 1 while this broker is the active controller (won /controller and
 * bumped /controller_epoch in the current session). */
int controller_is_active(const controller_t *c);
/* The epoch while active, else -1. */
int32_t controller_epoch(const controller_t *c);

/* Controlled shutdown of broker_id (Kafka's ControlledShutdown request):
 * from now on it takes no new leadership while another replica can; every
 * partition it leads moves to the first other live ISR member in
 * assignment order, and it leaves the ISR of the partitions it follows
 * (unless it is their last member). Issues the writes and returns in
 * *remaining the number of partitions with more than one replica that it
 * still leads, by what the controller knows now (its own landed writes
 * count at once): poll until 0, or give up after a few tries as Kafka's
 * broker does (partitions without another live ISR member never move).
 * _NOT_CONTROLLER when not active, BROKER_NOT_AVAILABLE when broker_id is
 * not registered in the view (*remaining is 0 then). The stopping set is
 * forgotten when the broker leaves the view or we resign. */
brook_err_t controller_controlled_shutdown(controller_t *c, int32_t broker_id, int *remaining);

/* Preferred-leader election now, for one topic (NULL: every topic): where
 * the first assigned replica is live and in the ISR but does not lead, it
 * becomes leader. *started (may be NULL) gets the number of writes issued.
 * _NOT_CONTROLLER when not active, UNKNOWN_TOPIC_OR_PARTITION for a topic
 * the view lacks. */
brook_err_t controller_preferred_election(controller_t *c, const char *topic, int *started);

/* Work not finished yet: ZooKeeper requests in flight plus queued passes
 * and pending retries. 0 means quiet: every decision the last view called
 * for has been written or is waiting for a newer view. For tests and
 * shutdown. */
size_t controller_pending(const controller_t *c);

/* Stops the controller. While active, it gives up /controller (a delete
 * fenced on our /controller_epoch version, so a successor's node is never
 * touched); the session's close would also remove it. Outstanding requests
 * finish in the background; no callback runs afterwards.
 * controller_free(NULL) is a no-op. */
void controller_free(controller_t *c);

#endif /* BROOK_CONTROLLER_H */
