/*
 * harness.h - shared helpers for brook's CUnit tests.
 *
 * harness_fs.c: scratch folders under $TMPDIR that are removed at exit,
 * small file helpers, and the CUnit main loop (harness_run).
 * Paths returned by harness_tmpdir() belong to the harness and live until
 * the process exits.
 */
#ifndef BROOK_HARNESS_H
#define BROOK_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <CUnit/CUnit.h>

/* One test of a suite, as CUnit wants it. */
typedef struct harness_test {
	const char *name;
	CU_TestFunc fn;
} harness_test_t;

/* Registers one suite with the given tests (NULL-name terminated), runs it
 * in CUnit's basic mode and returns the process exit status: 0 when every
 * test passed, 1 otherwise. */
int harness_run(const char *suite, const harness_test_t *tests);

/* Creates a fresh empty folder (mkdtemp) named after `tag`, removed with
 * everything in it when the process exits normally. */
const char *harness_tmpdir(const char *tag);

/* rm -rf without spawning a shell. Returns 0 or -1 with errno. */
int harness_rmtree(const char *path);

/* Whole-file helpers; they return -1 with errno on failure. */
int harness_write_file(const char *path, const void *buf, size_t len);
ssize_t harness_file_size(const char *path);
/* Reads the whole file into a malloc'd buffer the caller frees. */
uint8_t *harness_read_file(const char *path, size_t *len);

/* Seed for randomized tests: $BROOK_TEST_SEED if set, else time-based.
 * Printed once so a failing run can be repeated. */
unsigned harness_seed(void);

#endif /* BROOK_HARNESS_H */
