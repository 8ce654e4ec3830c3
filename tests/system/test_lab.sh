#!/bin/bash
# hvnetctl lab with tests/labs/basic.hvnet: lab up brings up hvnetd, two
# segments and three namespace guests with the policy in force; guests have
# the MAC, addresses, MTU and default routes of the file; the policy decides
# pings and tcp/80 inside app; lab status and lab graph describe the lab; a
# second lab up, a file with an error and a qemu guest without QEMU are refused
# and create nothing; lab down removes everything, also after hvnetd was
# killed with SIGKILL and after lab up itself was killed halfway.
. "$(dirname "$0")/lib.sh"
hv_setup
LAB=$HV_ID-lab
CRASH=$HV_ID-crash
HALF=$HV_ID-half
FILE=$HV_ROOT/tests/labs/basic.hvnet
PROBE=$HV_ROOT/tests/system/fwprobe.py

lab_cleanup() {
	local rc=$?
	for l in "$LAB" "$CRASH" "$HALF" "$HV_ID-bad" "$HV_ID-qemu"; do
		"$HVNETCTL" lab down "$l" >/dev/null 2>&1
	done
	(exit $rc)
	hv_cleanup
}
trap lab_cleanup EXIT

lab() { "$HVNETCTL" lab "$@"; }
lx() { # lx GUEST CMD...: run in guest GUEST of $LAB
	local g=$1
	shift
	"$HVNETCTL" lab exec "$LAB" "$g" -- "$@"
}
# nothing of lab NAME is left: namespaces, hvnetd, state, socket
assert_gone() {
	local name=$1 what=$2
	[ -z "$(ip netns list | awk '{print $1}' | grep -- "^$name-")" ] ||
		hv_fail "$what: namespaces left: $(ip netns list | grep -- "^$name-" | tr '\n' ' ')"
	! pgrep -f -- "--instance lab-$name\$" >/dev/null || hv_fail "$what: hvnetd lab-$name still runs"
	[ ! -e "/run/hvnet/labs/$name" ] || hv_fail "$what: /run/hvnet/labs/$name is left"
	[ ! -e "/run/hvnet/lab-$name.sock" ] || hv_fail "$what: its control socket is left"
}

# ---- lab up ----
lab up --name "$LAB" "$FILE" >"$HV_TMP/up.out" 2>&1 || { cat "$HV_TMP/up.out" >&2; hv_fail "lab up"; }
grep -q "^lab $LAB is up: 2 segments, 3 guests" "$HV_TMP/up.out" || hv_fail "lab up summary: $(cat "$HV_TMP/up.out")"
grep -q "^guest web1: namespace $LAB-web1, eth0 52:54:00:30:00:11, 10.30.0.11/24, fd00:30::11/64, mtu 1400" \
	"$HV_TMP/up.out" || hv_fail "lab up progress for web1: $(cat "$HV_TMP/up.out")"
grep -q "^policy: 2 rules" "$HV_TMP/up.out" || hv_fail "lab up applied no policy: $(cat "$HV_TMP/up.out")"
hv_pass "lab up: $(grep -c '^guest ' "$HV_TMP/up.out") guests, policy in force"

# ---- each guest as written in the file ----
NS=$LAB-web1
# (grep -q on a pipe would SIGPIPE ip under pipefail: read the output first)
has() { grep -q -- "$2" <<<"$1" || hv_fail "$3: $1"; }
link=$(ip -n "$NS" link show eth0)
has "$link" "link/ether 52:54:00:30:00:11 " "web1 MAC"
has "$link" " mtu 1400 " "web1 MTU"
has "$link" "<.*,UP,.*>" "web1 eth0 up"
has "$(ip -n "$NS" link show lo)" "<.*,UP,.*>" "web1 lo up"
addr=$(ip -n "$NS" addr show eth0)
has "$addr" "inet 10.30.0.11/24 " "web1 IPv4 address"
has "$addr" "inet6 fd00:30::11/64 " "web1 IPv6 address"
hv_assert_eq "default via 10.30.0.1 dev eth0" "$(ip -n "$NS" route show default | awk '{print $1,$2,$3,$4,$5}')" "web1 IPv4 default route"
hv_assert_eq "default via fd00:30::1 dev eth0" "$(ip -n "$NS" -6 route show default | awk '{print $1,$2,$3,$4,$5}')" "web1 IPv6 default route"
has "$(ip -n "$LAB-web2" link show eth0)" " mtu 1500 " "web2 MTU (the default)"
has "$(ip -n "$LAB-db1" addr show eth0)" "inet 10.20.0.21/24 " "db1 IPv4 address"
hv_assert_eq "" "$(ip -n "$LAB-db1" route show default)" "db1 (segment without gateway): default route"
hv_pass "web1: MAC, MTU 1400, 10.30.0.11/24, fd00:30::11/64, default routes via the gateways; db1 has no default route"

