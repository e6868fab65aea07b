/* harness_broker.c - brookd processes for tests, and a blocking protocol client. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "bytes.h"
#include "harness.h"
#include "harness_broker.h"
#include "proto.h"
#include "record.h"
#include "zk_json.h"
#include "zk_paths.h"
#include "zk_session.h"

#define HB_MAX 16
#define HB_MAX_OVERRIDES 64
/* Startup includes ZooKeeper registration; sanitized builds are slow. */
#define HB_START_TIMEOUT_MS 60000
#define HB_STOP_TIMEOUT_MS 30000
#define HB_PORT_ATTEMPTS 5
/* Session timeout the harness gives brokers: short, so that a killed
 * broker's registration goes away quickly, but well above a loaded
 * machine's hiccups. The ensemble's tickTime is 500 ms (zk-ensemble). */
#define HB_ZK_SESSION_MS 6000
#define HB_MAX_RESPONSE (256u << 20)

struct harness_broker {
	int32_t id;
	int port;
	pid_t pid;          /* 0: not running */
	int run;            /* runs started so far */
	int checked;        /* the last run's log was searched for reports */
	int paused;         /* SIGSTOPped by harness_broker_pause */
	char dir[PATH_MAX];
	char conf_path[PATH_MAX + 32];
	char data_dir[PATH_MAX + 32];
	char log_path[PATH_MAX + 32];
	char zk_connect[512];
	char *overrides[HB_MAX_OVERRIDES];
	int noverrides;
};

struct harness_client {
	int fd;
	int32_t next_corr;
};

static harness_broker_t *brokers[HB_MAX];
/* What the signal handler kills: plain pids, readable at any moment. */
static volatile sig_atomic_t live_pids[HB_MAX];
static pid_t owner_pid;
static int hooks_installed;
static int sanitizer_failed;
static struct sigaction prev_actions[NSIG];

static const int hooked_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGABRT };

/* ---- time ---------------------------------------------------------------- */

int64_t harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t harness_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - harness_now_ms();

	return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* ---- process bookkeeping --------------------------------------------------- */

static void kill_all_now(void)
{
	for (int i = 0; i < HB_MAX; i++) {
		pid_t pid = (pid_t)live_pids[i];

		if (pid > 0)
			kill(pid, SIGKILL);
	}
}

/* A test killed by a signal takes its brokers with it, then lets the
 * previous handler (harness_zk's, which stops the ensemble) or the
 * default action finish the job. Async-signal-safe: kill, sigaction, raise. */
static void on_signal(int sig)
{
	if (getpid() == owner_pid)
		kill_all_now();
	sigaction(sig, &prev_actions[sig], NULL);
	raise(sig);
}

static int set_live(harness_broker_t *b, pid_t pid)
{
	for (int i = 0; i < HB_MAX; i++)
		if (brokers[i] == b) {
			live_pids[i] = pid;
			return 0;
		}
	return -1;
}

/* Waits for pid to exit; 1 when reaped (status in *status), 0 on timeout. */
static int reap(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR) {
			/* not our child any more (reaped elsewhere): gone */
			*status = 0;
			return 1;
		}
		if (harness_now_ms() >= deadline)
			return 0;
		nap_ms(10);
	}
}

static int check_sanitizer_log(harness_broker_t *b);

static void stop_at_exit(void)
{
	int64_t deadline;

	if (getpid() != owner_pid)
		return;
	/* Whatever the test left running: SIGTERM all, then SIGKILL. A
	 * paused one would keep SIGTERM pending forever: wake it too. */
	for (int i = 0; i < HB_MAX; i++)
		if (brokers[i] && brokers[i]->pid > 0) {
			kill(brokers[i]->pid, SIGTERM);
			if (brokers[i]->paused)
				kill(brokers[i]->pid, SIGCONT);
		}
	deadline = harness_now_ms() + 10000;
	for (int i = 0; i < HB_MAX; i++) {
		harness_broker_t *b = brokers[i];
		int status;

		if (!b || b->pid <= 0)
			continue;
		if (!reap(b->pid, remaining_ms(deadline), &status)) {
			fprintf(stderr, "harness_broker: broker %d (pid %d) ignored SIGTERM; "
				"killing\n", b->id, (int)b->pid);
			kill(b->pid, SIGKILL);
			reap(b->pid, 10000, &status);
		}
		b->pid = 0;
		live_pids[i] = 0;
		check_sanitizer_log(b);
	}
	for (int i = 0; i < HB_MAX; i++) {
		harness_broker_t *b = brokers[i];

		if (!b)
			continue;
		for (int k = 0; k < b->noverrides; k++)
			free(b->overrides[k]);
		free(b);
		brokers[i] = NULL;
	}
}

static void install_hooks(void)
{
	struct sigaction sa;

	if (hooks_installed)
		return;
	hooks_installed = 1;
	owner_pid = getpid();
	atexit(stop_at_exit);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(hooked_signals) / sizeof(hooked_signals[0]); i++)
		sigaction(hooked_signals[i], &sa, &prev_actions[hooked_signals[i]]);
}

/* ---- files ----------------------------------------------------------------- */

static int find_brookd(char *out, size_t size)
{
	const char *top = getenv("BROOK_TOP_BUILDDIR");
	char exe[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n;

	if (top && *top) {
		snprintf(cand, sizeof(cand), "%s/src/brookd", top);
		if (access(cand, X_OK) == 0 && realpath(cand, out))
			return 0;
	}
	/* Run by hand: tests/test_x next to src/brookd. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')))
			*slash = '\0';
		snprintf(cand, sizeof(cand), "%s/../src/brookd", exe);
		if (access(cand, X_OK) == 0 && realpath(cand, out))
			return 0;
	}
	(void)size;
	fprintf(stderr, "harness_broker: cannot find src/brookd; set BROOK_TOP_BUILDDIR\n");
	return -1;
}

static int write_config(const harness_broker_t *b)
{
	char text[4096];
	int n;

	n = snprintf(text, sizeof(text),
		     "# written by harness_broker.c; --override arguments come on top\n"
		     "broker.id=%d\n"
		     "listeners=BROOK://127.0.0.1:%d\n"
		     "log.dirs=%s\n"
		     "zookeeper.connect=%s\n"
		     "zookeeper.session.timeout.ms=%d\n"
		     "zookeeper.connection.timeout.ms=30000\n"
		     "log.segment.bytes=1048576\n",
		     b->id, b->port, b->data_dir, b->zk_connect, HB_ZK_SESSION_MS);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -1;
	return harness_write_file(b->conf_path, text, (size_t)n);
}

/* The whole log file, NUL-terminated; NULL when unreadable. */
static char *read_log(const char *path)
{
	size_t len = 0;
	uint8_t *buf = harness_read_file(path, &len);

	if (!buf)
		return NULL;
	buf[len] = '\0'; /* harness_read_file leaves room for one byte */
	/* NUL bytes in the log would hide what follows them from strstr */
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return (char *)buf;
}

static void dump_log(const harness_broker_t *b, const char *why)
{
	char *text = read_log(b->log_path);
	size_t len;

	fprintf(stderr, "harness_broker: broker %d %s; its log %s:\n", b->id, why, b->log_path);
	if (!text)
		return;
	/* the tail is where the reason is */
	len = strlen(text);
	if (len > 16384)
		fprintf(stderr, "...\n%s\n", text + len - 16384);
	else
		fprintf(stderr, "%s\n", text);
	free(text);
}

static const char *const sanitizer_marks[] = {
	"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
	"SUMMARY: UndefinedBehaviorSanitizer", "WARNING: ThreadSanitizer",
};

/* -1 (and the report on stderr) when the last run's log holds a sanitizer
 * report; each run is checked once. */
static int check_sanitizer_log(harness_broker_t *b)
{
	char *text;
	const char *hit = NULL;

	if (b->checked || b->run == 0)
		return 0;
	b->checked = 1;
	if (!(text = read_log(b->log_path))) {
		fprintf(stderr, "harness_broker: cannot read %s\n", b->log_path);
		return 0;
	}
	for (size_t i = 0; i < sizeof(sanitizer_marks) / sizeof(sanitizer_marks[0]); i++) {
		const char *p = strstr(text, sanitizer_marks[i]);

		if (p && (!hit || p < hit))
			hit = p;
	}
	if (hit) {
		const char *from = hit;

		/* start at the beginning of the report's line */
		while (from > text && from[-1] != '\n')
			from--;
		fprintf(stderr, "harness_broker: SANITIZER REPORT in broker %d's log %s:\n%.*s\n",
			b->id, b->log_path, 20000, from);
		sanitizer_failed = 1;
	}
	free(text);
	return hit ? -1 : 0;
}

/* ---- starting -------------------------------------------------------------- */

static int pick_port(void)
{
	struct sockaddr_in a;
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &sl) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void child_exec(const char *brookd, harness_broker_t *b, int logfd, pid_t parent)
{
	char *argv[2 * HB_MAX_OVERRIDES + 3];
	int argc = 0, devnull;
	sigset_t none;

	/* Dies with the test whatever kills it (SIGKILL, a sanitizer's _exit). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (size_t i = 0; i < sizeof(hooked_signals) / sizeof(hooked_signals[0]); i++)
		signal(hooked_signals[i], SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(127);
	/* The test's own sockets (client connections, ZooKeeper) must not
	 * live on in the broker: a test that closes a connection must see
	 * it closed. */
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
	argv[argc++] = (char *)brookd;
	for (int i = 0; i < b->noverrides; i++) {
		argv[argc++] = "--override";
		argv[argc++] = b->overrides[i];
	}
	argv[argc++] = b->conf_path;
	argv[argc] = NULL;
	execv(brookd, argv);
	_exit(127);
}

static int spawn(harness_broker_t *b)
{
	char brookd[PATH_MAX];
	int logfd;
	pid_t pid, parent = getpid();

	if (find_brookd(brookd, sizeof(brookd)) != 0 || write_config(b) != 0)
		return -1;
	b->run++;
	b->checked = 0;
	snprintf(b->log_path, sizeof(b->log_path), "%s/brookd-%d.log", b->dir, b->run);
	logfd = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		fprintf(stderr, "harness_broker: %s: %s\n", b->log_path, strerror(errno));
		return -1;
	}
	fflush(NULL); /* nothing buffered may be written twice */
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "harness_broker: fork: %s\n", strerror(errno));
		close(logfd);
		return -1;
	}
	if (pid == 0)
		child_exec(brookd, b, logfd, parent);
	close(logfd);
	b->pid = pid;
	set_live(b, pid);
	return 0;
}

