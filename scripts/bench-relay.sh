#!/usr/bin/env bash
# End-to-end relay benchmarks: starts `tern serve` on a free loopback port
# with a fresh store and a generated config, drives it with
# build/bench/bench_relay (ingest, REQ, fan-out, idle connections), stops
# it by PID and prints each figure, its target and whether it is met.
# Last, build/bench/bench_hooks measures the hook machinery per event
# (no relay process) and its lines join the table.
# See bench/README.md ("Relay benchmarks").
#
# Environment (defaults in brackets):
#   RELAY_INGEST_EVENTS [20000]  RELAY_INGEST_CONNS [8]  RELAY_INGEST_WINDOW [64]
#   RELAY_REQ_SECONDS [5]        RELAY_REQ_CONNS [16]    RELAY_REQ_LIMIT [20]
#   RELAY_FANOUT_SUBS [1000]     RELAY_FANOUT_RATE [1000] RELAY_FANOUT_EVENTS [5000]
#   RELAY_IDLE_CONNS [10000]     RELAY_IDLE_BATCH [500]
#   RELAY_EVENTS  event file for the REQ store [build/bench/events-100k.jsonl;
#                 generated with `bench_relay gen 100000` when missing]
#   BENCH_SECONDS seconds per raw verify measurement [1]
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
TERN=build/tern
BR=build/bench/bench_relay
BV=build/bench/bench_verify
BH=build/bench/bench_hooks
EVENTS=${RELAY_EVENTS:-build/bench/events-100k.jsonl}
ING_N=${RELAY_INGEST_EVENTS:-20000}
ING_C=${RELAY_INGEST_CONNS:-8}
ING_W=${RELAY_INGEST_WINDOW:-64}
REQ_S=${RELAY_REQ_SECONDS:-5}
REQ_C=${RELAY_REQ_CONNS:-16}
REQ_L=${RELAY_REQ_LIMIT:-20}
FAN_S=${RELAY_FANOUT_SUBS:-1000}
FAN_R=${RELAY_FANOUT_RATE:-1000}
FAN_N=${RELAY_FANOUT_EVENTS:-5000}
IDLE_N=${RELAY_IDLE_CONNS:-10000}
IDLE_B=${RELAY_IDLE_BATCH:-500}
VSECS=${BENCH_SECONDS:-1}

die() { echo "bench-relay: $*" >&2; exit 1; }
for b in "$TERN" "$BR" "$BV"; do
	[ -x "$b" ] || die "$b is missing: run 'make $b'"
done
"$TERN" serve --help > /dev/null 2>&1 || die "$TERN has no 'serve' command"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-relay.XXXXXX")
SPID=""
stop_server() {
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2> /dev/null
	for _ in $(seq 100); do
		kill -0 "$SPID" 2> /dev/null || break
		sleep 0.1
	done
	if kill -0 "$SPID" 2> /dev/null; then
		echo "bench-relay: relay $SPID ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$SPID" 2> /dev/null
	fi
	wait "$SPID" 2> /dev/null
	local rc=$?
	[ "$rc" = 0 ] || echo "bench-relay: relay exited with status $rc (log: $LOG)" >&2
	SPID=""
}
trap 'stop_server; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# The server gets the hard open-file limit: 10,000 idle connections need
# more descriptors than the usual soft limit of 1024.
NOFILE_HARD=$(ulimit -Hn)
if [ "$NOFILE_HARD" != unlimited ] && [ "$NOFILE_HARD" -lt $((IDLE_N + 100)) ]; then
	echo "bench-relay: warning: open-file hard limit $NOFILE_HARD < $((IDLE_N + 100))" \
		"needed by the idle scenario" >&2
fi

