/*
 * admin.c - topic administration through ZooKeeper (admin.h).
 *
 * Every call is a few rounds of ZooKeeper requests. The requests of one
 * round go out together in a batch (describing a topic with 1000
 * partitions is one round trip for the states, not 1000), and the call
 * runs the session's loop until the batch (zk_batch.h) completes or the
 * call's deadline passes. A batch that times out is abandoned: its
 * completions still arrive later (at the latest when the session is freed,
 * with _CLOSED) and the last one frees it, so a slow ZooKeeper can never
 * make a callback write into a stack frame that is gone.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#include "admin.h"
#include "errstr.h"
#include "zk_batch.h"
#include "zk_paths.h"

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

/* --- sessions for tools ------------------------------------------------------- */

/* The ZooKeeper client checks the connect string inside zookeeper_init()
 * and reports a bad one only in its own log ("no port in foo") plus an
 * errno ("No such file or directory" for a name that does not resolve).
 * Checking it first gives the one clear line a tool prints, and leaves the
 * client nothing to log. As in the client, the port follows the last ':'
 * ("::1:2181" is IPv6 ::1; the client takes no brackets). */
static brook_err_t check_connect_string(const char *connect, char *errstr, size_t errstr_size)
{
	const char *slash = strchr(connect, '/');
	const char *p = connect, *end = slash ? slash : connect + strlen(connect);

	if (p == end)
		goto bad;
	if (slash && strcmp(slash, "/") != 0) {
		/* The chroot: an absolute path without empty, "." or ".."
		 * components. */
		for (const char *c = slash; *c; ) {
			const char *next = strchr(c + 1, '/');
			size_t n = next ? (size_t)(next - c - 1) : strlen(c + 1);

			if (n == 0 || (n == 1 && c[1] == '.') ||
			    (n == 2 && c[1] == '.' && c[2] == '.')) {
				brook_errstr(errstr, errstr_size, "bad ZooKeeper connect string "
					     "\"%s\": bad chroot \"%s\"", connect, slash);
				return BROOK_ERR__INVALID_ARG;
			}
			c = next ? next : c + 1 + n;
		}
	}
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *he = comma ? comma : end, *colon = NULL;
		char host[ZK_HOST_MAX + 1];
		struct addrinfo hints, *res = NULL;
		size_t hlen;
		long port = 0;
		int rc;

		for (const char *q = p; q < he; q++)
			if (*q == ':')
				colon = q;
		if (!colon || colon == p || colon + 1 == he) {
			brook_errstr(errstr, errstr_size, "bad ZooKeeper connect string \"%s\": "
				     "\"%.*s\" is not host:port", connect, (int)(he - p), p);
			return BROOK_ERR__INVALID_ARG;
		}
		for (const char *q = colon + 1; q < he; q++) {
			if (*q < '0' || *q > '9' || (port = port * 10 + (*q - '0')) > 65535) {
				port = 0;
				break;
			}
		}
		if (port < 1) {
			brook_errstr(errstr, errstr_size,
				     "bad ZooKeeper connect string \"%s\": bad port in \"%.*s\"",
				     connect, (int)(he - p), p);
			return BROOK_ERR__INVALID_ARG;
		}
		hlen = (size_t)(colon - p);
		if (hlen > ZK_HOST_MAX)
			goto bad;
		memcpy(host, p, hlen);
		host[hlen] = '\0';
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
			brook_errstr(errstr, errstr_size,
				     "cannot resolve ZooKeeper host \"%s\": %s", host,
				     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
			return BROOK_ERR__INVALID_ARG;
		}
		freeaddrinfo(res);
		if (!comma)
			break;
		p = comma + 1;
	}
	return BROOK_ERR_NO_ERROR;
bad:
	brook_errstr(errstr, errstr_size, "bad ZooKeeper connect string \"%s\" (expected "
		     "host:port[,host:port...][/chroot])", connect);
	return BROOK_ERR__INVALID_ARG;
}

brook_err_t admin_session_open(struct ev_loop *loop, const char *connect, int timeout_ms,
			       int flags, zk_session_t **out, char *errstr, size_t errstr_size)
{
	zk_session_t *zk = NULL;
	brook_err_t err;

	*out = NULL;
	if (timeout_ms <= 0)
		timeout_ms = ADMIN_TIMEOUT_MS_DEFAULT;
	if (!connect || (err = check_connect_string(connect, errstr, errstr_size)))
		return connect ? err : BROOK_ERR__INVALID_ARG;
	err = zk_session_new(loop, connect, ADMIN_SESSION_TIMEOUT_MS, NULL, NULL, &zk, errstr,
			     errstr_size);
	if (err)
		return err;
	/* The session sets the client's level when it opens (to WARN); a
	 * tool that prints one error line wants none of the client's lines
	 * about refused connections. Level 0 turns the client's log off. */
	if ((flags & ADMIN_SESSION_QUIET) && !getenv("BROOK_ZK_LOG_LEVEL"))
		zoo_set_debug_level((ZooLogLevel)0);
	if (zk_session_wait_connected(zk, timeout_ms) != BROOK_ERR_NO_ERROR) {
		zk_session_free(zk);
		if (timeout_ms % 1000 == 0)
			brook_errstr(errstr, errstr_size,
				     "cannot connect to ZooKeeper at %s within %d s", connect,
				     timeout_ms / 1000);
		else
			brook_errstr(errstr, errstr_size,
				     "cannot connect to ZooKeeper at %s within %d ms", connect,
				     timeout_ms);
		return BROOK_ERR__TIMED_OUT;
	}
	*out = zk;
	return BROOK_ERR_NO_ERROR;
}

static const char *const persistent_paths[] = {
	ZK_PATH_BROKER_IDS, ZK_PATH_TOPICS, ZK_PATH_CONFIG_TOPICS, ZK_PATH_DELETE_TOPICS,
	ZK_PATH_CONSUMERS,
};
#define PERSISTENT_PATH_CNT (sizeof(persistent_paths) / sizeof(persistent_paths[0]))

static brook_err_t ensure_paths(zk_session_t *zk, const zkb_deadline_t *d, char *errstr,
				size_t errstr_size)
{
	zkb_batch_t *b = zkb_batch_new(PERSISTENT_PATH_CNT);
	brook_err_t err = BROOK_ERR_NO_ERROR;

	if (!b)
		return zkb_nomem(errstr, errstr_size);
	for (size_t i = 0; i < PERSISTENT_PATH_CNT; i++)
		zkb_req_submitted(&b->reqs[i],
				  zk_create_path(zk, persistent_paths[i], zkb_on_void,
						 &b->reqs[i]));
	if (zkb_batch_wait(zk, b, d))
		return zkb_path_error(errstr, errstr_size, persistent_paths[0],
				      BROOK_ERR__TIMED_OUT,
				      d);
	for (size_t i = 0; i < PERSISTENT_PATH_CNT && !err; i++) {
		if (!(err = b->reqs[i].err))
			continue;
		if (err == BROOK_ERR__NOENT)
			brook_errstr(errstr, errstr_size, "cannot create %s: the chroot of the "
				     "connect string does not exist", persistent_paths[i]);
		else
			zkb_path_error(errstr, errstr_size, persistent_paths[i], err, d);
	}
	zkb_batch_free(b);
	return err;
}

brook_err_t admin_ensure_paths(zk_session_t *zk, int timeout_ms, char *errstr, size_t errstr_size)
{
	zkb_deadline_t d;

	zkb_deadline_init(&d, timeout_ms);
	return ensure_paths(zk, &d, errstr, errstr_size);
}

/* --- replica assignment ---------------------------------------------------------- */

/* Kafka draws both start values with Random.nextInt(n); any spread source
 * will do, as long as repeated topic creations do not all start on the
 * same broker. */
static int32_t random_below(size_t n)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16);
	}
	return (int32_t)(r % (uint32_t)n);
}

/* A sorted copy of the broker ids; _INVALID_ARG for a negative or repeated
 * id. */
static brook_err_t sorted_brokers(const int32_t *brokers, size_t n, int32_t **out, char *errstr,
				  size_t errstr_size)
{
	int32_t *s;

	*out = NULL;
	if (n > 0 && !brokers)
		return BROOK_ERR__INVALID_ARG;
	if (!(s = malloc((n ? n : 1) * sizeof(*s))))
		return zkb_nomem(errstr, errstr_size);
	if (n)
		memcpy(s, brokers, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_i32);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0 || (i > 0 && s[i] == s[i - 1])) {
			brook_errstr(errstr, errstr_size, "broker list: %s broker id %" PRId32,
				     s[i] < 0 ? "negative" : "repeated", s[i]);
			free(s);
			return BROOK_ERR__INVALID_ARG;
		}
	}
	*out = s;
	return BROOK_ERR_NO_ERROR;
}

