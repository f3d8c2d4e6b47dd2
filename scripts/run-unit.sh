#!/bin/sh
# Runs each Criterion unit-test binary given; fails if any fails.
# Prints one summary line "unit binaries: N passed, N failed".
#
# Criterion runs each test in a worker process that normally exits early,
# before LeakSanitizer can look; and when it does look, a leak does not
# change the worker's verdict. So sanitizer builds run with
# --no-early-exit and their output is checked for sanitizer reports.
set -u
pass=0 fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	case "$t" in
	*/asan/*) flags="--no-early-exit" ;;
	*) flags="" ;;
	esac
	# shellcheck disable=SC2086
	"$t" --jobs=2 $flags >"$log" 2>&1
	rc=$?
	cat "$log"
	if [ "$rc" -eq 0 ] && grep -qE "LeakSanitizer|AddressSanitizer|runtime error:" "$log"; then
		echo "FAILED: $t: sanitizer report above" >&2
		rc=1
	fi
	if [ "$rc" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t" >&2; fi
done
echo "unit binaries: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
