command -v rabbitmqctl >/dev/null || { echo installed=0; exit 0; }
echo installed=1
echo "active=$(systemctl is-active rabbitmq-server)"
