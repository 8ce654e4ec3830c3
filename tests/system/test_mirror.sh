#!/bin/bash
# Mirrors between namespace guests: a policy file's mirror session copies
# exactly the blocked postgres SYNs (byte for byte, in order) into a pcapng
# whose comments tshark reads (segment, port, direction, verdict, rule), and
# into an IDS port where tcpdump sees them with the segment's VLAN tag;
# `hvnetctl capture -w - | tcpdump -r -`; an IDS port that disappears leaves
# forwarding untouched; rotation keeps the configured number of files; a bad
# filter or an unwritable path creates nothing.
. "$(dirname "$0")/lib.sh"
hv_setup
command -v tshark >/dev/null || hv_fail "tshark missing: scripts/install-deps.sh installs it"
/usr/bin/python3 -c 'import scapy' 2>/dev/null || hv_fail "python3-scapy missing"

cat >"$HV_TMP/mirror.hvnet" <<EOF
segment app { subnet 10.30.0.0/24 }
service web = tcp/80
service postgres = tcp/5432
service ping = icmp/echo-request
policy {
	web: allow app -> app service web
	ping: allow app -> app service ping
	no-db: block app -> app service postgres
	default block
}
mirror ids {
	select segment app, verdict blocked
	filter "tcp port 5432"
	to pcap "caps/blocked.pcapng"
	to port ids0 vlan-tag
}
EOF

hv_start sw --cpus 0,1 --segment app
hv_guest sw web1 app 10.30.0.11/24
hv_guest sw web2 app 10.30.0.12/24
# the IDS: a tap in its own namespace that only receives mirror copies
hv_netns ids
hv_ctl sw port add ids0 tap app "netns=$HV_ID-ids" ifname=eth0 mirror=yes >/dev/null ||
	hv_fail "port add ids0"
hv_in ids sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$HV_ID-ids" link set eth0 up
hv_ctl sw policy apply "$HV_TMP/mirror.hvnet" >"$HV_TMP/apply.out" || hv_fail "policy apply"
hv_assert_eq 1 "$(hv_json sw 'len(r)' mirror list)" "mirror sessions after apply"
hv_assert_eq up "$(hv_json sw 'r["destinations"][1]["state"]' mirror show ids)" "ids0 destination"
seg_id=$(hv_json sw 'r["id"]' segment show app)

ip netns exec "$HV_ID-ids" tcpdump -i eth0 -nn -U --immediate-mode -w "$HV_TMP/ids.pcap" >/dev/null 2>&1 &
tcpdump_pid=$!
HV_PIDS+=("$tcpdump_pid")
hv_in web1 ping -c 2 -i 0.2 -W 1 10.30.0.12 >/dev/null || hv_fail "web1 cannot ping web2"
sleep 1

# known traffic from web1: 2 allowed SYNs to web, 3 blocked SYNs to postgres, 1 blocked udp
mac2=$(hv_mac_of web2)
hv_in web1 /usr/bin/python3 - "$mac2" "$HV_TMP/sent.pcap" <<'PY' || hv_fail "sending the test frames"
import sys
from scapy.all import Ether, IP, TCP, UDP, Raw, sendp, wrpcap, conf
conf.verb = 0
dst = sys.argv[1]
def syn(sport, dport):
    return Ether(dst=dst) / IP(src="10.30.0.11", dst="10.30.0.12", id=sport) / \
        TCP(sport=sport, dport=dport, flags="S", seq=1000 + sport)
frames = [syn(40001, 80), syn(40002, 5432), syn(40003, 80), syn(40004, 5432),
          Ether(dst=dst) / IP(src="10.30.0.11", dst="10.30.0.12") / UDP(sport=5432, dport=9) / Raw(b"u"),
          syn(40005, 5432)]
for f in frames:
    sendp(f, iface="eth0")
wrpcap(sys.argv[2], [f for f in frames if TCP in f and f[TCP].dport == 5432])
PY
sleep 1
kill -TERM "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null

