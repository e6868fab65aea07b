/*
 * cli.h - the `brook` command line: one tool, one file per subcommand
 * (cli_topics.c, cli_cluster.c, cli_produce.c, cli_consume.c, ...).
 *
 * Each subcommand is a main-like function: it gets argv with argv[0] set to
 * its name ("topics"), returns the process exit status (0 ok, 1 failure,
 * 2 usage error) and prints exactly one clear line on stderr for an error,
 * through cli_error(). Only cli_main.c calls exit().
 */
#ifndef BROOK_CLI_H
#define BROOK_CLI_H

#include "brook.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} cli_command_t;

int cli_topics(int argc, char **argv);
int cli_cluster(int argc, char **argv);
int cli_produce(int argc, char **argv);
int cli_consume(int argc, char **argv);
int cli_perf(int argc, char **argv);
int cli_groups(int argc, char **argv);

/* "brook <sub>: <message>\n" on stderr. */
void cli_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_error with " (see brook <sub> --help)" appended; returns CLI_USAGE. */
int cli_usage_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A whole-string decimal in [min, max]: 0, or -1 for junk, overflow or a
 * value out of range. */
int cli_parse_ll(const char *s, long long min, long long max, long long *out);

#endif
