/*
 * blog.h - the broker's log lines (not to be confused with log.h, the
 * partition logs): one line per event, level and subsystem first,
 *   2026-11-24T18:02:11.532Z INFO [zk] registered broker 1 at BROOK://...
 * to stderr, or to the file named by log.file, which blog_reopen()
 * reopens (SIGHUP, for logrotate).
 *
 * Ownership: process-wide state, set up once by main() before the loop
 * runs; blog() may be called from any thread (one fprintf per line).
 */
#ifndef BROOK_BLOG_H
#define BROOK_BLOG_H

#include "brook.h"

enum blog_level { BLOG_ERROR = 0, BLOG_WARN = 1, BLOG_INFO = 2, BLOG_DEBUG = 3 };

void blog(int level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Lines above this level are dropped (default BLOG_INFO). */
void blog_set_level(int level);
int blog_level(void);

/* Logs to path (append) instead of stderr; NULL goes back to stderr.
 * Errors (with the reason in errstr) leave the current destination. */
brook_err_t blog_open(const char *path, char *errstr, size_t errstr_size);

/* Reopens the file (after logrotate moved it); no-op for stderr. */
brook_err_t blog_reopen(char *errstr, size_t errstr_size);

void blog_close(void);

#endif
