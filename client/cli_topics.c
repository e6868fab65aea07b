/*
 * cli_topics.c - `brook topics ACTION`: create, list, describe, alter and
 * delete topics through ZooKeeper (admin.h), with kafka-topics.sh's
 * option names and describe output, so Kafka users read it at a glance.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "admin.h"
#include "cli.h"
#include "zk_paths.h"

#define SUB "topics"

typedef enum action {
	ACT_NONE,
	ACT_CREATE,
	ACT_LIST,
	ACT_DESCRIBE,
	ACT_ALTER,
	ACT_DELETE,
	ACT_PREFERRED_LEADER,
} action_t;

#define A(x) (1u << (x))

static const struct {
	const char *name;
	action_t action;
} actions[] = {
	{ "create", ACT_CREATE },
	{ "list", ACT_LIST },
	{ "describe", ACT_DESCRIBE },
	{ "alter", ACT_ALTER },
	{ "delete", ACT_DELETE },
	{ "preferred-leader", ACT_PREFERRED_LEADER },
	{ NULL, ACT_NONE },
};

/* getopt_long values; also the index into opt_rules. */
enum {
	OPT_ZOOKEEPER = 'z',
	OPT_HELP = 'h',
	OPT_TOPIC = 256,
	OPT_PARTITIONS,
	OPT_REPLICATION_FACTOR,
	OPT_CONFIG,
	OPT_REPLICA_ASSIGNMENT,
	OPT_IF_NOT_EXISTS,
	OPT_IF_EXISTS,
	OPT_TIMEOUT_MS,
	OPT_ACTION_CREATE,        /* --create etc., kafka-topics.sh style */
	OPT_ACTION_LIST,
	OPT_ACTION_DESCRIBE,
	OPT_ACTION_ALTER,
	OPT_ACTION_DELETE,
};

static const struct option long_options[] = {
	{ "zookeeper", required_argument, NULL, OPT_ZOOKEEPER },
	{ "topic", required_argument, NULL, OPT_TOPIC },
	{ "partitions", required_argument, NULL, OPT_PARTITIONS },
	{ "replication-factor", required_argument, NULL, OPT_REPLICATION_FACTOR },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "replica-assignment", required_argument, NULL, OPT_REPLICA_ASSIGNMENT },
	{ "if-not-exists", no_argument, NULL, OPT_IF_NOT_EXISTS },
	{ "if-exists", no_argument, NULL, OPT_IF_EXISTS },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
	{ "create", no_argument, NULL, OPT_ACTION_CREATE },
	{ "list", no_argument, NULL, OPT_ACTION_LIST },
	{ "describe", no_argument, NULL, OPT_ACTION_DESCRIBE },
	{ "alter", no_argument, NULL, OPT_ACTION_ALTER },
	{ "delete", no_argument, NULL, OPT_ACTION_DELETE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Which actions accept which option: one table instead of a check per
 * action. */
static const struct {
	int opt;
	const char *name;
	unsigned actions;
} opt_rules[] = {
	{ OPT_TOPIC, "--topic",
	  A(ACT_CREATE) | A(ACT_LIST) | A(ACT_DESCRIBE) | A(ACT_ALTER) | A(ACT_DELETE) |
		  A(ACT_PREFERRED_LEADER) },
	{ OPT_PARTITIONS, "--partitions", A(ACT_CREATE) | A(ACT_ALTER) },
	{ OPT_REPLICATION_FACTOR, "--replication-factor", A(ACT_CREATE) },
	{ OPT_CONFIG, "--config", A(ACT_CREATE) },
	{ OPT_REPLICA_ASSIGNMENT, "--replica-assignment", A(ACT_CREATE) | A(ACT_ALTER) },
	{ OPT_IF_NOT_EXISTS, "--if-not-exists", A(ACT_CREATE) },
	{ OPT_IF_EXISTS, "--if-exists", A(ACT_DESCRIBE) | A(ACT_ALTER) | A(ACT_DELETE) },
	{ 0, NULL, 0 },
};

typedef struct topics_opts {
	action_t action;
	const char *zookeeper;
	const char *topic;
	const char *assignment_text;
	int32_t partitions;           /* -1: not given */
	int32_t replication_factor;   /* -1: not given */
	zk_topic_config_t *config;
	int if_not_exists, if_exists;
	int timeout_ms;
	unsigned seen_rules;          /* bit i: opt_rules[i] was given */
} topics_opts_t;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: brook topics -z CONNECT ACTION [OPTIONS]\n"
		"\n"
		"Actions:\n"
		"  create    --topic T --partitions N --replication-factor R [--config k=v]...\n"
		"            [--if-not-exists]\n"
		"  create    --topic T --replica-assignment 1:2,2:3,... [--config k=v]...\n"
		"            (',' between partitions, ':' between the replicas of one; the first\n"
		"            replica is the preferred leader)\n"
		"  list      [--topic T]\n"
		"  describe  [--topic T] [--if-exists]\n"
		"  alter     --topic T --partitions N [--replica-assignment ...] [--if-exists]\n"
		"            (partitions can only be added; existing ones stay where they are)\n"
		"  delete    --topic T [--if-exists]\n"
		"            (marks the topic for deletion; the controller deletes it)\n"
		"  preferred-leader [--topic T]\n"
		"            (moves leadership back to each partition's first replica where it\n"
		"            is in sync; every topic without --topic)\n"
		"\n"
		"Options:\n"
		"  -z, --zookeeper CONNECT  ZooKeeper connect string\n"
		"                           host:port[,host:port...][/chroot]\n"
		"      --timeout-ms MS      bound for connecting and for each action (default %d)\n"
		"  -h, --help               this help\n"
		"\n"
		"Topic configs (--config key=value):\n\n",
		ADMIN_TIMEOUT_MS_DEFAULT);
	conf_print_help(admin_topic_config_table(), out);
}

