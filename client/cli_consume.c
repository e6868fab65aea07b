/* cli_consume.c - `brook consume`: print messages with a kcat-style format. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"

#define SUB "consume"

static const struct option long_options[] = {
	{ "bootstrap-server", required_argument, NULL, 'b' },
	{ "zookeeper", required_argument, NULL, 'z' },
	{ "topic", required_argument, NULL, 't' },
	{ "partition", required_argument, NULL, 'p' },
	{ "offset", required_argument, NULL, 'o' },
	{ "count", required_argument, NULL, 'c' },
	{ "exit", no_argument, NULL, 'e' },
	{ "format", required_argument, NULL, 'f' },
	{ "property", required_argument, NULL, 'X' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: brook consume (-b HOST:PORT,... | -z CONNECT) -t TOPIC [OPTIONS]\n"
		"\n"
		"Prints the messages of a topic (every partition unless -p) to standard output.\n"
		"\n"
		"  -b, --bootstrap-server LIST  brokers to start from, host:port[,host:port...]\n"
		"  -z, --zookeeper CONNECT      find the brokers in ZooKeeper instead\n"
		"  -t, --topic TOPIC            topic to read (required)\n"
		"  -p, --partition N            read only partition N\n"
		"  -o, --offset OFFSET          where to start: beginning (default), end, an\n"
		"                               absolute offset N, or -N: the last N messages\n"
		"  -c, --count COUNT            exit after COUNT messages\n"
		"  -e, --exit                   exit once every partition reached its end\n"
		"  -f, --format FORMAT          output per message (default \"%%s\\n\"):\n"
		"                               %%s value, %%k key, %%S value length,\n"
		"                               %%K key length, %%t topic, %%p partition,\n"
		"                               %%o offset, %%T timestamp (ms), %%%% a %%,\n"
		"                               \\n newline, \\t tab\n"
		"  -X, --property KEY=VALUE     any client setting (-X help lists them)\n"
		"  -h, --help                   this help\n");
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Checks a format once, so a typo is a usage error before anything runs. */
static int format_check(const char *f, char *bad, size_t size)
{
	for (; *f; f++) {
		if (*f == '%') {
			if (!f[1] || !strchr("skSKtpoT%", f[1])) {
				snprintf(bad, size, "%%%c", f[1] ? f[1] : ' ');
				return -1;
			}
			f++;
		} else if (*f == '\\' && f[1]) {
			f++; /* \n, \t, \\ and "\x" as x */
		}
	}
	return 0;
}

static void print_message(const char *f, const brook_message_t *m)
{
	for (; *f; f++) {
		if (*f == '%') {
			switch (*++f) {
			case 's':
				if (m->value_len)
					fwrite(m->value, 1, m->value_len, stdout);
				break;
			case 'k':
				if (m->key_len)
					fwrite(m->key, 1, m->key_len, stdout);
				break;
			case 'S':
				printf("%lld", m->value ? (long long)m->value_len : -1LL);
				break;
			case 'K':
				printf("%lld", m->key ? (long long)m->key_len : -1LL);
				break;
			case 't': fputs(m->topic, stdout); break;
			case 'p': printf("%d", (int)m->partition); break;
			case 'o': printf("%lld", (long long)m->offset); break;
			case 'T': printf("%lld", (long long)m->timestamp); break;
			default: putchar('%'); break;
			}
		} else if (*f == '\\' && f[1]) {
			f++;
			putchar(*f == 'n' ? '\n' : *f == 't' ? '\t' : *f);
		} else {
			putchar(*f);
		}
	}
}

static int parse_offset(const char *s, int64_t *out)
{
	long long v;

	if (strcmp(s, "beginning") == 0) {
		*out = BROOK_OFFSET_BEGINNING;
		return 0;
	}
	if (strcmp(s, "end") == 0) {
		*out = BROOK_OFFSET_END;
		return 0;
	}
	if (s[0] == '-') {
		if (cli_parse_ll(s + 1, 1, INT64_MAX / 2, &v) || s[1] == '-' || s[1] == '+')
			return -1;
		*out = BROOK_OFFSET_TAIL(v);
		return 0;
	}
	if (cli_parse_ll(s, 0, INT64_MAX, &v) || s[0] == '+')
		return -1;
	*out = v;
	return 0;
}

typedef struct consume_opts {
	const char *topic;
	int32_t partition;
	int64_t offset;
	long long count;
	int exit_at_end;
	const char *format;
} consume_opts_t;

