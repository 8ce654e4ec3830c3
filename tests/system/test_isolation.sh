#!/bin/bash
# Segments are isolated L2 domains: four guests share one IP subnet, two in
# segment app and two in segment db. Guests reach their own segment only; a
# broadcast (ARP, and a broadcast ping) from app is seen in app and never in
# db; the counters say where frames went.
. "$(dirname "$0")/lib.sh"
hv_setup

hv_start sw --segment app --segment db
hv_guest sw a1 app 10.20.0.1/24
hv_guest sw a2 app 10.20.0.2/24
hv_guest sw d1 db 10.20.0.3/24
hv_guest sw d2 db 10.20.0.4/24

# capture everything arriving at d1 and a2 while a1 shouts
hv_in d1 tcpdump -i eth0 -n -U -w "$HV_TMP/d1.pcap" >/dev/null 2>&1 &
cap1=$!
hv_in a2 tcpdump -i eth0 -n -U -w "$HV_TMP/a2.pcap" >/dev/null 2>&1 &
cap2=$!
sleep 1

hv_in a1 ping -c 2 -i 0.2 -W 1 10.20.0.2 >/dev/null || hv_fail "a1 cannot reach a2 (same segment)"
hv_in d1 ping -c 2 -i 0.2 -W 1 10.20.0.4 >/dev/null || hv_fail "d1 cannot reach d2 (same segment)"
hv_pass "inside a segment: a1 -> a2 and d1 -> d2 answer"

if hv_in a1 ping -c 2 -i 0.2 -W 1 10.20.0.3 >/dev/null; then hv_fail "a1 reached d1 across segments"; fi
if hv_in d2 ping -c 2 -i 0.2 -W 1 10.20.0.1 >/dev/null; then hv_fail "d2 reached a1 across segments"; fi
hv_pass "across segments: a1 -> d1 and d2 -> a1 get no answer"

# a broadcast ping, and ARP requests for an absent address, from a1
hv_in a1 sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0
hv_in a1 ping -b -c 3 -i 0.2 -W 1 10.20.0.255 >/dev/null 2>&1
hv_in a1 ping -c 2 -W 1 10.20.0.99 >/dev/null 2>&1 # ARP who-has: broadcast
sleep 1
kill $cap1 $cap2
wait $cap1 $cap2 2>/dev/null

mac_a1=$(hv_mac_of a1)
seen_d1=$(tcpdump -r "$HV_TMP/d1.pcap" -n -e "ether src $mac_a1" 2>/dev/null | wc -l)
seen_a2=$(tcpdump -r "$HV_TMP/a2.pcap" -n -e "ether src $mac_a1 and ether broadcast" 2>/dev/null | wc -l)
hv_assert_eq 0 "$seen_d1" "frames from a1 captured in segment db"
hv_assert_ge "$seen_a2" 3 "broadcasts from a1 captured at a2"
hv_pass "a1's broadcasts: $seen_a2 seen at a2 (app), $seen_d1 at d1 (db)"

# the MAC tables are per segment
app_macs=$(hv_json sw '" ".join(sorted(e["port"] for e in r))' mac show app)
db_macs=$(hv_json sw '" ".join(sorted(e["port"] for e in r))' mac show db)
hv_assert_eq "a1 a2" "$app_macs" "ports in the app MAC table"
hv_assert_eq "d1 d2" "$db_macs" "ports in the db MAC table"
hv_pass "mac show app: $app_macs; mac show db: $db_macs"

# counters: the flood counter of app moved; d1 transmitted nothing from a1
flooded=$(hv_json sw 'r["flooded"]' segment show app)
hv_assert_ge "$flooded" 3 "segment app flooded"
hv_pass "segment app flooded $flooded frames"
