#!/usr/bin/env bash
# Builds nektos/act — the workflow engine forgejo-runner is a fork of — from
# its Go module, pinned by tools/act/go.mod and go.sum (v0.2.89, the newest
# the module proxy served on 2026-12-03; built here with Go 1.26.8), once:
# cached under the tools cache by version and by the hash of go.mod and
# go.sum, so a changed pin builds anew. Prints the folder holding `act`.
# --built: builds nothing, exit 1 when act is not built yet.
#
# Why act and not forgejo-runner: forgejo-runner's modules (its v9, v11 and
# v12 lines and the unversioned path) and Gitea's act_runner are refused
# (HTTP 403) by the module proxy this machine reaches; act is served.
set -euo pipefail
cd "$(dirname "$0")"

version=$(sed -n 's|^\tgithub.com/nektos/act \(v[^ ]*\).*|\1|p' ../act/go.mod)
[ -n "$version" ] || { printf '[act-tool] tools/act/go.mod does not require github.com/nektos/act\n' >&2; exit 1; }
pin=$(cat ../act/go.mod ../act/go.sum | sha256sum | cut -c1-12)
exec bash go-tool.sh "act-$version-$pin" act ../act github.com/nektos/act "$@"
