# The media cache's state in sections: facts, stub_status's answer, the access log's last $4 bytes. $1 cache folder, $2 stub_status port, $3 access log.
echo "active=$(systemctl is-active nginx)"
echo "disk=$(du -sb "$1" 2>/dev/null | cut -f1)"
echo "--- stub"
curl -sS --max-time 2 --noproxy '*' "http://127.0.0.1:$2/nginx_status" 2>/dev/null
echo "--- log"
tail -c "$4" "$3" 2>/dev/null
exit 0
