#!/usr/bin/env bash
# Installs what the pipeline and its tests need on a fresh Debian machine,
# idempotently: each step checks before it acts, so a second run is quick.
#
# --deploy-only: what the engine needs to deploy a published release (CI's
# deploy job on the Incus host): no Go, Rust, C toolchain, module or crate
# download, nor the local tiers' HAProxy, PostgreSQL and shellcheck.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '[setup] %s\n' "$*" >&2; }

deploy_only=false
case "${1:-}" in
  '') ;;
  --deploy-only) deploy_only=true ;;
  *) log "unknown option $1 — run it bare (everything the pipeline and its tests need) or with --deploy-only"; exit 2 ;;
esac

need_apt=()
command -v zstd >/dev/null || need_apt+=(zstd)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v runuser >/dev/null || need_apt+=(util-linux)
# infra-edge:certificates orders with Debian's ACME client.
command -v lego >/dev/null || need_apt+=(lego)
if ! $deploy_only; then
  command -v haproxy >/dev/null || need_apt+=(haproxy)
  command -v shellcheck >/dev/null || need_apt+=(shellcheck)
  # The certificates tests run Let's Encrypt's test CA, with its DNS test server.
  command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null || need_apt+=(pebble)
  [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] || [ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)
  # The local data tier's Redis (single or Sentinel) runs these as loopback processes.
  command -v redis-server >/dev/null || need_apt+=(redis-server)
  command -v redis-sentinel >/dev/null || need_apt+=(redis-sentinel)
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
  # The media cache in front of MinIO (Debian's nginx has the slice module).
  command -v nginx >/dev/null || need_apt+=(nginx)
  # The HA topology (data.postgres.topology: ha) and its tests: pg_auto_failover, PgBouncer, pgBackRest, and promtool for the alert rules.
  [ -x /usr/bin/pg_autoctl ] || need_apt+=(pg-auto-failover-cli)
  [ -f /usr/lib/postgresql/15/lib/pgautofailover.so ] || need_apt+=(postgresql-15-auto-failover)
  [ -x /usr/sbin/pgbouncer ] || need_apt+=(pgbouncer)
  [ -x /usr/bin/pgbackrest ] || need_apt+=(pgbackrest)
  command -v promtool >/dev/null || need_apt+=(prometheus)
  # The Rust stream server links statically against glibc when the musl target
  # is not installed (+crt-static): that needs a C linker and libc.a.
  command -v cc >/dev/null || need_apt+=(gcc)
  [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f /usr/lib/aarch64-linux-gnu/libc.a ] || need_apt+=(libc6-dev)
  # The host baseline and observability tests run Debian's own checkers:
  # sshd -t, fail2ban-client -t, promtool, and the two exporters.
  [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
  command -v fail2ban-client >/dev/null || need_apt+=(fail2ban)
  command -v unattended-upgrade >/dev/null || need_apt+=(unattended-upgrades)
  command -v promtool >/dev/null || need_apt+=(prometheus)
  command -v prometheus-node-exporter >/dev/null || need_apt+=(prometheus-node-exporter)
  command -v prometheus-blackbox-exporter >/dev/null || need_apt+=(prometheus-blackbox-exporter)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing system packages: ${need_apt[*]} — install them with: sudo apt-get install ${need_apt[*]}"
    exit 1
  fi
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Go and Rust must be at least what the components' go.mod and Cargo.toml
# ask for; Debian 12's golang-go and cargo are older, so these are checked,
# not installed, and every gap is listed at the end.
missing=()
version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
check_toolchains() {
  go_want=$(sed -n 's/^go \([0-9.]*\).*/\1/p' apps/veza-api/go.mod)
  go_have=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || true
  if [ -z "$go_have" ]; then
    missing+=("Go >= $go_want (apps/veza-api/go.mod): no go on PATH — install the official Go tarball (e.g. into /usr/local/go) and add its bin/ to PATH")
  elif ! version_at_least "$go_have" "$go_want"; then
    missing+=("Go >= $go_want (apps/veza-api/go.mod): found $go_have on PATH — install a newer Go and put it first on PATH")
  fi
  cargo_bin=$(command -v cargo || echo "${CARGO_HOME:-$HOME/.cargo}/bin/cargo")
  rust_want=$(sed -n 's/^rust-version = "\([0-9.]*\)"/\1/p' apps/veza-stream/Cargo.toml)
  rust_have=$("$(dirname "$cargo_bin")/rustc" --version 2>/dev/null | awk '{print $2}') || true
  if [ ! -x "$cargo_bin" ] || [ -z "$rust_have" ]; then
    missing+=("Rust >= $rust_want (apps/veza-stream/Cargo.toml): no cargo on PATH or in ~/.cargo/bin — install it with rustup")
  elif ! version_at_least "$rust_have" "$rust_want"; then
    missing+=("Rust >= $rust_want (apps/veza-stream/Cargo.toml): found rustc $rust_have — run: rustup update stable")
  fi
}
$deploy_only || check_toolchains

# Debian's haproxy package starts a system service on :80; the pipeline runs
# its own HAProxy processes, so the packaged one is not needed.
# pgbouncer and prometheus likewise: the HA topology runs its own PgBouncer, and only promtool is used.
for unit in haproxy pgbouncer prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$unit" 2>/dev/null; then
    systemctl stop "$unit" || true
  fi
done

# Install exactly the lockfile, only when it changed since the last install.
# The lockfile must list every platform's optional native package for
# `npm ci` to accept it: @swc/core and rollup are pinned (package.json
# "overrides") to versions whose platform packages the registry serves.
stamp=node_modules/.veza-lock-stamp
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  log "installing npm dependencies from package-lock.json (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  printf '%s' "$lock_hash" > "$stamp"
fi
# npm ci runs it as postinstall; again here for a node_modules installed otherwise (quick, idempotent).
node tools/scripts/patch-nx.cjs

# The JS bundles Nx runs the executors and the component-nodes plugin from, and the veza CLI
# (tools/scripts/fresh-bundle.cjs); each entry rebuilds its bundle only when
# a source changed, so this is quick when nothing did.
node -e 'require("./tools/executors/executors.js"); require("./tools/generators/component-nodes.js"); require("./tools/veza/bin/veza.js").bundle()'

# Fill the module and crate caches the go and cargo presets use (outside the
# workspace, kept between runs), so a build after this downloads nothing; a
# second run finds them warm and returns at once.
if ! $deploy_only && [ ${#missing[@]} -eq 0 ]; then
  gomodcache="${GOMODCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/veza/go/mod}"
  if ! (cd apps/veza-api && GOMODCACHE="$gomodcache" GOFLAGS=-mod=readonly GOTOOLCHAIN=local go mod download >/dev/null); then
    missing+=("the Go modules of apps/veza-api/go.sum: the module proxy could not be reached — check the network and \`go env GOPROXY\`")
  fi
  if ! (cd apps/veza-stream && PATH="$(dirname "$cargo_bin"):$PATH" cargo fetch --locked --quiet); then
    missing+=("the crates of apps/veza-stream/Cargo.lock: the crate registry could not be reached — check the network and cargo's registry settings")
  fi
  # MinIO's minio and mc (not in Debian), built once per pinned version into the tools cache.
  if ! bash tools/scripts/minio-tools.sh >/dev/null; then
    missing+=("minio and mc (tools/scripts/minio-tools.sh): their Go modules could not be fetched or built — see its output")
  fi
  # The OpenTelemetry collector of tools/otelcol, built once per pinned version into the same cache.
  if ! bash tools/scripts/otelcol-build.sh >/dev/null; then
    missing+=("veza-otelcol (tools/scripts/otelcol-build.sh): the collector's Go modules could not be fetched or built — see its output")
  fi
  # act runs the generated deploy workflow in the CI runner test (test/ci).
  if ! bash tools/scripts/act-tool.sh >/dev/null; then
    missing+=("act (tools/scripts/act-tool.sh): its Go module could not be fetched or built — see its output")
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do log "missing: $m"; done
  exit 1
fi
