IFS= read -r REDISCLI_AUTH; export REDISCLI_AUTH
i=0
until [ "$(redis-cli -h 127.0.0.1 -p "$1" --no-auth-warning ping 2>/dev/null)" = PONG ]; do i=$((i+1)); [ $i -ge 60 ] && { echo "redis does not answer PONG" >&2; exit 1; }; sleep 0.5; done
