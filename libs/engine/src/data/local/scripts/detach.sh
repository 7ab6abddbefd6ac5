# Starts "$@" in its own session, detached from us, output to log $1, its pid written to $2; the environment (secrets) is inherited, never argv.
log=$1 pidfile=$2
shift 2
setsid "$@" >>"$log" 2>&1 </dev/null &
echo $! >"$pidfile"
