#!/bin/bash
# QEMU guests on the kernel datapath (docs/nftables.md): tests/labs/qemu.hvnet
# (two VMs, a namespace guest, policy ns1-vm2 blocks ns1's pings of vm2) up
# with --datapath kernel: each VM's NIC is a tap on its segment's bridge in
# the switch namespace, QEMU runs there, and the policy holds for the VMs as
# for namespace guests: ns1 pings vm1, not vm2; vm1 (lab exec) pings ns1 and
# vm2. lab down leaves no QEMU, tap or namespace.
. "$(dirname "$0")/lib.sh"
hv_setup
LAB=$HV_ID-kq
QEMU=${HVNET_QEMU:-qemu-system-x86_64}
if ! "$QEMU" --version >/dev/null 2>&1; then
	echo "SKIP: $QEMU cannot run (apt-get install qemu-system-x86)"
	exit 77
fi
if ! ls /boot/vmlinuz-* >/dev/null 2>&1; then
	echo "SKIP: no kernel in /boot for the guest image (apt-get install linux-image-amd64)"
	exit 77
fi
kq_cleanup() {
	local rc=$?
	"$HVNETCTL" lab down "$LAB" >/dev/null 2>&1
	(exit $rc)
	hv_cleanup
}
trap kq_cleanup EXIT
lab() { "$HVNETCTL" lab "$@"; }

lab up --name "$LAB" --datapath kernel "$HV_ROOT/tests/labs/qemu.hvnet" >"$HV_TMP/up" 2>&1 ||
	{ cat "$HV_TMP/up" >&2; hv_fail "lab up --datapath kernel tests/labs/qemu.hvnet"; }
grep -q "guest vm1: QEMU $LAB-vm1, eth0, 10.40.0.11/24, fd00:40::11/64; segment app, port vm1-eth0 (a tap on bridge app)" "$HV_TMP/up" ||
	{ cat "$HV_TMP/up" >&2; hv_fail "lab up does not show vm1 on a tap"; }
ip -n "$LAB.switch" -d link show vm1-eth0 | grep -q "tun type tap" || hv_fail "vm1-eth0 is no tap in $LAB.switch"
ip -n "$LAB.switch" link show vm1-eth0 | grep -q "master app" || hv_fail "vm1-eth0 is not a port of bridge app"

lab exec "$LAB" ns1 -- ping -c2 -W2 10.40.0.11 >"$HV_TMP/p1" 2>&1 || { cat "$HV_TMP/p1" >&2; hv_fail "ns1 -> vm1 ping"; }
lab exec "$LAB" ns1 -- ping -c1 -W2 10.40.0.12 >/dev/null 2>&1 && hv_fail "ns1 -> vm2 ping passed: rule ns1-vm2 blocks it"
lab exec "$LAB" vm1 -- ping -c2 -W2 10.40.0.21 >"$HV_TMP/p2" 2>&1 || { cat "$HV_TMP/p2" >&2; hv_fail "vm1 -> ns1 ping"; }
lab exec "$LAB" vm1 -- ping -c2 -W2 10.40.0.12 >"$HV_TMP/p3" 2>&1 || { cat "$HV_TMP/p3" >&2; hv_fail "vm1 -> vm2 ping"; }
hv_pass "kernel datapath, QEMU guests on taps: ns1 pings vm1 but not vm2 (rule ns1-vm2), vm1 pings ns1 and vm2"

lab down "$LAB" >"$HV_TMP/down" 2>&1 || { cat "$HV_TMP/down" >&2; hv_fail "lab down"; }
grep -q "guest vm1: QEMU $LAB-vm1 removed" "$HV_TMP/down" || { cat "$HV_TMP/down" >&2; hv_fail "lab down did not remove vm1"; }
pgrep -f -- "-name $LAB-vm" >/dev/null && hv_fail "a QEMU of $LAB is still running"
[ -z "$(ip netns list | grep -- "^$LAB")" ] || hv_fail "namespaces left after lab down"
hv_pass "lab down removes the VMs, their taps and the switch namespace"
