# tern --help, help CMD, version, usage errors and their exit codes.
. "$(dirname "$0")/lib.sh"

run --help
expect_rc 0 "--help"
for word in import export scan count delete stats version "Exit codes" \
	"0  success" "1  runtime failure" "2  usage error" "--db DIR"; do
	expect_grep "$word" "$OUT" "--help mentions '$word'"
done
[ -s "$ERR" ] && fail "--help wrote to stderr"

run help
expect_rc 0 "help"
cp "$OUT" "$TMP_DIR/help"
run -h
expect_rc 0 "-h"
cmp -s "$OUT" "$TMP_DIR/help" || fail "-h differs from help"

for cmd in import export scan count delete stats; do
	run "$cmd" --help
	expect_rc 0 "$cmd --help"
	expect_grep "^Usage: tern $cmd " "$OUT" "$cmd --help usage line"
	expect_grep "Exit codes" "$OUT" "$cmd --help exit codes"
	cp "$OUT" "$TMP_DIR/h1"
	run help "$cmd"
	expect_rc 0 "help $cmd"
	cmp -s "$OUT" "$TMP_DIR/h1" || fail "help $cmd differs from $cmd --help"
done
run import --help
expect_grep "--no-verify" "$OUT" "import --help documents --no-verify"
expect_grep "--threads N" "$OUT" "import --help documents --threads"
run delete --help
expect_grep "--dry-run" "$OUT" "delete --help documents --dry-run"
run stats --help
expect_grep "--json" "$OUT" "stats --help documents --json"

run version
expect_rc 0 "version"
expect_grep '^tern [0-9]+\.[0-9]+\.[0-9]+ \(store format 2\)$' "$OUT" "version output"
cp "$OUT" "$TMP_DIR/v"
run --version
expect_rc 0 "--version"
cmp -s "$OUT" "$TMP_DIR/v" || fail "--version differs from version"
run version extra
expect_rc 2 "version with an argument"

# Usage errors: exit 2 with a message on stderr and nothing on stdout.
run
expect_rc 2 "no command"
expect_grep '^Usage: tern' "$ERR" "no command prints usage on stderr"

run frobnicate
expect_rc 2 "unknown command"
expect_file_eq "$ERR" "tern: unknown command 'frobnicate'
Try 'tern --help'." "unknown command message"
[ -s "$OUT" ] && fail "unknown command wrote to stdout"

run help frobnicate
expect_rc 2 "help for an unknown command"

run count --db "$TMP_DIR/db" --frob '{}'
expect_rc 2 "unknown option"
expect_file_eq "$ERR" "tern: count: unknown option '--frob'
Try 'tern count --help'." "unknown option message"

run scan --db "$TMP_DIR/db"
expect_rc 2 "scan without FILTER"
expect_grep "missing FILTER" "$ERR" "scan without FILTER message"
run count
expect_rc 2 "count without FILTER"
run delete --dry-run
expect_rc 2 "delete without FILTER"
run scan '{}' '{}'
expect_rc 2 "scan with two filters"
expect_grep "unexpected argument" "$ERR" "extra argument message"
run count --db
expect_rc 2 "--db without a value"
expect_grep "needs a value" "$ERR" "--db without a value message"
run stats --json=yes
expect_rc 2 "flag with a value"
run stats extra
expect_rc 2 "stats with an argument"

for n in 0 -1 x 1x 100000; do
	run import --db "$TMP_DIR/db" --threads "$n" </dev/null
	expect_rc 2 "import --threads $n"
	expect_grep "threads must be" "$ERR" "--threads $n message"
done
[ -e "$TMP_DIR/db" ] && fail "a usage error created the store"

finish
