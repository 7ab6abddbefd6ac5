set -eu
rabbitmqctl set_permissions -p "$2" "$1" ".*" ".*" ".*" </dev/null
