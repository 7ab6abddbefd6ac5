set -eu
missing=$(for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
[ -z "$missing" ] && exit 0
apt-get update -q
# shellcheck disable=SC2086 # one argument per missing package
apt-get install -y -q --no-install-recommends $missing
