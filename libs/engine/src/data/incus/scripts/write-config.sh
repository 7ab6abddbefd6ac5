set -eu
for dir in $1; do :; done
[ -d "$dir" ] || { echo "no directory $1" >&2; exit 1; }
tmp=$(mktemp "$dir/.veza-XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
chown "$3" "$tmp"
chmod "$4" "$tmp"
sync "$tmp"
mv -f "$tmp" "$dir/$2"
trap - EXIT
