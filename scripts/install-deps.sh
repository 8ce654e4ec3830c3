#!/bin/sh
# Install the Debian 12 packages hvnet needs to build, test, run the demo and
# the benchmarks. Idempotent: installs only what is missing, and runs
# apt-get update only when something is.
set -eu

PKGS="
build-essential meson ninja-build pkg-config clang lld
libdpdk-dev dpdk dpdk-dev
libjansson-dev libcmocka-dev libpcap-dev libmnl-dev libnftnl-dev nftables
iproute2 iputils-ping iperf3 ethtool tcpdump tshark procps psmisc conntrack
python3 python3-scapy openvswitch-switch radvd
qemu-system-x86 linux-image-amd64 busybox-static cpio kmod
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root (or: sudo $0)" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
