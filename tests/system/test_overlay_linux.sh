#!/bin/bash
# hvnetd against the Linux kernel's VXLAN device: host A is hvnetd (uplink
# af_packet on a veth, guest a1 on a tap), host L is a namespace with the
# veth's other end and a vxlan device (VNI 300, dstport 4789). Both
# directions: ping a1 <-> L, Linux's flood (its ARP broadcast) reaches a1,
# hvnetd's head-end replicated ARP reaches L, each learns the other's MAC
# behind the right VTEP. Then crafted packets from L (scapy) are dropped by
# reason: truncated, no I flag, unknown VNI, nested VXLAN, unknown VTEP.
. "$(dirname "$0")/lib.sh"
hv_setup

hv_netns lx
lx=$HV_ID-lx
ul=${HV_ID}ul
ip link add "$ul" type veth peer name eth0 netns "$lx" || hv_fail "underlay veth"
HV_LINKS+=("$ul")
sysctl -qw "net.ipv6.conf.$ul.disable_ipv6=1"
ethtool -K "$ul" gro off tx off tso off gso off >/dev/null 2>&1
ip link set "$ul" up
ip netns exec "$lx" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
hv_in lx ethtool -K eth0 gro off tx off tso off gso off >/dev/null 2>&1
hv_in lx ip addr add 192.0.2.2/24 dev eth0
hv_in lx ip link set eth0 up
hv_in lx ip link add vx0 type vxlan id 300 local 192.0.2.2 remote 192.0.2.1 dstport 4789 dev eth0 ||
	hv_fail "cannot create a kernel vxlan device"
hv_in lx ethtool -K vx0 tx off >/dev/null 2>&1
hv_in lx ip addr add 10.30.0.9/24 dev vx0
hv_in lx ip link set vx0 up

cat >"$HV_TMP/a.hvnet" <<EOF
segment app { vni 300 }
policy { allow app -> app; default block }
overlay {
	local 192.0.2.1 dev up
	port 4789
	peer 192.0.2.2
}
EOF
hv_start a --segment app --port "up:af_packet:-:iface=$ul" --policy "$HV_TMP/a.hvnet"
hv_guest a a1 app 10.30.0.1/24

# Linux -> hvnetd first: its ARP broadcast goes to its default remote, us
hv_in lx ping -c 3 -i 0.2 -W 2 10.30.0.1 >"$HV_TMP/ping1.txt" ||
	{ cat "$HV_TMP/ping1.txt"; hv_ctl a vtep show; hv_fail "Linux vxlan -> a1"; }
hv_pass "Linux vxlan (10.30.0.9) pings a1 on hvnetd: $(grep -o '[0-9]* received' "$HV_TMP/ping1.txt")"
hv_in a1 ip neigh flush all
hv_in lx ip neigh flush dev vx0
hv_in a1 ping -c 3 -i 0.2 -W 2 10.30.0.9 >"$HV_TMP/ping2.txt" ||
	{ cat "$HV_TMP/ping2.txt"; hv_fail "a1 -> Linux vxlan"; }
hv_pass "a1 on hvnetd pings the Linux vxlan device: $(grep -o '[0-9]* received' "$HV_TMP/ping2.txt")"

# learning on both sides: each knows the other's guest MAC behind the other VTEP
mac_a1=$(hv_mac_of a1)
mac_vx=$(hv_in lx cat /sys/class/net/vx0/address)
where=$(hv_json a '[e["port"] for e in r if e["mac"]=="'"$mac_vx"'"]' mac show app)
hv_assert_eq "['vtep:192.0.2.2']" "$where" "hvnetd learned vx0's MAC behind VTEP 192.0.2.2"
for _ in $(seq 20); do
	grep -q "^$mac_a1 dst 192.0.2.1" <<<"$(hv_in lx bridge fdb show dev vx0)" && break
	sleep 0.1
done
grep -q "^$mac_a1 dst 192.0.2.1" <<<"$(hv_in lx bridge fdb show dev vx0)" ||
	hv_fail "Linux did not learn a1's MAC $mac_a1 behind 192.0.2.1: $(hv_in lx bridge fdb show dev vx0)"
