/* log_dir.c - a log.dirs folder: checks, checkpoints, partition folders. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log_dir.h"
#include "log_file.h"

static void warnf(log_dir_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warnf(log_dir_t *ld, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!ld->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ld->warn(ld->opaque, msg);
}

/* A read-only mount or a folder we may not write would only show up at
 * the first produce; probe it now so startup names the problem. */
static brook_err_t check_writable(const char *path, char *errstr, size_t errstr_size)
{
	char probe[4200];
	struct stat st;
	int fd;

	if (stat(path, &st) != 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, path, "log dir %s", e == ENOENT ? "does not exist"
											  : strerror(e));
		return brook_err_from_errno(e);
	}
	if (!S_ISDIR(st.st_mode)) {
		log_file_err(errstr, errstr_size, path, "log dir is not a folder");
		return BROOK_ERR__INVALID_ARG;
	}
	snprintf(probe, sizeof(probe), "%s/.brook_write_probe", path);
	fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		log_file_err(errstr, errstr_size, path, "log dir is not writable: %s", strerror(e));
		return e == EROFS || e == EACCES || e == EPERM ? BROOK_ERR__READ_ONLY
							       : brook_err_from_errno(e);
	}
	close(fd);
	unlink(probe);
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t add_part(log_dir_t *ld, const char *topic, int32_t partition, log_t *log)
{
	if (ld->nparts == ld->parts_cap) {
		size_t ncap = ld->parts_cap ? ld->parts_cap * 2 : 16;
		log_dir_partition_t *n = realloc(ld->parts, ncap * sizeof(*n));
		if (!n)
			return BROOK_ERR__NOMEM;
		ld->parts = n;
		ld->parts_cap = ncap;
	}
	snprintf(ld->parts[ld->nparts].topic, sizeof(ld->parts[0].topic), "%s", topic);
	ld->parts[ld->nparts].partition = partition;
	ld->parts[ld->nparts].log = log;
	ld->nparts++;
	return BROOK_ERR_NO_ERROR;
}

static int64_t recovery_point_of(const log_checkpoint_entry_t *cp, size_t n, const char *topic,
				 int32_t partition)
{
	for (size_t i = 0; i < n; i++)
		if (cp[i].partition == partition && strcmp(cp[i].topic, topic) == 0)
			return cp[i].offset;
	return 0; /* unknown: recover the whole log */
}

static int is_known_file(const char *name)
{
	return strcmp(name, LOG_DIR_RECOVERY_CHECKPOINT) == 0 ||
	       strcmp(name, "replication-offset-checkpoint") == 0 ||
	       strcmp(name, "meta.properties") == 0 ||
	       strcmp(name, LOG_DIR_CLEAN_SHUTDOWN) == 0;
}

/* A partition folder whose deletion a crash interrupted (log_dir_delete_log). */
static int is_deleted_dir(const char *name)
{
	size_t n = strlen(name);

	return n > 7 && strcmp(name + n - 7, "-delete") == 0 && strchr(name, '.') != NULL;
}

