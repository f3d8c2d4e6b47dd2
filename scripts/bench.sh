#!/usr/bin/env bash
# tern benchmarks (`make bench` builds build/tern and build/bench/bench_*, then
# runs this). Prints each figure as a ratio to this machine's limit and
# whether the target of issue 2 is met. See bench/README.md.
#
# Environment:
#   BENCH_EVENTS   events in the import file (default 100000)
#   BENCH_SECONDS  seconds per raw verify measurement (default 2)
#   BENCH_DIR      scratch directory (default build/bench)
#   BENCH_TERN     the tern binary (default build/tern)
#   BENCH_BIN      directory of bench_verify and bench_event (default
#                  build/bench): to compare two builds in one sitting
set -euo pipefail

cd "$(dirname "$0")/.."
N=${BENCH_EVENTS:-100000}
SECS=${BENCH_SECONDS:-2}
B=${BENCH_DIR:-build/bench}
TERN=${BENCH_TERN:-build/tern}
BIN=${BENCH_BIN:-build/bench}
TIME=/usr/bin/time
if [ "$N" = 100000 ]; then EVENTS=$B/events-100k.jsonl; else EVENTS=$B/events-$N.jsonl; fi
DB=$B/db

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$TERN" ] || die "$TERN is missing: run 'make bench'"
for b in bench_verify bench_event; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make bench'"
done
[ -x "$TIME" ] || die "$TIME is missing (Debian package 'time')"
mkdir -p "$B"

# Wall time of a command in seconds, from bash's microsecond clock.
now() { echo "${EPOCHREALTIME/[.,]/}"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b - a) / 1e6 }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo NO; fi; }

# (1) the signed events, generated once with nostr-tools.
if [ ! -s "$EVENTS" ]; then
	command -v node >/dev/null || die "node is needed once to generate $EVENTS (Debian: nodejs npm)"
	if [ ! -d tests/vectors/node_modules ]; then
		echo "bench: installing tests/vectors dependencies (npm ci)"
		(cd tests/vectors && npm ci --no-audit --no-fund --silent)
	fi
	echo "bench: generating $N signed events into $EVENTS (one time, about a minute)"
	node tests/vectors/gen-events.mjs "$N" "$EVENTS.tmp"
	mv "$EVENTS.tmp" "$EVENTS"
fi
LINES=$(wc -l < "$EVENTS")

# (2) the limit: raw BIP-340 verify, one thread and all online cores.
echo "bench: raw BIP-340 verify (${SECS} s per measurement)"
"$BIN/bench_verify" "$SECS" | tee "$B/verify.txt"
V1=$(val verify_1t_per_s "$B/verify.txt")
VALL=$(val verify_all_per_s "$B/verify.txt")
VTHREADS=$(val verify_threads "$B/verify.txt")

# (3) tern's event path vs raw verify of the same events, one thread.
echo "bench: parse + id + verify per event vs raw verify"
"$BIN/bench_event" "$EVENTS" | tee "$B/event.txt"
EV_FULL=$(val event_full_us "$B/event.txt")
EV_RAW=$(val raw_verify_us "$B/event.txt")
EV_RATIO=$(val event_ratio "$B/event.txt")

# (4) tern import of the whole file into a fresh store.
echo "bench: tern import of $LINES events"
rm -rf "$DB"
# Peak RSS from time(1) counts the LMDB pages mapped from the data file too;
# the anonymous (heap) part is sampled from /proc while the import runs.
t0=$(now)
"$TIME" -f '%e %M %U %S' -o "$B/import.time" "$TERN" import --db "$DB" < "$EVENTS" 2> "$B/import.log" &
tpid=$!
pid=""
ANON_KB=0
while kill -0 "$tpid" 2> /dev/null; do
	[ -n "$pid" ] || pid=$(pgrep -P "$tpid" || true)
	if [ -n "$pid" ]; then
		a=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2> /dev/null || true)
		if [ -n "$a" ] && [ "$a" -gt "$ANON_KB" ]; then ANON_KB=$a; fi
	fi
	sleep 0.05
done
if ! wait "$tpid"; then
	cat "$B/import.log" >&2
	die "tern import failed"
fi
t1=$(now)
tail -n 3 "$B/import.log"
IMP_S=$(secs "$t0" "$t1")
IMP_RSS_KB=$(awk '{ print $2 }' "$B/import.time")
# CPU time (user + sys) per event: unlike the rate, it hardly depends on
# other load. Raw verify CPU per event / import CPU per event is the ratio
# the import would reach with every core to itself (the one-thread verify
# rate is the least skewed by other load).
IMP_CPU_US=$(awk -v n="$LINES" '{ printf "%.1f", ($3 + $4) * 1e6 / n }' "$B/import.time")
IMP_CPU_RATIO=$(calc '%.3f' "1000000 / $V1 / $IMP_CPU_US")
IMP_RATE=$(calc '%.0f' "$LINES / $IMP_S")
IMP_RATIO=$(calc '%.3f' "$IMP_RATE / $VALL")
IMP_RSS=$(calc '%.1f' "$IMP_RSS_KB / 1024")
IMP_ANON=$(calc '%.1f' "$ANON_KB / 1024")
DB_MIB=$(du -sm "$DB" | awk '{ print $1 }')
STORED=$("$TERN" count --db "$DB" '{}')

