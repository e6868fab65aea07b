#!/bin/sh
# install-deps.sh - installs, with apt-get, only the Debian packages that
# are missing for building brook, running its tests and running a local
# cluster (ZooKeeper included). Safe to run again: it installs nothing when
# everything is there. Used by the README's two commands and by .ci/run.
set -eu

PACKAGES="
build-essential autoconf automake pkg-config make gcc
libev-dev libmsgpack-dev libzookeeper-st-dev libjansson-dev libcunit1-dev
zlib1g-dev liblz4-dev libzstd-dev
zookeeper procps iproute2
"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
