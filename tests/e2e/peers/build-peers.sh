#!/bin/sh
# Builds socklb's non-python test peers (see PEERS.md):
#   build/peers/greeter_server_go, build/peers/load_client_go  (grpc-go)
#   build/peers/h2front        (an HTTP/2 front like kube-apiserver's, std lib)
#   tests/e2e/peers/js/node_modules                            (@grpc/grpc-js)
# Installs what is missing first: Debian's golang-go and golang-google-grpc-dev
# (grpc-go's sources under /usr/share/gocode, built in GOPATH mode, offline),
# python3-grpcio for the python peers, nodejs/npm only if there is no node,
# and the npm packages of peers/js (npm ci, from package-lock.json).
# Idempotent; prints nothing on success; on failure says what failed and
# exits non-zero.
set -eu

PEERS=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$PEERS/../../.." && pwd)
OUT="$ROOT/build/peers"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

fail() {
	echo "build-peers: $1 failed:" >&2
	sed 's/^/  /' "$LOG" >&2
	exit 1
}

# run WHAT CMD...: runs CMD with its output kept for the error message only.
run() {
	what=$1
	shift
	"$@" >"$LOG" 2>&1 || fail "$what"
}

apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "build-peers: missing Debian packages ($*); run as root to install them" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# Try the current package lists first; update them only if that fails.
	if ! apt-get install -y --no-install-recommends "$@" >"$LOG" 2>&1; then
		run "apt-get update" apt-get update
		run "apt-get install $*" apt-get install -y --no-install-recommends "$@"
	fi
}

GOSRC=/usr/share/gocode
missing=
command -v go >/dev/null 2>&1 || missing="$missing golang-go"
[ -f "$GOSRC/src/google.golang.org/grpc/server.go" ] || missing="$missing golang-google-grpc-dev"
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || missing="$missing python3-grpcio"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086 # a list of package names
	apt_install $missing
fi

# grpc-go 1.33 as Debian ships it: GOPATH mode, no module downloads.
mkdir -p "$OUT"
# The peers' own packages (go/src/socklbpeers/...) come first on the GOPATH.
export GO111MODULE=off GOPATH="$PEERS/go:$GOSRC" GOFLAGS="" GOPROXY=off
export GOCACHE="${GOCACHE:-$OUT/.gocache}"
for peer in server:greeter_server_go client:load_client_go h2front:h2front; do
	src=${peer%%:*}
	bin=${peer#*:}
	(cd "$PEERS/go/src/socklbpeers/$src" && go build -o "$OUT/$bin.new" .) >"$LOG" 2>&1 ||
		fail "go build of tests/e2e/peers/go/src/socklbpeers/$src"
	mv -f "$OUT/$bin.new" "$OUT/$bin"
done

# npm ci only when node_modules is missing or older than the lock file.
JS="$PEERS/js"
stamp="$JS/node_modules/.package-lock.json"
if [ ! -f "$JS/node_modules/@grpc/grpc-js/package.json" ] || [ ! -f "$stamp" ] ||
	[ -n "$(find "$JS/package-lock.json" -newer "$stamp")" ]; then
	(cd "$JS" && npm ci --no-audit --no-fund) >"$LOG" 2>&1 || fail "npm ci in tests/e2e/peers/js"
fi
(cd "$JS" && node -e 'require("@grpc/grpc-js")') >"$LOG" 2>&1 ||
	fail "loading @grpc/grpc-js in tests/e2e/peers/js"