# start_server NAME DB: a relay on a free port; sets PORT, SPID, LOG.
start_server() {
	local name=$1 db=$2 conf=$WORK/$1.conf
	PORT=$("$BR" port) || die "no free port"
	LOG=$WORK/$name.log
	cat > "$conf" <<-EOF
		relay = {
			bind = "127.0.0.1";
			port = $PORT;
			log_level = "warn";
			shutdown_grace = 5;
		};
		store = { dir = "$db"; };
	EOF
	(ulimit -n "$NOFILE_HARD" && exec "$TERN" serve --config "$conf") > "$LOG" 2>&1 &
	SPID=$!
	for _ in $(seq 100); do
		if ! kill -0 "$SPID" 2> /dev/null; then
			cat "$LOG" >&2
			die "the relay did not start"
		fi
		(exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && return 0
		sleep 0.05
	done
	die "the relay does not accept connections on port $PORT"
}

RES=$WORK/results.txt
: > "$RES"
# scenario NAME ARGS...: runs bench_relay, keeps its "name value" lines.
scenario() {
	local name=$1
	shift
	echo "bench-relay: $name"
	timeout 180 "$BR" "$name" --port "$PORT" --pid "$SPID" "$@" | tee -a "$RES"
	local rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || echo "bench-relay: $name exited with status $rc" >&2
}
val() { awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? "-" : v) }' "$RES"; }
calc() { awk "BEGIN { printf \"$1\", $2 }" 2> /dev/null || echo -; }
verdict() { # "<figure> <op> <target>": yes/no, "-" when no figure
	case $1 in -*) echo "-"; return ;; esac
	if awk "BEGIN { exit !($1) }"; then echo yes; else echo no; fi
}

T0=$SECONDS

# The limit: raw BIP-340 verify on this machine, measured just before and
# just after the ingest scenario (the mean is the reference).
verify() {
	echo "bench-relay: raw BIP-340 verify"
	"$BV" "$VSECS" | sed "s/^/$1/" | tee -a "$RES"
}
verify before_

# (1) ingest into an empty store.
start_server ingest "$WORK/db-ingest"
scenario ingest --events "$ING_N" --conns "$ING_C" --window "$ING_W"
stop_server
verify after_
V1=$(awk '$1 ~ /_verify_1t_us$/ { s += $2; n++ } END { if (n) printf "%.2f", s / n; else print "-" }' "$RES")
echo "verify_1t_us $V1" | tee -a "$RES"

# (2) REQ over a 100k-event store, then (3) fan-out on the same relay.
if [ ! -s "$EVENTS" ]; then
	EVENTS=$WORK/events.jsonl
	echo "bench-relay: generating 100000 signed events"
	"$BR" gen 100000 > "$EVENTS" || die "event generation failed"
fi
echo "bench-relay: preloading $(wc -l < "$EVENTS") events from $EVENTS"
# The file's events are signed; --no-verify only shortens the preload.
"$TERN" import --no-verify --db "$WORK/db-req" < "$EVENTS" > /dev/null 2> "$WORK/import.log" ||
	{ cat "$WORK/import.log" >&2; die "tern import failed"; }
echo "req_store_events $("$TERN" count --db "$WORK/db-req" '{}')" | tee -a "$RES"
start_server req "$WORK/db-req"
scenario req --file "$EVENTS" --conns "$REQ_C" --seconds "$REQ_S" --limit "$REQ_L"
scenario fanout --subs "$FAN_S" --rate "$FAN_R" --events "$FAN_N" --batch 250
stop_server

# (4) idle connections on a fresh relay, so earlier traffic's memory
# does not hide the per-connection cost.
start_server idle "$WORK/db-idle"
scenario idle --conns "$IDLE_N" --batch "$IDLE_B"
stop_server

# (5) the hook machinery on the EVENT and fan-out paths with 0, 1 and 5
# trivial hooks, against the raw verify of the same run (in process).
if [ -x "$BH" ]; then
	echo "bench-relay: hook machinery"
	"$BH" | tee -a "$RES"
else
	echo "bench-relay: $BH is missing: hook figures skipped (make $BH)" >&2
fi

ING_US=$(val ingest_relay_cpu_us_per_event)
ING_RATIO=$(calc '%.2f' "$ING_US / $V1")
echo "ingest_cpu_ratio $ING_RATIO" | tee -a "$RES"
REQ_RATE=$(val req_per_s)
REQ_P50=$(val req_p50_ms)
REQ_P99=$(val req_p99_ms)
FAN_RATE=$(val fanout_deliveries_per_s)
FAN_P50=$(val fanout_p50_ms)
FAN_P99=$(val fanout_p99_ms)
IDLE_KIB=$(val idle_rss_per_conn_kib)
FAN_DONE=$(verdict "$(val fanout_deliveries) >= $(val fanout_deliveries_expected)")
[ "$(val fanout_deliveries)" != - ] || FAN_DONE=no

