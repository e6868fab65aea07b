/*
 * cli_perf.c - `brook perf produce|consume`: throughput and latency through
 * libbrook, as Kafka's kafka-producer-perf-test and kafka-consumer-perf-test
 * measure them, so figures compare with what Kafka users know.
 *
 * produce sends --num-records records of --record-size bytes (null key, so
 * the sticky partitioner spreads batches) as fast as the producer takes
 * them, or at --throughput records/s; a record's latency runs from
 * brook_produce() to its delivery report. consume reads a topic from the
 * beginning until --messages records or, by default, the end of every
 * partition.
 *
 * Ownership: everything lives in one run; the per-record slots are freed
 * after the producer (whose reports point into them) is gone.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_client.h"

#define SUB "perf"
/* Kafka's tools report progress every 5 s. */
#define REPORT_NS 5000000000LL

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: brook perf produce (-b HOST:PORT,... | -z CONNECT) -t TOPIC [OPTIONS]\n"
		"       brook perf consume (-b HOST:PORT,... | -z CONNECT) -t TOPIC [OPTIONS]\n"
		"\n"
		"produce: sends records and prints records/s, MB/s and delivery latency\n"
		"(average, maximum, 50th/95th/99th/99.9th percentiles), every 5 s and at\n"
		"the end. consume: reads the topic from the beginning and prints records/s\n"
		"and MB/s.\n"
		"\n"
		"  -b, --bootstrap-server LIST  brokers to start from, host:port[,host:port...]\n"
		"  -z, --zookeeper CONNECT      find the brokers in ZooKeeper instead\n"
		"  -t, --topic TOPIC            topic (required)\n"
		"  -n, --num-records N          produce: records to send (default 1000000)\n"
		"  -s, --record-size BYTES      produce: value size (default 100)\n"
		"      --throughput N           produce: at most N records/s (default: no limit)\n"
		"      --acks 0|1|all           produce: acknowledgements (default 1)\n"
		"  -m, --messages N             consume: stop after N records (default: at\n"
		"                               the end of every partition)\n"
		"      --timeout-ms MS          consume: give up after MS without a record\n"
		"                               (default 10000)\n"
		"  -X, --property KEY=VALUE     any client setting (-X help lists them)\n"
		"  -h, --help                   this help\n");
}

/* ---- produce ---- */

typedef struct perf_produce perf_produce_t;

/* One per record: the report's opaque, so the callback finds both the run
 * and the record's send time. */
typedef struct perf_slot {
	perf_produce_t *run;
	int64_t sent_ns;
} perf_slot_t;

struct perf_produce {
	long long acked, failed, bytes_acked;
	brook_err_t first_err;
	int record_size;
	int32_t *lat_us;      /* one per acknowledged record, in report order */
	/* the current 5 s window */
	long long win_count;
	int64_t win_start, win_lat_sum, win_lat_max;
};

static void on_delivery(brook_err_t err, const char *topic, int32_t partition, int64_t offset,
			const void *key, size_t key_len, const void *value, size_t value_len,
			void *opaque)
{
	perf_slot_t *slot = opaque;
	perf_produce_t *run = slot->run;
	int64_t lat = (mono_ns() - slot->sent_ns) / 1000;

	(void)topic;
	(void)partition;
	(void)offset;
	(void)key;
	(void)key_len;
	(void)value;
	(void)value_len;
	if (err) {
		if (!run->failed++)
			run->first_err = err;
		return;
	}
	run->lat_us[run->acked++] = lat > INT32_MAX ? INT32_MAX : (int32_t)lat;
	run->bytes_acked += run->record_size;
	run->win_count++;
	run->win_lat_sum += lat;
	if (lat > run->win_lat_max)
		run->win_lat_max = lat;
}

