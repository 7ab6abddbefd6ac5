# Sourced by the scripts that build a tool from Go modules (minio-tools.sh,
# otelcol-build.sh): each binary is built once into a folder of the tools
# cache whose name carries its pinned version, so a second setup builds
# nothing and a version bump builds anew beside the old one.
# Callers define log().

tools_cache_dir() { # $1 folder name, versions included; prints its path, created
  local dir="${VEZA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veza/tools}/$1"
  mkdir -p "$dir"
  printf '%s\n' "$dir"
}

# build_cached DIR BINARY WHAT BUILD_FN: unless DIR/BINARY exists, runs
# `BUILD_FN TMPDIR`, which must leave BINARY in TMPDIR; it is then moved in
# whole, so an interrupted build never leaves a half-written binary cached.
build_cached() {
  local dir=$1 bin=$2 what=$3 build=$4 tmp
  [ -x "$dir/$bin" ] && return 0
  command -v go >/dev/null || { log "go is not on PATH: it builds $what"; exit 1; }
  log "building $what (once; several minutes on 2 cores)"
  tmp=$(mktemp -d "$dir/.build-XXXXXX")
  if ! "$build" "$tmp"; then
    rm -rf "$tmp"
    log "building $what failed — see the go output above"
    exit 1
  fi
  mv "$tmp/$bin" "$dir/$bin"
  rmdir "$tmp"
}