/* Marks the run over (pid reaped). */
static void ended(harness_broker_t *b)
{
	b->pid = 0;
	b->paused = 0;
	set_live(b, 0);
}

/* A stopped process keeps SIGTERM pending: paused brokers are woken before
 * they are signalled. */
static void wake(harness_broker_t *b)
{
	if (b->pid > 0 && b->paused)
		kill(b->pid, SIGCONT);
	b->paused = 0;
}

/* One ApiVersions round trip: 1 when it answers with error_code 0. */
static int answers_api_versions(int port, int timeout_ms)
{
	harness_client_t *c = harness_client_connect(port);
	harness_resp_t r;
	int ok = 0;

	if (!c)
		return 0;
	if (harness_client_request_raw(c, PROTO_API_API_VERSIONS, "\x80", 1, timeout_ms, &r) ==
	    HARNESS_OK) {
		ok = harness_resp_error(&r, -1) == 0 && harness_obj_get(r.body, "api_keys");
		harness_resp_destroy(&r);
	}
	harness_client_close(c);
	return ok;
}

enum { SERVE_OK, SERVE_PORT_BUSY, SERVE_FAILED };

static int wait_serving(harness_broker_t *b)
{
	int64_t deadline = harness_now_ms() + HB_START_TIMEOUT_MS;

	while (harness_now_ms() < deadline) {
		int status;
		pid_t r = waitpid(b->pid, &status, WNOHANG);

		if (r == b->pid) {
			int busy;

			ended(b);
			busy = harness_broker_log_contains(b, "Address already in use");
			if (!busy) {
				int exited = WIFEXITED(status);

				fprintf(stderr, "harness_broker: broker %d %s %d during startup\n",
					b->id, exited ? "exited with status" : "died of signal",
					exited ? WEXITSTATUS(status) : WTERMSIG(status));
				dump_log(b, "did not start");
			}
			check_sanitizer_log(b);
			return busy ? SERVE_PORT_BUSY : SERVE_FAILED;
		}
		if (answers_api_versions(b->port, 2000))
			return SERVE_OK;
		nap_ms(50);
	}
	fprintf(stderr, "harness_broker: broker %d does not serve on port %d after %d ms\n", b->id,
		b->port, HB_START_TIMEOUT_MS);
	dump_log(b, "did not start in time");
	kill(b->pid, SIGKILL);
	reap(b->pid, 10000, &(int){ 0 });
	ended(b);
	check_sanitizer_log(b);
	return SERVE_FAILED;
}

static int start_run(harness_broker_t *b)
{
	for (int attempt = 0; attempt < HB_PORT_ATTEMPTS; attempt++) {
		int rc;

		if (spawn(b) != 0)
			return -1;
		rc = wait_serving(b);
		if (rc == SERVE_OK)
			return 0;
		if (rc != SERVE_PORT_BUSY)
			return -1;
		/* someone took the port between our probe and the broker's bind */
		fprintf(stderr, "harness_broker: port %d busy, picking another\n", b->port);
		if ((b->port = pick_port()) < 0)
			return -1;
	}
	return -1;
}

harness_broker_t *harness_broker_start(const char *zk_connect, int32_t id,
				       const char *const *overrides)
{
	harness_broker_t *b;
	const char *dir;
	char tag[32];
	int slot = -1;

	for (int i = 0; i < HB_MAX; i++)
		if (!brokers[i]) {
			slot = i;
			break;
		}
	if (slot < 0) {
		fprintf(stderr, "harness_broker: more than %d brokers\n", HB_MAX);
		return NULL;
	}
	/* The scratch folder first: its atexit cleanup then runs after ours,
	 * so brokers are stopped before their files are removed. */
	snprintf(tag, sizeof(tag), "broker%d", id);
	if (!(dir = harness_tmpdir(tag)))
		return NULL;
	install_hooks();
	if (!(b = calloc(1, sizeof(*b))))
		return NULL;
	b->id = id;
	snprintf(b->dir, sizeof(b->dir), "%s", dir);
	snprintf(b->conf_path, sizeof(b->conf_path), "%s/server.properties", dir);
	snprintf(b->data_dir, sizeof(b->data_dir), "%s/data", dir);
	if ((size_t)snprintf(b->zk_connect, sizeof(b->zk_connect), "%s", zk_connect) >=
	    sizeof(b->zk_connect))
		goto fail;
	for (int i = 0; overrides && overrides[i]; i++) {
		if (b->noverrides == HB_MAX_OVERRIDES ||
		    !(b->overrides[b->noverrides] = strdup(overrides[i])))
			goto fail;
		b->noverrides++;
	}
	/* brookd wants its log dirs to exist (a missing one is a typo). */
	if (mkdir(b->data_dir, 0755) != 0 || (b->port = pick_port()) < 0)
		goto fail;
	brokers[slot] = b;
	if (start_run(b) != 0)
		return NULL; /* stays registered: its logs are checked at exit */
	return b;
fail:
	for (int i = 0; i < b->noverrides; i++)
		free(b->overrides[i]);
	free(b);
	fprintf(stderr, "harness_broker: cannot set up broker %d\n", id);
	return NULL;
}

int harness_broker_stop(harness_broker_t *b)
{
	int status = 0, rc = 0;

	if (!b || b->pid <= 0)
		return 0;
	wake(b);
	kill(b->pid, SIGTERM);
	if (!reap(b->pid, HB_STOP_TIMEOUT_MS, &status)) {
		fprintf(stderr, "harness_broker: broker %d did not stop within %d ms; SIGKILL\n",
			b->id, HB_STOP_TIMEOUT_MS);
		dump_log(b, "did not stop");
		kill(b->pid, SIGKILL);
		reap(b->pid, 10000, &status);
		rc = -1;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			fprintf(stderr, "harness_broker: broker %d exited with status %d\n", b->id,
				WEXITSTATUS(status));
		else
			fprintf(stderr, "harness_broker: broker %d died of signal %d\n", b->id,
				WTERMSIG(status));
		dump_log(b, "stopped badly");
		rc = -1;
	}
	ended(b);
	if (check_sanitizer_log(b) != 0)
		rc = -1;
	return rc;
}

int harness_broker_kill9(harness_broker_t *b)
{
	int status;

	if (!b || b->pid <= 0)
		return -1;
	wake(b);
	kill(b->pid, SIGKILL);
	if (!reap(b->pid, 10000, &status))
		return -1;
	ended(b);
	/* a report written before the kill still counts */
	return check_sanitizer_log(b);
}

int harness_broker_resume(harness_broker_t *b)
{
	if (!b || b->pid > 0)
		return -1;
	return start_run(b);
}

int harness_broker_restart(harness_broker_t *b)
{
	int rc = harness_broker_stop(b);

	if (harness_broker_resume(b) != 0)
		return -1;
	return rc;
}

int harness_broker_stop_all(void)
{
	int rc = 0;

	for (int i = 0; i < HB_MAX; i++)
		if (brokers[i]) {
			if (harness_broker_stop(brokers[i]) != 0)
				rc = -1;
			if (check_sanitizer_log(brokers[i]) != 0)
				rc = -1;
		}
	return sanitizer_failed ? -1 : rc;
}

int harness_broker_alive(harness_broker_t *b)
{
	int status;

	if (!b || b->pid <= 0)
		return 0;
	if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
		fprintf(stderr, "harness_broker: broker %d (pid %d) has exited (%s %d)\n", b->id,
			(int)b->pid, WIFEXITED(status) ? "status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		dump_log(b, "exited");
		ended(b);
		check_sanitizer_log(b);
		return 0;
	}
	return 1;
}

pid_t harness_broker_pid(const harness_broker_t *b)
{
	return b->pid;
}

int harness_broker_port(const harness_broker_t *b)
{
	return b->port;
}

int32_t harness_broker_id(const harness_broker_t *b)
{
	return b->id;
}

