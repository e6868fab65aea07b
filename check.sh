#!/bin/bash
# check.sh - README command (2): install what is missing, build, and run
# every test twice: once normally and once under AddressSanitizer and
# UndefinedBehaviorSanitizer. Builds are out of tree: build/ and build-san/.
#
#   ./check.sh            both passes
#   ./check.sh --fast     the normal pass only
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

./install-deps.sh

total_pass=0
total_fail=0

# Runs `make check` in $1 and adds its counts to the totals; on failure
# prints the logs of the failing tests so CI output shows why.
run_suite() {
	local dir=$1 name=$2 rc=0
	echo "== $name: make check in $dir"
	make -C "$dir" -j"$jobs" check || rc=$?
	local log="$dir/test-suite.log"
	if [ -f "$log" ]; then
		local p f e
		p=$(sed -n 's/^# PASS: *//p' "$log" | head -n1)
		f=$(sed -n 's/^# FAIL: *//p' "$log" | head -n1)
		e=$(sed -n 's/^# ERROR: *//p' "$log" | head -n1)
		total_pass=$((total_pass + ${p:-0}))
		total_fail=$((total_fail + ${f:-0} + ${e:-0}))
	fi
	if [ "$rc" -ne 0 ]; then
		echo "== $name: FAILED; logs of failing tests:"
		for t in $(grep -lE '^(FAIL|ERROR):' "$dir"/tests/*.trs 2>/dev/null); do
			echo "---- ${t%.trs}.log"
			cat "${t%.trs}.log"
		done
		[ -f "$log" ] && tail -n 40 "$log"
		total_fail=$((total_fail > 0 ? total_fail : 1))
	fi
	return 0
}

if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	./autogen.sh
fi
# Reconfigures a build folder when configure is newer than its Makefile.
configure_in() {
	local dir=$1
	shift
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/Makefile" ]; then
		(cd "$dir" && ../configure "$@")
	fi
}
configure_in build
make -C build -j"$jobs"
run_suite "$top/build" "tests"

if [ "${1:-}" != "--fast" ]; then
	configure_in build-san --enable-sanitizers
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
	# third-party leaks only, each with its upstream bug (tests/lsan.supp)
	export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	make -C build-san -j"$jobs"
	run_suite "$top/build-san" "tests under ASan+UBSan"
fi

echo
echo "tests: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
