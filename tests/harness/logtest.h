/*
 * logtest.h - batches for the storage tests and benchmark, built with the
 * real RecordBatch v2 builder. Returned buffers are malloc'd; the caller
 * frees them.
 */
#ifndef BROOK_LOGTEST_H
#define BROOK_LOGTEST_H

#include <stddef.h>
#include <stdint.h>

#include "compress.h"

/* A batch of n records with values of value_size bytes; record i has key
 * "k<tag>-<i>" and timestamp ts + i. */
uint8_t *logtest_batch(int n, size_t value_size, int64_t ts, int tag, compress_codec_t codec,
		       size_t *len);

/* Offsets of every record in buf[0..len) (whole batches) in order; returns
 * the count, or -1 if a batch does not decode. */
int logtest_offsets(const uint8_t *buf, size_t len, int64_t *offsets, int max);

/* Reads len bytes at pos of fd into a malloc'd buffer. */
uint8_t *logtest_pread(int fd, uint64_t pos, size_t len);

#endif
