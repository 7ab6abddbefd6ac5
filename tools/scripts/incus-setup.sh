#!/usr/bin/env bash
# Prepares this machine for the real Incus test tier, idempotently: installs
# Incus (Debian backports on bookworm), starts incusd when no service manager
# runs it, creates the test's own storage pools (dir, and btrfs on a loop
# file for the snapshot benchmark) and bridge, and builds + imports
# the Debian base image (cached under /var/cache/veza-incus between runs).
# Every step checks before it acts and prints how long it took.
#
# The names below must match infra/environments/incus-test.yaml.
set -euo pipefail
cd "$(dirname "$0")/../.."
# `incus storage/network create` read YAML from a stdin that is not a
# terminal: a CI pipe left open would hang them.
exec </dev/null

POOL=${VEZA_INCUS_TEST_POOL:-veza-test-pool}
# The tier's pool: copy-on-write, so a deploy's data-tier snapshots cost
# what production's do (Incus makes its loop file itself,
# /var/lib/incus/disks/<pool>.img). The dir pool beside it is for
# bench/incus-snapshot-bench.ts's side-by-side and the runtime-image test.
BTRFS_POOL=${VEZA_INCUS_TEST_BTRFS_POOL:-veza-test-btrfs}
BTRFS_SIZE=${VEZA_INCUS_TEST_BTRFS_SIZE:-12GiB}
BRIDGE=${VEZA_INCUS_TEST_BRIDGE:-vezatestbr0}
# A private /24 of its own, with NAT as production's bridge has: containers
# install their packages from the Debian archive their image names, as
# production containers do (the data tier, the edge, runtime images).
BRIDGE_ADDR=${VEZA_INCUS_TEST_BRIDGE_ADDR:-10.231.77.1/24}
# Production launches images:debian/13: the tier's image is that release,
# built from the machine's own mirror (which serves it beside the host's).
SUITE=${VEZA_INCUS_TEST_SUITE:-trixie}
IMAGE=${VEZA_INCUS_TEST_IMAGE:-veza-test-base}
CACHE=${VEZA_INCUS_CACHE:-/var/cache/veza-incus}
LOG_DIR=/var/log/veza-incus
INCUSD=/usr/libexec/incus/incusd

# What goes into the base image: minbase plus what images:debian/13 ships
# for a system container — systemd as init (components run as hardened
# units), networkd + resolved + udev (networkd configures only the links
# udev has initialised) for DHCP and the bridge's DNS (<name>.incus),
# iproute2, procps and CA certificates. Nothing a component or a service
# needs: the pipeline installs that (runtime images, data tier, edge), as it
# must on production's image.
IMAGE_PACKAGES=(systemd-sysv systemd-resolved udev iproute2 procps ca-certificates)

log() { printf '[incus-setup] %s\n' "$*" >&2; }
die() { log "error: $1"; log "next: $2"; exit 1; }
now_ms() { date +%s%3N; }
timed() {
  local name=$1 start
  shift
  start=$(now_ms)
  "$@"
  log "$name: $(( $(now_ms) - start )) ms"
}

[ "$(id -u)" -eq 0 ] || die "the Incus tier needs root (it installs packages and runs incusd)" "run it as root, e.g. sudo npm run test:incus"

# shellcheck source=/dev/null # the machine's own file
codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "cannot read VERSION_CODENAME from /etc/os-release" "run this on Debian (bookworm or later)"

# The machine's own Debian source entry for $codename, as deb822 — the mirror
# is never written into the repo, it is read from the machine.
debian_stanza() {
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    awk -v RS= -v ORS='\n\n' -v s="$codename" '
      { for (i = 1; i <= NF; i++) if ($i == "Suites:") { for (j = i + 1; j <= NF && $j !~ /:$/; j++) if ($j == s) { print; next } } }
    ' /etc/apt/sources.list.d/debian.sources | grep -v '^#' | awk -v RS= 'NR == 1'
  elif [ -f /etc/apt/sources.list ]; then
    awk -v s="$codename" '$1 == "deb" && !/^#/ {
        n = 2; opts = ""
        if ($2 ~ /^\[/) { while ($n !~ /\]$/) { opts = opts " " $n; n++ } opts = opts " " $n; n++ }
        if ($(n + 1) == s) {
          printf "Types: deb\nURIs: %s\nSuites: %s\nComponents:", $n, s
          for (k = n + 2; k <= NF; k++) printf " %s", $k
          printf "\n"
          if (match(opts, /signed-by=[^] ]+/)) printf "Signed-By: %s\n", substr(opts, RSTART + 10, RLENGTH - 10)
          exit
        }
      }' /etc/apt/sources.list
  fi
}
stanza_field() { printf '%s\n' "$stanza" | awk -v f="$1:" '$1 == f { print $2; exit }'; }

