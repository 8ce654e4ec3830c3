#!/bin/bash
# The overlay on the kernel datapath (docs/nftables.md, "Overlay"): two
# kernel labs, A and B, share segment app (VNI 300) over VXLAN. Their
# underlay is a veth pair whose ends lab up moves into each lab's switch
# namespace (the overlay's `dev`). Each lab has a vxlan device on app's
# bridge with the other as its flood peer: appA and appB ping each other
# across the overlay, the policy holds on the decapsulated packets (tcp/22
# to appB is blocked by B's default, tcp/80 passes), and each side's bridge
# learns the other guest's MAC behind the vxlan port. Then a kernel lab
# against an hvnetd lab (lab up attaches the overlay's dev as hvnetd's
# uplink): pings, the policies and learning across the two datapaths.
. "$(dirname "$0")/lib.sh"
hv_setup
LABS=()
ov_cleanup() {
	local rc=$?
	for l in "${LABS[@]}"; do "$HVNETCTL" lab down "$l" >/dev/null 2>&1; done
	(exit $rc)
	hv_cleanup
}
trap ov_cleanup EXIT
ua=${HV_ID}ua
ub=${HV_ID}ub
ip link add "$ua" type veth peer name "$ub" || hv_fail "underlay veth pair"
HV_LINKS+=("$ua" "$ub")

lab_file() { # SIDE LOCAL PEER UNDERLAY GUEST-IP
	cat <<EOF2
segment app { vni 300; subnet 10.30.0.0/24 }
guest app$1 { kind netns; nic eth0 { segment app; ip $5/24; mtu 1400 } }
policy {
	ping: allow app -> app service icmp/echo-request
	web:  allow app -> app service tcp/80
	default block
}
overlay {
	local $2 dev $4
	peer $3
}
EOF2
}
lab_file A 192.0.2.1 192.0.2.2 "$ua" 10.30.0.101 >"$HV_TMP/a.hvnet"
lab_file B 192.0.2.2 192.0.2.1 "$ub" 10.30.0.102 >"$HV_TMP/b.hvnet"
for s in a b; do
	LABS+=("$HV_ID-$s")
	"$HVNETCTL" lab up --name "$HV_ID-$s" --datapath kernel "$HV_TMP/$s.hvnet" >"$HV_TMP/$s.up" 2>&1 ||
		{ cat "$HV_TMP/$s.up" >&2; hv_fail "lab up --datapath kernel $s.hvnet"; }
done
grep -q "segment app: vxlan vx300 (VNI 300) on bridge app, peers 192.0.2.2" "$HV_TMP/a.up" ||
	{ cat "$HV_TMP/a.up" >&2; hv_fail "lab up A does not show its vxlan device"; }
ip link show "$ua" >/dev/null 2>&1 && hv_fail "the underlay $ua is still in the root namespace"

A="ip netns exec $HV_ID-a-appA"
B="ip netns exec $HV_ID-b-appB"
$A ping -c3 -i0.2 -W2 10.30.0.102 >"$HV_TMP/p1" || { cat "$HV_TMP/p1" >&2; hv_fail "appA -> appB ping over VXLAN"; }
$B ping -c3 -i0.2 -W2 10.30.0.101 >"$HV_TMP/p2" || { cat "$HV_TMP/p2" >&2; hv_fail "appB -> appA ping over VXLAN"; }
hv_pass "appA and appB ping each other over the kernel labs' VXLAN (VNI 300): $(grep -o '[0-9]* received' "$HV_TMP/p1"), $(grep -o '[0-9]* received' "$HV_TMP/p2")"

$B /usr/bin/python3 -c '
import socket
for p in (22, 80):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p)); s.listen(4)
    globals()["s%d" % p] = s
