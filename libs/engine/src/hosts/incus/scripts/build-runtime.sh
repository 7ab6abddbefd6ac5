set -eu
export DEBIAN_FRONTEND=noninteractive
# Exit codes the runner tells apart: 10, apt could not refresh its lists
# (so "Unable to locate package" would mean nothing); 11, apt could not install.
apt-get update -q --error-on=any || exit 10
apt-get install -y -q --no-install-recommends "$@" || exit 11
apt-get clean
rm -rf /var/lib/apt/lists/*
# Every container launched from the image must make its own machine-id:
# networkd derives its DHCP client id from it.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
