set -e
ln -f "$1" "$1.bak.tmp"
mv -f "$1.bak.tmp" "$1.bak"
