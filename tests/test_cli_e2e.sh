#!/bin/bash
# test_cli_e2e.sh - the `brook` and `brookd` binaries together, as a user
# runs them: a real one-server ZooKeeper (zk/zk-ensemble), one brookd on a
# port the kernel picks (advertised in its registration), then
#   brook topics create / describe, brook cluster;
#   brook produce -K : --delivery-report, and brook consume -e -f with kcat
#   tokens, compared line by line (keys on the partitions the reports gave);
#   -p, -o -N, -c; produce --acks 0 and all;
#   auto-creation of a topic by produce;
#   brook perf produce / consume (their counts, not their speed);
#   SIGTERM: a clean shutdown, and a restart that serves the same data;
#   kill -9 and corrupted segment tails: recovered, valid prefix kept;
#   log.file, and SIGHUP reopening it;
#   a full disk (a 2 MiB tmpfs, when root): produce fails with a storage
#   error, the broker stays up, and everything acknowledged reads back,
#   also after kill -9 and a restart.
# Every command runs under `timeout`; everything started is stopped by pid.
#
# Exit: 0 pass, 1 fail, 77 skip (no ZooKeeper installed), 99 hard error.
set -u

top_src=${BROOK_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
top_build=${BROOK_TOP_BUILDDIR:-$(pwd)}
brook=$top_build/client/brook
brookd=$top_build/src/brookd
ensemble=$top_src/zk/zk-ensemble
step_timeout=60

for f in "$brook" "$brookd" "$ensemble"; do
	[ -x "$f" ] || { echo "test_cli_e2e: $f not built" >&2; exit 99; }
done
if ! command -v java >/dev/null || [ ! -f /usr/share/java/zookeeper.jar ]; then
	echo "test_cli_e2e: SKIP: ZooKeeper (Debian package 'zookeeper') is not installed" >&2
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/brook-cli-e2e.XXXXXX") || exit 99
broker_pid=
mounted=
cleanup() {
	if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
		kill -KILL "$broker_pid" 2>/dev/null
		wait "$broker_pid" 2>/dev/null
	fi
	[ -z "$mounted" ] || umount "$mounted" 2>/dev/null
	"$ensemble" stop --dir "$work/zk" >/dev/null 2>&1
	[ -n "${BROOK_KEEP_TMP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# --- ZooKeeper and the broker ---------------------------------------------------

. "$top_src/tests/harness/harness_zk.sh"
harness_zk_start test_cli_e2e "$work/zk" 7

cat >"$work/server.properties" <<CONF
broker.id=5
listeners=BROOK://127.0.0.1:0
log.dirs=$work/logs
zookeeper.connect=$zk
zookeeper.session.timeout.ms=6000
num.partitions=2
CONF

# Starts brookd and waits until it serves; sets $bs to the address it
# logged (after a kill -9 the old registration lingers in ZooKeeper until
# its session expires, so `brook cluster` could still show the old port).
start_broker() {
	local before
	touch "$work/brookd.log"
	before=$(grep -c "serving on" "$work/brookd.log")
	"$brookd" "$work/server.properties" >>"$work/brookd.log" 2>&1 &
	broker_pid=$!
	bs=
	for _ in $(seq 1 300); do
		if [ "$(grep -c "serving on" "$work/brookd.log")" -gt "$before" ]; then
			bs=$(sed -n 's/.*broker 5 serving on \([0-9.]*:[0-9]*\) .*/\1/p' "$work/brookd.log" |
				tail -n 1)
			[ -n "$bs" ] && return 0
		fi
		kill -0 "$broker_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "test_cli_e2e: brookd did not start serving:" >&2
	cat "$work/brookd.log" >&2
	exit 99
}

# run WANT_STATUS ARGS... (stdin from $input): brook, keeping its output.
input=/dev/null
run() {
	local want=$1 rc
	shift
	timeout "$step_timeout" "$brook" "$@" <"$input" >"$work/out" 2>"$work/err"
	rc=$?
	[ "$rc" = "$want" ] || fail "brook $*: exit $rc, expected $want; stderr: $(head -c 500 "$work/err")"
	[ "$rc" = "$want" ]
}

start_broker
case "$bs" in
127.0.0.1:0 | "") fail "the broker advertised port 0 ($bs)" ;;
esac
echo "test_cli_e2e: ZooKeeper $zk, brookd pid $broker_pid at $bs"

# startup refusals: one clear line, non-zero exit, nothing registered
bport=${bs##*:}
printf 'broker.id=6\nlisteners=BROOK://127.0.0.1:%s\nlog.dirs=%s\nzookeeper.connect=%s\n' \
	"$bport" "$work/logs6" "$zk" >"$work/taken.properties"
timeout "$step_timeout" "$brookd" "$work/taken.properties" >"$work/taken.log" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "brookd on a taken port: exit $rc, expected 1"
grep -q "listen on 127.0.0.1:$bport: Address already in use" "$work/taken.log" ||
	fail "brookd on a taken port said: $(tail -n 3 "$work/taken.log")"
printf 'broker.id=7\nzookeeper.connect=%s\nlog.segment.bytes=12\n' "$zk" >"$work/bad.properties"
timeout "$step_timeout" "$brookd" "$work/bad.properties" >"$work/bad.log" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "brookd with a bad value: exit $rc, expected 1"
grep -q "bad.properties:3: log.segment.bytes: must be an integer between 1024" "$work/bad.log" ||
	fail "brookd with a bad value said: $(cat "$work/bad.log")"

run 0 cluster -z "$zk" && grep -q "^Broker: 5	Endpoints: BROOK://$bs" "$work/out" ||
	fail "cluster does not list broker 5 at $bs: $(cat "$work/out")"
grep -q "^Broker: [67]" "$work/out" && fail "a refused broker registered: $(cat "$work/out")"
run 0 topics -z "$zk" create --topic e2e --partitions 3 --replication-factor 1
grep -q "Created topic e2e." "$work/out" || fail "create did not say so: $(cat "$work/out")"

# --- keyed produce with delivery reports, consume back -------------------------------

for i in $(seq 1 3000); do
	echo "key$((i % 37)):value-$i"
done >"$work/in"
input=$work/in
run 0 produce -b "$bs" -t e2e -K : --acks 1 --delivery-report
input=/dev/null
sort -t '	' -k1,1n -k2,2n "$work/out" >"$work/reports"
[ "$(wc -l <"$work/reports")" = 3000 ] || fail "$(wc -l <"$work/reports") delivery reports, expected 3000"
# one partition per key
if [ "$(cut -f1,3 "$work/reports" | sort -u | cut -f2 | sort | uniq -d | wc -l)" != 0 ]; then
	fail "a key went to two partitions"
fi
# offsets 0..n-1 on each partition
awk -F'\t' '$2 != n[$1]++ { bad = 1 } END { exit bad }' "$work/reports" ||
	fail "delivery offsets are not contiguous per partition"

run 0 consume -b "$bs" -t e2e -o beginning -e -f '%p\t%o\t%k\t%s\n'
sort -t '	' -k1,1n -k2,2n "$work/out" >"$work/consumed"
cmp -s "$work/reports" "$work/consumed" ||
	fail "consumed messages differ from the delivery reports: $(diff "$work/reports" "$work/consumed" | head -5)"
# per partition, the consumer's order is the offset order
awk -F'\t' '{ if ($1 in last && $2 != last[$1] + 1) bad = 1; last[$1] = $2 } END { exit bad }' \
	"$work/out" || fail "consume printed a partition out of order"

# -p, -o -N and -c
p0=$(awk -F'\t' '$1 == 0' "$work/reports" | wc -l)
run 0 consume -b "$bs" -t e2e -p 0 -o -5 -e -f '%p %o\n'
[ "$(cat "$work/out")" = "$(seq $((p0 - 5)) $((p0 - 1)) | sed 's/^/0 /')" ] ||
	fail "-p 0 -o -5 printed: $(cat "$work/out")"
run 0 consume -b "$bs" -t e2e -c 7 -f '%s\n'
[ "$(wc -l <"$work/out")" = 7 ] || fail "-c 7 printed $(wc -l <"$work/out") lines"

# --acks 0 and all, -p, -f FILE
printf 'a\nb\nc\n' >"$work/abc"
run 0 produce -b "$bs" -t e2e -p 2 --acks 0 -f "$work/abc"
run 0 produce -b "$bs" -t e2e -p 2 --acks all -f "$work/abc" --delivery-report
[ "$(cut -f1 "$work/out" | sort -u)" = 2 ] || fail "-p 2 reports: $(cat "$work/out")"
run 0 consume -b "$bs" -t e2e -p 2 -o -6 -e -f '%s\n'
[ "$(tr '\n' ' ' <"$work/out")" = "a b c a b c " ] ||
	fail "acks 0 then all: partition 2 ends with: $(tr '\n' ' ' <"$work/out")"

# --- a topic created by producing to it (auto.create.topics.enable) -------------------

input=$work/abc
run 0 produce -b "$bs" -t auto-made --delivery-report
input=/dev/null
run 0 topics -z "$zk" describe --topic auto-made
grep -q "PartitionCount: 2" "$work/out" || fail "auto-created topic: $(cat "$work/out")"

# --- brook perf -------------------------------------------------------------------------

run 0 topics -z "$zk" create --topic perf --partitions 2 --replication-factor 1
run 0 perf produce -b "$bs" -t perf -n 20000 -s 100
grep -q "^20000 records sent, .* records/sec (.* MB/sec), .* 99.9th\.$" "$work/out" ||
	fail "perf produce printed: $(cat "$work/out")"
run 0 perf consume -b "$bs" -t perf
grep -q "^20000 records received, 1.91 MB" "$work/out" ||
	fail "perf consume printed: $(cat "$work/out")"
run 0 perf consume -b "$bs" -t perf -m 500
grep -q "^500 records received" "$work/out" || fail "perf consume -m 500 printed: $(cat "$work/out")"

# --- SIGTERM: clean shutdown, and the data is served again after a restart ---------------

kill -TERM "$broker_pid"
status=
for _ in $(seq 1 200); do
	if ! kill -0 "$broker_pid" 2>/dev/null; then
		wait "$broker_pid"
		status=$?
		break
	fi
	sleep 0.1
done
[ "$status" = 0 ] || fail "brookd did not exit 0 on SIGTERM (status ${status:-still running})"
grep -q "deregistering broker 5" "$work/brookd.log" || fail "no deregistration in the log"
run 0 cluster -z "$zk"
grep -q "^Broker: 5" "$work/out" && fail "broker 5 still registered after SIGTERM"

start_broker
grep -q "(clean shutdown)" "$work/brookd.log" || fail "the restart did not find a clean shutdown"
run 0 consume -b "$bs" -t e2e -o beginning -e -f '%p\t%o\t%k\t%s\n'
# minus the six keyless a, b, c sent to partition 2 after the first read
sort -t '	' -k1,1n -k2,2n "$work/out" | awk -F'\t' '!($1 == 2 && $3 == "")' >"$work/again"
cmp -s "$work/consumed" "$work/again" ||
	fail "after the restart the topic reads differently: $(diff "$work/consumed" "$work/again" | head -5)"

# --- corrupted segment tails after a crash -------------------------------------------------
# kill -9, then garbage after the last batch of e2e-0 (a torn append) and
# the last 10 bytes of e2e-1 cut off (a half-written batch): the broker
# recovers both, keeps every whole batch before the damage, and appends
# right after it.

kill -KILL "$broker_pid"
wait "$broker_pid" 2>/dev/null
seg0=$(ls "$work"/logs/e2e-0/*.log | tail -n 1)
seg1=$(ls "$work"/logs/e2e-1/*.log | tail -n 1)
head -c 300 /dev/urandom >>"$seg0"
truncate -s $(($(stat -c %s "$seg1") - 10)) "$seg1"
start_broker
grep -q "(unclean shutdown" "$work/brookd.log" || fail "corrupt tails: no unclean-shutdown recovery logged"
kill -0 "$broker_pid" 2>/dev/null || fail "corrupt tails: the broker died"
run 0 consume -b "$bs" -t e2e -p 0 -e -f '%p\t%o\t%k\t%s\n'
awk -F'\t' '$1 == 0' "$work/consumed" | cmp -s - "$work/out" ||
	fail "corrupt tail of e2e-0: the valid records changed: $(awk -F'\t' '$1 == 0' "$work/consumed" | diff - "$work/out" | head -5)"
n1_before=$(awk -F'\t' '$1 == 1' "$work/consumed" | wc -l)
run 0 consume -b "$bs" -t e2e -p 1 -e -f '%p\t%o\t%k\t%s\n'
cp "$work/out" "$work/p1"
n1=$(wc -l <"$work/p1")
{ [ "$n1" -lt "$n1_before" ] && [ "$n1" -gt 0 ]; } ||
	fail "cut tail of e2e-1: $n1 records left of $n1_before (expected the last batch gone)"
awk -F'\t' '$1 == 1' "$work/consumed" | head -n "$n1" | cmp -s - "$work/p1" ||
	fail "cut tail of e2e-1: what is left is not a prefix of what was there"
printf 'after:recovery\n' >"$work/one"
input=$work/one
run 0 produce -b "$bs" -t e2e -p 1 -K : --delivery-report
input=/dev/null
[ "$(cut -f2 "$work/out")" = "$n1" ] ||
	fail "after recovery e2e-1 appended at offset $(cut -f2 "$work/out"), expected $n1"

kill -TERM "$broker_pid"
wait "$broker_pid"
broker_pid=

# --- log.file: timestamped, leveled lines; SIGHUP reopens it (logrotate) -----------------

cat >"$work/b8.properties" <<CONF
broker.id=8
listeners=BROOK://127.0.0.1:0
log.dirs=$work/logs8
zookeeper.connect=$zk
log.file=$work/b8.log
CONF
"$brookd" "$work/b8.properties" >"$work/b8.stderr" 2>&1 &
broker_pid=$!
for _ in $(seq 1 300); do
	grep -q "serving on" "$work/b8.log" 2>/dev/null && break
	sleep 0.1
done
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z INFO \[broker\] broker 8 serving on' \
	"$work/b8.log" || fail "log.file lacks a timestamped INFO line: $(tail -n 3 "$work/b8.log")"
mv "$work/b8.log" "$work/b8.log.1"
kill -HUP "$broker_pid"
for _ in $(seq 1 100); do
	grep -q "SIGHUP: log file reopened" "$work/b8.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "SIGHUP: log file reopened" "$work/b8.log" 2>/dev/null || fail "SIGHUP did not reopen log.file"
kill -TERM "$broker_pid"
wait "$broker_pid"
rc=$?
broker_pid=
[ "$rc" = 0 ] || fail "broker 8 exited $rc on SIGTERM"
grep -q "stopped" "$work/b8.log" || fail "the reopened log.file lacks the shutdown lines"
grep -q "stopped" "$work/b8.log.1" && fail "the rotated log.file was still written after SIGHUP"
[ -s "$work/b8.stderr" ] && fail "brookd wrote to stderr although log.file is set: $(head -c 300 "$work/b8.stderr")"

# --- a full disk -------------------------------------------------------------------------

mkdir -p "$work/full"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=2m tmpfs "$work/full" 2>/dev/null; then
	mounted=$work/full
	cat >"$work/server.properties" <<CONF
broker.id=5
listeners=BROOK://127.0.0.1:0
log.dirs=$work/full
zookeeper.connect=$zk
zookeeper.session.timeout.ms=6000
log.segment.bytes=262144
CONF
	start_broker
	run 0 topics -z "$zk" create --topic full --partitions 1 --replication-factor 1
	seq 1 60000 | sed 's/$/ the quick brown fox jumps over the lazy dog/' >"$work/many"
	input=$work/many
	# a storage error is retriable; without retries the test need not wait
	# out delivery.timeout.ms
	run 1 produce -b "$bs" -t full --acks 1 --delivery-report -X retries=0
	input=/dev/null
	sort "$work/out" >"$work/acked"
	grep -q "Storage error on the broker" "$work/err" || fail "full disk: produce said: $(cat "$work/err")"
	n=$(wc -l <"$work/acked")
	{ [ "$n" -gt 0 ] && [ "$n" -lt 60000 ]; } || fail "full disk: $n of 60000 acknowledged"
	kill -0 "$broker_pid" 2>/dev/null || fail "full disk: the broker died"
	grep -q "No space left on device" "$work/brookd.log" || fail "full disk: not in the broker log"
	run 0 consume -b "$bs" -t full -e -f '%p\t%o\t%k\t%s\n'
	sort "$work/out" | cmp -s - "$work/acked" || fail "full disk: the log differs from what was acknowledged"
	kill -KILL "$broker_pid"
	wait "$broker_pid" 2>/dev/null
	start_broker
	run 0 consume -b "$bs" -t full -e -f '%p\t%o\t%k\t%s\n'
	sort "$work/out" | cmp -s - "$work/acked" ||
		fail "full disk, after kill -9: the log differs from what was acknowledged"
	echo "test_cli_e2e: full disk: $n messages acknowledged, all read back before and after kill -9"
	# SIGTERM on a full disk: the clean-shutdown marker cannot be written,
	# which the broker must report, not crash on
	kill -TERM "$broker_pid"
	wait "$broker_pid"
	rc=$?
	broker_pid=
	[ "$rc" = 0 ] || fail "full disk: SIGTERM exit status $rc"
	umount "$work/full" && mounted=
else
	echo "test_cli_e2e: not root or no tmpfs: the full-disk case runs in test_log only"
fi

# under --enable-sanitizers a report in any broker's log is a failure
for f in "$work"/brookd.log "$work"/b8.log "$work"/b8.log.1 "$work"/b8.stderr; do
	[ -f "$f" ] || continue
	if grep -Eq "ERROR: (Address|Leak)Sanitizer|runtime error:" "$f"; then
		fail "sanitizer report in $f: $(grep -E -m1 -A8 "Sanitizer|runtime error:" "$f")"
	fi
done

if [ "$failures" -gt 0 ]; then
	echo "test_cli_e2e: $failures failure(s); broker log:" >&2
	tail -n 30 "$work/brookd.log" >&2
	exit 1
fi
echo "test_cli_e2e: all passed"
exit 0
