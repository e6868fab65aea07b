/*
 * conf.c - table-driven settings: defaults, strict parsing, files, help.
 *
 * Nothing here knows a setting by name: every behaviour comes from the
 * program's conf_def_t table (conf.h). Parsing is strict because a typo in a
 * config file should stop startup, not run a broker with a surprise value:
 * integers must be the whole string and in range, booleans are "true" or
 * "false", enum values must be listed, list items are trimmed and non-empty.
 *
 * "Unset": a required setting without a default starts in a state conf_set
 * never produces, which conf_check (and conf_get, as "") recognise: NULL for
 * strings, -1 for a bool, and min-1 (or max+1) for a number. An empty value
 * ("key=") leaves a string or list setting NULL, so an optional setting can
 * be cleared and a required one is refused.
 *
 * Error codes: unknown key BROOK_ERR__INVALID_ARG (as conf.h says); bad
 * values, file syntax, repeated keys and missing required settings
 * BROOK_ERR_INVALID_CONFIG; a file that cannot be opened or read, the code
 * of its errno; a bad table (a programming error) BROOK_ERR__INVALID_ARG
 * from conf_init.
 *
 * Ownership: the strings of CONF_STRING, CONF_LIST and CONF_ENUM settings
 * are malloc'd here and freed by conf_set (when replaced) and conf_destroy.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "errstr.h"

/* Longer lines are refused: no real setting needs them, and a bounded
 * buffer means a corrupt or binary file cannot make us allocate without
 * limit. */
#define CONF_LINE_MAX (64 * 1024)

/* Values quoted in error messages are cut to this many bytes so a huge bad
 * value still gives a readable one-line error. */
#define CONF_QUOTE_MAX 64

/* Room for one "<key>: <reason>" before it is copied into the caller's
 * buffer with a file:line prefix. */
#define CONF_REASON_MAX 1024

#define CONF_HELP_WIDTH 80
#define CONF_HELP_INDENT 4

/* A parsed value, before it replaces the old one in the object. */
typedef struct conf_value {
	int64_t num; /* CONF_INT, CONF_LONG, CONF_BOOL */
	char *str;   /* CONF_STRING, CONF_LIST, CONF_ENUM: malloc'd or NULL */
} conf_value_t;

static long fail_allocs_after = -1;

void conf_fail_allocs_after(long n)
{
	fail_allocs_after = n;
}

/* Every allocation of this module goes through here, so the test seam can
 * make any one of them fail. */
static void *conf_alloc(size_t size)
{
	if (fail_allocs_after == 0)
		return NULL;
	if (fail_allocs_after > 0)
		fail_allocs_after--;
	return malloc(size);
}

static char *conf_strdup(const char *s)
{
	size_t len = strlen(s) + 1;
	char *d = conf_alloc(len);

	if (d)
		memcpy(d, s, len);
	return d;
}

static void *field(const conf_def_t *def, void *obj)
{
	return (char *)obj + def->offset;
}

static const void *cfield(const conf_def_t *def, const void *obj)
{
	return (const char *)obj + def->offset;
}

static int is_string_type(conf_type_t type)
{
	return type == CONF_STRING || type == CONF_LIST || type == CONF_ENUM;
}

/* The range a number may take: the table's, cut to what the field holds. */
static void num_range(const conf_def_t *def, int64_t *lo, int64_t *hi)
{
	*lo = def->min;
	*hi = def->max;
	if (def->type == CONF_INT) {
		if (*lo < INT32_MIN)
			*lo = INT32_MIN;
		if (*hi > INT32_MAX)
			*hi = INT32_MAX;
	}
}

static int64_t num_type_min(conf_type_t type)
{
	return type == CONF_INT ? INT32_MIN : INT64_MIN;
}

static int64_t num_type_max(conf_type_t type)
{
	return type == CONF_INT ? INT32_MAX : INT64_MAX;
}

static int64_t get_num(const conf_def_t *def, const void *obj)
{
	const void *p = cfield(def, obj);

	switch (def->type) {
	case CONF_INT:
		return *(const int32_t *)p;
	case CONF_LONG:
		return *(const int64_t *)p;
	case CONF_BOOL:
		return *(const int *)p;
	default:
		return 0;
	}
}

