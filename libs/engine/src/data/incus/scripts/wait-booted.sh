systemctl is-system-running --wait >/dev/null || true
i=0
until ip -4 -o addr show scope global | grep -q inet; do i=$((i+1)); [ $i -ge 120 ] && { echo "no IPv4 address after 120 s" >&2; exit 1; }; sleep 1; done