stanza=$(debian_stanza)
[ -n "$stanza" ] || die "no Debian source entry for $codename in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" "add the machine's Debian mirror for $codename to apt's sources, then re-run"
mirror=$(stanza_field URIs)
keyring=$(stanza_field Signed-By)
[ -f "${keyring:-}" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg

export DEBIAN_FRONTEND=noninteractive

install_incus() {
  # Containers only: incus-base carries incusd and the client; the `incus`
  # package adds QEMU for VMs, which this tier never starts.
  if ! apt-cache show incus-base >/dev/null 2>&1; then
    local backports=/etc/apt/sources.list.d/veza-backports.sources
    log "adding ${codename}-backports (copied from the machine's $codename entry) as $backports"
    printf '%s\n' "$stanza" | sed "s/^Suites:.*/Suites: ${codename}-backports/" > "$backports"
    apt-get update -qq
  fi
  local target=()
  apt-cache policy incus-base | grep -q -- "-backports" && target=(-t "${codename}-backports")
  apt-get install -y -qq --no-install-recommends "${target[@]}" incus-base dnsmasq-base >"$LOG_DIR/apt-incus.log" 2>&1 \
    || die "apt-get install incus-base failed (log: $LOG_DIR/apt-incus.log)" "read the log; the backports entry is /etc/apt/sources.list.d/veza-backports.sources"
}

# incus-base ships sysctl files (the inotify instance limit: every container's
# systemd, journald, networkd... takes instances of the one user all
# unprivileged containers map to). A host with a service manager applies them
# at boot; here nothing does, and at the kernel's 128 about a dozen containers
# start with "Too many open files" and no DHCP address. Apply them as boot would.
apply_package_sysctls() {
  local f files
  files=$({ dpkg -L incus-base incus 2>/dev/null || true; } | grep -E '^/(etc|usr/lib)/sysctl\.d/.+\.conf$' | sort -u || true)
  [ -n "$files" ] || { log "no sysctl file from the incus packages: kernel defaults kept"; return; }
  for f in $files; do
    if [ -f "$f" ]; then sysctl -q -p "$f" >/dev/null; fi
  done
  log "applied $(printf '%s' "$files" | paste -sd' ') (fs.inotify.max_user_instances=$(cat /proc/sys/fs/inotify/max_user_instances))"
}

incusd_ready() { incus admin waitready --timeout="${1:-1}" >/dev/null 2>&1; }

start_incusd() {
  if incusd_ready 2; then log "incusd already running"; return; fi
  if [ -d /run/systemd/system ]; then
    systemctl start incus.service
  else
    # No service manager here (a container or a bare VM): run the daemon
    # ourselves, detached, with its own log.
    log "starting incusd (log: $LOG_DIR/incusd.log)"
    ulimit -n 1048576 2>/dev/null || true
    setsid "$INCUSD" --group incus-admin --logfile="$LOG_DIR/incusd.log" </dev/null >>"$LOG_DIR/incusd.out" 2>&1 &
    echo $! > "$LOG_DIR/incusd.pid"
  fi
  incusd_ready 60 || die "incusd did not become ready within 60 s" "read $LOG_DIR/incusd.log and $LOG_DIR/incusd.out"
}

ensure_pool() {
  if incus storage show "$POOL" >/dev/null 2>&1; then log "pool $POOL exists"; return; fi
  incus storage create "$POOL" dir
}

ensure_btrfs_pool() {
  if incus storage show "$BTRFS_POOL" >/dev/null 2>&1; then log "pool $BTRFS_POOL exists"; return; fi
  # The tier runs on it (snapshots of a dir pool copy whole root filesystems).
  grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null \
    || die "this kernel has no btrfs, which the tier's storage pool $BTRFS_POOL needs" "load the module (modprobe btrfs) or run the tier on a kernel that has it"

  command -v mkfs.btrfs >/dev/null || apt-get install -y -qq --no-install-recommends btrfs-progs >"$LOG_DIR/apt-btrfs.log" 2>&1 \
    || die "apt-get install btrfs-progs failed (log: $LOG_DIR/apt-btrfs.log)" "read the log's last lines"
  incus storage create "$BTRFS_POOL" btrfs size="$BTRFS_SIZE"
}

ensure_bridge() {
  if ! incus network show "$BRIDGE" >/dev/null 2>&1; then
    incus network create "$BRIDGE" ipv4.address="$BRIDGE_ADDR" ipv4.nat=true ipv6.address=none dns.domain=incus
    return
  fi
  # A bridge made by an earlier version of this script had NAT off.
  if [ "$(incus network get "$BRIDGE" ipv4.nat)" != true ]; then
    log "bridge $BRIDGE: turning NAT on"
    incus network set "$BRIDGE" ipv4.nat=true
  fi
  log "bridge $BRIDGE exists (NAT on)"
}

image_current() { incus image show "$IMAGE" 2>/dev/null | grep -q "veza_recipe: \"\?$recipe_hash"; }

build_rootfs() {
  local build=$1 root=$1/rootfs
  rm -rf "$build"
  mkdir -p "$root"
  command -v debootstrap >/dev/null || apt-get install -y -qq --no-install-recommends debootstrap >"$LOG_DIR/apt-debootstrap.log" 2>&1
  log "debootstrap $SUITE (minbase) from the machine's Debian mirror"
  debootstrap --variant=minbase --keyring="$keyring" --components=main "$SUITE" "$root" "$mirror" >"$LOG_DIR/debootstrap.log" 2>&1 \
    || die "debootstrap $SUITE failed (log: $LOG_DIR/debootstrap.log)" "read the log's last lines; the mirror must serve $SUITE (set VEZA_INCUS_TEST_SUITE to one it serves)"
  # Packages are installed inside the chroot with services forbidden to
  # start, so no daemon outlives the build.
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc"
  local status=0
  chroot "$root" apt-get install -y -q --no-install-recommends "${IMAGE_PACKAGES[@]}" >"$LOG_DIR/image-packages.log" 2>&1 || status=$?
  umount "$root/proc"
  [ $status -eq 0 ] || die "installing the image packages failed (log: $LOG_DIR/image-packages.log)" "read the log's last lines"
  rm -f "$root/usr/sbin/policy-rc.d"
  chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
  cat > "$root/etc/systemd/network/20-eth0.network" <<'EOF'
[Match]
Name=eth0

[Network]
DHCP=ipv4
EOF
  ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
  # Every container must make its own machine-id: networkd derives its DHCP
  # client id from it, and a shared one would hand every container one lease.
  : > "$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log
}

write_metadata() {
  local build=$1
  mkdir -p "$build/templates"
  printf '{{ instance.name }}\n' > "$build/templates/hostname.tpl"
  printf '127.0.0.1 localhost\n127.0.1.1 {{ instance.name }}\n' > "$build/templates/hosts.tpl"
  cat > "$build/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: Veza test base (Debian $SUITE minbase)
  os: debian
  release: $SUITE
  veza_recipe: "$recipe_hash"
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
  /etc/hosts:
    when: [create, copy]
    template: hosts.tpl
EOF
}

# The recipe's hash names the cached tarball and is stored on the image, so a
# change to the package list rebuilds instead of reusing a stale image.
recipe_hash=$(printf '%s\n' "$SUITE" "${IMAGE_PACKAGES[*]}" "$(declare -f build_rootfs write_metadata)" | sha256sum | cut -c1-16)
tarball="$CACHE/${IMAGE}-${recipe_hash}.tar.zst"

ensure_image() {
  if image_current; then log "image $IMAGE is current (recipe $recipe_hash)"; return; fi
  mkdir -p "$CACHE"
  if [ ! -f "$tarball" ]; then
    local build="$CACHE/build"
    timed "debootstrap + packages" build_rootfs "$build"
    write_metadata "$build"
    timed "pack rootfs" tar --numeric-owner --xattrs -C "$build" -I 'zstd -T0 -3' -cf "$tarball.tmp" metadata.yaml templates rootfs
    mv "$tarball.tmp" "$tarball"
    rm -rf "$build"
    # Older recipes' tarballs are dead weight once a new one exists.
    find "$CACHE" -maxdepth 1 -name "${IMAGE}-*.tar.zst" ! -name "$(basename "$tarball")" -delete
  fi
  incus image delete "$IMAGE" >/dev/null 2>&1 || true
  timed "image import" incus image import "$tarball" --alias "$IMAGE" >/dev/null
}

mkdir -p "$LOG_DIR"
total=$(now_ms)
if command -v incus >/dev/null && [ -x "$INCUSD" ]; then log "incus $(incus version 2>/dev/null | awk '/Client/ { print $3 }') installed"; else timed "install incus" install_incus; fi
timed "kernel limits" apply_package_sysctls
timed "start incusd" start_incusd
timed "storage pool $POOL" ensure_pool
timed "storage pool $BTRFS_POOL" ensure_btrfs_pool
timed "bridge $BRIDGE" ensure_bridge
timed "image $IMAGE" ensure_image
log "ready in $(( $(now_ms) - total )) ms"
