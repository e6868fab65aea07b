/* cli_produce.c - `brook produce`: one message per input line. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_client.h"

#define SUB "produce"

enum {
	OPT_ACKS = 256,
	OPT_THROUGHPUT,
	OPT_DELIVERY_REPORT,
};

static const struct option long_options[] = {
	{ "bootstrap-server", required_argument, NULL, 'b' },
	{ "zookeeper", required_argument, NULL, 'z' },
	{ "topic", required_argument, NULL, 't' },
	{ "partition", required_argument, NULL, 'p' },
	{ "key-delimiter", required_argument, NULL, 'K' },
	{ "file", required_argument, NULL, 'f' },
	{ "acks", required_argument, NULL, OPT_ACKS },
	{ "throughput", required_argument, NULL, OPT_THROUGHPUT },
	{ "delivery-report", no_argument, NULL, OPT_DELIVERY_REPORT },
	{ "property", required_argument, NULL, 'X' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: brook produce (-b HOST:PORT,... | -z CONNECT) -t TOPIC [OPTIONS]\n"
		"\n"
		"Sends one message per line of standard input (or FILE) and waits until the\n"
		"cluster acknowledged every one. Exits 1 if any message failed.\n"
		"\n"
		"  -b, --bootstrap-server LIST  brokers to start from, host:port[,host:port...]\n"
		"  -z, --zookeeper CONNECT      find the brokers in ZooKeeper instead\n"
		"  -t, --topic TOPIC            topic to write to (required)\n"
		"  -p, --partition N            write every message to partition N (default:\n"
		"                               by key, murmur2 as Kafka's clients; no key:\n"
		"                               Kafka's sticky partitioner)\n"
		"  -K, --key-delimiter SEP      the text before the first SEP is the key, the\n"
		"                               rest the value (no SEP in a line: null key)\n"
		"  -f, --file FILE              read FILE instead of standard input\n"
		"      --acks 0|1|all           acknowledgements to wait for (default all)\n"
		"      --throughput N           send at most N messages per second\n"
		"      --delivery-report        print partition<TAB>offset<TAB>key<TAB>value for\n"
		"                               every acknowledged message\n"
		"  -X, --property KEY=VALUE     any client setting (-X help lists them)\n"
		"  -h, --help                   this help\n");
}

typedef struct produce_ctx {
	int report;
	unsigned long sent, acked, failed;
	brook_err_t first_err;
	char first_where[300];
} produce_ctx_t;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void on_delivery(brook_err_t err, const char *topic, int32_t partition, int64_t offset,
			const void *key, size_t key_len, const void *value, size_t value_len,
			void *opaque)
{
	produce_ctx_t *ctx = opaque;

	if (err) {
		if (!ctx->failed++) {
			ctx->first_err = err;
			snprintf(ctx->first_where, sizeof(ctx->first_where), "%s [%d]", topic,
				 (int)partition);
		}
		return;
	}
	ctx->acked++;
	if (!ctx->report)
		return;
	printf("%d\t%lld\t", (int)partition, (long long)offset);
	if (key_len)
		fwrite(key, 1, key_len, stdout);
	putchar('\t');
	if (value_len)
		fwrite(value, 1, value_len, stdout);
	putchar('\n');
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits for the next --throughput slot, serving delivery reports meanwhile. */
static void pace(brook_producer_t *p, int64_t start_ns, unsigned long i, long long rate)
{
	int64_t due = start_ns + (int64_t)((double)i * 1e9 / (double)rate);

	for (;;) {
		int64_t left = due - mono_ns();

		if (left <= 0 || interrupted)
			return;
		brook_poll(p, (int)((left + 999999) / 1000000));
	}
}

