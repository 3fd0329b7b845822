# install-packages.sh is sourced by scripts/install-deps.sh and
# scripts/install-capture-deps.sh: it holds their one package check and
# apt-get install. Debian and Ubuntu only.
#
# install_packages NAME PACKAGE... installs the PACKAGEs that dpkg does not
# list as installed and returns apt-get's status; NAME prefixes its messages.
# It does nothing when every package is present and fails without root when
# something is missing. BULKHEAD_SKIP_APT_UPDATE=1 skips "apt-get update".
# Services installed here must not start on the host (the tests and capture
# makers start their own servers inside network namespaces), so a
# policy-rc.d that refuses every start is in place while apt-get runs.
install_packages() {
	_ip_name=$1
	shift
	_ip_missing=""
	for _ip_p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$_ip_p" 2>/dev/null | grep -q "install ok installed"; then
			_ip_missing="$_ip_missing $_ip_p"
		fi
	done

	if [ -z "$_ip_missing" ]; then
		return 0
	fi

	if [ "$(id -u)" != 0 ]; then
		echo "$_ip_name: missing packages:$_ip_missing" >&2
		echo "$_ip_name: run as root (or: sudo apt-get install$_ip_missing)" >&2
		return 1
	fi

	echo "$_ip_name: installing$_ip_missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	if [ "${BULKHEAD_SKIP_APT_UPDATE:-}" != 1 ]; then
		apt-get update -q >&2
	fi
	_ip_policy_rc=/usr/sbin/policy-rc.d
	_ip_created_policy=0
	if [ ! -e "$_ip_policy_rc" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$_ip_policy_rc"
		chmod +x "$_ip_policy_rc"
		_ip_created_policy=1
	fi
	_ip_status=0
	# shellcheck disable=SC2086 # the package list splits on purpose
	apt-get install -y -q --no-install-recommends $_ip_missing >&2 || _ip_status=$?
	if [ "$_ip_created_policy" = 1 ]; then
		rm -f "$_ip_policy_rc"
	fi
	return $_ip_status
}
