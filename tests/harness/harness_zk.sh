# harness_zk.sh - sourced by the shell tests: starts a one-server ZooKeeper
# with zk/zk-ensemble for the calling script and sets $zk to its connect
# string. The ensemble stops with the script (--owner-pid), and the caller
# also stops it in its cleanup ("$ensemble" stop --dir DIR).
#
#   harness_zk_start NAME DIR SALT   (NAME for messages; SALT spreads ports)
#
# Base ports from our pid, 30 apart (an ensemble uses P..P+23), in
# 20000..31999, below Linux's ephemeral ports (32768 up) that connections
# and port-0 listeners take; zk-ensemble exits 3 when a port is taken, and
# then another base port is tried. Exits 99 when no ensemble starts.
harness_zk_start() {
	local name=$1 dir=$2 salt=$3 attempt port rc=0
	for attempt in $(seq 0 11); do
		port=$((20000 + (($$ * 7 + salt + attempt * 131) % 400) * 30))
		"$ensemble" start --servers 1 --base-port "$port" --dir "$dir" --timeout 60 \
			--owner-pid $$ >"$dir.out" 2>&1
		rc=$?
		if [ $rc = 0 ]; then
			zk=127.0.0.1:$port
			return 0
		fi
		[ $rc = 3 ] || break
	done
	echo "$name: zk-ensemble start failed (status $rc):" >&2
	cat "$dir.out" >&2
	exit 99
}
