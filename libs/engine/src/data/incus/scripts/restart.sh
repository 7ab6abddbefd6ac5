set -eu
systemctl enable "$1" >/dev/null 2>&1
systemctl restart "$1"
