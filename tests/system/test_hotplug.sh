#!/bin/bash
# Ports come and go while traffic flows: a steady ping between two guests
# loses (almost) nothing while other ports are added and removed around it.
. "$(dirname "$0")/lib.sh"
hv_setup

hv_start sw --segment app --segment other
hv_guest sw h1 app 10.50.0.1/24
hv_guest sw h2 app 10.50.0.2/24
hv_in h1 ping -c 2 -W 1 10.50.0.2 >/dev/null || hv_fail "h1 -> h2 before hotplug"

hv_in h1 ping -c 400 -i 0.01 -W 1 10.50.0.2 >"$HV_TMP/ping.txt" 2>&1 &
pinger=$!
for i in $(seq 8); do
	hv_netns "x$i"
	hv_ctl sw port add "x$i" tap app "netns=$HV_ID-x$i" >/dev/null || hv_fail "add x$i"
	hv_ctl sw port add "n$i" null other >/dev/null || hv_fail "add n$i"
	sleep 0.1
	hv_ctl sw port del "n$i" >/dev/null || hv_fail "del n$i"
	[ $((i % 2)) -eq 0 ] && { hv_ctl sw port del "x$i" >/dev/null || hv_fail "del x$i"; }
done
wait $pinger
received=$(grep -o '[0-9]* received' "$HV_TMP/ping.txt" | awk '{print $1}')
hv_assert_ge "$received" 392 "pings answered of 400 during hotplug"
ports=$(hv_json sw '" ".join(sorted(p["name"] for p in r))' port list)
hv_assert_eq "h1 h2 x1 x3 x5 x7" "$ports" "ports after hotplug"
hv_pass "400 pings during 24 port adds/dels: $received answered; ports now: $ports"
