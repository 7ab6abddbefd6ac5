# $1 a program the packages install (installed=1 when present); then, one line each:
# unit:<name> -> its systemd state; mount:<path> -> 1 when something is mounted there;
# setting:<key>@<path> -> the value of the first `key = value` line there, empty when none;
# a path -> the sha256 of its content, empty when it is missing.
if [ -e "$1" ]; then echo installed=1; else echo installed=0; fi
shift
for a in "$@"; do
  case $a in
    unit:*) echo "$a=$(systemctl is-active "${a#unit:}" 2>/dev/null)" ;;
    mount:*) if mountpoint -q "${a#mount:}"; then echo "$a=1"; else echo "$a=0"; fi ;;
    setting:*) k=${a#setting:}; f=${k#*@}; k=${k%%@*}
      echo "$a=$(sed -n "s/^[[:space:]]*${k}[[:space:]]*=[[:space:]]*//p" "$f" 2>/dev/null | head -n 1)" ;;
    *) if [ -e "$a" ]; then echo "$a=$(sha256sum < "$a" | cut -c1-64)"; else echo "$a="; fi ;;
  esac
done