const char *harness_broker_data_dir(const harness_broker_t *b)
{
	return b->data_dir;
}

const char *harness_broker_log_path(const harness_broker_t *b)
{
	return b->log_path;
}

int harness_broker_log_contains(const harness_broker_t *b, const char *needle)
{
	char *text = read_log(b->log_path);
	int found;

	if (!text)
		return 0;
	found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

int harness_broker_wait_log(const harness_broker_t *b, const char *needle, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		if (harness_broker_log_contains(b, needle))
			return 0;
		if (harness_now_ms() >= deadline)
			return -1;
		nap_ms(20);
	}
}

/* The state letter of /proc/<pid>/stat ('R', 'S', 'T', ...), or 0. The
 * command name in parentheses may hold anything: the state follows the
 * last ')'. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *rp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (!(rp = strrchr(buf, ')')) || rp[1] != ' ')
		return 0;
	return rp[2];
}

int harness_broker_pause(harness_broker_t *b)
{
	int64_t deadline = harness_now_ms() + 5000;

	if (!b || b->pid <= 0 || kill(b->pid, SIGSTOP) != 0)
		return -1;
	b->paused = 1;
	/* SIGSTOP is asynchronous: wait until the kernel says "stopped" */
	for (;;) {
		char st = proc_state(b->pid);

		if (st == 'T' || st == 't')
			return 0;
		if (st == 0 || st == 'Z' || harness_now_ms() >= deadline) {
			fprintf(stderr, "harness_broker: broker %d (pid %d) did not stop (state %c)\n",
				b->id, (int)b->pid, st ? st : '?');
			return -1;
		}
		nap_ms(1);
	}
}

int harness_broker_cont(harness_broker_t *b)
{
	if (!b || b->pid <= 0 || kill(b->pid, SIGCONT) != 0)
		return -1;
	b->paused = 0;
	return 0;
}

int harness_broker_paused(const harness_broker_t *b)
{
	return b && b->pid > 0 && b->paused;
}

/* The base offsets of the partition's segment files, sorted; -1 when the
 * folder cannot be read. */
static int segment_bases(const harness_broker_t *b, const char *topic, int32_t partition,
			 char *dir, size_t dir_size, int64_t **bases, size_t *n)
{
	DIR *d;
	struct dirent *e;
	size_t cap = 0;

	*bases = NULL;
	*n = 0;
	if ((size_t)snprintf(dir, dir_size, "%s/%s-%d", b->data_dir, topic, (int)partition) >=
	    dir_size || !(d = opendir(dir)))
		return -1;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char *end;
		long long base;

		/* 20 digits + ".log", as Kafka names segments */
		if (len != 24 || strcmp(e->d_name + 20, ".log") != 0)
			continue;
		base = strtoll(e->d_name, &end, 10);
		if (end != e->d_name + 20 || base < 0)
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			int64_t *v = realloc(*bases, nc * sizeof(*v));

			if (!v) {
				closedir(d);
				free(*bases);
				*bases = NULL;
				return -1;
			}
			*bases = v;
			cap = nc;
		}
		(*bases)[(*n)++] = base;
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++) /* a handful of segments: insertion sort */
		for (size_t j = i; j > 0 && (*bases)[j - 1] > (*bases)[j]; j--) {
			int64_t t = (*bases)[j];

			(*bases)[j] = (*bases)[j - 1];
			(*bases)[j - 1] = t;
		}
	return 0;
}

uint8_t *harness_broker_partition_log(const harness_broker_t *b, const char *topic,
				      int32_t partition, size_t *len)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int64_t *bases;
	size_t n, total = 0;
	uint8_t *all = NULL;

	*len = 0;
	if (segment_bases(b, topic, partition, dir, sizeof(dir), &bases, &n) != 0)
		return NULL;
	if (!(all = malloc(1)))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		size_t flen = 0;
		uint8_t *buf, *grown;

		snprintf(path, sizeof(path), "%s/%020lld.log", dir, (long long)bases[i]);
		if (!(buf = harness_read_file(path, &flen)))
			goto fail;
		if (!(grown = realloc(all, total + flen + 1))) {
			free(buf);
			goto fail;
		}
		all = grown;
		memcpy(all + total, buf, flen);
		total += flen;
		free(buf);
	}
	free(bases);
	*len = total;
	return all;
fail:
	free(bases);
	free(all);
	return NULL;
}

int harness_broker_active_segment(const harness_broker_t *b, const char *topic,
				  int32_t partition, char *buf, size_t size)
{
	char dir[PATH_MAX];
	int64_t *bases;
	size_t n;
	int rc = -1;

	if (segment_bases(b, topic, partition, dir, sizeof(dir), &bases, &n) != 0)
		return -1;
	if (n > 0 && (size_t)snprintf(buf, size, "%s/%020lld.log", dir,
				      (long long)bases[n - 1]) < size)
		rc = 0;
	free(bases);
	return rc;
}

long harness_proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0) {
			char *end;

			kb = strtol(line + 6, &end, 10);
			if (end == line + 6)
				kb = -1;
			break;
		}
	fclose(f);
	return kb;
}

/* ---- ZooKeeper: topics and registrations ---------------------------------- */

typedef struct zk_wait {
	int done;
	brook_err_t err;
} zk_wait_t;

static void on_void(zk_session_t *s, brook_err_t err, void *opaque)
{
	zk_wait_t *w = opaque;

	w->err = err;
	w->done = 1;
}

static void on_create(zk_session_t *s, brook_err_t err, const char *path, void *opaque)
{
	on_void(s, err, opaque);
}

/* Runs request `err` (already submitted) to completion. */
static brook_err_t zk_finish(zk_session_t *s, brook_err_t err, zk_wait_t *w, int timeout_ms)
{
	if (err)
		return err;
	if (zk_run_until(s, &w->done, timeout_ms))
		return BROOK_ERR__TIMED_OUT;
	return w->err;
}

static zk_session_t *zk_open(struct ev_loop **loop, const char *connect)
{
	static const zk_session_callbacks_t no_cbs;
	zk_session_t *s = NULL;
	char err[256];

	if (!(*loop = ev_loop_new(EVFLAG_AUTO)))
		return NULL;
	if (zk_session_new(*loop, connect, 10000, &no_cbs, NULL, &s, err, sizeof(err))) {
		fprintf(stderr, "harness_broker: ZooKeeper %s: %s\n", connect, err);
		ev_loop_destroy(*loop);
		return NULL;
	}
	if (zk_session_wait_connected(s, 20000)) {
		fprintf(stderr, "harness_broker: no ZooKeeper session with %s\n", connect);
		zk_session_free(s);
		ev_loop_destroy(*loop);
		return NULL;
	}
	return s;
}

static void zk_close(zk_session_t *s, struct ev_loop *loop)
{
	zk_session_free(s);
	ev_loop_destroy(loop);
}

int harness_topic_create_zk(const char *zk_connect, const char *topic, int32_t partitions,
			    int32_t rf, const int32_t *broker_ids, int nbrokers)
{
	struct ev_loop *loop;
	zk_session_t *s;
	zk_topic_assignment_t *a;
	char path[ZK_PATH_MAX], *json = NULL;
	zk_wait_t w = { 0, BROOK_ERR_NO_ERROR };
	brook_err_t err;

	if (nbrokers <= 0 || rf <= 0 || rf > nbrokers || zk_path_topic(path, sizeof(path), topic))
		return -1;
	if (!(a = zk_topic_assignment_new(partitions, rf)))
		return -1;
	for (int32_t p = 0; p < partitions; p++)
		for (int32_t r = 0; r < rf; r++)
			a->partitions[p].ids[r] = broker_ids[(p + r) % nbrokers];
	err = zk_json_topic_assignment_encode(a, &json);
	zk_topic_assignment_free(a);
	if (err)
		return -1;
	if (!(s = zk_open(&loop, zk_connect))) {
		free(json);
		return -1;
	}
	err = zk_finish(s, zk_create_path(s, ZK_PATH_TOPICS, on_void, &w), &w, 20000);
	if (!err) {
		w.done = 0;
		err = zk_finish(s, zk_create(s, path, json, strlen(json), ZK_PERSISTENT, on_create,
					     &w), &w, 20000);
	}
	if (err)
		fprintf(stderr, "harness_broker: creating %s: %s\n", path, brook_err_name(err));
	free(json);
	zk_close(s, loop);
	return err ? -1 : 0;
}

static void pack_metadata_topics(msgpack_packer *pk, void *arg)
{
	msgpack_pack_map(pk, 1);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, 1);
	proto_pack_str(pk, arg);
}

/* 1 when the response lists the topic with `partitions` led partitions. */
static int topic_led(const msgpack_object *body, const char *topic, int32_t partitions)
{
	const msgpack_object *topics = harness_obj_get(body, "topics");

	if (!topics || topics->type != MSGPACK_OBJECT_ARRAY)
		return 0;
	for (uint32_t i = 0; i < topics->via.array.size; i++) {
		const msgpack_object *t = &topics->via.array.ptr[i];
		const msgpack_object *ps = harness_obj_get(t, "partitions");
		char name[ZK_TOPIC_MAX + 1];
		int led = 0;

		if (harness_obj_str(t, "name", name, sizeof(name)) || strcmp(name, topic) != 0)
			continue;
		if (harness_obj_int(t, "error_code", -1) != 0 || !ps ||
		    ps->type != MSGPACK_OBJECT_ARRAY || ps->via.array.size != (uint32_t)partitions)
			return 0;
		for (uint32_t j = 0; j < ps->via.array.size; j++)
			if (harness_obj_int(&ps->via.array.ptr[j], "error_code", -1) == 0 &&
			    harness_obj_int(&ps->via.array.ptr[j], "leader_id", -1) >= 0)
				led++;
		return led == partitions;
	}
	return 0;
}