# ---- the policy, through hvnetd ----
lx web1 ping -c 2 -i 0.2 -W 1 10.30.0.12 >/dev/null || hv_fail "web1 cannot ping web2 (web1-ping allows it)"
lx web1 ping -c 2 -i 0.2 -W 1 fd00:30::12 >/dev/null || hv_fail "web1 cannot ping6 web2 (web1-ping allows it)"
if lx web2 ping -c 2 -i 0.2 -W 1 10.30.0.11 >/dev/null; then hv_fail "web2 pinged web1 (default block)"; fi
if lx db1 ping -c 1 -W 1 10.30.0.11 >/dev/null 2>&1; then hv_fail "db1 reached web1 across segments"; fi
hv_pass "ping: web1 -> web2 (IPv4, IPv6) answers; web2 -> web1 blocked; db1 -> web1 (other segment) no"

lx web1 /usr/bin/python3 "$PROBE" serve 10.30.0.11 80 22 >/dev/null 2>&1 &
sleep 1
hv_assert_eq echoed "$(lx web2 /usr/bin/python3 "$PROBE" tcp 10.30.0.11 80)" "web2 -> web1 tcp/80 (app-web)"
hv_assert_eq timeout "$(lx web2 /usr/bin/python3 "$PROBE" tcp 10.30.0.11 22 2)" "web2 -> web1 tcp/22 (default block)"
hv_pass "tcp: web2 -> web1 port 80 passes, port 22 is blocked"

# lab capture: web2's NIC through hvnetd, as pcap on stdout read by tcpdump
lab capture "$LAB" web2:eth0 -f 'icmp[icmptype] == icmp-echo' -c 3 -w - 2>"$HV_TMP/capture.err" |
	tcpdump -nr - >"$HV_TMP/capture.txt" 2>/dev/null &
cap=$!
sleep 1
lx web1 ping -c 3 -i 0.2 -W 1 10.30.0.12 >/dev/null || hv_fail "web1 cannot ping web2 during the capture"
for _ in $(seq 50); do kill -0 $cap 2>/dev/null || break; sleep 0.1; done
kill -0 $cap 2>/dev/null && { pkill -f "capture $LAB"; sleep 0.5; hv_fail "lab capture -c 3 did not end: $(cat "$HV_TMP/capture.err" "$HV_TMP/capture.txt")"; }
hv_assert_eq 3 "$(grep -c "ICMP echo request" "$HV_TMP/capture.txt")" "lab capture: echo requests web2 received"
hv_assert_eq 0 "$(grep -c "ICMP echo reply" "$HV_TMP/capture.txt")" "lab capture: the filter leaves replies out"
grep -q "10.30.0.11 > 10.30.0.12" "$HV_TMP/capture.txt" || hv_fail "lab capture: $(cat "$HV_TMP/capture.txt")"
if lab capture "$LAB" web2:eth9 -w /dev/null 2>"$HV_TMP/capbad.err"; then hv_fail "lab capture of a missing NIC"; fi
grep -q "no NIC eth9" "$HV_TMP/capbad.err" || hv_fail "lab capture of a missing NIC: $(cat "$HV_TMP/capbad.err")"
hv_pass "lab capture web2:eth0 -f 'echo requests' -c 3 -w - | tcpdump -r -: the 3 echo requests, no reply; a missing NIC is refused"

# exit status and stdin pass through lab exec
lx web1 sh -c 'exit 7'
hv_assert_eq 7 "$?" "lab exec exit status"
hv_assert_eq "hello" "$(echo hello | lx web1 cat)" "lab exec stdin"
hv_assert_eq "eth0 lo" "$(lx web1 ls /sys/class/net | sort | tr '\n' ' ' | sed 's/ $//')" "lab exec: /sys shows the guest's interfaces"

# ---- status ----
lab status "$LAB" --json >"$HV_TMP/status.json" || hv_fail "lab status --json"
python3 - "$HV_TMP/status.json" <<'EOF' || hv_fail "lab status --json: $(cat "$HV_TMP/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["hvnetd"]["alive"] and s["hvnetd"]["answers"], s["hvnetd"]
assert s["phase"] == "up", s["phase"]
names = sorted(g["name"] for g in s["guests"])
assert names == ["db1", "web1", "web2"], names
for g in s["guests"]:
    assert g["kind"] == "netns" and g["state"] == "running", g
    for n in g["nics"]:
        assert n["link"] == "up" and n["attached"], (g["name"], n)
