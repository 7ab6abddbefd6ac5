set -e
[ -d "$1" ] || exit 3
ls -1A -- "$1"
printf .
