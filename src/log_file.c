/* log_file.c - EINTR-safe whole reads/writes, atomic replace, dir fsync. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errstr.h"
#include "log_file.h"

static long fail_writes_after = -1;

void log_file_fail_writes_after(long n)
{
	fail_writes_after = n;
}

/* Decides whether the test seam turns this write into ENOSPC. */
static int injected_enospc(void)
{
	if (fail_writes_after < 0)
		return 0;
	if (fail_writes_after == 0) {
		errno = ENOSPC;
		return 1;
	}
	fail_writes_after--;
	return 0;
}

void log_file_err(char *errstr, size_t errstr_size, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	brook_errstr_vat(errstr, errstr_size, path, fmt, ap);
	va_end(ap);
}

brook_err_t log_file_pwrite(int fd, const void *buf, size_t len, uint64_t off,
			    const char *path, char *errstr, size_t errstr_size)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = injected_enospc() ? -1 : pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			log_file_err(errstr, errstr_size, path, "write failed: %s", strerror(e));
			return brook_err_from_errno(e);
		}
		if (n == 0) {
			log_file_err(errstr, errstr_size, path, "write made no progress");
			return BROOK_ERR__IO;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_file_pread(int fd, void *buf, size_t len, uint64_t off, size_t *got,
			   const char *path, char *errstr, size_t errstr_size)
{
	uint8_t *p = buf;
	size_t total = 0;

	while (total < len) {
		ssize_t n = pread(fd, p + total, len - total, (off_t)(off + total));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			log_file_err(errstr, errstr_size, path, "read failed: %s", strerror(e));
			return brook_err_from_errno(e);
		}
		if (n == 0)
			break;
		total += (size_t)n;
	}
	*got = total;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_file_fsync_dir(const char *dir, char *errstr, size_t errstr_size)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, dir, "cannot open folder: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	if (fsync(fd) != 0 && errno != EINVAL) {
		int e = errno;
		close(fd);
		log_file_err(errstr, errstr_size, dir, "fsync failed: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	close(fd);
	return BROOK_ERR_NO_ERROR;
}

brook_err_t log_file_replace(const char *path, const void *buf, size_t len,
			     char *errstr, size_t errstr_size)
{
	char tmp[4096 + 8], dir[4096];
	brook_err_t err;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		log_file_err(errstr, errstr_size, path, "path too long");
		return BROOK_ERR__INVALID_ARG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, tmp, "cannot create: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	err = log_file_pwrite(fd, buf, len, 0, tmp, errstr, errstr_size);
	if (!err && fsync(fd) != 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, tmp, "fsync failed: %s", strerror(e));
		err = brook_err_from_errno(e);
	}
	close(fd);
	if (!err && rename(tmp, path) != 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, path, "rename failed: %s", strerror(e));
		err = brook_err_from_errno(e);
	}
	if (err) {
		unlink(tmp);
		return err;
	}
	return log_file_fsync_dir(dirname(dir), errstr, errstr_size);
}

brook_err_t log_file_slurp(const char *path, size_t max_len, char **out, size_t *len,
			   char *errstr, size_t errstr_size)
{
	struct stat st;
	brook_err_t err;
	size_t got;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, path, "cannot open: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > max_len) {
		close(fd);
		log_file_err(errstr, errstr_size, path, "unreadable or larger than %zu bytes", max_len);
		return BROOK_ERR__BAD_MSG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return BROOK_ERR__NOMEM;
	}
	err = log_file_pread(fd, buf, (size_t)st.st_size, 0, &got, path, errstr, errstr_size);
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
	return BROOK_ERR_NO_ERROR;
}
