/* log_checkpoint.c - Kafka-format offset checkpoint files. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_checkpoint.h"
#include "log_file.h"

int log_parse_i64(const char *s, size_t len, int64_t *out)
{
	int neg = 0;
	uint64_t v = 0, limit = (uint64_t)INT64_MAX;

	if (len > 0 && s[0] == '-') {
		neg = 1;
		limit++;
		s++;
		len--;
	}
	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (limit - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int log_topic_valid(const char *topic, size_t len)
{
	if (len == 0 || len > LOG_TOPIC_MAX)
		return 0;
	if ((len == 1 && topic[0] == '.') || (len == 2 && topic[0] == '.' && topic[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = topic[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int log_parse_partition_dir(const char *name, char topic[LOG_TOPIC_MAX + 1], int32_t *partition)
{
	const char *dash = strrchr(name, '-');
	int64_t p;

	if (!dash || !log_topic_valid(name, (size_t)(dash - name)) ||
	    log_parse_i64(dash + 1, strlen(dash + 1), &p) != 0 || p < 0 || p > INT32_MAX ||
	    (dash[1] == '0' && dash[2] != '\0'))
		return -1;
	memcpy(topic, name, (size_t)(dash - name));
	topic[dash - name] = '\0';
	*partition = (int32_t)p;
	return 0;
}

/* Next line of [*p, end) without its newline; NULL at the end. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
	const char *start = *p, *nl;

	if (start >= end)
		return NULL;
	nl = memchr(start, '\n', (size_t)(end - start));
	*len = (size_t)((nl ? nl : end) - start);
	*p = nl ? nl + 1 : end;
	return start;
}

brook_err_t log_checkpoint_read(const char *path, log_checkpoint_entry_t **entries, size_t *n,
				char *errstr, size_t errstr_size)
{
	log_checkpoint_entry_t *arr = NULL;
	const char *p, *end, *line;
	int64_t version, count;
	brook_err_t err;
	size_t len, got = 0;
	char *buf;
	int lineno = 2;

	*entries = NULL;
	*n = 0;
	err = log_file_slurp(path, 64u << 20, &buf, &len, errstr, errstr_size);
	if (err)
		return err;
	p = buf;
	end = buf + len;
	line = next_line(&p, end, &len);
	if (!line || log_parse_i64(line, len, &version) != 0 || version != 0) {
		snprintf(errstr, errstr_size, "%s:1: expected version 0", path);
		goto bad;
	}
	line = next_line(&p, end, &len);
	if (!line || log_parse_i64(line, len, &count) != 0 || count < 0 || count > 10000000) {
		snprintf(errstr, errstr_size, "%s:2: expected the number of entries", path);
		goto bad;
	}
	arr = calloc(count ? (size_t)count : 1, sizeof(*arr));
	if (!arr) {
		free(buf);
		return BROOK_ERR__NOMEM;
	}
	while ((line = next_line(&p, end, &len))) {
		const char *sp1, *sp2;
		int64_t part, off;

		lineno++;
		if (len == 0 && p == end)
			break;
		sp1 = memchr(line, ' ', len);
		sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
		if (!sp2 || (int64_t)got >= count ||
		    !log_topic_valid(line, (size_t)(sp1 - line)) ||
		    log_parse_i64(sp1 + 1, (size_t)(sp2 - sp1 - 1), &part) != 0 ||
		    part < 0 || part > INT32_MAX ||
		    log_parse_i64(sp2 + 1, len - (size_t)(sp2 + 1 - line), &off) != 0 || off < 0) {
			snprintf(errstr, errstr_size, "%s:%d: expected \"<topic> <partition> <offset>\"%s",
				 path, lineno, (int64_t)got >= count ? " (more entries than declared)" : "");
			goto bad;
		}
		memcpy(arr[got].topic, line, (size_t)(sp1 - line));
		arr[got].partition = (int32_t)part;
		arr[got].offset = off;
		got++;
	}
	if ((int64_t)got != count) {
		snprintf(errstr, errstr_size, "%s: %zu entries, header says %" PRId64, path, got, count);
		goto bad;
	}
	free(buf);
	*entries = arr;
	*n = got;
	return BROOK_ERR_NO_ERROR;
bad:
	free(arr);
	free(buf);
	return BROOK_ERR__BAD_MSG;
}

brook_err_t log_checkpoint_write(const char *path, const log_checkpoint_entry_t *entries, size_t n,
				 char *errstr, size_t errstr_size)
{
	size_t cap = 32 + n * (LOG_TOPIC_MAX + 40), len;
	char *buf = malloc(cap);
	brook_err_t err;
	int w;

	if (!buf)
		return BROOK_ERR__NOMEM;
	w = snprintf(buf, cap, "0\n%zu\n", n);
	len = (size_t)w;
	for (size_t i = 0; i < n; i++) {
		w = snprintf(buf + len, cap - len, "%s %" PRId32 " %" PRId64 "\n",
			     entries[i].topic, entries[i].partition, entries[i].offset);
		len += (size_t)w;
	}
	err = log_file_replace(path, buf, len, errstr, errstr_size);
	free(buf);
	return err;
}
