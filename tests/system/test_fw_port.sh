#!/bin/bash
# Rules on the ingress port (`port NAME`, docs/language.md): two guests in
# one segment, a rule that lets only port ga reach the service. The guest
# on port gb, forging ga's address, is blocked and logged with the right
# rule and its own port; ga gets through, and its connection lists under
# `ct list port=ga`. A connection opened from ga survives an apply that
# keeps allowing ga (the re-check classifies it with ga's port) and is cut
# by one that allows only gb, which the apply reports. After `port del` and
# a new `port add` under the same name, the rule matches ga again.
. "$(dirname "$0")/lib.sh"
hv_setup
PROBE="$HV_ROOT/tests/system/fwprobe.py"

# no guests in the file, so no port security: gb may use ga's address
policy() { # policy FILE PORT-OF-THE-RULES [EXTRA-RULE]
	cat >"$1" <<EOF
segment app { subnet 10.30.0.0/24 }
policy {
	log-file "verdicts.jsonl"
	svc-tcp: allow port $2 -> app tcp/8080
	svc-udp: allow port $2 -> app udp/8080
	${3:-}
	no-svc: block log app -> app tcp/8080, udp/8080
	default allow
}
EOF
}
A=$HV_TMP/a.hvnet B=$HV_TMP/b.hvnet C=$HV_TMP/c.hvnet
policy "$A" ga
policy "$B" ga "extra: allow app -> app udp/9999"
policy "$C" gb

hv_start sw --segment app --ct-max 1024 # small tables: every ct list and apply scans them
hv_guest sw srv app 10.30.0.20/24
hv_guest sw ga app 10.30.0.11/24
hv_guest sw gb app 10.30.0.11/24 # the forger: ga's address
hv_ctl sw policy apply "$A" >/dev/null || hv_fail "apply $A"
hv_in srv python3 "$PROBE" serve 10.30.0.20 8080 >/dev/null 2>&1 &
sleep 0.5

forget_ga() { # both guests answer for 10.30.0.11: srv must ask again
	hv_in srv ip neigh flush to 10.30.0.11 2>/dev/null
}

# UDP from ga with a fixed source port, so that every datagram is one connection
udp_fixed() {
	hv_in ga python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.30.0.11", 40000))
s.settimeout(1.5)
s.sendto(b"hvnet-port", ("10.30.0.20", 8080))
try:
    print("echoed" if s.recv(64) == b"hvnet-port" else "wrong-echo")
except OSError:
    print("timeout")
EOF
}

# 1. ga reaches the service; gb with ga's address does not, and is logged
got=$(hv_in ga python3 "$PROBE" tcp 10.30.0.20 8080 2)
hv_assert_eq echoed "$got" "tcp from port ga"
forget_ga
got=$(hv_in gb python3 "$PROBE" tcp 10.30.0.20 8080 1)
hv_assert_eq timeout "$got" "tcp from port gb with ga's address"
forget_ga
hv_assert_ge "$(hv_json sw 'sum(1 for c in r["connections"] if c["dport"] == 8080)' ct list port=ga)" 1 \
	"ga's connection under ct list port=ga"
hv_assert_eq 0 "$(hv_json sw 'r["total"]' ct list port=gb)" "connections listed for port gb"
hv_assert_ge "$(hv_json sw '[x["packets"] for x in r["rules"] if x["id"] == "no-svc"][0]' fw show)" 1 \
	"no-svc's counter"
for _ in $(seq 20); do [ -s "$HV_TMP/verdicts.jsonl" ] && break; sleep 0.1; done
python3 - "$HV_TMP/verdicts.jsonl" <<'EOF' || hv_fail "verdict log: $(cat "$HV_TMP/verdicts.jsonl")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
m = [l for l in lines if l["port"] == "gb" and l["dport"] == 8080]
assert m, lines
assert all(l["rule"] == "no-svc" and l["verdict"] == "block" and l["src"] == "10.30.0.11" for l in m), m
assert not [l for l in lines if l["port"] == "ga"], lines
EOF
trace=$(hv_ctl sw policy trace 'tcp 10.30.0.11:1 -> 10.30.0.20:8080 port gb')
grep -q "live verdict: block (compiled classifier: rule no-svc)" <<<"$trace" || hv_fail "trace from gb: $trace"
trace=$(hv_ctl sw policy trace 'tcp 10.30.0.11:1 -> 10.30.0.20:8080 port ga')
grep -q "decided by rule svc-tcp" <<<"$trace" || hv_fail "trace from ga: $trace"
grep -q "compiled classifier: rule svc-tcp" <<<"$trace" || hv_fail "trace from ga (classifier): $trace"
hv_pass "port ga reaches the service; gb with ga's address is blocked by no-svc and logged with port gb"

# 2. re-checks use the port the connection was opened from
hv_assert_eq echoed "$(udp_fixed)" "udp from ga"
out=$(hv_ctl sw policy apply "$B") || hv_fail "apply $B"
grep -q "added: extra" <<<"$out" || hv_fail "apply B report: $out"
grep -q "^  0 live connection" <<<"$out" || hv_fail "apply B cuts ga's connection: $out"
hv_assert_eq echoed "$(udp_fixed)" "udp from ga after an apply that still allows port ga"
hv_assert_eq 0 "$(hv_json sw 'r["policy_cut"]' ct stats)" "connections cut by apply B"
out=$(hv_ctl sw policy apply "$C") || hv_fail "apply $C"
grep -q "changed: .*svc-udp" <<<"$out" || hv_fail "apply C report: $out"
grep -q "removed: extra" <<<"$out" || hv_fail "apply C report: $out"
cut=$(hv_json sw 'r["connections_cut"]' policy apply "$A")
hv_assert_eq 0 "$cut" "apply A again over C (nothing of ga's would be cut)"
cut=$(hv_json sw 'r["connections_cut"]' policy apply "$C")
hv_assert_ge "$cut" 1 "connections_cut of apply C (ga's connections)"
hv_assert_eq timeout "$(udp_fixed)" "udp from ga once only gb is allowed"
hv_assert_ge "$(hv_json sw 'r["policy_cut"]' ct stats)" 1 "connections cut on their next packet"
hv_pass "apply reports the port change and $cut connection(s) to cut; ga's flow survives B, is cut under C"

# 3. port del, then port add under the same name: the rule matches again
hv_ctl sw policy apply "$A" >/dev/null || hv_fail "apply $A again"
hv_ctl sw port del ga >/dev/null || hv_fail "port del ga"
hv_ctl sw port add ga tap app "netns=$HV_ID-ga" ifname=eth0 >/dev/null || hv_fail "port add ga again"
hv_in ga ip addr add 10.30.0.11/24 dev eth0 2>/dev/null
hv_in ga ip link set eth0 up
forget_ga
before=$(hv_json sw '[x["packets"] for x in r["rules"] if x["id"] == "svc-tcp"][0]' fw show)
got=$(hv_in ga python3 "$PROBE" tcp 10.30.0.20 8080 3)
hv_assert_eq echoed "$got" "tcp from port ga after del and add"
after=$(hv_json sw '[x["packets"] for x in r["rules"] if x["id"] == "svc-tcp"][0]' fw show)
hv_assert_ge "$after" $((before + 1)) "svc-tcp's counter after ga came back"
forget_ga
got=$(hv_in gb python3 "$PROBE" tcp 10.30.0.20 8080 1)
hv_assert_eq timeout "$got" "tcp from port gb after ga came back"
hv_pass "ga, deleted and added again under its name, matches svc-tcp again ($before -> $after packets)"
