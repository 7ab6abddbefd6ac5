if ! dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q "ok installed" || ! command -v curl >/dev/null; then echo installed=0; exit 0; fi
echo installed=1
echo "conf=$(sha256sum < /etc/nginx/nginx.conf | cut -c1-64)"
echo "active=$(systemctl is-active nginx)"