c=$(hv_json sw 'r["counters"]["selected"], r["written"], r["counters"]["port_sent"]' mirror show ids)
hv_assert_eq "3 3 3" "$c" "mirror ids: selected, written, sent to ids0"
/usr/bin/python3 - "$HV_TMP/sent.pcap" "$HV_TMP/caps/blocked.pcapng" <<'PY' || hv_fail "pcapng bytes"
import logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)  # it wants a newline in every comment
from scapy.all import rdpcap
sent = [bytes(p) for p in rdpcap(sys.argv[1])]
got = [bytes(p) for p in rdpcap(sys.argv[2])]
assert len(sent) == 3, len(sent)
assert got == sent, "pcapng holds %d frames, not the 3 blocked SYNs byte for byte" % len(got)
PY
hv_pass "pcapng: exactly the 3 blocked postgres SYNs, byte for byte, in order"
tshark -r "$HV_TMP/caps/blocked.pcapng" -T fields -e frame.interface_name -e frame.comment \
	>"$HV_TMP/comments.txt" 2>/dev/null || hv_fail "tshark cannot read the pcapng"
want="web1	segment=app port=web1 direction=ingress verdict=blocked rule=no-db"
hv_assert_eq 3 "$(grep -cxF "$want" "$HV_TMP/comments.txt")" "tshark: interface and comment of each packet"
hv_pass "tshark: interface web1, comment '${want#*	}' on each"

# the IDS port: the same 3 frames, each in an 802.1Q tag naming the segment
vlan=$((seg_id + 1))
n=$(tcpdump -nn -e -r "$HV_TMP/ids.pcap" "vlan $vlan and tcp dst port 5432" 2>/dev/null | wc -l)
hv_assert_eq 3 "$n" "tagged postgres SYNs seen by tcpdump on the IDS port"
all=$(tcpdump -nn -r "$HV_TMP/ids.pcap" 2>/dev/null | wc -l)
hv_assert_eq 3 "$all" "frames on the IDS port (no switched traffic reaches it)"
hv_pass "IDS port: tcpdump sees the 3 SYNs with VLAN tag $vlan and nothing else"

# an ad hoc capture, piped into tcpdump
hv_ctl sw capture web2 -c 4 -f icmp -w - 2>"$HV_TMP/capture.err" |
	tcpdump -nn -r - >"$HV_TMP/capture.txt" 2>/dev/null &
cap_pid=$!
sleep 0.5
hv_in web1 ping -c 3 -i 0.2 -W 1 10.30.0.12 >/dev/null || hv_fail "ping during capture"
wait "$cap_pid" || hv_fail "capture | tcpdump: $(cat "$HV_TMP/capture.err")"
hv_assert_eq 4 "$(grep -c 'ICMP echo' "$HV_TMP/capture.txt")" "capture -c 4 -f icmp | tcpdump -r -"
grep -q "4 packets captured" "$HV_TMP/capture.err" || hv_fail "capture summary: $(cat "$HV_TMP/capture.err")"
hv_assert_eq 1 "$(hv_json sw 'len(r)' mirror list)" "sessions once the capture ended"
hv_pass "hvnetctl capture web2 -c 4 -f icmp -w - | tcpdump -r -: 4 echo packets"

# the IDS port disappears while guests talk: no packet lost, copies counted as dest_down
hv_in web1 ping -c 30 -i 0.05 -W 1 10.30.0.12 >"$HV_TMP/ping.txt" 2>&1 &
ping_pid=$!
sleep 0.3
hv_ctl sw port del ids0 >/dev/null || hv_fail "port del ids0"
# blocked SYNs keep being selected while the destination is gone
hv_in web1 /usr/bin/python3 -c "
from scapy.all import Ether, IP, TCP, sendp, conf
conf.verb = 0
sendp([Ether(dst='$mac2')/IP(src='10.30.0.11', dst='10.30.0.12')/TCP(sport=41000+i, dport=5432, flags='S') for i in (1, 2, 3)], iface='eth0')"
wait "$ping_pid" || hv_fail "ping lost packets while the IDS port went away: $(tail -2 "$HV_TMP/ping.txt")"
grep -q " 0% packet loss" "$HV_TMP/ping.txt" || hv_fail "ping: $(tail -2 "$HV_TMP/ping.txt")"
down=$(hv_json sw 'r["counters"]["dest_down"]' mirror show ids)
hv_assert_eq 3 "$down" "copies for the missing IDS port counted as dest_down"
hv_assert_eq 6 "$(hv_json sw 'r["written"]' mirror show ids)" "pcapng keeps writing"
hv_pass "IDS port gone: 30 pings, 0% loss; 3 copies counted dest_down, the file still written"