web1 = [g for g in s["guests"] if g["name"] == "web1"][0]["nics"][0]
assert web1["mac"] == "52:54:00:30:00:11" and web1["mtu"] == 1400, web1
assert web1["segment"] == "app" and web1["port"] == "web1-eth0", web1
assert sorted(web1["addresses"]) == ["10.30.0.11/24", "fd00:30::11/64"], web1
assert web1["rx_packets"] > 0 and web1["tx_packets"] > 0, web1
EOF
lab status "$LAB" >"$HV_TMP/status.txt" || hv_fail "lab status"
grep -q "^web1 .*running .*eth0 .*app .*52:54:00:30:00:11 .*1400 up " "$HV_TMP/status.txt" ||
	hv_fail "lab status table: $(cat "$HV_TMP/status.txt")"
hv_pass "lab status: 3 guests running, links up, web1's counters from hvnetd"

# ---- graph ----
lab graph "$LAB" >"$HV_TMP/lab.dot" || hv_fail "lab graph"
grep -q '^digraph "'"$LAB"'" {' "$HV_TMP/lab.dot" || hv_fail "graph header: $(head -1 "$HV_TMP/lab.dot")"
grep -q 'subgraph "cluster_app"' "$HV_TMP/lab.dot" && grep -q 'subgraph "cluster_db"' "$HV_TMP/lab.dot" ||
	hv_fail "graph: a cluster per segment"
grep -q '"web1.eth0" \[label=' "$HV_TMP/lab.dot" || hv_fail "graph: a node per NIC"
grep -q '"seg:app" -> "seg:app" \[label="web1-ping, app-web"\]' "$HV_TMP/lab.dot" || hv_fail "graph: the allowed flows in app"
[ "$(grep -c -- '->' "$HV_TMP/lab.dot")" -eq 1 ] || hv_fail "graph: an edge nothing allows: $(grep -- '->' "$HV_TMP/lab.dot")"
[ "$(grep -c '{' "$HV_TMP/lab.dot")" -eq "$(grep -c '}' "$HV_TMP/lab.dot")" ] || hv_fail "graph: unbalanced braces"
if command -v dot >/dev/null; then
	dot -Tsvg "$HV_TMP/lab.dot" >"$HV_TMP/lab.svg" || hv_fail "dot -Tsvg refuses the graph"
	lab graph "$FILE" --svg "$HV_TMP/file.svg" 2>/dev/null || hv_fail "lab graph FILE --svg"
	grep -q "<svg" "$HV_TMP/file.svg" || hv_fail "lab graph --svg wrote no SVG"
	hv_pass "lab graph: DOT that dot -Tsvg accepts, --svg renders it"
else
	hv_pass "lab graph: clusters, NIC nodes, one allowed-flow edge (dot not installed: structure only)"
fi