int harness_topic_wait_leaders(int port, const char *topic, int32_t partitions, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	harness_client_t *c = NULL;

	while (harness_now_ms() < deadline) {
		harness_resp_t r;

		if (!c && !(c = harness_client_connect(port))) {
			nap_ms(50);
			continue;
		}
		if (harness_client_request(c, PROTO_API_METADATA, pack_metadata_topics,
					   (void *)topic, 5000, &r) != HARNESS_OK) {
			harness_client_close(c);
			c = NULL;
			continue;
		}
		if (topic_led(r.body, topic, partitions)) {
			harness_resp_destroy(&r);
			harness_client_close(c);
			return 0;
		}
		harness_resp_destroy(&r);
		nap_ms(50);
	}
	harness_client_close(c);
	fprintf(stderr, "harness_broker: topic %s has no leaders on port %d after %d ms\n", topic,
		port, timeout_ms);
	return -1;
}

int harness_broker_create_topic(harness_broker_t *b, const char *zk_connect, const char *topic,
				int32_t partitions)
{
	if (harness_topic_create_zk(zk_connect, topic, partitions, 1, &b->id, 1) != 0)
		return -1;
	/* The broker leads them once it has seen the assignment and claimed
	 * leadership; under a sanitizer this can take a while. */
	return harness_topic_wait_leaders(b->port, topic, partitions, 30000);
}

/* ---- the client ------------------------------------------------------------ */

harness_client_t *harness_client_connect(int port)
{
	struct sockaddr_in a;
	harness_client_t *c;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (errno != EINPROGRESS || poll(&p, 1, 5000) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			close(fd);
			return NULL;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->next_corr = 1;
	return c;
}

void harness_client_close(harness_client_t *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

int harness_client_fd(const harness_client_t *c)
{
	return c->fd;
}

int32_t harness_client_next_correlation(const harness_client_t *c)
{
	return c->next_corr;
}

/* Waits for `events` on the socket until the deadline: 1 ready, 0 timeout,
 * -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int rc = poll(&p, 1, remaining_ms(deadline));

		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int harness_client_send_bytes(harness_client_t *c, const void *buf, size_t len, int timeout_ms,
			      size_t *sent)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	const char *p = buf;
	size_t done = 0;
	int rc = HARNESS_OK;

	while (done < len) {
		ssize_t n = send(c->fd, p + done, len - done, MSG_NOSIGNAL);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = wait_fd(c->fd, POLLOUT, deadline);

			if (w == 1)
				continue;
			rc = w == 0 ? HARNESS_TIMEOUT : HARNESS_ERROR;
			break;
		}
		rc = (errno == EPIPE || errno == ECONNRESET) ? HARNESS_CLOSED : HARNESS_ERROR;
		break;
	}
	if (sent)
		*sent = done;
	return rc;
}

/* Exactly len bytes before the deadline. */
static int recv_exact(harness_client_t *c, void *buf, size_t len, int64_t deadline)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(c->fd, p + got, len - got, 0);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return HARNESS_CLOSED;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int w = wait_fd(c->fd, POLLIN, deadline);

			if (w == 1)
				continue;
			return w == 0 ? HARNESS_TIMEOUT : HARNESS_ERROR;
		}
		return errno == ECONNRESET ? HARNESS_CLOSED : HARNESS_ERROR;
	}
	return HARNESS_OK;
}

int harness_client_recv_frame(harness_client_t *c, int timeout_ms, size_t max_len, char **frame,
			      size_t *len)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	uint8_t hdr[PROTO_FRAME_HDR];
	uint32_t n;
	char *buf;
	int rc;

	*frame = NULL;
	*len = 0;
	if ((rc = recv_exact(c, hdr, sizeof(hdr), deadline)) != HARNESS_OK)
		return rc;
	n = proto_frame_len(hdr);
	if (n > (max_len ? max_len : PROTO_MAX_RESPONSE_BYTES)) {
		fprintf(stderr, "harness_client: refusing a %u-byte frame\n", n);
		return HARNESS_ERROR;
	}
	if (!(buf = malloc(n ? n : 1)))
		return HARNESS_ERROR;
	if ((rc = recv_exact(c, buf, n, deadline)) != HARNESS_OK) {
		free(buf);
		return rc;
	}
	*frame = buf;
	*len = n;
	return HARNESS_OK;
}

int harness_client_is_closed(harness_client_t *c, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	char scratch[65536];

	for (;;) {
		ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);

		if (n == 0)
			return 1;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET || errno == EPIPE)
			return 1;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return 1;
		if (wait_fd(c->fd, POLLIN, deadline) != 1)
			return 0;
	}
}

void harness_resp_destroy(harness_resp_t *r)
{
	if (!r || !r->frame)
		return;
	msgpack_unpacked_destroy(&r->u);
	free(r->frame);
	r->frame = NULL;
}

int harness_client_recv_response(harness_client_t *c, int timeout_ms, harness_resp_t *out)
{
	char err[256];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = harness_client_recv_frame(c, timeout_ms, HB_MAX_RESPONSE, &out->frame,
					    &out->len)) != HARNESS_OK)
		return rc;
	msgpack_unpacked_init(&out->u);
	if (proto_response_decode(out->frame, out->len, &out->u, &out->correlation_id, &out->body,
				  err, sizeof(err))) {
		fprintf(stderr, "harness_client: bad response frame (%zu bytes): %s\n", out->len,
			err);
		harness_resp_destroy(out);
		return HARNESS_ERROR;
	}
	return HARNESS_OK;
}

/* Frames one request; `body` packs the body, else raw bytes follow. */
static int send_request(harness_client_t *c, int api_key, int api_version, harness_body_fn *body,
			void *arg, const void *raw, size_t raw_len, int timeout_ms, int32_t *corr)
{
	proto_buf_t b;
	msgpack_packer pk;
	int32_t id = c->next_corr++;
	int rc;

	proto_buf_init(&b);
	msgpack_packer_init(&pk, &b, proto_buf_write);
	proto_frame_begin(&b);
	proto_pack_request_header(&pk, api_key, api_version, id, "harness");
	if (body)
		body(&pk, arg);
	else
		proto_buf_write(&b, raw, raw_len);
	if (proto_frame_end(&b, 0) != BROOK_ERR_NO_ERROR) {
		proto_buf_destroy(&b);
		return HARNESS_ERROR;
	}
	rc = harness_client_send_bytes(c, b.sb.data, b.sb.size, timeout_ms, NULL);
	proto_buf_destroy(&b);
	if (corr)
		*corr = id;
	return rc;
}

int harness_client_send_request(harness_client_t *c, int api_key, int api_version,
				harness_body_fn *body, void *arg, int timeout_ms, int32_t *corr)
{
	return send_request(c, api_key, api_version, body, arg, NULL, 0, timeout_ms, corr);
}

int harness_client_send_request_raw(harness_client_t *c, int api_key, int api_version,
				    const void *body, size_t body_len, int timeout_ms,
				    int32_t *corr)
{
	return send_request(c, api_key, api_version, NULL, NULL, body, body_len, timeout_ms, corr);
}

static int await(harness_client_t *c, int32_t corr, int64_t deadline, harness_resp_t *out)
{
	int rc = harness_client_recv_response(c, remaining_ms(deadline), out);

	if (rc != HARNESS_OK)
		return rc;
	if (out->correlation_id != corr) {
		fprintf(stderr, "harness_client: response for correlation id %d, expected %d\n",
			out->correlation_id, corr);
		harness_resp_destroy(out);
		return HARNESS_ERROR;
	}
	return HARNESS_OK;
}

int harness_client_request(harness_client_t *c, int api_key, harness_body_fn *body, void *arg,
			   int timeout_ms, harness_resp_t *out)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	int32_t corr;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = harness_client_send_request(c, api_key, 0, body, arg, timeout_ms, &corr)))
		return rc;
	return await(c, corr, deadline, out);
}

int harness_client_request_raw(harness_client_t *c, int api_key, const void *body,
			       size_t body_len, int timeout_ms, harness_resp_t *out)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	int32_t corr;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = harness_client_send_request_raw(c, api_key, 0, body, body_len, timeout_ms,
						  &corr)))
		return rc;
	return await(c, corr, deadline, out);
}

/* ---- reading responses ----------------------------------------------------- */

const msgpack_object *harness_obj_get(const msgpack_object *map, const char *key)
{
	return proto_map_get(map, key);
}

int64_t harness_obj_int(const msgpack_object *map, const char *key, int64_t dflt)
{
	const msgpack_object *o = proto_map_get(map, key);
	int64_t v;

	if (!o || proto_obj_int(o, INT64_MIN, INT64_MAX, &v))
		return dflt;
	return v;
}