static void window_report(perf_produce_t *run, int64_t now)
{
	double s = (double)(now - run->win_start) / 1e9;

	if (run->win_count == 0 || s <= 0)
		return;
	printf("%lld records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, "
	       "%.1f ms max latency.\n",
	       run->win_count, (double)run->win_count / s,
	       (double)run->win_count * run->record_size / s / (1024.0 * 1024.0),
	       (double)run->win_lat_sum / (double)run->win_count / 1000.0,
	       (double)run->win_lat_max / 1000.0);
	fflush(stdout);
	run->win_count = 0;
	run->win_lat_sum = 0;
	run->win_lat_max = 0;
	run->win_start = now;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

static double pct_ms(const int32_t *sorted, long long n, double q)
{
	long long i = (long long)(q * (double)n);

	if (i >= n)
		i = n - 1;
	return sorted[i] / 1000.0;
}

static void final_report(perf_produce_t *run, int64_t elapsed_ns)
{
	double s = (double)elapsed_ns / 1e9, sum = 0;
	long long n = run->acked;

	if (n == 0 || s <= 0) {
		printf("0 records sent.\n");
		return;
	}
	for (long long i = 0; i < n; i++)
		sum += run->lat_us[i];
	qsort(run->lat_us, (size_t)n, sizeof(*run->lat_us), cmp_i32);
	printf("%lld records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, "
	       "%.2f ms max latency, %.1f ms 50th, %.1f ms 95th, %.1f ms 99th, %.1f ms 99.9th.\n",
	       n, (double)n / s, (double)run->bytes_acked / s / (1024.0 * 1024.0),
	       sum / (double)n / 1000.0, run->lat_us[n - 1] / 1000.0, pct_ms(run->lat_us, n, 0.5),
	       pct_ms(run->lat_us, n, 0.95), pct_ms(run->lat_us, n, 0.99),
	       pct_ms(run->lat_us, n, 0.999));
}

static int run_produce(brook_conf_t *conf, const char *topic, long long count, int size,
		       long long rate)
{
	perf_produce_t run = { .record_size = size };
	perf_slot_t *slots = calloc((size_t)count, sizeof(*slots));
	char errstr[512], *value = malloc((size_t)size + 1);
	brook_producer_t *p = NULL;
	int64_t start, next_report;
	long long sent = 0;
	int rc = CLI_OK;

	run.lat_us = malloc((size_t)count * sizeof(*run.lat_us));
	if (!slots || !value || !run.lat_us) {
		cli_error(SUB, "out of memory for %lld records", count);
		rc = CLI_FAIL;
		goto out;
	}
	/* Kafka's tool sends random upper-case letters: compressible like text */
	srand((unsigned)time(NULL));
	for (int i = 0; i < size; i++)
		value[i] = (char)('A' + rand() % 26);
	if (!(p = brook_producer_new(conf, errstr, sizeof(errstr)))) {
		cli_error(SUB, "%s", errstr);
		rc = CLI_FAIL;
		goto out;
	}
	start = mono_ns();
	run.win_start = start;
	next_report = start + REPORT_NS;
	for (sent = 0; sent < count && !interrupted; sent++) {
		brook_err_t err;
		int64_t now;

		if (rate > 0) {
			int64_t due = start + (int64_t)((double)sent * 1e9 / (double)rate);

			while ((now = mono_ns()) < due && !interrupted)
				brook_poll(p, (int)((due - now + 999999) / 1000000));
		}
		slots[sent].run = &run;
		slots[sent].sent_ns = mono_ns();
		while ((err = brook_produce(p, topic, BROOK_PARTITION_UA, NULL, 0, value,
					    (size_t)size, 0, on_delivery, &slots[sent])) ==
		       BROOK_ERR__QUEUE_FULL)
			brook_poll(p, 1);
		if (err) {
			cli_error(SUB, "record %lld: %s", sent + 1, brook_err_str(err));
			rc = CLI_FAIL;
			break;
		}
		if ((sent & 1023) == 0) {
			brook_poll(p, 0);
			if ((now = mono_ns()) >= next_report) {
				window_report(&run, now);
				next_report = now + REPORT_NS;
			}
		}
	}
	/* delivery.timeout.ms bounds the wait */
	brook_producer_flush(p, -1);
	final_report(&run, mono_ns() - start);
	if (run.failed) {
		cli_error(SUB, "%lld of %lld records failed (first: %s)", run.failed, sent,
			  brook_err_str(run.first_err));
		rc = CLI_FAIL;
	}
out:
	brook_producer_free(p);
	free(slots);
	free(value);
	free(run.lat_us);
	return rc;
}

/* ---- consume ---- */

static int run_consume(brook_conf_t *conf, const char *topic, long long limit, long long timeout_ms)
{
	char errstr[512];
	brook_consumer_t *c;
	unsigned char *at_end = NULL;
	int32_t nparts, ended = 0;
	long long got = 0, bytes = 0;
	int64_t start, last;
	int rc = CLI_OK;

	if (!(c = brook_consumer_new(conf, errstr, sizeof(errstr)))) {
		cli_error(SUB, "%s", errstr);
		return CLI_FAIL;
	}
	if (brook_consumer_assign(c, topic, -1, BROOK_OFFSET_BEGINNING, errstr, sizeof(errstr))) {
		cli_error(SUB, "%s", errstr);
		brook_consumer_free(c);
		return CLI_FAIL;
	}
	nparts = brook_consumer_assignment_count(c);
	if (!(at_end = calloc((size_t)nparts + 1, 1))) {
		cli_error(SUB, "out of memory");
		brook_consumer_free(c);
		return CLI_FAIL;
	}
	start = last = mono_ns();
	while (!interrupted && (limit ? got < limit : ended < nparts)) {
		brook_message_t *m;

		if (brook_consumer_poll(c, 100, &m) != BROOK_ERR_NO_ERROR) {
			if ((mono_ns() - last) / 1000000 >= timeout_ms) {
				cli_error(SUB, "no record for %lld ms after %lld records", timeout_ms,
					  got);
				rc = CLI_FAIL;
				break;
			}
			continue;
		}
		if (m->err == BROOK_ERR_NO_ERROR) {
			got++;
			bytes += (long long)(m->key_len + m->value_len);
			last = mono_ns();
			if (m->partition >= 0 && m->partition < nparts && at_end[m->partition]) {
				at_end[m->partition] = 0;
				ended--;
			}
		} else if (m->err == BROOK_ERR__PARTITION_EOF) {
			if (m->partition >= 0 && m->partition < nparts && !at_end[m->partition]) {
				at_end[m->partition] = 1;
				ended++;
			}
		} else {
			cli_error(SUB, "%s", m->errstr ? m->errstr : brook_err_str(m->err));
			rc = CLI_FAIL;
			brook_message_free(m);
			break;
		}
		brook_message_free(m);
	}
	if (got > 0) {
		double s = (double)(last - start) / 1e9;

		printf("%lld records received, %.2f MB in %.3f s: %.1f records/sec (%.2f MB/sec).\n",
		       got, (double)bytes / (1024.0 * 1024.0), s, s > 0 ? (double)got / s : 0.0,
		       s > 0 ? (double)bytes / s / (1024.0 * 1024.0) : 0.0);
	} else {
		printf("0 records received.\n");
	}
	free(at_end);
	brook_consumer_free(c);
	return rc;
}

/* ---- command line ---- */

enum { OPT_THROUGHPUT = 256, OPT_ACKS, OPT_TIMEOUT };

static const struct option long_options[] = {
	{ "bootstrap-server", required_argument, NULL, 'b' },
	{ "zookeeper", required_argument, NULL, 'z' },
	{ "topic", required_argument, NULL, 't' },
	{ "num-records", required_argument, NULL, 'n' },
	{ "record-size", required_argument, NULL, 's' },
	{ "messages", required_argument, NULL, 'm' },
	{ "throughput", required_argument, NULL, OPT_THROUGHPUT },
	{ "acks", required_argument, NULL, OPT_ACKS },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "property", required_argument, NULL, 'X' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cli_perf(int argc, char **argv)
{
	const char *bootstrap = NULL, *zookeeper = NULL, *topic = NULL, *mode;
	long long count = 1000000, size = 100, rate = 0, limit = 0, timeout_ms = 10000;
	char errstr[512];
	brook_conf_t *conf = brook_conf_new();
	cli_log_t log;
	int c, rc = CLI_USAGE, log_print = 0, produce;

	if (!conf) {
		cli_error(SUB, "out of memory");
		return CLI_FAIL;
	}
	cli_log_init(&log);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		rc = CLI_OK;
		goto out;
	}
	if (argc < 2 || (strcmp(argv[1], "produce") != 0 && strcmp(argv[1], "consume") != 0)) {
		cli_error(SUB, "expected produce or consume (see --help)");
		goto out;
	}
	mode = argv[1];
	produce = strcmp(mode, "produce") == 0;
	/* the perf tools default to acks=1, as Kafka's producer-perf-test runs
	 * are usually quoted */
	brook_conf_set(conf, "acks", "1", errstr, sizeof(errstr));
	opterr = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, ":b:z:t:n:s:m:X:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'b': bootstrap = optarg; break;
		case 'z': zookeeper = optarg; break;
		case 't': topic = optarg; break;
		case 'n':
			if (cli_parse_ll(optarg, 1, 1000000000LL, &count)) {
				cli_error(SUB, "-n: \"%s\" is not a count from 1 to 1000000000", optarg);
				goto out;
			}
			break;
		case 's':
			if (cli_parse_ll(optarg, 0, 100 << 20, &size)) {
				cli_error(SUB, "-s: \"%s\" is not a size from 0 to 104857600", optarg);
				goto out;
			}
			break;
		case 'm':
			if (cli_parse_ll(optarg, 1, INT64_MAX, &limit)) {
				cli_error(SUB, "-m: \"%s\" is not a positive count", optarg);
				goto out;
			}
			break;
		case OPT_THROUGHPUT:
			if (cli_parse_ll(optarg, -1, INT64_MAX, &rate)) {
				cli_error(SUB, "--throughput: \"%s\" is not a rate", optarg);
				goto out;
			}
			break;
		case OPT_TIMEOUT:
			if (cli_parse_ll(optarg, 1, INT32_MAX, &timeout_ms)) {
				cli_error(SUB, "--timeout-ms: \"%s\" is not a positive time", optarg);
				goto out;
			}
			break;
		case OPT_ACKS:
			if (brook_conf_set(conf, "acks", optarg, errstr, sizeof(errstr))) {
				cli_error(SUB, "--acks: must be 0, 1 or all");
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
	if ((rc = cli_client_setup(SUB, argc, argv, topic, bootstrap, zookeeper, conf)) !=
	    CLI_OK)
		goto out;
	cli_client_catch_signals(on_signal);
	cli_log_install(&log, conf, log_print);
	rc = produce ? run_produce(conf, topic, count, (int)size, rate)
		     : run_consume(conf, topic, limit, timeout_ms);
	if (fflush(stdout) != 0 && rc == CLI_OK) {
		cli_error(SUB, "writing to standard output: %s", strerror(errno));
		rc = CLI_FAIL;
	}
out:
	brook_conf_free(conf);
	cli_log_destroy(&log);
	return rc;
}
