#!/bin/bash
# hvnetctl lab with QEMU guests (tests/labs/qemu.hvnet, TCG without KVM):
# two VMs and a namespace guest in segment app, a namespace guest in db.
# lab up boots the VMs on vhost-user ports (QEMU owns the sockets); through
# hvnetd they ping the namespace guest and back (lab exec in the VM, exit
# status passed through); the policy visibly blocks ns1 -> vm2; db1 cannot
# reach a VM even with an address in app's subnet; lab status shows the
# links; the serial console runs a command. hvnetd killed with SIGKILL:
# lab status says why the links are down, lab up brings hvnetd back, the
# VMs reconnect without a reboot and ping again. A VM killed with SIGKILL:
# lab up boots it again while hvnetd and the other guests keep running, and
# the policy still holds for it. lab down leaves no process,
# socket, tap, namespace or file, also after lab up was killed mid-boot; a
# VM whose kernel does not load makes lab up roll everything back.
. "$(dirname "$0")/lib.sh"
hv_setup
LAB=$HV_ID-q
FILE=$HV_ROOT/tests/labs/qemu.hvnet

QEMU=${HVNET_QEMU:-qemu-system-x86_64}
if ! "$QEMU" --version >/dev/null 2>&1; then
	echo "SKIP: $QEMU cannot run (apt-get install qemu-system-x86)"
	exit 77
fi
if ! ls /boot/vmlinuz-* >/dev/null 2>&1; then
	echo "SKIP: no kernel in /boot for the guest image (apt-get install linux-image-amd64)"
	exit 77
fi

lab_cleanup() {
	local rc=$?
	"$HVNETCTL" lab down "$LAB" >/dev/null 2>&1
	"$HVNETCTL" lab down "$HV_ID-qbad" >/dev/null 2>&1
	"$HVNETCTL" lab down "$HV_ID-qhalf" >/dev/null 2>&1
	(exit $rc)
	hv_cleanup
}
trap lab_cleanup EXIT

lab() { "$HVNETCTL" lab "$@"; }
lx() { # lx GUEST CMD...
	local g=$1
	shift
	"$HVNETCTL" lab exec "$LAB" "$g" -- "$@"
}
qemu_pids() { pgrep -f -- "-name $LAB-" || true; }
status_json() { lab status "$LAB" --json >"$HV_TMP/status.json" || hv_fail "lab status --json"; }

# ---- a VM that cannot boot: lab up rolls everything back ----
BAD=$HV_ID-qbad
mkdir -p "$HV_TMP/badimg"
echo "not a kernel" >"$HV_TMP/badimg/vmlinuz"
echo "not an initramfs" >"$HV_TMP/badimg/initrd.img"
cat >"$HV_TMP/bad.hvnet" <<EOF
segment app { class application; subnet 10.40.0.0/24 }
guest nsb { nic eth0 { segment app; ip 10.40.0.51/24 } }
guest vmb { kind qemu; memory 64M; image "$HV_TMP/badimg"; nic eth0 { segment app; ip 10.40.0.52/24 } }
EOF
lab up --name "$BAD" "$HV_TMP/bad.hvnet" >"$HV_TMP/bad.out" 2>&1 && hv_fail "lab up of a VM with a broken image succeeded"
grep -q "guest vmb: QEMU exited while booting" "$HV_TMP/bad.out" || hv_fail "broken image: $(cat "$HV_TMP/bad.out")"
grep -q "lab $BAD: rolled back, nothing is left" "$HV_TMP/bad.out" || hv_fail "broken image, rollback: $(cat "$HV_TMP/bad.out")"
[ -z "$(pgrep -f -- "-name $BAD-")" ] || hv_fail "QEMU of $BAD left running"
[ -z "$(ip netns list | grep -- "^$BAD-")" ] || hv_fail "namespaces of $BAD left"
[ ! -e "/run/hvnet/labs/$BAD" ] || hv_fail "state of $BAD left"
hv_pass "a VM whose kernel does not load: lab up says so with QEMU's log and removes the namespace guest, hvnetd and state"

