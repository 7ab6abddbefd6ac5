set -eu
IFS= read -r MC_HOST_veza; export MC_HOST_veza
i=0
until mc ready veza >/dev/null 2>&1; do i=$((i+1)); [ $i -ge 60 ] && { echo "minio is not ready" >&2; exit 1; }; sleep 1; done
mc mb --ignore-existing "veza/$1"
