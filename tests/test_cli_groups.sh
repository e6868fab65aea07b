#!/bin/bash
# test_cli_groups.sh - `brook groups list|describe|reset-offsets|delete`
# end to end: a real one-server ZooKeeper (zk/zk-ensemble), one brookd on a
# port the kernel picks, a 3-partition topic with a known number of
# messages per partition (brook produce -p N), and consumer-group znodes
# written with ZooKeeper's own zkCli.sh as the group consumer writes them
# (the member persistent here: zkCli's ephemerals vanish when it exits).
# Checks:
#   list; describe's exact CURRENT/LOG-END/LAG/OWNER columns and members,
#   "-" for a topic no leader serves (and for a stopped broker) without a
#   word on stderr; reset-offsets refused while a member is registered,
#   then --to-earliest/--to-latest/--to-offset/--shift-by with clamping,
#   --dry-run writing nothing (read back with zkCli get); delete removing
#   /consumers/<g>; usage errors (2), unknown groups (1), one stderr line
#   per failure.
# Every command runs under `timeout`; everything started is stopped by pid.
#
# Exit: 0 pass, 1 fail, 77 skip (no ZooKeeper installed), 99 hard error.
set -u

top_src=${BROOK_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
top_build=${BROOK_TOP_BUILDDIR:-$(pwd)}
brook=$top_build/client/brook
brookd=$top_build/src/brookd
ensemble=$top_src/zk/zk-ensemble
zkcli=${BROOK_ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}
step_timeout=60

for f in "$brook" "$brookd" "$ensemble"; do
	[ -x "$f" ] || { echo "test_cli_groups: $f not built" >&2; exit 99; }
done
if ! command -v java >/dev/null || [ ! -f /usr/share/java/zookeeper.jar ] || [ ! -x "$zkcli" ]; then
	echo "test_cli_groups: SKIP: ZooKeeper (Debian package 'zookeeper') is not installed" >&2
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/brook-cli-groups.XXXXXX") || exit 99
broker_pid=
member_pids=()
cleanup() {
	for p in "${member_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
		kill -KILL "$broker_pid" 2>/dev/null
		wait "$broker_pid" 2>/dev/null
	fi
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

T=$'\t'

# --- ZooKeeper and the broker ----------------------------------------------------

. "$top_src/tests/harness/harness_zk.sh"
harness_zk_start test_cli_groups "$work/zk" 11

cat >"$work/server.properties" <<CONF
broker.id=1
listeners=BROOK://127.0.0.1:0
log.dirs=$work/logs
zookeeper.connect=$zk
zookeeper.session.timeout.ms=6000
CONF

"$brookd" "$work/server.properties" >"$work/brookd.log" 2>&1 &
broker_pid=$!
bs=
for _ in $(seq 1 300); do
	bs=$(sed -n 's/.*broker 1 serving on \([0-9.]*:[0-9]*\) .*/\1/p' "$work/brookd.log" | tail -n 1)
	[ -n "$bs" ] && break
	kill -0 "$broker_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$bs" ]; then
	echo "test_cli_groups: brookd did not start serving:" >&2
	cat "$work/brookd.log" >&2
	exit 99
fi
echo "test_cli_groups: ZooKeeper $zk, brookd pid $broker_pid at $bs"

# Runs zkCli.sh with the commands on stdin (redirected, never piped, so
# that `exit` leaves the script); its output in $work/zkcli.out. zkCli
# exits non-zero when its last command failed: zkcli_try allows that.
zkcli_try() {
	timeout "$step_timeout" "$zkcli" -server "$zk" >"$work/zkcli.out" 2>&1
}
zkcli() {
	zkcli_try || {
		echo "test_cli_groups: zkCli.sh failed:" >&2
		cat "$work/zkcli.out" >&2
		exit 99
	}
}

# What zkCli printed, without its banner and watcher noise.
zk_said() {
	grep -v -e '^SLF4J' -e '^WATCHER' -e '^WatchedEvent' -e '^Welcome' -e '^JLine' \
		-e '^Connecting' -e '^$' "$work/zkcli.out" | tail -n 3 | tr '\n' ' '
}

# zk_expect PATH VALUE: the znode holds exactly VALUE ("" : does not exist).
zk_expect() {
	local path=$1 want=$2
	zkcli_try < <(printf 'get %s\nquit\n' "$path")
	if [ -z "$want" ]; then
		grep -q "Node does not exist" "$work/zkcli.out" ||
			fail "$path should not exist: $(zk_said)"
	elif ! grep -qx "$want" "$work/zkcli.out"; then
		fail "$path: expected '$want', zkCli said: $(zk_said)"
	fi
}

# run WANT_STATUS ARGS...: brook, keeping stdout and stderr; success must
# be silent on stderr and a failure exactly one stderr line.
input=/dev/null
run() {
	local want=$1 rc
	shift
	timeout "$step_timeout" "$brook" "$@" <"$input" >"$work/out" 2>"$work/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		fail "brook $*: exit $rc, expected $want; stderr: $(head -c 500 "$work/err")"
		return 1
	fi
	if [ "$want" = 0 ] && [ -s "$work/err" ]; then
		fail "brook $*: succeeded but wrote to stderr: $(cat "$work/err")"
	fi
	if [ "$want" != 0 ] && [ "$(wc -l <"$work/err")" != 1 ]; then
		fail "brook $*: expected exactly one stderr line, got: $(cat "$work/err")"
	fi
	return 0
}

expect_out() {
	local want=$1 what=$2
	if [ "$(cat "$work/out")" != "$want" ]; then
		fail "$what: stdout differs"
		echo "--- expected" >&2; printf '%s\n' "$want" >&2
		echo "--- got" >&2; cat "$work/out" >&2
	fi
}

expect_err_has() {
	local want=$1 what=$2
	grep -q -- "$want" "$work/err" || fail "$what: stderr '$(cat "$work/err")' lacks '$want'"
}

# --- a topic with 10, 20 and 5 messages in partitions 0, 1, 2 -------------------------

run 0 topics -z "$zk" create --topic orders --partitions 3 --replication-factor 1
produce() {
	seq 1 "$2" | sed 's/^/msg-/' >"$work/in"
	input=$work/in
	run 0 produce -b "$bs" -t orders -p "$1" --acks all
	input=/dev/null
}
produce 0 10
produce 1 20
produce 2 5

# --- groups as the group consumer writes them ------------------------------------------

member='{"version":1,"subscription":{"orders":1},"pattern":"static","timestamp":"1700000000000"}'
{
	echo "create /consumers"
	echo "create /consumers/g1"
	echo "create /consumers/g1/ids"
	echo "create /consumers/g1/ids/m1 '$member'"
	echo "create /consumers/g1/owners"
	echo "create /consumers/g1/owners/orders"
	echo "create /consumers/g1/owners/orders/0 m1"
	echo "create /consumers/g1/owners/orders/2 m1"
	echo "create /consumers/g1/offsets"
	echo "create /consumers/g1/offsets/orders"
	echo "create /consumers/g1/offsets/orders/0 4"
	echo "create /consumers/g1/offsets/orders/1 20"
	# an offset for a topic no broker serves: "-" for its log end
	echo "create /consumers/g1/offsets/ghost"
	echo "create /consumers/g1/offsets/ghost/0 3"
	echo "create /consumers/g2"
	echo "quit"
} >"$work/groups.zk"
zkcli <"$work/groups.zk"

run 0 groups -z "$zk" list && expect_out "g1
g2" "list"

run 0 groups -z "$zk" describe --group g1 && expect_out "TOPIC${T}PARTITION${T}CURRENT-OFFSET${T}LOG-END-OFFSET${T}LAG${T}OWNER
ghost${T}0${T}3${T}-${T}-${T}-
orders${T}0${T}4${T}10${T}6${T}m1
orders${T}1${T}20${T}20${T}0${T}-
orders${T}2${T}-${T}5${T}-${T}m1

MEMBER${T}PATTERN${T}SUBSCRIPTION
m1${T}static${T}orders:1" "describe g1"
cp "$work/out" "$work/describe-g1.txt"
run 0 groups -z "$zk" describe g1 --timeout-ms 5000 &&
	cmp -s "$work/out" "$work/describe-g1.txt" || fail "describe G differs from describe --group G"
run 0 groups -z "$zk" describe --group g2 && expect_out "TOPIC${T}PARTITION${T}CURRENT-OFFSET${T}LOG-END-OFFSET${T}LAG${T}OWNER

Consumer group 'g2' has no active members." "describe g2"

# --- reset-offsets ------------------------------------------------------------------------

run 1 groups -z "$zk" reset-offsets --group g1 --topic orders --to-earliest &&
	expect_err_has 'consumer group "g1" has 1 active member(s) (m1); stop them' "reset with a member"
run 1 groups -z "$zk" delete --group g1 &&
	expect_err_has 'has 1 active member(s)' "delete with a member"
zk_expect /consumers/g1/offsets/orders/0 4

zkcli < <(printf 'delete /consumers/g1/ids/m1\nquit\n')

run 0 groups -z "$zk" reset-offsets --group g1 --topic orders --to-earliest --dry-run &&
	expect_out "TOPIC${T}PARTITION${T}NEW-OFFSET
orders${T}0${T}0
orders${T}1${T}0
orders${T}2${T}0
(dry run: nothing was written)" "dry run"
zk_expect /consumers/g1/offsets/orders/0 4
zk_expect /consumers/g1/offsets/orders/1 20
zk_expect /consumers/g1/offsets/orders/2 ""

run 0 groups -z "$zk" reset-offsets --group g1 --topic orders --to-earliest &&
	expect_out "TOPIC${T}PARTITION${T}NEW-OFFSET
orders${T}0${T}0
orders${T}1${T}0
orders${T}2${T}0" "to-earliest"
zk_expect /consumers/g1/offsets/orders/0 0
zk_expect /consumers/g1/offsets/orders/2 0

run 0 groups -z "$zk" reset-offsets --group g1 --topic orders --to-latest &&
	expect_out "TOPIC${T}PARTITION${T}NEW-OFFSET
orders${T}0${T}10
orders${T}1${T}20
orders${T}2${T}5" "to-latest"
zk_expect /consumers/g1/offsets/orders/1 20

# --to-offset is clamped to [earliest, latest] per partition
run 0 groups -z "$zk" reset-offsets --group g1 --topic orders --to-offset 7 &&
	expect_out "TOPIC${T}PARTITION${T}NEW-OFFSET
orders${T}0${T}7
orders${T}1${T}7
orders${T}2${T}5" "to-offset 7"
zk_expect /consumers/g1/offsets/orders/0 7
zk_expect /consumers/g1/offsets/orders/2 5

run 0 groups -z "$zk" reset-offsets --group g1 --topic orders --shift-by -3 &&
	expect_out "TOPIC${T}PARTITION${T}NEW-OFFSET
orders${T}0${T}4
orders${T}1${T}4
orders${T}2${T}2" "shift-by -3"
run 0 groups -z "$zk" reset-offsets --group g1 --topic orders --shift-by 100 &&
	expect_out "TOPIC${T}PARTITION${T}NEW-OFFSET
orders${T}0${T}10
orders${T}1${T}20
orders${T}2${T}5" "shift-by 100 (clamped)"
run 0 groups -z "$zk" reset-offsets --group g1 --topic orders --shift-by -1000 --dry-run &&
	expect_out "TOPIC${T}PARTITION${T}NEW-OFFSET
orders${T}0${T}0
orders${T}1${T}0
orders${T}2${T}0
(dry run: nothing was written)" "shift-by -1000 dry run"
zk_expect /consumers/g1/offsets/orders/0 10
zk_expect /consumers/g1/offsets/orders/1 20
zk_expect /consumers/g1/offsets/orders/2 5

run 0 groups -z "$zk" describe --group g1 && expect_out "TOPIC${T}PARTITION${T}CURRENT-OFFSET${T}LOG-END-OFFSET${T}LAG${T}OWNER
ghost${T}0${T}3${T}-${T}-${T}-
orders${T}0${T}10${T}10${T}0${T}m1
orders${T}1${T}20${T}20${T}0${T}-
orders${T}2${T}5${T}5${T}0${T}m1

Consumer group 'g1' has no active members." "describe g1 after the resets"

# refusals that are not usage errors
run 1 groups -z "$zk" reset-offsets --group g2 --topic orders --shift-by 1 &&
	expect_err_has 'orders-0: no committed offset in group "g2" to shift from' "shift-by, nothing committed"
zk_expect /consumers/g2/offsets ""
run 1 groups -z "$zk" reset-offsets --group g1 --topic nosuch --to-latest
run 1 groups -z "$zk" reset-offsets --group nope --topic orders --to-latest &&
	expect_err_has 'consumer group "nope" does not exist' "reset, unknown group"

# --- usage errors and unknown groups ----------------------------------------------------------

run 2 groups -z "$zk"
run 2 groups list
run 2 groups -z "$zk" frobnicate
run 2 groups -z "$zk" describe
run 2 groups -z "$zk" reset-offsets --group g1 --to-latest
run 2 groups -z "$zk" reset-offsets --group g1 --topic orders
run 2 groups -z "$zk" reset-offsets --group g1 --topic orders --to-latest --to-earliest
run 2 groups -z "$zk" reset-offsets --group g1 --topic orders --to-offset -1
run 2 groups -z "$zk" reset-offsets --group g1 --topic orders --shift-by x
run 2 groups -z "$zk" describe --group g1 --dry-run
run 2 groups -z "$zk" list --group g1
run 2 groups -z "$zk" delete --group g1 --topic orders
run 2 groups -z "$zk" describe --group
run 0 groups --help && grep -q "reset-offsets" "$work/out" || fail "help lacks reset-offsets"
run 1 groups -z "$zk" describe --group nope &&
	expect_err_has 'consumer group "nope" does not exist' "describe, unknown group"
run 1 groups -z "$zk" delete --group nope
run 1 groups -z 127.0.0.1:1 --timeout-ms 1500 list

# --- delete ---------------------------------------------------------------------------------

run 0 groups -z "$zk" delete --group g1 && expect_out "Deleted consumer group 'g1' (13 znodes)." "delete g1"
zk_expect /consumers/g1 ""
run 0 groups -z "$zk" list && expect_out "g2" "list after delete"

# --- brook consume --group: two members share "orders", leave cleanly -------------------------
# orders holds 10, 20 and 5 messages in partitions 0, 1, 2 (offsets 0..n-1).

start_member() { # NAME [ARGS...]: a member in the background, output in $work/NAME.{out,err}
	local name=$1
	shift
	# not under timeout(1): it would signal the whole process group, and
	# a second SIGTERM stops brook without leaving the group; cleanup()
	# kills what is left
	"$brook" consume -z "$zk" --group cg -t orders -o beginning \
		-f '%p %o\n' -X zookeeper.session.timeout.ms=6000 "$@" \
		>"$work/$name.out" 2>"$work/$name.err" &
	member_pids+=($!)
}
# owners_of GROUP: the distinct owners describe lists, one per line
owners_of() {
	"$brook" groups -z "$zk" describe --group "$1" 2>/dev/null |
		awk -F'\t' 'NR > 1 && NF == 6 && $6 != "-" { print $6 }' | sort -u
}
wait_for() { # SECONDS COMMAND...: until it succeeds
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
owner_count_is() { [ "$(owners_of cg | wc -l)" = "$1" ]; }
consumed_all() { # FILE...: every offset of every partition printed at least once
	[ "$(cat "$@" | sort -u | awk '{ n[$1]++ } END { print n[0] + 0, n[1] + 0, n[2] + 0 }')" = "10 20 5" ]
}

start_member m1
wait_for 30 owner_count_is 1 || fail "consume --group: the first member took no partitions"
wait_for 30 consumed_all "$work/m1.out" || fail "consume --group: m1 did not read every message"
start_member m2 --commit-every 1
wait_for 30 owner_count_is 2 || fail "consume --group: the partitions were not shared by 2 members"
grep -q '^% assigned: orders \[' "$work/m2.err" || fail "consume --group: m2 reported no assignment"
grep -q '^% revoked: orders \[' "$work/m1.err" || fail "consume --group: m1 reported no revocation"
# the member list: two members, static subscriptions
"$brook" groups -z "$zk" describe --group cg >"$work/out" 2>&1
[ "$(grep -c $'^cg_.*\tstatic\torders:1$' "$work/out")" = 2 ] ||
	fail "describe cg: expected 2 members, got: $(cat "$work/out")"
kill -TERM "${member_pids[1]}"
wait "${member_pids[1]}"
rc=$?
[ "$rc" = 0 ] || fail "consume --group: m2 exited $rc after SIGTERM: $(cat "$work/m2.err")"
wait_for 30 owner_count_is 1 || fail "consume --group: m1 did not take m2's partitions back"
kill -TERM "${member_pids[0]}"
wait "${member_pids[0]}"
rc=$?
[ "$rc" = 0 ] || fail "consume --group: m1 exited $rc after SIGTERM: $(cat "$work/m1.err")"
# both left: everything consumed is committed (auto commit on leave, and
# m2's manual commits), so the lag is 0 everywhere and nobody owns anything
run 0 groups -z "$zk" describe --group cg && expect_out "TOPIC${T}PARTITION${T}CURRENT-OFFSET${T}LOG-END-OFFSET${T}LAG${T}OWNER
orders${T}0${T}10${T}10${T}0${T}-
orders${T}1${T}20${T}20${T}0${T}-
orders${T}2${T}5${T}5${T}0${T}-

Consumer group 'cg' has no active members." "describe cg after both members left"
# a member of the same group starts from the committed offsets: nothing new
timeout "$step_timeout" "$brook" consume -z "$zk" --group cg -t orders -e -q -f '%p %o\n' \
	>"$work/m3.out" 2>"$work/m3.err" || fail "consume --group -e: $(cat "$work/m3.err")"
[ -s "$work/m3.out" ] && fail "consume --group after commits: read again: $(head -3 "$work/m3.out")"
# a committed offset outside the log (past the end here; below the log
# start after retention takes the same path) follows auto.offset.reset, as
# Kafka: earliest reads partition 0 again from 0; none is an error
zkcli < <(printf 'create /consumers/oor ""\ncreate /consumers/oor/offsets ""\ncreate /consumers/oor/offsets/orders ""\ncreate /consumers/oor/offsets/orders/0 1000\ncreate /consumers/oor/offsets/orders/1 18\ncreate /consumers/oor/offsets/orders/2 5\nquit\n')
timeout "$step_timeout" "$brook" consume -z "$zk" --group oor -t orders -o beginning -e -q \
	-f '%p %o\n' -X enable.auto.commit=false >"$work/oor.out" 2>"$work/oor.err" ||
	fail "consume --group oor: $(cat "$work/oor.err")"
[ "$(sort -u "$work/oor.out" | awk '{ n[$1]++ } END { print n[0] + 0, n[1] + 0, n[2] + 0 }')" = "10 2 0" ] ||
	fail "consume --group oor: expected 10 2 0 messages, got: $(tr '\n' ' ' <"$work/oor.out")"
timeout "$step_timeout" "$brook" consume -z "$zk" --group oor -t orders -e -q \
	-X auto.offset.reset=none -X enable.auto.commit=false >"$work/oor.out" 2>"$work/oor.err"
rc=$?
[ "$rc" = 1 ] && grep -q "out of range" "$work/oor.err" ||
	fail "consume --group, offset out of range, reset none: exit $rc, stderr: $(cat "$work/oor.err")"
# no committed offset and reset none: an error too
timeout "$step_timeout" "$brook" consume -z "$zk" --group fresh -t orders -e -q \
	-X auto.offset.reset=none >"$work/oor.out" 2>"$work/oor.err"
rc=$?
[ "$rc" = 1 ] && grep -q "auto.offset.reset=none" "$work/oor.err" ||
	fail "consume --group, nothing committed, reset none: exit $rc, stderr: $(cat "$work/oor.err")"

# usage: --group needs -z, no -p
run 2 consume -b "$bs" --group cg -t orders && expect_err_has "needs -z" "--group without -z"
run 2 consume -z "$zk" --group cg -t orders -p 0 && expect_err_has "cannot go with --group" "--group -p"
run 2 consume -z "$zk" -t orders --commit-every 5 && expect_err_has "needs --group" "--commit-every alone"

# --- the leader is gone: "-" and no word on stderr ---------------------------------------------

zkcli < <(printf 'create /consumers/g2/offsets\ncreate /consumers/g2/offsets/orders\ncreate /consumers/g2/offsets/orders/1 12\nquit\n')
kill -TERM "$broker_pid"
wait "$broker_pid" 2>/dev/null
broker_pid=
run 0 groups -z "$zk" describe --group g2 --timeout-ms 5000 && expect_out "TOPIC${T}PARTITION${T}CURRENT-OFFSET${T}LOG-END-OFFSET${T}LAG${T}OWNER
orders${T}1${T}12${T}-${T}-${T}-

Consumer group 'g2' has no active members." "describe with the broker stopped"
run 1 groups -z "$zk" reset-offsets --group g2 --topic orders --to-latest --timeout-ms 5000 &&
	expect_err_has "nothing was written" "reset with the broker stopped"
zk_expect /consumers/g2/offsets/orders/1 12

if [ "$failures" -gt 0 ]; then
	echo "test_cli_groups: $failures failure(s)" >&2
	exit 1
fi
echo "test_cli_groups: PASS"
exit 0
