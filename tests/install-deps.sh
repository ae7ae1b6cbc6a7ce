#!/bin/sh
# Installs what building, testing and the demo need on Debian 12.
# Run as root.  Package installs must not start system services that listen
# on all addresses (dovecot, sshd): a policy-rc.d that refuses is put in
# place for the duration if there is none.
set -eu

PACKAGES="build-essential autoconf automake pkg-config libglib2.0-dev libssl-dev libssh2-1-dev
  openssh-server openssh-client dovecot-imapd isync inotify-tools procps psmisc openssl
  iproute2 util-linux"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (sudo)" >&2
  exit 1
fi

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

policy=/usr/sbin/policy-rc.d
made_policy=no
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  made_policy=yes
fi
trap '[ "$made_policy" = yes ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
