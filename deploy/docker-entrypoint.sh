#!/bin/sh
# Entry point of the socklb image: runs `socklb "$@"` plus the settings of the
# socklb-config ConfigMap, which the DaemonSet passes as environment variables:
#
#   SOCKLB_LOG_LEVEL   info (default) or debug (adds --verbose: debug logging,
#                      libbpf and verifier messages)
#   SOCKLB_EXTRA_ARGS  appended to the arguments, split on blanks (no quoting),
#                      e.g. "--policy random --max-age 10m"
#
# SOCKLB_BIN names the binary (tests point it at a stand-in).
set -eu
set -f # SOCKLB_EXTRA_ARGS splits on blanks but must never expand globs

bin=${SOCKLB_BIN:-/usr/local/bin/socklb}

case "${SOCKLB_LOG_LEVEL:-info}" in
info | "") ;;
debug) set -- "$@" --verbose ;;
*)
	echo "socklb-entrypoint: SOCKLB_LOG_LEVEL must be info or debug, not '${SOCKLB_LOG_LEVEL}'" >&2
	exit 64
	;;
esac

# shellcheck disable=SC2086 # the extra arguments are meant to split on blanks
exec "$bin" "$@" ${SOCKLB_EXTRA_ARGS:-}