static int run(brook_conf_t *conf, const char *topic, int32_t partition, const char *sep,
	       FILE *in, long long rate, produce_ctx_t *ctx)
{
	char errstr[512], *line = NULL;
	size_t cap = 0, sep_len = sep ? strlen(sep) : 0;
	brook_producer_t *p;
	int64_t start = mono_ns();
	ssize_t n;
	int rc = CLI_OK;

	p = brook_producer_new(conf, errstr, sizeof(errstr));
	if (!p) {
		cli_error(SUB, "%s", errstr);
		return CLI_FAIL;
	}
	while (!interrupted && (n = getline(&line, &cap, in)) >= 0) {
		const char *key = NULL, *value = line;
		size_t key_len = 0, value_len;
		brook_err_t err;

		if (n > 0 && line[n - 1] == '\n')
			n--;
		value_len = (size_t)n;
		if (sep_len) {
			char *at = memmem(line, (size_t)n, sep, sep_len);

			if (at) {
				key = line;
				key_len = (size_t)(at - line);
				value = at + sep_len;
				value_len = (size_t)n - key_len - sep_len;
			}
		}
		if (rate > 0)
			pace(p, start, ctx->sent, rate);
		while ((err = brook_produce(p, topic, partition, key, key_len, value, value_len, 0,
					    on_delivery, ctx)) == BROOK_ERR__QUEUE_FULL)
			brook_poll(p, 100);
		if (err) {
			cli_error(SUB, "message %lu: %s", ctx->sent + 1, brook_err_str(err));
			rc = CLI_FAIL;
			break;
		}
		ctx->sent++;
		brook_poll(p, 0);
	}
	if (rc == CLI_OK && ferror(in) && !interrupted) {
		cli_error(SUB, "reading input: %s", strerror(errno));
		rc = CLI_FAIL;
	}
	free(line);
	/* delivery.timeout.ms bounds the wait */
	brook_producer_flush(p, -1);
	brook_producer_free(p);
	return rc;
}

int cli_produce(int argc, char **argv)
{
	const char *bootstrap = NULL, *zookeeper = NULL, *topic = NULL, *sep = NULL;
	const char *file = NULL;
	char errstr[512];
	produce_ctx_t ctx = { 0 };
	int32_t partition = BROOK_PARTITION_UA;
	long long rate = 0, v;
	brook_conf_t *conf = brook_conf_new();
	FILE *in = stdin;
	cli_log_t log;
	int c, rc = CLI_USAGE, log_print = 0;

	if (!conf) {
		cli_error(SUB, "out of memory");
		return CLI_FAIL;
	}
	cli_log_init(&log);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":b:z:t:p:K:f:X:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'b': bootstrap = optarg; break;
		case 'z': zookeeper = optarg; break;
		case 't': topic = optarg; break;
		case 'f': file = optarg; break;
		case 'K':
			if (!*optarg) {
				cli_error(SUB, "-K: the delimiter must not be empty");
				goto out;
			}
			sep = optarg;
			break;
		case 'p':
			if (cli_parse_ll(optarg, 0, INT32_MAX, &v)) {
				cli_error(SUB, "-p: \"%s\" is not a partition number", optarg);
				goto out;
			}
			partition = (int32_t)v;
			break;
		case OPT_ACKS:
			if (brook_conf_set(conf, "acks", optarg, errstr, sizeof(errstr))) {
				cli_error(SUB, "--acks: must be 0, 1 or all");
				goto out;
			}
			break;
		case OPT_THROUGHPUT:
			if (cli_parse_ll(optarg, 1, 1000000000, &rate)) {
				cli_error(SUB, "--throughput: \"%s\" is not a positive number",
					  optarg);
				goto out;
			}
			break;
		case OPT_DELIVERY_REPORT: ctx.report = 1; break;
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
	if ((rc = cli_client_setup(SUB, argc, argv, topic, bootstrap, zookeeper, conf)) !=
	    CLI_OK)
		goto out;
	if (file && !(in = fopen(file, "r"))) {
		cli_error(SUB, "%s: %s", file, strerror(errno));
		rc = CLI_FAIL;
		goto out;
	}
	/* Ctrl-C ends the input: what was read still goes out and is
	 * reported; a second one kills as usual. */
	cli_client_catch_signals(on_signal);

	cli_log_install(&log, conf, log_print);
	rc = run(conf, topic, partition, sep, in, rate, &ctx);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == CLI_OK)
			cli_error(SUB, "writing the delivery report: %s", strerror(errno));
		rc = CLI_FAIL;
	}
	if (rc == CLI_OK && ctx.failed) {
		char last[512];

		/* a timeout does not say why; the library's last warning does */
		if ((ctx.first_err == BROOK_ERR__TIMED_OUT ||
		     ctx.first_err == BROOK_ERR__TRANSPORT) &&
		    cli_log_last(&log, last, sizeof(last)) == 0)
			cli_error(SUB, "%lu of %lu messages failed (first: %s: %s; last error: %s)",
				  ctx.failed, ctx.sent, ctx.first_where,
				  brook_err_str(ctx.first_err), last);
		else
			cli_error(SUB, "%lu of %lu messages failed (first: %s: %s)", ctx.failed,
				  ctx.sent, ctx.first_where, brook_err_str(ctx.first_err));
		rc = CLI_FAIL;
	}
out:
	if (in && in != stdin)
		fclose(in);
	brook_conf_free(conf);
	cli_log_destroy(&log);
	return rc;
}
