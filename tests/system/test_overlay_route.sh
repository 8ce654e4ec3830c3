#!/bin/bash
# Routing between segments across the overlay (docs/overlay.md, "Routing
# across hosts"): two hvnetd hosts with the same segments, gateways and
# policy, joined by a veth underlay; a1 (app) on host A, b1 (mgmt) on host B.
# The sending host's gateway routes and encapsulates with the destination
# segment's VNI; the receiving host's firewall sees the frame as app -> mgmt;
# replies are routed by host B's own gateway and match host A's connection.
# Neighbours are resolved by ARP/NS across the overlay. What the policy
# allows passes (ping, TCP, IPv4 and IPv6), what it does not is blocked,
# counted and logged by the host that decided; one router hop (TTL); frames
# forged with a gateway's MAC from a VTEP are dropped as vxlan_gw_spoof.
. "$(dirname "$0")/lib.sh"
hv_setup
PROBE="$HV_ROOT/tests/system/fwprobe.py"

ua=${HV_ID}ua
ub=${HV_ID}ub
hv_underlay "$ua" "$ub"

policy() { # policy HOST LOCAL PEER: the hosts' files differ in the log and overlay only
	cat <<EOF
segment app  { vni 300; subnet 10.30.0.0/24, fd00:30::/64; gateway 10.30.0.1, fd00:30::1 }
segment mgmt { vni 100; subnet 10.10.0.0/24, fd00:10::/64; gateway 10.10.0.1, fd00:10::1 }
guest b2 { kind netns; nic eth0 { segment mgmt; mac 52:54:00:10:00:22; ip 10.10.0.22/24 } }
service ping = icmp/echo-request, icmpv6/echo-request
service api  = tcp/5000
policy {
	log-file "$HV_TMP/$1.log"
	app-local:  allow app -> app
	mgmt-local: allow mgmt -> mgmt
	app-ping:   allow app -> mgmt service ping
	app-api:    allow app -> mgmt service api
	default block log
}
overlay {
	local $2 dev up
	peer $3
}
EOF
}
policy a 192.0.2.1 192.0.2.2 >"$HV_TMP/a.hvnet"
policy b 192.0.2.2 192.0.2.1 >"$HV_TMP/b.hvnet"

hv_start a --segment app --segment mgmt --port "up:af_packet:-:iface=$ua" --policy "$HV_TMP/a.hvnet"
# host B runs two workers: routed frames from the overlay are handed to their connection's worker
hv_start b --cpus 0,1,1 --segment app --segment mgmt --port "up:af_packet:-:iface=$ub" --policy "$HV_TMP/b.hvnet"

# guest PORT HOST SEGMENT IPv4 IPv6 GW4 GW6 [port options]: no bindings in
# the file, so the gateways resolve them by ARP/NS
guest() {
	local port=$1 inst=$2 seg=$3 a4=$4 a6=$5 gw4=$6 gw6=$7
	shift 7
	hv_guest "$inst" "$port" "$seg" "$a4" "$@"
	hv_in "$port" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth0.disable_ipv6=0 \
		net.ipv6.conf.eth0.accept_ra=0
	ip -n "$HV_ID-$port" addr add "$a6" dev eth0 nodad
	ip -n "$HV_ID-$port" route add default via "$gw4"
	ip -n "$HV_ID-$port" -6 route add default via "$gw6"
}
# a1 gets 1500 bytes, more than the overlay's 1450, to see the MTU check on routed frames
guest a1 a app 10.30.0.11/24 fd00:30::11/64 10.30.0.1 fd00:30::1 mtu=1500
guest b1 b mgmt 10.10.0.21/24 fd00:10::21/64 10.10.0.1 fd00:10::1
# b2: the file binds its MAC, so no gateway needs to resolve it
hv_guest b b2 mgmt 10.10.0.22/24
hv_guest_mac b2 52:54:00:10:00:22
ip -n "$HV_ID-b2" route add default via 10.10.0.1
hv_in b1 /usr/bin/python3 "$PROBE" serve 10.10.0.21 5000 5001 >/dev/null 2>&1 &
HV_PIDS+=($!)
hv_in b1 /usr/bin/python3 "$PROBE" serve fd00:10::21 5000 >/dev/null 2>&1 &
HV_PIDS+=($!)
hv_in a1 /usr/bin/python3 "$PROBE" serve 10.30.0.11 5000 >/dev/null 2>&1 &
HV_PIDS+=($!)

for _ in $(seq 50); do
	[ "$(hv_json a 'r["peers"][0]["mac"] is not None' vtep show)" = True ] && break
	sleep 0.1
done

