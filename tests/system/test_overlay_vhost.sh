#!/bin/bash
# A vhost-user uplink: the overlay runs over a vhost-user port as over
# af_packet. The peer VTEP is a DPDK virtio-user guest (testpmd, io
# forwarding into net_pcap, so the capture holds exactly what the uplink
# delivered). A guest's broadcast pings, head-end replicated, must reach the
# peer as VXLAN with VNI 300 and outer IPv4 and UDP checksums (computed by
# hvnetd, `udp-checksum yes`) that tshark finds correct.
. "$(dirname "$0")/lib.sh"
hv_setup
command -v dpdk-testpmd >/dev/null || hv_fail "dpdk-testpmd not installed (dpdk package)"
command -v tshark >/dev/null || hv_fail "tshark not installed"

cat >"$HV_TMP/a.hvnet" <<EOF
segment app { vni 300 }
policy { allow app -> app; default block }
overlay {
	local 192.0.2.1 dev up
	peer 192.0.2.2
	udp-checksum yes
}
EOF
hv_start a --segment app --port "up:vhost-user:-:path=$HV_TMP/up.sock,mode=server" \
	--policy "$HV_TMP/a.hvnet"
hv_guest a a1 app 10.30.0.1/24
hv_ctl a vtep neigh 192.0.2.2 02:76:68:00:00:02 >/dev/null || hv_fail "vtep neigh"

# the peer: io forwarding from the virtio-user port into the capture, until
# its standard input (a fifo held open here) ends
mkfifo "$HV_TMP/peer.in"
dpdk-testpmd -l 0,1 --no-pci --no-huge -m 256 --file-prefix "$HV_ID-peer" \
	--no-telemetry --log-level=error \
	--vdev "net_virtio_user0,path=$HV_TMP/up.sock,queues=1,mac=02:76:68:00:00:02" \
	--vdev "net_pcap0,tx_pcap=$HV_TMP/ul.pcap" -- \
	--forward-mode=io --auto-start --total-num-mbufs=2048 --nb-cores=1 \
	<"$HV_TMP/peer.in" >"$HV_TMP/peer.log" 2>&1 &
peer=$!
HV_PIDS+=("$peer")
exec 7>"$HV_TMP/peer.in"
# the first vhost-user connection without hugepages takes seconds (ENVIRONMENT.md)
for _ in $(seq 150); do
	[ "$(hv_json a 'r["state"]' port show up)" = up ] && break
	sleep 0.1
done
hv_assert_eq up "$(hv_json a 'r["state"]' port show up)" "state of the uplink once the peer connected"
# a1 pings its segment's broadcast address: each echo request is replicated to the peer
hv_in a1 ping -b -c 3 -i 0.3 -W 1 10.30.0.255 >/dev/null 2>&1
sleep 0.5
exec 7>&- # testpmd reads the end, closes its ports, and net_pcap its file
wait "$peer"

n=$(hv_json a 'r["counters"]["flood_copies"]' vtep show)
hv_assert_ge "$n" 3 "broadcast echo requests replicated to the peer VTEP"
tshark -r "$HV_TMP/ul.pcap" -o udp.check_checksum:TRUE -T fields \
	-o ip.check_checksum:TRUE -e vxlan.vni -e udp.checksum.status -e icmp.type -e ip.checksum.status \
	2>"$HV_TMP/tshark.err" >"$HV_TMP/ul.txt" ||
	hv_fail "tshark: $(cat "$HV_TMP/tshark.err")"
good=$(grep -c '^300	1	8	1,1$' "$HV_TMP/ul.txt") # status 1: good, outer and inner IPv4 too
hv_assert_ge "$good" 3 "VXLAN frames (VNI 300, a1's echo requests) with correct UDP and IPv4 checksums in the peer's capture"
bad=$(grep -vc '^300	1	' "$HV_TMP/ul.txt")
hv_assert_eq 0 "$bad" "frames in the peer's capture that are not VNI 300 with a good checksum ($(head -3 "$HV_TMP/ul.txt"))"
hv_pass "the peer received $good replicated echo requests over the vhost-user uplink as VXLAN VNI 300, checksums correct"
