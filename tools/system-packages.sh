#!/usr/bin/env bash
# Install the Debian packages the tests need, only those missing. Each line: a file that proves the
# package is there, and the package. Needs root (CI and fresh machines run as root); otherwise it
# says what to install and fails.
set -euo pipefail
need=()
while read -r probe package; do
  [ -z "$probe" ] && continue
  compgen -G "$probe" >/dev/null || need+=("$package")
done <<'LIST'
/usr/lib/postgresql/*/bin/initdb postgresql
/usr/bin/bwrap bubblewrap
/usr/sbin/runuser util-linux
/usr/sbin/useradd passwd
/usr/lib/*/libseccomp.so.2 libseccomp2
/usr/bin/fc-list fontconfig
/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core
/usr/share/fonts/truetype/wqy/wqy-microhei.ttc fonts-wqy-microhei
LIST
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system packages missing: ${need[*]} (run: sudo apt-get install -y ${need[*]})" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
