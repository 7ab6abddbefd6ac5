set -eu
rabbitmqctl await_startup --timeout 120 </dev/null >/dev/null
rabbitmqctl add_vhost "$1" </dev/null
