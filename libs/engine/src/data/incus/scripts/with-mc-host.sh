# Runs "$@" with mc's alias veza from the first line of stdin (MC_HOST_veza holds the credentials: never argv, which incus exec --env would be).
# The rest of stdin is left to "$@" (read takes one line, byte by byte, from a pipe).
IFS= read -r MC_HOST_veza
export MC_HOST_veza
exec "$@"
