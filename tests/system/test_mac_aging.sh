#!/bin/bash
# Learned MACs age out after --mac-age seconds without traffic, and come back
# with the next frame.
. "$(dirname "$0")/lib.sh"
hv_setup

hv_start sw --segment app --mac-age 2
hv_guest sw a1 app 10.90.0.1/24
hv_guest sw a2 app 10.90.0.2/24
hv_in a1 ping -c 2 -i 0.2 -W 1 10.90.0.2 >/dev/null || hv_fail "a1 -> a2"
t_last=$(date +%s.%N)
hv_assert_eq 2 "$(hv_json sw 'len(r)' mac show app)" "entries after the ping"
# silence (the guests' ARP entries are fresh for a few seconds): within one
# aging period plus the 1 s aging tick the table must be empty
gone=
for i in $(seq 16); do
	sleep 0.25
	if [ "$(hv_json sw 'len(r)' mac show app)" = 0 ]; then gone=$(date +%s.%N); break; fi
done
[ -n "$gone" ] || hv_fail "MACs still in the table 4 s after the last frame, with --mac-age 2"
after=$(python3 -c "print(round($gone - $t_last, 1))")
python3 -c "import sys; sys.exit(0 if $gone - $t_last >= 1.9 else 1)" || hv_fail "MACs aged out after only $after s"
hv_pass "both MACs aged out $after s after the last frame (--mac-age 2, 1 s tick)"
hv_in a1 ping -c 1 -W 1 10.90.0.2 >/dev/null || hv_fail "a1 -> a2 after aging"
hv_assert_eq 2 "$(hv_json sw 'len(r)' mac show app)" "entries after the next ping"
hv_pass "relearned with the next frames"
