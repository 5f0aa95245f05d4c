#!/bin/sh
# Installs what tests/deploy/test_manifests.py needs beyond scripts/install-deps.sh:
#   - the npm packages of package-lock.json (Kubernetes schemas and Ajv) into
#     tests/deploy/node_modules, with `npm ci`;
#   - Node.js and npm, and kubectl (for `kubectl kustomize`), from Debian's
#     archive, only when the machine has none: a kubectl or Node.js installed
#     from elsewhere is kept (Debian's packages would conflict with it).
# Run as root when anything is missing from Debian's side.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

missing=""
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
# Debian 12's kubectl (1.20) has kustomize v2.0.3 built in: deploy/ is written for it.
command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "tests/deploy/install.sh: missing$missing; run as root to install them" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# shellcheck disable=SC2086 # the list is meant to split into words
	apt-get install -y --no-install-recommends $missing
fi

cd "$here"
npm ci --no-audit --no-fund
