/*
 * crc32c.c - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Two implementations with identical results:
 *  - hardware: the SSE4.2 crc32 instruction, 8 bytes per instruction. The
 *    instruction has a latency of about 3 cycles but a throughput of one per
 *    cycle, so a single dependent chain leaves two thirds of the unit idle.
 *    Large buffers are therefore cut into three adjacent blocks whose CRCs
 *    run as three independent chains in one loop and are then joined:
 *    crc(A || B) = shift(crc(A), |B|) ^ crc0(B), where crc0 starts from a
 *    zero register and shift() appends |B| zero bytes. shift() is linear, so
 *    it is applied with four table lookups (Mark Adler's method).
 *  - software: slicing-by-8 tables, for CPUs without SSE4.2.
 *
 * Tables are built once (pthread_once) and are read-only afterwards, so any
 * thread may call in at any time.
 */
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CRC32C_HAVE_HW 1
#else
#define CRC32C_HAVE_HW 0
#endif

#include "crc32c.h"

#define CRC32C_POLY 0x82F63B78u

/* Block sizes of the three-way split. LONG amortises the join over 24 KiB;
 * SHORT still pays off from 768 bytes, the size of a small batch. */
#define CRC32C_LONG 8192
#define CRC32C_SHORT 256

static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static int crc32c_use_hw;
/* crc32c_table[k][n]: register after byte n followed by k zero bytes. */
static uint32_t crc32c_table[8][256];
#if CRC32C_HAVE_HW
/* shift[j][n]: register bits n << 8j advanced over LONG or SHORT zeros. */
static uint32_t crc32c_long_shift[4][256];
static uint32_t crc32c_short_shift[4][256];
#endif

/* The reflected CRC consumes the lowest-addressed byte first, so words are
 * read little-endian whatever the host order. */
static inline uint64_t le64_load(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static void sw_tables_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][n] = c;
	}
	for (int k = 1; k < 8; k++)
		for (int n = 0; n < 256; n++) {
			uint32_t c = crc32c_table[k - 1][n];

			crc32c_table[k][n] = (c >> 8) ^ crc32c_table[0][c & 0xff];
		}
}

#if CRC32C_HAVE_HW
/* Advancing the register over zero bytes is linear over GF(2): push each of
 * the 32 basis vectors through `len` zero bytes once, then every entry of
 * the byte-indexed tables is the XOR of the images of its set bits. */
static void shift_table_init(uint32_t shift[4][256], size_t len)
{
	uint32_t image[32];

	for (int bit = 0; bit < 32; bit++) {
		uint32_t c = 1u << bit;

		for (size_t i = 0; i < len; i++)
			c = (c >> 8) ^ crc32c_table[0][c & 0xff];
		image[bit] = c;
	}
	for (int j = 0; j < 4; j++)
		for (uint32_t n = 0; n < 256; n++) {
			uint32_t v = 0;

			for (int bit = 0; bit < 8; bit++)
				if (n & (1u << bit))
					v ^= image[8 * j + bit];
			shift[j][n] = v;
		}
}

static inline uint32_t shift_apply(uint32_t shift[4][256], uint32_t c)
{
	return shift[0][c & 0xff] ^ shift[1][(c >> 8) & 0xff] ^
	       shift[2][(c >> 16) & 0xff] ^ shift[3][c >> 24];
}
#endif

static void crc32c_init(void)
{
	sw_tables_init();
#if CRC32C_HAVE_HW
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2")) {
		shift_table_init(crc32c_long_shift, CRC32C_LONG);
		shift_table_init(crc32c_short_shift, CRC32C_SHORT);
		crc32c_use_hw = 1;
	}
#endif
}

/* Works on the raw register (no pre/post inversion). */
static uint32_t sw_update(uint32_t c, const unsigned char *p, size_t len)
{
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint64_t w = le64_load(p) ^ c;

		c = crc32c_table[7][w & 0xff] ^
		    crc32c_table[6][(w >> 8) & 0xff] ^
		    crc32c_table[5][(w >> 16) & 0xff] ^
		    crc32c_table[4][(w >> 24) & 0xff] ^
		    crc32c_table[3][(w >> 32) & 0xff] ^
		    crc32c_table[2][(w >> 40) & 0xff] ^
		    crc32c_table[1][(w >> 48) & 0xff] ^
		    crc32c_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
		len--;
	}
	return c;
}

#if CRC32C_HAVE_HW
/* Three adjacent blocks of `block` bytes at p, joined into one register. */
__attribute__((target("sse4.2")))
static inline uint64_t hw_triple(uint64_t c0, const unsigned char *p, size_t block,
				 uint32_t shift[4][256])
{
	const unsigned char *end = p + block;
	uint64_t c1 = 0, c2 = 0;

	do {
		c0 = _mm_crc32_u64(c0, le64_load(p));
		c1 = _mm_crc32_u64(c1, le64_load(p + block));
		c2 = _mm_crc32_u64(c2, le64_load(p + 2 * block));
		p += 8;
	} while (p < end);
	c0 = shift_apply(shift, (uint32_t)c0) ^ c1;
	return shift_apply(shift, (uint32_t)c0) ^ c2;
}

__attribute__((target("sse4.2")))
static uint32_t hw_update(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 3 * CRC32C_LONG) {
		c = hw_triple(c, p, CRC32C_LONG, crc32c_long_shift);
		p += 3 * CRC32C_LONG;
		len -= 3 * CRC32C_LONG;
	}
	while (len >= 3 * CRC32C_SHORT) {
		c = hw_triple(c, p, CRC32C_SHORT, crc32c_short_shift);
		p += 3 * CRC32C_SHORT;
		len -= 3 * CRC32C_SHORT;
	}
	while (len >= 8) {
		c = _mm_crc32_u64(c, le64_load(p));
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	return (uint32_t)c;
}
#endif

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
	return ~sw_update(~crc, buf, len);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
#if CRC32C_HAVE_HW
	if (crc32c_use_hw)
		return ~hw_update(~crc, buf, len);
#endif
	return ~sw_update(~crc, buf, len);
}

int crc32c_hw_available(void)
{
	pthread_once(&crc32c_once, crc32c_init);
	return crc32c_use_hw;
}
