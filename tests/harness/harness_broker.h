/*
 * harness_broker.h - real brookd processes for integration tests, and a
 * tiny synchronous client that speaks the wire protocol (proto.h) to them.
 *
 * Brokers: each gets a scratch folder of the harness (config file, log.dirs,
 * one stderr log per run), a free port on 127.0.0.1 and the test's
 * ZooKeeper. The binary is $BROOK_TOP_BUILDDIR/src/brookd (exported by
 * `make check`), else found next to the test binary. Startup waits until
 * the port accepts a connection AND answers an ApiVersions request.
 *
 * Cleanup: every broker pid is recorded. harness_broker_stop_all() (call it
 * at the end of main) stops them and reports sanitizer findings; at exit
 * the rest get SIGTERM, then SIGKILL; on SIGINT/SIGTERM/SIGHUP/SIGABRT they
 * get SIGKILL before the previous handler (harness_zk's) runs; and each
 * broker dies with the test process in any case (PR_SET_PDEATHSIG). Only
 * our own pids are ever signalled.
 *
 * Sanitizers: when a broker run ends (stop, restart, stop_all), its log is
 * searched for AddressSanitizer/LeakSanitizer/UBSan reports; a report fails
 * the call (and is copied to the test's stderr).
 *
 * Ownership: the harness owns broker handles until the test process exits
 * (a stopped broker can be started again). Client handles belong to the
 * caller (harness_client_close). A harness_resp_t owns its frame bytes and
 * its unpacked tree until harness_resp_destroy(). Fetched records are
 * copies owned by the harness_fetch_result_t.
 */
#ifndef BROOK_HARNESS_BROKER_H
#define BROOK_HARNESS_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include "brook.h"
#include "compress.h"

/* ---- brokers ---------------------------------------------------------- */

typedef struct harness_broker harness_broker_t;

/* Starts broker `id` against zk_connect. `overrides` (NULL-terminated
 * "key=value" strings, may be NULL) go on the command line as --override,
 * after the harness's config file, which sets broker.id, listeners,
 * log.dirs, zookeeper.connect, a short ZooKeeper session timeout and
 * 1 MiB segments. Waits (bounded) until the broker serves; NULL with the
 * reason and the broker's log on stderr otherwise. */
harness_broker_t *harness_broker_start(const char *zk_connect, int32_t id,
				       const char *const *overrides);

/* SIGTERM, wait (bounded), SIGKILL as a last resort; then checks the run's
 * log for sanitizer reports. 0, or -1 when the broker had to be killed,
 * exited with a non-zero status, or its log holds a sanitizer report.
 * A broker that is not running: 0. */
int harness_broker_stop(harness_broker_t *b);

/* kill -9 and reap. 0 or -1. */
int harness_broker_kill9(harness_broker_t *b);

/* Stops the broker if it runs (harness_broker_stop), then starts it again
 * on the same port, config and data, with a fresh log for the new run, and
 * waits until it serves. 0, or -1 (stop failed or no start). */
int harness_broker_restart(harness_broker_t *b);

/* Starts a stopped or killed broker again (same as restart without the
 * stop). 0 or -1. */
int harness_broker_resume(harness_broker_t *b);

/* Stops every broker still running; -1 when any stop failed or any run's
 * log holds a sanitizer report. Call it at the end of main. */
int harness_broker_stop_all(void);

/* 1 while the process is alive (reaps it when it has exited). */
int harness_broker_alive(harness_broker_t *b);
pid_t harness_broker_pid(const harness_broker_t *b);
int harness_broker_port(const harness_broker_t *b);
int32_t harness_broker_id(const harness_broker_t *b);
/* The broker's log.dirs folder. */
const char *harness_broker_data_dir(const harness_broker_t *b);
/* The current (or last) run's stderr log. */
const char *harness_broker_log_path(const harness_broker_t *b);

/* 1 when the current (or last) run's log contains `needle`, else 0. */
int harness_broker_log_contains(const harness_broker_t *b, const char *needle);
/* Waits until the current run's log contains `needle`; 0, or -1 on timeout. */
int harness_broker_wait_log(const harness_broker_t *b, const char *needle, int timeout_ms);

