set -u
t=$(mktemp /tmp/veza-validate-XXXXXX.cfg)
trap 'rm -f "$t"' EXIT
cat > "$t"
haproxy -dW -c -f "$t"
