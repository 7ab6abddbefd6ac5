id -u minio-user >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/minio --create-home --shell /usr/sbin/nologin minio-user
mkdir -p /var/lib/minio && chown minio-user:minio-user /var/lib/minio
for d in "$@"; do mkdir -p "$d" && chown minio-user:minio-user "$d"; done
