#!/usr/bin/env bash
# Builds MinIO's `minio` and `mc` from their Go modules (MinIO is not in
# Debian) at the pinned versions, once: the binaries are cached by version
# under $VEZA_TOOLS_CACHE (default ~/.cache/veza/tools), so a second setup
# builds nothing. Prints the folder holding both binaries.
#
# The modules publish no semver tags, only pseudo-versions: these are the
# newest the module proxy served for each on 2026-12-03 (`go list -m
# github.com/minio/minio@latest`), both built here with Go 1.26.8.
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9

cache="${VEZA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veza/tools}"
dir="$cache/minio-$MINIO_VERSION-mc-$MC_VERSION"
log() { printf '[minio-tools] %s\n' "$*" >&2; }

build() { # $1 binary name, $2 module@version
  [ -x "$dir/$1" ] && return 0
  command -v go >/dev/null || { log "go is not on PATH: it builds $2"; exit 1; }
  log "building $2 (once; several minutes on 2 cores)"
  tmp=$(mktemp -d "$dir/.build-XXXXXX")
  # -p 1: one package at a time, so the build leaves a core to whoever shares the machine.
  GOBIN="$tmp" GOFLAGS=-trimpath GOTOOLCHAIN=local nice -n 15 go install -p 1 "$2"
  mv "$tmp/$1" "$dir/$1"
  rmdir "$tmp"
}

mkdir -p "$dir"
build minio "github.com/minio/minio@$MINIO_VERSION"
build mc "github.com/minio/mc@$MC_VERSION"
printf '%s\n' "$dir"