# ping: host A routes app -> mgmt and encapsulates with mgmt's VNI; b1's reply
# is routed by host B's gateway: one hop each way (TTL 64 arrives as 63)
out=$(hv_in a1 ping -c 3 -i 0.2 -W 2 10.10.0.21 2>&1) ||
	{ echo "$out"; hv_ctl a route show; hv_ctl a neigh show; hv_ctl b route show; hv_ctl b neigh show
	  hv_ctl a stats; hv_ctl b stats; hv_fail "a1 (app, host A) cannot ping b1 (mgmt, host B)"; }
grep -q "ttl=63" <<<"$out" || hv_fail "the reply did not cross one router: $out"
hv_pass "a1 (app, host A) pings b1 (mgmt, host B) through the gateways: $(grep -o '[0-9]* received' <<<"$out"), ttl=63"

# the neighbour came by ARP over the overlay: b1's answer was replicated to host A
n=$(hv_json a '[n["port"] for n in r["neighbours"] if n["address"]=="10.10.0.21"]' neigh show mgmt)
hv_assert_eq "['vtep:192.0.2.2']" "$n" "host A's neighbour entry for b1"
mac_b1=$(hv_mac_of b1)
where=$(hv_json a '[e["port"] for e in r if e["mac"]=="'"$mac_b1"'"]' mac show mgmt)
hv_assert_eq "['vtep:192.0.2.2']" "$where" "host A: b1's MAC behind VTEP 192.0.2.2"
hv_pass "host A resolved b1 by ARP across the overlay: neighbour and MAC behind vtep:192.0.2.2"

# b2's MAC is in the file: host A's gateway knows it but not where b2 is, so
# the first routed frame is flooded to mgmt's VTEPs and b2 is asked for; its
# answer teaches host A that b2 is behind VTEP B, and the rest go there alone
hv_in a1 ping -c 3 -i 0.2 -W 2 10.10.0.22 >/dev/null || hv_fail "a1 cannot ping b2 (MAC bound in the file)"
where=$(hv_json a '[e["port"] for e in r if e["mac"]=="52:54:00:10:00:22"]' mac show mgmt)
hv_assert_eq "['vtep:192.0.2.2']" "$where" "host A: b2's MAC behind VTEP 192.0.2.2"
hv_pass "a1 pings b2 (MAC bound in the file): host A asked for b2 once flooding, and learned it behind vtep:192.0.2.2"

# host A routed app -> mgmt, host B routed the replies back (mgmt -> app)
pair() { # pair HOST FROM TO: "routed blocked" of the pair on HOST
	hv_json "$1" '"%d %d" % tuple(sum(p[k] for p in r["pairs"] if (p["from"], p["to"]) == ("'"$2"'", "'"$3"'")) for k in ("routed", "blocked"))' route show
}
read -r a_fwd blocked_a < <(pair a app mgmt)
read -r b_back _ < <(pair b mgmt app)
hv_assert_ge "$a_fwd" 6 "host A: routed app -> mgmt"
hv_assert_ge "$b_back" 6 "host B: routed mgmt -> app (the replies)"
hv_pass "routed on host A (app -> mgmt: $a_fwd), replies routed by host B's own gateway (mgmt -> app: $b_back)"

# TTL: one router hop. TTL 1 expires at host A's gateway of app; TTL 2 arrives
out=$(hv_in a1 ping -c 1 -W 2 -t 1 10.10.0.21 2>&1)
grep -q "From 10.30.0.1 .*Time to live exceeded" <<<"$out" || hv_fail "TTL 1: $out"
hv_in a1 ping -c 1 -W 2 -t 2 10.10.0.21 >/dev/null || hv_fail "TTL 2 does not reach b1"
hv_pass "traceroute-style: TTL 1 expires at 10.30.0.1 (host A), TTL 2 reaches b1 on host B"

# a routed packet too big for the overlay: frag needed from a1's gateway
out=$(hv_in a1 ping -c 1 -W 2 -M do -s 1472 10.10.0.21 2>&1)
grep -q "From 10.30.0.1 .*mtu = 1450" <<<"$out" || hv_fail "no frag needed (mtu 1450) from 10.30.0.1: $out"
hv_in a1 ping -c 1 -W 2 -M do -s 1422 10.10.0.21 >/dev/null || hv_fail "a 1450-byte routed DF ping does not pass"
hv_pass "a 1500-byte routed DF ping: frag needed (mtu 1450) from 10.30.0.1; 1450 bytes pass"

# TCP allowed (app-api), both directions of the connection
got=$(hv_in a1 /usr/bin/python3 "$PROBE" tcp 10.10.0.21 5000 3)
hv_assert_eq "echoed" "$got" "a1 -> b1 tcp/5000 (allowed by app-api)"
# host B's firewall admitted it under app-api: it saw app -> mgmt, not mgmt -> mgmt
conn=$(hv_json b '" ".join(sorted(set(c["rule"] for c in r["connections"] if c.get("dport")==5000)))' \
	ct list proto=tcp host=10.10.0.21)
