#!/bin/bash
# A SYN flood from one guest fills only its own share of the connection
# table: the port's limit refuses the rest (counted), while another guest of
# the same segment and an administrator on the management segment still
# connect. The port's limit comes from hvnetd's --port-conn-limit, or from
# the policy file (`conn-limit` of the guest's NIC). A second run without a port limit fills the table's
# non-management share: embryonic connections are dropped early to admit new
# ones, and the management reserve still lets the administrator in.
. "$(dirname "$0")/lib.sh"
hv_setup
PROBE="$HV_ROOT/tests/system/fwprobe.py"
probe() {
	local g=$1
	shift
	hv_in "$g" /usr/bin/python3 "$PROBE" "$@"
}
drops() { hv_json sw "[d['count'] for d in r['drops'] if d['reason']=='$1'][0]" stats; }

run() { # run NAME hvnetd-options...
	hv_start sw "$@" --segment mgmt --segment infra --segment app
	hv_guest sw admin1 mgmt 10.10.0.10/24
	hv_guest_mac admin1 52:54:00:10:00:10
	hv_guest sw m2 mgmt 10.10.0.20/24
	hv_guest sw flood app 10.30.0.66/24
	hv_guest sw web1 app 10.30.0.11/24
	hv_guest_mac web1 52:54:00:30:00:11
	hv_guest sw web2 app 10.30.0.12/24
	hv_guest_mac web2 52:54:00:30:00:12
	hv_ctl sw policy apply "${POLICY:-$HV_ROOT/policies/nist-800-125b.hvnet}" >/dev/null ||
		hv_fail "apply"
	hv_in m2 /usr/bin/python3 "$PROBE" serve 10.10.0.20 22 >/dev/null 2>&1 &
	hv_in web2 /usr/bin/python3 "$PROBE" serve 10.30.0.12 80 >/dev/null 2>&1 &
	# SYNs to an address nobody answers: every one stays SYN_SENT
	ip -n "$HV_ID-flood" neigh add 10.30.0.99 lladdr 02:00:00:00:00:99 dev eth0
	sleep 1
	probe flood synflood 10.30.0.99 80 400 8 >/dev/null &
	flooder=$!
	sleep 3
}

stop() {
	wait "$flooder"
	kill "$(hv_pid sw)"
	wait "$(hv_pid sw)" 2>/dev/null
	for ns in admin1 m2 flood web1 web2; do
		ip netns pids "$HV_ID-$ns" | xargs -r kill -9 2>/dev/null
		ip netns del "$HV_ID-$ns"
	done
	HV_NETNS=()
	HV_PIDS=()
}

# 1: a port limit of 100 (256 connections in the table)
run limit --ct-max 256 --port-conn-limit 100
own=$(hv_json sw 'r["total"]' ct list port=flood)
hv_assert_eq 100 "$own" "connections held by the flooding port"
refused=$(drops ct_limit_port)
hv_assert_ge "$refused" 100 "SYNs refused at the port limit"
hv_assert_eq echoed "$(probe web1 tcp 10.30.0.12 80)" "web1 -> web2 during the flood"
hv_assert_eq echoed "$(probe admin1 tcp 10.10.0.20 22)" "admin1 -> m2 ssh during the flood"
hv_pass "port limit: the flooder holds $own connections, $refused SYNs refused; web1 and admin1 connect"
stop

# 2: no port limit; 20% of 256 kept for management
run reserve --ct-max 256 --ct-mgmt-reserve 20
held=$(hv_json sw 'r["connections"]' ct stats)
early=$(hv_json sw 'r["early_drops"]' ct stats)
hv_assert_ge "$early" 100 "embryonic connections dropped early"
[ "$held" -le 205 ] || hv_fail "non-management connections went past their share: $held"
hv_assert_eq echoed "$(probe web1 tcp 10.30.0.12 80)" "web1 -> web2 during the flood (early drop)"
hv_assert_eq echoed "$(probe admin1 tcp 10.10.0.20 22)" "admin1 -> m2 ssh during the flood"
mgmt=$(hv_json sw 'r["total"]' ct list segment=mgmt)
hv_assert_ge "$mgmt" 1 "management connections"
hv_pass "reserve: table at $held of 256, $early early drops; web1 and admin1 connect"
stop

# 3: the limit from the policy file: guest flood's NIC has conn-limit 60
POLICY=$HV_TMP/flood.hvnet
cat "$HV_ROOT/policies/nist-800-125b.hvnet" >"$POLICY"
echo 'guest flood { kind netns; nic eth0 { segment app; ip 10.30.0.66/24; conn-limit 60 } }' >>"$POLICY"
run file --ct-max 256
own=$(hv_json sw 'r["total"]' ct list port=flood)
hv_assert_eq 60 "$own" "connections held by the flooding port (conn-limit 60 in the file)"
hv_assert_eq echoed "$(probe web1 tcp 10.30.0.12 80)" "web1 -> web2 during the flood"
hv_pass "policy file conn-limit: the flooder holds $own connections; web1 connects"
stop
