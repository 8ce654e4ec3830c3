#!/bin/bash
# Per-port MAC bound: a port with mac-limit=2 learns two MACs; the others are
# refused (counted as limit_port), their frames still forwarded, and replies
# to them flooded in the segment.
. "$(dirname "$0")/lib.sh"
hv_setup

hv_start sw --segment app
hv_guest sw m1 app 10.40.0.1/24 mac-limit=2
hv_guest sw m2 app 10.40.0.2/24

hv_in m2 tcpdump -i eth0 -n -U -w "$HV_TMP/m2.pcap" >/dev/null 2>&1 &
cap=$!
sleep 1
hv_in m1 /usr/bin/python3 - <<'PY' || hv_fail "scapy send"
from scapy.all import Ether, IP, UDP, sendp, conf
conf.verb = 0
frames = [Ether(src="02:00:00:00:01:%02x" % i, dst="ff:ff:ff:ff:ff:ff") /
          IP(src="10.40.0.%d" % (100 + i), dst="10.40.0.255") / UDP(sport=1000 + i, dport=9)
          for i in range(1, 6)]
sendp(frames, iface="eth0")
PY
sleep 1
kill $cap
wait $cap 2>/dev/null

learned=$(hv_json sw 'r["macs"]' port show m1)
hv_assert_eq 2 "$learned" "MACs learned on m1"
refused=$(hv_json sw 'r["mac_learn"]["limit_port"]' stats)
hv_assert_ge "$refused" 3 "learn refusals at the port limit"
seen=$(tcpdump -r "$HV_TMP/m2.pcap" -n 'udp dst port 9' 2>/dev/null | wc -l)
hv_assert_eq 5 "$seen" "frames from m1 forwarded to m2"
hv_pass "m1 (mac-limit=2): 2 learned, $refused refused, all $seen frames forwarded"

table=$(hv_json sw '" ".join(e["mac"] for e in r if e["port"]=="m1")' mac show app)
n=$(echo $table | wc -w)
hv_assert_eq 2 "$n" "entries on m1 in mac show ($table)"
flushed=$(hv_json sw 'r["flushed"]' mac flush app port=m1)
hv_assert_eq 2 "$flushed" "mac flush app port=m1"
hv_assert_eq 0 "$(hv_json sw 'r["macs"]' port show m1)" "MACs on m1 after flush"
hv_pass "mac flush app port=m1 removed $flushed entries"
