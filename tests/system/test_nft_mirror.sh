#!/bin/bash
# Mirrors on the kernel datapath (docs/nftables.md, "Mirrors"), against
# hvnetd: policies/demo-lab.hvnet copies every blocked packet of segments app
# and db to the port of guest ids. On each datapath in turn, tcpdump in the
# ids guest captures while the other guests send blocked packets (web1 ->
# web2 tcp/22, db1 -> db2 udp/9999) and allowed ones
# (web1 -> web2 ping, db1 -> db2 ping); the IDS must see the same blocked
# flows on both datapaths, and no allowed one. The kernel lab's ruleset is
# what `policy compile --gateways --mirrors --log-group 1` prints. Then a lab whose
# mirrors nft dup cannot express (a port selected, a filter, the delivered
# tap), copied by tc mirred on the kernel datapath: the ids guest must see
# the same frames as through hvnetd.
. "$(dirname "$0")/lib.sh"
hv_setup
LABS=()
mirror_cleanup() {
	local rc=$?
	for l in "${LABS[@]}"; do "$HVNETCTL" lab down "$l" >/dev/null 2>&1; done
	(exit $rc)
	hv_cleanup
}
trap mirror_cleanup EXIT

# ids_start LAB FILTER: capture on LAB's ids guest into $HV_TMP/LAB.pcap (pid in IDS_PID)
ids_start() {
	ip netns exec "$1-ids" tcpdump -i eth0 -U -nn -w "$HV_TMP/$1.pcap" "$2" >/dev/null 2>&1 &
	IDS_PID=$!
	HV_PIDS+=("$IDS_PID")
	for _ in $(seq 50); do [ -s "$HV_TMP/$1.pcap" ] && break; sleep 0.1; done
}

# ids_seen LAB: stop the capture; the flows it holds, one "proto src > dst" a line
ids_seen() {
	sleep 1
	kill "$IDS_PID"
	wait "$IDS_PID" 2>/dev/null
	tcpdump -r "$HV_TMP/$1.pcap" -nn 2>/dev/null |
		sed -E 's/^[0-9:.]+ IP ([0-9.]+)\.([0-9]+) > ([0-9.]+)\.([0-9]+): (Flags|UDP).*/\5 \1 > \3.\4/; s/^[0-9:.]+ IP ([0-9.]+) > ([0-9.]+): ICMP (echo request|echo reply).*/ICMP \1 > \2 \3/; s/^Flags/TCP/' |
		sort -u
}

probe() { # LAB -> the flows the ids guest saw
	local lab=$1
	in_g() { local g=$1; shift; ip netns exec "$lab-$g" "$@"; }
	ids_start "$lab" 'ip and not arp'
	in_g web1 ping -c1 -W1 10.0.0.12 >/dev/null || hv_fail "$lab: web1 -> web2 ping (allowed) failed"
	in_g db1 ping -c1 -W1 10.0.0.22 >/dev/null || hv_fail "$lab: db1 -> db2 ping (allowed) failed"
	in_g web1 /usr/bin/python3 -c '
import socket
s = socket.socket(); s.settimeout(1)
try: s.connect(("10.0.0.12", 22))
except OSError: pass'
	in_g db1 /usr/bin/python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"q", ("10.0.0.22", 9999))'
	ids_seen "$lab"
}

for dp in hvnetd kernel; do
	lab=$HV_ID-$dp
	LABS+=("$lab")
	"$HVNETCTL" lab up --name "$lab" --datapath "$dp" "$HV_ROOT/policies/demo-lab.hvnet" >"$HV_TMP/$dp.up" 2>&1 ||
		{ cat "$HV_TMP/$dp.up" >&2; hv_fail "lab up --datapath $dp policies/demo-lab.hvnet"; }
	if [ "$dp" = kernel ]; then
		"$HVNETCTL" policy compile --target nft --gateways --mirrors --log-group 1 "$HV_ROOT/policies/demo-lab.hvnet" \
			>"$HV_TMP/printed.nft" 2>/dev/null || hv_fail "policy compile --gateways --mirrors --log-group 1"
		ip netns exec "$lab.switch" nft list ruleset >"$HV_TMP/listed.nft"
		diff -u "$HV_TMP/printed.nft" "$HV_TMP/listed.nft" >&2 ||
			hv_fail "the kernel lab's ruleset is not what policy compile --gateways --mirrors --log-group 1 prints"
		grep -q 'dup to 169.254.68.76 device "ids-eth0"' "$HV_TMP/listed.nft" ||
			hv_fail "no dup to the ids port in the kernel lab's ruleset"
	fi
	probe "$lab" >"$HV_TMP/$dp.seen"
	"$HVNETCTL" lab down "$lab" >/dev/null || hv_fail "lab down $lab"
done
want=$'TCP 10.0.0.11 > 10.0.0.12.22\nUDP 10.0.0.21 > 10.0.0.22.9999'
hv_assert_eq "$want" "$(cat "$HV_TMP/hvnetd.seen")" "what the ids guest saw through hvnetd"
diff -u "$HV_TMP/hvnetd.seen" "$HV_TMP/kernel.seen" >&2 ||
	hv_fail "the ids guest saw other packets on the kernel datapath than through hvnetd"
grep -q "mirror port ids-eth0: copies to guest ids" "$HV_TMP/kernel.up" ||
	hv_fail "kernel lab up does not say where mirror copies go"
grep -q "mirror blocked: pcap destinations are not done" "$HV_TMP/kernel.up" ||
	hv_fail "kernel lab up does not note the pcap destination it leaves out"
