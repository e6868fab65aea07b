/*
 * group_proc.c - one consumer-group member process for test_groups, which
 * starts, kills, stops and resumes several of them. Everything it sees goes
 * to --log as one line per event, written with one write(2) each (O_APPEND)
 * so that a kill -9 loses nothing already logged. Each line starts with
 * CLOCK_MONOTONIC in microseconds, which every process on the machine
 * shares, so the test can order the lines of different members:
 *
 *   <us> READY <member id>
 *   <us> A <topic> <partition> <start offset>     on_assign, per partition
 *   <us> R <topic> <partition> <error name>       on_revoke, per partition
 *   <us> M <topic> <partition> <offset>           a message poll() returned
 *   <us> C <topic> <partition> <offset> <error> <issued us>
 *                                                 a commit's result, and when
 *                                                 it was asked for (0: an
 *                                                 automatic commit)
 *   <us> EXIT
 *
 * Options: --bootstrap B --zookeeper Z --group G --topic T --log FILE
 *   [--strategy S] [--session-ms N] [--manual N] (manual commits, sync,
 *   after every N messages and in on_revoke; default: enable.auto.commit
 *   every 300 ms) [--process-ms N] (time spent per message) [--stop-after N]
 *   (after N messages: commit, then stop polling until SIGTERM)
 *   [--slow-ms N] (SIGUSR1: the next message takes N ms of running time,
 *   in 10 ms steps, so that a SIGSTOP during it leaves most of it for after
 *   SIGCONT; default 1500).
 * SIGTERM: leave the group (brook_consumer_close) and exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "brook.h"

static int log_fd = -1;
static long manual_every;
static volatile sig_atomic_t term, slow_once;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
	struct timespec ts;
	char line[1024];
	int n;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(line, sizeof(line), "%" PRId64 " ",
		     (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(log_fd, line, (size_t)n) != n)
		_exit(3);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void log_commit(const brook_topic_partition_t *parts, size_t cnt, brook_err_t err,
		       int64_t issued)
{
	for (size_t i = 0; i < cnt; i++)
		logf_("C %s %d %" PRId64 " %s %" PRId64, parts[i].topic, (int)parts[i].partition,
		      parts[i].offset, brook_err_name(parts[i].err ? parts[i].err : err), issued);
}

#define MAXP 1024

/* The last message processed per partition and not committed yet: what an
 * application commits by hand (offset + 1), as Kafka's examples do. A
 * message processed before this member lost the partition and committed
 * after it owns it again must be refused. */
static int64_t done_off[MAXP];
static int done_dirty[MAXP];

/* Commits what was processed since the last commit, sync, and logs it. */
static void commit_processed(brook_consumer_t *c, const char *topic)
{
	brook_topic_partition_t parts[MAXP];
	size_t n = 0;
	int64_t issued;

	for (int p = 0; p < MAXP; p++)
		if (done_dirty[p]) {
			parts[n].topic = topic;
			parts[n].partition = p;
			parts[n].offset = done_off[p] + 1;
			parts[n++].err = BROOK_ERR_NO_ERROR;
			done_dirty[p] = 0;
		}
	if (!n)
		return;
	issued = now_us();
	log_commit(parts, n, brook_consumer_commit(c, parts, n, 0), issued);
}

static void on_assign(brook_consumer_t *c, const brook_topic_partition_t *parts, size_t cnt,
		      void *opaque)
{
	(void)c;
	(void)opaque;
	for (size_t i = 0; i < cnt; i++)
		logf_("A %s %d %" PRId64, parts[i].topic, (int)parts[i].partition,
		      parts[i].offset);
}

static void on_revoke(brook_consumer_t *c, const brook_topic_partition_t *parts, size_t cnt,
		      void *opaque)
{
	brook_topic_partition_t *valid = calloc(cnt + 1, sizeof(*valid));
	size_t n = 0;

	(void)opaque;
	for (size_t i = 0; i < cnt; i++)
		logf_("R %s %d %s", parts[i].topic, (int)parts[i].partition,
		      brook_err_name(parts[i].err));
	if (!manual_every || !valid) {
		free(valid);
		return;
	}
	/* commit what was processed, even for partitions lost with the
	 * session: the test wants to see those refused */
	for (size_t i = 0; i < cnt; i++)
		if (parts[i].offset >= 0)
			valid[n++] = parts[i];
	if (n) {
		int64_t issued = now_us();

		log_commit(valid, n, brook_consumer_commit(c, valid, n, 0), issued);
	}
	free(valid);
}

static void on_commit(brook_consumer_t *c, brook_err_t err, const brook_topic_partition_t *offsets,
		      size_t cnt, void *opaque)
{
	(void)c;
	(void)opaque;
	log_commit(offsets, cnt, err, 0);
}

