#!/bin/bash
# Rules on the ingress port (`port NAME`, docs/language.md): two guests in
# one segment, a rule that lets only port ga reach the service. The guest
# on port gb, forging ga's address, is blocked and logged with the right
# rule and its own port; ga gets through, and its connection lists under
# `ct list port=ga`. A connection opened from ga survives an apply that
# keeps allowing ga (the re-check classifies it with ga's port) and is cut
# by one that allows only gb, which the apply reports. After `port del` and
# a new `port add` under the same name, the rule matches ga again.
# Probes are bash /dev/tcp and the checks grep and awk: python3 takes a
# second to start on a loaded 2-core machine.
. "$(dirname "$0")/lib.sh"
hv_setup
PROBE="$HV_ROOT/tests/system/fwprobe.py"

# no guests in the file, so no port security: gb may use ga's address
policy() { # policy FILE PORT-OF-THE-RULE [EXTRA-RULE]
	cat >"$1" <<EOF
segment app { subnet 10.30.0.0/24 }
policy {
	log-file "verdicts.jsonl"
	svc: allow port $2 -> app tcp/8080
	${3:-}
	no-svc: block log app -> app tcp/8080
	default allow
}
EOF
}
A=$HV_TMP/a.hvnet B=$HV_TMP/b.hvnet C=$HV_TMP/c.hvnet
policy "$A" ga
policy "$B" ga "extra: allow app -> app udp/9999"
policy "$C" gb

# small tables: every ct list and apply scans them
hv_start sw --segment app --ct-max 1024
hv_guest sw srv app 10.30.0.20/24
hv_guest sw ga app 10.30.0.11/24
hv_guest sw gb app 10.30.0.11/24 # the forger: ga's address
# gb neither asks nor answers ARP, so srv only ever learns ga's MAC for .11
hv_in gb ip link set eth0 arp off
hv_in gb ip neigh replace 10.30.0.20 lladdr "$(hv_mac_of srv)" dev eth0 nud permanent ||
	hv_fail "static neighbour for gb"
hv_ctl sw policy apply "$A" >/dev/null || hv_fail "apply $A"
hv_in srv python3 "$PROBE" serve 10.30.0.20 8080 >"$HV_TMP/serve.out" 2>&1 &
for _ in $(seq 50); do grep -q serving "$HV_TMP/serve.out" && break; sleep 0.1; done

probe() { # probe GUEST SECS: connect to the service, send a line, print what comes back
	hv_in "$1" timeout "$2" bash -c \
		'exec 3<>/dev/tcp/10.30.0.20/8080 && echo hvnet-port >&3 && read -r l <&3 && echo "$l"' \
		2>/dev/null || echo timeout
}
forget_ga() { # ga came back with a new MAC: both ends must ask again
	hv_in srv ip neigh flush to 10.30.0.11 2>/dev/null
	hv_in ga ip neigh flush to 10.30.0.20 2>/dev/null
}
rule_packets() { hv_ctl sw fw show | awk -v r="$1" '$1 == r {print $5}'; }
cut_by_policy() { hv_ctl sw ct stats | grep -o 'cut by policy [0-9]*' | awk '{print $4}'; }

