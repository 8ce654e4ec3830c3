#!/bin/bash
# make demo cannot rot silently: scripts/demo.sh --check runs the reference
# lab, policies/nist-800-125b.hvnet (namespace guests, the QEMU database
# guest, the IDS guest on the mirror port), tries its 16 flows and checks
# every verdict and rule against the file, what the IDS saw, the graph and
# lab down. First, that the check bites: on a copy of the file whose
# app-to-mgmt rule allows instead of blocking (and whose database is a
# namespace guest, to save a VM boot), the demo must name the flows that
# changed, the flow the IDS no longer sees, and exit with 1.
. "$(dirname "$0")/lib.sh"
hv_setup
LAB=$HV_ID-demo
BAD=$HV_ID-dbad
DEMO=$HV_ROOT/scripts/demo.sh
export BUILD=$HV_BUILD

if ! "${HVNET_QEMU:-qemu-system-x86_64}" --version >/dev/null 2>&1; then
	echo "SKIP: QEMU cannot run (apt-get install qemu-system-x86)"
	exit 77
fi

demo_cleanup() {
	local rc=$?
	"$HVNETCTL" lab down "$LAB" >/dev/null 2>&1
	"$HVNETCTL" lab down "$BAD" >/dev/null 2>&1
	(exit $rc)
	hv_cleanup
}
trap demo_cleanup EXIT

nothing_left() { # LAB
	[ -z "$(ip netns list | grep -- "^$1-")" ] || hv_fail "$1: namespaces left: $(ip netns list | grep -- "^$1-")"
	[ ! -e "/run/hvnet/labs/$1" ] || hv_fail "$1: /run/hvnet/labs/$1 left"
	[ -z "$(pgrep -f -- "-name $1-")" ] || hv_fail "$1: QEMU left running"
	! pgrep -f -- "--instance lab-$1\$" >/dev/null || hv_fail "$1: hvnetd left running"
}

# ---- a policy that differs from what the demo expects: the check fails ----
sed -E -e 's/kind qemu; memory [^;]*; cpus [0-9]+/kind netns/' \
	-e 's/app-to-mgmt: block log rate 10\/s/app-to-mgmt: allow/' \
	"$HV_ROOT/policies/nist-800-125b.hvnet" >"$HV_TMP/broken.hvnet"
grep -q "app-to-mgmt: allow app -> mgmt" "$HV_TMP/broken.hvnet" || hv_fail "the broken copy did not change app-to-mgmt"
"$DEMO" --check --name "$BAD" --file "$HV_TMP/broken.hvnet" --log "$HV_TMP/bad.log" >"$HV_TMP/bad.out" 2>&1
rc=$?
hv_assert_eq 1 "$rc" "demo --check exit status on a changed policy"
for want in \
	"web1 -> admin1 (10.10.0.10) tcp/22: expected blocked by app-to-mgmt, got allowed by app-to-mgmt; the guest saw: echoed" \
	"web1 -> admin1 (fd00:10::10) ping: expected blocked by app-to-mgmt, got allowed by app-to-mgmt; the guest saw: echoed" \
	"the IDS did not see web1 -> admin1 tcp/5432" \
	"demo check: FAILED: 5 unexpected results"; do
	grep -qF -- "$want" "$HV_TMP/bad.out" || hv_fail "demo --check on the broken copy does not say '$want': $(cat "$HV_TMP/bad.out")"
done
nothing_left "$BAD"
hv_pass "a policy where app-to-mgmt allows: demo --check names the 3 flows that changed and the flow the IDS missed, exits 1, leaves nothing"

# ---- the demo itself ----
start=$(date +%s)
"$DEMO" --check --name "$LAB" --log "$HV_TMP/demo.log" >"$HV_TMP/demo.out" 2>&1
rc=$?
[ $rc -eq 0 ] || hv_fail "demo --check failed (exit $rc): $(cat "$HV_TMP/demo.out"); transcript: $(tail -80 "$HV_TMP/demo.log")"
grep -q "^demo check: ok: 16 flows as the policy says, the IDS saw 3 mirrored flows, lab down left nothing" "$HV_TMP/demo.out" ||
	hv_fail "demo --check summary: $(cat "$HV_TMP/demo.out")"
[ "$(wc -l <"$HV_TMP/demo.out")" -eq 1 ] || hv_fail "demo --check is not quiet: $(cat "$HV_TMP/demo.out")"
log=$HV_TMP/demo.log
grep -q "^guest db1: QEMU $LAB-db1, eth0 52:54:00:20:00:21, 10.20.0.21/24, fd00:20::21/64" "$log" || hv_fail "lab up: db1 is no VM"
grep -q "^db1: up after [0-9]* s: link on 1 NIC, exec channel answers" "$log" || hv_fail "lab up: no boot of db1"
grep -q '^mirror ids (segments app, infra; verdict blocked; filter "tcp port 5432 or icmp")' "$log" ||
	hv_fail "lab up does not describe the mirror: $(grep -i mirror "$log")"
grep -q "^  to port ids-eth0 (guest ids's NIC eth0)" "$log" || hv_fail "lab up: the mirror's port"
grep -q "^web1 .*db1 10.20.0.21 .*tcp/5432 .*routed app>infra .*allowed app-db .*allowed app-db .*echoed .*ok$" "$log" ||
	hv_fail "the flow table lacks web1 -> db1 tcp/5432: $(grep -A20 '== flows' "$log")"
hv_assert_eq 16 "$(grep -c ' ok$' "$log")" "flows ok in the table"
grep -qE "^ +1 +web1 +-> db1 +icmp" "$log" || hv_fail "the IDS summary: $(grep -A6 '== the IDS' "$log")"
grep -q "rule=app-to-mgmt" "$log" || hv_fail "the pcapng summary has no rule comments"
grep -q '"mirror:ids" -> "ids.eth0"' "$log" || hv_fail "the graph lacks the mirror"
nothing_left "$LAB"
hv_pass "demo --check: 16 flows as the policy says (switched and routed, IPv4 and IPv6, to and from the VM), the IDS saw the 3 mirrored flows, graph, lab down, in $(($(date +%s) - start)) s"