static void on_term(int sig)
{
	(void)sig;
	term = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	slow_once = 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bootstrap", required_argument, NULL, 'b' },
		{ "zookeeper", required_argument, NULL, 'z' },
		{ "group", required_argument, NULL, 'g' },
		{ "topic", required_argument, NULL, 't' },
		{ "log", required_argument, NULL, 'l' },
		{ "strategy", required_argument, NULL, 's' },
		{ "session-ms", required_argument, NULL, 'S' },
		{ "manual", required_argument, NULL, 'm' },
		{ "process-ms", required_argument, NULL, 'p' },
		{ "stop-after", required_argument, NULL, 'a' },
		{ "slow-ms", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bootstrap = NULL, *zk = NULL, *group = NULL, *topic = NULL, *logp = NULL;
	const char *strategy = "range", *session = "3000";
	long process_ms = 0, stop_after = 0, processed = 0, slow_ms = 1500;
	char err[512], id[512];
	brook_consumer_t *c;
	brook_conf_t *conf;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'b': bootstrap = optarg; break;
		case 'z': zk = optarg; break;
		case 'g': group = optarg; break;
		case 't': topic = optarg; break;
		case 'l': logp = optarg; break;
		case 's': strategy = optarg; break;
		case 'S': session = optarg; break;
		case 'm': manual_every = atol(optarg); break;
		case 'p': process_ms = atol(optarg); break;
		case 'a': stop_after = atol(optarg); break;
		case 'w': slow_ms = atol(optarg); break;
		default: return 2;
		}
	}
	if (!bootstrap || !zk || !group || !topic || !logp) {
		fprintf(stderr, "group_proc: --bootstrap, --zookeeper, --group, --topic and --log "
			"are required\n");
		return 2;
	}
	if ((log_fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "group_proc: %s: %s\n", logp, strerror(errno));
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGUSR1, on_usr1);
	if (!(conf = brook_conf_new()) ||
	    brook_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
	    brook_conf_set(conf, "zookeeper.connect", zk, err, sizeof(err)) ||
	    brook_conf_set(conf, "group.id", group, err, sizeof(err)) ||
	    brook_conf_set(conf, "partition.assignment.strategy", strategy, err, sizeof(err)) ||
	    brook_conf_set(conf, "zookeeper.session.timeout.ms", session, err, sizeof(err)) ||
	    brook_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)) ||
	    brook_conf_set(conf, "enable.partition.eof", "false", err, sizeof(err)) ||
	    brook_conf_set(conf, "auto.commit.interval.ms", "300", err, sizeof(err)) ||
	    brook_conf_set(conf, "fetch.max.wait.ms", "100", err, sizeof(err)) ||
	    brook_conf_set(conf, "enable.auto.commit", manual_every ? "false" : "true", err,
			   sizeof(err))) {
		fprintf(stderr, "group_proc: settings: %s\n", err);
		return 1;
	}
	brook_conf_set_rebalance_cb(conf, on_assign, on_revoke, NULL);
	brook_conf_set_offset_commit_cb(conf, on_commit, NULL);
	if (!(c = brook_consumer_new(conf, err, sizeof(err))) ||
	    brook_consumer_subscribe(c, &topic, 1, err, sizeof(err))) {
		fprintf(stderr, "group_proc: %s\n", err);
		return 1;
	}
	brook_conf_free(conf);
	for (int i = 0; i < 500 && !term; i++) {
		brook_consumer_member_id(c, id, sizeof(id));
		if (id[0])
			break;
		usleep(10000);
	}
	logf_("READY %s", id);
	while (!term) {
		brook_message_t *m;

		if (stop_after && processed >= stop_after) {
			usleep(50000);
			continue;
		}
		if (brook_consumer_poll(c, 100, &m) != BROOK_ERR_NO_ERROR)
			continue;
		if (m->err) {
			logf_("E %s %d %s", m->topic ? m->topic : "-", (int)m->partition,
			      brook_err_name(m->err));
			brook_message_free(m);
			continue;
		}
		logf_("M %s %d %" PRId64, m->topic, (int)m->partition, m->offset);
		if (m->partition >= 0 && m->partition < MAXP) {
			done_off[m->partition] = m->offset;
			done_dirty[m->partition] = 1;
		}
		brook_message_free(m);
		if (process_ms)
			usleep((useconds_t)process_ms * 1000);
		if (slow_once) {
			slow_once = 0;
			for (long t = 0; t < slow_ms / 10; t++)
				usleep(10000);
		}
		processed++;
		if ((manual_every && processed % manual_every == 0) ||
		    (stop_after && processed == stop_after))
			commit_processed(c, topic);
	}
	brook_consumer_close(c);
	brook_consumer_free(c);
	logf_("EXIT");
	close(log_fd);
	return 0;
}
