#!/bin/bash
# quickstart.sh - README command (1): install what is missing, build, and
# start a local ZooKeeper ensemble of 3 servers on 127.0.0.1 under
# ./quickstart-data, then show that it is healthy.
#
#   ./quickstart.sh          start (or report the running one)
#   ./quickstart.sh stop     stop exactly what it started
set -euo pipefail
cd "$(dirname "$0")"
DATA=${BROOK_QUICKSTART_DIR:-$(pwd)/quickstart-data}
ZK_PORT=${BROOK_ZK_PORT:-2181}
ENSEMBLE="zk/zk-ensemble --servers 3 --base-port $ZK_PORT --dir $DATA/zk"

if [ "${1:-}" = "stop" ]; then
	$ENSEMBLE stop
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
$ENSEMBLE status
cat <<MSG

ZooKeeper ensemble running: $($ENSEMBLE connect)
Data and logs: $DATA/zk

Try next:
  /usr/share/zookeeper/bin/zkCli.sh -server 127.0.0.1:$ZK_PORT ls /
  $ENSEMBLE kill 1        # kill -9 one server; the quorum survives
  $ENSEMBLE start-one 1   # bring it back
Stop everything:
  ./quickstart.sh stop
MSG
