/*
 * bytes.h - fixed-width big-endian load/store for everything that touches
 * disk or wire. Header-only: these compile to single bswap+mov instructions.
 * Callers guarantee the buffer holds enough bytes; nothing here allocates.
 */
#ifndef BROOK_BYTES_H
#define BROOK_BYTES_H

#include <stdint.h>
#include <string.h>

static inline void be16_put(uint8_t *p, uint16_t v)
{
	v = __builtin_bswap16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void be32_put(uint8_t *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void be64_put(uint8_t *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint16_t be16_get(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap16(v);
}

static inline uint32_t be32_get(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap32(v);
}

static inline uint64_t be64_get(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

#endif /* BROOK_BYTES_H */