static const char *action_name(action_t a)
{
	for (int i = 0; actions[i].name; i++)
		if (actions[i].action == a)
			return actions[i].name;
	return "none";
}

static int set_action(topics_opts_t *o, action_t a)
{
	if (o->action != ACT_NONE && o->action != a)
		return cli_usage_error(SUB, "two actions: %s and %s", action_name(o->action),
				       action_name(a));
	o->action = a;
	return CLI_OK;
}

static int add_config(topics_opts_t *o, const char *pair)
{
	const char *eq = strchr(pair, '=');
	char key[ZK_CONFIG_NAME_MAX + 1];
	size_t klen;

	if (!eq || eq == pair)
		return cli_usage_error(SUB, "--config %s: expected key=value", pair);
	klen = (size_t)(eq - pair);
	if (klen > ZK_CONFIG_NAME_MAX)
		return cli_usage_error(SUB, "--config %.64s...: key too long", pair);
	memcpy(key, pair, klen);
	key[klen] = '\0';
	if (!o->config && !(o->config = zk_topic_config_new())) {
		cli_error(SUB, "out of memory");
		return CLI_FAIL;
	}
	/* A key given twice is usually a typo; say so rather than pick one. */
	if (zk_topic_config_get(o->config, key))
		return cli_usage_error(SUB, "--config %s given twice", key);
	if (zk_topic_config_set(o->config, key, eq + 1) != BROOK_ERR_NO_ERROR)
		return cli_usage_error(SUB, "--config %s: not a valid key=value", pair);
	return CLI_OK;
}

static void note_rule(topics_opts_t *o, int opt)
{
	for (unsigned i = 0; opt_rules[i].name; i++)
		if (opt_rules[i].opt == opt)
			o->seen_rules |= 1u << i;
}

