#!/bin/sh
# Installs the Debian 12 packages tern needs to build, test and run.
# Called by the Makefile before building; does nothing when everything is present.
#   scripts/deps.sh           build + run dependencies
#   scripts/deps.sh test      also the test, fuzz and integration-test dependencies
set -eu

BUILD_PKGS="build-essential pkg-config libsecp256k1-dev libssl-dev libuv1-dev libwslay-dev zlib1g-dev liblmdb-dev libconfig-dev"
TEST_PKGS="libcriterion-dev libjansson-dev clang libclang-rt-14-dev nodejs npm time"

want="$BUILD_PKGS"
[ "${1:-}" = "test" ] && want="$want $TEST_PKGS"

missing=""
for p in $want; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"ok installed"*) ;;
	*)
		# nodejs/npm may come from elsewhere than Debian: accept working binaries.
		if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
		if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
		missing="$missing $p"
		;;
	esac
done

[ -z "$missing" ] && exit 0

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: not a Debian system; install the equivalents of:$missing" >&2
	exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "deps: missing packages:$missing" >&2
		echo "deps: run as root: apt-get install -y$missing" >&2
		exit 1
	fi
else
	SUDO=
fi

echo "deps: installing:$missing" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
	echo "deps: apt-get install failed; run: apt-get install$missing" >&2
	exit 1
}
