# Stops process $1 (TERM, so redis saves and exits cleanly) and waits, bounded, until it is gone.
kill -TERM "$1" 2>/dev/null || exit 0
i=0
while kill -0 "$1" 2>/dev/null; do i=$((i+1)); [ $i -ge 300 ] && { echo "process $1 did not exit within 30 s" >&2; exit 1; }; sleep 0.1; done