hv_assert_ge "$(hv_json a 'r["counters"]["flood_copies"]' vtep show)" 1 "head-end replicated copies to Linux"
hv_pass "learning: hvnetd has $mac_vx behind vtep:192.0.2.2, Linux has $mac_a1 dst 192.0.2.1; a1's ARP reached Linux by head-end replication"

# bad input from the underlay, each dropped by its reason
drops() { hv_json a 'r["drops"]["'"$1"'"]' vtep show; }
declare -A before
for r in vxlan_truncated vxlan_bad_flags vxlan_unknown_vni vxlan_nested vxlan_unknown_vtep uplink_not_vxlan; do
	before[$r]=$(drops $r)
done
mac_ul=$(cat /sys/class/net/"$ul"/address)
hv_in lx /usr/bin/python3 - "$mac_ul" "$mac_vx" <<'EOF' || hv_fail "scapy could not send"
import sys
from scapy.all import Ether, IP, UDP, VXLAN, ICMP, Raw, sendp, conf
conf.verb = 0
up, vx = sys.argv[1], sys.argv[2]
def outer(src="192.0.2.2", dport=4789):
    return Ether(dst=up) / IP(src=src, dst="192.0.2.1", flags="DF") / UDP(sport=40000, dport=dport)
inner = Ether(src=vx, dst="ff:ff:ff:ff:ff:ff") / IP(src="10.30.0.9", dst="10.30.0.1") / ICMP()
frames = [
    outer() / Raw(b"\x08\x00\x00"),                        # vxlan_truncated
    outer() / VXLAN(flags=0x00, vni=300) / inner,          # vxlan_bad_flags
    outer() / VXLAN(flags=0x08, vni=301) / inner,          # vxlan_unknown_vni
    outer() / VXLAN(flags=0x08, vni=300) / Ether(src=vx, dst="ff:ff:ff:ff:ff:ff")
        / IP(src="10.30.0.9", dst="10.30.0.1") / UDP(sport=1, dport=4789)
        / VXLAN(flags=0x08, vni=300) / inner,              # vxlan_nested
    outer(src="192.0.2.77") / VXLAN(flags=0x08, vni=300) / inner,  # vxlan_unknown_vtep
    outer(dport=8472) / VXLAN(flags=0x08, vni=300) / inner,        # uplink_not_vxlan
]
sendp(frames, iface="eth0")
EOF
sleep 0.5
for r in vxlan_truncated vxlan_bad_flags vxlan_unknown_vni vxlan_nested vxlan_unknown_vtep uplink_not_vxlan; do
	hv_assert_eq "$((before[$r] + 1))" "$(drops $r)" "drop counter $r after one crafted packet"
done
hv_pass "crafted packets dropped by reason: truncated, no I flag, unknown VNI, nested, unknown VTEP, port 8472"

# learn yes: no declared peer; Linux's packets are first dropped, then their
# VTEP is learned (for VNI 300 only, unicast only) and Linux reaches a1
sed -e 's/^\tpeer 192.0.2.2$/\tlearn yes/' "$HV_TMP/a.hvnet" >"$HV_TMP/learn.hvnet"
grep -q "learn yes" "$HV_TMP/learn.hvnet" || hv_fail "learn file"
hv_ctl a policy apply "$HV_TMP/learn.hvnet" >/dev/null || hv_fail "apply the learn yes file"
hv_assert_eq 0 "$(hv_json a 'len(r["peers"])' vtep show)" "peers before learning"
hv_in lx ip neigh flush dev vx0
hv_in lx ping -c 2 -w 10 10.30.0.1 >"$HV_TMP/ping3.txt" ||
	{ cat "$HV_TMP/ping3.txt"; hv_ctl a vtep show; hv_fail "Linux -> a1 with learn yes"; }
hv_assert_eq "192.0.2.2 True" "$(hv_json a '" ".join([r["peers"][0]["address"], str(r["peers"][0]["learned"])])' vtep show)" \
	"the learned VTEP"
hv_assert_ge "$(hv_json a 'r["counters"]["learn_requests"]' vtep show)" 1 "learn requests"
hv_pass "learn yes: VTEP 192.0.2.2 learned from its traffic; Linux pings a1 ($(grep -o '[0-9]* received' "$HV_TMP/ping3.txt"))"
