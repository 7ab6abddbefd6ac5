set -eu
dest=$1 owner=$2 mode=$3
dir=$(dirname "$dest")
mkdir -p "$dir"
tmp=$(mktemp "$dir/.veza-write-XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
chown "$owner" "$tmp"
chmod "$mode" "$tmp"
sync "$tmp"
mv -f "$tmp" "$dest"
trap - EXIT
sync "$dir"
