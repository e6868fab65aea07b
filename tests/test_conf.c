/* test_conf.c - the settings table: defaults, strict parsing of every type,
 * files with their file:line errors, overrides, required keys and help. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "harness.h"

typedef struct tconf {
	int32_t num;     /* t.int: 1..100 */
	int64_t big;     /* t.long: 1024..max */
	int64_t any;     /* t.any: whole int64 range */
	int32_t neg;     /* t.neg: -1..INT32_MAX, default -1 */
	int flag;        /* t.bool */
	int off;         /* t.bool.off: no default */
	char *str;       /* t.str: no default */
	char *greeting;  /* t.greeting: default "hello world" */
	char *list;      /* t.list: at most 3 items */
	char *codec;     /* t.codec */
	int32_t id;      /* t.id: required, 0..INT32_MAX */
	char *connect;   /* t.connect: required */
	int32_t secret;  /* t.hidden */
} tconf_t;

static const char *const codecs[] = { "none", "gzip", "snappy", "lz4", "zstd", NULL };

static const conf_def_t table[] = {
	{ "t.int", CONF_INT, offsetof(tconf_t, num), "10", 1, 100, NULL, 0,
	  "A small integer between one and a hundred." },
	{ "t.long", CONF_LONG, offsetof(tconf_t, big), "1073741824", 1024, INT64_MAX, NULL, 0,
	  "A large number of bytes." },
	{ "t.any", CONF_LONG, offsetof(tconf_t, any), "0", INT64_MIN, INT64_MAX, NULL, 0,
	  "Any 64-bit integer." },
	{ "t.neg", CONF_INT, offsetof(tconf_t, neg), "-1", -1, INT32_MAX, NULL, 0,
	  "-1 means unlimited." },
	{ "t.bool", CONF_BOOL, offsetof(tconf_t, flag), "true", 0, 0, NULL, 0, "A switch." },
	{ "t.bool.off", CONF_BOOL, offsetof(tconf_t, off), NULL, 0, 0, NULL, 0, "Off by default." },
	{ "t.str", CONF_STRING, offsetof(tconf_t, str), NULL, 0, 0, NULL, 0, "A path." },
	{ "t.greeting", CONF_STRING, offsetof(tconf_t, greeting), "hello world", 0, 0, NULL, 0,
	  "A string with a default." },
	{ "t.list", CONF_LIST, offsetof(tconf_t, list), " a , b,c ", 0, 3, NULL, 0,
	  "Up to three items." },
	{ "t.codec", CONF_ENUM, offsetof(tconf_t, codec), "none", 0, 0, codecs, 0,
	  "Compression codec." },
	{ "t.id", CONF_INT, offsetof(tconf_t, id), NULL, 0, INT32_MAX, NULL, CONF_F_REQUIRED,
	  "Required id; zero is a valid value." },
	{ "t.connect", CONF_STRING, offsetof(tconf_t, connect), NULL, 0, 0, NULL, CONF_F_REQUIRED,
	  "Required connect string." },
	{ "t.hidden", CONF_INT, offsetof(tconf_t, secret), "7", 0, 10, NULL, CONF_F_HIDDEN,
	  "Not in the help." },
	{ NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

static char err[1024];

static void init(tconf_t *c)
{
	memset(c, 0xa5, sizeof(*c)); /* conf_init must not trust what was there */
	CU_ASSERT_EQUAL_FATAL(conf_init(table, c, err, sizeof(err)), BROOK_ERR_NO_ERROR);
}

/* conf_set that is expected to succeed */
static void set_ok(tconf_t *c, const char *key, const char *value)
{
	brook_err_t e = conf_set(table, c, key, value, err, sizeof(err));

	if (e)
		fprintf(stderr, "\nunexpected error: %s\n", err);
	CU_ASSERT_EQUAL(e, BROOK_ERR_NO_ERROR);
}

/* conf_set that must fail with exactly `want` as the message */
static void set_bad(tconf_t *c, const char *key, const char *value, const char *want)
{
	err[0] = '\0';
	CU_ASSERT_EQUAL(conf_set(table, c, key, value, err, sizeof(err)), BROOK_ERR_INVALID_CONFIG);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\nwant: %s\n got: %s\n", want, err);
	CU_ASSERT_STRING_EQUAL(err, want);
}

static const char *get(const tconf_t *c, const char *key)
{
	static char buf[256];

	return conf_get(conf_find(table, key), c, buf, sizeof(buf));
}

static const char *write_conf(const char *name, const char *text)
{
	static char path[4096];
	const char *dir = harness_tmpdir("conf");

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CU_ASSERT_EQUAL_FATAL(harness_write_file(path, text, strlen(text)), 0);
	return path;
}

static void test_defaults(void)
{
	tconf_t c;

	init(&c);
	CU_ASSERT_EQUAL(c.num, 10);
	CU_ASSERT_EQUAL(c.big, 1073741824);
	CU_ASSERT_EQUAL(c.any, 0);
	CU_ASSERT_EQUAL(c.neg, -1);
	CU_ASSERT_EQUAL(c.flag, 1);
	CU_ASSERT_EQUAL(c.off, 0);
	CU_ASSERT_PTR_NULL(c.str);
	CU_ASSERT_STRING_EQUAL(c.greeting, "hello world");
	CU_ASSERT_STRING_EQUAL(c.list, "a,b,c"); /* defaults are parsed like values */
	CU_ASSERT_STRING_EQUAL(c.codec, "none");
	CU_ASSERT_PTR_NULL(c.connect);
	CU_ASSERT_EQUAL(c.secret, 7);
	/* required and unset reads as "" */
	CU_ASSERT_STRING_EQUAL(get(&c, "t.id"), "");
	CU_ASSERT_STRING_EQUAL(get(&c, "t.connect"), "");
	conf_destroy(table, &c);
	CU_ASSERT_PTR_NULL(c.greeting);
	conf_destroy(table, &c); /* twice is harmless */
	conf_destroy(table, NULL);
}

static void test_int_ranges(void)
{
	tconf_t c;

	init(&c);
	set_ok(&c, "t.int", "1");
	CU_ASSERT_EQUAL(c.num, 1);
	set_ok(&c, "t.int", "100");
	CU_ASSERT_EQUAL(c.num, 100);
	set_ok(&c, "t.int", "007");
	CU_ASSERT_EQUAL(c.num, 7);
	set_bad(&c, "t.int", "0", "t.int: must be an integer between 1 and 100 (got \"0\")");
	set_bad(&c, "t.int", "101", "t.int: must be an integer between 1 and 100 (got \"101\")");
	set_bad(&c, "t.int", "-1", "t.int: must be an integer between 1 and 100 (got \"-1\")");
	CU_ASSERT_EQUAL(c.num, 7); /* unchanged by the failures */

	set_ok(&c, "t.long", "1024");
	CU_ASSERT_EQUAL(c.big, 1024);
	set_ok(&c, "t.long", "9223372036854775807");
	CU_ASSERT_EQUAL(c.big, INT64_MAX);
	set_bad(&c, "t.long", "1023",
		"t.long: must be an integer between 1024 and 9223372036854775807 (got \"1023\")");
	set_bad(&c, "t.long", "9223372036854775808",
		"t.long: must be an integer between 1024 and 9223372036854775807 "
		"(got \"9223372036854775808\")");
	CU_ASSERT_EQUAL(c.big, INT64_MAX);

	/* the whole int64 range, and one past either end */
	set_ok(&c, "t.any", "-9223372036854775808");
	CU_ASSERT_EQUAL(c.any, INT64_MIN);
	set_ok(&c, "t.any", "9223372036854775807");
	CU_ASSERT_EQUAL(c.any, INT64_MAX);
	set_ok(&c, "t.any", "-0");
	CU_ASSERT_EQUAL(c.any, 0);
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.any", "-9223372036854775809", err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.any", "99999999999999999999999", err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_EQUAL(c.any, 0);

	/* an int field never takes more than 32 bits, whatever the table says */
	set_ok(&c, "t.neg", "-1");
	set_ok(&c, "t.neg", "2147483647");
	CU_ASSERT_EQUAL(c.neg, INT32_MAX);
	set_bad(&c, "t.neg", "2147483648",
		"t.neg: must be an integer between -1 and 2147483647 (got \"2147483648\")");
	set_bad(&c, "t.neg", "-2",
		"t.neg: must be an integer between -1 and 2147483647 (got \"-2\")");
	conf_destroy(table, &c);
}

static void test_bad_ints(void)
{
	static const char *const bad[] = {
		"12x", "", " ", " 12", "12 ", "+12", "0x10", "1e3", "1.5", "-", "--1", "12\n",
		"１２", "1 2", NULL,
	};
	tconf_t c;

	init(&c);
	for (int i = 0; bad[i]; i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(conf_set(table, &c, "t.int", bad[i], err, sizeof(err)),
				BROOK_ERR_INVALID_CONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.int: must be an integer between 1 and 100"));
		CU_ASSERT_EQUAL(c.num, 10);
	}
	set_bad(&c, "t.int", "12x", "t.int: must be an integer between 1 and 100 (got \"12x\")");
	set_bad(&c, "t.int", "", "t.int: must be an integer between 1 and 100 (got \"\")");
	/* control characters are not echoed raw into a one-line error */
	set_bad(&c, "t.int", "1\t2", "t.int: must be an integer between 1 and 100 (got \"1?2\")");
	/* NULL reads as "" */
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.int", NULL, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	conf_destroy(table, &c);
}

static void test_bools(void)
{
	static const char *const bad[] = { "TRUE", "True", "yes", "1", "0", "", " true", "false ",
					   "on", NULL };
	tconf_t c;

	init(&c);
	set_ok(&c, "t.bool", "false");
	CU_ASSERT_EQUAL(c.flag, 0);
	CU_ASSERT_STRING_EQUAL(get(&c, "t.bool"), "false");
	set_ok(&c, "t.bool", "true");
	CU_ASSERT_EQUAL(c.flag, 1);
	CU_ASSERT_STRING_EQUAL(get(&c, "t.bool"), "true");
	for (int i = 0; bad[i]; i++) {
		CU_ASSERT_EQUAL(conf_set(table, &c, "t.bool", bad[i], err, sizeof(err)),
				BROOK_ERR_INVALID_CONFIG);
		CU_ASSERT_EQUAL(c.flag, 1);
	}
	set_bad(&c, "t.bool", "yes", "t.bool: must be true or false (got \"yes\")");
	conf_destroy(table, &c);
}

static void test_enums(void)
{
	tconf_t c;

	init(&c);
	set_ok(&c, "t.codec", "zstd");
	CU_ASSERT_STRING_EQUAL(c.codec, "zstd");
	set_ok(&c, "t.codec", "lz4");
	CU_ASSERT_STRING_EQUAL(c.codec, "lz4");
	set_bad(&c, "t.codec", "LZ4",
		"t.codec: must be one of none, gzip, snappy, lz4, zstd (got \"LZ4\")");
	set_bad(&c, "t.codec", "",
		"t.codec: must be one of none, gzip, snappy, lz4, zstd (got \"\")");
	set_bad(&c, "t.codec", "lz",
		"t.codec: must be one of none, gzip, snappy, lz4, zstd (got \"lz\")");
	CU_ASSERT_STRING_EQUAL(c.codec, "lz4");
	conf_destroy(table, &c);
}

static void test_strings_and_lists(void)
{
	char longval[300];
	tconf_t c;

	init(&c);
	set_ok(&c, "t.str", "/var/log/brook.log");
	CU_ASSERT_STRING_EQUAL(c.str, "/var/log/brook.log");
	set_ok(&c, "t.str", "/other");
	CU_ASSERT_STRING_EQUAL(c.str, "/other");
	set_ok(&c, "t.str", ""); /* an optional string can be cleared */
	CU_ASSERT_PTR_NULL(c.str);
	CU_ASSERT_STRING_EQUAL(get(&c, "t.str"), "");

	set_ok(&c, "t.list", "x");
	CU_ASSERT_STRING_EQUAL(c.list, "x");
	set_ok(&c, "t.list", "  /a/b ,\t/c d ,e  ");
	CU_ASSERT_STRING_EQUAL(c.list, "/a/b,/c d,e"); /* blanks inside an item stay */
	set_bad(&c, "t.list", "a,,b", "t.list: list items must not be empty (got \"a,,b\")");
	set_bad(&c, "t.list", "a,", "t.list: list items must not be empty (got \"a,\")");
	set_bad(&c, "t.list", ", a", "t.list: list items must not be empty (got \", a\")");
	set_bad(&c, "t.list", "a,b,c,d", "t.list: must have at most 3 items (got 4)");
	CU_ASSERT_STRING_EQUAL(c.list, "/a/b,/c d,e");
	set_ok(&c, "t.list", "   ");
	CU_ASSERT_PTR_NULL(c.list);

	set_bad(&c, "t.connect", "", "t.connect: must not be empty");
	set_ok(&c, "t.connect", "h1:2181,h2:2181/brook");
	CU_ASSERT_STRING_EQUAL(c.connect, "h1:2181,h2:2181/brook");

	/* a long bad value is cut short in the message */
	memset(longval, 'z', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.int", longval, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "zzz...\")"));
	CU_ASSERT(strlen(err) < 150);

	/* unknown key */
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.nope", "1", err, sizeof(err)),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_STRING_EQUAL(err, "t.nope: unknown setting");
	/* a tiny or absent error buffer is fine */
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.int", "0", err, 4), BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(err, "t.i");
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.int", "0", NULL, 0), BROOK_ERR_INVALID_CONFIG);
	conf_destroy(table, &c);
}

static void test_get_round_trip(void)
{
	static const char *const keys[] = { "t.int", "t.long", "t.any", "t.neg", "t.bool",
					    "t.bool.off", "t.greeting", "t.list", "t.codec",
					    "t.hidden", NULL };
	tconf_t c, d;
	char buf[256];

	init(&c);
	set_ok(&c, "t.int", "42");
	set_ok(&c, "t.long", "9223372036854775807");
	set_ok(&c, "t.any", "-9223372036854775808");
	set_ok(&c, "t.bool", "false");
	set_ok(&c, "t.list", "p , q");
	set_ok(&c, "t.codec", "gzip");
	set_ok(&c, "t.id", "0");
	CU_ASSERT_STRING_EQUAL(get(&c, "t.id"), "0");
	CU_ASSERT_STRING_EQUAL(get(&c, "t.any"), "-9223372036854775808");
	CU_ASSERT_STRING_EQUAL(get(&c, "t.list"), "p,q");
	/* every value written back as text parses to the same value */
	init(&d);
	for (int i = 0; keys[i]; i++) {
		const conf_def_t *def = conf_find(table, keys[i]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(def);
		set_ok(&d, keys[i], conf_get(def, &c, buf, sizeof(buf)));
		CU_ASSERT_STRING_EQUAL(get(&d, keys[i]), buf);
	}
	CU_ASSERT_EQUAL(d.num, 42);
	CU_ASSERT_EQUAL(d.any, INT64_MIN);
	CU_ASSERT_EQUAL(d.flag, 0);
	/* a small buffer truncates, never overflows */
	CU_ASSERT_STRING_EQUAL(conf_get(conf_find(table, "t.greeting"), &c, buf, 6), "hello");
	CU_ASSERT_PTR_NULL(conf_find(table, "t.nope"));
	CU_ASSERT_PTR_NULL(conf_find(table, NULL));
	conf_destroy(table, &c);
	conf_destroy(table, &d);
}

static void test_check_required(void)
{
	tconf_t c;

	init(&c);
	CU_ASSERT_EQUAL(conf_check(table, &c, err, sizeof(err)), BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(err, "t.id: required setting is not set (and 1 more)");
	set_ok(&c, "t.id", "0"); /* zero counts as set */
	CU_ASSERT_EQUAL(conf_check(table, &c, err, sizeof(err)), BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(err, "t.connect: required setting is not set");
	set_ok(&c, "t.connect", "zk:2181");
	CU_ASSERT_EQUAL(conf_check(table, &c, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	conf_destroy(table, &c);
}

static void test_file(void)
{
	const char *path = write_conf("ok.properties",
				      "\xef\xbb\xbf# a comment\n"
				      "! another comment\n"
				      "\n"
				      "   \t\n"
				      "  t.int = 55  \n"
				      "t.long=2048\r\n"
				      "t.str =  /path/with = sign \n"
				      "t.list= one, two\n"
				      "    # indented comment\n"
				      "t.codec=snappy\n"
				      "t.bool.off=true\n"
				      "t.id=3\n"
				      "t.connect=zk1:2181\n"
				      "t.greeting=\n"
				      "t.hidden=9"); /* no final newline */
	tconf_t c;

	init(&c);
	CU_ASSERT_EQUAL_FATAL(conf_load_file(table, &c, path, err, sizeof(err)),
			      BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.num, 55);
	CU_ASSERT_EQUAL(c.big, 2048);
	CU_ASSERT_STRING_EQUAL(c.str, "/path/with = sign");
	CU_ASSERT_STRING_EQUAL(c.list, "one,two");
	CU_ASSERT_STRING_EQUAL(c.codec, "snappy");
	CU_ASSERT_EQUAL(c.off, 1);
	CU_ASSERT_EQUAL(c.id, 3);
	CU_ASSERT_STRING_EQUAL(c.connect, "zk1:2181");
	CU_ASSERT_PTR_NULL(c.greeting);
	CU_ASSERT_EQUAL(c.secret, 9);
	CU_ASSERT_EQUAL(conf_check(table, &c, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	/* a second file may set again what the first set */
	path = write_conf("more.properties", "t.int=56\n");
	CU_ASSERT_EQUAL(conf_load_file(table, &c, path, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.num, 56);
	conf_destroy(table, &c);

	/* an empty file is a valid file */
	init(&c);
	path = write_conf("empty.properties", "");
	CU_ASSERT_EQUAL(conf_load_file(table, &c, path, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.num, 10);
	conf_destroy(table, &c);
}

/* Loads text and expects the error `want`, with the file's path in front. */
static void file_bad(const char *text, brook_err_t code, const char *want)
{
	const char *path = write_conf("bad.properties", text);
	char full[1200];
	tconf_t c;

	init(&c);
	err[0] = '\0';
	CU_ASSERT_EQUAL(conf_load_file(table, &c, path, err, sizeof(err)), code);
	snprintf(full, sizeof(full), "%s%s", path, want);
	if (strcmp(err, full) != 0)
		fprintf(stderr, "\nwant: %s\n got: %s\n", full, err);
	CU_ASSERT_STRING_EQUAL(err, full);
	conf_destroy(table, &c);
}

static void test_file_errors(void)
{
	file_bad("# c\nt.int=5\n\nt.nope=1\n", BROOK_ERR__INVALID_ARG,
		 ":4: t.nope: unknown setting");
	file_bad("t.int=5\n# c\nt.long=5\n", BROOK_ERR_INVALID_CONFIG,
		 ":3: t.long: must be an integer between 1024 and 9223372036854775807 (got \"5\")");
	file_bad("t.int=5\njust some words\n", BROOK_ERR_INVALID_CONFIG, ":2: expected key=value");
	file_bad("=5\n", BROOK_ERR_INVALID_CONFIG, ":1: expected key=value");
	file_bad("  = 5\n", BROOK_ERR_INVALID_CONFIG, ":1: expected key=value");
	file_bad("t.int=5\nt.bool=true\nt.int = 6\n", BROOK_ERR_INVALID_CONFIG,
		 ":3: t.int: set twice (first on line 1)");
	file_bad("t.bool=yes\n", BROOK_ERR_INVALID_CONFIG,
		 ":1: t.bool: must be true or false (got \"yes\")");
	file_bad("t.int=1\nt.codec=brotli\n", BROOK_ERR_INVALID_CONFIG,
		 ":2: t.codec: must be one of none, gzip, snappy, lz4, zstd (got \"brotli\")");
	file_bad("t.connect=\n", BROOK_ERR_INVALID_CONFIG, ":1: t.connect: must not be empty");
	/* '#' is a comment only at the start of a line, as in Java properties */
	file_bad("t.int=5 # five\n", BROOK_ERR_INVALID_CONFIG,
		 ":1: t.int: must be an integer between 1 and 100 (got \"5 # five\")");
	{
		static const char nul[] = "t.int=5\nt.str=a\0b\n";
		const char *path = write_conf("nul.properties", "");
		tconf_t c;

		CU_ASSERT_EQUAL_FATAL(harness_write_file(path, nul, sizeof(nul) - 1), 0);
		init(&c);
		CU_ASSERT_EQUAL(conf_load_file(table, &c, path, err, sizeof(err)),
				BROOK_ERR_INVALID_CONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: NUL byte"));
		conf_destroy(table, &c);
	}
}

static void test_file_missing_and_unreadable(void)
{
	const char *dir = harness_tmpdir("conf-missing");
	char path[4096];
	tconf_t c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	init(&c);
	snprintf(path, sizeof(path), "%s/nope.properties", dir);
	CU_ASSERT_EQUAL(conf_load_file(table, &c, path, err, sizeof(err)), BROOK_ERR__NOENT);
	{
		char want[4200];

		snprintf(want, sizeof(want), "%s: No such file or directory", path);
		CU_ASSERT_STRING_EQUAL(err, want);
	}
	/* a folder opens but does not read */
	CU_ASSERT_NOT_EQUAL(conf_load_file(table, &c, dir, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, dir));
	conf_destroy(table, &c);
}

static void test_file_long_line(void)
{
	size_t n = 200 * 1024;
	char *text = malloc(n + 64);
	const char *path;
	tconf_t c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	strcpy(text, "t.int=5\nt.str=");
	memset(text + strlen(text), 'x', n);
	strcpy(text + 14 + n, "\nt.int=6\n");
	path = write_conf("long.properties", text);
	free(text);
	init(&c);
	CU_ASSERT_EQUAL(conf_load_file(table, &c, path, err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: line longer than 65536 bytes"));
	CU_ASSERT_PTR_NULL(c.str);
	conf_destroy(table, &c);

	/* exactly at the limit is still a line */
	text = malloc(65536 + 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	memcpy(text, "t.str=", 6);
	memset(text + 6, 'y', 65536 - 6);
	strcpy(text + 65536, "\n");
	path = write_conf("limit.properties", text);
	free(text);
	init(&c);
	CU_ASSERT_EQUAL(conf_load_file(table, &c, path, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c.str);
	CU_ASSERT_EQUAL(strlen(c.str), 65536 - 6);
	conf_destroy(table, &c);
}

static void test_overrides(void)
{
	const char *path = write_conf("base.properties", "t.int=5\nt.codec=gzip\n");
	tconf_t c;

	init(&c);
	CU_ASSERT_EQUAL(conf_load_file(table, &c, path, err, sizeof(err)), BROOK_ERR_NO_ERROR);
	/* overrides come after the file, so they win */
	CU_ASSERT_EQUAL(conf_set_pair(table, &c, "t.int=9", err, sizeof(err)), BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(conf_set_pair(table, &c, " t.codec = zstd ", err, sizeof(err)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(conf_set_pair(table, &c, "t.str=a=b", err, sizeof(err)),
			BROOK_ERR_NO_ERROR);
	CU_ASSERT_EQUAL(c.num, 9);
	CU_ASSERT_STRING_EQUAL(c.codec, "zstd");
	CU_ASSERT_STRING_EQUAL(c.str, "a=b");

	CU_ASSERT_EQUAL(conf_set_pair(table, &c, "t.int=x", err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(err, "--override t.int: must be an integer between 1 and 100 "
				    "(got \"x\")");
	CU_ASSERT_EQUAL(conf_set_pair(table, &c, "t.nope=1", err, sizeof(err)),
			BROOK_ERR__INVALID_ARG);
	CU_ASSERT_STRING_EQUAL(err, "--override t.nope: unknown setting");
	CU_ASSERT_EQUAL(conf_set_pair(table, &c, "t.int", err, sizeof(err)),
			BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_STRING_EQUAL(err, "--override \"t.int\": expected key=value");
	CU_ASSERT_EQUAL(conf_set_pair(table, &c, "=3", err, sizeof(err)), BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_EQUAL(conf_set_pair(table, &c, NULL, err, sizeof(err)), BROOK_ERR_INVALID_CONFIG);
	CU_ASSERT_EQUAL(c.num, 9);
	conf_destroy(table, &c);
}

/* Captures what fn writes to a FILE. */
static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fn(f, arg);
	fclose(f);
	return buf;
}

static void help_to(FILE *f, const void *arg)
{
	conf_print_help(arg, f);
}

static void dump_to(FILE *f, const void *arg)
{
	conf_dump(table, arg, f);
}

static const char *const long_doc =
	"This documentation sentence is deliberately long so that the help printer has to "
	"wrap it over several lines, and it also carries one very long word: "
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaa "
	"which must not be cut.";

static void test_help_and_dump(void)
{
	static const conf_def_t wrap_table[] = {
		{ "w.doc", CONF_LONG, 0, "5", -1, INT64_MAX, NULL, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
	};
	conf_def_t wrap[2];
	char *out, *line, *save;
	tconf_t c;
	int lines = 0;

	out = capture(help_to, table);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.int\n    int, 1 .. 100; default: 10\n"
					  "    A small integer between one and a hundred.\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.long\n    long, >= 1024; default: 1073741824\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.any\n    long; default: 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.bool\n    bool, true or false; default: true\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.str\n    string; default: none\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.list\n    comma-separated list of at most 3 items; "
					  "default:  a , b,c \n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.codec\n    one of none, gzip, snappy, lz4, zstd; "
					  "default: none\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.id\n    int, >= 0; required\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "t.hidden"));
	free(out);

	memcpy(wrap, wrap_table, sizeof(wrap));
	wrap[0].doc = long_doc;
	out = capture(help_to, wrap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lines++;
		if (!strstr(line, "aaaa"))
			CU_ASSERT(strlen(line) <= 80);
	}
	CU_ASSERT(lines >= 5);
	free(out);

	init(&c);
	set_ok(&c, "t.id", "12");
	out = capture(dump_to, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.int=10\nt.long=1073741824\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nt.str=\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nt.list=a,b,c\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nt.id=12\nt.connect=\nt.hidden=7\n"));
	free(out);
	conf_destroy(table, &c);
}

/* Every allocation can fail: the call reports _NOMEM, the setting keeps its
 * old value, and nothing leaks (the suite runs under LeakSanitizer too). */
static void test_out_of_memory(void)
{
	const char *path = write_conf("oom.properties", "t.int=5\nt.str=/x\nt.list=a, b\n");
	tconf_t c;
	brook_err_t e;
	int n, ok;

	/* conf_init: fails cleanly at each of its allocations, then succeeds */
	for (n = 0, ok = 0; n < 20 && !ok; n++) {
		memset(&c, 0, sizeof(c));
		conf_fail_allocs_after(n);
		e = conf_init(table, &c, err, sizeof(err));
		conf_fail_allocs_after(-1);
		ok = e == BROOK_ERR_NO_ERROR;
		if (!ok) {
			CU_ASSERT_EQUAL(e, BROOK_ERR__NOMEM);
			CU_ASSERT_PTR_NULL(c.greeting);
			CU_ASSERT_PTR_NULL(c.list);
			CU_ASSERT_PTR_NULL(c.codec);
		}
	}
	CU_ASSERT(ok && n > 1);

	/* conf_set of each string type leaves the old value */
	conf_fail_allocs_after(0);
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.greeting", "bye", err, sizeof(err)),
			BROOK_ERR__NOMEM);
	CU_ASSERT_STRING_EQUAL(err, "t.greeting: out of memory");
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.list", "x,y", err, sizeof(err)), BROOK_ERR__NOMEM);
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.codec", "lz4", err, sizeof(err)), BROOK_ERR__NOMEM);
	CU_ASSERT_EQUAL(conf_set_pair(table, &c, "t.int=3", err, sizeof(err)), BROOK_ERR__NOMEM);
	/* numbers need no memory */
	CU_ASSERT_EQUAL(conf_set(table, &c, "t.int", "3", err, sizeof(err)), BROOK_ERR_NO_ERROR);
	conf_fail_allocs_after(-1);
	CU_ASSERT_STRING_EQUAL(c.greeting, "hello world");
	CU_ASSERT_STRING_EQUAL(c.list, "a,b,c");
	CU_ASSERT_STRING_EQUAL(c.codec, "none");
	CU_ASSERT_EQUAL(c.num, 3);

	/* conf_load_file: its buffers, then each value */
	for (n = 0, ok = 0; n < 20 && !ok; n++) {
		conf_fail_allocs_after(n);
		e = conf_load_file(table, &c, path, err, sizeof(err));
		conf_fail_allocs_after(-1);
		ok = e == BROOK_ERR_NO_ERROR;
		if (!ok) {
			CU_ASSERT_EQUAL(e, BROOK_ERR__NOMEM);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, "out of memory"));
		}
	}
	CU_ASSERT(ok && n > 3);
	CU_ASSERT_STRING_EQUAL(c.str, "/x");
	CU_ASSERT_STRING_EQUAL(c.list, "a,b");
	conf_destroy(table, &c);
}

/* Table mistakes come back as errors from conf_init, without leaks. */
static void test_bad_tables(void)
{
	static const conf_def_t bad_default[] = {
		{ "b.str", CONF_STRING, offsetof(tconf_t, str), "x", 0, 0, NULL, 0, NULL },
		{ "b.int", CONF_INT, offsetof(tconf_t, num), "500", 1, 100, NULL, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
	};
	static const conf_def_t no_unset[] = {
		{ "b.any", CONF_LONG, offsetof(tconf_t, any), NULL, INT64_MIN, INT64_MAX, NULL,
		  CONF_F_REQUIRED, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
	};
	static const conf_def_t twice[] = {
		{ "b.x", CONF_INT, offsetof(tconf_t, num), "1", 1, 100, NULL, 0, NULL },
		{ "b.x", CONF_INT, offsetof(tconf_t, neg), "1", 1, 100, NULL, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
	};
	static const conf_def_t no_values[] = {
		{ "b.e", CONF_ENUM, offsetof(tconf_t, codec), NULL, 0, 0, NULL, 0, NULL },
		{ NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
	};
	tconf_t c;

	CU_ASSERT_EQUAL(conf_init(bad_default, &c, err, sizeof(err)), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_STRING_EQUAL(err, "b.int: bad default: must be an integer between 1 and 100 "
				    "(got \"500\")");
	CU_ASSERT_PTR_NULL(c.str); /* freed on the way out */
	CU_ASSERT_EQUAL(conf_init(no_unset, &c, err, sizeof(err)), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_EQUAL(conf_init(twice, &c, err, sizeof(err)), BROOK_ERR__INVALID_ARG);
	CU_ASSERT_STRING_EQUAL(err, "b.x: declared twice in the table");
	CU_ASSERT_EQUAL(conf_init(no_values, &c, err, sizeof(err)), BROOK_ERR__INVALID_ARG);
}

int main(void)
{
	static const harness_test_t tests[] = {
		{ "defaults", test_defaults },
		{ "integer ranges and overflow", test_int_ranges },
		{ "malformed integers", test_bad_ints },
		{ "booleans", test_bools },
		{ "enums", test_enums },
		{ "strings and lists", test_strings_and_lists },
		{ "conf_get round trip", test_get_round_trip },
		{ "conf_check and required settings", test_check_required },
		{ "file with comments, blanks and trimming", test_file },
		{ "file:line errors", test_file_errors },
		{ "missing and unreadable files", test_file_missing_and_unreadable },
		{ "very long lines", test_file_long_line },
		{ "overrides", test_overrides },
		{ "help and dump", test_help_and_dump },
		{ "mistakes in a table", test_bad_tables },
		{ "out of memory", test_out_of_memory },
		{ NULL, NULL },
	};
	return harness_run("conf", tests);
}
