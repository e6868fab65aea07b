/*
 * log_file.h - the few file primitives the storage engine builds on:
 * whole reads and writes that survive EINTR and short transfers, atomic
 * replace-by-rename, and directory fsync.
 *
 * Every failure also goes to errstr as "path: reason". A test seam lets the
 * suite make writes fail as a full disk would (log_file_fail_writes_after).
 */
#ifndef BROOK_LOG_FILE_H
#define BROOK_LOG_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "brook.h"

/* pwrite(2) of all len bytes at off. */
brook_err_t log_file_pwrite(int fd, const void *buf, size_t len, uint64_t off,
			    const char *path, char *errstr, size_t errstr_size);

/* pread(2) of up to len bytes at off; *got says how many (short only at EOF). */
brook_err_t log_file_pread(int fd, void *buf, size_t len, uint64_t off, size_t *got,
			   const char *path, char *errstr, size_t errstr_size);

/* Writes path.tmp, fsyncs it, renames it over path and fsyncs the folder,
 * so readers see the old or the new content, never a mix. */
brook_err_t log_file_replace(const char *path, const void *buf, size_t len,
			     char *errstr, size_t errstr_size);

/* Reads a whole small file into a NUL-terminated malloc'd buffer. */
brook_err_t log_file_slurp(const char *path, size_t max_len, char **out, size_t *len,
			   char *errstr, size_t errstr_size);

brook_err_t log_file_fsync_dir(const char *dir, char *errstr, size_t errstr_size);

/* Test seam: after n more successful write calls, every write fails with
 * ENOSPC, as a full disk would; -1 (the default) disables it. */
void log_file_fail_writes_after(long n);

/* Formats "path: reason" into errstr (reason from errno or a literal). */
void log_file_err(char *errstr, size_t errstr_size, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif /* BROOK_LOG_FILE_H */
