#!/usr/bin/env bash
# Build the BlueZ test VM from Debian packages: a kernel and a root file system.
#
#   tools/bluez-vm/build.sh            build (or reuse) the image; print its folder
#   tools/bluez-vm/build.sh --key      print the cache key only
#
# The image lives in ${XDG_CACHE_HOME:-~/.cache}/tproutine/bluez-vm/<key>/ and is
# keyed by everything that goes into it (this folder's scripts, pyproject.toml,
# the pinned Python packages, the Debian suite and mirror), so changing any of
# them builds a new one and a second run reuses the first. The project's own code
# is NOT in the image: the guest imports it from the checkout over a 9p share.
#
# Needs root (debootstrap and chroot), network (the Debian mirror and PyPI),
# debootstrap and cpio. Exit status 3 means "cannot build here", with one line
# saying why, so callers can skip rather than fail.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SUITE="${BLUEZ_VM_SUITE:-bookworm}"
CANNOT=3

say() { printf 'bluez-vm: %s\n' "$*" >&2; }
cannot() { say "cannot build the image: $*"; exit "$CANNOT"; }

# The Debian mirror apt already uses here (a deb822 "URIs:" or a one-line "deb"
# entry for .../debian), else the public one.
mirror() {
  if [ -n "${BLUEZ_VM_MIRROR:-}" ]; then echo "$BLUEZ_VM_MIRROR"; return; fi
  local found
  found="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE '(https?)://[^ ]*/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
  echo "${found:-http://deb.debian.org/debian}"
}
MIRROR="$(mirror)"

# Python packages for the guest's venv: the project's dependencies, the simulator
# extra and the test runner, at the versions the host's .venv resolved (so the
# guest runs what `make test` runs).
requirements() {
  python3 - "$ROOT/pyproject.toml" <<'PY'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
wanted = list(project["dependencies"]) + list(project["optional-dependencies"]["sim"])
# tests/conftest.py (loaded for tests/bluez too) sets up hypothesis.
runner = ("pytest", "pytest-asyncio", "pytest-timeout", "hypothesis")
for spec in project["optional-dependencies"]["dev"]:
    name = re.split(r"[<>=!~ ;\[]", spec, maxsplit=1)[0]
    if name in runner:
        wanted.append(spec)
print("\n".join(wanted))
PY
}
host_pip() {
  if [ -x "$ROOT/.venv/bin/python" ]; then "$ROOT/.venv/bin/python" -m pip "$@"; else python3 -m pip "$@"; fi
}
constraints() {
  if [ -x "$ROOT/.venv/bin/python" ]; then
    "$ROOT/.venv/bin/python" -m pip freeze --exclude-editable 2>/dev/null | grep -v '^-e ' || true
  fi
}

cache_key() {
  {
    echo "suite=$SUITE mirror=$MIRROR"
    cat "$HERE/build.sh" "$HERE/init" "$HERE/boot-init" "$HERE/packages"
    requirements
    constraints
  } | sha256sum | cut -c1-16
}

KEY="$(cache_key)"
if [ "${1:-}" = "--key" ]; then echo "$KEY"; exit 0; fi

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tproutine/bluez-vm"
OUT="$CACHE/$KEY"
if [ -f "$OUT/ready" ]; then
  echo "$OUT"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || cannot "debootstrap and chroot need root (run as root, or in CI)"
command -v debootstrap >/dev/null || cannot "debootstrap is not installed (apt-get install debootstrap)"
command -v cpio >/dev/null || cannot "cpio is not installed (apt-get install cpio)"
command -v mke2fs >/dev/null || cannot "mke2fs is not installed (apt-get install e2fsprogs)"
command -v python3 >/dev/null || cannot "python3 is not installed"

mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/build.XXXXXX")"
FS="$WORK/rootfs"
cleanup() {
  for m in "$FS/proc" "$FS/sys" "$FS/dev"; do
    mountpoint -q "$m" 2>/dev/null && umount -l "$m"
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

started=$(date +%s)
say "building image $KEY ($SUITE from $MIRROR) in $WORK"

# 1. The root file system: minbase plus ./packages. debootstrap's result is kept
# as a tarball keyed by suite, mirror and package list, so a change elsewhere
# (pyproject.toml, the init script) rebuilds in a minute instead of several.
include="$(grep -v '^#' "$HERE/packages" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')"
base="$CACHE/debootstrap-$(echo "$SUITE $MIRROR $include" | sha256sum | cut -c1-16).tar"
if [ -f "$base" ]; then
  mkdir -p "$FS" && tar -C "$FS" -xf "$base"
  say "debootstrap reused from $base"
else
  debootstrap --variant=minbase --include="$include" "$SUITE" "$FS" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -n 20 "$WORK/debootstrap.log" >&2; cannot "debootstrap failed (log above)"; }
  tar -C "$FS" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  say "debootstrap done ($(( $(date +%s) - started )) s)"
fi

mount -t proc proc "$FS/proc"
mount --bind /dev "$FS/dev"
cp /etc/resolv.conf "$FS/etc/resolv.conf"
in_root() { chroot "$FS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

# 2. The kernel: Debian's linux-image-amd64, unpacked (not installed: no initramfs
# tools, no bootloader). The root file system keeps only the modules the VM
# loads; the boot initramfs holds the few that mount the root disk.
in_root apt-get update -qq
kernel_pkg="$(in_root apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
[ -n "$kernel_pkg" ] || cannot "no kernel package behind linux-image-amd64 on $MIRROR"
in_root sh -c "cd /tmp && apt-get download -qq $kernel_pkg && dpkg-deb -x ${kernel_pkg}_*.deb /tmp/kernel && rm ${kernel_pkg}_*.deb"
kver="$(ls "$FS/tmp/kernel/lib/modules")"
cp "$FS/tmp/kernel/boot/vmlinuz-$kver" "$WORK/vmlinuz"
mkdir -p "$FS/lib/modules"
mv "$FS/tmp/kernel/lib/modules/$kver" "$FS/lib/modules/$kver"
rm -rf "$FS/tmp/kernel"
in_root depmod "$kver"
# Module paths, dependencies first, for the modules named.
needs() { in_root sh -c "for m in $*; do modprobe -S $kver --show-depends \$m; done" | awk '$1 == "insmod" && !seen[$2]++ {print $2}'; }
boot_modules="$(needs virtio_pci virtio_blk ext4)"
# cmac and ecdh_generic: the Security Manager's crypto (without them the kernel
# says "Unable to create CMAC crypto context" and LE pairing cannot work).
keep="$(needs virtio_pci virtio_blk ext4 virtio_rng 9pnet_virtio 9p hci_vhci bluetooth cmac ecdh_generic)"
BOOT="$WORK/boot"
mkdir -p "$BOOT/bin" "$BOOT/modules" "$BOOT/dev" "$BOOT/proc" "$BOOT/sys" "$BOOT/root"
cp "$FS/usr/bin/busybox" "$BOOT/bin/busybox"
for path in $boot_modules; do
  cp "$FS$path" "$BOOT/modules/"
  basename "$path" >>"$BOOT/modules/order"
done
install -m 0755 "$HERE/boot-init" "$BOOT/init"
mv "$FS/lib/modules/$kver" "$WORK/all-modules"
mkdir -p "$FS/lib/modules/$kver"
cp "$WORK/all-modules"/modules.order "$WORK/all-modules"/modules.builtin* "$FS/lib/modules/$kver/"
for path in $keep; do
  mkdir -p "$FS$(dirname "$path")"
  cp "$WORK/all-modules/${path#/lib/modules/$kver/}" "$FS$path"
done
in_root depmod "$kver"
say "kernel $kver, $(echo "$keep" | wc -w) modules ($(( $(date +%s) - started )) s)"

# 3. The Python venv (the guest has no network). Wheels come through the host's
# own pip (its index, proxy and certificates), built for the guest's Python; the
# guest installs them offline. The project itself is not installed: the guest
# imports it from the 9p share (tools/bluez-vm/init).
guest_py="$(in_root python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
requirements >"$WORK/requirements.txt"
constraints >"$WORK/constraints.txt"
mkdir -p "$FS/tmp/wheels"
platforms=""
for p in manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_28_x86_64 \
  manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux_2_35_x86_64 manylinux_2_36_x86_64; do
  platforms="$platforms --platform $p"
done
# shellcheck disable=SC2086 # one word per flag
host_pip download --quiet --dest "$FS/tmp/wheels" --only-binary=:all: \
  --python-version "$guest_py" --implementation cp $platforms \
  -r "$WORK/requirements.txt" -c "$WORK/constraints.txt" >"$WORK/pip.log" 2>&1 \
  || { grep -v "WARNING: Location" "$WORK/pip.log" | tail -n 20 >&2; cannot "pip could not download the guest's packages (log above)"; }
cp "$WORK/requirements.txt" "$WORK/constraints.txt" "$FS/tmp/"
in_root python3 -m venv /opt/venv
in_root /opt/venv/bin/pip install --quiet --no-cache-dir --disable-pip-version-check \
  --no-index --find-links /tmp/wheels -r /tmp/requirements.txt -c /tmp/constraints.txt \
  || cannot "pip could not install the guest's packages"
site="$(in_root /opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
echo /mnt/src >"$FS$site/tproutine-checkout.pth"
cat >"$FS/opt/venv/bin/tproutine" <<'SH'
#!/opt/venv/bin/python
import sys
from tproutine.cli import main
sys.exit(main())
SH
chmod +x "$FS/opt/venv/bin/tproutine"
in_root /opt/venv/bin/python -m compileall -q "$site" >/dev/null || true
in_root /opt/venv/bin/pip freeze >"$WORK/guest-packages.txt"
say "venv ready ($(( $(date +%s) - started )) s)"

# 4. The guest's init, trimming, then two files: the root disk (ext4, made from
# the folder without mounting anything; qemu opens it with snapshot=on, so the
# cached image is never written) and a small boot initramfs (busybox and the
# modules that mount the disk). Files on the disk are read only when used, so
# boot does not pay for the whole venv the way a root initramfs does.
install -m 0755 "$HERE/init" "$FS/init"
rm -f "$FS/etc/resolv.conf"
rm -rf "$FS"/var/lib/apt/lists/* "$FS"/var/cache/apt/* "$FS"/usr/share/doc/* \
  "$FS"/usr/share/man/* "$FS"/usr/share/info/* "$FS"/usr/share/locale/* "$FS"/tmp/*
for m in "$FS/proc" "$FS/dev"; do umount -l "$m"; done
mkdir -p "$FS/mnt/src" "$FS/mnt/out"
size_mb=$(( $(du -sm "$FS" | cut -f1) * 13 / 10 + 64 ))
mke2fs -q -t ext4 -O ^has_journal -L bluez-vm -d "$FS" "$WORK/root.img" "${size_mb}M" >/dev/null \
  || cannot "mke2fs could not make the root disk"
( cd "$BOOT" && find . -print0 | cpio --null -o -H newc --quiet ) | gzip -1 >"$WORK/boot.cpio.gz"
echo "$kver" >"$WORK/kernel-version"
{
  echo "key=$KEY suite=$SUITE mirror=$MIRROR kernel=$kernel_pkg"
  echo "built=$(date -u +%FT%TZ) seconds=$(( $(date +%s) - started ))"
  echo "root_disk_mb=$size_mb"
} >"$WORK/build-info"

rm -rf "$FS" "$BOOT" "$WORK/all-modules"
mkdir -p "$OUT"
mv "$WORK/vmlinuz" "$WORK/root.img" "$WORK/boot.cpio.gz" "$WORK/kernel-version" "$WORK/build-info" \
  "$WORK/guest-packages.txt" "$OUT/"
touch "$OUT/ready"
# Keep the three newest images (other checkouts may use other keys), drop the rest.
ls -1dt "$CACHE"/*/ready 2>/dev/null | tail -n +4 | while read -r stale; do rm -rf "$(dirname "$stale")"; done
say "image ready in $(( $(date +%s) - started )) s: $OUT (root disk ${size_mb} MB)"
echo "$OUT"
