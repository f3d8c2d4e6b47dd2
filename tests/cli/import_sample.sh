# Importing the signed sample events: exact counts, what the store keeps,
# re-import, export | import round trip, scan/count against the facts the
# independent generator computed (tests/vectors/events-sample.expect.json).
. "$(dirname "$0")/lib.sh"
need_sample

db="$TMP_DIR/db"
nlines=$(wc -l <"$SAMPLE")
stored=$(node -e 'console.log(require(process.argv[1]).stored)' "$EXPECT")
distinct=$(node -e 'console.log(require(process.argv[1]).distinct)' "$EXPECT")
node -e 'for (const id of require(process.argv[1]).stored_ids) console.log(id)' \
	"$EXPECT" >"$TMP_DIR/stored_ids"

run_in "$SAMPLE" import --db "$db"
expect_rc 0 "import of the sample"
[ -s "$OUT" ] && fail "import wrote to stdout"
summary=$(tail -n 1 "$ERR")
# In this input order some events are stored and later replaced or deleted,
# so "stored" counts more than the store finally keeps.
case "$summary" in
"import: $nlines lines: "*" stored, $((nlines - distinct)) duplicate, "*" rejected ("*") in "*" s ("*" events/s)") ;;
*) fail "summary line: $summary" ;;
esac
# The exact figures for the committed sample (its import order is fixed):
# 3 invalid = 1 ephemeral + 2 expired; older versions of replaceable events
# are refused as "duplicate:", events already deleted as "blocked:".
expect_eq "$(echo "$summary" | sed 's/ in [0-9.]* s .*//')" \
	"import: 327 lines: 281 stored, 2 duplicate, 44 rejected (3 invalid, 35 duplicate, 6 blocked)" \
	"summary of the sample import"
s=$(echo "$summary" | sed -n 's/.* lines: \([0-9]*\) stored, \([0-9]*\) duplicate, \([0-9]*\) rejected.*/\1 \2 \3/p')
set -- $s
expect_eq "$(($1 + $2 + $3))" "$nlines" "stored + duplicate + rejected = lines"
[ "$1" -ge "$stored" ] || fail "stored $1 < $stored events kept"
# Every rejection is reported with its line number, before the summary.
expect_eq "$(grep -c '^line [0-9]*: ' "$ERR")" "$3" "one report per rejected line"
expect_grep '^line [0-9]+: invalid: .*expired' "$ERR" "expired events reported"
expect_grep '^line [0-9]+: invalid: .*ephemeral' "$ERR" "ephemeral event reported"
expect_grep '^line [0-9]+: blocked: ' "$ERR" "deleted event reported"
# The summary's breakdown adds up.
sum=0
for n in $(echo "$summary" | sed -n 's/.*rejected (\([^)]*\)).*/\1/p' | tr ',' '\n' | sed 's/^ *\([0-9]*\) .*/\1/'); do
	sum=$((sum + n))
done
expect_eq "$sum" "$3" "breakdown of rejections adds up"

# What the store keeps: exactly the generator's stored ids, in NIP-01 order.
run count --db "$db" '{}'
expect_rc 0 "count {}"
expect_file_eq "$OUT" "$stored" "count {} after import"
run export --db "$db"
expect_rc 0 "export"
cp "$OUT" "$TMP_DIR/export1"
ids "$TMP_DIR/export1" >"$TMP_DIR/export_ids"
cmp -s "$TMP_DIR/export_ids" "$TMP_DIR/stored_ids" || {
	fail "exported ids differ from the expected stored ids"
	diff "$TMP_DIR/stored_ids" "$TMP_DIR/export_ids" | head -20 >&2
}
# Events come back byte-identical to their sample lines (already canonical).
sort "$SAMPLE" >"$TMP_DIR/sample_sorted"
sort "$TMP_DIR/export1" | comm -23 - "$TMP_DIR/sample_sorted" >"$TMP_DIR/changed"
[ -s "$TMP_DIR/changed" ] && fail "exported events are not byte-identical to their input lines"

# Re-import: nothing new.
run_in "$SAMPLE" import --db "$db"
expect_rc 0 "re-import"
case "$(tail -n 1 "$ERR")" in
"import: $nlines lines: 0 stored, "*) ;;
*) fail "re-import stored something: $(tail -n 1 "$ERR")" ;;
esac
set -- $(tail -n 1 "$ERR" | sed -n 's/.* stored, \([0-9]*\) duplicate, \([0-9]*\) rejected.*/\1 \2/p')
[ "$1" -ge "$stored" ] || fail "re-import: $1 duplicates, expected at least $stored"
run count --db "$db" '{}'
expect_file_eq "$OUT" "$stored" "count after re-import"

# Round trip: export | import into a new store gives the same export, with
# every line stored and nothing rejected.
run_in "$TMP_DIR/export1" import --db "$TMP_DIR/db2" --threads 1
expect_rc 0 "import of the export"
expect_file_eq "$ERR" "$(printf 'import: %s lines: %s stored, 0 duplicate, 0 rejected in' "$stored" "$stored")$(tail -n 1 "$ERR" | sed 's/.* rejected in//')" "import of the export summary"
run export --db "$TMP_DIR/db2"
cmp -s "$OUT" "$TMP_DIR/export1" || fail "export | import | export is not identical"

# The same import with other thread counts keeps the same store.
for t in 1 3 8; do
	run_in "$SAMPLE" import --db "$TMP_DIR/db-t$t" --threads "$t"
	expect_rc 0 "import --threads $t"
	expect_eq "$(tail -n 1 "$ERR" | sed 's/ in [0-9.]* s .*//')" "$(echo "$summary" | sed 's/ in [0-9.]* s .*//')" "summary with --threads $t"
	run export --db "$TMP_DIR/db-t$t"
	cmp -s "$OUT" "$TMP_DIR/export1" || fail "import --threads $t stores something else"
done

# Counts and scans the generator computed.
node -e '
const x = require(process.argv[1]);
for (const f of x.filters) console.log(JSON.stringify(f.filter) + "\t" + f.count);
' "$EXPECT" >"$TMP_DIR/counts"
while IFS="$(printf '\t')" read -r f want; do
	run count --db "$db" "$f"
	expect_rc 0 "count $f"
	expect_file_eq "$OUT" "$want" "count $f"
	run export --db "$db" "$f"
	expect_eq "$(wc -l <"$OUT" | tr -d ' ')" "$want" "export $f lines"
done <"$TMP_DIR/counts"

node -e '
const x = require(process.argv[1]);
for (const s of x.scans) console.log(JSON.stringify(s.filter) + "\t" + s.ids.join(","));
' "$EXPECT" >"$TMP_DIR/scans"
while IFS="$(printf '\t')" read -r f want; do
	run scan --db "$db" "$f"
	expect_rc 0 "scan $f"
	expect_eq "$(ids "$OUT" | paste -sd, -)" "$want" "scan $f"
done <"$TMP_DIR/scans"

finish
