/*
 * controller_elect.h - the controller's decisions about one partition, as
 * pure functions: who leads, which replicas stay in the ISR, and when the
 * leader epoch moves. No I/O and no allocation; controller.c feeds them
 * its cluster view and writes what they return to ZooKeeper.
 *
 * The rules are Kafka's ZooKeeper-mode controller's (PartitionStateMachine
 * and its leader-election strategies), simplified as DESIGN.md says:
 *   - a new partition: leader = first live replica in assignment order,
 *     ISR = the live replicas in assignment order, leader epoch 0;
 *   - the leader is gone: the first replica in assignment order that is
 *     live and in the ISR; the ISR loses its dead members. With none, a
 *     live replica outside the ISR only when unclean election is allowed
 *     (ISR = [it]); otherwise leader -1 and the last ISR is kept, so the
 *     replicas that hold every acknowledged message stay known;
 *   - the leader is alive: dead brokers leave the ISR, which never becomes
 *     empty;
 *   - controlled shutdown: leadership moves to the first other live ISR
 *     member in assignment order; a stopping follower leaves the ISR
 *     unless it is the last member;
 *   - preferred election: the first assigned replica takes over when it is
 *     live and in the ISR.
 * Every change bumps the leader epoch by one.
 *
 * Conventions: `live` and `shutting` are sorted ascending (binary search);
 * replicas and ISRs keep their own order, which the results preserve. Out
 * buffers hold CE_MAX_ISR ids. Ownership: inputs are only read; outputs
 * are the caller's buffers.
 */
#ifndef BROOK_CONTROLLER_ELECT_H
#define BROOK_CONTROLLER_ELECT_H

#include <stddef.h>
#include <stdint.h>

#include "zk_json.h"

#define CE_MAX_ISR ZK_MAX_REPLICAS

/* 1 when id is in the unsorted list ids[n]. */
int ce_contains(const int32_t *ids, int n, int32_t id);
/* 1 when id is in the ascending list ids[n]. */
int ce_sorted_contains(const int32_t *ids, int n, int32_t id);

/* Leader election for a partition whose leader is gone (Kafka's
 * OfflinePartitionLeaderElection). Returns the new leader, or -1:
 *   clean:   first replica in assignment order that is live and in the
 *            ISR; new ISR = the ISR's live members, in ISR order;
 *   unclean: (only with unclean != 0, when there is no clean choice) the
 *            first live replica; new ISR = [it];
 *   none:    -1, new ISR = the ISR unchanged. */
int32_t ce_elect_leader(const int32_t *replicas, int nrep, const int32_t *isr, int nisr,
			const int32_t *live, int nlive, int unclean, int32_t *new_isr,
			int *new_nisr);

/* The first state of a partition without a state znode. Returns the leader
 * (first live replica) with ISR = the live replicas in assignment order,
 * or -1 when no replica is live (nothing to write yet). */
int32_t ce_initial_state(const int32_t *replicas, int nrep, const int32_t *live, int nlive,
			 int32_t *isr, int *nisr);

/* The ISR without the brokers that are not live. Returns 1 when that
 * changes it; 0 (out = the ISR) when nothing is dead, or when nothing would
 * be left: the ISR is never shrunk to empty. */
int ce_shrink_isr_dead(const int32_t *isr, int nisr, const int32_t *live, int nlive,
		       int32_t *out, int *nout);

/* Controlled shutdown of `broker` for one partition (Kafka's
 * ControlledShutdownPartitionLeaderElection plus the follower's removal
 * from the ISR). `shutting` lists every broker in controlled shutdown
 * (may include `broker`), none of which may take over. Returns 1 with the
 * new leader and ISR when something changes:
 *   broker leads: the first replica in assignment order that is live, in
 *     the ISR and not shutting down leads; the ISR loses `broker`. No such
 *     replica: 0, the partition stays where it is;
 *   broker follows in the ISR, and the ISR has more than it: the ISR loses
 *     it, the leader stays;
 *   otherwise 0. */
int ce_controlled_shutdown_move(const int32_t *replicas, int nrep, int32_t leader,
				const int32_t *isr, int nisr, const int32_t *live, int nlive,
				const int32_t *shutting, int nshutting, int32_t broker,
				int32_t *new_leader, int32_t *new_isr, int *new_nisr);

/* Preferred-leader election: the first assigned replica, when it is live,
 * in the ISR and not already the leader; else -1 (nothing to do). */
int32_t ce_preferred_leader(const int32_t *replicas, int nrep, int32_t leader, const int32_t *isr,
			    int nisr, const int32_t *live, int nlive);

/* --- the whole decision for one partition -------------------------------- */

typedef struct ce_partition {
	const int32_t *replicas;   /* assignment order */
	int nrep;
	int has_state;             /* a state znode exists */
	int32_t leader;            /* -1: none */
	int32_t leader_epoch;
	const int32_t *isr;
	int nisr;
} ce_partition_t;

typedef struct ce_cluster {
	const int32_t *live;       /* registered brokers, ascending */
	int nlive;
	const int32_t *eligible;   /* live and not shutting down, ascending */
	int neligible;
	const int32_t *shutting;   /* in controlled shutdown, ascending */
	int nshutting;
} ce_cluster_t;

typedef enum ce_action {
	CE_NONE,          /* the state is right */
	CE_CREATE,        /* create the state znode with out's state */
	CE_UPDATE,        /* replace the state with out's (conditional write) */
	CE_NEED_CONFIG,   /* the choice depends on unclean.leader.election.enable */
} ce_action_t;

/* Why a state changes (a bit set; ce_reason_name() names the main one). */
#define CE_R_INITIAL    0x01u
#define CE_R_OFFLINE    0x02u   /* the leader was gone: clean election */
#define CE_R_UNCLEAN    0x04u
#define CE_R_NO_LEADER  0x08u   /* no replica can lead: leader -1 */
#define CE_R_SHUTDOWN   0x10u   /* controlled shutdown moved the leader or a follower */
#define CE_R_ISR_SHRINK 0x20u   /* dead brokers left the ISR */
#define CE_R_PREFERRED  0x40u

typedef struct ce_decision {
	ce_action_t action;
	unsigned reasons;
	int32_t leader;
	int32_t leader_epoch;
	int nisr;
	int32_t isr[CE_MAX_ISR];
} ce_decision_t;

/* Everything the controller does to one partition, in this order:
 * initial state (no state znode); offline election (leader -1 or not
 * live, preferring brokers that are not shutting down, a shutting-down
 * ISR member rather than no leader); controlled-shutdown moves; dead
 * brokers out of the ISR (not when leaderless: the last ISR is kept);
 * shutting-down followers out of the ISR; preferred election when
 * `preferred` is set. `unclean` is the topic's
 * unclean.leader.election.enable (1/0), or -1 when not known yet: the
 * result is then CE_NEED_CONFIG if, and only if, the answer matters. One
 * change of any kind bumps the leader epoch once. Returns out->action. */
ce_action_t ce_decide(const ce_partition_t *p, const ce_cluster_t *cl, int unclean, int preferred,
		      ce_decision_t *out);

/* "initial", "offline", "unclean", "no-leader", "controlled-shutdown",
 * "isr-shrink", "preferred" for the most significant bit set; "none". */
const char *ce_reason_name(unsigned reasons);

#endif /* BROOK_CONTROLLER_ELECT_H */
