set -eu
d=$(dirname "$1")
mkdir -p "$d"
tmp=$(mktemp "$d/.veza-excl-XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
chmod 644 "$tmp"
sync "$tmp"
ln "$tmp" "$1" 2>/dev/null || { [ -e "$1" ] && exit 3; ln "$tmp" "$1"; }
sync "$d"