# (5) tern scan '{}' over the store (best of 3 runs, output discarded).
best_of_3() { # command... ; prints the best wall time in seconds
	local best="" t0 t1 s
	for _ in 1 2 3; do
		t0=$(now)
		"$@" > /dev/null
		t1=$(now)
		s=$(secs "$t0" "$t1")
		if [ -z "$best" ] || awk "BEGIN { exit !($s < $best) }"; then best=$s; fi
	done
	echo "$best"
}
echo "bench: tern scan '{}' over $STORED events"
SCAN_S=$(best_of_3 "$TERN" scan --db "$DB" '{}')
SCAN_OUT=$("$TERN" scan --db "$DB" '{}' | wc -l)
[ "$SCAN_OUT" = "$STORED" ] || echo "bench: warning: scan returned $SCAN_OUT events, count says $STORED" >&2
SCAN_RATE=$(calc '%.0f' "$SCAN_OUT / $SCAN_S")
"$TIME" -f '%e %M' -o "$B/scan.time" "$TERN" scan --db "$DB" '{}' > /dev/null
SCAN_RSS=$(awk '{ printf "%.1f", $2 / 1024 }' "$B/scan.time")

# (6) tern count of a single-index filter.
F='{"kinds":[1]}'
echo "bench: tern count '$F'"
COUNT=$("$TERN" count --db "$DB" "$F")
COUNT_S=$(best_of_3 "$TERN" count --db "$DB" "$F")
COUNT_RATE=$(calc '%.0f' "$COUNT / $COUNT_S")
CALL=$(calc '%.0f' "$STORED / $(best_of_3 "$TERN" count --db "$DB" '{}')")
# Process start-up and store open, for reading the figures above.
NOOP_S=$(best_of_3 "$TERN" count --db "$DB" '{"ids":["0000000000000000000000000000000000000000000000000000000000000000"]}')

echo
echo "== tern benchmarks: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
	"$(date -u +%Y-%m-%dT%H:%MZ) =="
echo "(ratios compare figures of this one run; other load on the machine skews them)"
printf '%-44s %14s %10s %8s\n' "figure" "value" "ratio" "target"
printf '%-44s %14s\n' "raw verify, 1 thread (events/s)" "$V1"
printf '%-44s %14s\n' "raw verify, $VTHREADS threads (events/s)  = limit" "$VALL"
printf '%-44s %14s %10s %8s\n' "parse+id+verify (µs/event) vs raw $EV_RAW µs" "$EV_FULL" "$EV_RATIO" \
	"<=1.05 $(verdict "$EV_RATIO <= 1.05")"
printf '%-44s %14s %10s %8s\n' "import $LINES events (events/s) vs limit" "$IMP_RATE" "$IMP_RATIO" \
	">=0.85 $(verdict "$IMP_RATIO >= 0.85")"
printf '%-44s %14s %10s %8s\n' "import CPU (µs/event) vs raw verify CPU" "$IMP_CPU_US" "$IMP_CPU_RATIO" "(>=0.85)"
printf '%-44s %14s %10s %8s\n' "import peak RSS, with mapped store (MiB)" "$IMP_RSS" "" "<=64 $(verdict "$IMP_RSS <= 64")"
printf '%-44s %14s %10s %8s\n' "import peak anonymous RSS, sampled (MiB)" "$IMP_ANON" "" "<=64 $(verdict "$IMP_ANON <= 64")"
printf '%-44s %14s\n' "store size after import (MiB)" "$DB_MIB"
printf '%-44s %14s %10s %8s\n' "scan '{}' of $SCAN_OUT events (events/s)" "$SCAN_RATE" \
	"$(calc '%.2f' "$SCAN_RATE / 1000000")" ">=1M $(verdict "$SCAN_RATE >= 1000000")"
printf '%-44s %14s\n' "scan '{}' peak RSS (MiB)" "$SCAN_RSS"
printf '%-44s %14s\n' "count $F = $COUNT (ms)" "$(calc '%.1f' "$COUNT_S * 1000")"
printf '%-44s %14s\n' "count $F (events/s)" "$COUNT_RATE"
printf '%-44s %14s\n' "count '{}' (events/s)" "$CALL"
printf '%-44s %14s\n' "start-up + open + empty count (ms)" "$(calc '%.1f' "$NOOP_S * 1000")"
printf '%-44s %14s\n' "stored after import" "$STORED"