int harness_obj_str(const msgpack_object *map, const char *key, char *buf, size_t size)
{
	const msgpack_object *o = proto_map_get(map, key);
	size_t n;

	if (!o || o->type != MSGPACK_OBJECT_STR || size == 0)
		return -1;
	n = o->via.str.size < size - 1 ? o->via.str.size : size - 1;
	memcpy(buf, o->via.str.ptr, n);
	buf[n] = '\0';
	return 0;
}

int64_t harness_resp_error(const harness_resp_t *r, int64_t dflt)
{
	return harness_obj_int(r->body, "error_code", dflt);
}

/* The first element of array `key` of map, or NULL. */
static const msgpack_object *first_of(const msgpack_object *map, const char *key)
{
	const msgpack_object *a = proto_map_get(map, key);

	if (!a || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size < 1)
		return NULL;
	return &a->via.array.ptr[0];
}

static brook_err_t local_err(int rc)
{
	return rc == HARNESS_CLOSED ? BROOK_ERR__TRANSPORT :
	       rc == HARNESS_TIMEOUT ? BROOK_ERR__TIMED_OUT : BROOK_ERR__BAD_MSG;
}

/* ---- batches ----------------------------------------------------------------- */

uint8_t *harness_batch_build(const harness_rec_t *recs, int n, compress_codec_t codec,
			     size_t *len)
{
	record_batch_builder_t *bb;
	uint8_t *batch = NULL;
	int64_t now = harness_wall_ms();

	if (record_batch_builder_new(codec, RECORD_NO_PRODUCER_ID, -1, RECORD_NO_SEQUENCE, &bb))
		return NULL;
	for (int i = 0; i < n; i++)
		if (record_batch_builder_add(bb, recs[i].timestamp ? recs[i].timestamp : now,
					     recs[i].key, recs[i].key_len, recs[i].value,
					     recs[i].value_len, NULL, 0)) {
			record_batch_builder_free(bb);
			return NULL;
		}
	if (record_batch_builder_finish(bb, &batch, len))
		batch = NULL;
	record_batch_builder_free(bb);
	return batch;
}

uint8_t *harness_batch_simple(const char *prefix, int first, int n, size_t value_size,
			      int64_t ts, size_t *len)
{
	harness_rec_t *recs = calloc((size_t)(n > 0 ? n : 1), sizeof(*recs));
	char **bufs = calloc((size_t)(n > 0 ? n : 1) * 2, sizeof(*bufs));
	uint8_t *batch = NULL;
	int i;

	if (!recs || !bufs)
		goto done;
	for (i = 0; i < n; i++) {
		char key[128];
		int kl = snprintf(key, sizeof(key), "%s-k%d", prefix, first + i);
		size_t vl = strlen(prefix) + 24;

		if (vl < value_size)
			vl = value_size;
		if (!(bufs[2 * i] = strdup(key)) || !(bufs[2 * i + 1] = malloc(vl + 1)))
			goto done;
		/* a recognisable text, then a filler that still says who it is */
		snprintf(bufs[2 * i + 1], vl + 1, "%s-v%d", prefix, first + i);
		for (size_t k = strlen(bufs[2 * i + 1]); k < vl; k++)
			bufs[2 * i + 1][k] = (char)('a' + (size_t)(first + i + (int)k) % 26);
		bufs[2 * i + 1][vl] = '\0';
		recs[i] = (harness_rec_t){ bufs[2 * i], (size_t)kl, bufs[2 * i + 1],
					   value_size ? vl : strlen(bufs[2 * i + 1]), ts };
	}
	batch = harness_batch_build(recs, n, COMPRESS_NONE, len);
done:
	for (i = 0; bufs && i < 2 * n; i++)
		free(bufs[i]);
	free(bufs);
	free(recs);
	return batch;
}

void harness_batch_fix_crc(uint8_t *batch, size_t len)
{
	be32_put(batch + RECORD_BATCH_CRC_OFFSET, record_batch_compute_crc(batch, len));
}

/* ---- Produce ---------------------------------------------------------------- */

typedef struct produce_args {
	const char *topic;
	int32_t partition;
	int acks;
	const void *records;
	size_t len;
	int32_t request_timeout_ms;
} produce_args_t;

static void pack_produce(msgpack_packer *pk, void *arg)
{
	const produce_args_t *a = arg;

	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "acks", a->acks);
	proto_pack_kv_int(pk, "timeout_ms", a->request_timeout_ms);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_str(pk, "name", a->topic);
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "index", a->partition);
	proto_pack_kv_bin(pk, "records", a->records, a->len);
}

brook_err_t harness_produce(harness_client_t *c, const char *topic, int32_t partition,
			    int acks, const void *records, size_t len, int timeout_ms,
			    int64_t *base_offset)
{
	return harness_produce_timeout(c, topic, partition, acks, records, len, 10000, timeout_ms,
				       base_offset);
}

brook_err_t harness_produce_timeout(harness_client_t *c, const char *topic, int32_t partition,
				    int acks, const void *records, size_t len,
				    int32_t request_timeout_ms, int timeout_ms, int64_t *base_offset)
{
	produce_args_t a = { topic, partition, acks, records, len, request_timeout_ms };
	const msgpack_object *t, *p;
	harness_resp_t r;
	brook_err_t err;
	int rc;

	if (base_offset)
		*base_offset = -1;
	if (acks == 0) {
		rc = harness_client_send_request(c, PROTO_API_PRODUCE, 0, pack_produce, &a,
						 timeout_ms, NULL);
		return rc == HARNESS_OK ? BROOK_ERR_NO_ERROR : local_err(rc);
	}
	if ((rc = harness_client_request(c, PROTO_API_PRODUCE, pack_produce, &a, timeout_ms, &r)))
		return local_err(rc);
	if ((t = first_of(r.body, "responses")) && (p = first_of(t, "partitions"))) {
		err = (brook_err_t)harness_obj_int(p, "error_code", BROOK_ERR__BAD_MSG);
		if (base_offset)
			*base_offset = harness_obj_int(p, "base_offset", -1);
	} else {
		/* a whole-request error */
		err = (brook_err_t)harness_resp_error(&r, BROOK_ERR__BAD_MSG);
	}
	harness_resp_destroy(&r);
	return err;
}

/* ---- Fetch ------------------------------------------------------------------ */

static void pack_fetch(msgpack_packer *pk, void *arg)
{
	const harness_fetch_req_t *q = arg;

	msgpack_pack_map(pk, 6);
	proto_pack_kv_int(pk, "replica_id", -1);
	proto_pack_kv_int(pk, "max_wait_ms", q->max_wait_ms);
	proto_pack_kv_int(pk, "min_bytes", q->min_bytes);
	proto_pack_kv_int(pk, "max_bytes", q->max_bytes ? q->max_bytes : 50 << 20);
	proto_pack_kv_int(pk, "isolation_level", 0);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_str(pk, "name", q->topic);
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "partition", q->partition);
	proto_pack_kv_int(pk, "fetch_offset", q->offset);
	proto_pack_kv_int(pk, "partition_max_bytes",
			  q->partition_max_bytes ? q->partition_max_bytes : 1 << 20);
}

static char *copy_bytes(const uint8_t *p, ssize_t len)
{
	char *s;

	if (len < 0)
		return NULL;
	if (!(s = malloc((size_t)len + 1)))
		return NULL;
	memcpy(s, p, (size_t)len);
	s[len] = '\0';
	return s;
}

static int add_record(harness_fetch_result_t *out, size_t *cap, const record_t *rec)
{
	harness_record_t *hr;

	if (out->nrecords == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		harness_record_t *n = realloc(out->records, nc * sizeof(*n));

		if (!n)
			return -1;
		out->records = n;
		*cap = nc;
	}
	hr = &out->records[out->nrecords];
	hr->offset = rec->offset;
	hr->timestamp = rec->timestamp;
	hr->key_len = rec->key_len;
	hr->value_len = rec->value_len;
	hr->key = copy_bytes(rec->key, rec->key_len);
	hr->value = copy_bytes(rec->value, rec->value_len);
	if ((rec->key_len >= 0 && !hr->key) || (rec->value_len >= 0 && !hr->value)) {
		free(hr->key);
		free(hr->value);
		return -1;
	}
	out->nrecords++;
	return 0;
}

/* Every whole batch of a records blob, CRC-checked by the reader. */
static brook_err_t decode_records(const uint8_t *buf, size_t len, harness_fetch_result_t *out)
{
	size_t off = 0, cap = out->nrecords;

	out->records_bytes += len;
	while (off < len) {
		record_batch_reader_t rd;
		record_t rec;
		uint32_t blen;
		size_t size;
		brook_err_t err;

		if (len - off < RECORD_BATCH_LOG_OVERHEAD) {
			out->partial_bytes = len - off;
			break;
		}
		blen = be32_get(buf + off + 8);
		size = (size_t)blen + RECORD_BATCH_LOG_OVERHEAD;
		if (blen > INT32_MAX || size > len - off) {
			out->partial_bytes = len - off;
			break;
		}
		if ((err = record_batch_reader_init(&rd, buf + off, size, 64u << 20))) {
			fprintf(stderr, "harness_fetch: batch at byte %zu: %s\n", off,
				brook_err_name(err));
			return BROOK_ERR__BAD_MSG;
		}
		while ((err = record_batch_reader_next(&rd, &rec)) == BROOK_ERR_NO_ERROR)
			if (add_record(out, &cap, &rec)) {
				record_batch_reader_destroy(&rd);
				return BROOK_ERR__NOMEM;
			}
		record_batch_reader_destroy(&rd);
		if (err != BROOK_ERR__PARTITION_EOF) {
			fprintf(stderr, "harness_fetch: record in batch at byte %zu: %s\n", off,
				brook_err_name(err));
			return BROOK_ERR__BAD_MSG;
		}
		out->nbatches++;
		off += size;
	}
	return BROOK_ERR_NO_ERROR;
}

