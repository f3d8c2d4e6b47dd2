# tern import on hand-made input: bad lines are reported with their line
# numbers and never stop the import; line ends; --no-verify; the report cap.
. "$(dirname "$0")/lib.sh"
need_sample

# Three plain notes from the sample (kind 1, no tags: no store rule applies).
grep '"kind":1,"tags":\[\],' "$SAMPLE" | head -n 3 >"$TMP_DIR/notes"
[ "$(wc -l <"$TMP_DIR/notes")" -eq 3 ] || { fail "sample has no plain notes"; finish; }
n1=$(sed -n 1p "$TMP_DIR/notes")
n2=$(sed -n 2p "$TMP_DIR/notes")
n3=$(sed -n 3p "$TMP_DIR/notes")

# tamper LINE: the same event with one signature byte changed (still hex).
tamper() {
	sig=$(echo "$1" | sed 's/.*"sig":"\([0-9a-f]*\)".*/\1/')
	case "$sig" in
	a*) new="b${sig#?}" ;;
	*) new="a${sig#?}" ;;
	esac
	echo "$1" | sed "s/$sig/$new/"
}
bad=$(tamper "$n2")
# A wrong id: content changed after signing.
badid=$(echo "$n3" | sed 's/"content":"/"content":"x/')

summary() {
	tail -n 1 "$ERR" | sed 's/ in [0-9.]* s ([0-9]* events\/s)$//'
}

# 1: good, 2: bad signature, 3: malformed JSON, 4: blank, 5: wrong id,
# 6: not an object, 7: good (CRLF), 8: blank with CR, 9: good, no newline.
{
	printf '%s\n' "$n1" "$bad" '{"id":' '' "$badid" '[1,2,3]'
	printf '%s\r\n' "$n2"
	printf '\r\n'
	printf '%s' "$n3"
} >"$TMP_DIR/in1"
run_in "$TMP_DIR/in1" import --db "$TMP_DIR/db"
expect_rc 0 "import with bad lines"
expect_eq "$(summary)" "import: 7 lines: 3 stored, 0 duplicate, 4 rejected (4 invalid)" "summary"
expect_eq "$(sed -n 1p "$ERR")" "line 2: invalid: bad signature" "bad signature report"
expect_grep '^line 3: invalid: .+' "$ERR" "malformed JSON report"
expect_grep '^line 5: invalid: event id does not match' "$ERR" "wrong id report"
expect_grep '^line 6: invalid: .+' "$ERR" "non-object report"
expect_eq "$(grep -c '^line ' "$ERR")" 4 "exactly the bad lines reported"
expect_eq "$(wc -l <"$ERR" | tr -d ' ')" 5 "reports + summary on stderr"
run count --db "$TMP_DIR/db" '{}'
expect_file_eq "$OUT" 3 "three events stored"

# Nothing but blank lines, and an empty input.
printf '\n\n  \n\r\n' >"$TMP_DIR/blank"
run_in "$TMP_DIR/blank" import --db "$TMP_DIR/db"
expect_rc 0 "blank input"
expect_eq "$(summary)" "import: 0 lines: 0 stored, 0 duplicate, 0 rejected" "blank input summary"
run_in /dev/null import --db "$TMP_DIR/db-empty"
expect_rc 0 "empty input"
expect_eq "$(summary)" "import: 0 lines: 0 stored, 0 duplicate, 0 rejected" "empty input summary"
run count --db "$TMP_DIR/db-empty" '{}'
expect_rc 0 "import of nothing creates an empty store"
expect_file_eq "$OUT" 0 "empty store count"

# --no-verify accepts a bad signature (the id is still checked).
printf '%s\n%s\n' "$bad" "$badid" >"$TMP_DIR/in2"
run_in "$TMP_DIR/in2" import --db "$TMP_DIR/db-nv" --no-verify
expect_rc 0 "--no-verify"
expect_eq "$(summary)" "import: 2 lines: 1 stored, 0 duplicate, 1 rejected (1 invalid)" "--no-verify summary"
expect_eq "$(sed -n 1p "$ERR")" "line 2: invalid: event id does not match" "--no-verify still checks ids"
run_in "$TMP_DIR/in2" import --db "$TMP_DIR/db-v"
expect_eq "$(summary)" "import: 2 lines: 0 stored, 0 duplicate, 2 rejected (2 invalid)" "same lines verified"

# A line longer than the event limit (256 KiB) is rejected without being
# buffered; the lines around it still count.
{
	printf '%s\n' "$n1"
	printf '{"content":"'
	head -c 300000 /dev/zero | tr '\0' 'a'
	printf '"}\n'
	printf '%s\n' "$n2"
	head -c 2000000 /dev/zero | tr '\0' 'b'
} >"$TMP_DIR/long"
run_in "$TMP_DIR/long" import --db "$TMP_DIR/db-long"
expect_rc 0 "overlong lines"
expect_eq "$(summary)" "import: 4 lines: 2 stored, 0 duplicate, 2 rejected (2 invalid)" "overlong lines summary"
expect_eq "$(sed -n 1p "$ERR")" "line 2: invalid: line longer than 262144 bytes" "overlong line report"
expect_eq "$(sed -n 2p "$ERR")" "line 4: invalid: line longer than 262144 bytes" "overlong last line report"

# Reports are capped at 100 lines; the rest is summed up. Duplicates within
# one input are counted, not reported.
{
	i=0
	while [ $i -lt 150 ]; do
		echo '{"kind":1}'
		i=$((i + 1))
	done
	printf '%s\n%s\n%s\n' "$n1" "$n1" "$n1"
} >"$TMP_DIR/many"
run_in "$TMP_DIR/many" import --db "$TMP_DIR/db-many"
expect_rc 0 "many bad lines"
expect_eq "$(grep -c '^line ' "$ERR")" 100 "reports capped at 100"
expect_eq "$(sed -n 100p "$ERR" | cut -d: -f1)" "line 100" "reports in line order"
expect_eq "$(sed -n 101p "$ERR")" "... 50 more rejected lines" "cap message"
expect_eq "$(summary)" "import: 153 lines: 1 stored, 2 duplicate, 150 rejected (150 invalid)" "many bad lines summary"

# The store's own rejections carry the line number too: a deleted event.
grep '"content":"deleted before it arrived"' "$SAMPLE" >"$TMP_DIR/late"
grep '"content":"tombstone"' "$SAMPLE" >"$TMP_DIR/tomb"
if [ -s "$TMP_DIR/late" ] && [ -s "$TMP_DIR/tomb" ]; then
	{ printf '\n'; cat "$TMP_DIR/tomb" "$TMP_DIR/late"; } >"$TMP_DIR/in3"
	run_in "$TMP_DIR/in3" import --db "$TMP_DIR/db-del"
	expect_rc 0 "tombstone import"
	expect_grep '^line 3: blocked: ' "$ERR" "deleted event reported by line"
	expect_eq "$(summary)" "import: 2 lines: 1 stored, 0 duplicate, 1 rejected (1 blocked)" "tombstone summary"
else
	fail "sample lacks the tombstone pair"
fi

# Progress goes to a terminal only: none of the output above has a \r.
grep -q "$(printf '\r')" "$ERR" && fail "progress written to a non-terminal"

finish
