# shellcheck disable=SC2002 # cat, not <: a missing file must hash as empty, not skip the hash
echo "installed=$([ -x /usr/local/bin/minio ] && [ -x /usr/local/bin/mc ] && echo 1 || echo 0)"
echo "binary=$(cat /usr/local/bin/minio 2>/dev/null | sha256sum | cut -c1-64)"
echo "env=$(cat /etc/default/minio 2>/dev/null | sha256sum | cut -c1-64)"
echo "unit=$(cat /etc/systemd/system/minio.service 2>/dev/null | sha256sum | cut -c1-64)"
echo "active=$(systemctl is-active minio)"
echo "bucket=$(cat /etc/veza-minio-bucket.sha256 2>/dev/null)"
