/* cli_client.c - finding the cluster (-b or -z) and keeping the library's log. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "admin.h"
#include "cli.h"
#include "cli_client.h"
#include "client.h"

/* The listener clients use, as the broker registers it. */
static const zk_endpoint_t *client_endpoint(const zk_broker_reg_t *reg)
{
	for (int i = 0; i < reg->endpoint_cnt; i++)
		if (strcmp(reg->endpoints[i].listener, "BROOK") == 0)
			return &reg->endpoints[i];
	return reg->endpoint_cnt > 0 ? &reg->endpoints[0] : NULL;
}

static int append(char **list, size_t *len, const char *host, int port)
{
	/* "" is a wildcard bind: the broker is reachable on this machine */
	const char *h = host[0] ? host : "localhost";
	size_t need = strlen(h) + 2 + 8 + 2;
	char *p = realloc(*list, *len + need);
	int n;

	if (!p)
		return -1;
	*list = p;
	n = snprintf(p + *len, need, strchr(h, ':') ? "%s[%s]:%d" : "%s%s:%d",
		     *len ? "," : "", h, port);
	if (n < 0 || (size_t)n >= need)
		return -1;
	*len += (size_t)n;
	return 0;
}

static int from_zookeeper(const char *sub, const char *connect, char **out)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	admin_broker_list_t *brokers = NULL;
	zk_session_t *zk = NULL;
	char errstr[512], *list = NULL;
	size_t len = 0;
	int rc = CLI_FAIL;

	if (!loop) {
		cli_error(sub, "cannot create an event loop");
		return CLI_FAIL;
	}
	if (admin_session_open(loop, connect, ADMIN_TIMEOUT_MS_DEFAULT, ADMIN_SESSION_QUIET, &zk,
			       errstr, sizeof(errstr))) {
		cli_error(sub, "%s", errstr);
		goto out;
	}
	if (admin_brokers_list(zk, &brokers, ADMIN_TIMEOUT_MS_DEFAULT, errstr, sizeof(errstr))) {
		cli_error(sub, "%s", errstr);
		goto out;
	}
	for (size_t i = 0; i < brokers->cnt; i++) {
		const zk_broker_reg_t *reg = &brokers->brokers[i];
		const zk_endpoint_t *ep = client_endpoint(reg);
		const char *host = ep ? ep->host : reg->host;
		int port = ep ? ep->port : reg->port;

		if (port <= 0)
			continue;
		if (append(&list, &len, host, port) != 0) {
			cli_error(sub, "out of memory");
			goto out;
		}
	}
	if (!list) {
		cli_error(sub, "no brokers registered in ZooKeeper at %s (/brokers/ids is empty)",
			  connect);
		goto out;
	}
	*out = list;
	list = NULL;
	rc = CLI_OK;
out:
	free(list);
	admin_broker_list_free(brokers);
	zk_session_free(zk);
	ev_loop_destroy(loop);
	return rc;
}

int cli_bootstrap(const char *sub, const char *bootstrap, const char *zookeeper, char **out)
{
	*out = NULL;
	if (bootstrap && zookeeper) {
		cli_error(sub, "give -b/--bootstrap-server or -z/--zookeeper, not both");
		return CLI_USAGE;
	}
	if (zookeeper)
		return from_zookeeper(sub, zookeeper, out);
	if (!bootstrap) {
		cli_error(sub, "%s", "-b/--bootstrap-server HOST:PORT or -z/--zookeeper CONNECT "
			  "is required");
		return CLI_USAGE;
	}
	/* a typo is a usage error, found before anything connects */
	for (const char *s = bootstrap;;) {
		size_t len = strcspn(s, ",");
		char host[CLIENT_MD_HOST_MAX + 1];
		int port;

		while (len && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (client_parse_hostport(s, len, host, sizeof(host), &port)) {
			cli_error(sub, "-b: \"%.*s\": expected host:port", (int)len, s);
			return CLI_USAGE;
		}
		s = strchr(s, ',');
		if (!s++)
			break;
	}
	if (!(*out = strdup(bootstrap))) {
		cli_error(sub, "out of memory");
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* ---- the library's log ---- */

static void log_cb(int level, const char *facility, const char *message, void *opaque)
{
	cli_log_t *l = opaque;

	if (l->print)
		fprintf(stderr, "%s [brook %s] %s\n",
			level <= BROOK_LOG_ERR ? "ERROR" : level == BROOK_LOG_WARNING ? "WARN" :
			level <= BROOK_LOG_INFO ? "INFO" : "DEBUG", facility, message);
	if (level > BROOK_LOG_WARNING)
		return;
	pthread_mutex_lock(&l->lock);
	snprintf(l->last, sizeof(l->last), "%s", message);
	pthread_mutex_unlock(&l->lock);
}

void cli_log_init(cli_log_t *l)
{
	pthread_mutex_init(&l->lock, NULL);
	l->print = 0;
	l->last[0] = 0;
}

void cli_log_destroy(cli_log_t *l)
{
	pthread_mutex_destroy(&l->lock);
}

void cli_log_install(cli_log_t *l, brook_conf_t *conf, int print)
{
	l->print = print;
	brook_conf_set_log_cb(conf, log_cb, l);
}

int cli_log_last(cli_log_t *l, char *buf, size_t size)
{
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = l->last[0] ? 0 : -1;
	snprintf(buf, size, "%s", l->last);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int cli_client_property(const char *sub, brook_conf_t *conf, char *arg, int *log_print)
{
	char *eq = strchr(arg, '=');
	char errstr[512];
	brook_err_t err;

	if (strcmp(arg, "help") == 0 || strcmp(arg, "list") == 0) {
		brook_conf_print_help(stdout);
		return -1;
	}
	if (!eq) {
		cli_error(sub, "-X %s: expected KEY=VALUE", arg);
		return CLI_USAGE;
	}
	*eq = 0;
	*log_print |= strcmp(arg, "log_level") == 0;
	err = brook_conf_set(conf, arg, eq + 1, errstr, sizeof(errstr));
	*eq = '=';
	if (err) {
		cli_error(sub, "-X: %s", errstr);
		return CLI_USAGE;
	}
	return CLI_OK;
}

int cli_client_setup(const char *sub, int argc, char **argv, const char *topic,
		     const char *bootstrap, const char *zookeeper, brook_conf_t *conf)
{
	char errstr[512], *servers = NULL;
	int rc;

	if (optind < argc) {
		cli_error(sub, "unexpected argument \"%s\" (see --help)", argv[optind]);
		return CLI_USAGE;
	}
	if (!topic || !*topic) {
		cli_error(sub, "-t/--topic TOPIC is required");
		return CLI_USAGE;
	}
	if ((rc = cli_bootstrap(sub, bootstrap, zookeeper, &servers)) != CLI_OK)
		return rc;
	if (brook_conf_set(conf, "bootstrap.servers", servers, errstr, sizeof(errstr))) {
		cli_error(sub, "-b: %s", errstr);
		rc = CLI_USAGE;
	}
	free(servers);
	return rc;
}

int cli_client_bad_option(const char *sub, int c, char **argv)
{
	if (c == ':')
		cli_error(sub, "%s needs a value", argv[optind - 1]);
	else
		cli_error(sub, "unknown option %s (see --help)", argv[optind - 1]);
	return CLI_USAGE;
}

void cli_client_catch_signals(void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = (int)SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