hv_assert_eq "app-api" "$conn" "host B's connection for a1 -> b1 tcp/5000"
hv_pass "TCP a1 -> b1:5000 across hosts and segments: $got; host B tracks it under app-api"

# IPv6: NS from the gateway across the overlay, the same path
hv_in a1 ping -6 -c 2 -i 0.3 -w 6 fd00:10::21 >"$HV_TMP/ping6.txt" 2>&1 ||
	{ cat "$HV_TMP/ping6.txt"; hv_ctl a neigh show; hv_fail "a1 -> b1 over IPv6"; }
got=$(hv_in a1 /usr/bin/python3 "$PROBE" tcp fd00:10::21 5000 3)
hv_assert_eq "echoed" "$got" "a1 -> b1 tcp/5000 over IPv6"
hv_pass "IPv6: a1 -> fd00:10::21 ping and tcp/5000 across hosts ($got)"

# blocked where the policy says so: a1 -> b1 tcp/5001 is decided (blocked,
# counted, logged) on host A; b1 -> a1 (mgmt -> app) on host B
got=$(hv_in a1 /usr/bin/python3 "$PROBE" tcp 10.10.0.21 5001 1)
hv_assert_eq "timeout" "$got" "a1 -> b1 tcp/5001 (no rule)"
read -r _ blocked < <(pair a app mgmt)
hv_assert_ge "$blocked" "$((blocked_a + 1))" "host A: blocked app -> mgmt"
grep -q '"rule":"default","verdict":"block".*"segment":"app".*"dst":"10.10.0.21".*"dport":5001' "$HV_TMP/a.log" ||
	hv_fail "host A's log has no block of a1 -> b1 tcp/5001: $(tail -2 "$HV_TMP/a.log")"
got=$(hv_in b1 /usr/bin/python3 "$PROBE" tcp 10.30.0.11 5000 1)
hv_assert_eq "timeout" "$got" "b1 -> a1 tcp/5000 (mgmt -> app: no rule)"
read -r _ blocked < <(pair b mgmt app)
hv_assert_ge "$blocked" 1 "host B: blocked mgmt -> app"
grep -q '"rule":"default","verdict":"block".*"segment":"mgmt".*"dst":"10.30.0.11".*"dport":5000' "$HV_TMP/b.log" ||
	hv_fail "host B's log has no block of b1 -> a1: $(tail -2 "$HV_TMP/b.log")"
hv_pass "blocked: a1 -> b1 tcp/5001 on host A, b1 -> a1 tcp/5000 on host B, each counted and logged where decided"

# forged: VXLAN from host B's VTEP address with app's gateway MAC as source,
# for an address of app itself and for one of no segment: vxlan_gw_spoof
gwmac=$(hv_json a '[g["mac"] for g in r["gateways"] if g["segment"]=="app"][0]' route show)
python3 - "$ub" "$(cat /sys/class/net/"$ua"/address)" "$(cat /sys/class/net/"$ub"/address)" "$gwmac" "$(hv_mac_of a1)" <<'EOF' ||
import socket, struct, sys
dev, dst, src, gw, a1 = sys.argv[1:]
mac = lambda s: bytes.fromhex(s.replace(":", ""))
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ip4(src, dst, proto, payload, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, ttl, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
for inner_src in ("10.30.0.99", "192.168.7.7"):
    icmp = b"\x08\x00" + struct.pack("!H", csum(b"\x08\x00\x00\x00\x00\x01\x00\x01")) + b"\x00\x01\x00\x01"
    inner = mac(a1) + mac(gw) + b"\x08\x00" + ip4(inner_src, "10.30.0.11", 1, icmp, 63)
    vx = struct.pack("!BBHI", 0x08, 0, 0, 300 << 8) + inner
    udp = struct.pack("!HHHH", 40000, 4789, 8 + len(vx), 0) + vx
    s.send(mac(dst) + mac(src) + b"\x08\x00" + ip4("192.0.2.2", "192.0.2.1", 17, udp))
EOF
	hv_fail "cannot send the forged VXLAN packets"
sleep 0.3
# exactly these two: none of the real traffic above was taken for a forgery
hv_assert_eq 2 "$(hv_json a 'r["drops"]["vxlan_gw_spoof"]' vtep show)" "vxlan_gw_spoof on host A"
hv_pass "forged routed frames (a gateway's MAC, a source in the frame's own segment / in none) dropped as vxlan_gw_spoof"
