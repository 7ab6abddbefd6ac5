set -eu
[ -e "/etc/postgresql/$1/main" ] || exit 0
pg_dropcluster --stop "$1" main