print("ready", flush=True)
import time; time.sleep(20)' >"$HV_TMP/srv" &
HV_PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$HV_TMP/srv" && break; sleep 0.1; done
r=$($A /usr/bin/python3 -c '
import socket
out = []
for p in (22, 80):
    try:
        socket.create_connection(("10.30.0.102", p), timeout=1).close(); out.append("open")
    except socket.timeout: out.append("timeout")
    except OSError as e: out.append(e.strerror)
print(" ".join(out))')
hv_assert_eq "timeout open" "$r" "appA -> appB tcp/22 (blocked), tcp/80 (allowed) over VXLAN"
macb=$($B cat /sys/class/net/eth0/address)
ip netns exec "$HV_ID-a.switch" bridge fdb show br app | grep -q "^$macb dev vx300" ||
	hv_fail "lab A's bridge has not learned appB's MAC $macb behind vx300"
ip netns exec "$HV_ID-a.switch" bridge fdb show dev vx300 | grep -q "00:00:00:00:00:00 dst 192.0.2.2" ||
	hv_fail "vx300 of lab A has no flood entry to 192.0.2.2"
hv_pass "the policy holds across the overlay (tcp/22 blocked, tcp/80 open); lab A learned appB's MAC behind vx300"

# ---- a kernel lab against an hvnetd lab ----
# lab C on the kernel datapath and lab D on hvnetd (lab up makes the
# overlay's dev its af_packet uplink) share VNI 300 over a second veth
# pair. Offloads are off on the underlay, as an af_packet port needs
# (docs/datapath.md): hvnetd reads the frames as they are, so the kernel
# side must complete its checksums.
uc=${HV_ID}uc
ud=${HV_ID}ud
ip link add "$uc" type veth peer name "$ud" || hv_fail "second underlay veth pair"
HV_LINKS+=("$uc" "$ud")
sysctl -qw "net.ipv6.conf.$ud.disable_ipv6=1"
ethtool -K "$uc" tx off tso off gso off >/dev/null 2>&1
ethtool -K "$ud" gro off tx off tso off gso off >/dev/null 2>&1
ip link set "$ud" up
lab_file C 192.0.2.3 192.0.2.4 "$uc" 10.30.0.103 >"$HV_TMP/c.hvnet"
lab_file D 192.0.2.4 192.0.2.3 "$ud" 10.30.0.104 >"$HV_TMP/d.hvnet"
LABS+=("$HV_ID-c" "$HV_ID-d")
"$HVNETCTL" lab up --name "$HV_ID-c" --datapath kernel "$HV_TMP/c.hvnet" >"$HV_TMP/c.up" 2>&1 ||
	{ cat "$HV_TMP/c.up" >&2; hv_fail "lab up --datapath kernel c.hvnet"; }
"$HVNETCTL" lab up --name "$HV_ID-d" "$HV_TMP/d.hvnet" >"$HV_TMP/d.up" 2>&1 ||
	{ cat "$HV_TMP/d.up" >&2; hv_fail "lab up (hvnetd) d.hvnet"; }
grep -q "^overlay: uplink port $ud (af_packet on interface $ud), 1 peer$" "$HV_TMP/d.up" ||
	{ cat "$HV_TMP/d.up" >&2; hv_fail "hvnetd lab up does not attach the overlay's uplink"; }
C="ip netns exec $HV_ID-c-appC"
D="ip netns exec $HV_ID-d-appD"
$C ping -c3 -i0.2 -W2 10.30.0.104 >"$HV_TMP/p3" || { cat "$HV_TMP/p3" >&2; hv_fail "appC (kernel) -> appD (hvnetd) ping over VXLAN"; }
$D ping -c3 -i0.2 -W2 10.30.0.103 >"$HV_TMP/p4" || { cat "$HV_TMP/p4" >&2; hv_fail "appD (hvnetd) -> appC (kernel) ping over VXLAN"; }
serve() { # NS-CMD OUT: listeners on tcp/22 and tcp/80 for 20 s
	$1 /usr/bin/python3 -c '
import socket, threading
def serve(s):
    while True:
        c, _ = s.accept(); c.sendall(c.recv(64)); c.close()
for p in (22, 80):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p)); s.listen(4)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
import time; time.sleep(20)' >"$2" &
	HV_PIDS+=($!)
	for _ in $(seq 50); do grep -q ready "$2" && break; sleep 0.1; done
}
connect() { # NS-CMD ADDR: tcp/22 and tcp/80, data echoed or not
	$1 /usr/bin/python3 -c '
import socket, sys
out = []
for p in (22, 80):
    try:
        s = socket.create_connection((sys.argv[1], p), timeout=1)
        s.sendall(b"x" * 40); out.append("echoed" if s.recv(64) == b"x" * 40 else "short"); s.close()
    except socket.timeout: out.append("timeout")
    except OSError as e: out.append(e.strerror)
print(" ".join(out))' "$2"
}
serve "$C" "$HV_TMP/srvc"
serve "$D" "$HV_TMP/srvd"
hv_assert_eq "timeout echoed" "$(connect "$C" 10.30.0.104)" "appC (kernel) -> appD (hvnetd) tcp/22 (blocked by hvnetd), tcp/80 (allowed) over VXLAN"
hv_assert_eq "timeout echoed" "$(connect "$D" 10.30.0.103)" "appD (hvnetd) -> appC (kernel) tcp/22 (blocked by the kernel), tcp/80 (allowed) over VXLAN"
macc=$($C cat /sys/class/net/eth0/address)
where=$("$HVNETCTL" -i "lab-$HV_ID-d" --json mac show app | /usr/bin/python3 -c 'import json,sys; print([e["port"] for e in json.load(sys.stdin) if e["mac"] == sys.argv[1]])' "$macc")
hv_assert_eq "['vtep:192.0.2.3']" "$where" "hvnetd learned appC's MAC behind the kernel lab's VTEP"
hv_pass "a kernel lab and an hvnetd lab over VXLAN (VNI 300): pings both ways ($(grep -o '[0-9]* received' "$HV_TMP/p3"), $(grep -o '[0-9]* received' "$HV_TMP/p4")), each side's policy holds (tcp/22 blocked, tcp/80 carries data), hvnetd learned appC behind vtep:192.0.2.3"
