#!/bin/bash
# Segment gateways on the kernel datapath (docs/nftables.md, "Gateways"),
# with tests/labs/routed.hvnet: seg1 has IPv4 and IPv6 gateways, seg2 an
# IPv4 gateway only, seg3 none; the policy allows seg1 -> seg2 ping and
# tcp/80, and udp/5000 everywhere.
#  - a1 pings b1 through the gateways (the TTL shows one hop), b1 cannot
#    ping a1 (no rule allows it: nothing is routed by default);
#  - the gateway answers a ping of its own address and nothing else (a TCP
#    connection to it times out: no reset, as hvnetd's gw_local drop);
#  - udp/5000 routed from b1 reaches a1 (the receiver works), but not when a
#    guest forces it through a bridge without a gateway of the packet's
#    family: c1 (seg3, no gateway) and b1 over IPv6 (seg2 has no IPv6
#    gateway) send to their bridge's MAC, and nothing arrives, though the
#    policy allows the datagram (without the ruleset's "has no gateway"
#    drops, the kernel routes b1's IPv6 datagram to a1);
#  - the routed connection is in the switch namespace's conntrack table.
. "$(dirname "$0")/lib.sh"
hv_setup
LAB=$HV_ID-r
gw_cleanup() {
	local rc=$?
	"$HVNETCTL" lab down "$LAB" >/dev/null 2>&1
	(exit $rc)
	hv_cleanup
}
trap gw_cleanup EXIT
in_g() { local g=$1; shift; ip netns exec "$LAB-$g" "$@"; }

"$HVNETCTL" lab up --name "$LAB" --datapath kernel "$HV_ROOT/tests/labs/routed.hvnet" >"$HV_TMP/up" 2>&1 ||
	{ cat "$HV_TMP/up" >&2; hv_fail "lab up --datapath kernel tests/labs/routed.hvnet"; }
grep -q "segment seg1: gateway 10.71.1.1/24, fd00:71:1::1/64 on bridge seg1, MAC 02:68:76:" "$HV_TMP/up" ||
	{ cat "$HV_TMP/up" >&2; hv_fail "lab up does not show seg1's gateway"; }

# ---- routed pings, and nothing routed without a rule ----
out=$(in_g a1 ping -c1 -W2 10.71.2.10) || hv_fail "a1 -> b1 ping (routed, allowed): $out"
grep -q "ttl=63" <<<"$out" || hv_fail "a1 -> b1: expected one routed hop (ttl=63): $out"
in_g b1 ping -c1 -W1 10.71.1.10 >/dev/null && hv_fail "b1 -> a1 ping passed: no rule allows it"
in_g a1 ping -c1 -W1 10.71.1.1 >/dev/null || hv_fail "a1 cannot ping its gateway 10.71.1.1"
in_g a1 ping -6 -c1 -W1 fd00:71:1::1 >/dev/null || hv_fail "a1 cannot ping its gateway fd00:71:1::1"
r=$(in_g a1 /usr/bin/python3 -c '
import socket
try:
    socket.create_connection(("10.71.1.1", 22), timeout=1); print("open")
except socket.timeout: print("timeout")
except OSError as e: print(e.strerror)')
hv_assert_eq timeout "$r" "tcp/22 to the gateway's own address"
mac=$(ip netns exec "$LAB.switch" cat /sys/class/net/seg1/address)
[ "$(in_g a1 ip neigh show 10.71.1.1 | awk '{print $5}')" = "$mac" ] ||
	hv_fail "a1's neighbour entry of its gateway is not the bridge's MAC $mac"
hv_pass "routed: a1 pings b1 (ttl 63), b1 cannot ping a1, the gateways answer pings only; gateway MAC $mac"

# ---- udp/5000 to a1: routed from b1, never through a gateway-less bridge ----
in_g a1 /usr/bin/python3 -u -c '
import select, socket
ss = []
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, 5000)); ss.append(s)
print("ready", flush=True)
while True:
    for s in select.select(ss, [], [], 30)[0]:
        data, peer = s.recvfrom(100); print(data.decode(), flush=True)
' >"$HV_TMP/recv" &
HV_PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$HV_TMP/recv" && break; sleep 0.1; done
send() { # GUEST DST TEXT
	in_g "$1" /usr/bin/python3 -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
for _ in range(3): s.sendto(sys.argv[2].encode(), (sys.argv[1], 5000))' "$2" "$3"
}
send b1 10.71.1.10 via-gateway
# c1 and b1 make their bridges' MACs their next hop, as a hostile guest could
mac3=$(ip netns exec "$LAB.switch" cat /sys/class/net/seg3/address)
mac2=$(ip netns exec "$LAB.switch" cat /sys/class/net/seg2/address)
in_g c1 ip neigh replace 10.71.3.1 lladdr "$mac3" dev eth0 nud permanent
in_g c1 ip route replace 10.71.1.0/24 via 10.71.3.1
send c1 10.71.1.10 from-seg3
in_g b1 ip -6 neigh replace fd00:71:2::1 lladdr "$mac2" dev eth0 nud permanent
in_g b1 ip -6 route replace fd00:71:1::/64 via fd00:71:2::1
send b1 fd00:71:1::a v6-from-seg2
sleep 1
grep -q via-gateway "$HV_TMP/recv" || hv_fail "udp/5000 b1 -> a1 through seg2's gateway did not arrive"
grep -q from-seg3 "$HV_TMP/recv" && hv_fail "udp/5000 from c1 was routed through seg3's bridge, which has no gateway"
grep -q v6-from-seg2 "$HV_TMP/recv" && hv_fail "IPv6 udp/5000 from b1 was routed, but seg2 has no IPv6 gateway"
ip netns exec "$LAB.switch" conntrack -L 2>/dev/null | grep -q "udp .*src=10.71.2.10 dst=10.71.1.10 .*dport=5000" ||
	hv_fail "the routed udp/5000 flow is not in the switch namespace's conntrack table"
hv_pass "udp/5000 reaches a1 through seg2's gateway, not through a bridge without a gateway of its family (seg3; IPv6 from seg2); conntrack has the routed flow"
