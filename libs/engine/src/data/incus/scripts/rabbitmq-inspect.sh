IFS= read -r pw
rabbitmqctl await_startup --timeout 120 </dev/null >/dev/null 2>&1 || { echo up=0; exit 0; }
echo up=1
echo "vhost=$(rabbitmqctl list_vhosts -q --no-table-headers name </dev/null | grep -Fxc -- "$2")"
echo "user=$(rabbitmqctl list_users -q --no-table-headers </dev/null | cut -f1 | grep -Fxc -- "$1")"
echo "perms=$(rabbitmqctl list_user_permissions -q --no-table-headers "$1" </dev/null 2>/dev/null | grep -Fxc -- "$(printf "%s\t.*\t.*\t.*" "$2")")"
echo "password=$(printf "%s\n" "$pw" | rabbitmqctl authenticate_user "$1" >/dev/null 2>&1 && echo 1 || echo 0)"
