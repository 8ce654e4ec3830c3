#!/bin/bash
# Two hosts over a VXLAN overlay: two hvnetd instances whose af_packet
# uplinks are joined by a veth pair (the underlay), namespace guests on
# both. Ping and iperf3 within a segment across hosts, ARP flooded by
# head-end replication, isolation of segments across hosts, the policy
# enforced across hosts, a DF packet larger than the overlay MTU answered
# with ICMP fragmentation needed (path MTU discovery converges), and the
# underlay capture decoded by tshark: VXLAN, the right VNI, valid checksums.
. "$(dirname "$0")/lib.sh"
hv_setup

ua=${HV_ID}ua
ub=${HV_ID}ub
hv_underlay "$ua" "$ub"

policy() { # policy LOCAL PEER [SETTING]: host files differ in the overlay block only
	cat <<EOF
segment app  { vni 300 }
segment mgmt { vni 100 }
service blocked = tcp/9999
policy {
	no-9999: block app -> app service blocked
	app:     allow app -> app
	mgmt:    allow mgmt -> mgmt
	default block
}
overlay {
	local $1 dev up
	peer $2
	${3:-}
}
EOF
}
# A computes its outer UDP checksums; B sends 0, RFC 7348's default
policy 192.0.2.1 192.0.2.2 "udp-checksum yes" >"$HV_TMP/a.hvnet"
policy 192.0.2.2 192.0.2.1 >"$HV_TMP/b.hvnet"

hv_start a --segment app --segment mgmt --port "up:af_packet:-:iface=$ua" --policy "$HV_TMP/a.hvnet"
# host B runs two workers: decapsulated frames are handed to the worker owning their connection
hv_start b --cpus 0,1,1 --segment app --segment mgmt --port "up:af_packet:-:iface=$ub" --policy "$HV_TMP/b.hvnet"
hv_guest a a1 app 10.30.0.1/24 mtu=1500
hv_guest b b1 app 10.30.0.2/24
hv_guest b b2 mgmt 10.30.0.3/24

# a guest port of an overlay segment gets the overlay MTU unless told otherwise
hv_assert_eq 1450 "$(hv_in b1 cat /sys/class/net/eth0/mtu)" "b1's MTU (overlay segment)"
warn=$(hv_json a '" ".join(w["message"] for w in r["warnings"])' policy apply "$HV_TMP/a.hvnet")
grep -q "port 'a1' (segment app) has MTU 1500, more than the overlay's 1450" <<<"$warn" ||
	hv_fail "policy apply does not warn about a1's MTU: $warn"
hv_pass "guest ports get the overlay MTU (b1: 1450); a1, given 1500, is warned about at apply"

hv_assert_eq 1450 "$(hv_json a 'r["mtu"]' vtep show)" "overlay MTU (uplink 1500 - 50)"
hv_assert_eq "300" "$(hv_json a '[v["vni"] for v in r["vnis"] if v["segment"]=="app"][0]' vtep show)" "VNI of app"

# the underlay capture, from before the first packet, on both ends: an
# af_packet port sends past the qdisc, so each end sees what arrives there.
# B's end gets the iperf3 data from A: it keeps small frames only, a few
# thousand at most, so that tshark reads it in moments on a loaded machine
tcpdump -i "$ua" -w "$HV_TMP/underlay.pcap" -U udp port 4789 >/dev/null 2>&1 &
HV_PIDS+=($!)
tcpdump -i "$ub" -w "$HV_TMP/underlay-b.pcap" -U -c 2000 udp port 4789 and less 400 >/dev/null 2>&1 &
HV_PIDS+=($!)
sleep 0.5

# the peers resolve each other's underlay MAC by ARP
for _ in $(seq 50); do
	[ "$(hv_json a 'r["peers"][0]["mac"] is not None' vtep show)" = True ] && break
	sleep 0.1
done
hv_assert_eq "$(cat /sys/class/net/"$ub"/address)" "$(hv_json a 'r["peers"][0]["mac"]' vtep show)" \
	"host A's neighbour entry for 192.0.2.2"
hv_pass "underlay neighbour resolved by ARP: 192.0.2.2 is at $(cat /sys/class/net/"$ub"/address)"

hv_in a1 ping -c 3 -i 0.2 -W 2 10.30.0.2 >"$HV_TMP/ping.txt" ||
	{ cat "$HV_TMP/ping.txt"; hv_ctl a vtep show; hv_ctl b vtep show; hv_fail "a1 (host A) cannot ping b1 (host B) in app"; }
hv_pass "a1 on host A pings b1 on host B across the overlay: $(grep -o '[0-9]* received' "$HV_TMP/ping.txt")"

