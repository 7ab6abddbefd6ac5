#!/usr/bin/env bash
# Installs what the pipeline and its tests need on a fresh Debian machine,
# idempotently: each step checks before it acts, so a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '[setup] %s\n' "$*" >&2; }

need_apt=()
command -v haproxy >/dev/null || need_apt+=(haproxy)
command -v go >/dev/null || need_apt+=(golang-go)
command -v zstd >/dev/null || need_apt+=(zstd)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v runuser >/dev/null || need_apt+=(util-linux)
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
[ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] || [ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)

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

# Debian's haproxy package starts a system service on :80; the pipeline runs
# its own HAProxy processes, so the packaged one is not needed.
if command -v systemctl >/dev/null && systemctl is-active --quiet haproxy 2>/dev/null; then
  systemctl stop haproxy || true
fi

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

# The JS bundles Nx runs the executors and the component-nodes plugin from
# (tools/scripts/fresh-bundle.cjs); each entry rebuilds its bundle only when
# a source changed, so this is quick when nothing did.
node -e 'require("./tools/executors/executors.js"); require("./tools/generators/component-nodes.js")'
