/* logtest.c - batch helpers for the storage tests and benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logtest.h"
#include "record.h"

uint8_t *logtest_batch(int n, size_t value_size, int64_t ts, int tag, compress_codec_t codec,
		       size_t *len)
{
	record_batch_builder_t *b;
	uint8_t *value = malloc(value_size ? value_size : 1), *out = NULL;

	if (!value || record_batch_builder_new(codec, -1, -1, -1, &b) != BROOK_ERR_NO_ERROR) {
		free(value);
		return NULL;
	}
	for (size_t i = 0; i < value_size; i++)
		value[i] = (uint8_t)('a' + (i + (size_t)tag) % 26);
	for (int i = 0; i < n; i++) {
		char key[32];
		int klen = snprintf(key, sizeof(key), "k%d-%d", tag, i);

		if (record_batch_builder_add(b, ts + i, key, (size_t)klen, value, value_size,
					     NULL, 0) != BROOK_ERR_NO_ERROR)
			goto out;
	}
	if (record_batch_builder_finish(b, &out, len) != BROOK_ERR_NO_ERROR)
		out = NULL;
out:
	record_batch_builder_free(b);
	free(value);
	return out;
}

int logtest_offsets(const uint8_t *buf, size_t len, int64_t *offsets, int max)
{
	size_t off = 0;
	int count = 0;

	while (off < len) {
		record_batch_header_t h;
		record_batch_reader_t r;
		record_t rec;
		brook_err_t err;

		if (record_batch_header_parse(buf + off, len - off, &h) != BROOK_ERR_NO_ERROR ||
		    record_batch_size(&h) > len - off ||
		    record_batch_reader_init(&r, buf + off, record_batch_size(&h), 1u << 30))
			return -1;
		while ((err = record_batch_reader_next(&r, &rec)) == BROOK_ERR_NO_ERROR)
			if (count < max)
				offsets[count++] = rec.offset;
		record_batch_reader_destroy(&r);
		if (err != BROOK_ERR__PARTITION_EOF)
			return -1;
		off += record_batch_size(&h);
	}
	return count;
}

uint8_t *logtest_pread(int fd, uint64_t pos, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	size_t got = 0;

	while (buf && got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(pos + got));
		if (n <= 0) {
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	return buf;
}