/* Kafka's AdminUtils.replicaIndex. */
static size_t replica_index(size_t first, int64_t shift, int32_t j, size_t n)
{
	size_t step = 1 + (size_t)((shift + j) % (int64_t)(n - 1));

	return (first + step) % n;
}

brook_err_t admin_assign_replicas(const int32_t *brokers, size_t broker_cnt, int32_t partitions,
				  int32_t replication_factor, int32_t start_index,
				  int32_t replica_shift, int32_t first_partition,
				  zk_topic_assignment_t **out, char *errstr, size_t errstr_size)
{
	zk_topic_assignment_t *a;
	int32_t *sorted;
	int64_t start, shift;
	brook_err_t err;

	*out = NULL;
	if (partitions < 1) {
		brook_errstr(errstr, errstr_size, "number of partitions must be larger than 0 "
			     "(got %" PRId32 ")", partitions);
		return BROOK_ERR_INVALID_PARTITIONS;
	}
	if (first_partition < 0 || partitions > ZK_MAX_PARTITIONS - first_partition) {
		brook_errstr(errstr, errstr_size, "a topic can have at most %d partitions",
			     ZK_MAX_PARTITIONS);
		return BROOK_ERR_INVALID_PARTITIONS;
	}
	if (replication_factor < 1) {
		brook_errstr(errstr, errstr_size,
			     "replication factor must be larger than 0 (got %" PRId32 ")",
			     replication_factor);
		return BROOK_ERR_INVALID_REPLICATION_FACTOR;
	}
	if ((size_t)replication_factor > broker_cnt) {
		brook_errstr(errstr, errstr_size,
			     "replication factor: %" PRId32 " larger than available brokers: %zu",
			     replication_factor, broker_cnt);
		return BROOK_ERR_INVALID_REPLICATION_FACTOR;
	}
	if (replication_factor > ZK_MAX_REPLICAS) {
		brook_errstr(errstr, errstr_size,
			     "replication factor: %" PRId32 " is above the limit of %d",
			     replication_factor, ZK_MAX_REPLICAS);
		return BROOK_ERR_INVALID_REPLICATION_FACTOR;
	}
	if ((start_index < 0 && start_index != ADMIN_RANDOM) ||
	    (replica_shift < 0 && replica_shift != ADMIN_RANDOM)) {
		brook_errstr(errstr, errstr_size,
			     "start index and replica shift must be >= 0 or random");
		return BROOK_ERR__INVALID_ARG;
	}
	if ((err = sorted_brokers(brokers, broker_cnt, &sorted, errstr, errstr_size)))
		return err;
	if (!(a = zk_topic_assignment_new(partitions, replication_factor))) {
		free(sorted);
		return zkb_nomem(errstr, errstr_size);
	}
	start = start_index == ADMIN_RANDOM ? random_below(broker_cnt) : start_index;
	shift = replica_shift == ADMIN_RANDOM ? random_below(broker_cnt) : replica_shift;
	for (int32_t i = 0; i < partitions; i++) {
		int64_t pid = (int64_t)first_partition + i;
		size_t first;
		int32_t *ids = a->partitions[i].ids;

		/* Shifting the followers once per round of n partitions
		 * spreads each leader's followers over all brokers. */
		if (pid > 0 && pid % (int64_t)broker_cnt == 0)
			shift++;
		first = (size_t)((pid + start) % (int64_t)broker_cnt);
		ids[0] = sorted[first];
		for (int32_t j = 0; j < replication_factor - 1; j++)
			ids[j + 1] = sorted[replica_index(first, shift, j, broker_cnt)];
	}
	free(sorted);
	*out = a;
	return BROOK_ERR_NO_ERROR;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* One broker id out of [s, e), blanks around it allowed. */
static int parse_broker_id(const char *s, const char *e, int32_t *id)
{
	int64_t v = 0;

	while (s < e && is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	if (s == e)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > INT32_MAX)
			return -1;
	}
	*id = (int32_t)v;
	return 0;
}

static size_t count_char(const char *s, const char *e, char c)
{
	size_t n = 0;

	for (; s < e; s++)
		n += *s == c;
	return n;
}

