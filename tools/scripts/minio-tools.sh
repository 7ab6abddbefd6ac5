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

cd "$(dirname "$0")"
folder="minio-$MINIO_VERSION-mc-$MC_VERSION"
# module@version: `go install` pins through the module's own go.sum, checked against the checksum database.
bash go-tool.sh "$folder" minio . "github.com/minio/minio@$MINIO_VERSION" >/dev/null
bash go-tool.sh "$folder" mc . "github.com/minio/mc@$MC_VERSION"
