#!/bin/bash
# test_cli_topics.sh - the real `brook` binary end to end: `brook topics
# create|list|describe|alter|delete` and `brook cluster` against a real
# one-server ZooKeeper started with zk/zk-ensemble. Brokers, a controller
# and a partition state are written with ZooKeeper's own zkCli.sh, as
# brookd and its controller will write them.
#
# Checks stdout, exit status (0 ok, 1 failure, 2 usage) and that a failure
# prints exactly one line on stderr. Every command runs under `timeout`;
# the ensemble is always stopped (trap, plus zk-ensemble's watchdog if this
# script is killed outright).
#
# Exit: 0 pass, 1 fail, 77 skip (no ZooKeeper installed), 99 hard error.
set -u

top_src=${BROOK_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
top_build=${BROOK_TOP_BUILDDIR:-$(pwd)}
brook=$top_build/client/brook
ensemble=$top_src/zk/zk-ensemble
zkcli=${BROOK_ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}
step_timeout=60

[ -x "$brook" ] || { echo "test_cli_topics: $brook not built" >&2; exit 99; }
[ -x "$ensemble" ] || { echo "test_cli_topics: $ensemble not found" >&2; exit 99; }
if ! command -v java >/dev/null || [ ! -f /usr/share/java/zookeeper.jar ] || [ ! -x "$zkcli" ]; then
	echo "test_cli_topics: SKIP: ZooKeeper (Debian package 'zookeeper') is not installed" >&2
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/brook-cli-topics.XXXXXX") || exit 99
cleanup() {
	"$ensemble" stop --dir "$work/zk" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# --- the ensemble ------------------------------------------------------------

. "$top_src/tests/harness/harness_zk.sh"
harness_zk_start test_cli_topics "$work/zk" 0
echo "test_cli_topics: ZooKeeper at $zk"

# Runs zkCli.sh with the commands on stdin.
zkcli() {
	timeout "$step_timeout" "$zkcli" -server "$zk" >"$work/zkcli.out" 2>&1 || {
		echo "test_cli_topics: zkCli.sh failed:" >&2
		cat "$work/zkcli.out" >&2
		exit 99
	}
}

# --- helpers -------------------------------------------------------------------

# run WANT_STATUS ARGS...: runs brook, keeping stdout and stderr.
run() {
	local want=$1 rc
	shift
	timeout "$step_timeout" "$brook" "$@" >"$work/out" 2>"$work/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		fail "brook $*: exit $rc, expected $want; stderr: $(cat "$work/err")"
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

expect_err() {
	local want=$1 what=$2
	if [ "$(cat "$work/err")" != "$want" ]; then
		fail "$what: stderr is '$(cat "$work/err")', expected '$want'"
	fi
}

T=$'\t'

# --- an empty cluster ------------------------------------------------------------

run 0 cluster -z "$zk" && expect_out "ClusterId: none
Controller: none" "cluster, empty"
run 0 topics -z "$zk" list && expect_out "" "list, empty"
run 1 topics -z "$zk" create --topic early --partitions 1 --replication-factor 1 &&
	expect_err 'brook topics: replication factor: 1 larger than available brokers: 0' "no brokers"

# --- brokers, controller and cluster id, as brookd will write them --------------------

broker() {
	echo "create /brokers/ids/$1 '{\"version\":4,\"host\":\"127.0.0.1\",\"port\":909$1,\"endpoints\":[\"BROOK://127.0.0.1:909$1\"],\"jmx_port\":-1,\"timestamp\":\"1700000000000\",\"rack\":$2}'"
}
{
	broker 1 '"rack-a"'
	broker 2 null
	broker 3 null
	echo "create /controller '{\"version\":1,\"brokerid\":2,\"timestamp\":\"1700000000000\"}'"
	echo "create /cluster"
	echo "create /cluster/id '{\"version\":\"1\",\"id\":\"Y2xpLXRlc3Q\"}'"
	echo "quit"
} | zkcli

run 0 cluster -z "$zk" && expect_out "ClusterId: Y2xpLXRlc3Q
Broker: 1${T}Endpoints: BROOK://127.0.0.1:9091${T}Rack: rack-a
Broker: 2${T}Endpoints: BROOK://127.0.0.1:9092${T}Rack: none
Broker: 3${T}Endpoints: BROOK://127.0.0.1:9093${T}Rack: none
Controller: 2" "cluster"

# --- create -------------------------------------------------------------------------

run 0 topics -z "$zk" create --topic orders --partitions 6 --replication-factor 3 &&
	expect_out "Created topic orders." "create orders"
# -z after the action, Kafka-style --create, --opt=value forms.
run 0 topics create --topic pinned --replica-assignment 1:2,2:3,3:1 \
	--config retention.ms=86400000 --config=cleanup.policy=delete -z "$zk" &&
	expect_out "Created topic pinned." "create pinned"
run 0 topics --create --topic=single --partitions=1 --replication-factor=1 --zookeeper="$zk"

run 1 topics -z "$zk" create --topic pinned --partitions 1 --replication-factor 1 &&
	expect_err 'brook topics: topic "pinned" already exists' "exists"
[ -s "$work/out" ] && fail "a failed create printed on stdout"
run 0 topics -z "$zk" create --topic pinned --partitions 1 --replication-factor 1 --if-not-exists &&
	expect_out "" "--if-not-exists"
run 1 topics -z "$zk" create --topic wide --partitions 1 --replication-factor 4 &&
	expect_err 'brook topics: replication factor: 4 larger than available brokers: 3' "rf"
run 1 topics -z "$zk" create --topic wide --partitions 1 --replication-factor 1 \
	--config retention.hours=5 &&
	expect_err 'brook topics: retention.hours: unknown topic config' "config key"
run 1 topics -z "$zk" create --topic wide --partitions 1 --replication-factor 1 \
	--config cleanup.policy=compact &&
	expect_err 'brook topics: cleanup.policy: compact is not supported: brook has no log cleaner yet (use delete)' "compact"
run 1 topics -z "$zk" create --topic wide --partitions 1 --replication-factor 1 \
	--config segment.bytes=1
run 1 topics -z "$zk" create --topic wide --replica-assignment 1:9 &&
	expect_err 'brook topics: replica assignment: partition 0: broker 9 is not registered (3 brokers are registered)' "assignment"
run 1 topics -z "$zk" create --topic wide --replica-assignment 1:2,3 &&
	expect_err 'brook topics: replica assignment: partition 1 has 1 replicas but partition 0 has 2' "uneven"
run 1 topics -z "$zk" create --topic 'bad/name' --partitions 1 --replication-factor 1
run 1 topics -z "$zk" create --topic '..' --partitions 1 --replication-factor 1

# --- describe and list -------------------------------------------------------------

# Partition 0 of pinned gets a leader, as a controller would write it.
{
	echo "create /brokers/topics/pinned/partitions"
	echo "create /brokers/topics/pinned/partitions/0"
	echo "create /brokers/topics/pinned/partitions/0/state '{\"controller_epoch\":1,\"leader\":1,\"version\":1,\"leader_epoch\":0,\"isr\":[1,2]}'"
	echo "quit"
} | zkcli

run 0 topics -z "$zk" describe --topic pinned && expect_out \
"Topic: pinned${T}PartitionCount: 3${T}ReplicationFactor: 2${T}Configs: retention.ms=86400000,cleanup.policy=delete
${T}Topic: pinned${T}Partition: 0${T}Leader: 1${T}Replicas: 1,2${T}Isr: 1,2
${T}Topic: pinned${T}Partition: 1${T}Leader: none${T}Replicas: 2,3${T}Isr: 
${T}Topic: pinned${T}Partition: 2${T}Leader: none${T}Replicas: 3,1${T}Isr: " "describe pinned"

# Random placement: check the shape rather than the layout.
run 0 topics describe -z "$zk" --topic orders
if [ "$(head -n 1 "$work/out")" != "Topic: orders${T}PartitionCount: 6${T}ReplicationFactor: 3${T}Configs: " ]; then
	fail "describe orders: topic line is '$(head -n 1 "$work/out")'"
fi
[ "$(grep -c "^${T}Topic: orders${T}Partition: [0-5]${T}Leader: none${T}Replicas: [1-3],[1-3],[1-3]${T}Isr: \$" "$work/out")" = 6 ] ||
	fail "describe orders: partition lines: $(cat "$work/out")"
leaders=$(sed -n 's/.*Replicas: \([1-3]\),.*/\1/p' "$work/out" | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')
[ "$leaders" = "2 2 2 " ] || fail "describe orders: preferred leaders not spread evenly ($leaders)"
while IFS= read -r line; do
	r=${line##*Replicas: }
	r=${r%%$T*}
	[ "$(tr ',' '\n' <<<"$r" | sort -u | wc -l)" = 3 ] || fail "duplicate replica in '$r'"
done < <(tail -n +2 "$work/out")

run 0 topics -z "$zk" describe
[ "$(grep -c '^Topic: ' "$work/out")" = 3 ] || fail "describe all: $(cat "$work/out")"
run 0 topics -z "$zk" list && expect_out "orders
pinned
single" "list"
run 0 topics -z "$zk" list --topic single && expect_out "single" "list --topic"
run 1 topics -z "$zk" describe --topic nosuch &&
	expect_err 'brook topics: topic "nosuch" does not exist' "describe unknown"
run 0 topics -z "$zk" describe --topic nosuch --if-exists && expect_out "" "describe --if-exists"

# --- alter ----------------------------------------------------------------------------

run 0 topics -z "$zk" alter --topic orders --partitions 8 &&
	expect_out "Topic orders now has 8 partitions." "alter"
run 0 topics -z "$zk" describe --topic orders
[ "$(grep -c "Partition: " "$work/out")" = 8 ] || fail "alter: $(cat "$work/out")"
run 1 topics -z "$zk" alter --topic orders --partitions 4 &&
	expect_err 'brook topics: the number of partitions can only be increased: the topic has 8, 4 would not be an increase' "shrink"
run 0 topics -z "$zk" alter --topic pinned --partitions 4 --replica-assignment 1:2,2:3,3:1,2:1
run 0 topics -z "$zk" describe --topic pinned
grep -q "Partition: 3${T}Leader: none${T}Replicas: 2,1${T}" "$work/out" || fail "alter explicit: $(cat "$work/out")"
run 1 topics -z "$zk" alter --topic nosuch --partitions 4
run 0 topics -z "$zk" alter --topic nosuch --partitions 4 --if-exists

# --- delete ---------------------------------------------------------------------------

run 0 topics -z "$zk" delete --topic single
head -n 1 "$work/out" | grep -qx "Topic single is marked for deletion." || fail "delete: $(cat "$work/out")"
run 0 topics -z "$zk" list && expect_out "orders
pinned
single - marked for deletion" "list after delete"
run 0 topics -z "$zk" describe --topic single
grep -q "^Topic: single${T}.*${T}MarkedForDeletion: true\$" "$work/out" || fail "describe marked: $(cat "$work/out")"
run 0 topics -z "$zk" delete --topic single && expect_out "Topic single is already marked for deletion." "delete twice"
run 1 topics -z "$zk" create --topic single --partitions 1 --replication-factor 1 &&
	expect_err 'brook topics: topic "single" is marked for deletion' "create marked"
run 1 topics -z "$zk" delete --topic nosuch && expect_err 'brook topics: topic "nosuch" does not exist' "delete unknown"
run 0 topics -z "$zk" delete --topic nosuch --if-exists

# --- usage errors: status 2, one line -------------------------------------------------

run 2 topics -z "$zk"
run 2 topics list
run 2 topics -z "$zk" frobnicate
run 2 topics -z "$zk" create --partitions 1 --replication-factor 1 &&
	expect_err 'brook topics: --topic is required (see brook topics --help)' "no --topic"
run 2 topics -z "$zk" create --topic x --replication-factor 1
run 2 topics -z "$zk" create --topic x --partitions 1 --replication-factor 1 --replica-assignment 1
run 2 topics -z "$zk" create --topic x --partitions many --replication-factor 1
run 2 topics -z "$zk" create --topic x --partitions 1 --replication-factor 1 --config novalue
run 2 topics -z "$zk" create --topic x --partitions 1 --replication-factor 1 --config a=1 --config a=2
run 2 topics -z "$zk" alter --topic orders --partitions 9 --config retention.ms=1 &&
	expect_err 'brook topics: --config does not apply to this action (see brook topics --help)' "alter --config"
run 2 topics -z "$zk" list --bogus && expect_err 'brook topics: unknown option --bogus (see brook topics --help)' "bogus"
run 2 topics -z "$zk" list --topic
run 2 topics -z "$zk" list describe
run 2 cluster
run 2 cluster -z "$zk" extra
run 0 topics --help
grep -q '^retention.ms$' "$work/out" || fail "topics --help lacks the config table"
run 0 cluster --help

# --- ZooKeeper trouble: one clear line ------------------------------------------------

run 1 topics -z 127.0.0.1:1 list --timeout-ms 1000 &&
	expect_err 'brook topics: cannot connect to ZooKeeper at 127.0.0.1:1 within 1 s' "unreachable"
run 1 cluster -z 127.0.0.1:1 --timeout-ms 1500 &&
	expect_err 'brook cluster: cannot connect to ZooKeeper at 127.0.0.1:1 within 1500 ms' "cluster unreachable"
run 1 topics -z nosuchhost.invalid:2181 list
run 1 topics -z "localhost" list &&
	expect_err 'brook topics: bad ZooKeeper connect string "localhost": "localhost" is not host:port' "no port"
if [ -w /dev/full ]; then
	timeout "$step_timeout" "$brook" topics -z "$zk" list >/dev/full 2>"$work/err"
	[ $? = 1 ] && [ "$(wc -l <"$work/err")" = 1 ] || fail "output to /dev/full: $(cat "$work/err")"
fi

if [ "$failures" != 0 ]; then
	echo "test_cli_topics: $failures check(s) failed" >&2
	exit 1
fi
echo "test_cli_topics: all checks passed"
exit 0
