/*
 * cli_groups.c - `brook groups ACTION`: list, describe, reset the offsets
 * of and delete consumer groups kept in ZooKeeper (group_admin.h), with
 * the option names and describe columns of Kafka's ZooKeeper-era
 * kafka-consumer-groups.sh --zookeeper.
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
#include "group_admin.h"

#define SUB "groups"

typedef enum action {
	ACT_NONE,
	ACT_LIST,
	ACT_DESCRIBE,
	ACT_RESET,
	ACT_DELETE,
} action_t;

static const struct {
	const char *name;
	action_t action;
} actions[] = {
	{ "list", ACT_LIST },
	{ "describe", ACT_DESCRIBE },
	{ "reset-offsets", ACT_RESET },
	{ "delete", ACT_DELETE },
	{ NULL, ACT_NONE },
};

enum {
	OPT_ZOOKEEPER = 'z',
	OPT_HELP = 'h',
	OPT_GROUP = 256,
	OPT_TOPIC,
	OPT_TO_EARLIEST,
	OPT_TO_LATEST,
	OPT_TO_OFFSET,
	OPT_SHIFT_BY,
	OPT_DRY_RUN,
	OPT_TIMEOUT_MS,
};

static const struct option long_options[] = {
	{ "zookeeper", required_argument, NULL, OPT_ZOOKEEPER },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "topic", required_argument, NULL, OPT_TOPIC },
	{ "to-earliest", no_argument, NULL, OPT_TO_EARLIEST },
	{ "to-latest", no_argument, NULL, OPT_TO_LATEST },
	{ "to-offset", required_argument, NULL, OPT_TO_OFFSET },
	{ "shift-by", required_argument, NULL, OPT_SHIFT_BY },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

typedef struct groups_opts {
	action_t action;
	const char *zookeeper;
	const char *group;
	const char *topic;
	int has_reset;                /* one of --to-* / --shift-by given */
	group_reset_how_t how;
	int64_t value;
	int dry_run;
	int timeout_ms;
} groups_opts_t;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: brook groups -z CONNECT ACTION [OPTIONS]\n"
		"\n"
		"Actions:\n"
		"  list\n"
		"  describe       --group G   (or: describe G)\n"
		"                 per partition: current offset, log end offset, lag, owner;\n"
		"                 then the members and their subscriptions\n"
		"  reset-offsets  --group G --topic T (--to-earliest | --to-latest |\n"
		"                 --to-offset N | --shift-by N) [--dry-run]\n"
		"                 (refused while the group has members; new offsets stay\n"
		"                 within the log's earliest and latest offsets)\n"
		"  delete         --group G   (refused while the group has members)\n"
		"\n"
		"Options:\n"
		"  -z, --zookeeper CONNECT  ZooKeeper connect string\n"
		"                           host:port[,host:port...][/chroot]\n"
		"      --timeout-ms MS      bound for connecting and for each action (default %d)\n"
		"  -h, --help               this help\n",
		ADMIN_TIMEOUT_MS_DEFAULT);
}

static int set_reset(groups_opts_t *o, group_reset_how_t how, const char *name, const char *arg,
		     int64_t min)
{
	long long v = 0;

	if (o->has_reset)
		return cli_usage_error(SUB, "%s: only one of --to-earliest, --to-latest, --to-offset and "
				       "--shift-by", name);
	if (arg && cli_parse_ll(arg, min, INT64_MAX, &v))
		return cli_usage_error(SUB, "%s %s: must be %s", name, arg,
				       min < 0 ? "an integer" : "a non-negative integer");
	if (arg)
		o->value = v;
	o->has_reset = 1;
	o->how = how;
	return CLI_OK;
}

