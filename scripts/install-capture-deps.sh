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

. "$(dirname "$0")/lib/install-packages.sh"
# shellcheck disable=SC2086 # the package list splits on purpose
install_packages install-capture-deps $PACKAGES
