/*
 * cli_client.h - what the client subcommands (`brook produce`, `brook
 * consume`) share: finding the cluster, and the library's log.
 *
 * Finding the cluster: -b/--bootstrap-server host:port,... as given, or
 * -z/--zookeeper CONNECT: the endpoints the brokers registered under
 * /brokers/ids (the "BROOK" listener, else their first one).
 *
 * The log: a command prints exactly one line when it fails, so the
 * library's warnings ("cannot connect: Connection refused") are kept, not
 * printed, and the command adds the last one to its error line. With
 * -X log_level=N the user asked for the log: then every line is printed.
 *
 * Ownership: the bootstrap list is malloc'd for the caller. A cli_log_t
 * must outlive every handle whose settings it was installed in.
 */
#ifndef BROOK_CLI_CLIENT_H
#define BROOK_CLI_CLIENT_H

#include <pthread.h>
#include <stddef.h>

#include "brook.h"

/* Sets *out to "host:port,host:port". On failure prints one line through
 * cli_error(sub, ...) and returns CLI_FAIL (or CLI_USAGE when neither or
 * both of -b and -z were given); CLI_OK otherwise. */
int cli_bootstrap(const char *sub, const char *bootstrap, const char *zookeeper, char **out);

/* -X KEY=VALUE (or -X help): sets one client setting in conf. Returns
 * CLI_OK when set, -1 when the help was printed (the command exits with
 * CLI_OK), CLI_USAGE on a bad argument (one line printed). *log_print
 * becomes 1 when the user set log_level. arg is left as it came. */
int cli_client_property(const char *sub, brook_conf_t *conf, char *arg, int *log_print);

/* After getopt: no stray argument, a topic, and bootstrap.servers set in
 * conf from -b or -z (cli_bootstrap). CLI_OK, or the exit status with one
 * line printed. */
int cli_client_setup(const char *sub, int argc, char **argv, const char *topic,
		     const char *bootstrap, const char *zookeeper, brook_conf_t *conf);

/* getopt's ':' (missing value) and unknown-option cases: prints the line
 * and returns CLI_USAGE. */
int cli_client_bad_option(const char *sub, int c, char **argv);

/* SIGINT and SIGTERM call fn once; the next one acts as usual, so a
 * second Ctrl-C still kills a command that does not stop. */
void cli_client_catch_signals(void (*fn)(int));

typedef struct cli_log {
	pthread_mutex_t lock;   /* the I/O thread writes, the command reads */
	int print;              /* the user set log_level: print everything */
	char last[512];         /* the last warning or error, "" if none */
} cli_log_t;

void cli_log_init(cli_log_t *l);
void cli_log_destroy(cli_log_t *l);
/* Makes handles created from conf log into l; print: also to stderr. */
void cli_log_install(cli_log_t *l, brook_conf_t *conf, int print);
/* Copies the last warning into buf; 0 when there was one, -1 if not. */
int cli_log_last(cli_log_t *l, char *buf, size_t size);

#endif
