/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
 * run time) and a slicing table otherwise; both give identical results.
 * Stateless and thread-safe.
 */
#ifndef BROOK_CRC32C_H
#define BROOK_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over buf[0..len). crc32c(0, "123456789", 9)
 * is 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable table implementation, exposed so tests can check that the
 * hardware path agrees with it. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* 1 when the hardware path is in use. */
int crc32c_hw_available(void);

#endif /* BROOK_CRC32C_H */
