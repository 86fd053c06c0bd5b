#!/bin/busybox sh
# initramfs PID 1: a tmpfs root made of the host's /usr (read-only) and /etc (read-only,
# with a tmpfs overlay so the guest may write), plus shares named on the kernel command
# line as vm.share=<tag>:<path> (mounted at the same path), then switch_root to vm.init.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod "/mods/$m" || echo "insmod $m failed"; done
init=/bin/sh
shares=""
for a in $(cat /proc/cmdline); do
    case "$a" in
        vm.init=*) init=${a#vm.init=} ;;
        vm.share=*) shares="$shares ${a#vm.share=}" ;;
    esac
done
n=/newroot
mount -t tmpfs -o mode=0755,size=512m root $n
mkdir -p $n/usr $n/etc $n/proc $n/sys $n/dev $n/run $n/tmp $n/root $n/var/tmp $n/var/lib $n/var/log $n/.etc
chmod 1777 $n/tmp $n/var/tmp
for l in bin sbin lib lib64; do ln -s usr/$l $n/$l; done
o9="trans=virtio,version=9p2000.L,msize=524288"
mount -t 9p -o $o9,ro,cache=loose usr $n/usr || echo "FATAL: 9p usr"
mkdir -p $n/.etc/lower $n/.etc/up
mount -t 9p -o $o9,ro,cache=loose etc $n/.etc/lower || echo "FATAL: 9p etc"
mount -t tmpfs tmpfs $n/.etc/up && mkdir -p $n/.etc/up/u $n/.etc/up/w
mount -t overlay overlay -o lowerdir=$n/.etc/lower,upperdir=$n/.etc/up/u,workdir=$n/.etc/up/w $n/etc \
    || mount --bind $n/.etc/lower $n/etc
for s in $shares; do
    tag=${s%%:*}; path=${s#*:}
    mkdir -p "$n$path"
    mount -t 9p -o $o9,cache=none "$tag" "$n$path" || echo "FATAL: 9p $tag ($path)"
done
mount --move /proc $n/proc
mount --move /sys $n/sys
mount --move /dev $n/dev
exec switch_root $n "$init"