/* SIGSTOP: the broker keeps its sockets and its ZooKeeper registration
 * but does nothing, as in a long GC pause or a hung disk. Its ZooKeeper
 * session still times out (the local ensemble grants at most 10 s: tickTime
 * 500 ms x 20), so keep pauses shorter than that. Waits until the kernel
 * reports the process stopped. 0, or -1 when it does not run. A paused
 * broker gets SIGCONT before harness_broker_stop/kill9/restart and the
 * cleanup at exit signal it, so a failing test cannot hang there. */
int harness_broker_pause(harness_broker_t *b);
/* SIGCONT a paused broker. 0, or -1 when it does not run. */
int harness_broker_cont(harness_broker_t *b);
/* 1 while paused by harness_broker_pause. */
int harness_broker_paused(const harness_broker_t *b);

/* The bytes of every segment file (<log.dirs>/<topic>-<partition>/
 * <base offset>.log) of the partition on broker b, concatenated in offset
 * order: what this replica holds, comparable byte for byte with the other
 * replicas. A running broker may be in the middle of an append, so the end
 * may hold part of a batch. malloc'd (the caller frees); NULL when the
 * folder or a file cannot be read. */
uint8_t *harness_broker_partition_log(const harness_broker_t *b, const char *topic,
				      int32_t partition, size_t *len);
/* The path of the partition's last (active) segment file on broker b, for
 * tests that edit a stopped broker's log. 0, or -1 when there is none. */
int harness_broker_active_segment(const harness_broker_t *b, const char *topic,
				  int32_t partition, char *buf, size_t size);

/* VmRSS of a process in KiB, from /proc/<pid>/status; -1 on error. */
long harness_proc_rss_kb(pid_t pid);

/* Milliseconds on the monotonic clock. */
int64_t harness_now_ms(void);
/* Milliseconds since the epoch (record timestamps). */
int64_t harness_wall_ms(void);

/* ---- topics ----------------------------------------------------------- */

/* Writes /brokers/topics/<topic> = {"version":1,"partitions":{"0":[..],..}}
 * through the zk layer, as the admin tool does: partition p gets `rf`
 * replicas taken round-robin from broker_ids starting at p. 0 or -1. */
int harness_topic_create_zk(const char *zk_connect, const char *topic, int32_t partitions,
			    int32_t rf, const int32_t *broker_ids, int nbrokers);

/* Waits until the broker on `port` lists `topic` in its Metadata with all
 * `partitions` partitions led (leader_id >= 0, error_code 0). 0 or -1. */
int harness_topic_wait_leaders(int port, const char *topic, int32_t partitions, int timeout_ms);

/* Both, for a topic whose partitions all live on broker b alone. */
int harness_broker_create_topic(harness_broker_t *b, const char *zk_connect, const char *topic,
				int32_t partitions);

/* Does what a controller does when it elects the same leader again:
 * reads /brokers/topics/<topic>/partitions/<p>/state, adds one to its
 * leader_epoch and writes it back with a version check (read again and
 * retried when a broker's ISR write got there first). The leader starts
 * the new epoch at its log end; followers ask it where their logs agree
 * (OffsetsForLeaderEpoch). *epoch (may be NULL) gets the new epoch. 0 or
 * -1. */
int harness_partition_bump_leader_epoch(const char *zk_connect, const char *topic,
					int32_t partition, int32_t *epoch);

/* ---- the protocol client ---------------------------------------------- */

typedef struct harness_client harness_client_t;

/* Result codes of the raw calls. */
#define HARNESS_OK 0
#define HARNESS_CLOSED (-1)  /* the peer closed or reset the connection */
#define HARNESS_TIMEOUT (-2)
#define HARNESS_ERROR (-3)   /* a local failure, or a frame we refuse */

/* A blocking TCP connection to 127.0.0.1:port (bounded wait); NULL on
 * failure. */
harness_client_t *harness_client_connect(int port);
void harness_client_close(harness_client_t *c);
int harness_client_fd(const harness_client_t *c);
/* The correlation id the next request will carry (they count up from 1). */
int32_t harness_client_next_correlation(const harness_client_t *c);

/* Packs exactly one msgpack value: the request body. */
typedef void(harness_body_fn)(msgpack_packer *pk, void *arg);

/* A decoded response: the frame, its unpacked tree, and what it says. */
typedef struct harness_resp {
	char *frame;
	size_t len;
	msgpack_unpacked u;
	int32_t correlation_id;
	const msgpack_object *body; /* a map */
} harness_resp_t;