flood=$(hv_json a 'r["counters"]["flood_copies"]' vtep show)
hv_assert_ge "$flood" 1 "head-end replicated copies (a1's ARP broadcast)"
mac_b1=$(hv_mac_of b1)
where=$(hv_json a '[e["port"] for e in r if e["mac"]=="'"$mac_b1"'"]' mac show app)
hv_assert_eq "['vtep:192.0.2.2']" "$where" "host A learned b1's MAC behind VTEP 192.0.2.2"
hv_pass "ARP flooded by head-end replication ($flood copies); b1's MAC learned as (VTEP 192.0.2.2, VNI 300)"

# isolation: b2 (mgmt, host B) shares the subnet but not the segment
b2_rx=$(hv_json b 'r["tx_packets"]' port show b2)
if hv_in a1 ping -c 2 -i 0.2 -W 1 10.30.0.3 >/dev/null 2>&1; then
	hv_fail "a1 (app, host A) reached b2 (mgmt, host B)"
fi
hv_assert_eq "$b2_rx" "$(hv_json b 'r["tx_packets"]' port show b2)" "frames to b2 from the app segment"
hv_pass "isolation across hosts: a1 (app) cannot reach b2 (mgmt); nothing of app reached b2's port"

# the policy across hosts: tcp/9999 is blocked, iperf3 on 5201 passes
hv_in b1 iperf3 -s -1 -D -B 10.30.0.2 --logfile "$HV_TMP/iperf-s.log" || hv_fail "iperf3 server"
sleep 0.5
hv_in a1 iperf3 -c 10.30.0.2 -t 2 -J >"$HV_TMP/iperf.json" || { tail "$HV_TMP/iperf.json"; hv_fail "iperf3 across the overlay"; }
bps=$(python3 -c "import json; print(int(json.load(open('$HV_TMP/iperf.json'))['end']['sum_received']['bits_per_second']))")
hv_assert_ge "$bps" 10000000 "iperf3 a1 -> b1 bits/s"
hv_pass "iperf3 a1 -> b1 across the overlay: $((bps / 1000000)) Mbit/s"
blocked0=$(hv_json a 'sum(d["count"] for d in r["drops"] if d["reason"]=="fw_block")' stats)
hv_in b1 iperf3 -s -1 -D -B 10.30.0.2 -p 9999 --logfile "$HV_TMP/iperf-s2.log" || hv_fail "iperf3 server 9999"
sleep 0.3
if hv_in a1 timeout 5 iperf3 -c 10.30.0.2 -p 9999 -t 1 --connect-timeout 1500 >/dev/null 2>&1; then
	hv_fail "tcp/9999 passed although the policy blocks it"
fi
blocked1=$(hv_json a 'sum(d["count"] for d in r["drops"] if d["reason"]=="fw_block")' stats)
hv_assert_ge "$((blocked1 - blocked0))" 1 "fw_block on host A for a1 -> b1 tcp/9999"
hv_pass "policy across hosts: tcp/9999 a1 -> b1 blocked ($((blocked1 - blocked0)) dropped by fw_block)"

# too big for the overlay: ICMP fragmentation needed, and PMTU discovery converges
hv_in a1 ip route flush cache >/dev/null 2>&1
out=$(hv_in a1 ping -c 1 -W 2 -M do -s 1472 10.30.0.2 2>&1)
grep -qi "mtu = 1450\|mtu=1450" <<<"$out" || hv_fail "no frag-needed with MTU 1450 for a 1500-byte DF packet: $out"
hv_assert_ge "$(hv_json a 'r["counters"]["too_big_replies"]' vtep show)" 1 "too_big_replies"
hv_assert_ge "$(hv_json a 'r["drops"]["vxlan_too_big"]' vtep show)" 1 "vxlan_too_big drops"
grep -q "mtu 1450" <<<"$(hv_in a1 ip route get 10.30.0.2)" || hv_fail "a1's route cache has no PMTU 1450: $(hv_in a1 ip route get 10.30.0.2)"
hv_in a1 ping -c 1 -W 2 -M do -s 1422 10.30.0.2 >/dev/null || hv_fail "a 1450-byte DF ping does not pass"
hv_pass "1500-byte DF ping: ICMP frag needed (mtu 1450); a1's path MTU is 1450 and 1450-byte pings pass"

# IPv6: neighbour discovery crosses the overlay, a large packet gets packet too big
for g in a1 b1; do
	hv_in $g sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth0.disable_ipv6=0