# the IDS port comes back (a reconnect): found again by name, copies flow to it again
hv_ctl sw port add ids0 tap app "netns=$HV_ID-ids" ifname=eth0 mirror=yes >/dev/null ||
	hv_fail "port add ids0 again"
hv_assert_eq up "$(hv_json sw 'r["destinations"][1]["state"]' mirror show ids)" "ids0 destination after re-add"
sent=$(hv_json sw 'r["counters"]["port_sent"]' mirror show ids)
hv_in web1 /usr/bin/python3 -c "
from scapy.all import Ether, IP, TCP, sendp, conf
conf.verb = 0
sendp(Ether(dst='$mac2')/IP(src='10.30.0.11', dst='10.30.0.12')/TCP(sport=42000, dport=5432, flags='S'), iface='eth0')"
sleep 0.3
hv_assert_eq $((sent + 1)) "$(hv_json sw 'r["counters"]["port_sent"]' mirror show ids)" "copies to the re-added ids0"
hv_pass "IDS port re-added: found by name, the next blocked SYN is copied to it"

# applying the same file again keeps its session as it is: counters, and the file untruncated
w=$(hv_json sw 'r["written"]' mirror show ids)
hv_ctl sw policy apply "$HV_TMP/mirror.hvnet" >/dev/null || hv_fail "policy re-apply"
hv_assert_eq "$w" "$(hv_json sw 'r["written"]' mirror show ids)" "session written count after a re-apply"
n=$(tcpdump -nn -r "$HV_TMP/caps/blocked.pcapng" 2>/dev/null | wc -l)
hv_assert_eq "$w" "$n" "packets in the pcapng after a re-apply"
hv_pass "re-applying the policy file keeps the mirror session: $w written, the file intact"

# rotation: 4 KiB files, keep 2
hv_ctl sw mirror add rot segment app to pcap "$HV_TMP/rot/r.pcapng" rotate 4K keep 2 >/dev/null ||
	hv_fail "mirror add rot"
hv_in web1 ping -c 20 -i 0.02 -s 1000 -W 1 10.30.0.12 >/dev/null || hv_fail "ping for rotation"
sleep 0.5
files=$(hv_json sw 'r["destinations"][0]["files"]' mirror show rot)
hv_assert_ge "$files" 4 "files opened by rotation"
hv_assert_eq 2 "$(find "$HV_TMP/rot" -name 'r-*.pcapng' | wc -l)" "files kept (keep 2)"
hv_ctl sw mirror del rot >/dev/null || hv_fail "mirror del rot"
hv_pass "rotation: $files files written, the last 2 kept"

# a remote collector: VXLAN out of a port into a namespace where a Linux vxlan device decapsulates
hv_netns col
hv_ctl sw port add col0 tap app "netns=$HV_ID-col" ifname=eth0 mirror=yes >/dev/null ||
	hv_fail "port add col0"
hv_in col sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$HV_ID-col" addr add 192.0.2.50/24 dev eth0
ip -n "$HV_ID-col" link set eth0 up
ip -n "$HV_ID-col" link add vx0 type vxlan id 4242 dstport 4789 local 192.0.2.50 nolearning
ip -n "$HV_ID-col" link set vx0 up
# one session, two collectors' encapsulations: VXLAN 4242 and ERSPAN II session 7
mac_col=$(hv_mac_of col)
hv_ctl sw mirror add rm segment app filter icmp \
	to remote 192.0.2.50 vxlan 4242 via col0 source 192.0.2.1 mac "$mac_col" \
	to remote 192.0.2.50 erspan 7 via col0 source 192.0.2.1 mac "$mac_col" >/dev/null ||
	hv_fail "mirror add rm"
ip netns exec "$HV_ID-col" tcpdump -i vx0 -nn -U --immediate-mode -w "$HV_TMP/vx.pcap" >/dev/null 2>&1 &
vx_pid=$!
ip netns exec "$HV_ID-col" tcpdump -i eth0 -nn -U --immediate-mode -w "$HV_TMP/gre.pcap" 'ip proto 47' \
	>/dev/null 2>&1 &
