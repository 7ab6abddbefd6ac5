# shellcheck shell=bash
# Sourced by the scripts that build a Go program once per pinned version into
# the tools cache ($VEZA_TOOLS_CACHE, default ~/.cache/veza/tools), so a
# second setup builds nothing. The caller defines log().
# shellcheck disable=SC2034 # read by the sourcing script
tools_cache="${VEZA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veza/tools}"

# go_tool_build DIR BINARY MODULE_DIR TARGET: unless DIR/BINARY exists, runs
# `go install TARGET` in MODULE_DIR (whose go.mod and go.sum pin the build
# when TARGET has no @version) and moves BINARY into DIR.
go_tool_build() {
  local dir=$1 bin=$2 moddir=$3 target=$4 tmp
  [ -x "$dir/$bin" ] && return 0
  command -v go >/dev/null || { log "go is not on PATH: it builds $target"; return 1; }
  log "building $target (once; minutes on 2 cores)"
  mkdir -p "$dir"
  tmp=$(mktemp -d "$dir/.build-XXXXXX")
  # -p 1: one package at a time, so the build leaves a core to whoever shares the machine.
  (cd "$moddir" && GOBIN="$tmp" GOFLAGS=-trimpath GOTOOLCHAIN=local nice -n 15 go install -p 1 "$target")
  mv "$tmp/$bin" "$dir/$bin"
  rmdir "$tmp"
}
