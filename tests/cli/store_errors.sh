# Missing, empty and corrupt stores; malformed filters. Never a crash,
# never a store created by a read-only command.
. "$(dirname "$0")/lib.sh"

db="$TMP_DIR/nope"
for args in "export" "scan {}" "count {}" "stats" "delete {}" "delete {} --dry-run"; do
	# shellcheck disable=SC2086
	run $args --db "$db"
	expect_rc 1 "$args on a missing store"
	expect_file_eq "$ERR" "tern: no store at $db" "$args on a missing store: message"
	[ -e "$db" ] && fail "$args created $db"
	[ -s "$OUT" ] && fail "$args on a missing store wrote to stdout"
done

# The default store is ./tern-db.
mkdir "$TMP_DIR/cwd"
(cd "$TMP_DIR/cwd" && "$TERN" count '{}' >/dev/null 2>"$ERR") && fail "count without a store succeeded"
expect_file_eq "$ERR" "tern: no store at ./tern-db" "default --db"
[ -e "$TMP_DIR/cwd/tern-db" ] && fail "count created ./tern-db"

# An empty directory holds no store: nothing may be created in it.
mkdir "$TMP_DIR/empty"
run stats --db "$TMP_DIR/empty"
expect_rc 1 "stats on an empty directory"
expect_file_eq "$ERR" "tern: no store at $TMP_DIR/empty" "empty directory message"
[ -n "$(ls -A "$TMP_DIR/empty")" ] && fail "stats created files in an empty directory"

# A file where the directory should be.
: >"$TMP_DIR/file"
run count '{}' --db "$TMP_DIR/file"
expect_rc 1 "count on a plain file"

# A corrupt store: garbage in the data file.
mkdir "$TMP_DIR/bad"
head -c 65536 /dev/urandom >"$TMP_DIR/bad/data.mdb"
for args in "stats" "count {}" "export"; do
	# shellcheck disable=SC2086
	run $args --db "$TMP_DIR/bad"
	expect_rc 1 "$args on a corrupt store"
	expect_grep "^tern: cannot open store at $TMP_DIR/bad: " "$ERR" "$args on a corrupt store: message"
done
run_in /dev/null import --db "$TMP_DIR/bad"
expect_rc 1 "import into a corrupt store"

# A truncated data file.
: >"$TMP_DIR/bad/data.mdb"
run stats --db "$TMP_DIR/bad"
expect_rc 1 "stats on an empty data file"

# A store of another format version is refused and left untouched.
printf '' | "$TERN" import --db "$TMP_DIR/v9" 2>/dev/null || fail "import of nothing (v9)"
perl -0777 -pi -e 's/version\x00\x00\x00\x02/version\x00\x00\x00\x09/g' "$TMP_DIR/v9/data.mdb"
cp "$TMP_DIR/v9/data.mdb" "$TMP_DIR/v9.copy"
for args in "stats" "count {}" "export"; do
	# shellcheck disable=SC2086
	run $args --db "$TMP_DIR/v9"
	expect_rc 1 "$args on a version 9 store"
	expect_grep "^tern: cannot open store at $TMP_DIR/v9: .*version 9 is not supported" "$ERR" "$args on a version 9 store: message"
done
run_in /dev/null import --db "$TMP_DIR/v9"
expect_rc 1 "import into a version 9 store"
expect_grep "version 9 is not supported" "$ERR" "import into a version 9 store: message"
run delete --db "$TMP_DIR/v9" '{}'
expect_rc 1 "delete in a version 9 store"
cmp -s "$TMP_DIR/v9/data.mdb" "$TMP_DIR/v9.copy" || fail "a version 9 store was modified"

# I/O errors: unreadable stdin, a full disk.
run_in "$TMP_DIR" import --db "$TMP_DIR/db-io"
expect_rc 1 "import from a directory"
expect_grep '^tern: import: reading stdin: ' "$ERR" "read error message"
if [ -w /dev/full ]; then
	printf '' | "$TERN" import --db "$TMP_DIR/db-full" 2>/dev/null
	"$TERN" count --db "$TMP_DIR/db-full" '{}' >/dev/full 2>"$ERR" && fail "count to a full disk succeeded"
	expect_grep '^tern: write error: ' "$ERR" "count to a full disk: message"
fi

# Malformed filters: exit 2 with the parser's reason, before the store is
# even opened.
printf '' | "$TERN" import --db "$TMP_DIR/db" 2>/dev/null || fail "import of nothing"
for f in '{"kinds":"x"}' '{' '[]' '{"ids":["abc"]}' '{"frob":1}' 'null' '[{},' '{"limit":-1}'; do
	for cmd in scan count delete export; do
		run "$cmd" --db "$TMP_DIR/db" "$f"
		expect_rc 2 "$cmd '$f'"
		expect_grep '^tern: invalid filter: .+' "$ERR" "$cmd '$f': message"
		[ "$(wc -l <"$ERR")" -eq 1 ] || fail "$cmd '$f': one line on stderr"
	done
done
run count --db "$TMP_DIR/db" '{"kinds":"x"}'
expect_file_eq "$ERR" 'tern: invalid filter: "kinds" must be an array of integers 0-65535' "kinds message"
run count --db "$TMP_DIR/nope" '{"kinds":"x"}'
expect_rc 2 "an invalid filter is reported before a missing store"

finish
