# Runs "$@" with the redis password from stdin in REDISCLI_AUTH, so it never reaches argv (incus exec --env would put it there).
IFS= read -r REDISCLI_AUTH
export REDISCLI_AUTH
exec "$@"
