#!/usr/bin/env bash
# Builds veza-otelcol, the OpenTelemetry collector of tools/otelcol (a Go
# main over the collector's modules, pinned by its go.mod and go.sum), once
# per version: the cache folder is named after the collector release and a
# digest of tools/otelcol's sources and go.sum (go-tools-cache.bash), so a
# second setup builds nothing and any change to the pins builds anew.
# Prints the path of the binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=/dev/null # the shared cache helpers, checked on their own
. "$root/tools/scripts/go-tools-cache.bash"

src="$root/tools/otelcol"
log() { printf '[otelcol-build] %s\n' "$*" >&2; }
release=$(sed -n 's#^\tgo.opentelemetry.io/collector/otelcol \(v[0-9.]*\)$#\1#p' "$src/go.mod")
[ -n "$release" ] || { log "tools/otelcol/go.mod requires no go.opentelemetry.io/collector/otelcol — pin it there"; exit 1; }
digest=$(cd "$src" && find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
version="$release-$digest"
dir=$(tools_cache_dir "otelcol-$version")

# -mod=readonly: exactly the committed go.sum; -p 1 leaves a core to whoever shares the machine.
build_otelcol() {
  (cd "$src" && GOMODCACHE="${GOMODCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veza/go/mod}" GOFLAGS='-trimpath -mod=readonly' GOTOOLCHAIN=local \
    nice -n 15 go build -p 1 -ldflags "-s -w -X main.version=$version" -o "$1/veza-otelcol" .)
}

build_cached "$dir" veza-otelcol "the OpenTelemetry collector $version (tools/otelcol)" build_otelcol
printf '%s\n' "$dir/veza-otelcol"