/* Removes a partition folder and its files (it holds no subfolders). */
static brook_err_t remove_folder(const char *path, char *errstr, size_t errstr_size)
{
	struct dirent *de;
	DIR *d = opendir(path);

	if (!d) {
		int e = errno;

		log_file_err(errstr, errstr_size, path, "cannot read: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	while ((de = readdir(d))) {
		char f[4600];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
		unlink(f);
	}
	closedir(d);
	if (rmdir(path) != 0) {
		int e = errno;

		log_file_err(errstr, errstr_size, path, "cannot remove: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	return BROOK_ERR_NO_ERROR;
}

static void finish_delete(log_dir_t *ld, const char *path)
{
	char err[512];

	if (remove_folder(path, err, sizeof(err)))
		warnf(ld, "%s", err);
	else
		warnf(ld, "%s: finished a deletion a stop had interrupted", path);
}

static void open_partition(log_dir_t *ld, const char *name, const log_checkpoint_entry_t *cp,
			   size_t ncp, int64_t now_ms)
{
	char topic[LOG_TOPIC_MAX + 1], path[4200], err[1024];
	log_open_report_t rep;
	int32_t partition;
	brook_err_t e;
	log_t *log;

	snprintf(path, sizeof(path), "%s/%s", ld->path, name);
	if (log_parse_partition_dir(name, topic, &partition) != 0) {
		warnf(ld, "%s: not a partition folder (expected <topic>-<partition>); ignored", path);
		return;
	}
	e = log_open(path, &ld->cfg, recovery_point_of(cp, ncp, topic, partition),
		     ld->had_clean_shutdown, now_ms, &log, &rep, err, sizeof(err));
	if (e) {
		warnf(ld, "%s; partition %s-%d left offline (%s)", err, topic, partition,
		      brook_err_name(e));
		return;
	}
	if (rep.truncated_bytes || rep.deleted_segments || rep.rebuilt_indexes)
		warnf(ld, "%s-%d recovered: %" PRIu64 " bytes cut, %d later segments deleted, "
		      "%d indexes rebuilt (%s)", topic, partition, rep.truncated_bytes,
		      rep.deleted_segments, rep.rebuilt_indexes, rep.reason);
	if (add_part(ld, topic, partition, log) != BROOK_ERR_NO_ERROR) {
		warnf(ld, "%s: out of memory", path);
		log_free(log);
	}
}

brook_err_t log_dir_open(const char *path, const log_config_t *cfg, int64_t now_ms,
			 log_dir_warn_cb *warn, void *opaque, log_dir_t **out,
			 char *errstr, size_t errstr_size)
{
	log_checkpoint_entry_t *cp = NULL;
	char file[4200];
	struct dirent *de;
	size_t ncp = 0;
	brook_err_t err;
	log_dir_t *ld;
	DIR *d;

	err = check_writable(path, errstr, errstr_size);
	if (err)
		return err;
	ld = calloc(1, sizeof(*ld));
	if (!ld || !(ld->path = strdup(path))) {
		free(ld);
		return BROOK_ERR__NOMEM;
	}
	ld->cfg = *cfg;
	ld->warn = warn;
	ld->opaque = opaque;

	snprintf(file, sizeof(file), "%s/%s", path, LOG_DIR_CLEAN_SHUTDOWN);
	ld->had_clean_shutdown = access(file, F_OK) == 0;
	snprintf(file, sizeof(file), "%s/%s", path, LOG_DIR_RECOVERY_CHECKPOINT);
	err = log_checkpoint_read(file, &cp, &ncp, errstr, errstr_size);
	if (err && err != BROOK_ERR__NOENT) {
		/* Without recovery points every log is scanned in full: slower,
		 * never wrong. */
		warnf(ld, "%s; recovering every partition from its start", errstr);
		ld->had_clean_shutdown = 0;
	}

	d = opendir(path);
	if (!d) {
		int e = errno;
		log_file_err(errstr, errstr_size, path, "cannot read log dir: %s", strerror(e));
		free(cp);
		log_dir_free(ld);
		return brook_err_from_errno(e);
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' || is_known_file(de->d_name))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (stat(file, &st) != 0 || !S_ISDIR(st.st_mode)) {
			warnf(ld, "%s: unexpected file in log dir; ignored", file);
			continue;
		}
		if (is_deleted_dir(de->d_name)) {
			finish_delete(ld, file);
			continue;
		}
		open_partition(ld, de->d_name, cp, ncp, now_ms);
	}
	closedir(d);
	free(cp);

	/* From now on a crash is an unclean shutdown. */
	snprintf(file, sizeof(file), "%s/%s", path, LOG_DIR_CLEAN_SHUTDOWN);
	if (unlink(file) != 0 && errno != ENOENT) {
		int e = errno;
		log_file_err(errstr, errstr_size, file, "cannot remove: %s", strerror(e));
		log_dir_free(ld);
		return brook_err_from_errno(e);
	}
	*out = ld;
	return BROOK_ERR_NO_ERROR;
}

log_t *log_dir_get(log_dir_t *ld, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < ld->nparts; i++)
		if (ld->parts[i].partition == partition && strcmp(ld->parts[i].topic, topic) == 0)
			return ld->parts[i].log;
	return NULL;
}

brook_err_t log_dir_create_log(log_dir_t *ld, const char *topic, int32_t partition, int64_t now_ms,
			       log_t **out, char *errstr, size_t errstr_size)
{
	char path[4200];
	brook_err_t err;
	log_t *log;

	if (!log_topic_valid(topic, strlen(topic)) || partition < 0) {
		snprintf(errstr, errstr_size, "invalid topic or partition: %s-%d", topic, partition);
		return BROOK_ERR_INVALID_TOPIC_EXCEPTION;
	}
	if ((log = log_dir_get(ld, topic, partition))) {
		*out = log;
		return BROOK_ERR_NO_ERROR;
	}
	snprintf(path, sizeof(path), "%s/%s-%d", ld->path, topic, partition);
	err = log_open(path, &ld->cfg, 0, 0, now_ms, &log, NULL, errstr, errstr_size);
	if (err)
		return err;
	err = add_part(ld, topic, partition, log);
	if (err) {
		log_free(log);
		return err;
	}
	*out = log;
	return BROOK_ERR_NO_ERROR;
}

/* Kafka renames a deleted partition's folder to "<name>.<suffix>-delete"
 * first, so a crash halfway through never leaves a folder that loads as a
 * partition again; then its files go. A partition folder holds only files. */
brook_err_t log_dir_delete_log(log_dir_t *ld, const char *topic, int32_t partition, int64_t now_ms,
			       char *errstr, size_t errstr_size)
{
	char path[4200], gone[4300];
	size_t i;

	for (i = 0; i < ld->nparts; i++)
		if (ld->parts[i].partition == partition && strcmp(ld->parts[i].topic, topic) == 0)
			break;
	if (i == ld->nparts)
		return BROOK_ERR__NOENT;
	log_free(ld->parts[i].log);
	memmove(&ld->parts[i], &ld->parts[i + 1], (ld->nparts - i - 1) * sizeof(*ld->parts));
	ld->nparts--;
	snprintf(path, sizeof(path), "%s/%s-%d", ld->path, topic, (int)partition);
	snprintf(gone, sizeof(gone), "%s/%s-%d.%" PRId64 "-delete", ld->path, topic, (int)partition,
		 now_ms);
	if (rename(path, gone) != 0) {
		int e = errno;

		log_file_err(errstr, errstr_size, path, "cannot rename for deletion: %s", strerror(e));
		return brook_err_from_errno(e);
	}
	return remove_folder(gone, errstr, errstr_size);
}

brook_err_t log_dir_checkpoint(log_dir_t *ld, char *errstr, size_t errstr_size)
{
	log_checkpoint_entry_t *cp = calloc(ld->nparts ? ld->nparts : 1, sizeof(*cp));
	char file[4200];
	brook_err_t err;

	if (!cp)
		return BROOK_ERR__NOMEM;
	for (size_t i = 0; i < ld->nparts; i++) {
		memcpy(cp[i].topic, ld->parts[i].topic, sizeof(cp[i].topic));
		cp[i].partition = ld->parts[i].partition;
		cp[i].offset = ld->parts[i].log->recovery_point;
	}
	snprintf(file, sizeof(file), "%s/%s", ld->path, LOG_DIR_RECOVERY_CHECKPOINT);
	err = log_checkpoint_write(file, cp, ld->nparts, errstr, errstr_size);
	free(cp);
	return err;
}

brook_err_t log_dir_close(log_dir_t *ld, char *errstr, size_t errstr_size)
{
	brook_err_t err = BROOK_ERR_NO_ERROR;
	char file[4200];

	for (size_t i = 0; i < ld->nparts; i++) {
		brook_err_t e = log_flush(ld->parts[i].log, 0, errstr, errstr_size);
		if (e && !err)
			err = e;
	}
	if (!err)
		err = log_dir_checkpoint(ld, errstr, errstr_size);
	for (size_t i = 0; i < ld->nparts; i++) {
		char e2[256];
		brook_err_t e = log_close(ld->parts[i].log, e2, sizeof(e2));
		ld->parts[i].log = NULL;
		if (e && !err) {
			err = e;
			snprintf(errstr, errstr_size, "%s", e2);
		}
	}
	/* Only a shutdown that flushed everything may skip recovery next time. */
	if (!err) {
		snprintf(file, sizeof(file), "%s/%s", ld->path, LOG_DIR_CLEAN_SHUTDOWN);
		err = log_file_replace(file, "", 0, errstr, errstr_size);
	}
	log_dir_free(ld);
	return err;
}

void log_dir_free(log_dir_t *ld)
{
	if (!ld)
		return;
	for (size_t i = 0; i < ld->nparts; i++)
		log_free(ld->parts[i].log);
	free(ld->parts);
	free(ld->path);
	free(ld);
}