brook_err_t admin_parse_replica_assignment(const char *text, zk_topic_assignment_t **out,
					   char *errstr, size_t errstr_size)
{
	zk_topic_assignment_t *a = NULL;
	const char *p, *end;
	size_t pcnt, rf = 0;

	*out = NULL;
	if (!text || !*text) {
		brook_errstr(errstr, errstr_size, "replica assignment: empty");
		return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	end = text + strlen(text);
	pcnt = count_char(text, end, ',') + 1;
	if (pcnt > ZK_MAX_PARTITIONS) {
		brook_errstr(errstr, errstr_size, "replica assignment: more than %d partitions",
			     ZK_MAX_PARTITIONS);
		return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	/* First pass: every partition must list as many replicas as
	 * partition 0, as Kafka's TopicCommand requires. */
	p = text;
	for (size_t i = 0; i < pcnt; i++) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *pe = comma ? comma : end;
		size_t n = count_char(p, pe, ':') + 1;

		if (i == 0)
			rf = n;
		else if (n != rf) {
			brook_errstr(errstr, errstr_size, "replica assignment: partition %zu has "
				     "%zu replicas but partition 0 has %zu", i, n, rf);
			return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
		p = pe + 1;
	}
	if (rf > ZK_MAX_REPLICAS) {
		brook_errstr(errstr, errstr_size,
			     "replica assignment: more than %d replicas per partition",
			     ZK_MAX_REPLICAS);
		return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (!(a = zk_topic_assignment_new((int32_t)pcnt, (int32_t)rf)))
		return zkb_nomem(errstr, errstr_size);
	p = text;
	for (size_t i = 0; i < pcnt; i++) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *pe = comma ? comma : end;
		int32_t *ids = a->partitions[i].ids;

		for (size_t j = 0; j < rf; j++) {
			const char *colon = memchr(p, ':', (size_t)(pe - p));
			const char *te = colon ? colon : pe;

			if (parse_broker_id(p, te, &ids[j]) != 0) {
				brook_errstr(errstr, errstr_size, "replica assignment: partition "
					     "%zu: \"%.*s\" is not a broker id", i,
					     (int)(te - p > 32 ? 32 : te - p), p);
				goto bad;
			}
			for (size_t k = 0; k < j; k++) {
				if (ids[k] == ids[j]) {
					brook_errstr(errstr, errstr_size, "replica assignment: "
						     "partition %zu lists broker %" PRId32 " twice",
						     i, ids[j]);
					goto bad;
				}
			}
			p = te + 1;
		}
		p = pe + 1;
	}
	*out = a;
	return BROOK_ERR_NO_ERROR;
bad:
	zk_topic_assignment_free(a);
	return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
}

/* Checks one replica list of an explicit assignment: `rf` replicas, no
 * duplicates, all among the sorted registered brokers. */
static brook_err_t check_replica_list(const zk_replica_list_t *l, int32_t partition, int32_t rf,
				      const int32_t *sorted, size_t n, char *errstr,
				      size_t errstr_size)
{
	if (l->cnt < 1) {
		brook_errstr(errstr, errstr_size, "replica assignment: partition %" PRId32
			     " has no replicas", partition);
		return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (l->cnt != rf) {
		brook_errstr(errstr, errstr_size,
			     "replica assignment: partition %" PRId32 " has %" PRId32
			     " replicas but partition 0 has %" PRId32, partition, l->cnt, rf);
		return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	for (int32_t j = 0; j < l->cnt; j++) {
		for (int32_t k = 0; k < j; k++) {
			if (l->ids[k] == l->ids[j]) {
				brook_errstr(errstr, errstr_size, "replica assignment: partition %"
					     PRId32 " lists broker %" PRId32 " twice", partition,
					     l->ids[j]);
				return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
			}
		}
		if (!bsearch(&l->ids[j], sorted, n, sizeof(*sorted), cmp_i32)) {
			brook_errstr(errstr, errstr_size,
				     "replica assignment: partition %" PRId32 ": broker %" PRId32
				     " is not registered (%zu broker%s registered)", partition,
				     l->ids[j], n, n == 1 ? " is" : "s are");
			return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t admin_assignment_validate(const zk_topic_assignment_t *a, const int32_t *brokers,
				      size_t broker_cnt, char *errstr, size_t errstr_size)
{
	int32_t *sorted;
	brook_err_t err;

	if (!a || a->partition_cnt < 1 || !a->partitions) {
		brook_errstr(errstr, errstr_size, "replica assignment: no partitions");
		return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (a->partition_cnt > ZK_MAX_PARTITIONS) {
		brook_errstr(errstr, errstr_size, "replica assignment: more than %d partitions",
			     ZK_MAX_PARTITIONS);
		return BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if ((err = sorted_brokers(brokers, broker_cnt, &sorted, errstr, errstr_size)))
		return err;
	for (int32_t p = 0; p < a->partition_cnt && !err; p++)
		err = check_replica_list(&a->partitions[p], p, a->partitions[0].cnt, sorted,
					 broker_cnt, errstr, errstr_size);
	free(sorted);
	return err;
}

static int same_list(const zk_replica_list_t *x, const zk_replica_list_t *y)
{
	return x->cnt == y->cnt && memcmp(x->ids, y->ids, (size_t)x->cnt * sizeof(*x->ids)) == 0;
}

static void format_list(char *buf, size_t size, const zk_replica_list_t *l)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int32_t j = 0; j < l->cnt && off < size; j++) {
		int n = snprintf(buf + off, size - off, "%s%" PRId32, j ? ":" : "", l->ids[j]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

brook_err_t admin_assignment_extend(const zk_topic_assignment_t *existing, int32_t partitions,
				    const int32_t *brokers, size_t broker_cnt,
				    const zk_topic_assignment_t *explicit_a,
				    zk_topic_assignment_t **out, char *errstr, size_t errstr_size)
{
	zk_topic_assignment_t *added = NULL, *a = NULL;
	const zk_topic_assignment_t *src;
	int32_t cur, rf0, max_rf = 0, *sorted = NULL;
	brook_err_t err;

	*out = NULL;
	if (!existing || existing->partition_cnt < 1 || !existing->partitions ||
	    existing->partitions[0].cnt < 1)
		return BROOK_ERR__INVALID_ARG;
	cur = existing->partition_cnt;
	rf0 = existing->partitions[0].cnt;
	if (partitions <= cur) {
		brook_errstr(errstr, errstr_size, "the number of partitions can only be "
			     "increased: the topic has %" PRId32 ", %" PRId32 " would not be an "
			     "increase", cur, partitions);
		return BROOK_ERR_INVALID_PARTITIONS;
	}
	if (partitions > ZK_MAX_PARTITIONS) {
		brook_errstr(errstr, errstr_size, "a topic can have at most %d partitions",
			     ZK_MAX_PARTITIONS);
		return BROOK_ERR_INVALID_PARTITIONS;
	}
	if ((err = sorted_brokers(brokers, broker_cnt, &sorted, errstr, errstr_size)))
		return err;
	if (explicit_a) {
		if (explicit_a->partition_cnt != partitions) {
			brook_errstr(errstr, errstr_size, "replica assignment: lists %" PRId32
				     " partitions, not %" PRId32, explicit_a->partition_cnt,
				     partitions);
			err = BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
			goto done;
		}
		/* Kafka's tool takes the whole topic's layout and ignores
		 * the existing partitions; we insist they match, so that
		 * nobody believes this moved a replica. */
		for (int32_t p = 0; p < cur; p++) {
			if (!same_list(&explicit_a->partitions[p], &existing->partitions[p])) {
				char want[256], got[256];

				format_list(want, sizeof(want), &existing->partitions[p]);
				format_list(got, sizeof(got), &explicit_a->partitions[p]);
				brook_errstr(errstr, errstr_size, "replica assignment: partition %"
					     PRId32 " is on %s, not %s; adding partitions cannot "
					     "move existing ones", p, want, got);
				err = BROOK_ERR_INVALID_REPLICA_ASSIGNMENT;
				goto done;
			}
		}
		for (int32_t p = cur; p < partitions && !err; p++)
			err = check_replica_list(&explicit_a->partitions[p], p, rf0, sorted,
						 broker_cnt, errstr, errstr_size);
		if (err)
			goto done;
		src = explicit_a;
	} else {
		/* Kafka starts the new partitions where partition 0's leader
		 * sits in the sorted broker list, with the same shift. */
		int32_t start = 0;

		for (size_t i = 0; i < broker_cnt; i++) {
			if (sorted[i] >= existing->partitions[0].ids[0]) {
				start = (int32_t)i;
				break;
			}
		}
		err = admin_assign_replicas(sorted, broker_cnt, partitions - cur, rf0, start, start,
					    cur, &added, errstr, errstr_size);
		if (err)
			goto done;
		src = NULL;
	}
	for (int32_t p = 0; p < partitions; p++) {
		const zk_replica_list_t *l = p < cur ? &existing->partitions[p] :
			src ? &src->partitions[p] : &added->partitions[p - cur];

		if (l->cnt > max_rf)
			max_rf = l->cnt;
	}
	if (!(a = zk_topic_assignment_new(partitions, max_rf))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	a->version = existing->version;
	for (int32_t p = 0; p < partitions; p++) {
		const zk_replica_list_t *l = p < cur ? &existing->partitions[p] :
			src ? &src->partitions[p] : &added->partitions[p - cur];

		/* Lists may differ in length (a hand-edited topic): each keeps
		 * its own count inside the max_rf-wide slot. */
		a->partitions[p].cnt = l->cnt;
		memcpy(a->partitions[p].ids, l->ids, (size_t)l->cnt * sizeof(*l->ids));
	}
	*out = a;
done:
	zk_topic_assignment_free(added);
	free(sorted);
	return err;
}

/* --- topic-level configuration ------------------------------------------------------ */

#define TOPIC_CONF_OFF(f) offsetof(admin_topic_conf_t, f)

static const char *const cleanup_policies[] = { "delete", "compact", NULL };
static const char *const compression_types[] = {
	"producer", "uncompressed", "gzip", "lz4", "zstd", NULL,
};

/* Kafka's topic-level names, defaults and lower bounds (LogConfig). */
static const conf_def_t topic_conf_table[] = {
	{ "cleanup.policy", CONF_ENUM, TOPIC_CONF_OFF(cleanup_policy), "delete", 0, 0,
	  cleanup_policies, 0,
	  "What happens to old segments: delete removes them past retention; compact is not "
	  "implemented yet and is refused." },
	{ "retention.ms", CONF_LONG, TOPIC_CONF_OFF(retention_ms), "604800000", -1, INT64_MAX,
	  NULL, 0, "Delete a segment once its newest message is older than this (ms); -1 keeps "
	  "messages forever." },
	{ "retention.bytes", CONF_LONG, TOPIC_CONF_OFF(retention_bytes), "-1", -1, INT64_MAX,
	  NULL, 0, "Delete the oldest segments while a partition is larger than this; -1: no "
	  "size limit." },
	{ "segment.bytes", CONF_INT, TOPIC_CONF_OFF(segment_bytes), "1073741824", 14, INT32_MAX,
	  NULL, 0, "Roll to a new segment file when the active one reaches this size." },
	{ "segment.ms", CONF_LONG, TOPIC_CONF_OFF(segment_ms), "604800000", 1, INT64_MAX, NULL, 0,
	  "Roll to a new segment after this long (ms) even if the active one is not full, so "
	  "retention can delete old data." },
	{ "min.insync.replicas", CONF_INT, TOPIC_CONF_OFF(min_insync_replicas), "1", 1,
	  INT32_MAX, NULL, 0,
	  "With acks=all, a write fails unless at least this many replicas are in sync." },
	{ "unclean.leader.election.enable", CONF_BOOL,
	  TOPIC_CONF_OFF(unclean_leader_election_enable), "false", 0, 0, NULL, 0,
	  "Let a replica outside the ISR become leader when no ISR member is alive: the partition "
	  "comes back sooner but acknowledged messages can be lost." },
	{ "max.message.bytes", CONF_INT, TOPIC_CONF_OFF(max_message_bytes), "1048588", 0,
	  INT32_MAX, NULL, 0, "Largest record batch the broker accepts for this topic." },
	{ "compression.type", CONF_ENUM, TOPIC_CONF_OFF(compression_type), "producer", 0, 0,
	  compression_types, 0,
	  "Codec the broker stores batches in; producer keeps the producer's codec." },
	{ "index.interval.bytes", CONF_INT, TOPIC_CONF_OFF(index_interval_bytes), "4096", 0,
	  INT32_MAX, NULL, 0, "Add an offset index entry every this many bytes of log." },
	{ "flush.messages", CONF_LONG, TOPIC_CONF_OFF(flush_messages), "9223372036854775807", 0,
	  INT64_MAX, NULL, 0, "fsync the log after this many messages; by default durability "
	  "comes from replication and the OS flushes." },
	{ "flush.ms", CONF_LONG, TOPIC_CONF_OFF(flush_ms), "9223372036854775807", 0, INT64_MAX,
	  NULL, 0, "fsync the log when its oldest unflushed message is this old (ms)." },
	{ NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

const conf_def_t *admin_topic_config_table(void)
{
	return topic_conf_table;
}

brook_err_t admin_topic_conf_apply(admin_topic_conf_t *conf, const zk_topic_config_t *overrides,
				   char *errstr, size_t errstr_size)
{
	for (size_t i = 0; overrides && i < overrides->cnt; i++) {
		const char *key = overrides->entries[i].name, *value = overrides->entries[i].value;

		if (!conf_find(topic_conf_table, key)) {
			brook_errstr_at(errstr, errstr_size, key, "unknown topic config");
			return BROOK_ERR_INVALID_CONFIG;
		}
		/* Kafka's cleanup.policy is a list ("delete,compact"); any
		 * mention of compact gets the real reason, not "must be one
		 * of". */
		if (strcmp(key, "cleanup.policy") == 0 && strstr(value, "compact")) {
			brook_errstr_at(errstr, errstr_size, key,
					"compact is not supported: brook has no log cleaner yet "
					"(use delete)");
			return BROOK_ERR_INVALID_CONFIG;
		}
		if (conf_set(topic_conf_table, conf, key, value, errstr, errstr_size) !=
		    BROOK_ERR_NO_ERROR)
			return BROOK_ERR_INVALID_CONFIG;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t admin_topic_config_validate(const zk_topic_config_t *in, zk_topic_config_t **out,
					char *errstr, size_t errstr_size)
{
	admin_topic_conf_t conf;
	zk_topic_config_t *norm;
	brook_err_t err;

	*out = NULL;
	if ((err = conf_init(topic_conf_table, &conf, errstr, errstr_size)))
		return err;
	if ((err = admin_topic_conf_apply(&conf, in, errstr, errstr_size))) {
		conf_destroy(topic_conf_table, &conf);
		return err;
	}
	if (!(norm = zk_topic_config_new())) {
		conf_destroy(topic_conf_table, &conf);
		return zkb_nomem(errstr, errstr_size);
	}
	for (size_t i = 0; in && i < in->cnt && !err; i++) {
		char buf[ZK_CONFIG_VALUE_MAX + 1];
		const conf_def_t *def = conf_find(topic_conf_table, in->entries[i].name);

		err = zk_topic_config_set(norm, def->name, conf_get(def, &conf, buf, sizeof(buf)));
		if (err)
			zkb_nomem(errstr, errstr_size);
	}
	conf_destroy(topic_conf_table, &conf);
	if (err) {
		zk_topic_config_free(norm);
		return err;
	}
	*out = norm;
	return BROOK_ERR_NO_ERROR;
}

/* --- reading helpers -------------------------------------------------------------- */

/* The ids of the registered brokers, sorted (none: an empty array). */
static brook_err_t broker_ids_from(const zkb_req_t *r, int32_t **ids, size_t *cnt, char *errstr,
				   size_t errstr_size, const zkb_deadline_t *d)
{
	size_t n = 0;

	*ids = NULL;
	*cnt = 0;
	if (r->err && r->err != BROOK_ERR__NOENT)
		return zkb_path_error(errstr, errstr_size, ZK_PATH_BROKER_IDS, r->err, d);
	if (!(*ids = malloc((r->name_cnt ? r->name_cnt : 1) * sizeof(**ids))))
		return zkb_nomem(errstr, errstr_size);
	for (size_t i = 0; i < r->name_cnt; i++) {
		int32_t id;

		/* Anything that is not a broker id was put there by hand. */
		if (zk_path_parse_id(r->names[i], &id) == BROOK_ERR_NO_ERROR)
			(*ids)[n++] = id;
	}
	qsort(*ids, n, sizeof(**ids), cmp_i32);
	*cnt = n;
	return BROOK_ERR_NO_ERROR;
}

/* Kafka refuses a topic whose name differs from an existing one only by
 * '.' versus '_': both map to the same metric name. */
static int topics_collide(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '.' ? '_' : *a, y = *b == '.' ? '_' : *b;

		if (x != y)
			return 0;
	}
	return *a == *b;
}

static int has_name(const zkb_req_t *r, const char *name)
{
	for (size_t i = 0; i < r->name_cnt; i++)
		if (strcmp(r->names[i], name) == 0)
			return 1;
	return 0;
}

/* --- topics ---------------------------------------------------------------------- */

enum { CR_TOPICS, CR_DELETE_MARK, CR_CONFIG, CR_BROKERS, CR_CNT };

brook_err_t admin_topic_create(zk_session_t *zk, const char *topic, const admin_topic_spec_t *spec,
			       int timeout_ms, char *errstr, size_t errstr_size)
{
	char topic_path[ZK_PATH_MAX], config_path[ZK_PATH_MAX], mark_path[ZK_PATH_MAX];
	zk_topic_config_t *cfg = NULL;
	zk_topic_assignment_t *a = NULL;
	int32_t *brokers = NULL;
	size_t broker_cnt = 0;
	char *topic_json = NULL, *config_json = NULL;
	zkb_batch_t *b = NULL;
	zk_multi_t *m = NULL;
	int config_op = -1;
	zkb_deadline_t d;
	brook_err_t err;

	zkb_deadline_init(&d, timeout_ms);
	if (!zk || !spec) {
		brook_errstr(errstr, errstr_size, "admin_topic_create: bad arguments");
		return BROOK_ERR__INVALID_ARG;
	}
	if ((err = zk_topic_validate(topic, errstr, errstr_size)))
		return err;
	zk_path_topic(topic_path, sizeof(topic_path), topic);
	zk_path_topic_config(config_path, sizeof(config_path), topic);
	zk_path_delete_topic(mark_path, sizeof(mark_path), topic);
	if (spec->config && spec->config->cnt &&
	    (err = admin_topic_config_validate(spec->config, &cfg, errstr, errstr_size)))
		return err;
	if (!spec->assignment) {
		if (spec->partitions < 1 || spec->partitions > ZK_MAX_PARTITIONS) {
			brook_errstr(errstr, errstr_size,
				     "partitions: must be between 1 and %d (got %" PRId32 ")",
				     ZK_MAX_PARTITIONS, spec->partitions);
			err = BROOK_ERR_INVALID_PARTITIONS;
			goto done;
		}
		if (spec->replication_factor < 1) {
			brook_errstr(errstr, errstr_size,
				     "replication factor must be larger than 0 (got %" PRId32 ")",
				     spec->replication_factor);
			err = BROOK_ERR_INVALID_REPLICATION_FACTOR;
			goto done;
		}
	}
	if ((err = ensure_paths(zk, &d, errstr, errstr_size)))
		goto done;

	if (!(b = zkb_batch_new(CR_CNT))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	zkb_req_submitted(&b->reqs[CR_TOPICS],
			  zk_get_children(zk, ZK_PATH_TOPICS, NULL, zkb_on_children,
					  &b->reqs[CR_TOPICS]));
	zkb_req_submitted(&b->reqs[CR_DELETE_MARK],
			  zk_exists(zk, mark_path, NULL, zkb_on_stat, &b->reqs[CR_DELETE_MARK]));
	zkb_req_submitted(&b->reqs[CR_CONFIG],
			  zk_exists(zk, config_path, NULL, zkb_on_stat, &b->reqs[CR_CONFIG]));
	zkb_req_submitted(&b->reqs[CR_BROKERS], zk_get_children(zk, ZK_PATH_BROKER_IDS, NULL,
								zkb_on_children, &b->reqs[CR_BROKERS]));
	if (zkb_batch_wait(zk, b, &d)) {
		b = NULL;
		err = zkb_path_error(errstr, errstr_size, topic_path, BROOK_ERR__TIMED_OUT, &d);
		goto done;
	}
	if (b->reqs[CR_TOPICS].err && b->reqs[CR_TOPICS].err != BROOK_ERR__NOENT) {
		err = zkb_path_error(errstr, errstr_size, ZK_PATH_TOPICS, b->reqs[CR_TOPICS].err,
				     &d);
		goto done;
	}
	if ((err = b->reqs[CR_DELETE_MARK].err) != BROOK_ERR__NOENT) {
		if (err) {
			zkb_path_error(errstr, errstr_size, mark_path, err, &d);
			goto done;
		}
		brook_errstr(errstr, errstr_size, "topic \"%s\" is marked for deletion", topic);
		err = BROOK_ERR_TOPIC_ALREADY_EXISTS;
		goto done;
	}
	if (b->reqs[CR_CONFIG].err && b->reqs[CR_CONFIG].err != BROOK_ERR__NOENT) {
		err = zkb_path_error(errstr, errstr_size, config_path, b->reqs[CR_CONFIG].err, &d);
		goto done;
	}
	if (has_name(&b->reqs[CR_TOPICS], topic)) {
		if (spec->if_not_exists) {
			err = BROOK_ERR_NO_ERROR;
			goto done;
		}
		brook_errstr(errstr, errstr_size, "topic \"%s\" already exists", topic);
		err = BROOK_ERR_TOPIC_ALREADY_EXISTS;
		goto done;
	}
	for (size_t i = 0; i < b->reqs[CR_TOPICS].name_cnt; i++) {
		if (topics_collide(b->reqs[CR_TOPICS].names[i], topic)) {
			brook_errstr(errstr, errstr_size, "topic \"%s\" collides with existing "
				     "topic \"%s\" ('.' and '_' are the same in metric names)",
				     topic, b->reqs[CR_TOPICS].names[i]);
			err = BROOK_ERR_INVALID_TOPIC_EXCEPTION;
			goto done;
		}
	}
	if ((err = broker_ids_from(&b->reqs[CR_BROKERS], &brokers, &broker_cnt, errstr, errstr_size,
				   &d)))
		goto done;

	if (spec->assignment) {
		if ((err = admin_assignment_validate(spec->assignment, brokers, broker_cnt, errstr,
						     errstr_size)))
			goto done;
		err = zk_json_topic_assignment_encode(spec->assignment, &topic_json);
	} else {
		err = admin_assign_replicas(brokers, broker_cnt, spec->partitions,
					    spec->replication_factor, spec->start_index,
					    spec->replica_shift, 0, &a, errstr, errstr_size);
		if (err)
			goto done;
		err = zk_json_topic_assignment_encode(a, &topic_json);
	}
	if (err || (cfg && (err = zk_json_topic_config_encode(cfg, &config_json)))) {
		brook_errstr(errstr, errstr_size, "cannot encode the topic's znodes: %s",
			     brook_err_str(err));
		goto done;
	}

	/* One multi: the controller must never see the topic without its
	 * config, nor a half-written config of a topic that failed. A config
	 * node left by an earlier topic of this name would otherwise apply to
	 * this one, so it is replaced or removed, checked on its version. */
	if (!(m = zk_multi_new())) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	if (b->reqs[CR_CONFIG].err == BROOK_ERR_NO_ERROR) {
		config_op = 0;
		err = config_json ?
			zk_multi_add_set(m, config_path, config_json, strlen(config_json),
					 b->reqs[CR_CONFIG].stat.version) :
			zk_multi_add_delete(m, config_path, b->reqs[CR_CONFIG].stat.version);
	} else if (config_json) {
		config_op = 0;
		err = zk_multi_add_create(m, config_path, config_json, strlen(config_json),
					  ZK_PERSISTENT);
	}
	if (err || (err = zk_multi_add_create(m, topic_path, topic_json, strlen(topic_json),
					      ZK_PERSISTENT))) {
		zk_multi_free(m);
		brook_errstr(errstr, errstr_size, "cannot build the ZooKeeper transaction: %s",
			     brook_err_str(err));
		goto done;
	}
	zkb_batch_free(b);
	if (!(b = zkb_batch_new(1))) {
		zk_multi_free(m);
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	zkb_req_submitted(&b->reqs[0], zk_multi(zk, m, zkb_on_multi, &b->reqs[0]));
	if (zkb_batch_wait(zk, b, &d)) {
		b = NULL;
		brook_errstr(errstr, errstr_size, "%s: no answer from ZooKeeper within %d ms; the "
			     "topic may or may not have been created", topic_path, d.timeout_ms);
		err = BROOK_ERR__TIMED_OUT;
		goto done;
	}
	if (!(err = b->reqs[0].err))
		goto done;
	if (b->reqs[0].failed_op >= 0 && b->reqs[0].failed_op != config_op &&
	    err == BROOK_ERR__EXISTS) {
		if (spec->if_not_exists) {
			err = BROOK_ERR_NO_ERROR;
			goto done;
		}
		brook_errstr(errstr, errstr_size, "topic \"%s\" already exists", topic);
		err = BROOK_ERR_TOPIC_ALREADY_EXISTS;
	} else if (config_op >= 0 && b->reqs[0].failed_op == config_op &&
		   (err == BROOK_ERR__EXISTS || err == BROOK_ERR__VERSION ||
		    err == BROOK_ERR__NOENT)) {
		brook_errstr(errstr, errstr_size, "%s changed while the topic was being created; "
			     "try again", config_path);
		err = BROOK_ERR__VERSION;
	} else {
		zkb_path_error(errstr, errstr_size, topic_path, err, &d);
	}
done:
	zkb_batch_free(b);
	zk_topic_config_free(cfg);
	zk_topic_assignment_free(a);
	free(brokers);
	free(topic_json);
	free(config_json);
	return err;
}

void admin_topic_list_free(admin_topic_list_t *l)
{
	if (!l)
		return;
	zkb_names_free(l->names, l->cnt);
	free(l->marked_for_deletion);
	free(l);
}

brook_err_t admin_topic_list(zk_session_t *zk, admin_topic_list_t **out, int timeout_ms,
			     char *errstr, size_t errstr_size)
{
	admin_topic_list_t *l = NULL;
	zkb_batch_t *b;
	zkb_req_t *topics, *marks;
	zkb_deadline_t d;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	*out = NULL;
	zkb_deadline_init(&d, timeout_ms);
	if (!(b = zkb_batch_new(2)))
		return zkb_nomem(errstr, errstr_size);
	topics = &b->reqs[0];
	marks = &b->reqs[1];
	zkb_req_submitted(topics, zk_get_children(zk, ZK_PATH_TOPICS, NULL, zkb_on_children,
						  topics));
	zkb_req_submitted(marks, zk_get_children(zk, ZK_PATH_DELETE_TOPICS, NULL, zkb_on_children,
						 marks));
	if (zkb_batch_wait(zk, b, &d))
		return zkb_path_error(errstr, errstr_size, ZK_PATH_TOPICS, BROOK_ERR__TIMED_OUT,
				      &d);
	if (topics->err && topics->err != BROOK_ERR__NOENT) {
		err = zkb_path_error(errstr, errstr_size, ZK_PATH_TOPICS, topics->err, &d);
		goto done;
	}
	if (marks->err && marks->err != BROOK_ERR__NOENT) {
		err = zkb_path_error(errstr, errstr_size, ZK_PATH_DELETE_TOPICS, marks->err, &d);
		goto done;
	}
	if (!(l = calloc(1, sizeof(*l))) ||
	    !(l->marked_for_deletion = calloc(topics->name_cnt + 1, sizeof(int)))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	/* The list takes the names over from the request. */
	l->names = topics->names;
	l->cnt = topics->name_cnt;
	topics->names = NULL;
	topics->name_cnt = 0;
	if (l->cnt)
		qsort(l->names, l->cnt, sizeof(*l->names), zkb_cmp_str);
	for (size_t i = 0; i < l->cnt; i++)
		l->marked_for_deletion[i] = has_name(marks, l->names[i]);
	*out = l;
	l = NULL;
done:
	admin_topic_list_free(l);
	zkb_batch_free(b);
	return err;
}

void admin_topic_info_free(admin_topic_info_t *t)
{
	if (!t)
		return;
	free(t->name);
	zk_topic_assignment_free(t->assignment);
	free(t->partitions);
	zk_topic_config_free(t->config);
	free(t);
}

int32_t admin_topic_info_replication_factor(const admin_topic_info_t *t)
{
	return t && t->assignment && t->assignment->partition_cnt > 0 ?
		t->assignment->partitions[0].cnt : 0;
}

enum { DR_TOPIC, DR_CONFIG, DR_DELETE_MARK, DR_CNT };

brook_err_t admin_topic_describe(zk_session_t *zk, const char *topic, admin_topic_info_t **out,
				 int timeout_ms, char *errstr, size_t errstr_size)
{
	char topic_path[ZK_PATH_MAX], config_path[ZK_PATH_MAX], mark_path[ZK_PATH_MAX];
	char path[ZK_PATH_MAX], reason[512];
	admin_topic_info_t *t = NULL;
	zkb_batch_t *b = NULL;
	int32_t pcnt;
	zkb_deadline_t d;
	brook_err_t err;

	*out = NULL;
	zkb_deadline_init(&d, timeout_ms);
	if ((err = zk_topic_validate(topic, errstr, errstr_size)))
		return err;
	zk_path_topic(topic_path, sizeof(topic_path), topic);
	zk_path_topic_config(config_path, sizeof(config_path), topic);
	zk_path_delete_topic(mark_path, sizeof(mark_path), topic);
	if (!(t = calloc(1, sizeof(*t))) || !(t->name = strdup(topic)) ||
	    !(b = zkb_batch_new(DR_CNT))) {
		err = zkb_nomem(errstr, errstr_size);
		goto fail;
	}
	zkb_req_submitted(&b->reqs[DR_TOPIC],
			  zk_get(zk, topic_path, NULL, zkb_on_data, &b->reqs[DR_TOPIC]));
	zkb_req_submitted(&b->reqs[DR_CONFIG],
			  zk_get(zk, config_path, NULL, zkb_on_data, &b->reqs[DR_CONFIG]));
	zkb_req_submitted(&b->reqs[DR_DELETE_MARK],
			  zk_exists(zk, mark_path, NULL, zkb_on_stat, &b->reqs[DR_DELETE_MARK]));
	if (zkb_batch_wait(zk, b, &d)) {
		b = NULL;
		err = zkb_path_error(errstr, errstr_size, topic_path, BROOK_ERR__TIMED_OUT, &d);
		goto fail;
	}
	if ((err = b->reqs[DR_TOPIC].err)) {
		if (err == BROOK_ERR__NOENT) {
			brook_errstr(errstr, errstr_size, "topic \"%s\" does not exist", topic);
			err = BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		} else {
			zkb_path_error(errstr, errstr_size, topic_path, err, &d);
		}
		goto fail;
	}
	err = zk_json_topic_assignment_decode(b->reqs[DR_TOPIC].data, b->reqs[DR_TOPIC].len,
					      &t->assignment, reason, sizeof(reason));
	if (err) {
		brook_errstr_at(errstr, errstr_size, topic_path, "%s", reason);
		goto fail;
	}
	if (b->reqs[DR_CONFIG].err == BROOK_ERR__NOENT) {
		if (!(t->config = zk_topic_config_new())) {
			err = zkb_nomem(errstr, errstr_size);
			goto fail;
		}
	} else if ((err = b->reqs[DR_CONFIG].err)) {
		zkb_path_error(errstr, errstr_size, config_path, err, &d);
		goto fail;
	} else if ((err = zk_json_topic_config_decode(b->reqs[DR_CONFIG].data,
						      b->reqs[DR_CONFIG].len, &t->config, reason,
						      sizeof(reason)))) {
		brook_errstr_at(errstr, errstr_size, config_path, "%s", reason);
		goto fail;
	}
	if ((err = b->reqs[DR_DELETE_MARK].err) && err != BROOK_ERR__NOENT) {
		zkb_path_error(errstr, errstr_size, mark_path, err, &d);
		goto fail;
	}
	t->marked_for_deletion = err == BROOK_ERR_NO_ERROR;
	zkb_batch_free(b);

	/* Every partition's state in one round. */
	pcnt = t->assignment->partition_cnt;
	if (!(t->partitions = calloc((size_t)pcnt, sizeof(*t->partitions))) ||
	    !(b = zkb_batch_new((size_t)pcnt))) {
		err = zkb_nomem(errstr, errstr_size);
		goto fail;
	}
	for (int32_t p = 0; p < pcnt; p++) {
		zk_path_partition_state(path, sizeof(path), topic, p);
		zkb_req_submitted(&b->reqs[p], zk_get(zk, path, NULL, zkb_on_data, &b->reqs[p]));
	}
	if (zkb_batch_wait(zk, b, &d)) {
		b = NULL;
		zk_path_partitions(path, sizeof(path), topic);
		err = zkb_path_error(errstr, errstr_size, path, BROOK_ERR__TIMED_OUT, &d);
		goto fail;
	}
	for (int32_t p = 0; p < pcnt; p++) {
		zkb_req_t *r = &b->reqs[p];

		if (r->err == BROOK_ERR__NOENT)
			continue;
		zk_path_partition_state(path, sizeof(path), topic, p);
		if ((err = r->err)) {
			zkb_path_error(errstr, errstr_size, path, err, &d);
			goto fail;
		}
		err = zk_json_partition_state_decode(r->data, r->len, &t->partitions[p].state,
						     reason, sizeof(reason));
		if (err) {
			brook_errstr_at(errstr, errstr_size, path, "%s", reason);
			goto fail;
		}
		t->partitions[p].has_state = 1;
	}
	zkb_batch_free(b);
	*out = t;
	return BROOK_ERR_NO_ERROR;
fail:
	zkb_batch_free(b);
	admin_topic_info_free(t);
	return err;
}

enum { AL_TOPIC, AL_DELETE_MARK, AL_BROKERS, AL_CNT };

brook_err_t admin_topic_alter_partitions(zk_session_t *zk, const char *topic, int32_t partitions,
					 const zk_topic_assignment_t *explicit_a, int timeout_ms,
					 char *errstr, size_t errstr_size)
{
	char topic_path[ZK_PATH_MAX], mark_path[ZK_PATH_MAX], reason[512];
	zk_topic_assignment_t *cur = NULL, *next = NULL;
	int32_t *brokers = NULL, version;
	size_t broker_cnt = 0;
	char *json = NULL;
	zkb_batch_t *b = NULL;
	zkb_deadline_t d;
	brook_err_t err;

	zkb_deadline_init(&d, timeout_ms);
	if ((err = zk_topic_validate(topic, errstr, errstr_size)))
		return err;
	zk_path_topic(topic_path, sizeof(topic_path), topic);
	zk_path_delete_topic(mark_path, sizeof(mark_path), topic);
	if (partitions < 1) {
		brook_errstr(errstr, errstr_size, "number of partitions must be larger than 0 "
			     "(got %" PRId32 ")", partitions);
		return BROOK_ERR_INVALID_PARTITIONS;
	}
	if (!(b = zkb_batch_new(AL_CNT)))
		return zkb_nomem(errstr, errstr_size);
	zkb_req_submitted(&b->reqs[AL_TOPIC],
			  zk_get(zk, topic_path, NULL, zkb_on_data, &b->reqs[AL_TOPIC]));
	zkb_req_submitted(&b->reqs[AL_DELETE_MARK],
			  zk_exists(zk, mark_path, NULL, zkb_on_stat, &b->reqs[AL_DELETE_MARK]));
	zkb_req_submitted(&b->reqs[AL_BROKERS], zk_get_children(zk, ZK_PATH_BROKER_IDS, NULL,
								zkb_on_children, &b->reqs[AL_BROKERS]));
	if (zkb_batch_wait(zk, b, &d)) {
		b = NULL;
		err = zkb_path_error(errstr, errstr_size, topic_path, BROOK_ERR__TIMED_OUT, &d);
		goto done;
	}
	if ((err = b->reqs[AL_TOPIC].err)) {
		if (err == BROOK_ERR__NOENT) {
			brook_errstr(errstr, errstr_size, "topic \"%s\" does not exist", topic);
			err = BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		} else {
			zkb_path_error(errstr, errstr_size, topic_path, err, &d);
		}
		goto done;
	}
	if (b->reqs[AL_DELETE_MARK].err != BROOK_ERR__NOENT) {
		if ((err = b->reqs[AL_DELETE_MARK].err)) {
			zkb_path_error(errstr, errstr_size, mark_path, err, &d);
		} else {
			brook_errstr(errstr, errstr_size, "topic \"%s\" is queued for deletion",
				     topic);
			err = BROOK_ERR_INVALID_TOPIC_EXCEPTION;
		}
		goto done;
	}
	if ((err = broker_ids_from(&b->reqs[AL_BROKERS], &brokers, &broker_cnt, errstr, errstr_size,
				   &d)))
		goto done;
	err = zk_json_topic_assignment_decode(b->reqs[AL_TOPIC].data, b->reqs[AL_TOPIC].len, &cur,
					      reason, sizeof(reason));
	if (err) {
		brook_errstr_at(errstr, errstr_size, topic_path, "%s", reason);
		goto done;
	}
	version = b->reqs[AL_TOPIC].stat.version;
	if ((err = admin_assignment_extend(cur, partitions, brokers, broker_cnt, explicit_a, &next,
					   errstr, errstr_size)))
		goto done;
	if ((err = zk_json_topic_assignment_encode(next, &json))) {
		brook_errstr(errstr, errstr_size, "cannot encode the new assignment: %s",
			     brook_err_str(err));
		goto done;
	}
	zkb_batch_free(b);
	if (!(b = zkb_batch_new(1))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	/* Conditional on what we read: a concurrent alter (or a controller
	 * reassigning) must not be overwritten with a stale layout. */
	zkb_req_submitted(&b->reqs[0], zk_set(zk, topic_path, json, strlen(json), version,
					      zkb_on_stat, &b->reqs[0]));
	if (zkb_batch_wait(zk, b, &d)) {
		b = NULL;
		brook_errstr(errstr, errstr_size, "%s: no answer from ZooKeeper within %d ms; the "
			     "partitions may or may not have been added", topic_path, d.timeout_ms);
		err = BROOK_ERR__TIMED_OUT;
		goto done;
	}
	if ((err = b->reqs[0].err)) {
		if (err == BROOK_ERR__VERSION)
			brook_errstr(errstr, errstr_size, "topic \"%s\" changed while "
				     "partitions were being added; try again", topic);
		else if (err == BROOK_ERR__NOENT) {
			brook_errstr(errstr, errstr_size, "topic \"%s\" does not exist", topic);
			err = BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		} else
			zkb_path_error(errstr, errstr_size, topic_path, err, &d);
	}
done:
	zkb_batch_free(b);
	zk_topic_assignment_free(cur);
	zk_topic_assignment_free(next);
	free(brokers);
	free(json);
	return err;
}

brook_err_t admin_topic_delete(zk_session_t *zk, const char *topic, int timeout_ms, char *errstr,
			       size_t errstr_size)
{
	char topic_path[ZK_PATH_MAX], mark_path[ZK_PATH_MAX];
	zkb_batch_t *b;
	zkb_deadline_t d;
	brook_err_t err;

	zkb_deadline_init(&d, timeout_ms);
	if ((err = zk_topic_validate(topic, errstr, errstr_size)))
		return err;
	zk_path_topic(topic_path, sizeof(topic_path), topic);
	zk_path_delete_topic(mark_path, sizeof(mark_path), topic);
	if ((err = ensure_paths(zk, &d, errstr, errstr_size)))
		return err;
	if (!(b = zkb_batch_new(1)))
		return zkb_nomem(errstr, errstr_size);
	zkb_req_submitted(&b->reqs[0], zk_exists(zk, topic_path, NULL, zkb_on_stat, &b->reqs[0]));
	if (zkb_batch_wait(zk, b, &d))
		return zkb_path_error(errstr, errstr_size, topic_path, BROOK_ERR__TIMED_OUT, &d);
	if ((err = b->reqs[0].err)) {
		zkb_batch_free(b);
		if (err != BROOK_ERR__NOENT)
			return zkb_path_error(errstr, errstr_size, topic_path, err, &d);
		brook_errstr(errstr, errstr_size, "topic \"%s\" does not exist", topic);
		return BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	zkb_batch_free(b);
	if (!(b = zkb_batch_new(1)))
		return zkb_nomem(errstr, errstr_size);
	/* Kafka's request znode carries no data: its name is the request. */
	zkb_req_submitted(&b->reqs[0], zk_create(zk, mark_path, NULL, 0, ZK_PERSISTENT,
						 zkb_on_create, &b->reqs[0]));
	if (zkb_batch_wait(zk, b, &d))
		return zkb_path_error(errstr, errstr_size, mark_path, BROOK_ERR__TIMED_OUT, &d);
	if ((err = b->reqs[0].err)) {
		if (err == BROOK_ERR__EXISTS)
			brook_errstr(errstr, errstr_size,
				     "topic \"%s\" is already marked for deletion", topic);
		else
			zkb_path_error(errstr, errstr_size, mark_path, err, &d);
	}
	zkb_batch_free(b);
	return err;
}

brook_err_t admin_topic_delete_pending(zk_session_t *zk, const char *topic, int *pending,
				       int timeout_ms, char *errstr, size_t errstr_size)
{
	char mark_path[ZK_PATH_MAX];
	zkb_batch_t *b;
	zkb_deadline_t d;
	brook_err_t err;

	*pending = 0;
	zkb_deadline_init(&d, timeout_ms);
	if ((err = zk_topic_validate(topic, errstr, errstr_size)))
		return err;
	zk_path_delete_topic(mark_path, sizeof(mark_path), topic);
	if (!(b = zkb_batch_new(1)))
		return zkb_nomem(errstr, errstr_size);
	zkb_req_submitted(&b->reqs[0], zk_exists(zk, mark_path, NULL, zkb_on_stat, &b->reqs[0]));
	if (zkb_batch_wait(zk, b, &d))
		return zkb_path_error(errstr, errstr_size, mark_path, BROOK_ERR__TIMED_OUT, &d);
	err = b->reqs[0].err;
	zkb_batch_free(b);
	if (err == BROOK_ERR__NOENT)
		return BROOK_ERR_NO_ERROR;
	if (err)
		return zkb_path_error(errstr, errstr_size, mark_path, err, &d);
	*pending = 1;
	return BROOK_ERR_NO_ERROR;
}

/* --- cluster ----------------------------------------------------------------------- */

void admin_broker_list_free(admin_broker_list_t *l)
{
	if (!l)
		return;
	free(l->brokers);
	free(l->ids);
	free(l);
}

brook_err_t admin_brokers_list(zk_session_t *zk, admin_broker_list_t **out, int timeout_ms,
			       char *errstr, size_t errstr_size)
{
	admin_broker_list_t *l = NULL;
	int32_t *ids = NULL;
	size_t n = 0;
	char path[ZK_PATH_MAX], reason[512];
	zkb_batch_t *b;
	zkb_deadline_t d;
	brook_err_t err;

	*out = NULL;
	zkb_deadline_init(&d, timeout_ms);
	if (!(b = zkb_batch_new(1)))
		return zkb_nomem(errstr, errstr_size);
	zkb_req_submitted(&b->reqs[0], zk_get_children(zk, ZK_PATH_BROKER_IDS, NULL,
						       zkb_on_children, &b->reqs[0]));
	if (zkb_batch_wait(zk, b, &d))
		return zkb_path_error(errstr, errstr_size, ZK_PATH_BROKER_IDS, BROOK_ERR__TIMED_OUT,
				      &d);
	err = broker_ids_from(&b->reqs[0], &ids, &n, errstr, errstr_size, &d);
	zkb_batch_free(b);
	b = NULL;
	if (err)
		return err;
	if (!(l = calloc(1, sizeof(*l))) ||
	    !(l->brokers = calloc(n ? n : 1, sizeof(*l->brokers))) ||
	    !(l->ids = calloc(n ? n : 1, sizeof(*l->ids))) || !(b = zkb_batch_new(n))) {
		err = zkb_nomem(errstr, errstr_size);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		zk_path_broker(path, sizeof(path), ids[i]);
		zkb_req_submitted(&b->reqs[i], zk_get(zk, path, NULL, zkb_on_data, &b->reqs[i]));
	}
	if (zkb_batch_wait(zk, b, &d)) {
		b = NULL;
		err = zkb_path_error(errstr, errstr_size, ZK_PATH_BROKER_IDS, BROOK_ERR__TIMED_OUT,
				     &d);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		zkb_req_t *r = &b->reqs[i];

		/* A broker that went away between the two reads. */
		if (r->err == BROOK_ERR__NOENT)
			continue;
		zk_path_broker(path, sizeof(path), ids[i]);
		if ((err = r->err)) {
			zkb_path_error(errstr, errstr_size, path, err, &d);
			goto done;
		}
		if ((err = zk_json_broker_decode(r->data, r->len, &l->brokers[l->cnt], reason,
						 sizeof(reason)))) {
			brook_errstr_at(errstr, errstr_size, path, "%s", reason);
			goto done;
		}
		l->ids[l->cnt++] = ids[i];
	}
	*out = l;
	l = NULL;
done:
	zkb_batch_free(b);
	admin_broker_list_free(l);
	free(ids);
	return err;
}

/* Reads one znode; the caller reads (*out)->reqs[0] and frees *out. */
static brook_err_t get_one(zk_session_t *zk, const char *path, zkb_batch_t **out,
			   const zkb_deadline_t *d, char *errstr, size_t errstr_size)
{
	zkb_batch_t *b = zkb_batch_new(1);

	*out = NULL;
	if (!b)
		return zkb_nomem(errstr, errstr_size);
	zkb_req_submitted(&b->reqs[0], zk_get(zk, path, NULL, zkb_on_data, &b->reqs[0]));
	if (zkb_batch_wait(zk, b, d))
		return zkb_path_error(errstr, errstr_size, path, BROOK_ERR__TIMED_OUT, d);
	*out = b;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t admin_controller_get(zk_session_t *zk, int32_t *broker_id, int timeout_ms,
				 char *errstr, size_t errstr_size)
{
	zk_controller_t c;
	char reason[512];
	zkb_batch_t *b;
	zkb_deadline_t d;
	brook_err_t err;

	*broker_id = -1;
	zkb_deadline_init(&d, timeout_ms);
	if ((err = get_one(zk, ZK_PATH_CONTROLLER, &b, &d, errstr, errstr_size)))
		return err;
	if ((err = b->reqs[0].err)) {
		if (err == BROOK_ERR__NOENT)
			err = BROOK_ERR_NO_ERROR;
		else
			zkb_path_error(errstr, errstr_size, ZK_PATH_CONTROLLER, err, &d);
	} else if ((err = zk_json_controller_decode(b->reqs[0].data, b->reqs[0].len, &c, reason,
						    sizeof(reason)))) {
		brook_errstr_at(errstr, errstr_size, ZK_PATH_CONTROLLER, "%s", reason);
	} else {
		*broker_id = c.broker_id;
	}
	zkb_batch_free(b);
	return err;
}

brook_err_t admin_cluster_id_get(zk_session_t *zk, char *buf, size_t size, int timeout_ms,
				 char *errstr, size_t errstr_size)
{
	zk_cluster_id_t c;
	char reason[512];
	zkb_batch_t *b;
	zkb_deadline_t d;
	brook_err_t err;

	if (size)
		buf[0] = '\0';
	zkb_deadline_init(&d, timeout_ms);
	if ((err = get_one(zk, ZK_PATH_CLUSTER_ID, &b, &d, errstr, errstr_size)))
		return err;
	if ((err = b->reqs[0].err)) {
		if (err == BROOK_ERR__NOENT)
			err = BROOK_ERR_NO_ERROR;
		else
			zkb_path_error(errstr, errstr_size, ZK_PATH_CLUSTER_ID, err, &d);
	} else if ((err = zk_json_cluster_id_decode(b->reqs[0].data, b->reqs[0].len, &c, reason,
						    sizeof(reason)))) {
		brook_errstr_at(errstr, errstr_size, ZK_PATH_CLUSTER_ID, "%s", reason);
	} else if (strlen(c.id) >= size) {
		brook_errstr(errstr, errstr_size, "cluster id does not fit the buffer");
		err = BROOK_ERR__INVALID_ARG;
	} else {
		memcpy(buf, c.id, strlen(c.id) + 1);
	}
	zkb_batch_free(b);
	return err;
}

/* --- preferred-replica election ----------------------------------------------- */

/* Appends {"topic":t,"partition":p} for each partition of one topic. */
static brook_err_t election_add_topic(zk_session_t *zk, const char *topic, char **json,
				      size_t *len, size_t *cap, int *count, const zkb_deadline_t *d,
				      char *errstr, size_t errstr_size)
{
	admin_topic_info_t *info;
	brook_err_t err;

	if ((err = admin_topic_describe(zk, topic, &info, zkb_deadline_left(d), errstr,
					errstr_size)))
		return err;
	for (int32_t p = 0; p < info->assignment->partition_cnt; p++) {
		size_t need = strlen(topic) + 64;

		if (*len + need + 4 > *cap) {
			size_t nc = (*cap + need) * 2;
			char *nj = realloc(*json, nc);

			if (!nj) {
				admin_topic_info_free(info);
				return zkb_nomem(errstr, errstr_size);
			}
			*json = nj;
			*cap = nc;
		}
		*len += (size_t)snprintf(*json + *len, *cap - *len, "%s{\"topic\":\"%s\",\"partition\":%d}",
					 *count ? "," : "", topic, (int)p);
		(*count)++;
	}
	admin_topic_info_free(info);
	return BROOK_ERR_NO_ERROR;
}

brook_err_t admin_preferred_election(zk_session_t *zk, const char *topic, int *count,
				     int timeout_ms, char *errstr, size_t errstr_size)
{
	size_t len = 0, cap = 256;
	char *json = malloc(cap);
	admin_topic_list_t *list = NULL;
	zkb_batch_t *b;
	zkb_deadline_t d;
	brook_err_t err = BROOK_ERR_NO_ERROR;

	*count = 0;
	zkb_deadline_init(&d, timeout_ms);
	if (!json)
		return zkb_nomem(errstr, errstr_size);
	len = (size_t)snprintf(json, cap, "{\"version\":1,\"partitions\":[");
	if (topic) {
		err = election_add_topic(zk, topic, &json, &len, &cap, count, &d, errstr, errstr_size);
	} else if (!(err = admin_topic_list(zk, &list, zkb_deadline_left(&d), errstr,
					    errstr_size))) {
		for (size_t i = 0; i < list->cnt && !err; i++)
			if (!list->marked_for_deletion[i])
				err = election_add_topic(zk, list->names[i], &json, &len, &cap, count, &d,
							 errstr, errstr_size);
		admin_topic_list_free(list);
	}
	if (err || *count == 0) {
		free(json);
		if (!err)
			brook_errstr(errstr, errstr_size, "no partitions to elect");
		return err ? err : BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	len += (size_t)snprintf(json + len, cap - len, "]}");
	if ((err = ensure_paths(zk, &d, errstr, errstr_size)) || !(b = zkb_batch_new(1))) {
		free(json);
		return err ? err : zkb_nomem(errstr, errstr_size);
	}
	zkb_req_submitted(&b->reqs[0], zk_create(zk, ZK_PATH_PREFERRED_ELECTION, json, len,
					      ZK_PERSISTENT, zkb_on_create, &b->reqs[0]));
	free(json);
	if (zkb_batch_wait(zk, b, &d))
		return zkb_path_error(errstr, errstr_size, ZK_PATH_PREFERRED_ELECTION,
				      BROOK_ERR__TIMED_OUT,
				      &d);
	err = b->reqs[0].err;
	zkb_batch_free(b);
	if (err == BROOK_ERR__EXISTS) {
		brook_errstr(errstr, errstr_size, "a preferred-leader election is already pending (%s)",
			     ZK_PATH_PREFERRED_ELECTION);
		return err;
	}
	if (err)
		return zkb_path_error(errstr, errstr_size, ZK_PATH_PREFERRED_ELECTION, err, &d);
	/* the controller removes the node once it has acted on it */
	for (;;) {
		if (!(b = zkb_batch_new(1)))
			return zkb_nomem(errstr, errstr_size);
		zkb_req_submitted(&b->reqs[0], zk_exists(zk, ZK_PATH_PREFERRED_ELECTION, NULL,
							 zkb_on_stat, &b->reqs[0]));
		if (zkb_batch_wait(zk, b, &d))
			break;
		err = b->reqs[0].err;
		zkb_batch_free(b);
		if (err == BROOK_ERR__NOENT)
			return BROOK_ERR_NO_ERROR;
		if (zkb_deadline_left(&d) <= 0)
			break;
		usleep(50000);
	}
	brook_errstr(errstr, errstr_size,
		     "no controller acted on the election within %d ms; %s stays for the next one",
		     d.timeout_ms, ZK_PATH_PREFERRED_ELECTION);
	return BROOK_ERR__TIMED_OUT;
}
