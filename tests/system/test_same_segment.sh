#!/bin/bash
# Two namespace guests on tap ports in one segment: ping, then TCP with iperf3;
# the MAC table shows each guest's MAC on its port, and the port counters
# account for the traffic.
. "$(dirname "$0")/lib.sh"
hv_setup

hv_start sw --segment app
hv_guest sw g1 app 10.10.0.1/24
hv_guest sw g2 app 10.10.0.2/24 mac=02:aa:bb:cc:dd:02 mtu=1400

# the tap's name, MAC and MTU as asked for, inside the guest's namespace
link=$(hv_in g2 ip -br link show eth0)
echo "$link" | grep -q "02:aa:bb:cc:dd:02" || hv_fail "g2 eth0 MAC: $link"
hv_assert_eq 1400 "$(hv_in g2 cat /sys/class/net/eth0/mtu)" "g2 eth0 MTU"
hv_pass "tap g2 in its namespace: eth0, 02:aa:bb:cc:dd:02, MTU 1400"

hv_in g1 ping -c 3 -i 0.2 -W 2 10.10.0.2 >"$HV_TMP/ping.txt" || { cat "$HV_TMP/ping.txt"; hv_fail "g1 cannot ping g2"; }
hv_pass "g1 pings g2: $(grep -o '[0-9]* received' "$HV_TMP/ping.txt")"

mac1=$(hv_mac_of g1)
mac2=$(hv_mac_of g2)
table=$(hv_json sw '" ".join(sorted(e["mac"]+"@"+e["port"]+"@"+e["segment"] for e in r))' mac show)
hv_assert_eq "$(echo "$mac1@g1@app $mac2@g2@app" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')" "$table" "mac show"
hv_pass "mac show: $table"

hv_in g2 iperf3 -s -1 -D -B 10.10.0.2 --logfile "$HV_TMP/iperf-s.log" || hv_fail "iperf3 server"
sleep 0.5
hv_in g1 iperf3 -c 10.10.0.2 -t 3 -J >"$HV_TMP/iperf.json" || { tail "$HV_TMP/iperf.json"; hv_fail "iperf3 client"; }
bps=$(python3 -c "import json; print(int(json.load(open('$HV_TMP/iperf.json'))['end']['sum_received']['bits_per_second']))")
hv_assert_ge "$bps" 10000000 "iperf3 g1 -> g2 bits/s"
hv_pass "iperf3 g1 -> g2: $((bps / 1000000)) Mbit/s"

rx1=$(hv_json sw 'r["rx_packets"]' port show g1)
tx2=$(hv_json sw 'r["tx_packets"]' port show g2)
hv_assert_ge "$rx1" 1000 "g1 rx_packets"
hv_assert_ge "$tx2" 1000 "g2 tx_packets"
drops=$(hv_json sw 'r["drops"]' port show g1)
hv_pass "port g1 rx $rx1, port g2 tx $tx2, g1 drops $drops"
