#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# guest-image.sh [--force] [DIR]: build the QEMU guest image of hvnet labs
# from Debian packages only: the distribution kernel (linux-image-amd64) and a
# small initramfs made of busybox-static, the virtio modules the guest needs
# and an init (below) that configures every NIC from the kernel command line
# and serves the exec channel of `hvnetctl lab exec`.
#
# DIR (default: $HVNET_GUEST_IMAGE_DIR, else /var/cache/hvnet/guest) gets
#   vmlinuz      the kernel, copied from /boot
#   initrd.img   the initramfs (newc cpio, gzip)
#   stamp        what it was built from; the image is rebuilt when that changes
# Nothing is downloaded. Prints one line per step; exit 0 when the image is
# ready (built or already up to date), 1 with a message otherwise.
#
# The kernel command line the init reads (written by vmm/qemu.c):
#   hvnet.name=GUEST
#   hvnet.nic=NAME,MAC,MTU,ADDR/PLEN+ADDR/PLEN,GW4,GW6   one per NIC; empty
#                                                        fields are allowed
# The NIC whose MAC is MAC is renamed NAME, gets MTU (when not 0), the
# addresses, and default routes via GW4 / GW6 (the first NIC with one wins).
set -eu

force=0
if [ "${1:-}" = "--force" ]; then
	force=1
	shift
fi
dir=${1:-${HVNET_GUEST_IMAGE_DIR:-/var/cache/hvnet/guest}}
modules="virtio_pci virtio_net virtio_console"

die() {
	echo "guest-image: $*" >&2
	exit 1
}

kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || die "no kernel in /boot: apt-get install linux-image-amd64 (scripts/install-deps.sh)"
kver=${kernel#/boot/vmlinuz-}
[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver for $kernel: reinstall linux-image-$kver"
[ -x /bin/busybox ] || die "no /bin/busybox: apt-get install busybox-static"
busybox --list | grep -qx ash || die "/bin/busybox has no shell: install busybox-static, not busybox"
command -v cpio >/dev/null || die "cpio is not installed (apt-get install cpio)"
command -v modprobe >/dev/null || die "modprobe is not installed (apt-get install kmod)"

self_sum=$(sha256sum "$0" | cut -d' ' -f1)
bb_sum=$(sha256sum /bin/busybox | cut -d' ' -f1)
k_sum=$(stat -c '%s %Y' "$kernel")
stamp="kernel $kver $k_sum
busybox $bb_sum
recipe $self_sum
modules $modules"

if [ $force = 0 ] && [ -f "$dir/stamp" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ] &&
	[ "$(cat "$dir/stamp")" = "$stamp" ]; then
	echo "guest-image: $dir is up to date (kernel $kver)"
	exit 0
fi

echo "guest-image: building in $dir from $kernel and busybox-static"
mkdir -p "$dir"
work=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/bin" "$root/sbin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" \
	"$root/run" "$root/root" "$root/etc" "$root/lib/modules"
cp /bin/busybox "$root/bin/busybox"

# the modules in dependency order (modprobe's own order), decompressed when
# the distribution compresses them: busybox insmod takes plain .ko files
: >"$root/etc/modules"
for m in $modules; do
	modprobe -S "$kver" --show-depends "$m" | while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		base=$(basename "$path")
		case $base in
		*.ko.xz) out=${base%.xz}; xz -dc "$path" >"$root/lib/modules/$out" ;;
		*.ko.zst) out=${base%.zst}; zstd -qdc "$path" >"$root/lib/modules/$out" ;;
		*.ko.gz) out=${base%.gz}; gzip -dc "$path" >"$root/lib/modules/$out" ;;
		*) out=$base; cp "$path" "$root/lib/modules/$out" ;;
		esac
		grep -qx "$out" "$root/etc/modules" || echo "$out" >>"$root/etc/modules"
	done
done
[ -s "$root/etc/modules" ] || die "modprobe found none of: $modules (kernel $kver)"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# hvnet guest init: NICs from the kernel command line, a shell on ttyS0, the
# exec channel on the virtio-serial port hvnet.exec (docs/labs.md).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
for m in $(cat /etc/modules); do insmod "/lib/modules/$m" 2>/dev/null; done
ip link set lo up
name=guest
nics=
for a in $(cat /proc/cmdline); do
	case $a in
	hvnet.name=*) name=${a#hvnet.name=} ;;
	hvnet.nic=*) nics="$nics ${a#hvnet.nic=}" ;;
	esac
