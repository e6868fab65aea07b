#!/bin/bash
# quickstart.sh - README command (1): install what is missing, build, start a
# local cluster in the background (3 ZooKeeper servers and 3 brokers on
# 127.0.0.1, everything under ./quickstart-data), create a topic, produce and
# consume a few messages, and say what to try next.
#
#   ./quickstart.sh          start (or report the running one)
#   ./quickstart.sh stop     stop exactly what it started (by recorded pid)
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
DATA=${BROOK_QUICKSTART_DIR:-$top/quickstart-data}
ZK_PORT=${BROOK_ZK_PORT:-2181}
BROKER_PORT=${BROOK_BROKER_PORT:-9092}
ENSEMBLE="zk/zk-ensemble --servers 3 --base-port $ZK_PORT --dir $DATA/zk"
BROOKD=$top/build/src/brookd
BROOK=$top/build/client/brook

# Stops the brokers we started (SIGTERM: clean shutdown), then ZooKeeper.
stop_all() {
	for i in 1 2 3; do
		pidfile=$DATA/broker-$i/brookd.pid
		[ -f "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		# only our brookd: the pid may have been reused since
		if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "broker-$i/server.properties"; then
			kill -TERM "$pid"
			for _ in $(seq 1 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		fi
		rm -f "$pidfile"
	done
	if [ -f "$DATA/zk/ensemble.env" ]; then
		$ENSEMBLE stop
	fi
}

if [ "${1:-}" = "stop" ]; then
	stop_all
	echo "quickstart: stopped"
	exit 0
fi

./install-deps.sh
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	./autogen.sh
fi
mkdir -p build
if [ ! -f build/Makefile ] || [ configure -nt build/Makefile ]; then
	(cd build && ../configure)
fi
make -C build -j"$(nproc 2>/dev/null || echo 2)"

mkdir -p "$DATA"
$ENSEMBLE start
ZK=$($ENSEMBLE connect)

for i in 1 2 3; do
	dir=$DATA/broker-$i
	port=$((BROKER_PORT + i - 1))
	mkdir -p "$dir/logs"
	if [ -f "$dir/brookd.pid" ] && kill -0 "$(cat "$dir/brookd.pid")" 2>/dev/null; then
		echo "quickstart: broker $i already running (pid $(cat "$dir/brookd.pid"))"
		continue
	fi
	cat >"$dir/server.properties" <<CONF
# quickstart broker $i (see conf/server.properties for every setting)
broker.id=$i
listeners=BROOK://127.0.0.1:$port
log.dirs=$dir/logs
zookeeper.connect=$ZK
CONF
	nohup "$BROOKD" "$dir/server.properties" >"$dir/brookd.log" 2>&1 &
	echo $! >"$dir/brookd.pid"
done

# Wait until all three brokers are registered in ZooKeeper.
for _ in $(seq 1 300); do
	n=$("$BROOK" cluster -z "$ZK" 2>/dev/null | grep -c '^Broker:' || true)
	[ "$n" -ge 3 ] && break
	sleep 0.1
done
if [ "${n:-0}" -lt 3 ]; then
	echo "quickstart: brokers did not register within 30 s; see $DATA/broker-*/brookd.log" >&2
	exit 1
fi
"$BROOK" cluster -z "$ZK"

"$BROOK" topics -z "$ZK" create --topic quickstart --partitions 3 --replication-factor 3 --if-not-exists
BOOT=127.0.0.1:$BROKER_PORT,127.0.0.1:$((BROKER_PORT + 1)),127.0.0.1:$((BROKER_PORT + 2))

echo
echo "== producing 5 keyed messages (key:value), with delivery reports (partition, offset, key, value)"
printf 'alice:hello\nbob:from\ncarol:brook\nalice:again\nbob:bye\n' |
	"$BROOK" produce -b "$BOOT" -t quickstart -K : --delivery-report
echo "== consuming everything back (partition, offset, key, value)"
"$BROOK" consume -b "$BOOT" -t quickstart -o beginning -e -f '%p\t%o\t%k\t%s\n'
echo "== the topic: its partitions, their replicas and leaders"
"$BROOK" topics -z "$ZK" describe --topic quickstart

cat <<MSG

Cluster running: ZooKeeper $ZK, brokers $BOOT
Data and logs: $DATA

Try next:
  $BROOK topics -z $ZK create --topic orders --partitions 6 --replication-factor 3
  seq 1 100000 | $BROOK produce -b $BOOT -t orders
  $BROOK consume -b $BOOT -t orders -o beginning -e -c 10
  $BROOK topics -z $ZK describe
  $BROOK cluster -z $ZK
  $BROOKD --help            # every broker setting
Stop everything:
  ./quickstart.sh stop
MSG
