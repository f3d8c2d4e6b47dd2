#!/bin/sh
# Runs the integration tests (tests/integration/*.test.mjs, node --test)
# against a tern binary: TERN=path (default build/tern). Builds nothing.
# Installs the pinned npm packages with `npm ci` when node_modules is
# missing. Extra arguments are passed to node --test (for example a single
# test file, or --test-name-pattern=...). Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
: "${TERN:=build/tern}"
case $TERN in
/*) ;;
*) TERN=$(pwd)/$TERN ;;
esac
export TERN
if [ ! -x "$TERN" ]; then
	echo "run-integration: $TERN is not an executable (build it first)" >&2
	exit 2
fi
if ! command -v node >/dev/null 2>&1; then
	echo "run-integration: node is not installed" >&2
	exit 2
fi
if [ ! -d tests/integration/node_modules ]; then
	(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ $# -eq 0 ]; then
	set -- tests/integration/
fi
exec node --test --test-concurrency=1 --test-timeout=120000 "$@"
