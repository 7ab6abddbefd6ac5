# Bounded (30 s): the collector's OTLP/HTTP receiver accepts connections on port $1; otherwise its journal says why.
for _ in $(seq 1 60); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then exit 0; fi
  sleep 0.5
done
echo "veza-otelcol does not listen on port $1 after 30 s; its journal:" >&2
journalctl -u veza-otelcol --no-pager -n 20 >&2
exit 1
