# Bounded: redis (or a sentinel) at $1:$2 answers PONG to the password in REDISCLI_AUTH (from the environment, never argv).
i=0
until [ "$(redis-cli -h "$1" -p "$2" --no-auth-warning ping 2>/dev/null)" = PONG ]; do i=$((i+1)); [ $i -ge 100 ] && { echo "nothing answers PONG on $1:$2" >&2; exit 1; }; sleep 0.1; done
