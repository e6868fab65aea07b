/*
 * partitioner.h - which partition a keyed message goes to: Kafka's default
 * partitioner (Java client, Utils.murmur2 + toPositive), bit for bit, so a
 * key lands on the same partition number as with Kafka's own clients.
 *
 * Pure functions; nothing is allocated or kept.
 */
#ifndef BROOK_PARTITIONER_H
#define BROOK_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's Utils.murmur2(byte[]): MurmurHash2, seed 0x9747b28c, as a signed
 * 32-bit value, exactly as Java returns it. */
int32_t partitioner_murmur2(const void *key, size_t len);

/* Utils.toPositive(murmur2(key)) % partition_cnt (partition_cnt > 0). */
int32_t partitioner_for_key(const void *key, size_t len, int32_t partition_cnt);

#endif
