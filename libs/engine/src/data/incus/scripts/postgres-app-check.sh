IFS= read -r PGPASSWORD; export PGPASSWORD
psql --no-psqlrc -tA "host=127.0.0.1 port=$3 user=$1 dbname=$2 connect_timeout=5" -c "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database WHERE datname = current_database()" 2>/dev/null || true
