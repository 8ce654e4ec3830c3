#!/bin/bash
# hvnetd against Open vSwitch: a private OVS (userspace datapath, no kernel
# module, no DPDK) runs inside namespace ov: bridge br-phy on the underlay
# veth with the VTEP address 192.0.2.3 on its internal port, bridge br-int
# with a VXLAN port (key 300) to hvnetd and guest o1 on a veth. hvnetd's
# guest a1 and o1 ping each other both ways, and each side learns the other's
# MAC behind the other's VTEP.
. "$(dirname "$0")/lib.sh"
hv_setup
command -v ovs-vswitchd >/dev/null && command -v ovsdb-server >/dev/null ||
	{ echo "SKIP: Open vSwitch is not installed (openvswitch-switch)"; exit 77; }

hv_netns ov
hv_netns o1
ov=$HV_ID-ov
ul=${HV_ID}ul
ip link add "$ul" type veth peer name up0 netns "$ov" || hv_fail "underlay veth"
HV_LINKS+=("$ul")
sysctl -qw "net.ipv6.conf.$ul.disable_ipv6=1"
ethtool -K "$ul" gro off tx off tso off gso off >/dev/null 2>&1
ip link set "$ul" up
ip netns exec "$ov" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$HV_ID-o1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$ov" link add g0 type veth peer name eth0 netns "$HV_ID-o1" || hv_fail "guest veth"
for l in up0 g0; do
	hv_in ov ethtool -K "$l" gro off tx off tso off gso off >/dev/null 2>&1
	ip -n "$ov" link set "$l" up
done
hv_in o1 ethtool -K eth0 tx off tso off gso off >/dev/null 2>&1
hv_in o1 ip addr add 10.30.0.5/24 dev eth0
hv_in o1 ip link set eth0 up

# a private OVS: its database, sockets and logs in $HV_TMP/ovs
d=$HV_TMP/ovs
mkdir -p "$d"
export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d
ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema || hv_fail "ovsdb-tool create"
hv_in ov ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" --pidfile="$d/ovsdb.pid" \
	--detach --log-file="$d/ovsdb.log" || hv_fail "ovsdb-server"
HV_PIDS+=("$(cat "$d/ovsdb.pid")")
vsctl() { ovs-vsctl --db="unix:$d/db.sock" --timeout=10 "$@"; }
vsctl --no-wait init || hv_fail "ovs-vsctl init"
hv_in ov ovs-vswitchd "unix:$d/db.sock" --pidfile="$d/vswitchd.pid" --detach \
	--log-file="$d/vswitchd.log" || hv_fail "ovs-vswitchd"
HV_PIDS+=("$(cat "$d/vswitchd.pid")")
appctl() { ovs-appctl -t "$d/ovs-vswitchd.$(cat "$d/vswitchd.pid").ctl" "$@"; }
vsctl add-br br-phy -- set bridge br-phy datapath_type=netdev -- add-port br-phy up0 ||
	hv_fail "OVS bridge br-phy"
hv_in ov ip addr add 192.0.2.3/24 dev br-phy
hv_in ov ip link set br-phy up
vsctl add-br br-int -- set bridge br-int datapath_type=netdev -- add-port br-int g0 \
	-- add-port br-int vx0 -- set interface vx0 type=vxlan options:remote_ip=192.0.2.1 \
	options:local_ip=192.0.2.3 options:key=300 || hv_fail "OVS bridge br-int with a VXLAN port"

cat >"$HV_TMP/a.hvnet" <<EOF
segment app { vni 300 }
policy { allow app -> app; default block }
overlay {
	local 192.0.2.1 dev up
	peer 192.0.2.3
}
EOF
hv_start a --segment app --port "up:af_packet:-:iface=$ul" --policy "$HV_TMP/a.hvnet"
hv_guest a a1 app 10.30.0.1/24
# OVS's tunnel neighbour cache: told hvnetd's underlay MAC, as its docs do
appctl tnl/arp/set br-phy 192.0.2.1 "$(cat /sys/class/net/"$ul"/address)" >/dev/null ||
	hv_fail "ovs-appctl tnl/arp/set"
# and hvnetd told OVS's, statically (vtep neigh): no ARP needed either way
mac_phy=$(hv_in ov cat /sys/class/net/br-phy/address)
hv_ctl a vtep neigh 192.0.2.3 "$mac_phy" >/dev/null || hv_fail "vtep neigh"
hv_assert_eq "$mac_phy True" "$(hv_json a '"%s %s" % (r["peers"][0]["mac"], r["peers"][0]["static"])' vtep show)" \
	"static neighbour entry of 192.0.2.3"
hv_ctl a vtep neigh 192.0.2.77 "$mac_phy" 2>/dev/null && hv_fail "vtep neigh accepted a non-peer"

hv_in a1 ping -c 3 -i 0.3 -w 10 10.30.0.5 >"$HV_TMP/ping1.txt" ||
	{ cat "$HV_TMP/ping1.txt"; hv_ctl a vtep show; tail -20 "$d/vswitchd.log"; hv_fail "a1 -> OVS guest o1"; }
hv_pass "a1 on hvnetd pings o1 behind OVS's VXLAN port: $(grep -o '[0-9]* received' "$HV_TMP/ping1.txt")"
hv_in o1 ip neigh flush all
hv_in o1 ping -c 3 -i 0.3 -W 2 10.30.0.1 >"$HV_TMP/ping2.txt" ||
	{ cat "$HV_TMP/ping2.txt"; hv_fail "OVS guest o1 -> a1"; }
hv_pass "o1 behind OVS pings a1 on hvnetd: $(grep -o '[0-9]* received' "$HV_TMP/ping2.txt")"

mac_o1=$(hv_mac_of o1)
where=$(hv_json a '[e["port"] for e in r if e["mac"]=="'"$mac_o1"'"]' mac show app)
hv_assert_eq "['vtep:192.0.2.3']" "$where" "hvnetd learned o1's MAC behind VTEP 192.0.2.3"
grep -q "$(hv_mac_of a1)" <<<"$(appctl fdb/show br-int)" || hv_fail "OVS did not learn a1's MAC: $(appctl fdb/show br-int)"
hv_pass "learning: hvnetd has o1 behind vtep:192.0.2.3, OVS has a1 on its VXLAN port"
hv_assert_eq "$mac_phy" "$(hv_json a 'r["peers"][0]["mac"]' vtep show)" "the static entry after traffic"
hv_pass "static underlay neighbour 192.0.2.3 at $mac_phy (vtep neigh) held through the traffic"
