# A Sentinel node's state as key=value lines: $1 the master name its sentinel monitors.
# Only the `sentinel monitor` line leaves the container, never a line with the password.
for p in redis-server redis-sentinel; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || { echo installed=0; exit 0; }
done
echo installed=1
echo "redis=$(systemctl is-active redis-server)"
echo "sentinel=$(systemctl is-active redis-sentinel)"
echo "stamp=$(cat /etc/redis/veza-settings.sha256 2>/dev/null)"
echo "monitor=$(grep -E "^sentinel monitor $1 " /etc/redis/sentinel.conf 2>/dev/null | head -n 1)"
echo "unit=$(sha256sum < /etc/systemd/system/redis-sentinel.service.d/veza.conf 2>/dev/null | cut -c1-64)"
