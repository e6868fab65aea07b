/* cli_main.c - `brook SUBCOMMAND ...`: dispatch through one table. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_command_t commands[] = {
	{ "topics", cli_topics, "create, list, describe, alter and delete topics" },
	{ "groups", cli_groups, "list, describe, reset and delete consumer groups" },
	{ "cluster", cli_cluster, "list the brokers and the controller" },
	{ "produce", cli_produce, "send messages, one per input line" },
	{ "consume", cli_consume, "print messages with a kcat-style format" },
	{ "perf", cli_perf, "producer and consumer throughput and latency" },
	{ NULL, NULL, NULL },
};

void cli_error(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "brook %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *sub, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error(sub, "%s (see brook %s --help)", msg, sub);
	return CLI_USAGE;
}

int cli_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: brook COMMAND [OPTIONS]   (brook COMMAND --help for its options)\n\n");
	for (const cli_command_t *c = commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	for (const cli_command_t *c = commands; c->name; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "brook: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
