/* blog.c - timestamped, levelled log lines to stderr or a reopenable file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blog.h"
#include "errstr.h"

static int max_level = BLOG_INFO;
static FILE *out_file;   /* NULL: stderr */
static char *out_path;

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void blog_set_level(int level)
{
	max_level = level;
}

int blog_level(void)
{
	return max_level;
}

void blog(int level, const char *subsys, const char *fmt, ...)
{
	char line[2048], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level > max_level)
		return;
	if (level < BLOG_ERROR)
		level = BLOG_ERROR;
	if (level > BLOG_DEBUG)
		level = BLOG_DEBUG;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s [%s] ", stamp, ts.tv_nsec / 1000000L,
		     level_names[level], subsys);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One call per line keeps lines whole when threads log at once. */
	fprintf(out_file ? out_file : stderr, "%s\n", line);
	fflush(out_file ? out_file : stderr);
}

static brook_err_t open_path(const char *path, FILE **f, char *errstr, size_t errstr_size)
{
	*f = fopen(path, "a");
	if (!*f) {
		brook_errstr_at(errstr, errstr_size, path, "%s", strerror(errno));
		return brook_err_from_errno(errno);
	}
	setvbuf(*f, NULL, _IOLBF, 0);
	return BROOK_ERR_NO_ERROR;
}

brook_err_t blog_open(const char *path, char *errstr, size_t errstr_size)
{
	FILE *f;
	char *copy;
	brook_err_t err;

	if (!path) {
		blog_close();
		return BROOK_ERR_NO_ERROR;
	}
	if (!(copy = strdup(path)))
		return BROOK_ERR__NOMEM;
	if ((err = open_path(path, &f, errstr, errstr_size))) {
		free(copy);
		return err;
	}
	blog_close();
	out_file = f;
	out_path = copy;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t blog_reopen(char *errstr, size_t errstr_size)
{
	FILE *f;
	brook_err_t err;

	if (!out_path)
		return BROOK_ERR_NO_ERROR;
	if ((err = open_path(out_path, &f, errstr, errstr_size)))
		return err;
	fclose(out_file);
	out_file = f;
	return BROOK_ERR_NO_ERROR;
}

void blog_close(void)
{
	if (out_file)
		fclose(out_file);
	out_file = NULL;
	free(out_path);
	out_path = NULL;
}