Y1=$(verdict "$ING_RATIO <= 1.3")
Y2=$(verdict "$REQ_RATE >= 10000")
Y3=$(verdict "$REQ_P99 <= 10")
Y4=$(verdict "$FAN_RATE >= 500000")
[ "$FAN_DONE" = yes ] || Y4=no
Y5=$(verdict "$FAN_P99 <= 50")
Y6=$(verdict "$IDLE_KIB <= 4")
{
	echo "target_ingest_cpu_ratio $Y1"
	echo "target_req_per_s $Y2"
	echo "target_req_p99 $Y3"
	echo "target_fanout_deliveries_per_s $Y4"
	echo "target_fanout_p99 $Y5"
	echo "target_idle_rss_per_conn $Y6"
} | tee -a "$RES"

echo
echo "== tern relay benchmarks: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
	"$(date -u +%Y-%m-%dT%H:%MZ), $((SECONDS - T0)) s =="
echo "(relay and load generator share the machine; figures are from one run)"
row() { printf '%-58s %16s %10s %4s\n' "$@"; }
row "figure" "value" "target" "met"
row "raw verify, 1 thread (us/event; before / after ingest)" \
	"$(val before_verify_1t_us) / $(val after_verify_1t_us)" "" ""
row "ingest $ING_N events, $ING_C conns x $ING_W in flight (events/s)" \
	"$(val ingest_events_per_s)" "" ""
row "ingest relay CPU per stored event (us)" "$ING_US" "" ""
row "  ... / raw verify ($V1 us, the mean)" "$ING_RATIO" "<= 1.3" "$Y1"
row "REQ->EOSE->CLOSE, $REQ_C conns, $(val req_store_events) stored (REQ/s)" "$REQ_RATE" ">= 10000" "$Y2"
row "REQ latency p50 / p99 (ms)" "$REQ_P50 / $REQ_P99" "p99 <= 10" "$Y3"
row "fan-out to $FAN_S subs at $FAN_R events/s (deliveries/s)" "$FAN_RATE" ">= 500000" "$Y4"
row "fan-out publish-to-delivery p50 / p99 (ms)" "$FAN_P50 / $FAN_P99" "p99 <= 50" "$Y5"
row "idle: relay RSS per connection, $(val idle_conns_open) conns (KiB)" "$IDLE_KIB" "<= 4" "$Y6"
row "relay CPU: ingest / REQ / fan-out (cores)" \
	"$(val ingest_relay_cores) / $(val req_relay_cores) / $(val fanout_relay_cores)" "" ""
row "generator CPU: ingest / REQ / fan-out (cores)" \
	"$(val ingest_client_cores) / $(val req_client_cores) / $(val fanout_client_cores)" "" ""
first() { local v; v=$(val "$1"); echo "${v%%,*}"; }
other() { calc '%.2f' "$(val "$1"_machine_cores) - $(val "$1"_relay_cores) - $(val "$1"_client_cores)"; }
row "other processes on the machine: ingest / REQ / fan-out (cores)" \
	"$(other ingest) / $(other req) / $(other fanout)" "" ""
row "relay's busiest thread: ingest / REQ / fan-out (cores)" \
	"$(first ingest_relay_thread_cores) / $(first req_relay_thread_cores) / $(first fanout_relay_thread_cores)" "" ""
three() { echo "$(val "$1"_0_"$2") / $(val "$1"_1_"$2") / $(val "$1"_5_"$2")"; }
row "hooks, EVENT path, 0 / 1 / 5 PASS hooks (ns per event)" "$(three hooks_event ns)" "" ""
row "  ... / raw verify ($(val hooks_verify_ns) ns)" "$(three hooks_event of_verify)" "" ""
row "hooks, fan-out, 0 / 1 / 5 PASS hooks (ns per delivery)" "$(three hooks_fanout ns)" "" ""
row "  ... / raw verify" "$(three hooks_fanout of_verify)" "" ""
lost=$(awk '$1 ~ /_conn_lost$/ { s += $2 } END { print s + 0 }' "$RES")
[ "$lost" = 0 ] || echo "warning: $lost connection(s) lost during the run (see above)"
if grep -q '_timeout 1$' "$RES"; then echo "warning: a scenario timed out (see above)"; fi
