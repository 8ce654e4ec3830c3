#!/bin/bash
# An af_packet port attached to a veth end, beside a tap guest, in one segment.
. "$(dirname "$0")/lib.sh"
hv_setup

hv_start sw --segment app
hv_netns a1
veth=${HV_ID}v
ip link add "$veth" type veth peer name eth0 netns "$HV_ID-a1" || hv_fail "veth"
HV_LINKS+=("$veth")
ip link set "$veth" up
# the kernel must hand af_packet complete frames and checksums (ENVIRONMENT.md)
ethtool -K "$veth" gro off >/dev/null 2>&1
hv_in a1 ethtool -K eth0 tx off tso off gso off >/dev/null 2>&1
hv_in a1 ip addr add 10.70.0.1/24 dev eth0
hv_in a1 ip link set eth0 up
hv_ctl sw port add a1 af_packet app iface="$veth" >/dev/null || hv_fail "port add af_packet"
hv_guest sw t1 app 10.70.0.2/24

hv_in a1 ping -c 3 -i 0.2 -W 2 10.70.0.2 >/dev/null || hv_fail "af_packet guest -> tap guest"
hv_pass "ping across af_packet ($veth) and tap ports"
hv_in t1 iperf3 -s -1 -D -B 10.70.0.2 || hv_fail "iperf3 server"
sleep 0.5
hv_in a1 iperf3 -c 10.70.0.2 -t 2 -J >"$HV_TMP/iperf.json" || hv_fail "iperf3 over af_packet"
bps=$(python3 -c "import json; print(int(json.load(open('$HV_TMP/iperf.json'))['end']['sum_received']['bits_per_second']))")
hv_assert_ge "$bps" 10000000 "iperf3 a1 -> t1"
hv_pass "iperf3 af_packet -> tap: $((bps / 1000000)) Mbit/s"
