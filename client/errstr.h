/*
 * errstr.h - filling the caller's error-string buffer.
 *
 * Functions that can fail return a brook_err_t and, for the human, write a
 * reason into an (errstr, errstr_size) buffer the caller owns. These helpers
 * are the one place that formats into it: a NULL or empty buffer is allowed
 * and ignored, and output is always NUL-terminated, truncated if need be.
 */
#ifndef BROOK_ERRSTR_H
#define BROOK_ERRSTR_H

#include <stdarg.h>
#include <stddef.h>

void brook_errstr(char *errstr, size_t errstr_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "<prefix>: <message>": the prefix is a path or a znode kind. */
void brook_errstr_at(char *errstr, size_t errstr_size, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void brook_errstr_vat(char *errstr, size_t errstr_size, const char *prefix, const char *fmt,
		      va_list ap) __attribute__((format(printf, 4, 0)));

#endif
