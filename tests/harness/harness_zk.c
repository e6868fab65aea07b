/* harness_zk.c - start, kill, restart and stop a real ZooKeeper ensemble. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#include "harness.h"
#include "harness_zk.h"

#define HARNESS_ZK_MAX 8
/* Base ports 20000, 20100, ..., 32600: each ensemble uses P..P+23, and
 * everything stays below 32768 where Linux hands out ephemeral ports. */
#define PORT_FIRST 20000
#define PORT_SLOTS 127
#define PORT_STEP 100
/* zk-ensemble's exit status when a port is taken. */
#define EXIT_PORT_BUSY 3

struct harness_zk {
	int servers;
	int base_port;
	char script[PATH_MAX];
	char dir[PATH_MAX];
	char connect[128];
	/* Built up front so the signal handler only has to fork and exec. */
	char *stop_argv[5];
};

static harness_zk_t *live[HARNESS_ZK_MAX];
static pid_t owner_pid;
static int hooks_installed;

/* Runs the script with argv, waiting for it; returns its exit status, or
 * -1 when it could not run or died from a signal. Async-signal-safe: only
 * fork, execv, waitpid and _exit. */
static int run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void stop_all(void)
{
	if (getpid() != owner_pid)
		return;
	for (int i = 0; i < HARNESS_ZK_MAX; i++)
		if (live[i])
			run(live[i]->stop_argv);
}

static void on_exit_stop(void)
{
	stop_all();
	for (int i = 0; i < HARNESS_ZK_MAX; i++) {
		free(live[i]);
		live[i] = NULL;
	}
}

/* A test interrupted or aborted still stops its servers, then dies of the
 * same signal (SA_RESETHAND restored the default action). */
static void on_signal(int sig)
{
	stop_all();
	raise(sig);
}

static void install_hooks(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGABRT };
	struct sigaction sa;

	if (hooks_installed)
		return;
	hooks_installed = 1;
	owner_pid = getpid();
	atexit(on_exit_stop);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static int find_script(char *out, size_t size)
{
	const char *top = getenv("BROOK_TOP_SRCDIR");
	char cand[PATH_MAX + 32], exe[PATH_MAX];
	ssize_t n;

	if (top && *top) {
		snprintf(cand, sizeof(cand), "%s/zk/zk-ensemble", top);
		if (access(cand, X_OK) == 0 && realpath(cand, out))
			return 0;
	}
	/* In-tree build: tests/test_x next to zk/zk-ensemble. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')))
			*slash = '\0';
		snprintf(cand, sizeof(cand), "%s/../zk/zk-ensemble", exe);
		if (access(cand, X_OK) == 0 && realpath(cand, out))
			return 0;
	}
	if (access("zk/zk-ensemble", X_OK) == 0 && realpath("zk/zk-ensemble", out))
		return 0;
	if (access("../zk/zk-ensemble", X_OK) == 0 && realpath("../zk/zk-ensemble", out))
		return 0;
	(void)size;
	fprintf(stderr, "harness_zk: cannot find zk/zk-ensemble; set BROOK_TOP_SRCDIR\n");
	return -1;
}

int harness_zk_start(int servers, harness_zk_t **out)
{
	harness_zk_t *z;
	const char *dir;
	int slot = -1, rc = -1;
	unsigned first;

	*out = NULL;
	if (servers != 1 && servers != 3)
		return -1;
	for (int i = 0; i < HARNESS_ZK_MAX; i++)
		if (!live[i]) {
			slot = i;
			break;
		}
	if (slot < 0)
		return -1;
	/* The scratch folder first: its atexit cleanup then runs after ours,
	 * so the servers are stopped before their files are removed. */
	if (!(dir = harness_tmpdir("zk")))
		return -1;
	install_hooks();
	if (!(z = calloc(1, sizeof(*z))))
		return -1;
	z->servers = servers;
	snprintf(z->dir, sizeof(z->dir), "%s", dir);
	if (find_script(z->script, sizeof(z->script)) != 0) {
		free(z);
		return -1;
	}
	z->stop_argv[0] = z->script;
	z->stop_argv[1] = "stop";
	z->stop_argv[2] = "--dir";
	z->stop_argv[3] = z->dir;
	z->stop_argv[4] = NULL;

	first = ((unsigned)getpid() * 7919u + (unsigned)slot * 31u) % PORT_SLOTS;
	for (unsigned attempt = 0; attempt < 12; attempt++) {
		char nbuf[16], pbuf[16], obuf[16];
		char *argv[] = { z->script, "start", "--servers", nbuf, "--base-port", pbuf,
				 "--dir", z->dir, "--timeout", "60", "--owner-pid", obuf, NULL };

		z->base_port = PORT_FIRST + (int)((first + attempt * 17u) % PORT_SLOTS) * PORT_STEP;
		snprintf(nbuf, sizeof(nbuf), "%d", servers);
		snprintf(pbuf, sizeof(pbuf), "%d", z->base_port);
		snprintf(obuf, sizeof(obuf), "%d", (int)getpid());
		/* Registered before starting: a signal during the start still
		 * stops whatever came up. */
		live[slot] = z;
		rc = run(argv);
		if (rc != EXIT_PORT_BUSY)
			break;
		fprintf(stderr, "harness_zk: base port %d busy, trying another\n", z->base_port);
	}
	if (rc != 0) {
		fprintf(stderr, "harness_zk: zk-ensemble start failed (status %d)\n", rc);
		run(z->stop_argv);
		live[slot] = NULL;
		free(z);
		return -1;
	}
	z->connect[0] = '\0';
	for (int i = 1; i <= servers; i++) {
		size_t len = strlen(z->connect);

		snprintf(z->connect + len, sizeof(z->connect) - len, "%s127.0.0.1:%d", i > 1 ? "," : "",
			 harness_zk_client_port(z, i));
	}
	*out = z;
	return 0;
}