# ---- lab up killed while its VM boots: lab down still stops QEMU ----
HALF=$HV_ID-qhalf
cat >"$HV_TMP/half.hvnet" <<EOF
segment app { class application; subnet 10.40.0.0/24 }
guest vmh { kind qemu; memory 64M; nic eth0 { segment app; ip 10.40.0.53/24 } }
EOF
lab up --name "$HALF" "$HV_TMP/half.hvnet" >"$HV_TMP/half.out" 2>&1 &
upid=$!
for _ in $(seq 100); do [ -n "$(pgrep -f -- "-name $HALF-vmh")" ] && break; sleep 0.1; done
[ -n "$(pgrep -f -- "-name $HALF-vmh")" ] || hv_fail "lab up of $HALF started no QEMU: $(cat "$HV_TMP/half.out")"
kill -9 "$upid"
wait "$upid" 2>/dev/null
lab down "$HALF" >"$HV_TMP/halfdown.out" 2>&1 || hv_fail "lab down after lab up was killed: $(cat "$HV_TMP/halfdown.out")"
grep -q "guest vmh: QEMU $HALF-vmh removed" "$HV_TMP/halfdown.out" || hv_fail "lab down of $HALF: $(cat "$HV_TMP/halfdown.out")"
[ -z "$(pgrep -f -- "-name $HALF-")" ] || hv_fail "QEMU of $HALF left running"
[ ! -e "/run/hvnet/labs/$HALF" ] || hv_fail "state of $HALF left"
hv_pass "lab up killed while the VM booted: lab down stopped QEMU and removed everything"

# ---- lab up ----
start=$(date +%s)
lab up --name "$LAB" "$FILE" >"$HV_TMP/up.out" 2>&1 || { cat "$HV_TMP/up.out" >&2; hv_fail "lab up"; }
grep -q "^lab $LAB is up: 2 segments, 4 guests" "$HV_TMP/up.out" || hv_fail "lab up summary: $(cat "$HV_TMP/up.out")"
grep -q "^guest vm2: QEMU $LAB-vm2, eth0 52:54:00:40:00:12, 10.40.0.12/24, default via 10.40.0.1" "$HV_TMP/up.out" ||
	hv_fail "lab up progress for vm2: $(cat "$HV_TMP/up.out")"
grep -q "^vm1: up after [0-9]* s: link on 1 NIC, exec channel answers" "$HV_TMP/up.out" || hv_fail "no boot wait for vm1: $(cat "$HV_TMP/up.out")"
[ "$(qemu_pids | wc -l)" -eq 2 ] || hv_fail "expected 2 QEMU processes, got: $(qemu_pids | tr '\n' ' ')"
hv_pass "lab up: 2 QEMU guests booted, 2 namespace guests, policy in force, in $(($(date +%s) - start)) s"

# ---- inside the VM: what the init configured ----
addr=$(lx vm1 ip addr show eth0) || hv_fail "lab exec vm1 ip addr"
grep -q "inet 10.40.0.11/24" <<<"$addr" || hv_fail "vm1 address: $addr"
grep -q "inet6 fd00:40::11/64" <<<"$addr" || hv_fail "vm1 IPv6 address: $addr"
grep -q "link/ether 52:54:00:" <<<"$addr" || hv_fail "vm1 MAC: $addr"
grep -q " mtu 1400 " <<<"$addr" || hv_fail "vm1 MTU: $addr"
hv_assert_eq "default via 10.40.0.1 dev eth0" "$(lx vm1 ip route | grep "^default" | awk '{print $1,$2,$3,$4,$5}')" "vm1 default route"
hv_assert_eq "default via fd00:40::1 dev eth0" "$(lx vm1 ip -6 route | grep "^default" | awk '{print $1,$2,$3,$4,$5}')" "vm1 IPv6 default route"
hv_assert_eq "$LAB-vm1" "$LAB-$(lx vm1 hostname)" "vm1 hostname"
grep -q "52:54:00:40:00:12" <<<"$(lx vm2 ip link show eth0)" || hv_fail "vm2 MAC from the file"
hv_pass "vm1: eth0 with the derived MAC, MTU 1400, 10.40.0.11/24, fd00:40::11/64, default routes via the segment gateways; vm2 has the file's MAC"

# exit status and both streams pass through lab exec
out=$(lx vm1 sh -c 'echo to-stdout; echo to-stderr >&2; exit 7' 2>"$HV_TMP/err")
hv_assert_eq 7 "$?" "lab exec exit status from a VM"
hv_assert_eq "to-stdout" "$out" "lab exec stdout"
hv_assert_eq "to-stderr" "$(cat "$HV_TMP/err")" "lab exec stderr"
hv_assert_eq "it's a b" "$(lx vm1 echo "it's" "a b")" "lab exec quoting"
lx vm1 no-such-command 2>/dev/null
hv_assert_eq 127 "$?" "lab exec of a missing command"
hv_pass "lab exec in a VM: exit status 7, stdout and stderr apart, quoting kept, 127 for a missing command"

