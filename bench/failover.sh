#!/bin/bash
# failover.sh - failover figures on a local cluster (1 ZooKeeper, 3 brokers
# on 127.0.0.1, everything under a scratch folder, all stopped at the end):
#
#   kill:     RUNS times: kill -9 the leader of partition 0 of an RF=3
#             topic (min.insync.replicas=2, acks=all) and time until a
#             produce to that partition is acknowledged again; restart the
#             broker and wait until it is back in the ISR. Dominated by the
#             ZooKeeper session timeout (--session-ms).
#   shutdown: RUNS times: SIGTERM a broker that leads all 300 partitions of
#             a topic and time until it has exited, its leaderships moved
#             (controlled shutdown); restart it and let the controller's
#             preferred-leader election give them back.
#
#   bench/failover.sh [--runs N] [--session-ms MS] [--only kill|shutdown]
#
# Prints every run and the median and maximum, in milliseconds.
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
BROOK=$top/build/client/brook
BROOKD=$top/build/src/brookd
runs=10
session_ms=6000
only=
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--session-ms) session_ms=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	*) echo "usage: bench/failover.sh [--runs N] [--session-ms MS] [--only kill|shutdown]" >&2; exit 2 ;;
	esac
done
[ -x "$BROOKD" ] && [ -x "$BROOK" ] || { echo "failover: build first (make -C build)" >&2; exit 1; }

. bench/cluster.sh
bench_cluster_init failover 21000

now_ms() { date +%s%3N; }

broker_conf=(
	"zookeeper.session.timeout.ms=$session_ms"
	min.insync.replicas=2
	replica.lag.time.max.ms=10000
	leader.imbalance.check.interval.seconds=1
)

# leader of topic $1 partition $2, from ZooKeeper
leader_of() {
	"$BROOK" topics -z "$zk" describe --topic "$1" 2>/dev/null |
		awk -v p="$2" -F'\t' '$3 == "Partition: " p { sub("Leader: ", "", $4); print $4 }'
}
isr_size() {
	"$BROOK" topics -z "$zk" describe --topic "$1" 2>/dev/null |
		awk -v p="$2" -F'\t' '$3 == "Partition: " p { sub("Isr: ", "", $6); print split($6, a, ",") }'
}
wait_until() { # timeout_s command...
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
registered() { brokers_registered 3; }
isr_full() { [ "$(isr_size "$1" "$2")" = 3 ]; }
produce_one() {
	echo "x" | "$BROOK" produce -b "$boot" -t "$1" -p "$2" --acks all \
		-X delivery.timeout.ms=1500 -X request.timeout.ms=1000 -X linger.ms=0 >/dev/null 2>&1
}
stats() { # name values...
	local name=$1
	shift
	printf '%s\n' "$@" | sort -n | awk -v name="$name" '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%s: %d runs, median %d ms, max %d ms\n", name, NR, m, v[NR] }'
}

for i in 1 2 3; do start_broker "$i" "${broker_conf[@]}"; done
wait_until 60 registered || { echo "failover: brokers did not register" >&2; exit 1; }

if [ "$only" != shutdown ]; then
	"$BROOK" topics -z "$zk" create --topic fo --partitions 3 --replication-factor 3 >/dev/null
	wait_until 60 isr_full fo 0 || { echo "failover: ISR did not fill" >&2; exit 1; }
	produce_one fo 0
	times=()
	for r in $(seq 1 "$runs"); do
		l=$(leader_of fo 0)
		t0=$(now_ms)
		kill -KILL "${pid[$l]}"
		wait "${pid[$l]}" 2>/dev/null
		until produce_one fo 0; do :; done
		t=$(($(now_ms) - t0))
		times+=("$t")
		echo "kill -9 of leader $l (session ${session_ms} ms): produce acknowledged again after $t ms"
		start_broker "$l" "${broker_conf[@]}"
		wait_until 120 isr_full fo 0 || { echo "failover: broker $l did not rejoin" >&2; exit 1; }
	done
	stats "kill -9 of a leader to the next acknowledged produce (session ${session_ms} ms)" "${times[@]}"
fi

if [ "$only" != kill ]; then
	assign=$(printf '1:2:3,%.0s' $(seq 1 300))
	"$BROOK" topics -z "$zk" create --topic cs --replica-assignment "${assign%,}" >/dev/null
	leads1() { [ "$("$BROOK" topics -z "$zk" describe --topic cs | grep -c $'\tLeader: 1\t')" = 300 ]; }
	all_isr() { [ "$("$BROOK" topics -z "$zk" describe --topic cs | grep -c $'\tIsr: [123],[123],[123]$')" = 300 ]; }
	wait_until 120 all_isr || { echo "failover: cs ISR did not fill" >&2; exit 1; }
	times=()
	for r in $(seq 1 "$runs"); do
		wait_until 120 leads1 || { echo "failover: broker 1 did not get its leaderships back" >&2; exit 1; }
		t0=$(now_ms)
		kill -TERM "${pid[1]}"
		wait "${pid[1]}"
		t=$(($(now_ms) - t0))
		moved=$("$BROOK" topics -z "$zk" describe --topic cs | grep -c $'\tLeader: [23]\t')
		times+=("$t")
		echo "controlled shutdown of the leader of 300 partitions: $t ms, $moved moved"
		start_broker 1 "${broker_conf[@]}"
		wait_until 120 all_isr || { echo "failover: broker 1 did not rejoin" >&2; exit 1; }
	done
	stats "controlled shutdown of a broker leading 300 partitions" "${times[@]}"
fi
