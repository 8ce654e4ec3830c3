#!/bin/bash
# The differential test: the same lab file up on hvnetd (lab up) and on the
# kernel datapath (lab up --datapath kernel: Linux bridges and the nft
# backend), one after the other, probed the same way (nftdiff.py: ping, TCP
# and UDP to four ports, from every guest to every address of every other
# guest, IPv4 and IPv6, within and between segments). The outcomes must
# agree case for case, and so must the rules that logged each case
# (hvnetd's log-file against the kernel's NFLOG group); each run must both
# deliver and block something, and log something.
# On basic, crafted sequences too (nftcraft.py, IPv4 and IPv6: out-of-window
# data, data after a RST, an ACK of no connection; ICMP errors quoting an
# allowed connection, a cut quote, a blocked flow, nothing; fragments; IPv6
# extension headers). Also: lab status and lab down
# on the kernel lab, and a segment's mac-limit as the bridge's learning bound.
. "$(dirname "$0")/nftdiff_lib.sh"

for file in "$HV_ROOT/tests/labs/basic.hvnet" "$HV_ROOT/policies/demo-lab.hvnet"; do
	base=$(basename "$file" .hvnet)
	run_lab "$HV_ID-d" hvnetd "$file" "$HV_TMP/$base.hvnetd.json"
	[ "$base" != basic ] || craft "$HV_ID-d" hvnetd "$HV_TMP/craft.hvnetd.json"
	"$HVNETCTL" lab down "$HV_ID-d" >/dev/null || hv_fail "lab down (hvnetd)"
	run_lab "$HV_ID-k" kernel "$file" "$HV_TMP/$base.kernel.json"
	if [ "$base" = basic ]; then
		craft "$HV_ID-k" kernel "$HV_TMP/craft.kernel.json"
		/usr/bin/python3 "$DIFF" compare "$HV_TMP/craft.hvnetd.json" "$HV_TMP/craft.kernel.json" hvnetd kernel \
			>"$HV_TMP/craft.diff" || { cat "$HV_TMP/craft.diff" >&2; hv_fail "crafted sequences: hvnetd and the kernel disagree"; }
		for want in '"web1 -> web2 (10.30.0.12) tcp/80 oow": "silent"' \
			'"web1 -> web2 (10.30.0.12) tcp/80 rst": "answered"' \
			'"web1 -> web2 (10.30.0.12) tcp/80 ack": "silent"' \
			'"web1 -> web2 (10.30.0.12) tcp/22 oow": "handshake-blocked"' \
			'"web1 -> web2 (fd00:30::12) tcp/80 oow": "silent"' \
			'"web1 -> web2 (fd00:30::12) tcp/80 rst": "answered"' \
			'"web1 -> web2 (10.30.0.12) icmp-related": "delivered"' \
			'"web2 -> web1 (fd00:30::11) icmp-related": "delivered"' \
			'"web1 -> web2 (10.30.0.12) icmp-quote4": "delivered"' \
			'"web1 -> web2 (fd00:30::12) icmp-quote2": "dropped"' \
			'"web1 -> web2 (10.30.0.12) icmp-blocked": "dropped"' \
			'"web1 -> web2 (fd00:30::12) icmp-noconn": "dropped"' \
			'"web1 -> web2 (10.30.0.12) frag-ping": "all"' \
			'"web2 -> web1 (fd00:30::11) frag-ping": "none"' \
			'"web1 -> web2 (fd00:30::12) frag-later": "none"' \
			'"web1 -> web2 (10.30.0.12) frag-first": "none"' \
			'"web1 -> web2 (fd00:30::12) frag-atomic": "delivered"' \
			'"web1 -> web2 (fd00:30::12) hbh-ping": "delivered"' \
			'"web2 -> web1 (fd00:30::11) dstopt-ping": "dropped"'; do
			grep -qF "$want" "$HV_TMP/craft.kernel.json" || hv_fail "crafted: expected $want: $(cat "$HV_TMP/craft.kernel.json")"
		done
		# hvnetd passes the first fragment of an allowed ping only, and that
		# one without the rest too
		grep -qF '"web1 -> web2 (fd00:30::12) frag-ping": "first"' "$HV_TMP/craft.hvnetd.json" &&
			grep -qF '"web1 -> web2 (10.30.0.12) frag-first": "all"' "$HV_TMP/craft.hvnetd.json" ||
			hv_fail "crafted: hvnetd, a fragmented ping: $(grep frag- "$HV_TMP/craft.hvnetd.json")"
		compare_logs craft
		[ "$LOGGED" -gt 0 ] || hv_fail "crafted: no TCP case was logged: the log comparison would not tell a difference"
		hv_pass "basic: the same rule logged each of the $LOGGED logged crafted TCP cases (of $(grep -c tcp/ "$HV_TMP/craft.kernel.log.json"))"
		hv_pass "basic: $(tail -1 "$HV_TMP/craft.diff" | awk '{print $1}') crafted cases, IPv4 and IPv6 (TCP out of window, data after a RST, an ACK without a connection; ICMP errors quoting a connection, with a cut quote, quoting a blocked flow or none; fragments; IPv6 extension headers): hvnetd and the kernel agree but $(tail -1 "$HV_TMP/craft.diff" | sed 's/.*differ, //')"

		# lab status and lab down on a kernel lab
		"$HVNETCTL" lab status "$HV_ID-k" >"$HV_TMP/status.txt" || hv_fail "lab status (kernel)"
		grep -q "^datapath kernel: bridges and nftables in namespace $HV_ID-k.switch" "$HV_TMP/status.txt" ||
			hv_fail "lab status: $(cat "$HV_TMP/status.txt")"
		grep -q "^web1 .*running .*eth0 .*app .*52:54:00:30:00:11 .*1400 up " "$HV_TMP/status.txt" ||
			hv_fail "lab status table: $(cat "$HV_TMP/status.txt")"
	fi
	"$HVNETCTL" lab down "$HV_ID-k" >"$HV_TMP/down.out" || hv_fail "lab down (kernel)"
	grep -q "switch namespace $HV_ID-k.switch removed" "$HV_TMP/down.out" || hv_fail "lab down: $(cat "$HV_TMP/down.out")"
	[ -z "$(ip netns list | grep -- "^$HV_ID-k")" ] || hv_fail "namespaces left after lab down: $(ip netns list | grep -- "^$HV_ID-k")"

	/usr/bin/python3 "$DIFF" compare "$HV_TMP/$base.hvnetd.json" "$HV_TMP/$base.kernel.json" hvnetd kernel \
		>"$HV_TMP/$base.diff" || { cat "$HV_TMP/$base.diff" >&2; hv_fail "$base: hvnetd and the kernel disagree"; }
	/usr/bin/python3 "$DIFF" compare "$HV_TMP/$base.hvnetd.ct.json" "$HV_TMP/$base.kernel.ct.json" hvnetd kernel \
		>"$HV_TMP/$base.ctdiff" || { cat "$HV_TMP/$base.ctdiff" >&2; hv_fail "$base: connection states differ"; }
	compare_logs "$base"
	[ "$LOGGED" -gt 0 ] || hv_fail "$base: no case was logged: the log comparison would not tell a difference"
	conns=$(tail -1 "$HV_TMP/$base.ctdiff" | awk '{print $1}')
	n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$HV_TMP/$base.kernel.json")
	ok=$(python3 -c 'import json,sys; print(sum(v in ("delivered","echoed") for v in json.load(open(sys.argv[1])).values()))' "$HV_TMP/$base.kernel.json")
	[ "$ok" -gt 0 ] && [ "$ok" -lt "$n" ] || hv_fail "$base: $ok of $n delivered: the test would not tell a difference"
	hv_pass "$base: $n cases (ping, tcp 22/80/8080, udp 53/8080, every guest to every other guest's addresses): hvnetd and the kernel agree ($ok delivered), on the states of the $conns connections they track, and on the rule that logged each of the $LOGGED logged cases"