int harness_zk_stop(harness_zk_t *z)
{
	int rc;

	if (!z)
		return 0;
	rc = run(z->stop_argv);
	for (int i = 0; i < HARNESS_ZK_MAX; i++)
		if (live[i] == z)
			live[i] = NULL;
	free(z);
	return rc == 0 ? 0 : -1;
}

const char *harness_zk_connect_string(const harness_zk_t *z)
{
	return z->connect;
}

int harness_zk_servers(const harness_zk_t *z)
{
	return z->servers;
}

int harness_zk_client_port(const harness_zk_t *z, int server)
{
	return z->base_port + server - 1;
}

int harness_zk_server_of(const harness_zk_t *z, const char *host_port)
{
	const char *colon = strrchr(host_port, ':');
	long port;
	char *end;

	port = strtol(colon ? colon + 1 : host_port, &end, 10);
	if (*end != '\0')
		return -1;
	for (int i = 1; i <= z->servers; i++)
		if (harness_zk_client_port(z, i) == port)
			return i;
	return -1;
}

static int server_cmd(harness_zk_t *z, const char *cmd, int server)
{
	char nbuf[16];
	char *argv[] = { z->script, (char *)cmd, nbuf, "--dir", z->dir, "--timeout", "60", NULL };

	if (server < 1 || server > z->servers)
		return -1;
	snprintf(nbuf, sizeof(nbuf), "%d", server);
	return run(argv) == 0 ? 0 : -1;
}

int harness_zk_kill(harness_zk_t *z, int server)
{
	return server_cmd(z, "kill", server);
}

int harness_zk_restart(harness_zk_t *z, int server)
{
	return server_cmd(z, "start-one", server);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void quiet_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	(void)zh;
	(void)type;
	(void)state;
	(void)path;
	(void)ctx;
}

int harness_zk_expire_session(const char *connect, int64_t session_id,
			      const unsigned char passwd[16], int timeout_ms)
{
	clientid_t cid;
	zhandle_t *zh;
	int64_t deadline = mono_ms() + timeout_ms;
	int ok = 0;

	memset(&cid, 0, sizeof(cid));
	cid.client_id = session_id;
	memcpy(cid.passwd, passwd, sizeof(cid.passwd));
	zh = zookeeper_init(connect, quiet_watcher, 10000, &cid, NULL, ZOO_NO_LOG_CLIENTENV);
	if (!zh)
		return -1;
	/* A bare poll() loop around the single-threaded client. */
	while (mono_ms() < deadline) {
		struct timeval tv = { 0, 0 };
		struct pollfd pfd = { .fd = -1 };
		int fd = -1, interest = 0, events = 0, ms;

		if (zookeeper_interest(zh, &fd, &interest, &tv) == ZOK && fd >= 0) {
			pfd.fd = fd;
			pfd.events = (short)(((interest & ZOOKEEPER_READ) ? POLLIN : 0) |
					     ((interest & ZOOKEEPER_WRITE) ? POLLOUT : 0));
		}
		ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
		if (ms > 50 || ms < 1)
			ms = ms < 1 ? 1 : 50;
		if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, ms) > 0) {
			if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
				events |= ZOOKEEPER_READ;
			if (pfd.revents & POLLOUT)
				events |= ZOOKEEPER_WRITE;
		}
		zookeeper_process(zh, events);
		if (zoo_state(zh) == ZOO_CONNECTED_STATE) {
			ok = zoo_client_id(zh)->client_id == session_id;
			break;
		}
		if (zoo_state(zh) == ZOO_EXPIRED_SESSION_STATE)
			break;
	}
	/* Closing a connected handle sends closeSession: the session ends
	 * for every client that holds it. */
	zookeeper_close(zh);
	return ok ? 0 : -1;
}
