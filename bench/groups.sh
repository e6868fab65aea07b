#!/bin/bash
# groups.sh - consumer-group figures on a local cluster (1 ZooKeeper, 3
# brokers on 127.0.0.1, everything under a scratch folder, all stopped at
# the end), with bench/group_bench:
#
#   handoff: a 6-partition RF=3 topic fed continuously (500 msg/s per
#            partition), 3 member processes; RUNS times a member is killed
#            with kill -9 (then, separately, stopped with SIGTERM: a clean
#            leave) and we time until each of its partitions is consumed
#            again by another member. kill -9 waits for the ZooKeeper
#            session timeout (--session-ms).
#   zkops:   20 members on a 60-partition topic; ZooKeeper operations for a
#            21st member joining and for one leaving, for range and sticky,
#            next to what Kafka 0.8's ZooKeeper consumer issues.
#
#   bench/groups.sh [--runs N] [--session-ms MS] [--only handoff|zkops]
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
BROOK=$top/build/client/brook
BROOKD=$top/build/src/brookd
BENCH=$top/build/bench/group_bench
runs=10
session_ms=6000
only=
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--session-ms) session_ms=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	*) echo "usage: bench/groups.sh [--runs N] [--session-ms MS] [--only handoff|zkops]" >&2; exit 2 ;;
	esac
done
for f in "$BROOKD" "$BROOK" "$BENCH"; do
	[ -x "$f" ] || { echo "groups: build first (make -C build)" >&2; exit 1; }
done

. bench/cluster.sh
bench_cluster_init groups 22000
for i in 1 2 3; do start_broker "$i"; done
for _ in $(seq 1 600); do
	brokers_registered 3 && break
	sleep 0.1
done
"$BROOK" topics -z "$zk" create --topic gb6 --partitions 6 --replication-factor 3 >/dev/null || exit 1
"$BROOK" topics -z "$zk" create --topic gb60 --partitions 60 --replication-factor 3 >/dev/null || exit 1
sleep 2

if [ "$only" != zkops ]; then
	"$BENCH" handoff --zookeeper "$zk" --bootstrap "$boot" --topic gb6 --partitions 6 \
		--members 3 --runs "$runs" --session-ms "$session_ms" --leave kill || exit 1
	"$BENCH" handoff --zookeeper "$zk" --bootstrap "$boot" --topic gb6 --partitions 6 \
		--members 3 --runs "$runs" --session-ms "$session_ms" --leave term || exit 1
fi
if [ "$only" != handoff ]; then
	for s in range sticky; do
		echo "strategy $s:"
		"$BENCH" zkops --zookeeper "$zk" --bootstrap "$boot" --topic gb60 --partitions 60 \
			--members 20 --strategy "$s" --session-ms "$session_ms" || exit 1
	done
fi
