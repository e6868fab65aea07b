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

#endif
