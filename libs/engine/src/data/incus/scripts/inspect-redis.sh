command -v redis-server >/dev/null || { echo installed=0; exit 0; }
echo installed=1
echo "conf=$(sha256sum < /etc/redis/redis.conf | cut -c1-64)"
echo "active=$(systemctl is-active redis-server)"
