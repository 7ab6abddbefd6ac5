set -eu
IFS= read -r pw
rabbitmqctl await_startup --timeout 120 </dev/null >/dev/null
if rabbitmqctl list_users -q --no-table-headers </dev/null | cut -f1 | grep -Fxq -- "$1"; then verb=change_password; else verb=add_user; fi
printf "%s\n" "$pw" | rabbitmqctl "$verb" "$1"
