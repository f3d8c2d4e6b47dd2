# Helpers sourced by the tests/cli/*.sh scripts (POSIX sh).
# Run on its own it checks that the binary under test runs at all.
#   TERN     the tern binary under test (default build/tern)
#   TMP_DIR  a fresh scratch directory (default: a new temporary one)
set -u

: "${TERN:=build/tern}"
case "$TERN" in /*) ;; *) TERN="$(pwd)/$TERN" ;; esac
: "${TMP_DIR:=$(mktemp -d)}"
CLI_DIR=$(cd "$(dirname "$0")" && pwd)
: "${VECTORS:=$CLI_DIR/../vectors}"
SAMPLE="$VECTORS/events-sample.jsonl"
EXPECT="$VECTORS/events-sample.expect.json"
OUT="$TMP_DIR/out"
ERR="$TMP_DIR/err"
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run ARGS...: runs tern with stdout in $OUT, stderr in $ERR; sets $rc.
run() {
	rc=0
	"$TERN" "$@" >"$OUT" 2>"$ERR" || rc=$?
}

# run_in FILE ARGS...: like run, with stdin from FILE.
run_in() {
	_in=$1
	shift
	rc=0
	"$TERN" "$@" <"$_in" >"$OUT" 2>"$ERR" || rc=$?
}

# expect_rc N WHAT: the last run exited with N.
expect_rc() {
	if [ "$rc" -ne "$1" ]; then
		fail "$2: exit code $rc, expected $1"
		sed 's/^/  stderr: /' "$ERR" >&2
	fi
}

# expect_eq GOT WANT WHAT
expect_eq() {
	if [ "$1" != "$2" ]; then
		fail "$3: got '$1', expected '$2'"
	fi
}

# expect_file_eq FILE TEXT WHAT: FILE's content is exactly TEXT (+ newline).
expect_file_eq() {
	if [ "$(cat "$1")" != "$2" ]; then
		fail "$3: got:"
		sed 's/^/  | /' "$1" >&2
		echo "  expected:" >&2
		printf '%s\n' "$2" | sed 's/^/  | /' >&2
	fi
}

# expect_grep PATTERN FILE WHAT: FILE has a line matching PATTERN (grep -E).
expect_grep() {
	if ! grep -Eq -- "$1" "$2"; then
		fail "$3: no line matching '$1' in:"
		sed 's/^/  | /' "$2" >&2
	fi
}

# expect_no_grep PATTERN FILE WHAT
expect_no_grep() {
	if grep -Eq -- "$1" "$2"; then
		fail "$3: unexpected line matching '$1'"
	fi
}

# need_sample: skips (successfully) when the sample vectors are missing.
need_sample() {
	if [ ! -f "$SAMPLE" ] || [ ! -f "$EXPECT" ]; then
		echo "skip: $SAMPLE not generated (make vectors)"
		exit 0
	fi
}

# ids FILE: the "id" of each JSONL event in FILE, one per line.
ids() {
	sed -n 's/^{"id":"\([0-9a-f]\{64\}\)".*/\1/p' "$1"
}

# finish: exit status of the script.
finish() {
	if [ "$failures" -ne 0 ]; then
		echo "$failures check(s) failed" >&2
		exit 1
	fi
	echo "ok"
	exit 0
}

# Run directly: a smoke test of the binary.
case "$(basename "$0")" in
lib.sh)
	run version
	expect_rc 0 "tern version"
	expect_grep '^tern [0-9]+\.[0-9]+\.[0-9]+ \(store format [0-9]+\)$' "$OUT" "tern version"
	finish
	;;
esac
