#!/bin/bash
# The nftables backend (docs/nftables.md), in throwaway namespaces only:
#  - every file in policies/ and tests/labs/ passes `policy compile --check`,
#    and the check commits nothing;
#  - applied, `nft list ruleset` shows exactly what `policy compile` prints;
#  - applying twice changes nothing (also with --log-group: NFLOG);
#  - a ruleset the kernel refuses leaves the previous one in force, and says
#    which rule was refused;
#  - the kernel datapath enforces it: tests/labs/basic.hvnet on Linux bridges
#    (one per segment) and veths gives the verdicts test_lab.sh sees through
#    hvnetd (web1 pings web2, web2 cannot ping web1, tcp/80 inside app, db
#    isolated).
. "$(dirname "$0")/lib.sh"
hv_setup
command -v nft >/dev/null || hv_fail "nft (package nftables) is needed for the comparison"

NS=$HV_ID-nft
hv_netns nft
compile() { "$HVNETCTL" policy compile --target nft "$@"; }
listing() { ip netns exec "$NS" nft list ruleset; }

# ---- --check for every file; nothing committed ----
files=("$HV_ROOT"/policies/*.hvnet "$HV_ROOT"/tests/labs/*.hvnet)
for f in "${files[@]}"; do
	compile --check --netns "$NS" "$f" 2>"$HV_TMP/check.err" ||
		hv_fail "--check refused $f: $(cat "$HV_TMP/check.err")"
done
hv_assert_eq "" "$(listing)" "the ruleset after --check of every file (nothing committed)"
hv_pass "--check: ${#files[@]} files accepted by the kernel, nothing committed"

# ---- apply: the kernel lists what compile printed; twice is the same ----
nflog=0
for f in "${files[@]}"; do
	for gw in "" --gateways "--gateways --log-group 7"; do
		compile $gw "$f" >"$HV_TMP/printed.nft" 2>/dev/null || hv_fail "compile $gw $f"
		compile $gw --apply --netns "$NS" "$f" 2>/dev/null || hv_fail "--apply $gw $f"
		listing >"$HV_TMP/listed1.nft"
		diff -u "$HV_TMP/printed.nft" "$HV_TMP/listed1.nft" >&2 ||
			hv_fail "$f ($gw): nft list ruleset differs from what policy compile printed"
		compile $gw --apply --netns "$NS" "$f" 2>/dev/null || hv_fail "second --apply $gw $f"
		listing >"$HV_TMP/listed2.nft"
		cmp -s "$HV_TMP/listed1.nft" "$HV_TMP/listed2.nft" ||
			hv_fail "$f ($gw): a second apply changed the ruleset"
		[ -z "$gw" ] || ! grep -q ' log prefix "[^"]*" group 7$' "$HV_TMP/listed1.nft" || nflog=$((nflog + 1))
	done
done
grep -q 'chain routed' "$HV_TMP/listed1.nft" || hv_fail "--gateways: no chain routed in the last file's ruleset"
[ "$nflog" -ge 4 ] || hv_fail "--log-group 7: NFLOG log rules in only $nflog rulesets"
lg=$("$HVNETCTL" --json policy compile --target nft --log-group 7 "$HV_ROOT/tests/labs/basic.hvnet" 2>/dev/null |
	/usr/bin/python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["log_group"], "log prefix \"default: \" group 7" in o["ruleset"])')
hv_assert_eq "7 True" "$lg" "policy compile --json --log-group 7: log_group and the ruleset"
"$HVNETCTL" policy compile --target nft --log-group 0 "$HV_ROOT/tests/labs/basic.hvnet" >/dev/null 2>"$HV_TMP/lg.err" &&
	hv_fail "--log-group 0 was accepted"
grep -q "^hvnetctl: policy compile: --log-group: expected a group 1-65535, not '0'" "$HV_TMP/lg.err" ||
	hv_fail "--log-group 0: $(cat "$HV_TMP/lg.err")"
hv_pass "--apply: nft list ruleset is what policy compile prints, for every file, with and without --gateways and --log-group; a second apply changes nothing"

# a policy with a default of allow has no bridge table: applying it removes
# the bridge table an earlier apply made
cat >"$HV_TMP/open.hvnet" <<'EOF'
segment app { class application }
policy {
	no-ssh: block app -> app tcp/22
	default allow
}
EOF
compile --apply --netns "$NS" "$HV_TMP/open.hvnet" 2>/dev/null || hv_fail "--apply open.hvnet"
hv_assert_eq "inet hvnet" "$(ip netns exec "$NS" nft list tables | sed 's/^table //' | xargs)" \
	"tables after a default-allow policy replaced a default-block one"
hv_pass "a default-allow policy replaces the bridge table of the previous one with none"

# ---- a refused ruleset leaves the previous one ----
compile --apply --netns "$NS" "$HV_ROOT/policies/demo-lab.hvnet" 2>/dev/null || hv_fail "apply demo-lab"
listing >"$HV_TMP/before.nft"
if HVNET_NFT_TEST_BREAK=1 compile --apply --netns "$NS" "$HV_ROOT/policies/nist-800-125b.hvnet" \
	2>"$HV_TMP/broken.err"; then
	hv_fail "a ruleset with a jump to a missing chain was applied"
fi
grep -q "the kernel refused the rule broken on purpose" "$HV_TMP/broken.err" ||
	hv_fail "the refusal does not name the rule: $(cat "$HV_TMP/broken.err")"
listing >"$HV_TMP/after.nft"
cmp -s "$HV_TMP/before.nft" "$HV_TMP/after.nft" || hv_fail "a refused apply changed the ruleset"
if HVNET_NFT_TEST_BREAK=1 compile --check --netns "$NS" "$HV_ROOT/policies/nist-800-125b.hvnet" 2>/dev/null; then
	hv_fail "--check accepted a ruleset with a jump to a missing chain"
fi
hv_pass "a refused ruleset (apply or check) names the rule and leaves the previous one in force"

# ---- bad input: clear errors, nothing changed ----
printf 'segment app {}\npolicy { allow app -> nowhere }\n' >"$HV_TMP/bad.hvnet"
if compile --apply --netns "$NS" "$HV_TMP/bad.hvnet" 2>"$HV_TMP/bad.err"; then hv_fail "a file with errors was applied"; fi
grep -q "bad.hvnet:2:" "$HV_TMP/bad.err" || hv_fail "no file:line in: $(cat "$HV_TMP/bad.err")"
if compile --bridge app=a-name-far-too-long "$HV_ROOT/tests/labs/basic.hvnet" >/dev/null 2>"$HV_TMP/br.err"; then
	hv_fail "a 19-byte bridge name was accepted"
fi
grep -q "segment app (used by rule" "$HV_TMP/br.err" || hv_fail "the bridge name error does not name the segment and rule: $(cat "$HV_TMP/br.err")"
listing >"$HV_TMP/after2.nft"
cmp -s "$HV_TMP/before.nft" "$HV_TMP/after2.nft" || hv_fail "bad input changed the ruleset"
hv_pass "bad input: file:line errors, a bad bridge name names segment and rule; nothing changed"

# ---- the kernel datapath: basic.hvnet on bridges ----
# namespace $NS is the switch: bridges app and db; one veth per guest NIC
ip netns exec "$NS" sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 ||
	hv_fail "br_netfilter sysctls in $NS"
ip -n "$NS" route add default dev lo && ip -n "$NS" -6 route add default dev lo || hv_fail "routes via lo in $NS"
for br in app db; do
	ip -n "$NS" link add "$br" type bridge || hv_fail "bridge $br"
	ip -n "$NS" link set "$br" up
done
kguest() { # NAME BRIDGE ADDR...
	local g=$1 br=$2
	shift 2
	hv_netns "$g"
	ip -n "$NS" link add "$g-eth0" type veth peer name eth0 netns "$HV_ID-$g" || hv_fail "veth $g"
	ip -n "$NS" link set "$g-eth0" master "$br" up
	ip netns exec "$HV_ID-$g" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
	for a in "$@"; do ip -n "$HV_ID-$g" addr add "$a" dev eth0 || hv_fail "addr $a in $g"; done
	ip -n "$HV_ID-$g" link set eth0 up
}
kguest web1 app 10.30.0.11/24 fd00:30::11/64
kguest web2 app 10.30.0.12/24 fd00:30::12/64
kguest db1 db 10.20.0.21/24
kguest x1 app 10.30.0.13/24
# control: with no ruleset the bridge passes everything, so the blocks below
# are the policy's
ip netns exec "$NS" nft flush ruleset
hv_in web2 ping -c 1 -W 2 10.30.0.11 >/dev/null || hv_fail "web2 cannot ping web1 over the bare bridge"
compile --apply --netns "$NS" "$HV_ROOT/tests/labs/basic.hvnet" 2>/dev/null || hv_fail "apply basic.hvnet"
sleep 1

hv_in web1 ping -c 2 -i 0.2 -W 1 10.30.0.12 >/dev/null || hv_fail "web1 cannot ping web2 (rule web1-ping)"
hv_in web1 ping -6 -c 2 -i 0.2 -W 1 fd00:30::12 >/dev/null || hv_fail "web1 cannot ping6 web2 (rule web1-ping)"
if hv_in web2 ping -c 2 -i 0.2 -W 1 10.30.0.11 >/dev/null; then hv_fail "web2 pinged web1 (default block)"; fi
hv_pass "kernel datapath: web1 -> web2 ping and ping6 pass, web2 -> web1 is blocked (as through hvnetd)"

hv_in web2 timeout 10 python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.30.0.12", 80)); s.listen(4)
c, _ = s.accept(); c.sendall(b"hello from web2\n"); c.close()
' &
srv=$!
hv_in web2 timeout 10 python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.30.0.12", 81)); s.listen(4); s.accept()
' &
srv81=$!
# both servers listen before x1 connects (a loaded machine starts python slowly)
for _ in $(seq 100); do
	l=$(hv_in web2 ss -Hltn)
	grep -q '10.30.0.12:80 ' <<<"$l" && grep -q '10.30.0.12:81 ' <<<"$l" && break
	sleep 0.1
done
got=$(hv_in x1 timeout 5 python3 -c '
import socket
s = socket.create_connection(("10.30.0.12", 80), timeout=3); print(s.recv(100).decode().strip())
' 2>&1)
hv_assert_eq "hello from web2" "$got" "x1 -> web2 tcp/80 (rule app-web)"
if hv_in x1 timeout 5 python3 -c '
import socket
socket.create_connection(("10.30.0.12", 81), timeout=2)
' 2>/dev/null; then hv_fail "x1 reached web2 on tcp/81 (default block)"; fi
kill $srv81 2>/dev/null
wait $srv $srv81 2>/dev/null
hv_pass "kernel datapath: tcp/80 inside app connects and carries data, tcp/81 is blocked"

if hv_in web1 ping -c 1 -W 1 10.20.0.21 >/dev/null; then hv_fail "web1 reached db1 across bridges"; fi
hv_pass "kernel datapath: segments are separate bridges: web1 cannot reach db1"
