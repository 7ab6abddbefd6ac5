set -eu
mkdir -p "$(dirname "$1")"
cat >> "$1"
sync "$1"
