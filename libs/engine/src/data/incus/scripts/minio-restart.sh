set -eu
systemctl daemon-reload
systemctl enable minio >/dev/null 2>&1
systemctl restart minio
