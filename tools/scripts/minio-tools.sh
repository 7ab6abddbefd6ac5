#!/usr/bin/env bash
# Builds MinIO's `minio` and `mc` from their Go modules (MinIO is not in
# Debian) at the pinned versions, once: the binaries are cached by version
# under $VEZA_TOOLS_CACHE (default ~/.cache/veza/tools; go-tools-cache.bash),
# so a second setup builds nothing. Prints the folder holding both binaries.
#
# The modules publish no semver tags, only pseudo-versions: these are the
# newest the module proxy served for each on 2026-12-03 (`go list -m
# github.com/minio/minio@latest`), both built here with Go 1.26.8.
set -euo pipefail
# shellcheck source=/dev/null # the shared cache helpers, checked on their own
. "$(dirname "$0")/go-tools-cache.bash"

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9

log() { printf '[minio-tools] %s\n' "$*" >&2; }
dir=$(tools_cache_dir "minio-$MINIO_VERSION-mc-$MC_VERSION")

# -p 1: one package at a time, so the build leaves a core to whoever shares the machine.
install_minio() { GOBIN="$1" GOFLAGS=-trimpath GOTOOLCHAIN=local nice -n 15 go install -p 1 "github.com/minio/minio@$MINIO_VERSION"; }
install_mc() { GOBIN="$1" GOFLAGS=-trimpath GOTOOLCHAIN=local nice -n 15 go install -p 1 "github.com/minio/mc@$MC_VERSION"; }

build_cached "$dir" minio "github.com/minio/minio@$MINIO_VERSION" install_minio
build_cached "$dir" mc "github.com/minio/mc@$MC_VERSION" install_mc
printf '%s\n' "$dir"
