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
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=/dev/null # the shared cache helpers, checked on their own
. "$root/tools/scripts/go-tools-cache.bash"
log() { printf '[act-tool] %s\n' "$*" >&2; }

version=$(sed -n 's|^\tgithub.com/nektos/act \(v[^ ]*\).*|\1|p' "$root/tools/act/go.mod")
[ -n "$version" ] || { log 'tools/act/go.mod does not require github.com/nektos/act'; exit 1; }
pin=$(cat "$root/tools/act/go.mod" "$root/tools/act/go.sum" | sha256sum | cut -c1-12)
dir=$(tools_cache_dir "act-$version-$pin")
if [ "${1:-}" = --built ]; then
  [ -x "$dir/act" ] || exit 1
  printf '%s\n' "$dir"
  exit 0
fi

# No @version: go install resolves github.com/nektos/act through tools/act's go.mod and go.sum.
install_act() { (cd "$root/tools/act" && GOBIN="$1" GOFLAGS=-trimpath GOTOOLCHAIN=local nice -n 15 go install -p 1 github.com/nektos/act); }
build_cached "$dir" act "github.com/nektos/act@$version" install_act
printf '%s\n' "$dir"
