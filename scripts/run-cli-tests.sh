#!/bin/sh
# Runs each CLI test script given with TERN pointing at the binary under
# test and a fresh scratch directory in TMP_DIR; fails if any fails.
set -u
: "${TERN:=build/tern}"
export TERN
pass=0 fail=0
for t in "$@"; do
	[ -f "$t" ] || continue
	d=$(mktemp -d)
	if TMP_DIR="$d" sh "$t" >"$d.log" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FAILED: $t" >&2; cat "$d.log" >&2
	fi
	rm -rf "$d" "$d.log"
done
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
