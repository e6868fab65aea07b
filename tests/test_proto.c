/* test_proto.c - framing, the msgpack validator and the typed getters. */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "bytes.h"
#include "harness.h"
#include "proto.h"

static char err[256];

/* Builds a request frame body (no length prefix) into b. */
static void build_request(proto_buf_t *b, int32_t key, int32_t ver, int32_t corr)
{
	msgpack_packer pk;

	proto_buf_reset(b);
	msgpack_packer_init(&pk, b, proto_buf_write);
	proto_pack_request_header(&pk, key, ver, corr, "test-client");
	msgpack_pack_map(&pk, 4);
	proto_pack_kv_int(&pk, "acks", -1);
	proto_pack_kv_str(&pk, "name", "orders");
	proto_pack_kv_bin(&pk, "records", "\x01\x02\x03", 3);
	proto_pack_key(&pk, "ids");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 7);
	msgpack_pack_int(&pk, 9);
}

static void test_request_round_trip(void)
{
	proto_buf_t b;
	msgpack_unpacked u;
	proto_request_t req;
	const msgpack_object_array *ids;
	const char *s;
	uint32_t len;
	int64_t v = 0;
	int have;

	proto_buf_init(&b);
	build_request(&b, PROTO_API_PRODUCE, 0, 4242);
	msgpack_unpacked_init(&u);
	CU_ASSERT_EQUAL_FATAL(proto_request_decode(b.sb.data, b.sb.size, &u, &req, &have, err,
						   sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(have, 1);
	CU_ASSERT_EQUAL(req.api_key, PROTO_API_PRODUCE);
	CU_ASSERT_EQUAL(req.correlation_id, 4242);
	CU_ASSERT_EQUAL(req.client_id_len, 11u);
	CU_ASSERT(memcmp(req.client_id, "test-client", 11) == 0);
	CU_ASSERT_EQUAL(proto_get_int(req.body, "acks", 1, -1, 1, &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, -1);
	CU_ASSERT_EQUAL(proto_get_str(req.body, "name", 1, &s, &len, err, sizeof(err)), 0);
	CU_ASSERT(len == 6 && memcmp(s, "orders", 6) == 0);
	CU_ASSERT_EQUAL(proto_get_bin(req.body, "records", 1, &s, &len, err, sizeof(err)), 0);
	CU_ASSERT(len == 3 && memcmp(s, "\x01\x02\x03", 3) == 0);
	CU_ASSERT_EQUAL(proto_get_array(req.body, "ids", 1, &ids, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ids->size, 2u);
	CU_ASSERT_EQUAL(proto_obj_int(&ids->ptr[1], 0, 10, &v), 0);
	CU_ASSERT_EQUAL(v, 9);

	/* wrong types, ranges, missing keys: errors that name the key */
	CU_ASSERT_EQUAL(proto_get_int(req.body, "acks", 1, 0, 1, &v, err, sizeof(err)),
			BROOK_ERR_INVALID_REQUEST);
	CU_ASSERT(strstr(err, "acks") != NULL);
	CU_ASSERT_EQUAL(proto_get_int(req.body, "name", 1, 0, 1, &v, err, sizeof(err)),
			BROOK_ERR_INVALID_REQUEST);
	CU_ASSERT_EQUAL(proto_get_bin(req.body, "name", 1, &s, &len, err, sizeof(err)),
			BROOK_ERR_INVALID_REQUEST);
	CU_ASSERT_EQUAL(proto_get_str(req.body, "nope", 1, &s, &len, err, sizeof(err)),
			BROOK_ERR_INVALID_REQUEST);
	CU_ASSERT_STRING_EQUAL(err, "nope: missing");
	v = 77;
	CU_ASSERT_EQUAL(proto_get_int(req.body, "nope", 0, 0, 100, &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 77);
	msgpack_unpacked_destroy(&u);
	proto_buf_destroy(&b);
}

static void test_frame_length(void)
{
	proto_buf_t b;
	msgpack_packer pk;
	size_t start;

	proto_buf_init(&b);
	msgpack_packer_init(&pk, &b, proto_buf_write);
	proto_buf_write(&b, "xy", 2); /* frames may follow other bytes */
	start = b.sb.size;
	proto_frame_begin(&b);
	proto_pack_response_header(&pk, 5);
	msgpack_pack_map(&pk, 1);
	proto_pack_kv_int(&pk, "error_code", 0);
	CU_ASSERT_EQUAL(proto_frame_end(&b, start), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(proto_frame_len((const uint8_t *)b.sb.data + start),
			b.sb.size - start - PROTO_FRAME_HDR);
	{
		msgpack_unpacked u;
		const msgpack_object *body;
		int32_t corr;
		int64_t ec = 9;

		msgpack_unpacked_init(&u);
		CU_ASSERT_EQUAL(proto_response_decode(b.sb.data + start + 4, b.sb.size - start - 4,
						      &u, &corr, &body, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(corr, 5);
		CU_ASSERT_EQUAL(proto_get_int(body, "error_code", 1, -1, 200, &ec, err, sizeof(err)),
				0);
		CU_ASSERT_EQUAL(ec, 0);
		msgpack_unpacked_destroy(&u);
	}
	proto_buf_destroy(&b);
}

/* Hostile frames: each is refused before msgpack-c allocates for it. */
static void test_validate_hostile(void)
{
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
		{ "", 0 },
		{ "\xc1", 1 },                          /* never-used byte */
		{ "\xdd\xff\xff\xff\xff\x01", 6 },      /* array32 of 4G elements */
		{ "\xdf\x10\x00\x00\x00\x01\x02", 7 },  /* map32 claiming 256M pairs */
		{ "\xc6\x7f\xff\xff\xff\x00", 6 },      /* bin32 of 2 GiB, 1 byte */
		{ "\xdb\x00\x00\x00\x05" "abc", 8 },      /* str32 short */
		{ "\x92\x01", 2 },                      /* fixarray 2, one element */
		{ "\x01\x02", 2 },                      /* two values */
		{ "\xcf\x00\x00", 3 },                  /* uint64 cut */
		{ "\xd8\x01", 2 },                      /* fixext16 cut */
	};
	char deep[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(proto_validate(bad[i].bytes, bad[i].len, 16),
				BROOK_ERR_INVALID_REQUEST);
	/* nesting: 40 fixarrays of one element each, then nil */
	memset(deep, 0x91, 40);
	deep[40] = (char)0xc0;
	CU_ASSERT_EQUAL(proto_validate(deep, 41, 16), BROOK_ERR_INVALID_REQUEST);
	CU_ASSERT_EQUAL(proto_validate(deep + 30, 11, 16), BROOK_ERR_NO_ERROR);
	/* good values of every kind */
	CU_ASSERT_EQUAL(proto_validate("\xc0", 1, 4), 0);
	CU_ASSERT_EQUAL(proto_validate("\xcb\0\0\0\0\0\0\0\0", 9, 4), 0);
	CU_ASSERT_EQUAL(proto_validate("\x81\xa1k\xd4\x01\x02", 6, 4), 0);
}

static void test_request_shape_errors(void)
{
	proto_buf_t b;
	msgpack_packer pk;
	msgpack_unpacked u;
	proto_request_t req;
	int have;

	proto_buf_init(&b);
	msgpack_packer_init(&pk, &b, proto_buf_write);
	/* correlation id readable, body not a map */
	msgpack_pack_array(&pk, 5);
	msgpack_pack_int(&pk, 3);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_int(&pk, 77);
	msgpack_pack_nil(&pk);
	msgpack_pack_int(&pk, 1);
	msgpack_unpacked_init(&u);
	CU_ASSERT_EQUAL(proto_request_decode(b.sb.data, b.sb.size, &u, &req, &have, err,
					     sizeof(err)), BROOK_ERR_INVALID_REQUEST);
	CU_ASSERT_EQUAL(have, 1);
	CU_ASSERT_EQUAL(req.correlation_id, 77);
	CU_ASSERT(strstr(err, "body") != NULL);
	msgpack_unpacked_destroy(&u);

	/* not an array at all */
	proto_buf_reset(&b);
	msgpack_pack_map(&pk, 0);
	msgpack_unpacked_init(&u);
	CU_ASSERT_EQUAL(proto_request_decode(b.sb.data, b.sb.size, &u, &req, &have, err,
					     sizeof(err)), BROOK_ERR_INVALID_REQUEST);
	CU_ASSERT_EQUAL(have, 0);
	msgpack_unpacked_destroy(&u);

	/* api_key out of int16 range */
	proto_buf_reset(&b);
	proto_pack_request_header(&pk, 70000, 0, 1, NULL);
	msgpack_pack_map(&pk, 0);
	msgpack_unpacked_init(&u);
	CU_ASSERT_EQUAL(proto_request_decode(b.sb.data, b.sb.size, &u, &req, &have, err,
					     sizeof(err)), BROOK_ERR_INVALID_REQUEST);
	msgpack_unpacked_destroy(&u);
	proto_buf_destroy(&b);
}

/* Random mutations of a valid request never crash the decoder. */
static void test_fuzz_decode(void)
{
	unsigned seed = harness_seed();
	proto_buf_t b;

	proto_buf_init(&b);
	build_request(&b, PROTO_API_FETCH, 0, 1);
	for (int i = 0; i < 20000; i++) {
		char *m = malloc(b.sb.size);
		msgpack_unpacked u;
		proto_request_t req;
		size_t len = b.sb.size - (size_t)(rand_r(&seed) % 4);
		int have;

		memcpy(m, b.sb.data, b.sb.size);
		for (int k = 0; k < 3; k++)
			m[rand_r(&seed) % len] = (char)rand_r(&seed);
		msgpack_unpacked_init(&u);
		(void)proto_request_decode(m, len, &u, &req, &have, err, sizeof(err));
		msgpack_unpacked_destroy(&u);
		free(m);
	}
	proto_buf_destroy(&b);
}

static void test_copy_str_and_names(void)
{
	char buf[8];

	CU_ASSERT_EQUAL(proto_copy_str("abc", 3, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "abc");
	CU_ASSERT_EQUAL(proto_copy_str("abcdefgh", 8, buf, sizeof(buf)), BROOK_ERR_INVALID_REQUEST);
	CU_ASSERT_EQUAL(proto_copy_str("a\0c", 3, buf, sizeof(buf)), BROOK_ERR_INVALID_REQUEST);
	CU_ASSERT_STRING_EQUAL(proto_api_name(PROTO_API_FETCH), "Fetch");
	CU_ASSERT_STRING_EQUAL(proto_api_name(999), "Unknown");
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "request round trip and typed getters", test_request_round_trip },
		{ "frame length prefix and response decode", test_frame_length },
		{ "validator refuses hostile msgpack", test_validate_hostile },
		{ "request shape errors keep the correlation id", test_request_shape_errors },
		{ "fuzzed requests never crash the decoder", test_fuzz_decode },
		{ "string copies and API names", test_copy_str_and_names },
		{ NULL, NULL },
	};

	return harness_run("proto", tests);
}