void harness_fetch_result_free(harness_fetch_result_t *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrecords; i++) {
		free(r->records[i].key);
		free(r->records[i].value);
	}
	free(r->records);
	memset(r, 0, sizeof(*r));
}

int harness_fetch_send(harness_client_t *c, const harness_fetch_req_t *req, int timeout_ms,
		       int32_t *corr)
{
	return harness_client_send_request(c, PROTO_API_FETCH, 0, pack_fetch, (void *)req,
					   timeout_ms, corr);
}

brook_err_t harness_fetch_recv(harness_client_t *c, int32_t corr, int timeout_ms,
			       harness_fetch_result_t *out)
{
	const msgpack_object *t, *p, *recs;
	harness_resp_t r;
	int64_t t0 = harness_now_ms();
	brook_err_t err;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = await(c, corr, t0 + timeout_ms, &r)))
		return local_err(rc);
	out->elapsed_ms = harness_now_ms() - t0;
	if (!(t = first_of(r.body, "responses")) || !(p = first_of(t, "partitions"))) {
		err = (brook_err_t)harness_resp_error(&r, BROOK_ERR__BAD_MSG);
		harness_resp_destroy(&r);
		return err ? err : BROOK_ERR__BAD_MSG;
	}
	err = (brook_err_t)harness_obj_int(p, "error_code", BROOK_ERR__BAD_MSG);
	out->high_watermark = harness_obj_int(p, "high_watermark", -1);
	out->log_start_offset = harness_obj_int(p, "log_start_offset", -1);
	recs = harness_obj_get(p, "records");
	if (!err && recs) {
		if (recs->type != MSGPACK_OBJECT_BIN)
			err = BROOK_ERR__BAD_MSG;
		else
			err = decode_records((const uint8_t *)recs->via.bin.ptr, recs->via.bin.size,
					     out);
	}
	harness_resp_destroy(&r);
	return err;
}

brook_err_t harness_fetch(harness_client_t *c, const harness_fetch_req_t *req, int timeout_ms,
			  harness_fetch_result_t *out)
{
	int64_t t0 = harness_now_ms();
	int32_t corr;
	brook_err_t err;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = harness_fetch_send(c, req, timeout_ms, &corr)))
		return local_err(rc);
	err = harness_fetch_recv(c, corr, remaining_ms(t0 + timeout_ms), out);
	out->elapsed_ms = harness_now_ms() - t0;
	return err;
}

brook_err_t harness_fetch_all(harness_client_t *c, const char *topic, int32_t partition,
			      int64_t from, int64_t to, int timeout_ms,
			      harness_fetch_result_t *out)
{
	int64_t deadline = harness_now_ms() + timeout_ms, next = from;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		harness_fetch_req_t q = { .topic = topic, .partition = partition, .offset = next };
		harness_fetch_result_t part;
		brook_err_t err;

		if (to >= 0 && next >= to)
			return BROOK_ERR_NO_ERROR;
		if (harness_now_ms() >= deadline)
			return BROOK_ERR__TIMED_OUT;
		err = harness_fetch(c, &q, remaining_ms(deadline), &part);
		out->high_watermark = part.high_watermark;
		out->log_start_offset = part.log_start_offset;
		if (err) {
			harness_fetch_result_free(&part);
			return err;
		}
		if (to < 0)
			to = part.high_watermark;
		for (size_t i = 0; i < part.nrecords; i++) {
			harness_record_t *hr = &part.records[i];

			/* a batch starts before the offset asked for: skip */
			if (hr->offset < next || hr->offset >= to) {
				free(hr->key);
				free(hr->value);
				continue;
			}
			if (hr->offset != next) {
				fprintf(stderr, "harness_fetch_all: offset %lld where %lld was "
					"due\n", (long long)hr->offset, (long long)next);
				for (; i < part.nrecords; i++) {
					free(part.records[i].key);
					free(part.records[i].value);
				}
				free(part.records);
				return BROOK_ERR__BAD_MSG;
			}
			if (out->nrecords == cap) {
				size_t nc = cap ? cap * 2 : 256;
				harness_record_t *n = realloc(out->records, nc * sizeof(*n));

				if (!n) {
					for (; i < part.nrecords; i++) {
						free(part.records[i].key);
						free(part.records[i].value);
					}
					free(part.records);
					return BROOK_ERR__NOMEM;
				}
				out->records = n;
				cap = nc;
			}
			out->records[out->nrecords++] = *hr;
			next++;
		}
		out->nbatches += part.nbatches;
		out->records_bytes += part.records_bytes;
		free(part.records);
		if (part.nrecords == 0 && next < to) {
			fprintf(stderr, "harness_fetch_all: no progress at offset %lld (hw %lld)\n",
				(long long)next, (long long)to);
			return BROOK_ERR__BAD_MSG;
		}
	}
}

/* ---- ListOffsets ---------------------------------------------------------- */

typedef struct list_args {
	const char *topic;
	int32_t partition;
	int64_t timestamp;
	int32_t replica_id;
} list_args_t;

static void pack_list_offsets(msgpack_packer *pk, void *arg)
{
	const list_args_t *a = arg;

	msgpack_pack_map(pk, 3);
	proto_pack_kv_int(pk, "replica_id", a->replica_id);
	proto_pack_kv_int(pk, "isolation_level", 0);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_str(pk, "name", a->topic);
	proto_pack_key(pk, "partitions");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	proto_pack_kv_int(pk, "partition_index", a->partition);
	proto_pack_kv_int(pk, "timestamp", a->timestamp);
}

brook_err_t harness_list_offset(harness_client_t *c, const char *topic, int32_t partition,
				int64_t timestamp, int timeout_ms, int64_t *offset)
{
	return harness_list_offset_replica(c, topic, partition, -1, timestamp, timeout_ms, offset);
}

brook_err_t harness_list_offset_replica(harness_client_t *c, const char *topic,
					int32_t partition, int32_t replica_id, int64_t timestamp,
					int timeout_ms, int64_t *offset)
{
	list_args_t a = { topic, partition, timestamp, replica_id };
	const msgpack_object *t, *p;
	harness_resp_t r;
	brook_err_t err;
	int rc;

	*offset = -1;
	if ((rc = harness_client_request(c, PROTO_API_LIST_OFFSETS, pack_list_offsets, &a,
					 timeout_ms, &r)))
		return local_err(rc);
	if ((t = first_of(r.body, "topics")) && (p = first_of(t, "partitions"))) {
		err = (brook_err_t)harness_obj_int(p, "error_code", BROOK_ERR__BAD_MSG);
		*offset = harness_obj_int(p, "offset", -1);
	} else {
		err = (brook_err_t)harness_resp_error(&r, BROOK_ERR__BAD_MSG);
	}
	harness_resp_destroy(&r);
	return err;
}

/* ---- partition metadata ---------------------------------------------------- */

/* An array of ints into ids (at most HARNESS_MAX_REPLICAS); 0 or -1. */
static int get_ids(const msgpack_object *map, const char *key, int32_t *ids, int *n)
{
	const msgpack_object *a = proto_map_get(map, key);

	*n = 0;
	if (!a || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size > HARNESS_MAX_REPLICAS)
		return -1;
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		int64_t v;

		if (proto_obj_int(&a->via.array.ptr[i], INT32_MIN, INT32_MAX, &v))
			return -1;
		ids[(*n)++] = (int32_t)v;
	}
	return 0;
}

brook_err_t harness_partition_info(harness_client_t *c, const char *topic, int32_t partition,
				   int timeout_ms, harness_partition_info_t *out)
{
	const msgpack_object *topics;
	harness_resp_t r;
	brook_err_t err = BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	int rc;

	memset(out, 0, sizeof(*out));
	out->leader = -1;
	out->leader_epoch = -1;
	if ((rc = harness_client_request(c, PROTO_API_METADATA, pack_metadata_topics,
					 (void *)topic, timeout_ms, &r)))
		return local_err(rc);
	topics = harness_obj_get(r.body, "topics");
	for (uint32_t i = 0; topics && topics->type == MSGPACK_OBJECT_ARRAY &&
			     i < topics->via.array.size; i++) {
		const msgpack_object *t = &topics->via.array.ptr[i];
		const msgpack_object *ps = harness_obj_get(t, "partitions");
		char name[ZK_TOPIC_MAX + 1];

		if (harness_obj_str(t, "name", name, sizeof(name)) || strcmp(name, topic) != 0)
			continue;
		if ((err = (brook_err_t)harness_obj_int(t, "error_code", BROOK_ERR__BAD_MSG)))
			break;
		err = BROOK_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		for (uint32_t j = 0; ps && ps->type == MSGPACK_OBJECT_ARRAY &&
				     j < ps->via.array.size; j++) {
			const msgpack_object *p = &ps->via.array.ptr[j];

			if (harness_obj_int(p, "partition_index", -1) != partition)
				continue;
			err = (brook_err_t)harness_obj_int(p, "error_code", BROOK_ERR__BAD_MSG);
			out->leader = (int32_t)harness_obj_int(p, "leader_id", -1);
			out->leader_epoch = (int32_t)harness_obj_int(p, "leader_epoch", -1);
			if (get_ids(p, "replica_nodes", out->replicas, &out->nreplicas) ||
			    get_ids(p, "isr_nodes", out->isr, &out->nisr) ||
			    get_ids(p, "offline_replicas", out->offline, &out->noffline))
				err = BROOK_ERR__BAD_MSG;
			break;
		}
		break;
	}
	harness_resp_destroy(&r);
	return err;
}

