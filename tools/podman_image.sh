#!/usr/bin/env bash
# Build (or reuse) a Debian systemd host image for podman, one per suite (one OpenSSH version each),
# offline: debootstrap from the Debian mirror in this machine's apt sources, `podman import`, and a thin
# layer that gives every container its own machine-id and SSH host keys. Prepares podman on this machine
# kind first, only where needed.
#
#   tools/podman_image.sh [--suite S] [--build] [IMAGE]  build IMAGE (default per suite, below)
#   tools/podman_image.sh [--suite S] --rootfs-tar       print the suite's cached rootfs tarball (built
#                                                        if missing; needs debootstrap only, no podman)
#   tools/podman_image.sh --pull IMAGE                   use a registry's image instead: pull it unless present
#   tools/podman_image.sh [--suite S] --image-name       print the suite's default image name
#   eval "$(tools/podman_image.sh --env)"              podman's environment (storage and limits of this project)
#
# Suites (default bookworm): bullseye = Debian 11, OpenSSH 8.4p1 -> localhost/keepalive-debian11:latest;
# bookworm = Debian 12, 9.2p1 -> keepalive-debian12; trixie = Debian 13, 10.0p2 -> keepalive-debian13;
# sid = the newest -> keepalive-debian-sid.
#
# Storage lives under $KEEPALIVE_PODMAN_DIR (default: /var/tmp/keepalive-ssh-podman; outside the checkout,
# which tools such as ansible-lint walk), never in /var/lib/containers; the rootfs tarballs in its
# cache/SUITE-HASH.tar. A second run finds the image (same recipe hash) and takes a second or two.
# Users with a registry do not need this: see docs/testing.md ("Containers").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${KEEPALIVE_PODMAN_DIR:-/var/tmp/keepalive-ssh-podman}
export CONTAINERS_STORAGE_CONF=$dir/storage.conf CONTAINERS_CONF=$dir/containers.conf
say() { echo "podman_image: $*" >&2; }

if [ "${1:-}" = "--env" ]; then
  echo "export CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF CONTAINERS_CONF=$CONTAINERS_CONF"
  exit 0
fi
mode=build suite=bookworm image=
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) suite=${2:?--suite needs a name}; shift 2 ;;
    --suite=*) suite=${1#--suite=}; shift ;;
    --pull) mode=pull; shift ;;
    --build) mode=build; shift ;;
    --rootfs-tar) mode=rootfs; shift ;;
    --image-name) mode=name; shift ;;
    -*) echo "podman_image: unknown option $1" >&2; exit 2 ;;
    *) image=$1; shift ;;
  esac
done
# The package list is the same for all four suites (each debootstraps with it); sshd's unit is
# ssh.service in each (trixie and sid also ship ssh.socket, disabled by default).
case "$suite" in
  bullseye) tag=debian11 ;;
  bookworm) tag=debian12 ;;
  trixie) tag=debian13 ;;
  sid) tag=debian-sid ;;
  *) echo "podman_image: unknown suite '$suite' (bullseye, bookworm, trixie, sid)" >&2; exit 2 ;;
esac
image=${image:-localhost/keepalive-$tag:latest}
if [ "$mode" = name ]; then echo "$image"; exit 0; fi

