#!/usr/bin/env bash
# Build (or reuse) a Debian 12 systemd host image for podman, offline: debootstrap from the Debian
# mirror in this machine's apt sources, `podman import`, and a thin layer that gives every container
# its own machine-id and SSH host keys. Prepares podman on this machine kind first, only where needed.
#
#   tools/podman_image.sh [--build] [IMAGE]  build IMAGE (default: localhost/keepalive-debian12:latest)
#   tools/podman_image.sh --pull IMAGE       use a registry's image instead: pull it unless present
#   eval "$(tools/podman_image.sh --env)"  podman's environment (storage and limits of this project)
#
# Storage lives under $KEEPALIVE_PODMAN_DIR (default: /var/tmp/keepalive-ssh-podman; outside the checkout,
# which tools such as ansible-lint walk), never in /var/lib/containers. A second run finds the image (same recipe hash) and takes a second or two.
# Users with a registry do not need this: see docs/testing.md ("Containers").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${KEEPALIVE_PODMAN_DIR:-/var/tmp/keepalive-ssh-podman}
export CONTAINERS_STORAGE_CONF=$dir/storage.conf CONTAINERS_CONF=$dir/containers.conf

if [ "${1:-}" = "--env" ]; then
  echo "export CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF CONTAINERS_CONF=$CONTAINERS_CONF"
  exit 0
fi
pull=
case "${1:-}" in --pull) pull=1; shift ;; --build) shift ;; esac
image=${1:-localhost/keepalive-debian12:latest}
say() { echo "podman_image: $*" >&2; }

# -- packages (a fresh machine has none of them) ---------------------------------------------
need=()
for cmd in podman:podman crun:crun debootstrap:debootstrap fuse-overlayfs:fuse-overlayfs \
           slirp4netns:slirp4netns newuidmap:uidmap; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

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
if [ -n "$pull" ]; then
  podman image exists "$image" || podman pull -q "$image" >/dev/null
  say "using $image"
  exit 0
fi
suite=bookworm
packages=systemd,systemd-sysv,openssh-server,openssh-client,python3,sudo,iproute2,procps
# the recipe: any change to it (or to this script) builds a new image
recipe=$(cat "$0"; echo "$suite $packages")
hash=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
if [ "$(podman image inspect --format '{{index .Labels "keepalive.recipe"}}' "$image" 2>/dev/null)" = "$hash" ]; then
  say "$image is up to date (recipe $hash)"
  exit 0
fi

mirror=${KEEPALIVE_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -h -E '^URIs:|^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
             /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security |
           sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' |
           awk 'NR == 1 {print $1}' || true)
fi
[ -n "$mirror" ] || { say "no Debian mirror found in /etc/apt/sources*; set KEEPALIVE_DEBIAN_MIRROR"; exit 1; }

rootfs_tar=$dir/cache/$suite-$(printf '%s' "$suite $packages" | sha256sum | cut -c1-12).tar
if [ ! -s "$rootfs_tar" ]; then
  work=$(mktemp -d "$dir/debootstrap.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  say "debootstrap $suite from $mirror (about a minute)"
  debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/log" 2>&1 ||
    { tail -20 "$work/log" >&2; exit 1; }
  # no package caches, no identity: each container gets its own (below)
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  mkdir -p "$dir/cache"
  tar -C "$work/rootfs" --numeric-owner -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work"; trap - EXIT
fi

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
LABEL keepalive.recipe=$hash keepalive.rootfs-bytes=$tar_size
CMD ["/sbin/init"]
STOPSIGNAL SIGRTMIN+3
EOF
podman build --pull=never -q -t "$image" "$ctx" >/dev/null 2>&1 ||
  { podman build --pull=never -t "$image" "$ctx" >&2; exit 1; }
rm -rf "$ctx"
podman image rm "$base" >/dev/null 2>&1 || true
podman image prune -f >/dev/null 2>&1 || true  # earlier builds of this storage
say "built $image (recipe $hash)"
