#!/bin/sh
# Installs, with apt-get, every Debian package that building, running and
# testing sealpost needs, and nothing when all are present already.
set -eu

PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev
libssl-dev openssl libevent-dev libc-ares-dev libcrypt-dev libcmocka-dev
python3 python3-pytest python3-yaml python3-dkim python3-nacl swaks curl msmtp
fetchmail getmail6 dnsmasq-base ca-certificates procps publicsuffix postfix"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# postfix is here only for its smtp-sink test peer (tests/relay): configured
# as "No configuration" it writes no main.cf, so no system Postfix starts
# listening on port 25 (the tests use loopback ports of their own anyway).
case "$missing" in
*" postfix"*)
	echo "postfix postfix/main_mailer_type select No configuration" |
	    $SUDO debconf-set-selections ;;
esac
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
