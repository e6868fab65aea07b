# cluster.sh - sourced by the bench scripts: a scratch folder, one local
# ZooKeeper and brokers on 127.0.0.1, everything stopped (by pid) and
# removed at exit. Needs $BROOKD and the repository root as the current
# folder.
#
#   bench_cluster_init NAME BASE   sets $work, $zk, $boot (brokers 1..3)
#   start_broker I [LINE...]       brookd I, with extra config lines;
#                                  its pid in ${pid[I]}, log in $work/bI.log
#   brokers_registered N           true once N brokers are registered

declare -A pid

bench_cluster_cleanup() {
	for i in "${!pid[@]}"; do
		kill -KILL "${pid[$i]}" 2>/dev/null
	done
	wait 2>/dev/null
	zk/zk-ensemble stop --dir "$work/zk" >/dev/null 2>&1
	rm -rf "$work"
}

bench_cluster_init() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/brook-$1.XXXXXX") || exit 1
	zk_port=$(($2 + ($$ % 300) * 30))
	trap bench_cluster_cleanup EXIT
	zk/zk-ensemble start --servers 1 --base-port "$zk_port" --dir "$work/zk" \
		--owner-pid $$ >/dev/null || exit 1
	zk=127.0.0.1:$zk_port
	port0=$((zk_port + 100))
	boot=127.0.0.1:$((port0 + 1)),127.0.0.1:$((port0 + 2)),127.0.0.1:$((port0 + 3))
}

start_broker() {
	local i=$1
	shift
	{
		printf 'broker.id=%s\nlisteners=BROOK://127.0.0.1:%s\nlog.dirs=%s\nzookeeper.connect=%s\n' \
			"$i" "$((port0 + i))" "$work/b$i" "$zk"
		[ $# -gt 0 ] && printf '%s\n' "$@"
	} >"$work/b$i.properties"
	"$BROOKD" "$work/b$i.properties" >>"$work/b$i.log" 2>&1 &
	pid[$i]=$!
}

brokers_registered() {
	[ "$("$BROOK" cluster -z "$zk" 2>/dev/null | grep -c '^Broker:')" = "$1" ]
}
