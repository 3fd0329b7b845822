#!/bin/sh
# install-deps.sh installs the system packages that Bulkhead's demo, tests and
# benchmarks use, when they are missing. It is called by "make demo",
# "make test" and .ci/run. Debian and Ubuntu only (apt-get); it needs root to
# install anything and does nothing when every package is already present.
set -eu

# Keep this list in one place: the README's quick start refers to it.
PACKAGES="
iptables
iproute2
kmod
procps
curl
dnsutils
redis-server
redis-tools
tcpdump
graphviz
prometheus
libndpi-bin
wrk
ca-certificates
iperf3
iputils-ping
"

. "$(dirname "$0")/lib/install-packages.sh"
# shellcheck disable=SC2086 # the package list splits on purpose
install_packages install-deps $PACKAGES
