# Bounded: the MinIO behind alias veza (MC_HOST_veza, from the environment) has write quorum. $1 is mc; each probe is cut at 5 s, as mc itself may wait on.
i=0
until timeout 5 "$1" ready veza >/dev/null 2>&1; do i=$((i+1)); [ $i -ge 60 ] && { echo "minio is not ready (no write quorum) within about a minute" >&2; exit 1; }; sleep 0.5; done
