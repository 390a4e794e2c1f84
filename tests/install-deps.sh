#!/bin/sh
# Install the Debian packages the build and the tests need, when missing.
# Runs as root on a fresh Debian machine; does nothing when all are present.
set -e
PKGS="make gcc clang libc6-dev libssl-dev libpam0g-dev libcrypt-dev \
openssl python3 libpam-wrapper libnss-wrapper libuid-wrapper \
libclang-rt-14-dev fetchmail isync mutt alpine tmux $EXTRA_PKGS"
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
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