done

# mac-limit: the bridge learns at most that many addresses
printf '%s\n' 'segment app { class application; mac-limit 2 }' \
	'guest a { nic eth0 { segment app; ip 10.0.0.1/24 } }' 'guest b { nic eth0 { segment app; ip 10.0.0.2/24 } }' \
	'guest c { nic eth0 { segment app; ip 10.0.0.3/24 } }' 'guest d { nic eth0 { segment app; ip 10.0.0.4/24 } }' \
	>"$HV_TMP/ml.hvnet"
LABS+=("$HV_ID-m")
"$HVNETCTL" lab up --name "$HV_ID-m" --datapath kernel "$HV_TMP/ml.hvnet" >"$HV_TMP/ml.out" 2>&1 || hv_fail "lab up ml: $(cat "$HV_TMP/ml.out")"
grep -q "bridge app in namespace $HV_ID-m.switch, at most 2 learned MAC addresses" "$HV_TMP/ml.out" || hv_fail "lab up ml: $(cat "$HV_TMP/ml.out")"
for g in a b c d; do "$HVNETCTL" lab exec "$HV_ID-m" "$g" -- ping -c 1 -W 1 -b 10.0.0.255 >/dev/null 2>&1; done
learned=$(bridge -n "$HV_ID-m.switch" fdb show br app | grep -vc permanent)
hv_assert_eq 2 "$learned" "addresses the bridge learned from 4 guests with mac-limit 2"
"$HVNETCTL" lab down "$HV_ID-m" >/dev/null || hv_fail "lab down ml"
hv_pass "mac-limit 2: the bridge learned 2 of the 4 guests' addresses"
