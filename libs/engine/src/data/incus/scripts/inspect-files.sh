# $1 a program the packages install (installed=1 when present); then, one line each:
# unit:<name> -> its systemd state; a path -> the sha256 of its content, empty when it is missing.
if [ -e "$1" ]; then echo installed=1; else echo installed=0; fi
shift
for a in "$@"; do
  case $a in
    unit:*) echo "$a=$(systemctl is-active "${a#unit:}" 2>/dev/null)" ;;
    *) if [ -e "$a" ]; then echo "$a=$(sha256sum < "$a" | cut -c1-64)"; else echo "$a="; fi ;;
  esac
done
