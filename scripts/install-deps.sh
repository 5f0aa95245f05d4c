#!/bin/sh
# Installs every Debian package socklb needs to build, test and run its demo.
# Only Debian's archive is used; nothing is downloaded from elsewhere.
set -eu

PACKAGES="
  make gcc clang llvm libclang-rt-14-dev pkg-config xz-utils git
  libbpf-dev bpftool libelf-dev zlib1g-dev libjson-c-dev libc-ares-dev libmicrohttpd-dev libcurl4-openssl-dev
  check libsubunit-dev valgrind
  iproute2 iptables python3 python3-grpcio dnsmasq-base python3-yaml
  nginx gnuplot-nox curl
  podman crun debootstrap golang-go
"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (e.g. sudo make deps)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # the list is meant to split into words
apt-get install -y --no-install-recommends $PACKAGES
# Node.js packages (Kubernetes schemas) for the deploy/ manifest tests.
"$(dirname "$0")/../tests/deploy/install.sh"
