/*
 * conf.h - settings declared once in a table, parsed from key=value files.
 *
 * Each program (brookd, the producer, the consumer, topic configs) declares
 * one static table of conf_def_t: name (Kafka's where the meaning is the
 * same), type, default, range, doc, and where the value lives in the
 * program's own config struct (offsetof). The same table drives defaults,
 * parsing, validation, `--help` and the README's setting lists, as Redis's
 * config.c and librdkafka's rdkafka_conf.c do.
 *
 * Ownership: strings stored in the config struct (CONF_STRING, CONF_LIST,
 * CONF_ENUM) are malloc'd by this module; conf_destroy() frees them. The
 * table itself is static and never copied.
 */
#ifndef BROOK_CONF_H
#define BROOK_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "brook.h"

typedef enum conf_type {
	CONF_INT,    /* int32_t; range [min, max] */
	CONF_LONG,   /* int64_t; range [min, max] */
	CONF_BOOL,   /* int: "true"/"false" only, as Kafka */
	CONF_STRING, /* char *; may be NULL (default NULL) */
	CONF_LIST,   /* char *: comma-separated, stored with blanks around
		      * items removed ("a, b" -> "a,b"); max = max items (0: any) */
	CONF_ENUM,   /* char *: one of enum_values (case-sensitive) */
} conf_type_t;

enum conf_flags {
	CONF_F_REQUIRED = 1 << 0, /* conf_check() fails while unset */
	CONF_F_HIDDEN   = 1 << 1, /* left out of conf_print_help() */
};

typedef struct conf_def {
	const char *name;
	conf_type_t type;
	size_t offset;             /* offsetof(program struct, field) */
	const char *default_value; /* text, parsed like a file value; NULL:
				    * no default (0, false or NULL) */
	int64_t min, max;          /* INT/LONG range; LIST max items */
	const char *const *enum_values; /* CONF_ENUM: NULL-terminated */
	int flags;
	const char *doc;           /* one sentence, shown by --help */
} conf_def_t;

/* The table ends with an entry whose name is NULL. */

/* Sets every setting of obj to its default. Strings are allocated. */
brook_err_t conf_init(const conf_def_t *table, void *obj, char *errstr, size_t errstr_size);

/* Frees the strings conf_init/conf_set stored in obj. */
void conf_destroy(const conf_def_t *table, void *obj);

/* Sets one setting from text. Errors: BROOK_ERR__INVALID_ARG (unknown key:
 * "<key>: unknown setting"), BROOK_ERR_INVALID_CONFIG (bad value:
 * "<key>: must be an integer between 1 and 100 (got \"x\")"). On error obj
 * is unchanged. */
brook_err_t conf_set(const conf_def_t *table, void *obj, const char *key, const char *value,
		     char *errstr, size_t errstr_size);

/* Reads a key=value file: '#' and '!' start comment lines, blank lines are
 * skipped, blanks around key and value are trimmed; no line continuations.
 * Errors name the place: "<path>:<line>: <key>: <reason>", or
 * "<path>:<line>: expected key=value" or "<path>: <strerror>". A key set
 * twice in one file is an error (as a typo usually is). */
brook_err_t conf_load_file(const conf_def_t *table, void *obj, const char *path, char *errstr,
			   size_t errstr_size);

/* "key=value" from the command line (--override); errors read
 * "--override <key>: <reason>". */
brook_err_t conf_set_pair(const conf_def_t *table, void *obj, const char *pair, char *errstr,
			  size_t errstr_size);

/* After all sources: every CONF_F_REQUIRED setting has a value. */
brook_err_t conf_check(const conf_def_t *table, const void *obj, char *errstr, size_t errstr_size);

/* The definition of a key, or NULL. */
const conf_def_t *conf_find(const conf_def_t *table, const char *key);

/* The current value as text ("true", "1048576", "a,b", "" for NULL) into
 * buf; returns buf. */
const char *conf_get(const conf_def_t *def, const void *obj, char *buf, size_t size);

/* One block per non-hidden setting: name, type and range, default, doc. */
void conf_print_help(const conf_def_t *table, FILE *out);

/* Every setting as "key=value" lines (for the startup log). */
void conf_dump(const conf_def_t *table, const void *obj, FILE *out);

/* Test seam: after n more successful allocations, every allocation of this
 * module fails as if memory ran out; -1 (the default) disables it. */
void conf_fail_allocs_after(long n);

#endif