# the mirror: its selected segments and ports feed it, it feeds its
# destinations (the IDS guest's NIC, a pcapng file, a port that is no NIC)
cat >"$HV_TMP/mirror.hvnet" <<'EOF'
segment app { class application; subnet 10.30.0.0/24 }
segment db  { class infrastructure; subnet 10.20.0.0/24 }
segment mon { class management }
guest web1 { nic eth0 { segment app; ip 10.30.0.11/24 } }
guest db1  { nic eth0 { segment db; ip 10.20.0.21/24 } }
guest ids  { nic eth0 { segment mon } }
policy { default block }
mirror m1 {
	select segment app, port db1-eth0, verdict blocked
	filter "tcp port 5432"
	to port ids-eth0
	to pcap "cap/m1.pcapng"
	to port span0
}
EOF
lab graph "$HV_TMP/mirror.hvnet" >"$HV_TMP/mirror.dot" || hv_fail "lab graph of a file with a mirror"
mg() { grep -qF -- "$1" "$HV_TMP/mirror.dot" || hv_fail "graph of the mirror: no $1: $(cat "$HV_TMP/mirror.dot")"; }
mg '"mirror:m1" [shape=box, style="rounded,dashed", color="#c62828", fontcolor="#c62828", label="mirror m1\nverdict blocked\ntcp port 5432"];'
mg '"seg:app" -> "mirror:m1" [style=dashed, color="#c62828", fontcolor="#c62828", ltail="cluster_app", label="copies"];'
mg '"db1.eth0" -> "mirror:m1" ['
mg '"mirror:m1" -> "ids.eth0" [style=dashed, color="#c62828", fontcolor="#c62828", label="ids-eth0"];'
mg '"mirror:m1:1" [shape=note, color="#c62828", label="pcapng\ncap/m1.pcapng"];'
mg '"mirror:m1" -> "mirror:m1:1" ['
mg '"mirror:m1:2" [shape=box, color="#c62828", label="port span0"];'
mg '"mirror:m1" -> "mirror:m1:2" ['
hv_assert_eq 5 "$(grep -c -- '"mirror:m1[":0-9]* -> \|-> "mirror:m1"' "$HV_TMP/mirror.dot")" "the mirror's edges (2 in, 3 out)"
if command -v dot >/dev/null; then
	dot -Tsvg "$HV_TMP/mirror.dot" >/dev/null || hv_fail "dot -Tsvg refuses the mirror's graph"
fi
hv_pass "lab graph: mirror m1 as a node, fed by segment app and port db1-eth0, feeding ids's NIC, its pcapng file and port span0"

# ---- refusals that create nothing ----
lab up --name "$LAB" "$FILE" >"$HV_TMP/again.out" 2>&1 && hv_fail "a second lab up of $LAB succeeded"
grep -q "lab down $LAB" "$HV_TMP/again.out" || hv_fail "second lab up: $(cat "$HV_TMP/again.out")"
lx web1 ping -c 1 -W 1 10.30.0.12 >/dev/null || hv_fail "the refused lab up disturbed the lab"
hv_pass "lab up of a lab that is up: refused ('lab down $LAB' first), the lab keeps working"

sed 's/segment app; mac 52:54:00:30:00:12/segment ap; mac 52:54:00:30:00:12/' "$FILE" >"$HV_TMP/bad.hvnet"
lab up --name "$HV_ID-bad" "$HV_TMP/bad.hvnet" >"$HV_TMP/bad.out" 2>&1 && hv_fail "lab up of a file with an error succeeded"
grep -q "bad.hvnet:12:33: error: unknown segment 'ap'" "$HV_TMP/bad.out" || hv_fail "bad file diagnostics: $(cat "$HV_TMP/bad.out")"
grep -q "nothing was created" "$HV_TMP/bad.out" || hv_fail "bad file: $(cat "$HV_TMP/bad.out")"
assert_gone "$HV_ID-bad" "lab up of a file with an error"
sed 's/^guest web2 {/guest web2 { kind qemu;/' "$FILE" >"$HV_TMP/qemu.hvnet"
HVNET_QEMU=/nonexistent/qemu-system-x86_64 lab up --name "$HV_ID-qemu" "$HV_TMP/qemu.hvnet" >"$HV_TMP/qemu.out" 2>&1 &&
	hv_fail "lab up of a qemu guest without QEMU succeeded"
grep -q "QEMU (/nonexistent/qemu-system-x86_64) cannot be run: .*nothing was created" "$HV_TMP/qemu.out" || hv_fail "no-QEMU refusal: $(cat "$HV_TMP/qemu.out")"
assert_gone "$HV_ID-qemu" "lab up of a qemu guest without QEMU"
hv_pass "a file with an error, a qemu guest without QEMU: refused with what is wrong, nothing created"

# ---- lab down ----
lab down "$LAB" >"$HV_TMP/down.out" 2>&1 || hv_fail "lab down: $(cat "$HV_TMP/down.out")"
assert_gone "$LAB" "lab down"
lab down "$LAB" >/dev/null 2>&1 || hv_fail "a second lab down is an error"
hv_pass "lab down: no namespace, hvnetd, state or socket left; a second lab down is harmless"

# ---- after hvnetd was killed ----
lab up --name "$CRASH" "$FILE" >"$HV_TMP/crash.out" 2>&1 || hv_fail "lab up $CRASH: $(cat "$HV_TMP/crash.out")"
pid=$(pgrep -f -- "--instance lab-$CRASH\$") || hv_fail "no hvnetd for $CRASH"
kill -9 "$pid"
sleep 0.5
hv_assert_eq False "$(lab status "$CRASH" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hvnetd"]["alive"])')" \
	"lab status after kill -9 of hvnetd: alive"
lab down "$CRASH" >"$HV_TMP/crashdown.out" 2>&1 || hv_fail "lab down after kill -9: $(cat "$HV_TMP/crashdown.out")"
assert_gone "$CRASH" "lab down after kill -9 of hvnetd"
hv_pass "kill -9 of hvnetd: lab status says so, lab down still removes everything"

# ---- after lab up itself was killed halfway ----
lab up --name "$HALF" "$FILE" >"$HV_TMP/half.out" 2>&1 &
up=$!
# kill it once its first guest's namespace exists: hvnetd runs, a guest is
# made, the rest is not (if it finishes first, lab down must still clean up)
for _ in $(seq 200); do
	[ -e "/run/netns/$HALF-web1" ] && break
	sleep 0.02
done
kill -9 "$up" 2>/dev/null
wait "$up" 2>/dev/null
lab down "$HALF" >"$HV_TMP/halfdown.out" 2>&1 || hv_fail "lab down after a killed lab up: $(cat "$HV_TMP/halfdown.out")"
assert_gone "$HALF" "lab down after lab up was killed"
hv_pass "lab up killed halfway: lab down removes what it had created"
