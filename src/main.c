/* main.c - brookd [--override key=value]... CONFIG_FILE */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "config.h"

#include "blog.h"
#include "broker.h"

static broker_t broker;

static void usage(FILE *out)
{
	fprintf(out, "usage: brookd [--override key=value]... CONFIG_FILE\n"
		     "       brookd --help     (every setting, its range, default and meaning)\n");
}

static void on_term(struct ev_loop *loop, ev_signal *w, int revents)
{
	blog(BLOG_INFO, "broker", "signal %d: clean shutdown", w->signum);
	broker_shutdown(&broker);
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	char err[512];

	if (blog_reopen(err, sizeof(err)))
		blog(BLOG_ERROR, "broker", "SIGHUP: cannot reopen the log file: %s", err);
	else
		blog(BLOG_INFO, "broker", "SIGHUP: log file reopened");
}

int main(int argc, char **argv)
{
	broker_conf_t conf;
	char **overrides = NULL, err[1024];
	const char *path = NULL;
	int noverrides = 0, rc;
	struct ev_loop *loop;
	ev_signal sigterm, sigint, sighup;

	if (!(overrides = calloc((size_t)argc, sizeof(*overrides)))) {
		fprintf(stderr, "brookd: out of memory\n");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			printf("\nSettings (Kafka's names where the meaning is the same):\n\n");
			broker_conf_print_help(stdout);
			free(overrides);
			return 0;
		} else if (strcmp(argv[i], "--override") == 0 && i + 1 < argc) {
			overrides[noverrides++] = argv[++i];
		} else if (strncmp(argv[i], "--override=", 11) == 0) {
			overrides[noverrides++] = argv[i] + 11;
		} else if (argv[i][0] == '-' || path) {
			usage(stderr);
			free(overrides);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		usage(stderr);
		free(overrides);
		return 2;
	}
	if (broker_conf_load(&conf, path, overrides, noverrides, err, sizeof(err))) {
		fprintf(stderr, "brookd: %s\n", err);
		free(overrides);
		return 1;
	}
	free(overrides);
	if (conf.log_file && blog_open(conf.log_file, err, sizeof(err))) {
		fprintf(stderr, "brookd: log.file: %s\n", err);
		broker_conf_destroy(&conf);
		return 1;
	}
	/* A peer that goes away mid-send must not kill the broker. */
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	ev_signal_init(&sigterm, on_term, SIGTERM);
	ev_signal_init(&sigint, on_term, SIGINT);
	ev_signal_init(&sighup, on_hup, SIGHUP);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sighup);
	blog(BLOG_INFO, "broker", "brookd %s starting: broker.id=%d, config %s", PACKAGE_VERSION,
	     conf.broker_id, path);
	if (broker_start(&broker, loop, &conf, err, sizeof(err))) {
		blog(BLOG_ERROR, "broker", "startup failed: %s", err);
		fprintf(stderr, "brookd: %s\n", err);
		broker.exit_code = 1;
		broker_stop(&broker);
	} else {
		ev_run(loop, 0);
	}
	rc = broker.exit_code;
	if (rc && broker.fatal[0])
		fprintf(stderr, "brookd: %s\n", broker.fatal);
	ev_signal_stop(loop, &sigterm);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sighup);
	ev_loop_destroy(loop);
	broker_conf_destroy(&conf);
	blog_close();
	return rc;
}
