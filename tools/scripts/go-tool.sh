#!/usr/bin/env bash
# go-tool.sh FOLDER BINARY MODULE_DIR TARGET [--built]
#
# Builds a Go program once per pinned version into the tools cache
# ($VEZA_TOOLS_CACHE, default ~/.cache/veza/tools): unless FOLDER/BINARY is
# there, runs `go install TARGET` in MODULE_DIR (whose go.mod and go.sum pin
# the build when TARGET has no @version) and moves BINARY into FOLDER, so a
# second setup builds nothing. Prints the folder. --built: builds nothing,
# exit 1 when the binary is not there yet.
set -euo pipefail
log() { printf '[go-tool] %s\n' "$*" >&2; }

folder=$1 bin=$2 moddir=$3 target=$4
dir="${VEZA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veza/tools}/$folder"
if [ ! -x "$dir/$bin" ]; then
  [ "${5:-}" != --built ] || exit 1
  command -v go >/dev/null || { log "go is not on PATH: it builds $target"; exit 1; }
  log "building $target (once; minutes on 2 cores)"
  mkdir -p "$dir"
  tmp=$(mktemp -d "$dir/.build-XXXXXX")
  # -p 1: one package at a time, so the build leaves a core to whoever shares the machine.
  (cd "$moddir" && GOBIN="$tmp" GOFLAGS=-trimpath GOTOOLCHAIN=local nice -n 15 go install -p 1 "$target")
  mv "$tmp/$bin" "$dir/$bin"
  rmdir "$tmp"
fi
printf '%s\n' "$dir"
