set -eu
# $1 the node's port, $2 full|diff: a pgBackRest backup when this node is the primary; a standby has nothing to do.
[ "$(runuser -u postgres -- psql -XAtq -p "$1" -d postgres -c 'SELECT pg_is_in_recovery()')" = f ] || { echo "not the primary: no backup here"; exit 0; }
exec runuser -u postgres -- pgbackrest --config=/etc/pgbackrest.conf --stanza=veza backup --type="$2"
