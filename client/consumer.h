/*
 * consumer.h - the simple consumer behind brook.h's brook_consumer_* API:
 * explicit assignment (no groups yet), offsets resolved with ListOffsets,
 * long-poll Fetch per leader broker with prefetch, batches checked and
 * decoded with record.h.
 *
 * Per-partition state machine (consumer_state_name()):
 *   QUERY --ListOffsets sent--> QUERY_WAIT --offset--> ACTIVE
 *   (an absolute start offset goes straight to ACTIVE)
 *   ACTIVE --OFFSET_OUT_OF_RANGE, auto.offset.reset earliest|latest--> QUERY
 *   ACTIVE --OFFSET_OUT_OF_RANGE with reset none, or a fatal error--> STOPPED
 *   leader errors keep the state and retry after a metadata refresh.
 *
 * Ownership: fetched records are copied into brook_message_t allocations
 * (one per message, see brook_message_free) before the response buffer
 * goes away; the queue of them belongs to the consumer until
 * brook_consumer_poll() hands one to the application.
 */
#ifndef BROOK_CONSUMER_H
#define BROOK_CONSUMER_H

#include "brook.h"

typedef enum consumer_state {
	CONSUMER_QUERY,
	CONSUMER_QUERY_WAIT,
	CONSUMER_ACTIVE,
	CONSUMER_STOPPED,
} consumer_state_t;

const char *consumer_state_name(consumer_state_t state);

/* For the group consumer (group.h), I/O thread only. */

/* Starts fetching topic/partition at offset (as brook_consumer_assign()'s
 * offsets; restarts it when it is fetched already). */
brook_err_t consumer_tp_add(brook_consumer_t *c, const char *topic, int32_t partition,
			    int64_t offset);
/* Stops fetching the partition and drops its messages that poll() has not
 * returned yet. */
void consumer_tp_remove(brook_consumer_t *c, const char *topic, int32_t partition);
/* Queues an error event for the application. */
void consumer_emit_error(brook_consumer_t *c, const char *topic, int32_t partition,
			 brook_err_t err, const char *why);

#endif
