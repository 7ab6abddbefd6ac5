# shellcheck disable=SC2002 # cat, not <: a missing file must hash as empty, not skip the hash
echo "installed=$([ -x /usr/local/bin/minio ] && [ -x /usr/local/bin/mc ] && echo 1 || echo 0)"
echo "binary=$(cat /usr/local/bin/minio 2>/dev/null | sha256sum | cut -c1-64)"
echo "env=$(cat /etc/default/minio 2>/dev/null | sha256sum | cut -c1-64)"
echo "unit=$(cat /etc/systemd/system/minio.service 2>/dev/null | sha256sum | cut -c1-64)"
echo "active=$(systemctl is-active minio)"
echo "bucket=$(cat /etc/veza-minio-bucket.sha256 2>/dev/null)"
# The HA topology's TLS front to MinIO (minio-front.ts), when this container runs one.
echo "front_installed=$([ -x /usr/sbin/haproxy ] && [ -x /usr/bin/openssl ] && echo 1 || echo 0)"
echo "front_cert=$([ -s /etc/haproxy/veza-minio-front.pem ] && [ -s /etc/haproxy/veza-minio-front.pem.key ] && echo 1 || echo 0)"
echo "front_config=$(cat /etc/haproxy/haproxy.cfg 2>/dev/null | sha256sum | cut -c1-64)"
echo "front_active=$(systemctl is-active haproxy 2>/dev/null)"
echo "backup_repo=$(cat /etc/veza-minio-backup-repo.sha256 2>/dev/null)"
