#!/bin/sh
# Install the Debian packages the build and the tests need, when missing.
# Runs as root on a fresh Debian machine; does nothing when all are present.
#   install-deps.sh         everything the tests need
#   install-deps.sh build   only what building and run-demo need
set -e
BUILD_PKGS="make gcc libc6-dev libssl-dev libpam0g-dev libcrypt-dev zlib1g-dev openssl python3"
TEST_PKGS="clang libpam-wrapper libnss-wrapper libuid-wrapper libclang-rt-14-dev \
fetchmail isync mutt alpine tmux postfix debhelper dpkg-dev fakeroot lintian xinetd \
nginx libnginx-mod-mail iproute2 strace"
if [ "${1:-}" = build ]; then
	PKGS="$BUILD_PKGS $EXTRA_PKGS"
else
	PKGS="$BUILD_PKGS $TEST_PKGS $EXTRA_PKGS"
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix is only used by tests/test_postfix.py (a private instance on
# loopback); installing it must not ask questions
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
