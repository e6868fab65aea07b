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
	{ "group", required_argument, NULL, 'g' },
	{ "commit-every", required_argument, NULL, 'C' },
	{ "no-auto-commit", no_argument, NULL, 'M' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: brook consume (-b HOST:PORT,... | -z CONNECT) -t TOPIC [OPTIONS]\n"
		"       brook consume -z CONNECT --group GROUP -t TOPIC [-t TOPIC...] [OPTIONS]\n"
		"\n"
		"Prints the messages of a topic (every partition unless -p) to standard output.\n"
		"With --group, joins the consumer group GROUP instead: the group's members\n"
		"share the partitions, and consumption starts from the group's committed\n"
		"offsets (auto.offset.reset where there are none: -o beginning or end).\n"
		"Rebalances are reported on standard error (\"%% assigned: t [0] ...\").\n"
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
		"  -g, --group GROUP            consume as a member of GROUP (needs -z; -t may be\n"
		"                               repeated, ^REGEX subscribes by pattern)\n"
		"      --commit-every N         manual commits: commit after every N messages\n"
		"                               printed, when partitions are revoked and at exit\n"
		"      --no-auto-commit         manual commits (every 100 messages unless\n"
		"                               --commit-every) instead of enable.auto.commit\n"
		"  -q, --quiet                  do not report rebalances on standard error\n"
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

#define MAX_TOPICS 64

typedef struct consume_opts {
	const char *topic;
	const char *topics[MAX_TOPICS];
	size_t topic_cnt;
	int32_t partition;
	int64_t offset;
	int offset_given;
	long long count;
	int exit_at_end;
	const char *format;
	const char *group;
	long long commit_every;   /* > 0: manual commits */
	int quiet;
} consume_opts_t;

/* ---- group mode ---- */

/* Partitions owned now and whether each reached its end, for -e. */
typedef struct owned {
	char *topic;
	int32_t partition;
	int at_end;
} owned_t;

typedef struct group_run {
	const consume_opts_t *o;
	owned_t *owned;
	size_t cnt, cap;
	long long uncommitted;
	int failed;
} group_run_t;

static void report(const char *what, const brook_topic_partition_t *parts, size_t cnt)
{
	fprintf(stderr, "%% %s:", what);
	for (size_t i = 0; i < cnt; i++)
		fprintf(stderr, " %s [%d]", parts[i].topic, (int)parts[i].partition);
	fputc('\n', stderr);
}

static void on_assign(brook_consumer_t *c, const brook_topic_partition_t *parts, size_t cnt,
		      void *opaque)
{
	group_run_t *r = opaque;

	(void)c;
	if (!r->o->quiet)
		report("assigned", parts, cnt);
	for (size_t i = 0; i < cnt; i++) {
		if (r->cnt == r->cap) {
			size_t nc = r->cap ? r->cap * 2 : 16;
			owned_t *no = realloc(r->owned, nc * sizeof(*no));

			if (!no)
				return;
			r->owned = no;
			r->cap = nc;
		}
		if (!(r->owned[r->cnt].topic = strdup(parts[i].topic)))
			return;
		r->owned[r->cnt].partition = parts[i].partition;
		r->owned[r->cnt++].at_end = 0;
	}
}

static void on_revoke(brook_consumer_t *c, const brook_topic_partition_t *parts, size_t cnt,
		      void *opaque)
{
	group_run_t *r = opaque;
	brook_err_t err;

	if (!r->o->quiet)
		report(parts[0].err ? "lost" : "revoked", parts, cnt);
	/* manual mode: what was printed from them is done, commit it before
	 * they go (the others keep their place until the next commit) */
	if (r->o->commit_every && !parts[0].err &&
	    (err = brook_consumer_commit(c, parts, cnt, 0)) && err != BROOK_ERR__FENCED)
		cli_error(SUB, "commit on revoke: %s", brook_err_str(err));
	for (size_t i = 0; i < cnt; i++)
		for (size_t j = 0; j < r->cnt; j++)
			if (r->owned[j].partition == parts[i].partition &&
			    strcmp(r->owned[j].topic, parts[i].topic) == 0) {
				free(r->owned[j].topic);
				r->owned[j] = r->owned[--r->cnt];
				break;
			}
}

static owned_t *owned_find(group_run_t *r, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < r->cnt; i++)
		if (r->owned[i].partition == partition && strcmp(r->owned[i].topic, topic) == 0)
			return &r->owned[i];
	return NULL;
}

static int all_at_end(const group_run_t *r)
{
	for (size_t i = 0; i < r->cnt; i++)
		if (!r->owned[i].at_end)
			return 0;
	return r->cnt > 0;
}

