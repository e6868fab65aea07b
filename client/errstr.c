/* errstr.c - formatting into caller-owned error-string buffers. */
#include <stdio.h>

#include "errstr.h"

void brook_errstr(char *errstr, size_t errstr_size, const char *fmt, ...)
{
	va_list ap;

	if (!errstr || errstr_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errstr, errstr_size, fmt, ap);
	va_end(ap);
}

void brook_errstr_vat(char *errstr, size_t errstr_size, const char *prefix, const char *fmt,
		      va_list ap)
{
	int n;

	if (!errstr || errstr_size == 0)
		return;
	n = snprintf(errstr, errstr_size, "%s: ", prefix);
	if (n < 0 || (size_t)n >= errstr_size)
		return;
	vsnprintf(errstr + n, errstr_size - (size_t)n, fmt, ap);
}

void brook_errstr_at(char *errstr, size_t errstr_size, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	brook_errstr_vat(errstr, errstr_size, prefix, fmt, ap);
	va_end(ap);
}