gre_pid=$!
HV_PIDS+=("$vx_pid" "$gre_pid")
sleep 1
hv_in web1 ping -c 3 -i 0.2 -W 1 10.30.0.12 >/dev/null || hv_fail "ping for the remote mirrors"
sleep 1
kill -TERM "$vx_pid" "$gre_pid"
wait "$vx_pid" "$gre_pid" 2>/dev/null
req=$(tcpdump -nn -r "$HV_TMP/vx.pcap" 'icmp[icmptype] = icmp-echo' 2>/dev/null | wc -l)
rep=$(tcpdump -nn -r "$HV_TMP/vx.pcap" 'icmp[icmptype] = icmp-echoreply' 2>/dev/null | wc -l)
hv_assert_eq "3 3" "$req $rep" "echo requests and replies decapsulated by the collector's vxlan device"
got=$(tshark -r "$HV_TMP/gre.pcap" -T fields -e erspan.version -e erspan.spanid -e icmp.type 2>/dev/null |
	sort | uniq -c | awk '{print $1 "x" $2 "/" $3 "/" $4}' | tr '\n' ' ')
hv_assert_eq "3x1/7/0 3x1/7/8 " "$got" "tshark: ERSPAN version, session id and inner ICMP type"
hv_assert_eq 12 "$(hv_json sw 'r["counters"]["port_sent"]' mirror show rm)" "encapsulated copies sent"
hv_ctl sw mirror del rm >/dev/null || hv_fail "mirror del rm"
hv_pass "remote: Linux vxlan 4242 decapsulates 3 requests and 3 replies; tshark reads the same in ERSPAN II session 7"

# bad input creates nothing
if hv_ctl sw mirror add bad segment app filter "tcp port" to pcap "$HV_TMP/bad.pcapng" 2>"$HV_TMP/bad.err"; then
	hv_fail "a bad filter was accepted"
fi
grep -q "bad filter" "$HV_TMP/bad.err" || hv_fail "bad filter message: $(cat "$HV_TMP/bad.err")"
if hv_ctl sw mirror add bad2 segment app to pcap /proc/nonexistent/x.pcapng 2>"$HV_TMP/bad2.err"; then
	hv_fail "an unwritable path was accepted"
fi
grep -q "cannot open capture file '/proc/nonexistent/x.pcapng'" "$HV_TMP/bad2.err" ||
	hv_fail "unwritable path message: $(cat "$HV_TMP/bad2.err")"
[ ! -e "$HV_TMP/bad.pcapng" ] || hv_fail "the refused session left a file"
hv_assert_eq 1 "$(hv_json sw 'len(r)' mirror list)" "sessions after the refusals"
hv_pass "bad filter and unwritable path refused with their reasons; nothing created"

# a policy file whose mirror cannot write changes nothing: same policy, same sessions
epoch=$(hv_json sw 'r["current"]["epoch"]' policy status)
sed 's|to pcap "caps/blocked.pcapng"|to pcap "/proc/nonexistent/b.pcapng"|; s|no-db: block|no-db: allow|' \
	"$HV_TMP/mirror.hvnet" >"$HV_TMP/badmirror.hvnet"
if hv_ctl sw policy apply "$HV_TMP/badmirror.hvnet" 2>"$HV_TMP/badmirror.err"; then
	hv_fail "a policy whose mirror cannot write was applied"
fi
grep -q "badmirror.hvnet:[0-9]*: cannot open capture file '/proc/nonexistent/b.pcapng'" "$HV_TMP/badmirror.err" ||
	hv_fail "apply error: $(cat "$HV_TMP/badmirror.err")"
hv_assert_eq "$epoch" "$(hv_json sw 'r["current"]["epoch"]' policy status)" "policy epoch after the refused apply"
hv_assert_eq "ids" "$(hv_json sw '",".join(m["name"] for m in r)' mirror list)" "sessions after the refused apply"
hv_pass "policy apply with an unwritable mirror file refused (file:line, path); policy and sessions unchanged"
