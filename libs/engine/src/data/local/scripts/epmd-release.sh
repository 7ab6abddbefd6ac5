# Stops the epmd on ERL_EPMD_PORT once no Erlang node is registered there any more (another environment's node may share it).
names=$(epmd -names 2>/dev/null) || exit 0
printf '%s\n' "$names" | grep -q '^name ' && exit 0
epmd -kill >/dev/null 2>&1 || true