hv_pass "demo-lab: the ids guest sees the same blocked flows on the kernel datapath as through hvnetd ($(wc -l <"$HV_TMP/kernel.seen") flows), none of the allowed pings; nft list ruleset is what policy compile --gateways --mirrors --log-group 1 prints"

# ---- mirrors nft dup cannot express, as tc mirred copies ----
# port selection with a filter at the wire tap (what web1 sends: UDP to
# 9999 and ICMP, blocked or not), and the delivered tap of a port (what
# web3 is delivered, allowed only); ids must see the same frames on both
# datapaths
cat >"$HV_TMP/tc.hvnet" <<'EOF'
segment app { class application }
guest web1 { kind netns; nic eth0 { segment app; ip 10.0.0.11/24 } }
guest web2 { kind netns; nic eth0 { segment app; ip 10.0.0.12/24 } }
guest web3 { kind netns; nic eth0 { segment app; ip 10.0.0.13/24 } }
guest ids  { kind netns; nic eth0 { segment app; ip 10.0.0.99/24 } }
policy {
	web:  allow app -> app tcp/8080
	ping: allow app -> app icmp/echo-request
	default block
}
mirror web1-out {
	select port web1-eth0, direction ingress
	filter "udp port 9999 or icmp"
	to port ids-eth0
}
mirror web3-in {
	select port web3-eth0, direction egress
	tap delivered
	to port ids-eth0
}
EOF
probe_tc() { # LAB -> the unicast flows the ids guest saw (the kernel lab's
	# switch namespace sends IGMP and MLD of its own, which the delivered tap
	# copies: docs/nftables.md, "tc mirred")
	local lab=$1
	in_g() { local g=$1; shift; ip netns exec "$lab-$g" "$@"; }
	ids_start "$lab" 'ip and not ip multicast'
	in_g web1 ping -c1 -W1 10.0.0.12 >/dev/null || hv_fail "$lab: web1 -> web2 ping (allowed) failed"
	in_g web1 ping -c1 -W1 10.0.0.13 >/dev/null || hv_fail "$lab: web1 -> web3 ping (allowed) failed"
	in_g web1 /usr/bin/python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"q", ("10.0.0.12", 9999))
s = socket.socket(); s.settimeout(1)
try: s.connect(("10.0.0.12", 8080))
except OSError: pass'
	in_g web2 /usr/bin/python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"q", ("10.0.0.13", 9999))
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"q", ("10.0.0.11", 9999))'
	ids_seen "$lab"
}
for dp in hvnetd kernel; do
	lab=$HV_ID-t$dp
	LABS+=("$lab")
	"$HVNETCTL" lab up --name "$lab" --datapath "$dp" "$HV_TMP/tc.hvnet" >"$HV_TMP/tc-$dp.up" 2>&1 ||
		{ cat "$HV_TMP/tc-$dp.up" >&2; hv_fail "lab up --datapath $dp tc.hvnet"; }
	probe_tc "$lab" >"$HV_TMP/tc-$dp.seen"
	"$HVNETCTL" lab down "$lab" >/dev/null || hv_fail "lab down $lab"
done
want=$'ICMP 10.0.0.11 > 10.0.0.12 echo request\nICMP 10.0.0.11 > 10.0.0.13 echo request\nUDP 10.0.0.11 > 10.0.0.12.9999'
hv_assert_eq "$want" "$(cat "$HV_TMP/tc-hvnetd.seen")" "what the ids guest saw through hvnetd (tc.hvnet)"
diff -u "$HV_TMP/tc-hvnetd.seen" "$HV_TMP/tc-kernel.seen" >&2 ||
	hv_fail "tc.hvnet: the ids guest saw other packets on the kernel datapath than through hvnetd"
grep -q '^mirror web1-out: tc mirred copies of the frames sent by port web1-eth0 matching "udp port 9999 or icmp" to ids-eth0$' "$HV_TMP/tc-kernel.up" &&
	grep -q '^mirror web3-in: tc mirred copies of the frames delivered to port web3-eth0 to ids-eth0$' "$HV_TMP/tc-kernel.up" ||
	hv_fail "kernel lab up does not say how it copies: $(cat "$HV_TMP/tc-kernel.up")"
! grep -q "mirror web.* is not set up" "$HV_TMP/tc-kernel.up" || hv_fail "kernel lab up left a mirror out: $(cat "$HV_TMP/tc-kernel.up")"
hv_pass "tc mirred: a port's frames through a filter (wire tap) and the frames delivered to a port: the ids guest sees the same $(wc -l <"$HV_TMP/tc-kernel.seen") flows on the kernel datapath as through hvnetd"

# a filter libpcap refuses: lab up says where and why, and leaves nothing
sed 's/filter "udp port 9999 or icmp"/filter "udp port"/' "$HV_TMP/tc.hvnet" >"$HV_TMP/bad.hvnet"
LABS+=("$HV_ID-bad")
"$HVNETCTL" lab up --name "$HV_ID-bad" --datapath kernel "$HV_TMP/bad.hvnet" >"$HV_TMP/bad.up" 2>&1 &&
	hv_fail "a kernel lab with a bad mirror filter came up"
grep -q "bad.hvnet:13:9: error: bad filter: can't parse filter expression: syntax error" "$HV_TMP/bad.up" ||
	hv_fail "bad filter: $(cat "$HV_TMP/bad.up")"
[ -z "$(ip netns list | grep -- "^$HV_ID-bad")" ] || hv_fail "namespaces left after a failed lab up: $(ip netns list | grep -- "^$HV_ID-bad")"
hv_pass "a mirror filter libpcap refuses: kernel lab up names file:line:column and libpcap's message, and leaves nothing behind"