# 1. ga reaches the service; gb with ga's address does not, and is logged
hv_assert_eq hvnet-port "$(probe ga 2)" "tcp from port ga"
hv_assert_eq timeout "$(probe gb 1)" "tcp from port gb with ga's address"
hv_assert_ge "$(hv_ctl sw ct list port=ga | grep -c '10.30.0.20:8080')" 1 "ga's connection in ct list port=ga"
hv_assert_eq "0 connection(s)" "$(hv_ctl sw ct list port=gb | tail -1)" "ct list port=gb"
hv_assert_ge "$(rule_packets no-svc)" 1 "no-svc's counter"
hv_assert_eq 1 "$(rule_packets svc)" "svc's counter"
for _ in $(seq 20); do [ -s "$HV_TMP/verdicts.jsonl" ] && break; sleep 0.1; done
log=$HV_TMP/verdicts.jsonl
grep -q '"port":"gb"' "$log" || hv_fail "no log line from port gb: $(cat "$log")"
grep '"port":"gb"' "$log" | grep -v '"rule":"no-svc","verdict":"block"' && hv_fail "gb logged by another rule"
grep '"port":"gb"' "$log" | grep -qv '"src":"10.30.0.11"' && hv_fail "gb logged with another address"
grep -q '"port":"ga"' "$log" && hv_fail "ga's allowed packets logged: $(cat "$log")"
trace=$(hv_ctl sw policy trace 'tcp 10.30.0.11:1 -> 10.30.0.20:8080 port gb')
grep -q "live verdict: block (compiled classifier: rule no-svc)" <<<"$trace" || hv_fail "trace from gb: $trace"
trace=$(hv_ctl sw policy trace 'tcp 10.30.0.11:1 -> 10.30.0.20:8080 port ga')
grep -q "decided by rule svc " <<<"$trace" || hv_fail "trace from ga: $trace"
grep -q "compiled classifier: rule svc)" <<<"$trace" || hv_fail "trace from ga (classifier): $trace"
hv_pass "port ga reaches the service; gb with ga's address is blocked by no-svc and logged with port gb"

# 2. re-checks use the port the connection was opened from: one TCP
# connection from ga, kept open across the applies
coproc GA { hv_in ga bash -c 'exec 3<>/dev/tcp/10.30.0.20/8080 || exit 1
	while read -r line; do
		echo "$line" >&3
		if read -r -t 1 back <&3; then echo "$back"; else echo timeout; fi
	done' 2>/dev/null; }
say() { echo "$1" >&"${GA[1]}" && read -r -t 5 r <&"${GA[0]}" && echo "$r" || echo "no answer"; }
hv_assert_eq one "$(say one)" "the connection from ga"
out=$(hv_ctl sw policy apply "$B") || hv_fail "apply $B"
grep -q "added: extra" <<<"$out" || hv_fail "apply B report: $out"
grep -q "^  0 live connection" <<<"$out" || hv_fail "apply B would cut ga's connection: $out"
hv_assert_eq two "$(say two)" "ga's connection after an apply that still allows port ga"
hv_assert_eq 0 "$(cut_by_policy)" "connections cut after apply B"
out=$(hv_ctl sw policy apply "$C") || hv_fail "apply $C"
grep -q "changed: svc" <<<"$out" || hv_fail "apply C report: $out"
grep -q "removed: extra" <<<"$out" || hv_fail "apply C report: $out"
grep -qE "^  [1-9][0-9]* live connection\(s\) no longer allowed" <<<"$out" || hv_fail "apply C report: $out"
hv_assert_eq timeout "$(say three)" "ga's connection once only gb is allowed"
hv_assert_ge "$(cut_by_policy)" 1 "connections cut on their next packet"
hv_pass "ga's connection survives an apply allowing ga, is cut by one allowing gb: $(grep -o '[0-9]* live connection' <<<"$out")"

# 3. port del, then port add under the same name: the rule matches again
hv_ctl sw policy apply "$A" >/dev/null || hv_fail "apply $A again"
hv_ctl sw port del ga >/dev/null || hv_fail "port del ga"
hv_ctl sw port add ga tap app "netns=$HV_ID-ga" ifname=eth0 >/dev/null || hv_fail "port add ga again"
hv_in ga ip addr add 10.30.0.11/24 dev eth0 2>/dev/null
hv_in ga ip link set eth0 up
forget_ga
hv_assert_eq hvnet-port "$(probe ga 3)" "tcp from port ga after del and add"
hv_assert_eq 1 "$(rule_packets svc)" "svc's counter after ga came back (a new policy: from 0)"
hv_assert_eq timeout "$(probe gb 1)" "tcp from port gb after ga came back"
hv_pass "ga, deleted and added again under its name, matches svc again"
