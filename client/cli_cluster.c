/*
 * cli_cluster.c - `brook cluster`: the cluster id, the registered brokers
 * (id, endpoints, rack) and the controller, read from ZooKeeper (admin.h).
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

#define SUB "cluster"

enum { OPT_ZOOKEEPER = 'z', OPT_HELP = 'h', OPT_TIMEOUT_MS = 256 };

static const struct option long_options[] = {
	{ "zookeeper", required_argument, NULL, OPT_ZOOKEEPER },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: brook cluster -z CONNECT [--timeout-ms MS]\n"
		"\n"
		"Prints the cluster id, one line per registered broker (id, endpoints, rack)\n"
		"and the controller's broker id (\"none\" when no broker is controller).\n"
		"\n"
		"  -z, --zookeeper CONNECT  ZooKeeper connect string\n"
		"                           host:port[,host:port...][/chroot]\n"
		"      --timeout-ms MS      bound for connecting and for each read (default %d)\n"
		"  -h, --help               this help\n",
		ADMIN_TIMEOUT_MS_DEFAULT);
}

/* "LISTENER://host:port", with an IPv6 address in brackets as Kafka
 * writes it. */
static void print_endpoint(const zk_endpoint_t *ep)
{
	if (strchr(ep->host, ':'))
		printf("%s://[%s]:%" PRId32, ep->listener, ep->host, ep->port);
	else
		printf("%s://%s:%" PRId32, ep->listener, ep->host, ep->port);
}

static int show(zk_session_t *zk, int timeout_ms)
{
	admin_broker_list_t *l;
	char errstr[512], id[ZK_CLUSTER_ID_MAX + 1];
	int32_t controller;

	if (admin_cluster_id_get(zk, id, sizeof(id), timeout_ms, errstr, sizeof(errstr)) ||
	    admin_controller_get(zk, &controller, timeout_ms, errstr, sizeof(errstr)) ||
	    admin_brokers_list(zk, &l, timeout_ms, errstr, sizeof(errstr))) {
		cli_error(SUB, "%s", errstr);
		return CLI_FAIL;
	}
	printf("ClusterId: %s\n", id[0] ? id : "none");
	for (size_t i = 0; i < l->cnt; i++) {
		const zk_broker_reg_t *b = &l->brokers[i];

		printf("Broker: %" PRId32 "\tEndpoints: ", l->ids[i]);
		for (int e = 0; e < b->endpoint_cnt; e++) {
			if (e)
				putchar(',');
			print_endpoint(&b->endpoints[e]);
		}
		if (b->endpoint_cnt == 0)
			printf("none");
		printf("\tRack: %s\n", b->has_rack ? b->rack : "none");
	}
	if (controller >= 0)
		printf("Controller: %" PRId32 "\n", controller);
	else
		printf("Controller: none\n");
	admin_broker_list_free(l);
	return CLI_OK;
}

int cli_cluster(int argc, char **argv)
{
	const char *connect = NULL;
	int timeout_ms = ADMIN_TIMEOUT_MS_DEFAULT;
	struct ev_loop *loop;
	zk_session_t *zk = NULL;
	char errstr[512];
	long long v;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":z:h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_ZOOKEEPER:
			connect = optarg;
			break;
		case OPT_TIMEOUT_MS:
			if (cli_parse_ll(optarg, 1, 3600 * 1000, &v))
				return cli_usage_error(SUB, "--timeout-ms %s: must be a number of "
						       "milliseconds from 1 to 3600000", optarg);
			timeout_ms = (int)v;
			break;
		case OPT_HELP:
			usage(stdout);
			return CLI_OK;
		case ':':
			return cli_usage_error(SUB, "%s needs a value", argv[optind - 1]);
		default:
			return cli_usage_error(SUB, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(SUB, "unexpected argument \"%s\"", argv[optind]);
	if (!connect)
		return cli_usage_error(SUB, "-z/--zookeeper CONNECT is required");
	if (!(loop = ev_loop_new(EVFLAG_AUTO))) {
		cli_error(SUB, "cannot create an event loop");
		return CLI_FAIL;
	}
	if (admin_session_open(loop, connect, timeout_ms, ADMIN_SESSION_QUIET, &zk, errstr,
			       sizeof(errstr))) {
		cli_error(SUB, "%s", errstr);
		rc = CLI_FAIL;
	} else {
		rc = show(zk, timeout_ms);
	}
	zk_session_free(zk);
	ev_loop_destroy(loop);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error(SUB, "cannot write the output: %s", strerror(errno));
		return CLI_FAIL;
	}
	return rc;
}