static int run(brook_conf_t *conf, const consume_opts_t *o)
{
	char errstr[512];
	brook_consumer_t *c;
	unsigned char *at_end = NULL;
	int32_t tracked, ended = 0;
	long long printed = 0;
	int rc = CLI_OK;

	c = brook_consumer_new(conf, errstr, sizeof(errstr));
	if (!c) {
		cli_error(SUB, "%s", errstr);
		return CLI_FAIL;
	}
	if (brook_consumer_assign(c, o->topic, o->partition, o->offset, errstr, sizeof(errstr))) {
		cli_error(SUB, "%s", errstr);
		brook_consumer_free(c);
		return CLI_FAIL;
	}
	/* -e: partitions are 0..n-1, or just -p's */
	tracked = o->partition >= 0 ? o->partition + 1 : brook_consumer_assignment_count(c);
	if (o->exit_at_end && !(at_end = calloc((size_t)tracked, 1))) {
		cli_error(SUB, "out of memory");
		brook_consumer_free(c);
		return CLI_FAIL;
	}
	while (!interrupted && !(o->count && printed >= o->count)) {
		brook_message_t *m;

		if (brook_consumer_poll(c, 200, &m) != BROOK_ERR_NO_ERROR)
			continue;
		if (m->err == BROOK_ERR_NO_ERROR) {
			print_message(o->format, m);
			printed++;
			if (at_end && m->partition < tracked && at_end[m->partition]) {
				at_end[m->partition] = 0;
				ended--;
			}
		} else if (m->err == BROOK_ERR__PARTITION_EOF) {
			int32_t p = m->partition;

			if (at_end && p >= 0 && p < tracked && !at_end[p]) {
				at_end[p] = 1;
				ended++;
			}
		} else {
			cli_error(SUB, "%s", m->errstr ? m->errstr : brook_err_str(m->err));
			rc = CLI_FAIL;
			brook_message_free(m);
			break;
		}
		brook_message_free(m);
		if (at_end && ended >= (o->partition >= 0 ? 1 : tracked))
			break;
	}
	free(at_end);
	brook_consumer_free(c);
	return rc;
}

int cli_consume(int argc, char **argv)
{
	const char *bootstrap = NULL, *zookeeper = NULL;
	char bad[8];
	consume_opts_t o = {
		.partition = -1,
		.offset = BROOK_OFFSET_BEGINNING,
		.format = "%s\\n",
	};
	brook_conf_t *conf = brook_conf_new();
	cli_log_t log;
	long long v;
	int c, rc = CLI_USAGE, log_print = 0;

	if (!conf) {
		cli_error(SUB, "out of memory");
		return CLI_FAIL;
	}
	cli_log_init(&log);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":b:z:t:p:o:c:ef:X:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'b': bootstrap = optarg; break;
		case 'z': zookeeper = optarg; break;
		case 't': o.topic = optarg; break;
		case 'e': o.exit_at_end = 1; break;
		case 'f': o.format = optarg; break;
		case 'p':
			if (cli_parse_ll(optarg, 0, INT32_MAX, &v)) {
				cli_error(SUB, "-p: \"%s\" is not a partition number", optarg);
				goto out;
			}
			o.partition = (int32_t)v;
			break;
		case 'o':
			if (parse_offset(optarg, &o.offset)) {
				cli_error(SUB, "-o: \"%s\" is not beginning, end, N or -N", optarg);
				goto out;
			}
			break;
		case 'c':
			if (cli_parse_ll(optarg, 1, INT64_MAX, &o.count)) {
				cli_error(SUB, "-c: \"%s\" is not a positive count", optarg);
				goto out;
			}
			break;
		case 'X': {
			int x = cli_client_property(SUB, conf, optarg, &log_print);

			if (x != CLI_OK) {
				if (x < 0)
					rc = CLI_OK;
				goto out;
			}
			break;
		}
		case 'h':
			usage(stdout);
			rc = CLI_OK;
			goto out;
		default:
			rc = cli_client_bad_option(SUB, c, argv);
			goto out;
		}
	}
	if ((rc = cli_client_setup(SUB, argc, argv, o.topic, bootstrap, zookeeper, conf)) !=
	    CLI_OK)
		goto out;
	rc = CLI_USAGE;
	if (format_check(o.format, bad, sizeof(bad))) {
		cli_error(SUB, "-f: unknown format token \"%s\" (see --help)", bad);
		goto out;
	}
	/* Ctrl-C stops cleanly, with everything printed so far flushed. */
	cli_client_catch_signals(on_signal);

	/* consume reports errors through events; the log would only repeat
	 * them, or tell about retries that worked */
	cli_log_install(&log, conf, log_print);
	rc = run(conf, &o);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == CLI_OK)
			cli_error(SUB, "writing to standard output: %s", strerror(errno));
		rc = CLI_FAIL;
	}
out:
	brook_conf_free(conf);
	cli_log_destroy(&log);
	return rc;
}