/* Returns CLI_OK, or an exit status; *help is set for --help. */
static int parse_args(int argc, char **argv, groups_opts_t *o, int *help)
{
	int c, rc;
	long long t;

	o->timeout_ms = ADMIN_TIMEOUT_MS_DEFAULT;
	*help = 0;
	optind = 1;
	opterr = 0;
	/* "-": the action (and describe's group) may come anywhere; ":": we
	 * word the errors. */
	while ((c = getopt_long(argc, argv, "-:z:h", long_options, NULL)) != -1) {
		rc = CLI_OK;
		switch (c) {
		case 1:
			if (o->action == ACT_NONE) {
				for (int i = 0; actions[i].name; i++)
					if (strcmp(optarg, actions[i].name) == 0)
						o->action = actions[i].action;
				if (o->action == ACT_NONE)
					return cli_usage_error(SUB, "unknown action \"%s\"", optarg);
			} else if (o->action == ACT_DESCRIBE && !o->group) {
				o->group = optarg; /* `describe G` */
			} else {
				return cli_usage_error(SUB, "unexpected argument \"%s\"", optarg);
			}
			break;
		case OPT_ZOOKEEPER: o->zookeeper = optarg; break;
		case OPT_GROUP:
			if (o->group)
				return cli_usage_error(SUB, "%s", "the group is given twice");
			o->group = optarg;
			break;
		case OPT_TOPIC: o->topic = optarg; break;
		case OPT_TO_EARLIEST:
			rc = set_reset(o, GROUP_RESET_EARLIEST, "--to-earliest", NULL, 0);
			break;
		case OPT_TO_LATEST:
			rc = set_reset(o, GROUP_RESET_LATEST, "--to-latest", NULL, 0);
			break;
		case OPT_TO_OFFSET:
			rc = set_reset(o, GROUP_RESET_TO_OFFSET, "--to-offset", optarg, 0);
			break;
		case OPT_SHIFT_BY:
			rc = set_reset(o, GROUP_RESET_SHIFT_BY, "--shift-by", optarg, INT64_MIN);
			break;
		case OPT_DRY_RUN: o->dry_run = 1; break;
		case OPT_TIMEOUT_MS:
			if (cli_parse_ll(optarg, 1, 3600 * 1000, &t))
				return cli_usage_error(SUB, "--timeout-ms %s: must be a number of "
						       "milliseconds from 1 to 3600000", optarg);
			o->timeout_ms = (int)t;
			break;
		case OPT_HELP: *help = 1; return CLI_OK;
		case ':': return cli_usage_error(SUB, "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error(SUB, "unknown option %s", argv[optind - 1]);
		}
		if (rc != CLI_OK)
			return rc;
	}
	if (o->action == ACT_NONE)
		return cli_usage_error(SUB, "%s", "no action: list, describe, reset-offsets or delete");
	if (!o->zookeeper)
		return cli_usage_error(SUB, "%s", "-z/--zookeeper CONNECT is required");
	if (o->action == ACT_LIST && o->group)
		return cli_usage_error(SUB, "%s", "--group does not apply to list");
	if (o->action != ACT_LIST && !o->group)
		return cli_usage_error(SUB, "%s", "--group is required");
	if (o->action == ACT_RESET) {
		if (!o->topic)
			return cli_usage_error(SUB, "%s", "--topic is required");
		if (!o->has_reset)
			return cli_usage_error(SUB, "%s", "one of --to-earliest, --to-latest, --to-offset "
					       "or --shift-by is required");
	} else {
		if (o->topic)
			return cli_usage_error(SUB, "%s", "--topic only applies to reset-offsets");
		if (o->has_reset || o->dry_run)
			return cli_usage_error(SUB, "%s", "--to-*, --shift-by and --dry-run only apply to "
					       "reset-offsets");
	}
	return CLI_OK;
}

/* --- actions ---------------------------------------------------------------- */

static int fail(const char *errstr)
{
	cli_error(SUB, "%s", errstr);
	return CLI_FAIL;
}

static int do_list(zk_session_t *zk, const groups_opts_t *o)
{
	group_list_t *l;
	char errstr[512];

	if (group_admin_list(zk, &l, o->timeout_ms, errstr, sizeof(errstr)))
		return fail(errstr);
	for (size_t i = 0; i < l->cnt; i++)
		printf("%s\n", l->names[i]);
	group_list_free(l);
	return CLI_OK;
}

static void print_offset(int64_t v)
{
	if (v >= 0)
		printf("%" PRId64, v);
	else
		printf("-");
}

/* kafka-consumer-groups.sh --describe, tab-separated, then --members. */
static int do_describe(zk_session_t *zk, const groups_opts_t *o)
{
	group_info_t *g;
	char errstr[512];

	if (group_admin_describe(zk, o->group, 1, &g, o->timeout_ms, errstr, sizeof(errstr)))
		return fail(errstr);
	printf("TOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tOWNER\n");
	for (size_t i = 0; i < g->partition_cnt; i++) {
		const group_partition_t *p = &g->partitions[i];

		printf("%s\t%" PRId32 "\t", p->topic, p->partition);
		print_offset(p->offset);
		printf("\t");
		print_offset(p->log_end_offset);
		printf("\t");
		if (p->offset >= 0 && p->log_end_offset >= 0)
			printf("%" PRId64, p->log_end_offset - p->offset);
		else
			printf("-");
		printf("\t%s\n", p->owner && p->owner[0] ? p->owner : "-");
	}
	printf("\n");
	if (g->member_cnt == 0) {
		printf("Consumer group '%s' has no active members.\n", g->name);
	} else {
		printf("MEMBER\tPATTERN\tSUBSCRIPTION\n");
		for (size_t i = 0; i < g->member_cnt; i++) {
			const zk_consumer_member_t *r = g->members[i].reg;

			printf("%s\t%s\t", g->members[i].id, r->pattern);
			for (size_t s = 0; s < r->sub_cnt; s++)
				printf("%s%s:%" PRId32, s ? "," : "", r->subs[s].topic,
				       r->subs[s].streams);
			printf("\n");
		}
	}
	group_info_free(g);
	return CLI_OK;
}

static int do_reset(zk_session_t *zk, const groups_opts_t *o)
{
	group_reset_result_t *r;
	char errstr[512];

	if (group_admin_reset_offsets(zk, o->group, o->topic, o->how, o->value, o->dry_run, &r,
				      o->timeout_ms, errstr, sizeof(errstr)))
		return fail(errstr);
	printf("TOPIC\tPARTITION\tNEW-OFFSET\n");
	for (int32_t p = 0; p < r->cnt; p++)
		printf("%s\t%" PRId32 "\t%" PRId64 "\n", r->topic, p, r->new_offsets[p]);
	if (o->dry_run)
		printf("(dry run: nothing was written)\n");
	group_reset_result_free(r);
	return CLI_OK;
}

static int do_delete(zk_session_t *zk, const groups_opts_t *o)
{
	char errstr[512];
	size_t n;

	if (group_admin_delete(zk, o->group, &n, o->timeout_ms, errstr, sizeof(errstr)))
		return fail(errstr);
	printf("Deleted consumer group '%s' (%zu znodes).\n", o->group, n);
	return CLI_OK;
}

int cli_groups(int argc, char **argv)
{
	groups_opts_t o;
	struct ev_loop *loop;
	zk_session_t *zk = NULL;
	char errstr[512];
	int help, rc;

	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, &o, &help);
	if (rc != CLI_OK || help) {
		if (help)
			usage(stdout);
		return rc;
	}
	if (!(loop = ev_loop_new(EVFLAG_AUTO))) {
		cli_error(SUB, "cannot create an event loop");
		return CLI_FAIL;
	}
	if (admin_session_open(loop, o.zookeeper, o.timeout_ms, ADMIN_SESSION_QUIET, &zk, errstr,
			       sizeof(errstr))) {
		rc = fail(errstr);
	} else {
		switch (o.action) {
		case ACT_LIST: rc = do_list(zk, &o); break;
		case ACT_DESCRIBE: rc = do_describe(zk, &o); break;
		case ACT_RESET: rc = do_reset(zk, &o); break;
		case ACT_DELETE: rc = do_delete(zk, &o); break;
		case ACT_NONE: rc = CLI_USAGE; break;
		}
	}
	zk_session_free(zk);
	ev_loop_destroy(loop);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error(SUB, "cannot write the output: %s", strerror(errno));
		return CLI_FAIL;
	}
	return rc;
}
