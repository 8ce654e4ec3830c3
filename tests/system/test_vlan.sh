#!/bin/bash
# A guest that tags its frames with a VLAN is dropped and counted
# (VLAN_NOT_ALLOWED) unless its port allows tags.
. "$(dirname "$0")/lib.sh"
hv_setup

hv_start sw --segment app
hv_guest sw v1 app 10.30.0.1/24
hv_guest sw v2 app 10.30.0.2/24
hv_guest sw t1 app 10.30.0.3/24 allow-vlan=yes
hv_guest sw t2 app 10.30.0.4/24 allow-vlan=yes
# The kernel here has no 8021q: tagged frames come from scapy, and a capture
# on the peer shows whether they crossed the switch.
send_tagged() { # guest
	hv_in "$1" /usr/bin/python3 - <<'PY' || hv_fail "scapy send from $1"
from scapy.all import Ether, Dot1Q, IP, ICMP, sendp, get_if_hwaddr, conf
conf.verb = 0
me = get_if_hwaddr("eth0")
sendp([Ether(src=me, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=10) / IP(src="10.31.0.1", dst="10.31.0.2") / ICMP()
       for _ in range(4)], iface="eth0")
PY
}
tagged_seen() { # pcap from-guest
	tcpdump -r "$1" -n -e "ether src $(hv_mac_of "$2") and vlan" 2>/dev/null | wc -l
}

hv_in v1 ping -c 2 -W 1 10.30.0.2 >/dev/null || hv_fail "untagged v1 -> v2"
hv_in v2 tcpdump -i eth0 -n -U -w "$HV_TMP/v2.pcap" >/dev/null 2>&1 &
c1=$!
hv_in t2 tcpdump -i eth0 -n -U -w "$HV_TMP/t2.pcap" >/dev/null 2>&1 &
c2=$!
sleep 1
send_tagged v1
send_tagged t1
sleep 1
kill $c1 $c2
wait $c1 $c2 2>/dev/null

hv_assert_eq 0 "$(tagged_seen "$HV_TMP/v2.pcap" v1)" "tagged frames from v1 seen at v2"
drops=$(hv_json sw 'r["drop_reasons"].get("vlan_not_allowed", 0)' port show v1)
hv_assert_eq 4 "$drops" "VLAN_NOT_ALLOWED on v1"
hv_pass "v1 (tags not allowed): untagged ping works; 4 tagged frames dropped, VLAN_NOT_ALLOWED=$drops"

hv_assert_eq 4 "$(tagged_seen "$HV_TMP/t2.pcap" t1)" "tagged frames from t1 seen at t2"
tdrops=$(hv_json sw 'r["drop_reasons"].get("vlan_not_allowed", 0)' port show t1)
hv_assert_eq 0 "$tdrops" "VLAN_NOT_ALLOWED on t1"
hv_pass "t1 (allow-vlan=yes): its 4 tagged frames reach t2"
total=$(hv_json sw '[d["count"] for d in r["drops"] if d["reason"]=="vlan_not_allowed"][0]' stats)
hv_assert_eq "$drops" "$total" "stats drop total VLAN_NOT_ALLOWED"