const char *harness_ids_str(const int32_t *ids, int n, char *buf, size_t size)
{
	size_t off = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (int i = 0; i < n && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%d", i ? "," : "", (int)ids[i]);
	return buf;
}

/* The same brokers, in any order. */
static int same_ids(const int32_t *a, int na, const int32_t *b, int nb)
{
	if (na != nb)
		return 0;
	for (int i = 0; i < na; i++) {
		int found = 0;

		for (int j = 0; j < nb && !found; j++)
			found = a[i] == b[j];
		if (!found)
			return 0;
	}
	return 1;
}

int harness_partition_wait_isr(int port, const char *topic, int32_t partition,
			       const int32_t *isr, int n, int timeout_ms,
			       harness_partition_info_t *last)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	harness_partition_info_t info;
	harness_client_t *c = NULL;
	brook_err_t err = BROOK_ERR__TIMED_OUT;
	char want[128], got[128];

	memset(&info, 0, sizeof(info));
	for (;;) {
		if (!c)
			c = harness_client_connect(port);
		if (c) {
			err = harness_partition_info(c, topic, partition, remaining_ms(deadline) + 100,
						     &info);
			if (err == BROOK_ERR_NO_ERROR && same_ids(info.isr, info.nisr, isr, n))
				break;
			if (err < 0) { /* a transport problem: a new connection */
				harness_client_close(c);
				c = NULL;
			}
		}
		if (harness_now_ms() >= deadline) {
			fprintf(stderr, "harness_broker: %s-%d: ISR [%s] on port %d after %d ms, "
				"waiting for [%s] (%s)\n", topic, (int)partition,
				harness_ids_str(info.isr, info.nisr, got, sizeof(got)), port,
				timeout_ms, harness_ids_str(isr, n, want, sizeof(want)),
				brook_err_name(err));
			break;
		}
		nap_ms(20);
	}
	harness_client_close(c);
	if (last)
		*last = info;
	return err == BROOK_ERR_NO_ERROR && same_ids(info.isr, info.nisr, isr, n) ? 0 : -1;
}

/* ---- the partition state znode ---------------------------------------------- */

typedef struct zk_read {
	int done;
	brook_err_t err;
	char *data;
	size_t len;
	int32_t version;
} zk_read_t;

static void on_data(zk_session_t *s, brook_err_t err, const char *data, size_t len,
		    const zk_stat_t *stat, void *opaque)
{
	zk_read_t *r = opaque;

	(void)s;
	r->err = err;
	if (!err && (r->data = malloc(len + 1))) {
		memcpy(r->data, data, len);
		r->data[len] = '\0';
		r->len = len;
		r->version = stat ? stat->version : -1;
	} else if (!err) {
		r->err = BROOK_ERR__NOMEM;
	}
	r->done = 1;
}

static void on_stat(zk_session_t *s, brook_err_t err, const zk_stat_t *stat, void *opaque)
{
	(void)stat;
	on_void(s, err, opaque);
}

int harness_partition_bump_leader_epoch(const char *zk_connect, const char *topic,
					int32_t partition, int32_t *epoch)
{
	struct ev_loop *loop;
	zk_session_t *s;
	char path[ZK_PATH_MAX], why[256];
	brook_err_t err = BROOK_ERR__VERSION;

	if (zk_path_partition_state(path, sizeof(path), topic, partition) ||
	    !(s = zk_open(&loop, zk_connect)))
		return -1;
	/* a broker's own ISR write may come between our read and our write */
	for (int attempt = 0; attempt < 20 && err == BROOK_ERR__VERSION; attempt++) {
		zk_read_t r = { 0, BROOK_ERR_NO_ERROR, NULL, 0, -1 };
		zk_wait_t w = { 0, BROOK_ERR_NO_ERROR };
		zk_partition_state_t st;
		char *json = NULL;

		if (zk_get(s, path, NULL, on_data, &r) != BROOK_ERR_NO_ERROR ||
		    zk_run_until(s, &r.done, 20000) != BROOK_ERR_NO_ERROR) {
			err = BROOK_ERR__TIMED_OUT;
			break;
		}
		if ((err = r.err))
			break;
		err = zk_json_partition_state_decode(r.data, r.len, &st, why, sizeof(why));
		free(r.data);
		if (err) {
			fprintf(stderr, "harness_broker: %s: %s\n", path, why);
			break;
		}
		st.leader_epoch++;
		if ((err = zk_json_partition_state_encode(&st, &json)))
			break;
		err = zk_finish(s, zk_set(s, path, json, strlen(json), r.version, on_stat, &w), &w,
				20000);
		free(json);
		if (!err && epoch)
			*epoch = st.leader_epoch;
	}
	if (err)
		fprintf(stderr, "harness_broker: bumping the leader epoch of %s: %s\n", path,
			brook_err_name(err));
	zk_close(s, loop);
	return err ? -1 : 0;
}

/* ---- cluster views, ZooKeeper nodes and the brook tool --------------------- */

int harness_broker_set_overrides(harness_broker_t *b, const char *const *overrides)
{
	char *copy[HB_MAX_OVERRIDES];
	int n = 0;

	if (!b)
		return -1;
	for (int i = 0; overrides && overrides[i]; i++) {
		if (n == HB_MAX_OVERRIDES || !(copy[n] = strdup(overrides[i]))) {
			while (n > 0)
				free(copy[--n]);
			return -1;
		}
		n++;
	}
	for (int i = 0; i < b->noverrides; i++)
		free(b->overrides[i]);
	for (int i = 0; i < n; i++)
		b->overrides[i] = copy[i];
	b->noverrides = n;
	return 0;
}

static void pack_metadata_no_topics(msgpack_packer *pk, void *arg)
{
	(void)arg;
	msgpack_pack_map(pk, 1);
	proto_pack_key(pk, "topics");
	msgpack_pack_array(pk, 0);
}

brook_err_t harness_cluster_info(harness_client_t *c, int timeout_ms,
				 harness_cluster_info_t *out)
{
	const msgpack_object *brs;
	harness_resp_t r;
	int rc;

	memset(out, 0, sizeof(*out));
	out->controller = -1;
	if ((rc = harness_client_request(c, PROTO_API_METADATA, pack_metadata_no_topics, NULL,
					 timeout_ms, &r)))
		return local_err(rc);
	out->controller = (int32_t)harness_obj_int(r.body, "controller_id", -1);
	brs = harness_obj_get(r.body, "brokers");
	for (uint32_t i = 0; brs && brs->type == MSGPACK_OBJECT_ARRAY && i < brs->via.array.size &&
			     out->nbrokers < HARNESS_MAX_BROKERS; i++)
		out->brokers[out->nbrokers++] =
			(int32_t)harness_obj_int(&brs->via.array.ptr[i], "node_id", -1);
	harness_resp_destroy(&r);
	return BROOK_ERR_NO_ERROR;
}

int harness_cluster_has(const harness_cluster_info_t *ci, int32_t id)
{
	for (int i = 0; i < ci->nbrokers; i++)
		if (ci->brokers[i] == id)
			return 1;
	return 0;
}

int harness_topic_create_assigned_zk(const char *zk_connect, const char *topic,
				     int32_t partitions, int32_t rf, const int32_t *replicas)
{
	struct ev_loop *loop;
	zk_session_t *s;
	zk_topic_assignment_t *a;
	char path[ZK_PATH_MAX], *json = NULL;
	zk_wait_t w = { 0, BROOK_ERR_NO_ERROR };
	brook_err_t err;

	if (partitions <= 0 || rf <= 0 || zk_path_topic(path, sizeof(path), topic))
		return -1;
	if (!(a = zk_topic_assignment_new(partitions, rf)))
		return -1;
	for (int32_t p = 0; p < partitions; p++)
		for (int32_t r = 0; r < rf; r++)
			a->partitions[p].ids[r] = replicas[p * rf + r];
	err = zk_json_topic_assignment_encode(a, &json);
	zk_topic_assignment_free(a);
	if (err)
		return -1;
	if (!(s = zk_open(&loop, zk_connect))) {
		free(json);
		return -1;
	}
	err = zk_finish(s, zk_create_path(s, ZK_PATH_TOPICS, on_void, &w), &w, 20000);
	if (!err) {
		w.done = 0;
		err = zk_finish(s, zk_create(s, path, json, strlen(json), ZK_PERSISTENT, on_create,
					     &w), &w, 20000);
	}
	if (err)
		fprintf(stderr, "harness_broker: creating %s: %s\n", path, brook_err_name(err));
	free(json);
	zk_close(s, loop);
	return err ? -1 : 0;
}