void harness_resp_destroy(harness_resp_t *r);

/* Sends [api_key, api_version, corr, "harness", body] without waiting;
 * *corr (may be NULL) gets the correlation id used. HARNESS_OK or an error
 * (HARNESS_TIMEOUT: the socket did not take the frame within timeout_ms). */
int harness_client_send_request(harness_client_t *c, int api_key, int api_version,
				harness_body_fn *body, void *arg, int timeout_ms, int32_t *corr);
/* The same with a ready msgpack body (any bytes: it need not be a map). */
int harness_client_send_request_raw(harness_client_t *c, int api_key, int api_version,
				    const void *body, size_t body_len, int timeout_ms,
				    int32_t *corr);

/* Receives one response frame and decodes it as [correlation_id, map]. */
int harness_client_recv_response(harness_client_t *c, int timeout_ms, harness_resp_t *out);

/* Sends a version-0 request and waits for its response, checking that the
 * correlation id matches. HARNESS_OK (out to be destroyed) or an error
 * (out then holds nothing to destroy). */
int harness_client_request(harness_client_t *c, int api_key, harness_body_fn *body, void *arg,
			   int timeout_ms, harness_resp_t *out);
int harness_client_request_raw(harness_client_t *c, int api_key, const void *body,
			       size_t body_len, int timeout_ms, harness_resp_t *out);

/* Raw bytes, all of them within timeout_ms. *sent (may be NULL) says how
 * many went out. */
int harness_client_send_bytes(harness_client_t *c, const void *buf, size_t len, int timeout_ms,
			      size_t *sent);
/* One frame (without its length prefix), malloc'd into *frame. Frames over
 * max_len (0: 1 GiB) are refused with HARNESS_ERROR. */
int harness_client_recv_frame(harness_client_t *c, int timeout_ms, size_t max_len, char **frame,
			      size_t *len);
/* 1 when the peer closes (or resets) the connection within timeout_ms,
 * discarding whatever it sends before; 0 when it is still open. */
int harness_client_is_closed(harness_client_t *c, int timeout_ms);

/* Body lookups on a response (NULL/-1 when absent or of another type). */
const msgpack_object *harness_obj_get(const msgpack_object *map, const char *key);
int64_t harness_obj_int(const msgpack_object *map, const char *key, int64_t dflt);
/* Copies a str value into buf (NUL-terminated, truncated); 0 or -1. */
int harness_obj_str(const msgpack_object *map, const char *key, char *buf, size_t size);
/* A body's top-level error_code (for whole-request errors), else dflt. */
int64_t harness_resp_error(const harness_resp_t *r, int64_t dflt);

/* ---- batches and the data APIs ---------------------------------------- */

typedef struct harness_rec {
	const void *key;   /* NULL: null key */
	size_t key_len;
	const void *value; /* NULL: null value */
	size_t value_len;
	int64_t timestamp; /* 0: now */
} harness_rec_t;

/* A RecordBatch v2 (record.h) with these records; malloc'd, NULL on error. */
uint8_t *harness_batch_build(const harness_rec_t *recs, int n, compress_codec_t codec,
			     size_t *len);
/* n records with keys "<prefix>-k<first+i>" and values "<prefix>-v<first+i>"
 * padded to value_size bytes (at least the text), all at timestamp ts
 * (0: now). */
uint8_t *harness_batch_simple(const char *prefix, int first, int n, size_t value_size,
			      int64_t ts, size_t *len);
/* Recomputes the CRC of a batch a test has edited. */
void harness_batch_fix_crc(uint8_t *batch, size_t len);

/* Produce of one records blob to one partition. Returns the partition's
 * error code from the response, or a local code: BROOK_ERR__TRANSPORT
 * (closed), _TIMED_OUT, _BAD_MSG (undecodable response). With acks=0
 * nothing is awaited and NO_ERROR means "sent". *base_offset may be NULL. */
brook_err_t harness_produce(harness_client_t *c, const char *topic, int32_t partition,
			    int acks, const void *records, size_t len, int timeout_ms,
			    int64_t *base_offset);

/* harness_produce with the request's own timeout_ms (how long the broker
 * may wait for the in-sync replicas with acks=-1; harness_produce sends
 * 10000) apart from the client's wait, timeout_ms. */