/* Returns CLI_OK, or an exit status; *help is set for --help. */
static int parse_args(int argc, char **argv, topics_opts_t *o, int *help)
{
	long long v;
	int c, rc;

	o->partitions = o->replication_factor = -1;
	o->timeout_ms = ADMIN_TIMEOUT_MS_DEFAULT;
	*help = 0;
	optind = 1;
	opterr = 0;
	/* "-": the action may come before, between or after the options,
	 * whatever POSIXLY_CORRECT says; ":": we word the errors. */
	while ((c = getopt_long(argc, argv, "-:z:h", long_options, NULL)) != -1) {
		rc = CLI_OK;
		note_rule(o, c);
		switch (c) {
		case 1: {
			action_t a = ACT_NONE;

			for (int i = 0; actions[i].name; i++)
				if (strcmp(optarg, actions[i].name) == 0)
					a = actions[i].action;
			if (a == ACT_NONE)
				return cli_usage_error(SUB, "unknown action \"%s\"", optarg);
			rc = set_action(o, a);
			break;
		}
		case OPT_ACTION_CREATE: rc = set_action(o, ACT_CREATE); break;
		case OPT_ACTION_LIST: rc = set_action(o, ACT_LIST); break;
		case OPT_ACTION_DESCRIBE: rc = set_action(o, ACT_DESCRIBE); break;
		case OPT_ACTION_ALTER: rc = set_action(o, ACT_ALTER); break;
		case OPT_ACTION_DELETE: rc = set_action(o, ACT_DELETE); break;
		case OPT_ZOOKEEPER: o->zookeeper = optarg; break;
		case OPT_TOPIC: o->topic = optarg; break;
		case OPT_PARTITIONS:
			if (cli_parse_ll(optarg, 1, ZK_MAX_PARTITIONS, &v))
				return cli_usage_error(SUB, "--partitions %s: must be a number from 1 "
						       "to 100000", optarg);
			o->partitions = (int32_t)v;
			break;
		case OPT_REPLICATION_FACTOR:
			if (cli_parse_ll(optarg, 1, ZK_MAX_REPLICAS, &v))
				return cli_usage_error(SUB, "--replication-factor %s: must be a number "
						       "from 1 to 64", optarg);
			o->replication_factor = (int32_t)v;
			break;
		case OPT_CONFIG: rc = add_config(o, optarg); break;
		case OPT_REPLICA_ASSIGNMENT: o->assignment_text = optarg; break;
		case OPT_IF_NOT_EXISTS: o->if_not_exists = 1; break;
		case OPT_IF_EXISTS: o->if_exists = 1; break;
		case OPT_TIMEOUT_MS:
			if (cli_parse_ll(optarg, 1, 3600 * 1000, &v))
				return cli_usage_error(SUB, "--timeout-ms %s: must be a number of "
						       "milliseconds from 1 to 3600000", optarg);
			o->timeout_ms = (int)v;
			break;
		case OPT_HELP: *help = 1; return CLI_OK;
		case ':': return cli_usage_error(SUB, "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error(SUB, "unknown option %s", argv[optind - 1]);
		}
		if (rc != CLI_OK)
			return rc;
	}
	if (o->action == ACT_NONE)
		return cli_usage_error(SUB, "%s", "no action: create, list, describe, alter or delete");
	if (!o->zookeeper)
		return cli_usage_error(SUB, "%s", "-z/--zookeeper CONNECT is required");
	for (unsigned i = 0; opt_rules[i].name; i++)
		if ((o->seen_rules & (1u << i)) && !(opt_rules[i].actions & A(o->action)))
			return cli_usage_error(SUB, "%s does not apply to this action", opt_rules[i].name);
	if ((o->action == ACT_CREATE || o->action == ACT_ALTER || o->action == ACT_DELETE) &&
	    !o->topic)
		return cli_usage_error(SUB, "%s", "--topic is required");
	if (o->action == ACT_CREATE) {
		if (o->assignment_text && (o->partitions >= 0 || o->replication_factor >= 0))
			return cli_usage_error(SUB, "%s", "--replica-assignment replaces --partitions and "
					       "--replication-factor");
		if (!o->assignment_text && o->partitions < 0)
			return cli_usage_error(SUB, "%s", "--partitions is required");
		if (!o->assignment_text && o->replication_factor < 0)
			return cli_usage_error(SUB, "%s", "--replication-factor is required");
	}
	if (o->action == ACT_ALTER && o->partitions < 0)
		return cli_usage_error(SUB, "%s", "--partitions is required");
	return CLI_OK;
}

/* --- actions ---------------------------------------------------------------- */

static int fail(const char *errstr)
{
	cli_error(SUB, "%s", errstr);
	return CLI_FAIL;
}

static int do_create(zk_session_t *zk, const topics_opts_t *o)
{
	admin_topic_spec_t spec = ADMIN_TOPIC_SPEC_INIT;
	zk_topic_assignment_t *a = NULL;
	char errstr[512];
	brook_err_t err;

	if (o->assignment_text &&
	    admin_parse_replica_assignment(o->assignment_text, &a, errstr, sizeof(errstr)))
		return fail(errstr);
	spec.partitions = o->partitions;
	spec.replication_factor = o->replication_factor;
	spec.assignment = a;
	spec.config = o->config;
	spec.if_not_exists = o->if_not_exists;
	err = admin_topic_create(zk, o->topic, &spec, o->timeout_ms, errstr, sizeof(errstr));
	zk_topic_assignment_free(a);
	if (err)
		return fail(errstr);
	/* With --if-not-exists and an existing topic, Kafka says nothing. */
	if (!o->if_not_exists)
		printf("Created topic %s.\n", o->topic);
	return CLI_OK;
}

static int do_list(zk_session_t *zk, const topics_opts_t *o)
{
	admin_topic_list_t *l;
	char errstr[512];

	if (admin_topic_list(zk, &l, o->timeout_ms, errstr, sizeof(errstr)))
		return fail(errstr);
	for (size_t i = 0; i < l->cnt; i++) {
		if (o->topic && strcmp(o->topic, l->names[i]) != 0)
			continue;
		printf("%s%s\n", l->names[i],
		       l->marked_for_deletion[i] ? " - marked for deletion" : "");
	}
	admin_topic_list_free(l);
	return CLI_OK;
}

static void print_ids(const int32_t *ids, int32_t cnt)
{
	for (int32_t i = 0; i < cnt; i++)
		printf("%s%" PRId32, i ? "," : "", ids[i]);
}

/* kafka-topics.sh --describe: one line for the topic, one per partition. */
static void print_topic(const admin_topic_info_t *t)
{
	const char *marked = t->marked_for_deletion ? "\tMarkedForDeletion: true" : "";

	printf("Topic: %s\tPartitionCount: %" PRId32 "\tReplicationFactor: %" PRId32 "\tConfigs: ",
	       t->name, t->assignment->partition_cnt, admin_topic_info_replication_factor(t));
	for (size_t i = 0; i < t->config->cnt; i++)
		printf("%s%s=%s", i ? "," : "", t->config->entries[i].name,
		       t->config->entries[i].value);
	printf("%s\n", marked);
	for (int32_t p = 0; p < t->assignment->partition_cnt; p++) {
		const admin_partition_info_t *pi = &t->partitions[p];

		printf("\tTopic: %s\tPartition: %" PRId32 "\tLeader: ", t->name, p);
		/* No state znode yet, or leader -1: either way nobody leads. */
		if (pi->has_state && pi->state.leader >= 0)
			printf("%" PRId32, pi->state.leader);
		else
			printf("none");
		printf("\tReplicas: ");
		print_ids(t->assignment->partitions[p].ids, t->assignment->partitions[p].cnt);
		printf("\tIsr: ");
		if (pi->has_state)
			print_ids(pi->state.isr, pi->state.isr_cnt);
		printf("%s\n", marked);
	}
}

static int do_describe(zk_session_t *zk, const topics_opts_t *o)
{
	admin_topic_list_t *l = NULL;
	admin_topic_info_t *t;
	char errstr[512];
	brook_err_t err;

	if (o->topic) {
		err = admin_topic_describe(zk, o->topic, &t, o->timeout_ms, errstr, sizeof(errstr));
		if (err == BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION && o->if_exists)
			return CLI_OK;
		if (err)
			return fail(errstr);
		print_topic(t);
		admin_topic_info_free(t);
		return CLI_OK;
	}
	if (admin_topic_list(zk, &l, o->timeout_ms, errstr, sizeof(errstr)))
		return fail(errstr);
	for (size_t i = 0; i < l->cnt; i++) {
		err = admin_topic_describe(zk, l->names[i], &t, o->timeout_ms, errstr,
					   sizeof(errstr));
		if (err == BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION)
			continue; /* deleted since we listed it */
		if (err) {
			admin_topic_list_free(l);
			return fail(errstr);
		}
		print_topic(t);
		admin_topic_info_free(t);
	}
	admin_topic_list_free(l);
	return CLI_OK;
}

static int do_alter(zk_session_t *zk, const topics_opts_t *o)
{
	zk_topic_assignment_t *a = NULL;
	char errstr[512];
	brook_err_t err;

	if (o->assignment_text &&
	    admin_parse_replica_assignment(o->assignment_text, &a, errstr, sizeof(errstr)))
		return fail(errstr);
	err = admin_topic_alter_partitions(zk, o->topic, o->partitions, a, o->timeout_ms, errstr,
					   sizeof(errstr));
	zk_topic_assignment_free(a);
	if (err == BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION && o->if_exists)
		return CLI_OK;
	if (err)
		return fail(errstr);
	printf("Topic %s now has %" PRId32 " partitions.\n", o->topic, o->partitions);
	return CLI_OK;
}

static int do_delete(zk_session_t *zk, const topics_opts_t *o)
{
	char errstr[512];
	brook_err_t err;

	err = admin_topic_delete(zk, o->topic, o->timeout_ms, errstr, sizeof(errstr));
	if (err == BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION && o->if_exists)
		return CLI_OK;
	/* Asking twice is not a failure: the request stands (Kafka too). */
	if (err == BROOK_ERR__EXISTS) {
		printf("Topic %s is already marked for deletion.\n", o->topic);
		return CLI_OK;
	}
	if (err)
		return fail(errstr);
	printf("Topic %s is marked for deletion.\n"
	       "Note: the controller deletes it; until then the request waits in "
	       ZK_PATH_DELETE_TOPICS "/%s.\n", o->topic, o->topic);
	return CLI_OK;
}

static int do_preferred_leader(zk_session_t *zk, const topics_opts_t *o)
{
	char errstr[512];
	int count = 0;

	if (admin_preferred_election(zk, o->topic, &count, o->timeout_ms, errstr, sizeof(errstr)))
		return fail(errstr);
	printf("Preferred-leader election done for %d partition(s).\n", count);
	return CLI_OK;
}

int cli_topics(int argc, char **argv)
{
	topics_opts_t o;
	struct ev_loop *loop;
	zk_session_t *zk = NULL;
	char errstr[512];
	int help, rc;

	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, &o, &help);
	if (rc != CLI_OK || help) {
		if (help)
			usage(stdout);
		zk_topic_config_free(o.config);
		return rc;
	}
	if (!(loop = ev_loop_new(EVFLAG_AUTO))) {
		zk_topic_config_free(o.config);
		cli_error(SUB, "cannot create an event loop");
		return CLI_FAIL;
	}
	if (admin_session_open(loop, o.zookeeper, o.timeout_ms, ADMIN_SESSION_QUIET, &zk, errstr,
			       sizeof(errstr))) {
		rc = fail(errstr);
	} else {
		switch (o.action) {
		case ACT_CREATE: rc = do_create(zk, &o); break;
		case ACT_LIST: rc = do_list(zk, &o); break;
		case ACT_DESCRIBE: rc = do_describe(zk, &o); break;
		case ACT_ALTER: rc = do_alter(zk, &o); break;
		case ACT_DELETE: rc = do_delete(zk, &o); break;
		case ACT_PREFERRED_LEADER: rc = do_preferred_leader(zk, &o); break;
		case ACT_NONE: rc = CLI_USAGE; break;
		}
	}
	zk_session_free(zk);
	ev_loop_destroy(loop);
	zk_topic_config_free(o.config);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error(SUB, "cannot write the output: %s", strerror(errno));
		return CLI_FAIL;
	}
	return rc;
}
