# scan (limit, order), count == scan lines, delete --dry-run then delete,
# stats (text and JSON).
. "$(dirname "$0")/lib.sh"
need_sample

db="$TMP_DIR/db"
"$TERN" import --db "$db" <"$SAMPLE" 2>"$ERR" || fail "import"
total=$(node -e 'console.log(require(process.argv[1]).stored)' "$EXPECT")

# stats of the fresh import: one stored event expires (in 2100).
run stats --db "$db"
expect_rc 0 "stats"
expect_grep "^events: +$total$" "$OUT" "stats events"
expect_grep "^expiring: +1$" "$OUT" "stats expiring"

# scan honours limit; export does not.
run scan --db "$db" '{"kinds":[1],"limit":7}'
expect_rc 0 "scan with limit"
expect_eq "$(wc -l <"$OUT" | tr -d ' ')" 7 "scan limit 7"
run scan --db "$db" '{"limit":0}'
expect_rc 0 "scan limit 0"
[ -s "$OUT" ] && fail "scan limit 0 returned events"
run export --db "$db" '{"kinds":[1],"limit":7}'
cp "$OUT" "$TMP_DIR/export"
run count --db "$db" '{"kinds":[1]}'
expect_eq "$(wc -l <"$TMP_DIR/export" | tr -d ' ')" "$(cat "$OUT")" "export ignores limit"

# count == number of scan lines, for single filters and arrays of them.
for f in '{}' '{"kinds":[1]}' '{"kinds":[0,3]}' '{"#t":["nostr"]}' \
	'[{"kinds":[0]},{"kinds":[3]}]' '[{"kinds":[1]},{"#t":["nostr"]}]' \
	'{"kinds":[7],"since":1710005000}' '{"authors":["0000000000000000000000000000000000000000000000000000000000000000"]}'; do
	run scan --db "$db" "$f"
	expect_rc 0 "scan $f"
	lines=$(wc -l <"$OUT" | tr -d ' ')
	expect_eq "$(ids "$OUT" | sort -u | wc -l | tr -d ' ')" "$lines" "scan $f: each event once"
	run count --db "$db" "$f"
	expect_rc 0 "count $f"
	expect_file_eq "$OUT" "$lines" "count $f == scan lines"
done

# Newest first: created_at never increases down the output.
run scan --db "$db" '{}'
sed 's/.*"created_at":\([0-9]*\),.*/\1/' "$OUT" >"$TMP_DIR/times"
sort -rn "$TMP_DIR/times" | cmp -s - "$TMP_DIR/times" || fail "scan is not newest first"

# delete --dry-run changes nothing; delete removes exactly those events.
n7=$(cat "$OUT" | grep -c '"kind":7,' || true)
run delete --db "$db" '{"kinds":[7]}' --dry-run
expect_rc 0 "delete --dry-run"
expect_file_eq "$OUT" "would delete $n7 events" "dry-run message"
run count --db "$db" '{}'
expect_file_eq "$OUT" "$total" "dry run deleted nothing"
run delete --db "$db" '{"kinds":[7]}'
expect_rc 0 "delete"
expect_file_eq "$OUT" "deleted $n7 events" "delete message"
run count --db "$db" '{"kinds":[7]}'
expect_file_eq "$OUT" 0 "kind 7 gone"
run count --db "$db" '{}'
expect_file_eq "$OUT" "$((total - n7))" "other events kept"
run delete --db "$db" '{"kinds":[7]}'
expect_file_eq "$OUT" "deleted 0 events" "second delete"
# An operator's delete leaves no tombstone: the events can come back.
grep '"kind":7,' "$SAMPLE" >"$TMP_DIR/k7"
run_in "$TMP_DIR/k7" import --db "$db"
run count --db "$db" '{"kinds":[7]}'
expect_file_eq "$OUT" "$n7" "deleted events can be imported again"
# One event by id: singular message.
run scan --db "$db" '{"limit":1}'
id=$(ids "$OUT")
run delete --db "$db" "{\"ids\":[\"$id\"]}"
expect_file_eq "$OUT" "deleted 1 event" "delete one"

# stats.
run stats --db "$db"
expect_rc 0 "stats"
expect_grep "^format_version: +2$" "$OUT" "stats format version"
expect_grep "^events: +$((total - 1))$" "$OUT" "stats events"
expect_grep "^store: +$db$" "$OUT" "stats store"
expect_grep "^oldest: +[0-9]+ \([0-9]{4}-[0-9]{2}-[0-9]{2}T" "$OUT" "stats oldest"
expect_grep "^tombstones: +[1-9]" "$OUT" "stats tombstones"
run stats --db "$db" --json
expect_rc 0 "stats --json"
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (s.events !== Number(process.argv[2]) || s.format_version !== 2) process.exit(1);
' "$OUT" "$((total - 1))" || fail "stats --json: $(cat "$OUT")"

# An empty store.
"$TERN" import --db "$TMP_DIR/empty" </dev/null 2>/dev/null
run stats --db "$TMP_DIR/empty"
expect_rc 0 "stats on an empty store"
expect_grep "^events: +0$" "$OUT" "empty store events"
expect_grep "^oldest: +0 \(-\)$" "$OUT" "empty store oldest"
run export --db "$TMP_DIR/empty"
expect_rc 0 "export of an empty store"
[ -s "$OUT" ] && fail "export of an empty store printed something"

finish