static int run_group(brook_conf_t *conf, const consume_opts_t *o)
{
	group_run_t r = { .o = o };
	char errstr[512];
	brook_consumer_t *c;
	long long printed = 0;
	int rc = CLI_OK;
	brook_err_t err;

	brook_conf_set_rebalance_cb(conf, on_assign, on_revoke, &r);
	c = brook_consumer_new(conf, errstr, sizeof(errstr));
	if (!c) {
		cli_error(SUB, "%s", errstr);
		return CLI_FAIL;
	}
	if (brook_consumer_subscribe(c, o->topics, o->topic_cnt, errstr, sizeof(errstr))) {
		cli_error(SUB, "%s", errstr);
		brook_consumer_free(c);
		return CLI_FAIL;
	}
	while (!interrupted && !(o->count && printed >= o->count)) {
		brook_message_t *m;
		owned_t *ow;

		if (brook_consumer_poll(c, 200, &m) != BROOK_ERR_NO_ERROR) {
			/* idle: let a reader of a pipe or file see what came */
			fflush(stdout);
			continue;
		}
		ow = m->topic ? owned_find(&r, m->topic, m->partition) : NULL;
		if (m->err == BROOK_ERR_NO_ERROR) {
			print_message(o->format, m);
			printed++;
			if (ow)
				ow->at_end = 0;
			if (o->commit_every && ++r.uncommitted >= o->commit_every) {
				/* what is printed is processed: flush it first */
				fflush(stdout);
				if ((err = brook_consumer_commit(c, NULL, 0, 0)) &&
				    err != BROOK_ERR__FENCED)
					cli_error(SUB, "commit: %s", brook_err_str(err));
				r.uncommitted = 0;
			}
		} else if (m->err == BROOK_ERR__PARTITION_EOF) {
			if (ow)
				ow->at_end = 1;
		} else {
			cli_error(SUB, "%s", m->errstr ? m->errstr : brook_err_str(m->err));
			rc = CLI_FAIL;
			brook_message_free(m);
			break;
		}
		brook_message_free(m);
		if (o->exit_at_end && all_at_end(&r))
			break;
	}
	fflush(stdout);
	if (o->commit_every && r.uncommitted && (err = brook_consumer_commit(c, NULL, 0, 0)) &&
	    err != BROOK_ERR__FENCED) {
		cli_error(SUB, "commit: %s", brook_err_str(err));
		rc = CLI_FAIL;
	}
	if ((err = brook_consumer_close(c))) {
		cli_error(SUB, "leaving the group: %s", brook_err_str(err));
		rc = CLI_FAIL;
	}
	brook_consumer_free(c);
	for (size_t i = 0; i < r.cnt; i++)
		free(r.owned[i].topic);
	free(r.owned);
	return rc;
}

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

		if (brook_consumer_poll(c, 200, &m) != BROOK_ERR_NO_ERROR) {
			/* idle: let a reader of a pipe or file see what came */
			fflush(stdout);
			continue;
		}
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

/* The settings --group implies; CLI_OK or CLI_USAGE. */
static int group_setup(consume_opts_t *o, const char *zookeeper, brook_conf_t *conf)
{
	char errstr[512], zk[1024];

	if (o->partition >= 0) {
		cli_error(SUB, "-p cannot go with --group: the group assigns partitions");
		return CLI_USAGE;
	}
	if (o->offset_given && o->offset != BROOK_OFFSET_BEGINNING &&
	    o->offset != BROOK_OFFSET_END) {
		cli_error(SUB, "with --group, -o is beginning or end (where a partition without "
			  "a committed offset starts)");
		return CLI_USAGE;
	}
	if (brook_conf_get(conf, "zookeeper.connect", zk, sizeof(zk)) != BROOK_ERR_NO_ERROR ||
	    !*zk) {
		if (!zookeeper) {
			cli_error(SUB, "--group needs -z/--zookeeper (the group lives there)");
			return CLI_USAGE;
		}
		snprintf(zk, sizeof(zk), "%s", zookeeper);
	}
	if (brook_conf_set(conf, "zookeeper.connect", zk, errstr, sizeof(errstr)) ||
	    brook_conf_set(conf, "group.id", o->group, errstr, sizeof(errstr)) ||
	    (o->commit_every &&
	     brook_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr))) ||
	    (o->offset_given &&
	     brook_conf_set(conf, "auto.offset.reset",
			    o->offset == BROOK_OFFSET_BEGINNING ? "earliest" : "latest", errstr,
			    sizeof(errstr)))) {
		cli_error(SUB, "%s", errstr);
		return CLI_USAGE;
	}
	return CLI_OK;
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
	while ((c = getopt_long(argc, argv, ":b:z:t:p:o:c:ef:X:g:qh", long_options, NULL)) != -1) {
		switch (c) {
		case 'b': bootstrap = optarg; break;
		case 'z': zookeeper = optarg; break;
		case 't':
			if (o.topic_cnt == MAX_TOPICS) {
				cli_error(SUB, "-t: at most %d topics", MAX_TOPICS);
				goto out;
			}
			o.topic = optarg;
			o.topics[o.topic_cnt++] = optarg;
			break;
		case 'g': o.group = optarg; break;
		case 'q': o.quiet = 1; break;
		case 'M':
			if (!o.commit_every)
				o.commit_every = 100;
			break;
		case 'C':
			if (cli_parse_ll(optarg, 1, INT64_MAX, &o.commit_every)) {
				cli_error(SUB, "--commit-every: \"%s\" is not a positive count",
					  optarg);
				goto out;
			}
			break;
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
			o.offset_given = 1;
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
	if (!o.group && (o.commit_every || o.topic_cnt > 1 || o.topic[0] == '^')) {
		cli_error(SUB, "%s needs --group", o.commit_every ? "manual commits" :
			  "more than one topic or a pattern");
		goto out;
	}
	if (o.group && (rc = group_setup(&o, zookeeper, conf)) != CLI_OK)
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
	rc = o.group ? run_group(conf, &o) : run(conf, &o);
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