# ---- through hvnetd ----
lx ns1 ping -c 2 -i 0.2 -W 2 10.40.0.11 >/dev/null || hv_fail "ns1 cannot ping vm1"
lx vm1 ping -c 2 -W 2 10.40.0.21 >/dev/null || hv_fail "vm1 cannot ping ns1"
lx vm1 ping -c 2 -W 2 10.40.0.12 >/dev/null || hv_fail "vm1 cannot ping vm2"
lx ns1 ping -6 -c 2 -i 0.2 -W 2 fd00:40::11 >/dev/null || hv_fail "ns1 cannot ping6 vm1"
lx vm1 ping6 -c 1 -W 2 fd00:40::21 >/dev/null || hv_fail "vm1 cannot ping6 ns1"
hv_pass "ping: ns1 -> vm1, vm1 -> ns1 (IPv4 and IPv6), vm1 -> vm2 (vhost-user to tap and vhost-user to vhost-user)"

# tcp/80 (app-web) to busybox httpd in vm2, tcp/22 (default block) not
lx vm2 sh -c 'mkdir -p /www && echo hello-from-vm2 >/www/index.html && httpd -p 80 -h /www' ||
	hv_fail "httpd in vm2"
hv_assert_eq "hello-from-vm2" "$(lx ns1 /usr/bin/python3 -c '
import socket
s = socket.create_connection(("10.40.0.12", 80), timeout=3)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
d = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    d += b
print(d.split(b"\r\n\r\n", 1)[1].decode().strip())')" "ns1 -> vm2 tcp/80 (app-web)"
if lx ns1 /usr/bin/python3 -c 'import socket; socket.create_connection(("10.40.0.12", 22), timeout=2)' 2>/dev/null; then
	hv_fail "ns1 -> vm2 tcp/22 connected (default block)"
fi
hv_pass "tcp: ns1 fetched a page from httpd in vm2 (app-web); tcp/22 is blocked"

