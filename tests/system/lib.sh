#!/bin/bash
# Shared helpers for the system tests. Each test sources this file, calls
# hv_setup, and registers nothing else for cleanup: everything it creates
# (namespaces, veths, hvnetd instances, files) is named with $HV_ID and
# removed by the EXIT trap, pass or fail.
set -uo pipefail

HV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HV_BUILD=${HV_BUILD:-$HV_ROOT/build}
HVNETD=$HV_BUILD/vswitch/hvnetd
HVNETCTL=$HV_BUILD/cli/hvnetctl
HV_ID=${HV_ID:-hvt$$}
HV_TMP=/tmp/$HV_ID
HV_PIDS=()
HV_NETNS=()
HV_LINKS=()

hv_log() { echo "[$HV_ID] $*" >&2; }
hv_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

hv_cleanup() {
	local rc=$?
	for pid in "${HV_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${HV_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
	done
	for ns in "${HV_NETNS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	for l in "${HV_LINKS[@]}"; do
		ip link del "$l" 2>/dev/null
	done
	if [ $rc -ne 0 ] && [ -d "$HV_TMP" ]; then
		for f in "$HV_TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 30 lines)" >&2
			tail -30 "$f" >&2
		done
	fi
	rm -rf "$HV_TMP" /run/hvnet/"$HV_ID"*.sock
	exit $rc
}

hv_setup() {
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: system tests need root"; exit 77; }
	[ -x "$HVNETD" ] && [ -x "$HVNETCTL" ] || hv_fail "build first: $HVNETD, $HVNETCTL"
	mkdir -p "$HV_TMP"
	trap hv_cleanup EXIT
	trap 'exit 130' INT TERM
}

# hv_start NAME [hvnetd options...]: start an instance named $HV_ID-NAME and
# wait for its control socket.
hv_start() {
	local short=$1 name=$HV_ID-$1
	shift
	"$HVNETD" --instance "$name" --log-level info "$@" >"$HV_TMP/$short.log" 2>&1 &
	local pid=$!
	HV_PIDS+=("$pid")
	echo "$pid" >"$HV_TMP/$name.pid"
	for _ in $(seq 200); do
		if "$HVNETCTL" -s "/run/hvnet/$name.sock" --timeout 500 version >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || hv_fail "hvnetd $name exited at start"
		sleep 0.1
	done
	hv_fail "hvnetd $name did not answer on its socket within 20 s"
}

hv_pid() { cat "$HV_TMP/$HV_ID-$1.pid"; }

# hv_underlay A B: a veth pair A-B in this namespace for two hosts' uplinks,
# removed at exit; no IPv6 of its own, no offloads (the frames af_packet
# reads are what went on the wire), both ends up.
hv_underlay() {
	ip link add "$1" type veth peer name "$2" || hv_fail "underlay veth $1-$2"
	HV_LINKS+=("$1")
	for l in "$1" "$2"; do
		sysctl -qw "net.ipv6.conf.$l.disable_ipv6=1"
		ethtool -K "$l" gro off tx off tso off gso off >/dev/null 2>&1
		ip link set "$l" up
	done
}

# hv_ctl NAME args...: hvnetctl against instance NAME.
hv_ctl() {
	local name=$HV_ID-$1
	shift
	"$HVNETCTL" -s "/run/hvnet/$name.sock" "$@"
}

# hv_netns SHORT: create namespace $HV_ID-SHORT (with lo up); prints its name.
hv_netns() {
	local ns=$HV_ID-$1
	ip netns add "$ns" || hv_fail "ip netns add $ns"
	HV_NETNS+=("$ns")
	ip -n "$ns" link set lo up
}

# hv_guest INST PORT SEGMENT IP/PFX [port options...]: a namespace guest on a tap
# port; its interface is eth0 inside namespace $HV_ID-PORT.
hv_guest() {
	local inst=$1 port=$2 seg=$3 addr=$4
	shift 4
	hv_netns "$port"
	hv_ctl "$inst" port add "$port" tap "$seg" "netns=$HV_ID-$port" ifname=eth0 "$@" >/dev/null ||
		hv_fail "port add $port"
	ip -n "$HV_ID-$port" addr add "$addr" dev eth0 || hv_fail "addr add $addr in $port"
	ip -n "$HV_ID-$port" link set eth0 up
	# no IPv6 chatter (DAD, router solicitations) muddying the counters
	ip netns exec "$HV_ID-$port" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
}

# hv_guest_mac PORT MAC: give guest PORT's eth0 the MAC its policy file
# binds it to (port security drops frames from any other; docs/routing.md)
hv_guest_mac() {
	ip -n "$HV_ID-$1" link set eth0 address "$2" || hv_fail "set $1's MAC to $2"
}

hv_in() { # hv_in PORT cmd...: run in guest PORT's namespace
	local ns=$HV_ID-$1
	shift
	ip netns exec "$ns" "$@"
}

# hv_json INST jq-like-python-expr args...: evaluate a python expression on the
# --json result of an hvnetctl command, bound to r.
hv_json() {
	local inst=$1 expr=$2
	shift 2
	hv_ctl "$inst" --json "$@" | python3 -c "import json,sys; r=json.load(sys.stdin); print($expr)"
}

hv_mac_of() { ip -n "$HV_ID-$1" -br link show eth0 | awk '{print $3}'; }

hv_assert_eq() { # expected actual message
	[ "$1" = "$2" ] || hv_fail "$3: expected '$1', got '$2'"
}

hv_assert_ge() { # value min message
	[ "$1" -ge "$2" ] 2>/dev/null || hv_fail "$3: expected >= $2, got '$1'"
}

hv_pass() { echo "PASS: $*"; }
