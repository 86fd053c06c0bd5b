#!/bin/bash
# Boot artefacts for the real-kernel tier, into $1 (a cache directory):
#   vmlinux         the distribution kernel, uncompressed (qemu boots its PVH entry directly,
#                   skipping the in-guest decompressor: ~1-2 s saved under TCG)
#   initramfs.cpio  static busybox + the modules to mount the host's /usr and /etc over 9p
# Needs linux-image-amd64, busybox-static, cpio, kmod, xz-utils (scripts/setup --test).
set -euo pipefail
work=$1
here=$(cd "$(dirname "$0")" && pwd)
kver=${KVER:-$(ls /lib/modules | grep -- '-amd64$' | sort -V | tail -1)}
mkdir -p "$work"

if [[ ! -s "$work/vmlinux" || "/boot/vmlinuz-$kver" -nt "$work/vmlinux" ]]; then
    # Debian's bzImage carries an xz stream: cut it out and decompress it.
    python3 - "/boot/vmlinuz-$kver" "$work/vmlinux.xz" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xfd7zXZ\x00")
open(sys.argv[2], "wb").write(data[at:] if at >= 0 else b"")
PY
    xz -dc "$work/vmlinux.xz" > "$work/vmlinux" 2>/dev/null || true  # trailing bytes: harmless
    rm -f "$work/vmlinux.xz"
    readelf -h "$work/vmlinux" >/dev/null 2>&1 || cp "/boot/vmlinuz-$kver" "$work/vmlinux"
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,newroot,mods}
cp /bin/busybox "$root/bin/busybox"
order=""
for m in virtio_pci 9pnet_virtio 9p overlay; do
    for f in $(modprobe -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}'); do
        b=$(basename "$f")
        case " $order " in *" $b "*) ;; *) cp "$f" "$root/mods/"; order="$order $b" ;; esac
    done
done
echo "$order" > "$root/mods/order"
install -m 0755 "$here/init.sh" "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) > "$work/initramfs.cpio"
echo "$kver" > "$work/kernel-version"
