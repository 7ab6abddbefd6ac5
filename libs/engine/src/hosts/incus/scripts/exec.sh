set -eu
set -a
# shellcheck source=/dev/null # the slot's env file
. "$1"
# shellcheck source=/dev/null # this exec's own variables
if [ "$2" != - ]; then . "$2"; rm -f "$2"; fi
set +a
user=$3
gid=$(id -g "$user")
shift 3
exec setpriv --reuid="$user" --regid="$gid" --init-groups --no-new-privs -- "$@"
