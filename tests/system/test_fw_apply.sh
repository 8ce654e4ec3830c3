#!/bin/bash
# 100 policy applies while allowed traffic flows lose none of it: a ping
# every 10 ms and a TCP stream run across the applies (alternating between
# two policies that both allow them, one with an extra rule); every echo
# request is answered, the TCP connection survives, no connection is cut,
# and each apply reports the rule it added or removed.
. "$(dirname "$0")/lib.sh"
hv_setup
PROBE="$HV_ROOT/tests/system/fwprobe.py"

A="$HV_ROOT/policies/nist-800-125b.hvnet"
B="$HV_TMP/nist-plus.hvnet"
sed 's|^\tdefault block log|\textra: allow app -> app udp/9999\n\tdefault block log|' "$A" >"$B"
grep -q "extra: allow" "$B" || hv_fail "could not derive the second policy"

hv_start sw --segment mgmt --segment infra --segment app
hv_guest sw web1 app 10.30.0.11/24
hv_guest_mac web1 52:54:00:30:00:11
hv_guest sw web2 app 10.30.0.12/24
hv_guest_mac web2 52:54:00:30:00:12
hv_ctl sw policy apply "$A" >/dev/null || hv_fail "apply"

# a TCP connection that lives through every apply: iperf3 for the duration
hv_in web2 iperf3 -s -B 10.30.0.12 -1 >/dev/null 2>&1 &
sleep 1
hv_in web1 iperf3 -c 10.30.0.12 -t 12 -b 20M -J >"$HV_TMP/iperf.json" 2>&1 &
iperf=$!
hv_in web1 ping -c 1000 -i 0.01 -W 1 10.30.0.12 >"$HV_TMP/ping.out" 2>&1 &
ping=$!
sleep 0.5

for i in $(seq 100); do
	if [ $((i % 2)) -eq 1 ]; then f=$B; want="added: extra"; else f=$A; want="removed: extra"; fi
	out=$(hv_ctl sw policy apply "$f") || hv_fail "apply $i failed"
	grep -q "$want" <<<"$out" || hv_fail "apply $i: expected '$want' in: $out"
	grep -q "^  0 live connection" <<<"$out" || hv_fail "apply $i cut connections: $out"
done
epoch=$(hv_json sw 'r["current"]["epoch"]' policy status)
hv_assert_eq 101 "$epoch" "epoch after 101 applies"
hv_pass "100 applies, each reporting its change and no connection cut (epoch $epoch)"

wait $ping
grep -q " 0% packet loss" "$HV_TMP/ping.out" || hv_fail "ping lost packets: $(tail -2 "$HV_TMP/ping.out")"
hv_pass "ping across the applies: $(grep -o '[0-9]* received' "$HV_TMP/ping.out"), 0% loss"
wait $iperf || hv_fail "iperf3 failed: $(tail -5 "$HV_TMP/iperf.json")"
python3 - "$HV_TMP/iperf.json" <<'EOF' || hv_fail "iperf3 result"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["end"]["sum_sent"]
assert s["bytes"] > 0, s
print("PASS: TCP stream across the applies: %.1f MB, %d retransmits" % (s["bytes"] / 1e6, s.get("retransmits", 0)))
EOF
cut=$(hv_json sw 'r["policy_cut"]' ct stats)
hv_assert_eq 0 "$cut" "connections cut"
invalid=$(hv_json sw 'sum(d["count"] for d in r["drops"] if d["reason"].startswith("ct_") or d["reason"].startswith("fw_"))' stats)
hv_assert_eq 0 "$invalid" "firewall drops during the applies"
hv_pass "no connection cut, no firewall drop"