brook_err_t harness_produce_timeout(harness_client_t *c, const char *topic, int32_t partition,
				    int acks, const void *records, size_t len,
				    int32_t request_timeout_ms, int timeout_ms, int64_t *base_offset);

typedef struct harness_record {
	int64_t offset;
	int64_t timestamp;
	char *key;          /* NUL-terminated copy; NULL when the key is null */
	ssize_t key_len;    /* -1 when null */
	char *value;
	ssize_t value_len;
} harness_record_t;

typedef struct harness_fetch_result {
	int64_t high_watermark, log_start_offset;
	size_t records_bytes;  /* size of the records blob */
	size_t nbatches;       /* whole batches, each CRC-checked */
	size_t partial_bytes;  /* a trailing partial batch, dropped */
	size_t nrecords;
	harness_record_t *records;
	int64_t elapsed_ms;    /* request sent -> response decoded */
} harness_fetch_result_t;

typedef struct harness_fetch_req {
	const char *topic;
	int32_t partition;
	int64_t offset;
	int32_t partition_max_bytes; /* 0: 1 MiB */
	int32_t max_bytes;           /* 0: 50 MiB */
	int32_t min_bytes;           /* 0 means 0 */
	int32_t max_wait_ms;         /* 0 means 0 */
} harness_fetch_req_t;

/* Fetch of one partition; decodes and CRC-checks every whole batch. Returns
 * the partition's error code, or a local code as harness_produce does
 * (_BAD_MSG too when a whole batch fails its check). */
brook_err_t harness_fetch(harness_client_t *c, const harness_fetch_req_t *req, int timeout_ms,
			  harness_fetch_result_t *out);
void harness_fetch_result_free(harness_fetch_result_t *r);
/* The two halves of harness_fetch, for a long poll with other traffic in
 * between: send now, receive (and decode) the response to `corr` later.
 * elapsed_ms then counts from the receive call. */
int harness_fetch_send(harness_client_t *c, const harness_fetch_req_t *req, int timeout_ms,
		       int32_t *corr);
brook_err_t harness_fetch_recv(harness_client_t *c, int32_t corr, int timeout_ms,
			       harness_fetch_result_t *out);

/* Fetches [from, to) (to < 0: up to the high watermark) in as many fetches
 * as needed; NO_ERROR only when every offset in the range came back. */
brook_err_t harness_fetch_all(harness_client_t *c, const char *topic, int32_t partition,
			      int64_t from, int64_t to, int timeout_ms,
			      harness_fetch_result_t *out);

/* ListOffsets of one partition: timestamp -1 latest, -2 earliest, else the
 * first offset with a timestamp >= it (-1 when none). Error codes as
 * harness_produce. */
brook_err_t harness_list_offset(harness_client_t *c, const char *topic, int32_t partition,
				int64_t timestamp, int timeout_ms, int64_t *offset);

/* ListOffsets as a follower asks it (replica_id >= 0): "latest" is then the
 * leader's log end offset rather than the high watermark consumers see. */
brook_err_t harness_list_offset_replica(harness_client_t *c, const char *topic,
					int32_t partition, int32_t replica_id, int64_t timestamp,
					int timeout_ms, int64_t *offset);

/* ---- partition metadata ------------------------------------------------- */

#define HARNESS_MAX_REPLICAS 16

/* One partition as a Metadata response describes it. */
typedef struct harness_partition_info {
	int32_t leader;       /* -1: none */
	int32_t leader_epoch;
	int nreplicas, nisr, noffline;
	int32_t replicas[HARNESS_MAX_REPLICAS];
	int32_t isr[HARNESS_MAX_REPLICAS];
	int32_t offline[HARNESS_MAX_REPLICAS];
} harness_partition_info_t;

/* Metadata for `topic`, and what it says of one partition. Returns the
 * partition's error code (the topic's when it has one), or a local code as
 * harness_produce; UNKNOWN_TOPIC_OR_PARTITION when the answer does not
 * list the partition. */
brook_err_t harness_partition_info(harness_client_t *c, const char *topic, int32_t partition,
				   int timeout_ms, harness_partition_info_t *out);

/* Waits until the broker on `port` names exactly the n brokers of `isr`
 * (in any order) as the partition's ISR. 0, or -1 on timeout with the last
 * answer on stderr. *last (may be NULL) gets the last answer. */
