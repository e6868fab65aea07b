/*
 * replica.h - replication between brokers (DESIGN.md, "Replication").
 *
 * Leader side: every Fetch a follower sends carries its log end offset;
 * the leader keeps it with the last time the follower had caught up, moves
 * the high watermark to the smallest log end over the ISR, adds a follower
 * that reached the high watermark to the ISR and drops one that has not
 * caught up for replica.lag.time.max.ms. ISR changes are written to the
 * partition's state znode with a version check (a lost race is re-read
 * from the watch, never overwritten) and announced under
 * /isr_change_notification. The in-memory ISR changes only once ZooKeeper
 * has it, so the high watermark never counts a replica the cluster does
 * not.
 *
 * Follower side: one fetcher per leader broker, one connection (conn.h)
 * and one Fetch request in flight carrying every partition this broker
 * follows from that leader. What comes back is appended with the leader's
 * offsets; the follower's high watermark is the leader's, capped by its
 * own log end. A broker that becomes follower first truncates its log to
 * where it is known to agree with the leader (replica_become_follower).
 *
 * Ownership: the manager belongs to the broker (broker_t.replicas) and owns
 * the fetchers and their connections. Partitions belong to the broker's
 * table; fetch responses look them up by name, so a partition dropped
 * while a fetch was in flight is simply skipped. Loop thread only.
 */
#ifndef BROOK_REPLICA_H
#define BROOK_REPLICA_H

#include <stdint.h>

#include "brook.h"
#include "partition.h"

struct broker;
typedef struct replica_mgr replica_mgr_t;

brook_err_t replica_mgr_new(struct broker *b, replica_mgr_t **out);
/* Stops every fetcher and the ISR timer. NULL is a no-op. */
void replica_mgr_free(replica_mgr_t *m);

/* Applies p's state fields (leader_id, leader_epoch, isr, replicas, as
 * reconcile copied them from the view) to what p does: lead, follow the
 * leader, or neither (no live leader). was_leader and old_epoch are what p
 * did before the copy. */
void replica_apply_state(struct broker *b, partition_t *p, int was_leader, int32_t old_epoch);

/* p is no longer hosted or served: stop fetching it. */
void replica_forget(struct broker *b, partition_t *p);

/* Leader: follower replica_id sent a Fetch for p at fetch_offset (so it
 * holds everything below). Updates its state, maybe the ISR and the high
 * watermark. Ignored for a broker that is not one of p's replicas. */
void replica_follower_fetched(struct broker *b, partition_t *p, int32_t replica_id,
			      int64_t fetch_offset);

/* Leader: recomputes the high watermark after an append or an ISR change;
 * when it grows, waiting consumers and acks=all produces are told. */
void replica_update_hw(struct broker *b, partition_t *p);

/* Writes replication-offset-checkpoint (every partition's high watermark)
 * in every log dir. */
brook_err_t replica_checkpoint_hw(struct broker *b, char *errstr, size_t errstr_size);

/* The high watermark checkpointed for topic/partition in log dir `dir`,
 * or -1 when none. Reads the file once per dir at startup. */
int64_t replica_checkpointed_hw(struct broker *b, const char *dir, const char *topic,
				int32_t partition);

#endif /* BROOK_REPLICA_H */