done
hv_in a1 ip addr add fd00:30::1/64 dev eth0 nodad
hv_in b1 ip addr add fd00:30::2/64 dev eth0 nodad
hv_in a1 ping -6 -c 2 -i 0.3 -w 6 fd00:30::2 >/dev/null || hv_fail "a1 -> b1 over IPv6"
ptb0=$(hv_json a 'r["counters"]["too_big_replies"]' vtep show)
out=$(hv_in a1 ping -6 -c 1 -W 2 -M do -s 1452 fd00:30::2 2>&1)
hv_assert_eq "$((ptb0 + 1))" "$(hv_json a 'r["counters"]["too_big_replies"]' vtep show)" "packet too big sent"
grep -q "mtu 1450" <<<"$(hv_in a1 ip -6 route get fd00:30::2)" ||
	hv_fail "a1 has no IPv6 path MTU 1450: $(hv_in a1 ip -6 route get fd00:30::2) ($out)"
hv_pass "IPv6 across the overlay; a 1500-byte packet gets ICMPv6 packet too big, a1's path MTU is 1450"

# the underlay, as tshark decodes it
sleep 0.5
kill "${HV_PIDS[-1]}" "${HV_PIDS[-2]}" 2>/dev/null
sleep 0.5
fields=$(for f in underlay underlay-b; do
	tshark -r "$HV_TMP/$f.pcap" -o udp.check_checksum:TRUE -o ip.check_checksum:TRUE \
		-d udp.port==4789,vxlan -Y "vxlan && icmp" -T fields -E occurrence=f -e ip.src \
		-e vxlan.vni -e ip.checksum.status -e udp.checksum.status -e ip.flags.df 2>/dev/null
done | sort -u)
# the outer headers (first occurrence): checksum status 1 is "good", 3 "not present" (0)
hv_assert_eq "$(printf '192.0.2.1\t300\t1\t1\t1\n192.0.2.2\t300\t1\t3\t1')" "$fields" \
	"tshark: outer source, VNI, outer IP and UDP checksum status, DF"
hv_assert_eq "True False" "$(hv_json a 'r["udp_checksum"]' vtep show) $(hv_json b 'r["udp_checksum"]' vtep show)" \
	"vtep show: udp_checksum on A and B"
hv_pass "tshark: ICMP inside VXLAN with VNI 300, DF set, outer IPv4 checksums good; UDP checksum good from A (udp-checksum yes), 0 from B (the default)"

# host B's second worker tracked connections of frames from the overlay
hv_assert_eq 2 "$(hv_json b 'r["workers"]' version)" "host B workers"
hv_assert_ge "$(hv_json b 'r["firewall"]["handoff_in"]' stats)" 1 "host B hand-offs"
hv_assert_eq 0 "$(hv_json b 'sum(d["count"] for d in r["drops"] if d["reason"] == "handoff_full")' stats)" "host B hand-off losses"
hv_pass "host B (two workers): decapsulated frames handed over to their connection's worker, none lost"

# a smaller underlay: the kernel interface under B's uplink drops to 1400
ip link set "$ub" mtu 1400
warn=$(hv_json b '" ".join(w["message"] for w in r["warnings"])' policy apply "$HV_TMP/b.hvnet")
grep -q "uplink 'up' has MTU 1500 but its interface $ub only 1400: the overlay MTU is 1350" <<<"$warn" ||
	hv_fail "no warning about the 1400-byte underlay: $warn"
hv_assert_eq 1350 "$(hv_json b 'r["mtu"]' vtep show)" "host B's overlay MTU on a 1400-byte underlay"
hv_pass "underlay MTU 1400 under B's uplink: warned at apply, overlay MTU 1350"
# b1 was given no mtu=: its interface follows the overlay MTU down to 1350,
# and back to 1500 when a policy without the overlay leaves app on this host
hv_assert_eq 1350 "$(hv_in b1 cat /sys/class/net/eth0/mtu)" "b1's MTU after the underlay shrank"
hv_assert_eq 1350 "$(hv_json b '[p["mtu"] for p in r if p["name"]=="b1"][0]' port list)" "port b1's MTU"
grep -v '^overlay\|^	local\|^	peer\|^}$' "$HV_TMP/b.hvnet" >"$HV_TMP/b-local.hvnet"
echo "}" >>"$HV_TMP/b-local.hvnet"
hv_ctl b policy apply "$HV_TMP/b-local.hvnet" >/dev/null || hv_fail "apply without the overlay: $(cat "$HV_TMP/b-local.hvnet")"
hv_assert_eq 1500 "$(hv_in b1 cat /sys/class/net/eth0/mtu)" "b1's MTU once app left the overlay"
hv_assert_eq 1500 "$(hv_in a1 cat /sys/class/net/eth0/mtu)" "a1's MTU (given mtu=1500: never changed)"
hv_pass "b1's MTU follows the overlay: 1450, 1350 on the smaller underlay, 1500 without the overlay"