int harness_partition_wait_isr(int port, const char *topic, int32_t partition,
			       const int32_t *isr, int n, int timeout_ms,
			       harness_partition_info_t *last);

/* "1,2,3" into buf; returns buf. */
const char *harness_ids_str(const int32_t *ids, int n, char *buf, size_t size);

/* ---- cluster views, ZooKeeper nodes and the brook tool (test_failover) --- */

/* Replaces the --override list of the broker's next runs (the current run,
 * if any, keeps its own until restarted). 0 or -1. */
int harness_broker_set_overrides(harness_broker_t *b, const char *const *overrides);

#define HARNESS_MAX_BROKERS 64

/* What a Metadata request without topics says about the cluster: the
 * registered brokers the answering broker knows of, and the controller. */
typedef struct harness_cluster_info {
	int32_t controller;                    /* -1: none */
	int nbrokers;
	int32_t brokers[HARNESS_MAX_BROKERS];  /* in the answer's order */
} harness_cluster_info_t;

/* Local error codes as harness_produce; NO_ERROR otherwise. */
brook_err_t harness_cluster_info(harness_client_t *c, int timeout_ms,
				 harness_cluster_info_t *out);
/* 1 when `id` is one of out->brokers. */
int harness_cluster_has(const harness_cluster_info_t *ci, int32_t id);

/* Writes /brokers/topics/<topic> with an explicit assignment: partition p's
 * replicas are replicas[p * rf .. p * rf + rf - 1], the first one
 * preferred. 0 or -1. */
int harness_topic_create_assigned_zk(const char *zk_connect, const char *topic,
				     int32_t partitions, int32_t rf, const int32_t *replicas);

/* harness_topic_set_config_zk() with the one override key=value. */
int harness_topic_config_zk(const char *zk_connect, const char *topic, const char *key,
			    const char *value);

/* 1 when the znode exists, 0 when it does not, -1 on error. */
int harness_zk_exists(const char *zk_connect, const char *path);

/* Waits (one session, polling every 50 ms) until none of the n znodes
 * exists. The ms it took, or -1 on timeout (naming the ones left). */
int64_t harness_zk_wait_absent(const char *zk_connect, const char *const *paths, int n,
			       int timeout_ms);

/* The two halves of harness_produce_timeout, for a produce left waiting
 * (acks=-1) while the test does something else: send now (the request is
 * packed and sent before this returns: records may be freed), receive the
 * answer to `corr` later. */
int harness_produce_send(harness_client_t *c, const char *topic, int32_t partition, int acks,
			 const void *records, size_t len, int32_t request_timeout_ms,
			 int timeout_ms, int32_t *corr);
brook_err_t harness_produce_recv(harness_client_t *c, int32_t corr, int timeout_ms,
				 int64_t *base_offset);

/* Runs the brook command-line tool ($BROOK_TOP_BUILDDIR/client/brook, else
 * ../client/brook next to the test binary) with args (NULL-terminated,
 * without argv[0]), stdin from /dev/null. Its stdout and stderr go to out
 * (NUL-terminated, truncated to size; out may be NULL). Returns its exit
 * status, or -1 when it could not run, died of a signal or did not finish
 * within timeout_ms (it is then killed). */
int harness_brook_cli(const char *const *args, int timeout_ms, char *out, size_t size);

/* ---- topic config overrides (test_broker_api) ---------------------------- */

/* Writes /config/topics/<topic> = {"version":1,"config":{...}} from `kvs`
 * (NULL-terminated "key=value" strings, in that order; an empty list is
 * a config without overrides), creating it (and /config/topics) when
 * missing, replacing it otherwise. kvs NULL deletes the znode (a missing
 * node means no overrides). 0 or -1. */
int harness_topic_set_config_zk(const char *zk_connect, const char *topic,
				const char *const *kvs);

/* harness_topic_create_zk() after writing the topic's config (kvs as
 * above; NULL: none), the order the admin tool and Kafka use. 0 or -1. */
int harness_topic_create_config_zk(const char *zk_connect, const char *topic,
				   int32_t partitions, int32_t rf, const int32_t *broker_ids,
				   int nbrokers, const char *const *kvs);

#endif /* BROOK_HARNESS_BROKER_H */
