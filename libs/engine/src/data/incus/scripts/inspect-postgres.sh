command -v pg_lsclusters >/dev/null || { echo installed=0; exit 0; }
echo installed=1
# shellcheck disable=SC2046 # split on purpose: the first cluster's columns become $1 $2 ...
set -- $(pg_lsclusters --no-header | head -n 1)
[ $# -ge 4 ] || { echo cluster=none; exit 0; }
echo "cluster=$1/$2"; echo "status=$4"
d="/etc/postgresql/$1/$2"
# shellcheck disable=SC2002 # cat, not <: a missing file must hash as empty, not skip the hash
echo "conf=$(cat "$d/conf.d/veza.conf" 2>/dev/null | sha256sum | cut -c1-64)"
echo "hba=$(sha256sum < "$d/pg_hba.conf" | cut -c1-64)"
