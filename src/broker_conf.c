/*
 * broker_conf.c - brookd's settings table and the checks across settings.
 *
 * The table is the single declaration of every broker setting: defaults,
 * parsing, --help and the example config all follow from it. What one row
 * cannot say (a listener's syntax, two settings that must agree) is checked
 * after all sources are applied, in broker_conf_validate().
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker_conf.h"
#include "errstr.h"

#define LISTENER_SCHEME "BROOK://"
#define REASON_MAX 512

#define F(field) offsetof(broker_conf_t, field)

/* Kafka's defaults unless a comment says otherwise. */
static const conf_def_t broker_table[] = {
	/* Identity and addresses. */
	{ "broker.id", CONF_INT, F(broker_id), NULL, 0, INT32_MAX, NULL, CONF_F_REQUIRED,
	  "Id of this broker, unique in the cluster: it names the broker's registration in "
	  "ZooKeeper and its replicas in every partition assignment." },
	{ "listeners", CONF_LIST, F(listeners), "BROOK://127.0.0.1:9092", 0,
	  BROKER_CONF_MAX_LISTENERS, NULL, CONF_F_REQUIRED,
	  "Addresses to listen on, as BROOK://host:port with a host name or IP literal "
	  "([::1] for IPv6); 0.0.0.0 listens on every interface and port 0 takes any free "
	  "port." },
	{ "advertised.listeners", CONF_LIST, F(advertised_listeners), NULL, 0, 1, NULL, 0,
	  "The BROOK://host:port that clients and other brokers are told to connect to; "
	  "defaults to the listener, and must be set when there are several listeners or the "
	  "listener's host is 0.0.0.0 or ::." },
	{ "log.dirs", CONF_LIST, F(log_dirs), "/tmp/brook-logs", 0, 0, NULL, CONF_F_REQUIRED,
	  "Folders that hold the partition logs; each partition lives entirely in one of them." },

	/* ZooKeeper. */
	{ "zookeeper.connect", CONF_STRING, F(zookeeper_connect), NULL, 0, 0, NULL,
	  CONF_F_REQUIRED,
	  "ZooKeeper ensemble as host:port,host:port,..., optionally followed by a chroot path "
	  "such as /brook under which all of the cluster's znodes live." },
	{ "zookeeper.session.timeout.ms", CONF_INT, F(zookeeper_session_timeout_ms), "18000", 1,
	  INT32_MAX, NULL, 0,
	  "ZooKeeper session timeout; a broker whose session expires loses its registration "
	  "and, through the controller, its leaderships." },
	/* Kafka's default is the session timeout; brook spells it out. */
	{ "zookeeper.connection.timeout.ms", CONF_INT, F(zookeeper_connection_timeout_ms),
	  "18000", 1, INT32_MAX, NULL, 0,
	  "How long the broker waits for its first ZooKeeper connection before startup fails." },

	/* Topics and replication. */
	{ "num.partitions", CONF_INT, F(num_partitions), "1", 1, INT32_MAX, NULL, 0,
	  "Partitions of a topic that is created automatically or without a count." },
	/* The wire's ReplicationFactor is an INT16, hence the upper bound. */
	{ "default.replication.factor", CONF_INT, F(default_replication_factor), "1", 1,
	  INT16_MAX, NULL, 0,
	  "Replicas of each partition of a topic that is created automatically or without a "
	  "replication factor." },
	{ "min.insync.replicas", CONF_INT, F(min_insync_replicas), "1", 1, INT32_MAX, NULL, 0,
	  "Fewest in-sync replicas, the leader included, that must hold a batch before a "
	  "produce with acks=all succeeds; with fewer such produces fail with "
	  "NOT_ENOUGH_REPLICAS." },
	{ "unclean.leader.election.enable", CONF_BOOL, F(unclean_leader_election_enable),
	  "false", 0, 0, NULL, 0,
	  "Whether a replica outside the ISR may become leader when no in-sync replica is "
	  "alive, trading acknowledged records for availability." },
	{ "auto.create.topics.enable", CONF_BOOL, F(auto_create_topics_enable), "true", 0, 0,
	  NULL, 0,
	  "Whether a metadata request for an unknown topic creates it with num.partitions and "
	  "default.replication.factor." },
	{ "delete.topic.enable", CONF_BOOL, F(delete_topic_enable), "true", 0, 0, NULL, 0,
	  "Whether topics may be deleted; when false, delete requests are refused." },
	{ "replica.lag.time.max.ms", CONF_LONG, F(replica_lag_time_max_ms), "30000", 1,
	  INT64_MAX, NULL, 0,
	  "A follower that has not reached the leader's log end for this long is removed from "
	  "the ISR." },
	{ "replica.fetch.max.bytes", CONF_INT, F(replica_fetch_max_bytes), "1048576", 0,
	  INT32_MAX, NULL, 0,
	  "Bytes a follower asks for per partition in one fetch; a larger first batch is "
	  "still sent whole, so replication always progresses." },
	{ "replica.fetch.wait.max.ms", CONF_INT, F(replica_fetch_wait_max_ms), "500", 0,
	  INT32_MAX, NULL, 0,
	  "How long a follower's fetch may wait at the leader for new data; at most "
	  "replica.lag.time.max.ms, or idle followers would drop out of the ISR." },
	{ "controlled.shutdown.enable", CONF_BOOL, F(controlled_shutdown_enable), "true", 0, 0,
	  NULL, 0,
	  "Whether a stopping broker first asks the controller to move its leaderships to other "
	  "replicas." },
	{ "controlled.shutdown.max.retries", CONF_INT, F(controlled_shutdown_max_retries), "3", 0,
	  INT32_MAX, NULL, 0,
	  "Times a stopping broker asks the controller again while it still leads partitions "
	  "that could move; then it stops anyway." },
	{ "controlled.shutdown.retry.backoff.ms", CONF_LONG, F(controlled_shutdown_retry_backoff_ms),
	  "5000", 0, INT64_MAX, NULL, 0,
	  "Wait between those requests." },
	{ "auto.leader.rebalance.enable", CONF_BOOL, F(auto_leader_rebalance_enable), "true", 0, 0,
	  NULL, 0,
	  "Whether the controller moves leadership back to each partition's preferred replica "
	  "(the first assigned) when brokers' shares drift past "
	  "leader.imbalance.per.broker.percentage." },
	{ "leader.imbalance.check.interval.seconds", CONF_LONG,
	  F(leader_imbalance_check_interval_seconds), "300", 1, INT32_MAX, NULL, 0,
	  "How often the controller checks the leadership balance." },
	{ "leader.imbalance.per.broker.percentage", CONF_INT,
	  F(leader_imbalance_per_broker_percentage), "10", 0, 100, NULL, 0,
	  "Share of a broker's preferred partitions led elsewhere that triggers a "
	  "preferred-leader election." },

	/* Storage. */
	/* Kafka's minimum is 14 bytes; 1024 still lets tests roll small
	 * segments while refusing values that are surely typos. */
	{ "log.segment.bytes", CONF_INT, F(log_segment_bytes), "1073741824", 1024, INT32_MAX,
	  NULL, 0,
	  "Largest size of one segment file: the log rolls to a new segment before a batch would "
	  "pass it, and refuses a batch larger than this." },
	{ "log.roll.ms", CONF_LONG, F(log_roll_ms), "604800000", 1, INT64_MAX, NULL, 0,
	  "Age of a segment's first batch after which the log rolls to a new segment even if "
	  "the segment is not full." },
	{ "log.retention.ms", CONF_LONG, F(log_retention_ms), "604800000", -1, INT64_MAX, NULL, 0,
	  "How long a closed segment is kept, judged by its newest timestamp; -1 keeps "
	  "segments forever." },
	{ "log.retention.bytes", CONF_LONG, F(log_retention_bytes), "-1", -1, INT64_MAX, NULL, 0,
	  "Largest size of one partition's log before its oldest segments are deleted; -1 "
	  "means no limit." },
	{ "log.retention.check.interval.ms", CONF_LONG, F(log_retention_check_interval_ms),
	  "300000", 1, INT64_MAX, NULL, 0,
	  "How often the broker looks for segments that retention lets it delete." },
	{ "log.index.interval.bytes", CONF_INT, F(log_index_interval_bytes), "4096", 0, INT32_MAX,
	  NULL, 0,
	  "Bytes of batches between two offset index entries; smaller means larger indexes and "
	  "shorter scans on reads." },
	{ "log.flush.interval.messages", CONF_LONG, F(log_flush_interval_messages),
	  "9223372036854775807", 1, INT64_MAX, NULL, 0,
	  "Messages appended to a partition before it is forced to disk; the default leaves "
	  "flushing to the OS and durability to replication." },
	{ "log.flush.interval.ms", CONF_LONG, F(log_flush_interval_ms), "9223372036854775807", 0,
	  INT64_MAX, NULL, 0,
	  "Longest time appended messages may stay unflushed; the default leaves flushing to the "
	  "OS and durability to replication." },

	/* Network. */
	{ "socket.request.max.bytes", CONF_INT, F(socket_request_max_bytes), "104857600", 1,
	  INT32_MAX, NULL, 0,
	  "Largest request the broker reads; a larger size prefix closes the connection." },
	{ "message.max.bytes", CONF_INT, F(message_max_bytes), "1048588", 0, INT32_MAX, NULL, 0,
	  "Largest record batch, after compression, that the broker accepts in a produce "
	  "request." },
	{ "connections.max.idle.ms", CONF_LONG, F(connections_max_idle_ms), "600000", 1,
	  INT64_MAX, NULL, 0,
	  "Connections idle for this long are closed." },

	/* brook only. */
	{ "connection.output.max.bytes", CONF_LONG, F(connection_output_max_bytes), "67108864",
	  1024, INT64_MAX, NULL, 0,
	  "Not in Kafka (brook only): bytes of responses queued on one connection above which "
	  "the broker stops reading that connection's requests until the client catches up, "
	  "as Redis's client-output-buffer-limit bounds memory." },
	{ "log.file", CONF_STRING, F(log_file), NULL, 0, 0, NULL, 0,
	  "Not in Kafka (brook only): file the broker writes its log lines to instead of "
	  "stderr; reopened on SIGHUP so that logrotate can move it." },

	{ NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

#undef F

const conf_def_t *broker_conf_table(void)
{
	return broker_table;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and '-',
 * none empty, none longer than 63, none starting or ending with '-'. '_' is
 * allowed too because container and cloud names use it and resolvers
 * accept it. */
static int valid_hostname(const char *h)
{
	size_t label = 0;

	if (strlen(h) > 253)
		return 0;
	for (const char *p = h;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return 0;
		if (label == 0 && *p == '-')
			return 0;
		label++;
	}
}

static int all_digits_and_dots(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
			return 0;
	return 1;
}

/* Decimal 0..65535, nothing else. */
static int parse_port(const char *s, int *port)
{
	long v = 0;
	int n = 0;

	for (; isdigit((unsigned char)*s) && n < 6; s++, n++)
		v = v * 10 + (*s - '0');
	if (n == 0 || n > 5 || *s != '\0' || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

brook_err_t broker_conf_parse_listener(const char *text, broker_listener_t *out, char *errstr,
				       size_t errstr_size)
{
	const char *host, *host_end, *sep;
	unsigned char addr[16];
	int bracketed;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (strncmp(text, LISTENER_SCHEME, strlen(LISTENER_SCHEME)) != 0) {
		brook_errstr(errstr, errstr_size, "expected BROOK://host:port");
		return BROOK_ERR_INVALID_CONFIG;
	}
	host = text + strlen(LISTENER_SCHEME);
	bracketed = *host == '[';
	if (bracketed) {
		host++;
		host_end = strchr(host, ']');
		if (!host_end) {
			brook_errstr(errstr, errstr_size,
				     "'[' without ']' around the IPv6 address");
			return BROOK_ERR_INVALID_CONFIG;
		}
		sep = host_end + 1;
	} else {
		host_end = strrchr(host, ':');
		if (host_end && memchr(host, ':', (size_t)(host_end - host))) {
			brook_errstr(errstr, errstr_size,
				     "IPv6 addresses go in brackets, as BROOK://[::1]:9092");
			return BROOK_ERR_INVALID_CONFIG;
		}
		sep = host_end;
	}
	if (!sep || *sep != ':') {
		brook_errstr(errstr, errstr_size, "expected BROOK://host:port (no port)");
		return BROOK_ERR_INVALID_CONFIG;
	}
	hlen = (size_t)(host_end - host);
	if (hlen == 0) {
		brook_errstr(errstr, errstr_size,
			     "host is missing (0.0.0.0 listens on every interface)");
		return BROOK_ERR_INVALID_CONFIG;
	}
	if (hlen > BROKER_CONF_HOST_MAX) {
		brook_errstr(errstr, errstr_size, "host is longer than %d bytes",
			     BROKER_CONF_HOST_MAX);
		return BROOK_ERR_INVALID_CONFIG;
	}
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	if (bracketed ? inet_pton(AF_INET6, out->host, addr) != 1
		      : all_digits_and_dots(out->host) ? inet_pton(AF_INET, out->host, addr) != 1
						       : !valid_hostname(out->host)) {
		brook_errstr(errstr, errstr_size, "\"%s\" is not a valid %s", out->host,
			     bracketed ? "IPv6 address"
				       : all_digits_and_dots(out->host) ? "IPv4 address"
									: "host name");
		out->host[0] = '\0';
		return BROOK_ERR_INVALID_CONFIG;
	}
	if (parse_port(sep + 1, &out->port) != 0) {
		brook_errstr(errstr, errstr_size, "port must be a number between 0 and 65535");
		out->host[0] = '\0';
		return BROOK_ERR_INVALID_CONFIG;
	}
	return BROOK_ERR_NO_ERROR;
}

/* Where a setting's value came from, for error messages: the last override
 * that names it, else the file. The file's line is not known here; the
 * key and the file together still point at it. */
static void place(char *buf, size_t size, const char *key, const char *path, char **overrides,
		  int override_cnt)
{
	size_t klen = strlen(key);

	for (int i = override_cnt - 1; i >= 0; i--) {
		const char *p = overrides[i];

		while (isspace((unsigned char)*p))
			p++;
		if (strncmp(p, key, klen) != 0)
			continue;
		p += klen;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '=') {
			snprintf(buf, size, "--override %s", key);
			return;
		}
	}
	if (path)
		snprintf(buf, size, "%s: %s", path, key);
	else
		snprintf(buf, size, "%s", key);
}

/* A listener's host that clients cannot be sent to. */
static int is_wildcard(const char *host)
{
	return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* Checks each item of the comma-separated list `text` with the listener
 * parser; the reason names the bad item. */
static brook_err_t parse_listeners(const char *text, broker_listener_t *out, int max, int *cnt,
				   char *reason, size_t reason_size)
{
	char item[BROKER_CONF_HOST_MAX + 64], why[256];
	const char *p = text;

	*cnt = 0;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (*cnt == max || len >= sizeof(item)) {
			brook_errstr(reason, reason_size, "too many or too long entries");
			return BROOK_ERR_INVALID_CONFIG;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (broker_conf_parse_listener(item, &out[*cnt], why, sizeof(why)) != 0) {
			brook_errstr(reason, reason_size, "\"%s\": %s", item, why);
			return BROOK_ERR_INVALID_CONFIG;
		}
		for (int i = 0; i < *cnt; i++) {
			if (out[i].port != 0 && out[i].port == out[*cnt].port &&
			    strcmp(out[i].host, out[*cnt].host) == 0) {
				brook_errstr(reason, reason_size, "\"%s\" is listed twice", item);
				return BROOK_ERR_INVALID_CONFIG;
			}
		}
		(*cnt)++;
		p = e ? e + 1 : p + len;
	}
	return BROOK_ERR_NO_ERROR;
}

/* host[:port],host[:port],...[/chroot]: the ZooKeeper client's own syntax,
 * checked here so a typo is reported at startup with the setting's name
 * rather than as a connection that never succeeds. */
static brook_err_t check_zk_connect(const char *s, char *reason, size_t reason_size)
{
	const char *chroot = strchr(s, '/');
	const char *end = chroot ? chroot : s + strlen(s);
	const char *p = s;

	if (chroot && strlen(chroot) > 1 &&
	    (chroot[strlen(chroot) - 1] == '/' || strstr(chroot, "//"))) {
		brook_errstr(reason, reason_size,
			     "chroot \"%s\" must not end with '/' or contain \"//\"", chroot);
		return BROOK_ERR_INVALID_CONFIG;
	}
	while (p < end) {
		const char *e = memchr(p, ',', (size_t)(end - p));
		const char *item_end = e ? e : end;
		const char *colon = NULL;
		char port[8];
		int n;

		for (const char *q = p; q < item_end; q++) {
			if (isspace((unsigned char)*q)) {
				brook_errstr(reason, reason_size, "blank inside a server address");
				return BROOK_ERR_INVALID_CONFIG;
			}
			if (*q == ':')
				colon = q;
			else if (*q == ']')
				colon = NULL; /* the colons so far were inside [IPv6] */
		}
		if (item_end == p || colon == p) {
			brook_errstr(reason, reason_size, "empty server address");
			return BROOK_ERR_INVALID_CONFIG;
		}
		if (colon) {
			size_t plen = (size_t)(item_end - colon - 1);

			if (plen == 0 || plen >= sizeof(port)) {
				brook_errstr(reason, reason_size,
					     "port must be a number between 1 and 65535");
				return BROOK_ERR_INVALID_CONFIG;
			}
			memcpy(port, colon + 1, plen);
			port[plen] = '\0';
			if (parse_port(port, &n) != 0 || n == 0) {
				brook_errstr(reason, reason_size,
					     "port must be a number between 1 and 65535 "
					     "(got \"%s\")", port);
				return BROOK_ERR_INVALID_CONFIG;
			}
		}
		if (!e)
			break;
		p = e + 1;
		if (p == end) {
			brook_errstr(reason, reason_size, "empty server address");
			return BROOK_ERR_INVALID_CONFIG;
		}
	}
	if (end == s) {
		brook_errstr(reason, reason_size, "no servers before the chroot");
		return BROOK_ERR_INVALID_CONFIG;
	}
	return BROOK_ERR_NO_ERROR;
}

/* log.dirs split into log_dir[]; the list was normalised by conf.c, so
 * items are trimmed and not empty. */
static brook_err_t split_log_dirs(broker_conf_t *c, char *reason, size_t reason_size)
{
	int n = 1;
	const char *p;

	for (p = c->log_dirs; *p; p++)
		n += *p == ',';
	c->log_dir = calloc((size_t)n, sizeof(*c->log_dir));
	if (!c->log_dir)
		goto nomem;
	p = c->log_dirs;
	for (int i = 0; i < n; i++) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		c->log_dir[i] = strndup(p, len);
		if (!c->log_dir[i])
			goto nomem;
		c->log_dir_cnt++;
		for (int j = 0; j < i; j++) {
			if (strcmp(c->log_dir[j], c->log_dir[i]) == 0) {
				brook_errstr(reason, reason_size, "\"%s\" is listed twice",
					     c->log_dir[i]);
				return BROOK_ERR_INVALID_CONFIG;
			}
		}
		p = e ? e + 1 : p + len;
	}
	return BROOK_ERR_NO_ERROR;
nomem:
	brook_errstr(reason, reason_size, "out of memory");
	return BROOK_ERR__NOMEM;
}

/* The checks no single table row can express. Every failure names the
 * setting (and its source) in "<place>: <reason>". */
static brook_err_t broker_conf_validate(broker_conf_t *c, const char *path, char **overrides,
					int override_cnt, char *errstr, size_t errstr_size)
{
	char reason[REASON_MAX], where[REASON_MAX];
	const char *key;
	brook_err_t err;
	int n;

	key = "listeners";
	err = parse_listeners(c->listeners, c->listener, BROKER_CONF_MAX_LISTENERS,
			      &c->listener_cnt, reason, sizeof(reason));
	if (err)
		goto fail;

	key = "advertised.listeners";
	if (c->advertised_listeners) {
		err = parse_listeners(c->advertised_listeners, &c->advertised, 1, &n, reason,
				      sizeof(reason));
		if (err)
			goto fail;
		if (c->advertised.port == 0 || is_wildcard(c->advertised.host)) {
			brook_errstr(reason, sizeof(reason), "\"%s\": clients cannot connect to %s",
				     c->advertised_listeners,
				     c->advertised.port == 0 ? "port 0" : c->advertised.host);
			err = BROOK_ERR_INVALID_CONFIG;
			goto fail;
		}
	} else if (c->listener_cnt > 1) {
		brook_errstr(reason, sizeof(reason),
			     "must be set when listeners has more than one entry");
		err = BROOK_ERR_INVALID_CONFIG;
		goto fail;
	} else if (is_wildcard(c->listener[0].host)) {
		/* Kafka refuses this too: clients would be told to connect to
		 * an address that means "any" and reaches nothing. */
		brook_errstr(reason, sizeof(reason),
			     "must be set when the listener's host is %s, which clients cannot "
			     "connect to", c->listener[0].host);
		err = BROOK_ERR_INVALID_CONFIG;
		goto fail;
	} else {
		c->advertised = c->listener[0];
	}

	key = "log.dirs";
	err = split_log_dirs(c, reason, sizeof(reason));
	if (err)
		goto fail;

	key = "zookeeper.connect";
	err = check_zk_connect(c->zookeeper_connect, reason, sizeof(reason));
	if (err)
		goto fail;

	key = "replica.fetch.wait.max.ms";
	if (c->replica_fetch_wait_max_ms > c->replica_lag_time_max_ms) {
		brook_errstr(reason, sizeof(reason),
			     "must not exceed replica.lag.time.max.ms (%d > %" PRId64 ")",
			     c->replica_fetch_wait_max_ms, c->replica_lag_time_max_ms);
		err = BROOK_ERR_INVALID_CONFIG;
		goto fail;
	}
	return BROOK_ERR_NO_ERROR;
fail:
	place(where, sizeof(where), key, path, overrides, override_cnt);
	brook_errstr(errstr, errstr_size, "%s: %s", where, reason);
	return err;
}

brook_err_t broker_conf_load(broker_conf_t *c, const char *path, char **overrides,
			     int override_cnt, char *errstr, size_t errstr_size)
{
	char reason[REASON_MAX];
	brook_err_t err;

	memset(c, 0, sizeof(*c));
	err = conf_init(broker_table, c, errstr, errstr_size);
	if (err)
		return err;
	if (path) {
		err = conf_load_file(broker_table, c, path, errstr, errstr_size);
		if (err)
			goto fail;
	}
	for (int i = 0; i < override_cnt; i++) {
		err = conf_set_pair(broker_table, c, overrides[i], errstr, errstr_size);
		if (err)
			goto fail;
	}
	err = conf_check(broker_table, c, reason, sizeof(reason));
	if (err) {
		if (path)
			brook_errstr_at(errstr, errstr_size, path, "%s", reason);
		else
			brook_errstr(errstr, errstr_size, "%s", reason);
		goto fail;
	}
	err = broker_conf_validate(c, path, overrides, override_cnt, errstr, errstr_size);
	if (err)
		goto fail;
	return BROOK_ERR_NO_ERROR;
fail:
	broker_conf_destroy(c);
	return err;
}

void broker_conf_destroy(broker_conf_t *c)
{
	if (!c)
		return;
	conf_destroy(broker_table, c);
	for (int i = 0; i < c->log_dir_cnt; i++)
		free(c->log_dir[i]);
	free(c->log_dir);
	c->log_dir = NULL;
	c->log_dir_cnt = 0;
	c->listener_cnt = 0;
}

void broker_conf_print_help(FILE *out)
{
	conf_print_help(broker_table, out);
}

void broker_conf_dump(const broker_conf_t *c, FILE *out)
{
	conf_dump(broker_table, c, out);
}

void broker_conf_log_config(const broker_conf_t *c, log_config_t *out)
{
	/* Start from the log's own defaults so a field added to log_config_t
	 * later has a sane value before this function learns about it. */
	log_config_default(out);
	out->segment_bytes = (uint64_t)c->log_segment_bytes;
	out->roll_ms = c->log_roll_ms;
	out->retention_bytes = c->log_retention_bytes;
	out->retention_ms = c->log_retention_ms;
	out->index_interval_bytes = (uint32_t)c->log_index_interval_bytes;
	out->flush_interval_messages = c->log_flush_interval_messages;
	out->flush_interval_ms = c->log_flush_interval_ms;
}
