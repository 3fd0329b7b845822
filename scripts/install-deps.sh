#!/bin/sh
# install-deps.sh installs the system packages that Bulkhead's demo, tests and
# benchmarks use, when they are missing. It is called by "make demo",
# "make test" and .ci/run. Debian and Ubuntu only (apt-get); it needs root to
# install anything and does nothing when every package is already present.
set -eu

# Keep this list in one place: README's "Requirements" section names it.
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

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if [ "${BULKHEAD_SKIP_APT_UPDATE:-}" != 1 ]; then
	apt-get update -q >&2
fi
# Services installed here must not start on the host: the tests start their
# own servers inside network namespaces.
policy_rc=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy_rc" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
	chmod +x "$policy_rc"
	created_policy=1
fi
apt-get install -y -q --no-install-recommends $missing >&2
if [ "$created_policy" = 1 ]; then
	rm -f "$policy_rc"
fi
