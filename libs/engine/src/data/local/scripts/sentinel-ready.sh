# Bounded: the sentinel at $1:$2 sees master $3 up with $4 replicas and $5 other sentinels, so a failover could run now (until a sentinel knows the replicas, it finds "no good slave").
# The password comes in REDISCLI_AUTH, never argv.
i=0
while :; do
  state=$(redis-cli -h "$1" -p "$2" --no-auth-warning sentinel master "$3" 2>/dev/null | paste -d= - - | grep -E '^(flags|num-slaves|num-other-sentinels)=' | sort | tr '\n' ' ')
  [ "$state" = "flags=master num-other-sentinels=$5 num-slaves=$4 " ] && exit 0
  i=$((i+1))
  [ $i -ge 300 ] && { echo "sentinel $1:$2 is not ready for $3 within 30 s (it sees: ${state:-nothing})" >&2; exit 1; }
  sleep 0.1
done