static void put_num(const conf_def_t *def, void *obj, int64_t v)
{
	void *p = field(def, obj);

	switch (def->type) {
	case CONF_INT:
		*(int32_t *)p = (int32_t)v;
		break;
	case CONF_LONG:
		*(int64_t *)p = v;
		break;
	case CONF_BOOL:
		*(int *)p = (int)v;
		break;
	default:
		break;
	}
}

/* Whether a setting is in the "unset" state described at the top. */
static int is_unset(const conf_def_t *def, const void *obj)
{
	int64_t lo, hi, v;

	if (is_string_type(def->type))
		return *(char *const *)cfield(def, obj) == NULL;
	v = get_num(def, obj);
	if (def->type == CONF_BOOL)
		return v != 0 && v != 1;
	num_range(def, &lo, &hi);
	return v < lo || v > hi;
}

/* A short printable rendering of a bad value for an error message. */
static void quote(char *buf, size_t size, const char *s)
{
	size_t n = 0, len = strlen(s);
	size_t keep = len > CONF_QUOTE_MAX ? CONF_QUOTE_MAX - 3 : len;

	if (size < 2)
		return;
	buf[n++] = '"';
	for (size_t i = 0; i < keep && n + 5 < size; i++)
		buf[n++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (keep < len && n + 5 < size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '"';
	buf[n] = '\0';
}

/* strtoll on the whole string: no blanks, no '+', no trailing bytes, no
 * overflow. Returns 0 or -1. */
static int parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!(*s == '-' || isdigit((unsigned char)*s)))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

/* "a , b,c" -> "a,b,c" in a new string; *items counts them. Returns NULL
 * with *why set on an empty item, NULL with *why NULL when out of memory. */
static char *normalize_list(const char *text, int64_t *items, const char **why)
{
	char *out = conf_alloc(strlen(text) + 1);
	const char *p = text;
	size_t n = 0;

	*why = NULL;
	*items = 0;
	if (!out)
		return NULL;
	for (;;) {
		const char *e = strchr(p, ',');
		const char *end = e ? e : p + strlen(p);

		while (p < end && isspace((unsigned char)*p))
			p++;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		if (end == p) {
			*why = "list items must not be empty";
			free(out);
			return NULL;
		}
		if (n)
			out[n++] = ',';
		memcpy(out + n, p, (size_t)(end - p));
		n += (size_t)(end - p);
		(*items)++;
		if (!e)
			break;
		p = e + 1;
	}
	out[n] = '\0';
	return out;
}

static int all_blank(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* Parses text for def into *v. On error, reason gets the message without
 * the key ("must be ..."). */
static brook_err_t parse_value(const conf_def_t *def, const char *text, conf_value_t *v,
			       char *reason, size_t reason_size)
{
	char got[CONF_QUOTE_MAX + 8];
	int64_t lo, hi, items;
	const char *why;

	v->num = 0;
	v->str = NULL;
	quote(got, sizeof(got), text);
	switch (def->type) {
	case CONF_INT:
	case CONF_LONG:
		num_range(def, &lo, &hi);
		if (parse_int64(text, &v->num) != 0 || v->num < lo || v->num > hi) {
			brook_errstr(reason, reason_size,
				     "must be an integer between %" PRId64 " and %" PRId64
				     " (got %s)", lo, hi, got);
			return BROOK_ERR_INVALID_CONFIG;
		}
		return BROOK_ERR_NO_ERROR;
	case CONF_BOOL:
		if (strcmp(text, "true") == 0) {
			v->num = 1;
		} else if (strcmp(text, "false") == 0) {
			v->num = 0;
		} else {
			brook_errstr(reason, reason_size, "must be true or false (got %s)", got);
			return BROOK_ERR_INVALID_CONFIG;
		}
		return BROOK_ERR_NO_ERROR;
	case CONF_ENUM:
		for (const char *const *e = def->enum_values; e && *e; e++) {
			if (strcmp(text, *e) == 0) {
				v->str = conf_strdup(text);
				if (!v->str)
					goto nomem;
				return BROOK_ERR_NO_ERROR;
			}
		}
		{
			size_t n;
			int w;

			/* Built piecewise: the list of values has no fixed length. */
			if (!reason || reason_size == 0)
				return BROOK_ERR_INVALID_CONFIG;
			w = snprintf(reason, reason_size, "must be one of ");
			n = w > 0 && (size_t)w < reason_size ? (size_t)w : reason_size - 1;
			for (const char *const *e = def->enum_values; e && *e; e++) {
				w = snprintf(reason + n, reason_size - n, "%s%s",
					     e == def->enum_values ? "" : ", ", *e);
				if (w < 0 || (size_t)w >= reason_size - n)
					return BROOK_ERR_INVALID_CONFIG;
				n += (size_t)w;
			}
			snprintf(reason + n, reason_size - n, " (got %s)", got);
		}
		return BROOK_ERR_INVALID_CONFIG;
	case CONF_STRING:
	case CONF_LIST:
		if (def->type == CONF_STRING ? *text == '\0' : all_blank(text)) {
			if (def->flags & CONF_F_REQUIRED) {
				brook_errstr(reason, reason_size, "must not be empty");
				return BROOK_ERR_INVALID_CONFIG;
			}
			return BROOK_ERR_NO_ERROR;
		}
		if (def->type == CONF_STRING) {
			v->str = conf_strdup(text);
			if (!v->str)
				goto nomem;
			return BROOK_ERR_NO_ERROR;
		}
		v->str = normalize_list(text, &items, &why);
		if (!v->str && !why)
			goto nomem;
		if (!v->str) {
			brook_errstr(reason, reason_size, "%s (got %s)", why, got);
			return BROOK_ERR_INVALID_CONFIG;
		}
		if (def->max > 0 && items > def->max) {
			brook_errstr(reason, reason_size,
				     "must have at most %" PRId64 " item%s (got %" PRId64 ")",
				     def->max, def->max == 1 ? "" : "s", items);
			free(v->str);
			v->str = NULL;
			return BROOK_ERR_INVALID_CONFIG;
		}
		return BROOK_ERR_NO_ERROR;
	}
	brook_errstr(reason, reason_size, "setting has an unknown type %d", (int)def->type);
	return BROOK_ERR__INVALID_ARG;
nomem:
	brook_errstr(reason, reason_size, "out of memory");
	return BROOK_ERR__NOMEM;
}

/* Replaces the setting's value with v, taking ownership of v->str. */
static void store(const conf_def_t *def, void *obj, conf_value_t *v)
{
	if (is_string_type(def->type)) {
		char **p = field(def, obj);

		free(*p);
		*p = v->str;
		v->str = NULL;
	} else {
		put_num(def, obj, v->num);
	}
}

const conf_def_t *conf_find(const conf_def_t *table, const char *key)
{
	if (!key)
		return NULL;
	for (const conf_def_t *d = table; d->name; d++)
		if (strcmp(d->name, key) == 0)
			return d;
	return NULL;
}

static size_t table_len(const conf_def_t *table)
{
	size_t n = 0;

	while (table[n].name)
		n++;
	return n;
}

/* Mistakes in a table are programming errors, but the program's own
 * startup reports them as readable errors rather than as odd behaviour. */
static brook_err_t check_def(const conf_def_t *table, const conf_def_t *def, char *errstr,
			     size_t errstr_size)
{
	for (const conf_def_t *d = table; d != def; d++) {
		if (strcmp(d->name, def->name) == 0) {
			brook_errstr_at(errstr, errstr_size, def->name,
					"declared twice in the table");
			return BROOK_ERR__INVALID_ARG;
		}
	}
	switch (def->type) {
	case CONF_INT:
	case CONF_LONG: {
		int64_t lo, hi;

		num_range(def, &lo, &hi);
		if (lo > hi) {
			brook_errstr_at(errstr, errstr_size, def->name, "table range is empty");
			return BROOK_ERR__INVALID_ARG;
		}
		if ((def->flags & CONF_F_REQUIRED) && !def->default_value &&
		    lo == num_type_min(def->type) && hi == num_type_max(def->type)) {
			brook_errstr_at(errstr, errstr_size, def->name,
					"required without a default, but its range leaves no "
					"value to mean \"unset\"");
			return BROOK_ERR__INVALID_ARG;
		}
		break;
	}
	case CONF_ENUM:
		if (!def->enum_values || !def->enum_values[0]) {
			brook_errstr_at(errstr, errstr_size, def->name, "enum without values");
			return BROOK_ERR__INVALID_ARG;
		}
		break;
	case CONF_BOOL:
	case CONF_STRING:
	case CONF_LIST:
		break;
	default:
		brook_errstr_at(errstr, errstr_size, def->name, "unknown type %d", (int)def->type);
		return BROOK_ERR__INVALID_ARG;
	}
	return BROOK_ERR_NO_ERROR;
}

/* The value a setting holds before its default applies. */
static void set_unset(const conf_def_t *def, void *obj)
{
	int64_t lo, hi;

	if (is_string_type(def->type)) {
		*(char **)field(def, obj) = NULL;
		return;
	}
	if (!(def->flags & CONF_F_REQUIRED) || def->default_value) {
		put_num(def, obj, 0);
		return;
	}
	if (def->type == CONF_BOOL) {
		put_num(def, obj, -1);
		return;
	}
	num_range(def, &lo, &hi);
	put_num(def, obj, lo > num_type_min(def->type) ? lo - 1 : hi + 1);
}

brook_err_t conf_init(const conf_def_t *table, void *obj, char *errstr, size_t errstr_size)
{
	char reason[CONF_REASON_MAX];
	brook_err_t err;

	/* First make every string NULL so an error below can free safely
	 * whatever obj held before (possibly uninitialised memory). */
	for (const conf_def_t *d = table; d->name; d++)
		if (is_string_type(d->type))
			*(char **)field(d, obj) = NULL;
	for (const conf_def_t *d = table; d->name; d++) {
		conf_value_t v;

		err = check_def(table, d, errstr, errstr_size);
		if (err)
			goto fail;
		set_unset(d, obj);
		if (!d->default_value)
			continue;
		err = parse_value(d, d->default_value, &v, reason, sizeof(reason));
		if (err) {
			brook_errstr_at(errstr, errstr_size, d->name, "bad default: %s", reason);
			if (err != BROOK_ERR__NOMEM)
				err = BROOK_ERR__INVALID_ARG;
			goto fail;
		}
		store(d, obj, &v);
	}
	return BROOK_ERR_NO_ERROR;
fail:
	conf_destroy(table, obj);
	return err;
}

void conf_destroy(const conf_def_t *table, void *obj)
{
	if (!obj)
		return;
	for (const conf_def_t *d = table; d->name; d++) {
		if (is_string_type(d->type)) {
			char **p = field(d, obj);

			free(*p);
			*p = NULL;
		}
	}
}

brook_err_t conf_set(const conf_def_t *table, void *obj, const char *key, const char *value,
		     char *errstr, size_t errstr_size)
{
	char reason[CONF_REASON_MAX];
	const conf_def_t *def = conf_find(table, key);
	conf_value_t v;
	brook_err_t err;

	if (!def) {
		brook_errstr_at(errstr, errstr_size, key ? key : "(null)", "unknown setting");
		return BROOK_ERR__INVALID_ARG;
	}
	err = parse_value(def, value ? value : "", &v, reason, sizeof(reason));
	if (err) {
		brook_errstr_at(errstr, errstr_size, key, "%s", reason);
		return err;
	}
	store(def, obj, &v);
	return BROOK_ERR_NO_ERROR;
}

/* Reads one line without its '\n' into buf (size CONF_LINE_MAX + 1).
 * Returns 1 for a line, 0 at end of file, or -1 with *why set. A NUL byte
 * is refused: C strings would silently cut the line there. */
static int read_line(FILE *f, char *buf, const char **why)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF) {
		if (c == '\n')
			break;
		if (c == '\0') {
			*why = "NUL byte in line (not a text file?)";
			return -1;
		}
		if (n == CONF_LINE_MAX) {
			*why = "line longer than 65536 bytes";
			return -1;
		}
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	if (c == EOF && (ferror(f) || n == 0))
		return ferror(f) ? -2 : 0;
	return 1;
}

/* Lines before a bad one stay applied: the object is not rolled back,
 * because every caller treats a config error as fatal and destroys it.
 * Java properties' rules where they are unambiguous ('#'/'!' comment lines,
 * a '#' later in the line is part of the value); no escapes or line
 * continuations, which nobody needs for these settings. */
brook_err_t conf_load_file(const conf_def_t *table, void *obj, const char *path, char *errstr,
			   size_t errstr_size)
{
	char reason[CONF_REASON_MAX];
	brook_err_t err = BROOK_ERR_NO_ERROR;
	const char *why = NULL;
	int *seen = NULL; /* per table row: the line that set it, 0 if none */
	size_t nseen;
	char *buf = NULL;
	int lineno = 0, r;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		int e = errno;

		brook_errstr_at(errstr, errstr_size, path, "%s", strerror(e));
		return brook_err_from_errno(e);
	}
	nseen = table_len(table) + 1;
	seen = conf_alloc(nseen * sizeof(*seen));
	buf = conf_alloc(CONF_LINE_MAX + 1);
	if (seen)
		memset(seen, 0, nseen * sizeof(*seen));
	if (!seen || !buf) {
		brook_errstr_at(errstr, errstr_size, path, "out of memory");
		err = BROOK_ERR__NOMEM;
		goto out;
	}
	while ((r = read_line(f, buf, &why)) == 1 || r == -1) {
		const conf_def_t *def;
		char *line = buf, *eq, *key, *value;

		lineno++;
		if (r == -1) {
			brook_errstr(errstr, errstr_size, "%s:%d: %s", path, lineno, why);
			err = BROOK_ERR_INVALID_CONFIG;
			goto out;
		}
		/* Editors on some systems start UTF-8 files with a BOM. */
		if (lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
			line += 3;
		line = trim(line);
		if (*line == '\0' || *line == '#' || *line == '!')
			continue;
		eq = strchr(line, '=');
		if (!eq || eq == line) {
			brook_errstr(errstr, errstr_size, "%s:%d: expected key=value", path,
				     lineno);
			err = BROOK_ERR_INVALID_CONFIG;
			goto out;
		}
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		def = conf_find(table, key);
		if (def && seen[def - table]) {
			brook_errstr(errstr, errstr_size, "%s:%d: %s: set twice (first on line %d)",
				     path, lineno, key, seen[def - table]);
			err = BROOK_ERR_INVALID_CONFIG;
			goto out;
		}
		err = conf_set(table, obj, key, value, reason, sizeof(reason));
		if (err) {
			brook_errstr(errstr, errstr_size, "%s:%d: %s", path, lineno, reason);
			goto out;
		}
		seen[def - table] = lineno;
	}
	if (r == -2) {
		brook_errstr_at(errstr, errstr_size, path, "%s", strerror(errno));
		err = brook_err_from_errno(errno);
	}
out:
	free(buf);
	free(seen);
	fclose(f);
	return err;
}

brook_err_t conf_set_pair(const conf_def_t *table, void *obj, const char *pair, char *errstr,
			  size_t errstr_size)
{
	char reason[CONF_REASON_MAX];
	char *copy, *eq, *key;
	brook_err_t err;

	if (!pair)
		pair = "";
	copy = conf_strdup(pair);
	if (!copy) {
		brook_errstr(errstr, errstr_size, "--override: out of memory");
		return BROOK_ERR__NOMEM;
	}
	eq = strchr(copy, '=');
	key = NULL;
	if (eq) {
		*eq = '\0';
		key = trim(copy);
	}
	if (!key || !*key) {
		char got[CONF_QUOTE_MAX + 8];

		quote(got, sizeof(got), pair);
		brook_errstr(errstr, errstr_size, "--override %s: expected key=value", got);
		free(copy);
		return BROOK_ERR_INVALID_CONFIG;
	}
	err = conf_set(table, obj, key, trim(eq + 1), reason, sizeof(reason));
	if (err)
		brook_errstr(errstr, errstr_size, "--override %s", reason);
	free(copy);
	return err;
}

brook_err_t conf_check(const conf_def_t *table, const void *obj, char *errstr, size_t errstr_size)
{
	const conf_def_t *first = NULL;
	int more = 0;

	for (const conf_def_t *d = table; d->name; d++) {
		if (!(d->flags & CONF_F_REQUIRED) || !is_unset(d, obj))
			continue;
		if (!first)
			first = d;
		else
			more++;
	}
	if (!first)
		return BROOK_ERR_NO_ERROR;
	if (more)
		brook_errstr_at(errstr, errstr_size, first->name,
				"required setting is not set (and %d more)", more);
	else
		brook_errstr_at(errstr, errstr_size, first->name, "required setting is not set");
	return BROOK_ERR_INVALID_CONFIG;
}

const char *conf_get(const conf_def_t *def, const void *obj, char *buf, size_t size)
{
	if (!buf || size == 0)
		return buf;
	if ((def->flags & CONF_F_REQUIRED) && is_unset(def, obj)) {
		buf[0] = '\0';
		return buf;
	}
	switch (def->type) {
	case CONF_INT:
	case CONF_LONG:
		snprintf(buf, size, "%" PRId64, get_num(def, obj));
		break;
	case CONF_BOOL:
		snprintf(buf, size, "%s", get_num(def, obj) ? "true" : "false");
		break;
	default: {
		const char *s = *(char *const *)cfield(def, obj);

		snprintf(buf, size, "%s", s ? s : "");
		break;
	}
	}
	return buf;
}

/* "int, 1024 .. 2147483647", "long, >= -1", "enum: none, gzip", "list of at
 * most 3". Written with fprintf because enum lists have no bound. */
static void print_type(const conf_def_t *def, FILE *out)
{
	int64_t lo, hi;
	int open_lo, open_hi;

	switch (def->type) {
	case CONF_INT:
	case CONF_LONG:
		num_range(def, &lo, &hi);
		open_lo = lo == num_type_min(def->type);
		open_hi = hi == num_type_max(def->type);
		fputs(def->type == CONF_INT ? "int" : "long", out);
		if (open_lo && !open_hi)
			fprintf(out, ", <= %" PRId64, hi);
		else if (!open_lo && open_hi)
			fprintf(out, ", >= %" PRId64, lo);
		else if (!open_lo && !open_hi)
			fprintf(out, ", %" PRId64 " .. %" PRId64, lo, hi);
		break;
	case CONF_BOOL:
		fputs("bool, true or false", out);
		break;
	case CONF_STRING:
		fputs("string", out);
		break;
	case CONF_LIST:
		fputs("comma-separated list", out);
		if (def->max > 0)
			fprintf(out, " of at most %" PRId64 " item%s", def->max,
				def->max == 1 ? "" : "s");
		break;
	case CONF_ENUM:
		fputs("one of", out);
		for (const char *const *e = def->enum_values; e && *e; e++)
			fprintf(out, "%s%s", e == def->enum_values ? " " : ", ", *e);
		break;
	}
}

/* Greedy word wrap at CONF_HELP_WIDTH; a word longer than a line gets a
 * line of its own rather than being cut. */
static void print_wrapped(const char *text, FILE *out)
{
	const char *p = text;
	int col = 0;

	while (*p) {
		const char *w;
		int len;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && *p != ' ')
			p++;
		len = (int)(p - w);
		if (col > 0 && col + 1 + len > CONF_HELP_WIDTH) {
			fputc('\n', out);
			col = 0;
		}
		if (col == 0) {
			fprintf(out, "%*s", CONF_HELP_INDENT, "");
			col = CONF_HELP_INDENT;
		} else {
			fputc(' ', out);
			col++;
		}
		fwrite(w, 1, (size_t)len, out);
		col += len;
	}
	if (col > 0)
		fputc('\n', out);
}

void conf_print_help(const conf_def_t *table, FILE *out)
{
	for (const conf_def_t *d = table; d->name; d++) {
		if (d->flags & CONF_F_HIDDEN)
			continue;
		fprintf(out, "%s\n%*s", d->name, CONF_HELP_INDENT, "");
		print_type(d, out);
		if (d->default_value && *d->default_value)
			fprintf(out, "; default: %s", d->default_value);
		else if (d->flags & CONF_F_REQUIRED)
			fputs("; required", out);
		else
			fputs("; default: none", out);
		fputc('\n', out);
		if (d->doc)
			print_wrapped(d->doc, out);
		if (d[1].name)
			fputc('\n', out);
	}
}

void conf_dump(const conf_def_t *table, const void *obj, FILE *out)
{
	char buf[32];

	for (const conf_def_t *d = table; d->name; d++) {
		/* Strings go out whole; conf_get's buffer would cut them. */
		if (is_string_type(d->type)) {
			const char *s = *(char *const *)cfield(d, obj);

			fprintf(out, "%s=%s\n", d->name, s ? s : "");
		} else {
			fprintf(out, "%s=%s\n", d->name, conf_get(d, obj, buf, sizeof(buf)));
		}
	}
}
