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
for g in v1 v2 t1 t2; do
	hv_in $g ip link add link eth0 name eth0.10 type vlan id 10
	hv_in $g ip link set eth0.10 up
done
hv_in v1 ip addr add 10.31.0.1/24 dev eth0.10
hv_in v2 ip addr add 10.31.0.2/24 dev eth0.10
hv_in t1 ip addr add 10.31.0.3/24 dev eth0.10
hv_in t2 ip addr add 10.31.0.4/24 dev eth0.10

hv_in v1 ping -c 2 -W 1 10.30.0.2 >/dev/null || hv_fail "untagged v1 -> v2"
if hv_in v1 ping -c 3 -i 0.2 -W 1 10.31.0.2 >/dev/null; then hv_fail "tagged frames from v1 were forwarded"; fi
drops=$(hv_json sw 'r["drop_reasons"].get("VLAN_NOT_ALLOWED", 0)' port show v1)
hv_assert_ge "$drops" 3 "VLAN_NOT_ALLOWED on v1"
hv_pass "v1 (tags not allowed): untagged ping works, tagged ping fails, VLAN_NOT_ALLOWED=$drops"

hv_in t1 ping -c 2 -i 0.2 -W 1 10.31.0.4 >/dev/null || hv_fail "tagged t1 -> t2 with allow-vlan=yes"
tdrops=$(hv_json sw 'r["drop_reasons"].get("VLAN_NOT_ALLOWED", 0)' port show t1)
hv_assert_eq 0 "$tdrops" "VLAN_NOT_ALLOWED on t1"
hv_pass "t1, t2 (allow-vlan=yes): tagged ping works"
total=$(hv_json sw '[d["count"] for d in r["drops"] if d["reason"]=="VLAN_NOT_ALLOWED"][0]' stats)
hv_assert_eq "$drops" "$total" "stats drop total VLAN_NOT_ALLOWED"
