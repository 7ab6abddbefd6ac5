set -eu
exec 3<>"/dev/tcp/127.0.0.1/$1"
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: veza-slot-probe\r\nConnection: close\r\n\r\n' "$2" "$1" >&3
IFS= read -r line <&3
printf '%s\n' "$line"
