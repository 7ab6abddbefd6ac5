# psql as the postgres superuser over the local socket, SQL on stdin; $1 port, $2 database, then psql's own options.
# Unaligned, tab-separated, one header line: what parseAlignedTable reads.
port=$1 db=$2
shift 2
exec runuser -u postgres -- psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --no-align --field-separator="$(printf '\t')" --pset=footer=off --port "$port" --dbname "$db" "$@"