done
hostname "$name"
echo "$name" >/etc/hostname
echo "127.0.0.1 localhost $name" >/etc/hosts

# wait (up to 5 s) for the NICs the command line names to appear
want=$(echo $nics | wc -w)
i=0
while [ "$(ls /sys/class/net | grep -vc '^lo$')" -lt "$want" ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done

# by MAC: first every NIC to a temporary name, so that renames never clash
for spec in $nics; do
	mac=$(echo "$spec" | cut -d, -f2)
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address")" = "$mac" ] || continue
		ip link set dev "${d##*/}" name "hvtmp${mac##*:}" 2>/dev/null
	done
done
gw4done=
gw6done=
for spec in $nics; do
	IFS=,
	set -- $spec
	unset IFS
	nic=$1 mac=$2 mtu=$3 addrs=$4 gw4=${5:-} gw6=${6:-}
	ip link set dev "hvtmp${mac##*:}" name "$nic" 2>/dev/null ||
		{ echo "hvnet-init: no NIC with MAC $mac for $nic" >/dev/console; continue; }
	[ "$mtu" = 0 ] || ip link set dev "$nic" mtu "$mtu"
	echo 0 >"/proc/sys/net/ipv6/conf/$nic/accept_dad" 2>/dev/null
	ip link set dev "$nic" up
	for ad in $(echo "$addrs" | tr + ' '); do
		ip addr add "$ad" dev "$nic"
	done
	if [ -n "$gw4" ] && [ -z "$gw4done" ]; then
		ip route add default via "$gw4" dev "$nic" && gw4done=1
	fi
	if [ -n "$gw6" ] && [ -z "$gw6done" ]; then
		ip -6 route add default via "$gw6" dev "$nic" && gw6done=1
	fi
done
echo "hvnet-init: $name configured:$nics" >/dev/console

# the exec channel: a request is one line `EXEC ID BASE64-SCRIPT`. While the
# command runs, what it writes goes back in pieces, each a line
# `HVNET-DATA ID STREAM LEN` (STREAM 1: stdout, 2: stderr) and LEN bytes;
# at the end a line `HVNET-EXEC ID 0 0 STATUS`.
exec_send() { # FILE STREAM: what FILE gained since the last call
	size=$(wc -c <"$1")
	eval "sent=\$sent$2"
	[ "$size" -gt "$sent" ] || return 0
	printf '\nHVNET-DATA %s %s %s\n' "$id" "$2" "$((size - sent))" >&3
	tail -c +"$((sent + 1))" "$1" | head -c "$((size - sent))" >&3
	eval "sent$2=$size"
}
exec_serve() {
	port=
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = hvnet.exec ] && port=/dev/${p##*/}
	done
	[ -n "$port" ] || { echo "hvnet-init: no hvnet.exec port" >/dev/console; return; }
	exec 3<>"$port"
	while true; do
		if ! read -r verb id b64 <&3; then
			sleep 0.2 # the host side is not connected
			continue
		fi
		[ "$verb" = EXEC ] || continue
		echo "$b64" | base64 -d >/tmp/.cmd 2>/dev/null
		rm -f /tmp/.rc
		: >/tmp/.out
		: >/tmp/.err
		( (cd /root && sh /tmp/.cmd) </dev/null >/tmp/.out 2>/tmp/.err
			echo $? >/tmp/.rc.new && mv /tmp/.rc.new /tmp/.rc) 3>&- &
		sent1=0 sent2=0 nap=0.02
		while true; do
			done_=0
			[ -f /tmp/.rc ] && done_=1
			exec_send /tmp/.out 1
			exec_send /tmp/.err 2
			[ $done_ = 1 ] && break
			sleep $nap
			nap=0.2
		done
		wait
		printf '\nHVNET-EXEC %s 0 0 %s\n' "$id" "$(cat /tmp/.rc)" >&3
	done
}
exec_serve &

# a shell on the serial console, again whenever it exits
while true; do
	setsid cttyhack sh -l </dev/ttyS0 >/dev/ttyS0 2>&1
	sleep 1
done
EOF
chmod 755 "$root/init"
echo 'PS1="$(hostname):\w# "' >"$root/etc/profile"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.img"
cp "$kernel" "$work/vmlinuz"
mv "$work/vmlinuz" "$dir/vmlinuz"
mv "$work/initrd.img" "$dir/initrd.img"
echo "$stamp" >"$dir/stamp"
echo "guest-image: $dir ready: kernel $kver, modules $(tr '\n' ' ' <"$root/etc/modules")"
