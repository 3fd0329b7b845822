#!/bin/sh
# install-capture-deps.sh installs the Debian packages that only the capture
# makers of the L7 application parsers need (make captures, or go test
# -tags captures ./l7 -run 'TestMakeCaptures(Core|Apps)'): real servers and
# clients for HTTP (nginx, curl), DNS (dnsmasq, dig), TLS (openssl), SSH,
# MySQL/MariaDB, PostgreSQL, MQTT, Memcached, NATS, AMQP, ZooKeeper, SMTP,
# IMAP, POP3, FTP, DHCP and NTP. Stored captures are committed and CI does not
# regenerate them, so neither CI nor "make test" runs this script.
#
# Debian and Ubuntu only (apt-get); needs root to install anything and does
# nothing when every package is already present. Services are kept from
# starting on the host: the capture makers start their own servers inside
# network namespaces.
set -eu

PACKAGES="
tcpdump
iproute2
nginx
bind9-dnsutils
openssl
openssh-server
openssh-client
redis-server
redis-tools
mariadb-server
mariadb-client
postgresql
postgresql-client
mosquitto
mosquitto-clients
memcached
libmemcached-tools
nats-server
rabbitmq-server
zookeeper
opensmtpd
curl
dovecot-imapd
dovecot-pop3d
vsftpd
dnsmasq-base
udhcpc
chrony
ntpsec-ntpdate
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
	echo "install-capture-deps: missing packages:$missing" >&2
	echo "install-capture-deps: run as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi

echo "install-capture-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if [ "${BULKHEAD_SKIP_APT_UPDATE:-}" != 1 ]; then
	apt-get update -q >&2
fi
policy_rc=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy_rc" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
	chmod +x "$policy_rc"
	created_policy=1
fi
status=0
apt-get install -y -q --no-install-recommends $missing >&2 || status=$?
if [ "$created_policy" = 1 ]; then
	rm -f "$policy_rc"
fi
exit $status
