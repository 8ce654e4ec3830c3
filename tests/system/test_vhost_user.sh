#!/bin/bash
# vhost-user ports in both modes, with a DPDK virtio-user guest (testpmd in
# txonly mode) on the other end: hvnetd as the vhost-user server, and as the
# client of a guest that is the server. The guest's broadcasts must reach a
# namespace guest in the same segment, and the port counters must show them.
. "$(dirname "$0")/lib.sh"
hv_setup
command -v dpdk-testpmd >/dev/null || hv_fail "dpdk-testpmd not installed (dpdk package)"

hv_start sw --segment app
hv_guest sw g1 app 10.80.0.1/24

# guest_tx NAME SOCKET [server]: a virtio-user guest sending broadcasts for
# GUEST_SECS (3) seconds
guest_tx() {
	local name=$1 sock=$2 extra=${3:+,server=1}
	sleep "${GUEST_SECS:-3}" | dpdk-testpmd -l 0,1 --no-pci --no-huge -m 256 --file-prefix "$HV_ID-$name" \
		--no-telemetry --log-level=error \
		--vdev "net_virtio_user0,path=$sock,queues=1$extra,mac=02:76:68:00:00:0${name: -1}" -- \
		--forward-mode=txonly --eth-peer=0,ff:ff:ff:ff:ff:ff --txpkts=64 --auto-start \
		--total-num-mbufs=2048 --nb-cores=1 >"$HV_TMP/$name.log" 2>&1
}

# port_state PORT STATE: poll (40 tries) until PORT's state is STATE; prints the last one seen
port_state() {
	local st
	for _ in $(seq 40); do
		st=$(hv_json sw 'r["state"]' port show "$1")
		[ "$st" = "$2" ] && break
		sleep 0.05
	done
	echo "$st"
}

hv_in g1 tcpdump -i eth0 -n -e -U -w "$HV_TMP/g1.pcap" >/dev/null 2>&1 &
cap=$!
sleep 1

# 1. hvnetd is the server: it creates the socket, the guest connects
hv_ctl sw port add v1 vhost-user app path="$HV_TMP/v1.sock" mode=server >/dev/null || hv_fail "add v1"
[ -S "$HV_TMP/v1.sock" ] || hv_fail "server mode did not create $HV_TMP/v1.sock"
# a mirror session reads every port's own MAC; a vhost-user port has no ethdev to ask
hv_ctl sw mirror add cap segment app to pcap "$HV_TMP/cap.pcapng" >/dev/null || hv_fail "mirror add"
guest_tx v1 "$HV_TMP/v1.sock"
rx1=$(hv_json sw 'r["rx_packets"]' port show v1)
hv_assert_ge "$rx1" 1000 "frames received on v1 (server mode)"
hv_pass "server mode: hvnetd created the socket; $rx1 frames from the virtio-user guest"

# 2. hvnetd is the client: the guest is the server and waits for hvnetd
guest_tx v2 "$HV_TMP/v2.sock" server &
pid=$!
for _ in $(seq 100); do [ -S "$HV_TMP/v2.sock" ] && break; sleep 0.02; done
hv_ctl sw port add v2 vhost-user app path="$HV_TMP/v2.sock" mode=client >/dev/null || hv_fail "add v2"
# the link follows the guest: up once rte_vhost has its device, down when it leaves
hv_assert_eq up "$(port_state v2 up)" "v2's state while the guest runs"
hv_assert_eq None "$(hv_json sw 'r["ethdev"]' port show v2)" "v2's ethdev (rte_vhost, no ethdev)"
wait "$pid"
rx2=$(hv_json sw 'r["rx_packets"]' port show v2)
hv_assert_ge "$rx2" 100 "frames received on v2 (client mode)"
hv_assert_eq down "$(port_state v2 down)" "v2's state after the guest exited"
hv_pass "client mode: hvnetd connected to the guest's socket; $rx2 frames; link up while the guest ran, down after"

sleep 0.5
kill $cap
wait $cap 2>/dev/null
n1=$(tcpdump -r "$HV_TMP/g1.pcap" -n -e "ether src 02:76:68:00:00:01" 2>/dev/null | wc -l)
n2=$(tcpdump -r "$HV_TMP/g1.pcap" -n -e "ether src 02:76:68:00:00:02" 2>/dev/null | wc -l)
hv_assert_ge "$n1" 100 "v1's broadcasts seen by g1"
hv_assert_ge "$n2" 100 "v2's broadcasts seen by g1"
hv_pass "g1 (tap, same segment) captured $n1 frames from v1 and $n2 from v2"

# 3. removing a port while its guest is attached detaches the guest first
GUEST_SECS=10 guest_tx v1 "$HV_TMP/v1.sock" &
pid=$!
hv_assert_eq up "$(port_state v1 up)" "v1's state with a guest again"
timeout 10 "$HVNETCTL" -s "/run/hvnet/$HV_ID-sw.sock" port del v1 >/dev/null || hv_fail "del v1 while its guest is attached"
kill -0 "$pid" 2>/dev/null || hv_fail "the guest had left before port del: the test proves nothing"
[ -e "$HV_TMP/v1.sock" ] && hv_fail "v1's socket file is still there after port del"
hv_ctl sw port del v2 >/dev/null || hv_fail "del v2"
hv_assert_eq 1 "$(hv_json sw 'len(r)' port list)" "ports left (g1)"
wait "$pid"
hv_pass "both vhost-user ports removed, v1 while its guest was sending; the socket file is gone"

bad=$(grep -c "Invalid port_id" "$HV_TMP/sw.log")
hv_assert_eq 0 "$bad" "DPDK errors about invalid ethdev ids in hvnetd's log"
hv_pass "hvnetd's log has no error about a vhost-user port's (absent) ethdev"
