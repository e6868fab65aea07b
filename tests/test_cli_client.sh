#!/bin/bash
# test_cli_client.sh - `brook produce`, `brook consume` and `brook perf` without a
# cluster: --help, usage errors (exit 2), and a cluster that cannot be
# reached (exit 1), each failure with exactly one line on stderr. The runs
# against real brokers live in the end-to-end tests.
#
# Exit: 0 pass, 1 fail, 99 hard error.
set -u

top_build=${BROOK_TOP_BUILDDIR:-$(pwd)}
brook=$top_build/client/brook
[ -x "$brook" ] || { echo "test_cli_client: $brook not built" >&2; exit 99; }

work=$(mktemp -d "${TMPDIR:-/tmp}/brook-cli-client.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect STATUS STDERR-LINES STDERR-PATTERN -- brook ARGS... (stdin from $input)
input=/dev/null
expect() {
	local want=$1 lines=$2 pattern=$3 rc n
	shift 4
	timeout 60 "$brook" "$@" <"$input" >"$work/out" 2>"$work/err"
	rc=$?
	n=$(wc -l <"$work/err")
	[ "$rc" = "$want" ] || fail "brook $*: exit $rc, expected $want ($(head -c 300 "$work/err"))"
	[ "$lines" = any ] || [ "$n" = "$lines" ] ||
		fail "brook $*: $n stderr lines, expected $lines: $(head -c 300 "$work/err")"
	[ -z "$pattern" ] || grep -q -- "$pattern" "$work/err" ||
		fail "brook $*: stderr does not match \"$pattern\": $(head -c 300 "$work/err")"
}

# help
expect 0 0 "" -- produce --help
grep -q -- "--delivery-report" "$work/out" || fail "produce --help lacks --delivery-report"
expect 0 0 "" -- consume --help
grep -q -- "%k key" "$work/out" || fail "consume --help lacks the format tokens"
expect 0 0 "" -- consume -X help
grep -q "auto.offset.reset" "$work/out" || fail "-X help lacks auto.offset.reset"

# usage errors: exit 2, one line naming the problem
expect 2 1 "topic" -- produce -b 127.0.0.1:1
expect 2 1 "bootstrap-server" -- produce -t t
expect 2 1 "not both" -- produce -t t -b 127.0.0.1:1 -z 127.0.0.1:1
expect 2 1 "acks" -- produce -t t -b 127.0.0.1:1 --acks 2
expect 2 1 "linger.ms" -- produce -t t -b 127.0.0.1:1 -X linger.ms=-5
expect 2 1 "unknown setting" -- produce -t t -b 127.0.0.1:1 -X no.such=1
expect 2 1 "KEY=VALUE" -- produce -t t -b 127.0.0.1:1 -X linger.ms
expect 2 1 "partition" -- produce -t t -b 127.0.0.1:1 -p x
expect 2 1 "throughput" -- produce -t t -b 127.0.0.1:1 --throughput 0
expect 2 1 "unknown option" -- produce -t t -b 127.0.0.1:1 --nope
expect 2 1 "unexpected argument" -- produce -t t -b 127.0.0.1:1 extra
expect 2 1 "topic" -- consume -b 127.0.0.1:1
expect 2 1 "-o" -- consume -t t -b 127.0.0.1:1 -o yesterday
expect 2 1 "-o" -- consume -t t -b 127.0.0.1:1 -o --5
expect 2 1 "-c" -- consume -t t -b 127.0.0.1:1 -c 0
expect 2 1 "%x" -- consume -t t -b 127.0.0.1:1 -f '%s %x'
expect 2 1 "expected host:port" -- consume -t t -b localhost
expect 2 1 "needs a value" -- consume -t
expect 0 0 "" -- perf --help
grep -q -- "--record-size" "$work/out" || fail "perf --help lacks --record-size"
expect 2 1 "produce or consume" -- perf
expect 2 1 "produce or consume" -- perf fetch -t t -b 127.0.0.1:1
expect 2 1 "topic" -- perf produce -b 127.0.0.1:1
expect 2 1 "-n" -- perf produce -t t -b 127.0.0.1:1 -n 0
expect 2 1 "-s" -- perf produce -t t -b 127.0.0.1:1 -s -1
expect 2 1 "acks" -- perf produce -t t -b 127.0.0.1:1 --acks 3
expect 2 1 "unknown setting" -- perf consume -t t -b 127.0.0.1:1 -X no.such=1

# no cluster: exit 1, one line that says why
printf 'a\nb\n' >"$work/in"
input=$work/in
expect 1 1 "2 of 2 messages failed.*Connection refused" -- produce -t t -b 127.0.0.1:1 \
	-X request.timeout.ms=300 -X delivery.timeout.ms=800
input=/dev/null
expect 1 1 "Connection refused" -- consume -t t -b 127.0.0.1:1 \
	-X topic.metadata.propagation.max.ms=500
expect 1 1 "10 records failed" -- perf produce -t t -b 127.0.0.1:1 -n 10 \
	-X request.timeout.ms=300 -X delivery.timeout.ms=800
expect 1 1 "Connection refused" -- perf consume -t t -b 127.0.0.1:1 \
	-X topic.metadata.propagation.max.ms=500
expect 1 1 "no-such-file" -- produce -t t -b 127.0.0.1:1 -f "$work/no-such-file"
# an empty input is no error
expect 0 0 "" -- produce -t t -b 127.0.0.1:1

if [ "$failures" -gt 0 ]; then
	echo "test_cli_client: $failures failure(s)" >&2
	exit 1
fi
echo "test_cli_client: all passed"
exit 0