# -- packages (a fresh machine has none of them) ---------------------------------------------
install_missing() {
  local need=() cmd
  for cmd in "$@"; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd#*:}")
  done
  [ ${#need[@]} -eq 0 ] && return
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

packages=systemd,systemd-sysv,openssh-server,openssh-client,python3,sudo,iproute2,procps
# The rootfs tarball of $suite, debootstrapped once into $dir/cache (several callers may ask at once: a lock).
rootfs_tar=$dir/cache/$suite-$(printf '%s' "$suite $packages" | sha256sum | cut -c1-12).tar
build_rootfs_tar() {
  [ -s "$rootfs_tar" ] && return
  install_missing debootstrap:debootstrap
  mkdir -p "$dir/cache"
  exec 9>"$rootfs_tar.lock"
  flock 9
  if [ ! -s "$rootfs_tar" ]; then
    local mirror=${KEEPALIVE_DEBIAN_MIRROR:-}
    if [ -z "$mirror" ]; then
      mirror=$(grep -h -E '^URIs:|^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
                 /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security |
               sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' |
               awk 'NR == 1 {print $1}' || true)
    fi
    [ -n "$mirror" ] || { say "no Debian mirror found in /etc/apt/sources*; set KEEPALIVE_DEBIAN_MIRROR"; exit 1; }
    work=$(mktemp -d "$dir/debootstrap.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    say "debootstrap $suite from $mirror (about a minute)"
    debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/log" 2>&1 ||
      { tail -20 "$work/log" >&2; exit 1; }
    # no package caches, no identity: each container gets its own (below)
    rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
    tar -C "$work/rootfs" --numeric-owner -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$work"; trap - EXIT
  fi
  exec 9>&-
}

if [ "$mode" = rootfs ]; then
  build_rootfs_tar
  echo "$rootfs_tar"
  exit 0
fi
install_missing podman:podman crun:crun debootstrap:debootstrap fuse-overlayfs:fuse-overlayfs \
  slirp4netns:slirp4netns newuidmap:uidmap

# -- podman's configuration for this project ------------------------------------------------
mkdir -p "$dir"
cat >"$dir/storage.conf.new" <<EOF
# written by tools/podman_image.sh: this project's images and containers only
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$dir/run"
EOF
# root here cannot raise its hard limits; podman's defaults ask for more and crun fails
# ("setrlimit RLIMIT_NOFILE/RLIMIT_NPROC: Operation not permitted"): ask for what the limits allow.
limit() { local hard=$1 want=$2; [ "$hard" = unlimited ] && echo "$want" || echo $(( hard < want ? hard : want )); }
nofile=$(limit "$(ulimit -Hn)" 20000)
nproc=$(limit "$(ulimit -Hu)" 32768)
cat >"$dir/containers.conf.new" <<EOF
# written by tools/podman_image.sh
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
EOF
for f in storage.conf containers.conf; do
  cmp -s "$dir/$f.new" "$dir/$f" && rm "$dir/$f.new" || mv "$dir/$f.new" "$dir/$f"
done

# cgroup v1 with only hugetlb on the v2 side ("hybrid") makes crun refuse to start containers:
# mounting hugetlb on a v1 hierarchy moves it off v2 (until reboot). Only when that is the case.
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [ -r "$unified" ] && grep -qw hugetlb "$unified"; then
  say "moving the hugetlb cgroup controller off cgroup v2 (crun cannot run in hybrid mode)"
  mkdir -p /sys/fs/cgroup/hugetlb
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
fi

# -- the image ---------------------------------------------------------------------------------
if [ "$mode" = pull ]; then
  podman image exists "$image" || podman pull -q "$image" >/dev/null
  say "using $image"
  exit 0
fi
# the recipe: any change to it (or to this script) builds a new image
recipe=$(cat "$0"; echo "$suite $packages")
hash=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
if [ "$(podman image inspect --format '{{index .Labels "keepalive.recipe"}}' "$image" 2>/dev/null)" = "$hash" ]; then
  say "$image is up to date (recipe $hash)"
  exit 0
fi
build_rootfs_tar

say "importing $image"
base=$image-rootfs
tar_size=$(stat -c %s "$rootfs_tar")
podman import -q --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL=SIGRTMIN+3' "$rootfs_tar" "$base" >/dev/null
ctx=$(mktemp -d)
cat >"$ctx/Containerfile" <<EOF
FROM $base
# Each container: its own machine-id (systemd writes one at boot) and its own host keys (generated
# before sshd starts). sshd's privilege-separation directory exists before the first reload.
RUN : >/etc/machine-id && rm -f /var/lib/dbus/machine-id /etc/ssh/ssh_host_* \\
 && mkdir -p /etc/systemd/system/ssh.service.d \\
 && printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \\
    >/etc/systemd/system/ssh.service.d/hostkeys.conf \\
 && systemctl enable ssh.service \\
 && systemctl mask getty@tty1.service console-getty.service systemd-logind.service 2>/dev/null || true
LABEL keepalive.recipe=$hash keepalive.suite=$suite keepalive.rootfs-bytes=$tar_size
CMD ["/sbin/init"]
STOPSIGNAL SIGRTMIN+3
EOF
podman build --pull=never -q -t "$image" "$ctx" >/dev/null 2>&1 ||
  { podman build --pull=never -t "$image" "$ctx" >&2; exit 1; }
rm -rf "$ctx"
podman image rm "$base" >/dev/null 2>&1 || true
podman image prune -f >/dev/null 2>&1 || true  # earlier builds of this storage
say "built $image (recipe $hash)"
