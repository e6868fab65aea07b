/*
 * harness_zk.h - a real ZooKeeper ensemble for integration tests.
 *
 * Drives zk/zk-ensemble (found through $BROOK_TOP_SRCDIR, which `make
 * check` exports, else relative to the test binary or the current folder).
 * Each ensemble lives in a scratch folder of the harness and runs on a base
 * port picked from the test's pid in 20000..32699 (below Linux's ephemeral
 * range), retried when a port is taken.
 *
 * Cleanup: an ensemble is stopped by harness_zk_stop(), at exit, on
 * SIGINT/SIGTERM/SIGHUP/SIGABRT, and by the script's watchdog if the test
 * dies any other way (SIGKILL, a sanitizer's _exit). Only the pids the
 * script recorded are ever signalled.
 *
 * Ownership: the harness owns the ensemble handle and the strings it
 * returns; they stay valid until harness_zk_stop().
 */
#ifndef BROOK_HARNESS_ZK_H
#define BROOK_HARNESS_ZK_H

#include <stdint.h>

typedef struct harness_zk harness_zk_t;

/* Starts `servers` (1 or 3) servers and waits until they serve (one
 * leader). Returns 0, or -1 with the reason on stderr. */
int harness_zk_start(int servers, harness_zk_t **out);

/* Stops the ensemble (SIGTERM, then SIGKILL) and frees the handle.
 * harness_zk_stop(NULL) is a no-op. Returns 0 or -1. */
int harness_zk_stop(harness_zk_t *z);

/* "127.0.0.1:P,127.0.0.1:P+1,127.0.0.1:P+2" */
const char *harness_zk_connect_string(const harness_zk_t *z);
int harness_zk_servers(const harness_zk_t *z);
/* Client port of server i (1-based). */
int harness_zk_client_port(const harness_zk_t *z, int server);
/* The server (1-based) that listens on "host:port" or on `port`, or -1. */
int harness_zk_server_of(const harness_zk_t *z, const char *host_port);

/* kill -9 one server (1-based), waiting until it is gone. 0 or -1. */
int harness_zk_kill(harness_zk_t *z, int server);
/* Starts a killed server again and waits until it serves. 0 or -1. */
int harness_zk_restart(harness_zk_t *z, int server);

/* Expires a session the classic way: opens a second connection with the
 * same session id and password, then closes it, which ends the session on
 * the servers; the original client learns of it when it reconnects.
 * Returns 0, or -1 when the session could not be resumed in time. */
int harness_zk_expire_session(const char *connect, int64_t session_id,
			      const unsigned char passwd[16], int timeout_ms);

#endif /* BROOK_HARNESS_ZK_H */
