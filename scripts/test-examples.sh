#!/bin/bash
# Runs the example relays (examples/*.c) and checks what each one is for,
# with a real Nostr client (tests/examples/*.mjs: node + nostr-tools), then
# checks that the installed library builds an example out of tree with
# pkg-config.
#
#     scripts/test-examples.sh [NAME...]     (default: every example, then
#                                            the out-of-tree build)
#
# Builds no example: they come from $EXAMPLES (default build/examples, made
# by `make examples`; point it at a sanitizer build to run those). $TERN
# (default build/tern) is used for its offline `scan` tool. The out-of-tree
# check runs `make install PREFIX=<tmp>` and the system C compiler.
# Each example runs on a free 127.0.0.1 port with its own temporary
# directory, and is stopped by its PID with SIGTERM (it must then exit 0,
# and its stderr must hold no sanitizer report).
# Ends with "examples: N passed, N failed"; exits 1 if anything failed.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)

: "${EXAMPLES:=build/examples}"
: "${TERN:=build/tern}"
case $EXAMPLES in /*) ;; *) EXAMPLES=$ROOT/$EXAMPLES ;; esac
case $TERN in /*) ;; *) TERN=$ROOT/$TERN ;; esac
export TERN

POW_BITS=12
passed=0
failed=0
CUR_PID=

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tern-examples.XXXXXX")
cleanup() {
	# Only the example still running, if any (its PID is cleared once
	# it has been waited for).
	[ -z "$CUR_PID" ] || kill -KILL "$CUR_PID" 2>/dev/null
	[ -n "${TERN_KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }

if ! command -v node >/dev/null 2>&1; then
	echo "test-examples: node is not installed" >&2
	exit 2
fi
if [ ! -d tests/integration/node_modules ]; then
	(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error) || exit 2
fi

# A TCP port that was free a moment ago on 127.0.0.1.
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# start NAME ARGS...: starts $EXAMPLES/NAME PORT DIR/db ARGS... (memstore:
# PORT ARGS...), in DIR, and waits
# until it accepts connections. Sets PID, PORT, URL, DIR, LOG.
# Returns non-zero (with the log shown) if it does not come up.
start() {
	local name=$1 bin=$EXAMPLES/$1
	shift
	if [ ! -x "$bin" ]; then
		echo "  $bin is not built (make examples)"
		return 1
	fi
	DIR=$(mktemp -d "$TMP/$name.XXXXXX")
	mkdir -p "$DIR/db"
	LOG=$DIR/stderr.log
	# A port can be taken between free_port and bind: try another one.
	for _ in 1 2 3; do
		PORT=$(free_port)
		URL=ws://127.0.0.1:$PORT
		# From DIR: a relative store path (the default ./tern-db)
		# lands there. memstore takes no store directory.
		if [ "$name" = memstore ]; then
			(cd "$DIR" && exec "$bin" "$PORT" "$@") 2>>"$LOG" >/dev/null &
		else
			(cd "$DIR" && exec "$bin" "$PORT" "$DIR/db" "$@") 2>>"$LOG" >/dev/null &
		fi
		PID=$!
		CUR_PID=$PID
		for _ in $(seq 1 150); do
			if ! kill -0 "$PID" 2>/dev/null; then
				break
			fi
			if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
				return 0
			fi
			sleep 0.1
		done
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
		CUR_PID=
	done
	echo "  $name did not start:"
	sed 's/^/    /' "$LOG" | tail -20
	return 1
}

# stop NAME: SIGTERM to $PID, SIGKILL after 15 s. Fails unless it exits 0
# with no sanitizer report in its stderr.
stop() {
	local name=$1 rc
	kill -TERM "$PID" 2>/dev/null
	for _ in $(seq 1 150); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$PID" 2>/dev/null; then
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
		CUR_PID=
		echo "  $name did not stop within 15 s of SIGTERM"
		return 1
	fi
	wait "$PID"
	rc=$?
	CUR_PID=
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"; then
		echo "  $name: sanitizer report:"
		grep -m1 -A30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG" | sed 's/^/    /'
		return 1
	fi
	if [ "$rc" -ne 0 ]; then
		echo "  $name exited $rc after SIGTERM:"
		sed 's/^/    /' "$LOG" | tail -20
		return 1
	fi
	return 0
}

check() { node "tests/examples/$1.mjs" "${@:2}" 2>&1 | sed 's/^/  /'; return "${PIPESTATUS[0]}"; }

# run_example NAME: start, check over the wire, stop, check what is left.
run_example() {
	local name=$1 ok=true member pk
	case $name in
	minimal | memstore | router)
		start "$name" || { fail "$name" "start"; return; } ;;
	private)
		read -r member pk < <(node tests/examples/keys.mjs)
		start private "$pk" || { fail private "start"; return; } ;;
	community)
		start community "$POW_BITS" || { fail community "start"; return; } ;;
	*)
		fail "$name" "no check for this example (tests/examples/$name.mjs)"
		return ;;
	esac
	case $name in
	minimal) check minimal "$URL" || ok=false ;;
	memstore) check memstore "$URL" || ok=false ;;
	private) check private "$URL" "$member" || ok=false ;;
	community) check community "$URL" "$POW_BITS" || ok=false ;;
	router) check router "$URL" "$DIR/ids.json" || ok=false ;;
	esac
	stop "$name" || ok=false
	if $ok; then
		case $name in
		memstore) check memstore --after "$DIR" || ok=false ;;
		router) check router --after "$DIR/db" "$DIR/ids.json" || ok=false ;;
		esac
	fi
	if $ok; then pass "$name"; else fail "$name"; fi
}

# The installed library and tern.pc build examples/minimal.c out of tree,
# and the result runs.
out_of_tree() {
	local prefix=$TMP/prefix pc cflags libs rc
	if ! make --no-print-directory install PREFIX="$prefix" >"$TMP/install.log" 2>&1; then
		echo "  make install PREFIX=$prefix failed:"
		tail -20 "$TMP/install.log" | sed 's/^/    /'
		fail out-of-tree "make install"
		return
	fi
	pc=$prefix/lib/pkgconfig
	if ! grep -qx "prefix=$prefix" "$pc/tern.pc"; then
		echo "  $pc/tern.pc does not name the install prefix:"
		sed 's/^/    /' "$pc/tern.pc"
	fi
	if ! cflags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags tern) ||
	   ! libs=$(PKG_CONFIG_PATH=$pc pkg-config --libs --static tern); then
		fail out-of-tree "pkg-config tern"
		return
	fi
	# shellcheck disable=SC2086 # pkg-config output is a word list
	if ! cc -std=c11 -Wall -Wextra -Werror $cflags examples/minimal.c \
	     -o "$TMP/minimal" $libs >"$TMP/cc.log" 2>&1; then
		echo "  cc \$(pkg-config --cflags --libs --static tern) examples/minimal.c failed:"
		echo "    cflags: $cflags"
		echo "    libs:   $libs"
		head -20 "$TMP/cc.log" | sed 's/^/    /'
		fail out-of-tree "link"
		return
	fi
	# Without arguments it prints its usage and exits 2 (a shared
	# libtern is found through LD_LIBRARY_PATH).
	LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
		"$TMP/minimal" >"$TMP/run.log" 2>&1
	rc=$?
	if [ "$rc" -ne 2 ]; then
		echo "  the out-of-tree minimal exited $rc instead of 2 (usage):"
		head -5 "$TMP/run.log" | sed 's/^/    /'
		fail out-of-tree "run"
		return
	fi
	pass out-of-tree
}

if [ $# -eq 0 ]; then
	for f in examples/*.c; do
		set -- "$@" "$(basename "$f" .c)"
	done
	set -- "$@" out-of-tree
fi
for name in "$@"; do
	if [ "$name" = out-of-tree ]; then
		out_of_tree
	else
		run_example "$name"
	fi
done

echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