if lx ns1 ping -c 2 -i 0.2 -W 1 10.40.0.12 >/dev/null; then hv_fail "ns1 pinged vm2 (ns1-vm2 blocks it)"; fi
lx vm2 ping -c 1 -W 2 10.40.0.21 >/dev/null || hv_fail "vm2 cannot ping ns1 (app-ping allows it)"
hits=$("$HVNETCTL" -i "lab-$LAB" --json fw show | python3 -c '
import json, sys
r = json.load(sys.stdin)
print([x for x in r["rules"] if x["id"] == "ns1-vm2"][0]["packets"])')
hv_assert_ge "$hits" 1 "hits of rule ns1-vm2"
hv_pass "policy: ns1 -> vm2 blocked by ns1-vm2 ($hits hits), vm2 -> ns1 allowed"

lx db1 ip addr add 10.40.0.99/24 dev eth0 || hv_fail "db1: extra address"
if lx db1 ping -c 2 -i 0.2 -W 1 10.40.0.11 >/dev/null; then hv_fail "db1 (segment db) reached vm1 (segment app)"; fi
hv_pass "segments: db1 cannot reach vm1, even with an address in app's subnet"

# ---- status ----
status_json
python3 - "$HV_TMP/status.json" <<'EOF' || hv_fail "lab status --json: $(cat "$HV_TMP/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
g = {x["name"]: x for x in s["guests"]}
assert g["vm1"]["kind"] == "qemu" and g["vm1"]["state"] == "running", g["vm1"]
for name in ("vm1", "vm2", "ns1", "db1"):
    for n in g[name]["nics"]:
        assert n["link"] == "up" and n["attached"] and "reason" not in n, (name, n)
vm2 = g["vm2"]["nics"][0]
assert vm2["mac"] == "52:54:00:40:00:12" and vm2["addresses"] == ["10.40.0.12/24"], vm2
assert vm2["rx_packets"] > 0 and vm2["tx_packets"] > 0, vm2
EOF
lab status "$LAB" >"$HV_TMP/status.txt" || hv_fail "lab status"
grep -q "^vm2 .*qemu .*running .*eth0 .*app .*52:54:00:40:00:12 .* up " "$HV_TMP/status.txt" ||
	hv_fail "lab status table: $(cat "$HV_TMP/status.txt")"
lab graph "$LAB" | grep -q '"vm1.eth0" \[label="vm1 (qemu)' || hv_fail "lab graph: vm1 as a qemu guest"
hv_pass "lab status: VMs running with link up and counters; lab graph shows the qemu kind"

# ---- the serial console ----
(sleep 1; printf 'echo console-$((6 * 7))\r'; sleep 4; printf '\035') |
	timeout 20 "$HVNETCTL" lab console "$LAB" vm1 >"$HV_TMP/console.out" 2>&1
grep -q "console-42" "$HV_TMP/console.out" || hv_fail "lab console: $(cat "$HV_TMP/console.out")"
(sleep 3; printf '\035') | timeout 20 "$HVNETCTL" lab console "$LAB" vm2 >/dev/null 2>&1 &
cpid=$!
for _ in $(seq 50); do [ -n "$(grep " 03 .*/$LAB-vm2/console.sock" /proc/net/unix)" ] && break; sleep 0.1; done
if lab console "$LAB" vm2 </dev/null >"$HV_TMP/busy.out" 2>&1; then hv_fail "a second lab console of vm2 attached"; fi
grep -q "another lab console is attached" "$HV_TMP/busy.out" || hv_fail "second console: $(cat "$HV_TMP/busy.out")"
wait "$cpid"
if lab console "$LAB" ns1 </dev/null >"$HV_TMP/nocons.out" 2>&1; then hv_fail "lab console of a netns guest succeeded"; fi
grep -q "has no console; a shell: hvnetctl lab exec" "$HV_TMP/nocons.out" || hv_fail "netns console refusal: $(cat "$HV_TMP/nocons.out")"
hv_pass "lab console: a command typed on vm1's serial console ran; Ctrl-] left; a second console on a VM is refused; a namespace guest has none"

# ---- hvnetd dies; lab up brings it back ----
qpids=$(qemu_pids | sort | tr '\n' ' ')
up1=$(lx vm1 cut -d. -f1 /proc/uptime)
pid=$(pgrep -f -- "--instance lab-$LAB\$") || hv_fail "no hvnetd for $LAB"
kill -9 "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
status_json
python3 - "$HV_TMP/status.json" <<'EOF' || hv_fail "lab status after kill -9: $(cat "$HV_TMP/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert not s["hvnetd"]["alive"], s["hvnetd"]
vm1 = [g for g in s["guests"] if g["name"] == "vm1"][0]
n = vm1["nics"][0]
assert vm1["state"] == "running" and n["link"] != "up", n
assert "hvnetd is not running" in n["reason"], n
EOF
lab up --name "$LAB" "$FILE" >"$HV_TMP/up2.out" 2>&1 || { cat "$HV_TMP/up2.out" >&2; hv_fail "lab up after hvnetd died"; }
grep -q "^lab $LAB is back up" "$HV_TMP/up2.out" || hv_fail "lab up again: $(cat "$HV_TMP/up2.out")"
grep -q "port vm1-eth0 (reattached)" "$HV_TMP/up2.out" || hv_fail "vm1 not reattached: $(cat "$HV_TMP/up2.out")"
hv_assert_eq "$qpids" "$(qemu_pids | sort | tr '\n' ' ')" "QEMU pids across the hvnetd restart"
up2=$(lx vm1 cut -d. -f1 /proc/uptime)
hv_assert_ge "$up2" "$up1" "vm1 uptime after the restart (no reboot)"
lx ns1 ping -c 2 -i 0.2 -W 2 10.40.0.11 >/dev/null || hv_fail "ns1 cannot ping vm1 after the hvnetd restart"
lx vm2 ping -c 1 -W 2 10.40.0.11 >/dev/null || hv_fail "vm2 cannot ping vm1 after the hvnetd restart"
if lx ns1 ping -c 1 -W 1 10.40.0.12 >/dev/null; then hv_fail "after the restart ns1 pinged vm2: the policy is not back"; fi
status_json
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert all(n["link"] == "up" for g in s["guests"] for n in g["nics"]), s' "$HV_TMP/status.json" ||
	hv_fail "links after the restart: $(cat "$HV_TMP/status.json")"
hv_pass "hvnetd killed: status said why; lab up restarted it; the VMs reconnected without a reboot (uptime $up1 -> $up2 s); ping and policy are back"

# ---- a VM dies; lab up starts it again, hvnetd and the other guests untouched ----
vm1pid=$(cat "/run/hvnet/labs/$LAB/$LAB-vm1/qemu.pid")
vm2pid=$(cat "/run/hvnet/labs/$LAB/$LAB-vm2/qemu.pid")
hpid=$(pgrep -f -- "--instance lab-$LAB\$")
kill -9 "$vm2pid"
for _ in $(seq 50); do kill -0 "$vm2pid" 2>/dev/null || break; sleep 0.1; done
status_json
python3 - "$HV_TMP/status.json" <<'EOF' || hv_fail "lab status after vm2 was killed: $(cat "$HV_TMP/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
vm2 = [g for g in s["guests"] if g["name"] == "vm2"][0]
assert vm2["state"] != "running" and vm2["nics"][0]["reason"] == "QEMU is not running", vm2
EOF
lab up --name "$LAB" "$FILE" >"$HV_TMP/up3.out" 2>&1 || { cat "$HV_TMP/up3.out" >&2; hv_fail "lab up after vm2 died"; }
grep -q "^lab $LAB: hvnetd lab-$LAB (pid $hpid) runs; 1 QEMU guest exited: starting it again" "$HV_TMP/up3.out" &&
	grep -q "^guest vm2: QEMU $LAB-vm2 started again; its port in hvnetd: vm2-eth0" "$HV_TMP/up3.out" &&
	grep -q "^vm2: up after [0-9]* s: link on 1 NIC, exec channel answers" "$HV_TMP/up3.out" &&
	grep -q "^lab $LAB is up again: 1 QEMU guest restarted" "$HV_TMP/up3.out" || hv_fail "lab up of a dead VM: $(cat "$HV_TMP/up3.out")"
hv_assert_eq "$hpid" "$(pgrep -f -- "--instance lab-$LAB\$")" "hvnetd's pid across the VM restart"
hv_assert_eq "$vm1pid" "$(cat "/run/hvnet/labs/$LAB/$LAB-vm1/qemu.pid")" "vm1's QEMU pid (not restarted)"
new=$(cat "/run/hvnet/labs/$LAB/$LAB-vm2/qemu.pid")
[ "$new" != "$vm2pid" ] && kill -0 "$new" || hv_fail "vm2 has no new QEMU ($vm2pid -> $new)"
up_vm2=$(lx vm2 cut -d. -f1 /proc/uptime)
hv_assert_ge "$(lx vm1 cut -d. -f1 /proc/uptime)" "$up_vm2" "vm1 has run longer than the restarted vm2"
grep -q "52:54:00:40:00:12" <<<"$(lx vm2 ip link show eth0)" || hv_fail "the restarted vm2 lacks the file's MAC"
lx vm2 ping -c 2 -W 2 10.40.0.21 >/dev/null || hv_fail "the restarted vm2 cannot ping ns1"
lx vm1 ping -c 1 -W 2 10.40.0.12 >/dev/null || hv_fail "vm1 cannot ping the restarted vm2"
before=$("$HVNETCTL" -i "lab-$LAB" --json fw show | python3 -c '
import json, sys
print([x for x in json.load(sys.stdin)["rules"] if x["id"] == "ns1-vm2"][0]["packets"])')
if lx ns1 ping -c 1 -W 1 10.40.0.12 >/dev/null; then hv_fail "ns1 pinged the restarted vm2: the policy does not hold"; fi
after=$("$HVNETCTL" -i "lab-$LAB" --json fw show | python3 -c '
import json, sys
print([x for x in json.load(sys.stdin)["rules"] if x["id"] == "ns1-vm2"][0]["packets"])')
hv_assert_ge "$after" "$((before + 1))" "hits of ns1-vm2 after the restart"
hv_pass "QEMU of vm2 killed: lab up booted it again (uptime $up_vm2 s, same MAC), hvnetd and vm1 kept running, vm2 pings ns1 and vm1, ns1-vm2 still blocks"

lab up --name "$LAB" "$FILE" >"$HV_TMP/again.out" 2>&1 && hv_fail "lab up of a lab that is up succeeded"
grep -q "is up already .*nothing changed" "$HV_TMP/again.out" || hv_fail "second lab up: $(cat "$HV_TMP/again.out")"
hv_pass "lab up of a lab that is up: says so, changes nothing"

# ---- lab down ----
socks=$(ls /run/hvnet/labs/"$LAB"/"$LAB"-vm1/*.sock | wc -l)
hv_assert_eq 3 "$socks" "sockets of vm1 (eth0, console, exec)"
lab down "$LAB" >"$HV_TMP/down.out" 2>&1 || hv_fail "lab down: $(cat "$HV_TMP/down.out")"
hv_assert_eq "" "$(qemu_pids)" "QEMU processes after lab down"
[ ! -e "/run/hvnet/labs/$LAB" ] || hv_fail "/run/hvnet/labs/$LAB is left"
[ ! -e "/run/hvnet/lab-$LAB.sock" ] || hv_fail "the control socket is left"
[ -z "$(ip netns list | grep -- "^$LAB-")" ] || hv_fail "namespaces left: $(ip netns list | grep -- "^$LAB-")"
! pgrep -f -- "--instance lab-$LAB\$" >/dev/null || hv_fail "hvnetd lab-$LAB still runs"
hv_pass "lab down: no QEMU, hvnetd, socket, namespace or state left"