int harness_topic_config_zk(const char *zk_connect, const char *topic, const char *key,
			    const char *value)
{
	char kv[1024];
	const char *kvs[] = { kv, NULL };

	if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", key, value) >= sizeof(kv))
		return -1;
	return harness_topic_set_config_zk(zk_connect, topic, kvs);
}

/* 1 exists, 0 not, -1 error, on an open session. */
static int node_exists(zk_session_t *s, const char *path)
{
	zk_wait_t w = { 0, BROOK_ERR_NO_ERROR };
	brook_err_t err = zk_finish(s, zk_exists(s, path, NULL, on_stat, &w), &w, 20000);

	return err == BROOK_ERR_NO_ERROR ? 1 : err == BROOK_ERR__NOENT ? 0 : -1;
}

int harness_zk_exists(const char *zk_connect, const char *path)
{
	struct ev_loop *loop;
	zk_session_t *s = zk_open(&loop, zk_connect);
	int rc;

	if (!s)
		return -1;
	rc = node_exists(s, path);
	zk_close(s, loop);
	return rc;
}

int64_t harness_zk_wait_absent(const char *zk_connect, const char *const *paths, int n,
			       int timeout_ms)
{
	int64_t t0 = harness_now_ms(), deadline = t0 + timeout_ms;
	struct ev_loop *loop;
	zk_session_t *s = zk_open(&loop, zk_connect);
	int left = n;

	if (!s)
		return -1;
	for (;;) {
		left = 0;
		for (int i = 0; i < n; i++)
			if (node_exists(s, paths[i]) != 0)
				left++;
		if (!left || harness_now_ms() >= deadline)
			break;
		nap_ms(50);
	}
	if (left)
		for (int i = 0; i < n; i++)
			if (node_exists(s, paths[i]) != 0)
				fprintf(stderr, "harness_broker: %s still there after %d ms\n",
					paths[i], timeout_ms);
	zk_close(s, loop);
	return left ? -1 : harness_now_ms() - t0;
}

static int find_brook_cli(char *out, size_t size)
{
	const char *top = getenv("BROOK_TOP_BUILDDIR");
	char exe[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n;

	(void)size; /* out holds PATH_MAX bytes */
	if (top && *top) {
		snprintf(cand, sizeof(cand), "%s/client/brook", top);
		if (access(cand, X_OK) == 0 && realpath(cand, out))
			return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')))
			*slash = '\0';
		snprintf(cand, sizeof(cand), "%s/../client/brook", exe);
		if (access(cand, X_OK) == 0 && realpath(cand, out))
			return 0;
	}
	fprintf(stderr, "harness_broker: cannot find client/brook; set BROOK_TOP_BUILDDIR\n");
	return -1;
}

int harness_brook_cli(const char *const *args, int timeout_ms, char *out, size_t size)
{
	char tool[PATH_MAX], *argv[64], sink[4096];
	int64_t deadline = harness_now_ms() + timeout_ms;
	size_t used = 0;
	int fds[2], argc = 0, status = 0, open_pipe = 1;
	pid_t pid;

	if (out && size)
		out[0] = '\0';
	if (find_brook_cli(tool, sizeof(tool)) != 0)
		return -1;
	argv[argc++] = tool;
	for (int i = 0; args && args[i]; i++) {
		if (argc == (int)(sizeof(argv) / sizeof(argv[0])) - 1)
			return -1;
		argv[argc++] = (char *)args[i];
	}
	argv[argc] = NULL;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		sigset_t none;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(fds[1], 1) < 0 ||
		    dup2(fds[1], 2) < 0)
			_exit(127);
		execv(tool, argv);
		_exit(127);
	}
	close(fds[1]);
	while (open_pipe) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		int rc = poll(&p, 1, remaining_ms(deadline));
		int keep = out && size && used + 1 < size;
		ssize_t got;

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			break; /* timeout (or error): killed below */
		/* past the room in out, the rest is read and dropped */
		got = keep ? read(fds[0], out + used, size - 1 - used) :
			     read(fds[0], sink, sizeof(sink));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			open_pipe = 0;
			break;
		}
		if (keep) {
			used += (size_t)got;
			out[used] = '\0';
		}
	}
	close(fds[0]);
	if (open_pipe || !reap(pid, remaining_ms(deadline) + 1000, &status)) {
		fprintf(stderr, "harness_broker: %s did not finish within %d ms; killing it\n",
			tool, timeout_ms);
		kill(pid, SIGKILL);
		reap(pid, 10000, &status);
		return -1;
	}
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- topic config overrides (test_broker_api) ------------------------------ */

int harness_topic_set_config_zk(const char *zk_connect, const char *topic,
				const char *const *kvs)
{
	struct ev_loop *loop;
	zk_session_t *s;
	zk_topic_config_t *cfg = NULL;
	char path[ZK_PATH_MAX], *json = NULL;
	zk_wait_t w = { 0, BROOK_ERR_NO_ERROR };
	brook_err_t err = BROOK_ERR_NO_ERROR;

	if (zk_path_topic_config(path, sizeof(path), topic))
		return -1;
	if (kvs) {
		if (!(cfg = zk_topic_config_new()))
			return -1;
		for (int i = 0; kvs[i] && !err; i++) {
			const char *eq = strchr(kvs[i], '=');
			char key[256];

			if (!eq || (size_t)(eq - kvs[i]) >= sizeof(key)) {
				err = BROOK_ERR__INVALID_ARG;
				break;
			}
			memcpy(key, kvs[i], (size_t)(eq - kvs[i]));
			key[eq - kvs[i]] = '\0';
			err = zk_topic_config_set(cfg, key, eq + 1);
		}
		if (!err)
			err = zk_json_topic_config_encode(cfg, &json);
		zk_topic_config_free(cfg);
		if (err) {
			fprintf(stderr, "harness_broker: config for %s: %s\n", topic,
				brook_err_name(err));
			free(json);
			return -1;
		}
	}
	if (!(s = zk_open(&loop, zk_connect))) {
		free(json);
		return -1;
	}
	if (!json) {
		err = zk_finish(s, zk_delete(s, path, ZK_ANY_VERSION, on_void, &w), &w, 20000);
		if (err == BROOK_ERR__NOENT)
			err = BROOK_ERR_NO_ERROR;
	} else {
		err = zk_finish(s, zk_create_path(s, ZK_PATH_CONFIG_TOPICS, on_void, &w), &w,
				20000);
		if (!err) {
			w.done = 0;
			err = zk_finish(s, zk_create(s, path, json, strlen(json), ZK_PERSISTENT,
						     on_create, &w), &w, 20000);
		}
		if (err == BROOK_ERR__EXISTS) {
			w.done = 0;
			err = zk_finish(s, zk_set(s, path, json, strlen(json), ZK_ANY_VERSION,
						  on_stat, &w), &w, 20000);
		}
	}
	if (err)
		fprintf(stderr, "harness_broker: writing %s: %s\n", path, brook_err_name(err));
	free(json);
	zk_close(s, loop);
	return err ? -1 : 0;
}

int harness_topic_create_config_zk(const char *zk_connect, const char *topic,
				   int32_t partitions, int32_t rf, const int32_t *broker_ids,
				   int nbrokers, const char *const *kvs)
{
	/* Kafka's order (AdminZkClient): the config first, so no broker ever
	 * sees the topic without its overrides. */
	if (kvs && harness_topic_set_config_zk(zk_connect, topic, kvs) != 0)
		return -1;
	return harness_topic_create_zk(zk_connect, topic, partitions, rf, broker_ids, nbrokers);
}

int harness_produce_send(harness_client_t *c, const char *topic, int32_t partition, int acks,
			 const void *records, size_t len, int32_t request_timeout_ms,
			 int timeout_ms, int32_t *corr)
{
	produce_args_t a = { topic, partition, acks, records, len, request_timeout_ms };

	return harness_client_send_request(c, PROTO_API_PRODUCE, 0, pack_produce, &a, timeout_ms,
					   corr);
}

brook_err_t harness_produce_recv(harness_client_t *c, int32_t corr, int timeout_ms,
				 int64_t *base_offset)
{
	const msgpack_object *t, *p;
	harness_resp_t r;
	brook_err_t err;
	int rc;

	if (base_offset)
		*base_offset = -1;
	if ((rc = await(c, corr, harness_now_ms() + timeout_ms, &r)))
		return local_err(rc);
	if ((t = first_of(r.body, "responses")) && (p = first_of(t, "partitions"))) {
		err = (brook_err_t)harness_obj_int(p, "error_code", BROOK_ERR__BAD_MSG);
		if (base_offset)
			*base_offset = harness_obj_int(p, "base_offset", -1);
	} else {
		err = (brook_err_t)harness_resp_error(&r, BROOK_ERR__BAD_MSG);
	}
	harness_resp_destroy(&r);
	return err;
}
