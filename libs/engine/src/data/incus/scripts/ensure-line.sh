set -eu
# $1 a file, $2 a line it must hold: appended when missing.
grep -qxF "$2" "$1" || printf '%s\n' "$2" >> "$1"
