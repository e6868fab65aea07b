/* partitioner.c - Kafka's default partitioner for keyed messages. */
#include "partitioner.h"

/* Transcribed from org.apache.kafka.common.utils.Utils.murmur2. Java's int
 * arithmetic wraps and its >>> is a logical shift: unsigned 32-bit math here
 * gives the same bits. The tail bytes are mixed in with fall-through, as
 * Java's switch does. */
int32_t partitioner_murmur2(const void *key, size_t len)
{
	const uint8_t *data = key;
	const uint32_t m = 0x5bd1e995u;
	const int r = 24;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t len4 = len / 4;

	for (size_t i = 0; i < len4; i++) {
		const uint8_t *p = data + i * 4;
		uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			     (uint32_t)p[3] << 24;

		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (len % 4) {
	case 3:
		h ^= (uint32_t)data[(len & ~(size_t)3) + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)data[(len & ~(size_t)3) + 1] << 8;
		/* fall through */
	case 1:
		h ^= (uint32_t)data[len & ~(size_t)3];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t)h;
}

int32_t partitioner_for_key(const void *key, size_t len, int32_t partition_cnt)
{
	/* Utils.toPositive: clear the sign bit (not abs(), which breaks on
	 * INT_MIN) */
	uint32_t positive = (uint32_t)partitioner_murmur2(key, len) & 0x7fffffffu;

	return (int32_t)(positive % (uint32_t)partition_cnt);
}
