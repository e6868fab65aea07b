/* harness_fs.c - scratch folders, file helpers and the CUnit driver. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "harness.h"

#define HARNESS_MAX_TMPDIRS 64

static char *tmpdirs[HARNESS_MAX_TMPDIRS];
static int ntmpdirs;
static pid_t owner_pid;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int harness_rmtree(const char *path)
{
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* Only the process that created the folders removes them: a forked child
 * exiting must not pull the scratch space from under its parent. */
static void cleanup_tmpdirs(void)
{
	if (getpid() != owner_pid || getenv("BROOK_KEEP_TMP"))
		return;
	for (int i = 0; i < ntmpdirs; i++) {
		harness_rmtree(tmpdirs[i]);
		free(tmpdirs[i]);
	}
	ntmpdirs = 0;
}

const char *harness_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];

	if (!base || !*base)
		base = "/tmp";
	snprintf(tmpl, sizeof(tmpl), "%s/brook-%s-XXXXXX", base, tag);
	if (!mkdtemp(tmpl) || ntmpdirs == HARNESS_MAX_TMPDIRS) {
		fprintf(stderr, "harness: cannot create %s: %s\n", tmpl, strerror(errno));
		return NULL;
	}
	if (ntmpdirs == 0) {
		owner_pid = getpid();
		atexit(cleanup_tmpdirs);
	}
	tmpdirs[ntmpdirs] = strdup(tmpl);
	if (!tmpdirs[ntmpdirs])
		return NULL;
	return tmpdirs[ntmpdirs++];
}

int harness_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const uint8_t *p = buf;

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd);
}

ssize_t harness_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return st.st_size;
}

uint8_t *harness_read_file(const char *path, size_t *len)
{
	ssize_t size = harness_file_size(path);
	uint8_t *buf;
	size_t got = 0;
	int fd;

	if (size < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	buf = malloc((size_t)size + 1);
	while (buf && got < (size_t)size) {
		ssize_t n = read(fd, buf + got, (size_t)size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			buf = NULL;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (buf && len)
		*len = got;
	return buf;
}

unsigned harness_seed(void)
{
	static unsigned seed;
	static int chosen;
	const char *env;

	if (chosen)
		return seed;
	env = getenv("BROOK_TEST_SEED");
	seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
	chosen = 1;
	fprintf(stderr, "harness: random seed %u (repeat with BROOK_TEST_SEED=%u)\n", seed, seed);
	return seed;
}

int harness_run(const char *suite_name, const harness_test_t *tests)
{
	CU_pSuite suite;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite(suite_name, NULL, NULL);
	if (!suite)
		goto fail;
	for (const harness_test_t *t = tests; t->name; t++)
		if (!CU_add_test(suite, t->name, t->fn))
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	if (CU_get_number_of_tests_run() == 0)
		failed = 1; /* a suite that ran nothing proves nothing */
	CU_cleanup_registry();
	return failed ? 1 : 0;
fail:
	fprintf(stderr, "harness: CUnit error: %s\n", CU_get_error_msg());
	CU_cleanup_registry();
	return 1;
}
