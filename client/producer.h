/*
 * producer.h - the producer behind brook.h's brook_producer_* API.
 *
 * Path of a message: brook_produce() copies it into one allocation and
 * queues it (lock) -> the I/O thread picks a partition once the topic's
 * metadata is known (partitioner.h) -> per-partition queue -> a RecordBatch
 * v2 (record.h) of up to batch.size bytes once linger.ms passed, the batch
 * is full, or a flush is on -> one Produce request per leader broker ->
 * the response gives each message its offset or its error -> the report
 * queue (lock) -> the application's brook_poll() calls the callback and
 * frees the message.
 *
 * Ordering: with retries > 0 a partition has at most one batch in flight,
 * and a failed batch is resent, unchanged, before anything queued after it,
 * so retries never reorder (Kafka's max.in.flight=1 guarantee, without the
 * idempotent producer). With retries = 0 up to
 * max.in.flight.requests.per.connection batches may be in flight.
 *
 * Ownership: every message belongs to exactly one queue or batch at a time,
 * and is freed after its report was served (or right away without a
 * callback). Batches own their encoded bytes and keep them for retries.
 */
#ifndef BROOK_PRODUCER_H
#define BROOK_PRODUCER_H

#include "brook.h"

/* Produce errors worth a retry after a metadata refresh, as Kafka's
 * RetriableException subclasses plus the local transport errors. */
int producer_err_retriable(brook_err_t err);

#endif
