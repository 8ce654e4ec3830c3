#!/bin/bash
# Segment gateways with policies/nist-800-125b.hvnet, on two workers (routed
# packets are handed to the worker owning their connection): namespace guests on three
# segments reach each other only through their gateway and only where the
# policy allows it (web1 -> db1 on tcp/5432, admin1 -> anyone on tcp/22), in
# IPv4 and IPv6; replies route back; TTL expiry and addresses in no segment
# get the right ICMP from the gateway; ARP and NS for the gateway and for bound
# guests are answered by hvnetd (not flooded); a guest that forges an ARP
# reply, or takes another guest's MAC or IP, gets nothing through and is
# counted; route show / neigh show report it.
. "$(dirname "$0")/lib.sh"
hv_setup
PROBE="$HV_ROOT/tests/system/fwprobe.py"
# the reference policy, its verdict log in this test's directory
POLICY="$HV_TMP/nist.hvnet"
probe() { # probe GUEST tcp|udp HOST PORT [SECS]
	local g=$1
	shift
	hv_in "$g" /usr/bin/python3 "$PROBE" "$@"
}
expect() { # expect WANT DESCRIPTION GUEST probe-args...
	local want=$1 what=$2 got
	shift 2
	got=$(probe "$@")
	hv_assert_eq "$want" "$got" "$what"
	hv_pass "$what: $got"
}
lladdr() { awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}'; }
drops() { # drops REASON...: the sum of their counters
	hv_json sw "sum(d['count'] for d in r['drops'] if d['reason'] in '$*'.split())" stats
}

# guest PORT SEGMENT MAC IPv4 IPv6 GW4 GW6: a namespace guest with the file's
# MAC and addresses, IPv6 on, default routes via its segment's gateway
guest() {
	local port=$1 seg=$2 mac=$3 a4=$4 a6=$5 gw4=$6 gw6=$7
	hv_netns "$port"
	# a kernel name of this test's own, so that tests running side by side never clash
	hv_ctl sw port add "$port" tap "$seg" "iface=${HV_ID:0:9}-${port:0:5}" "netns=$HV_ID-$port" \
		ifname=eth0 >/dev/null ||
		hv_fail "port add $port"
	ip -n "$HV_ID-$port" link set eth0 address "$mac"
	hv_in "$port" sysctl -qw net.ipv6.conf.eth0.addr_gen_mode=0 net.ipv6.conf.eth0.accept_ra=0
	ip -n "$HV_ID-$port" addr add "$a4" dev eth0
	ip -n "$HV_ID-$port" addr add "$a6" dev eth0 nodad
	ip -n "$HV_ID-$port" link set eth0 up
	ip -n "$HV_ID-$port" route add default via "$gw4"
	ip -n "$HV_ID-$port" -6 route add default via "$gw6"
}

sed "s|^policy {|policy {\n\tlog-file \"$HV_TMP/fw.log\"|" \
	"$HV_ROOT/policies/nist-800-125b.hvnet" >"$POLICY"
hv_start sw --cpus 0,1,1 --segment mgmt --segment infra --segment app
hv_ctl sw policy apply "$POLICY" >/dev/null || hv_fail "policy apply"
guest admin1 mgmt 52:54:00:10:00:10 10.10.0.10/24 fd00:10::10/64 10.10.0.1 fd00:10::1
guest web1 app 52:54:00:30:00:11 10.30.0.11/24 fd00:30::11/64 10.30.0.1 fd00:30::1
guest web2 app 52:54:00:30:00:12 10.30.0.12/24 fd00:30::12/64 10.30.0.1 fd00:30::1
guest db1 infra 52:54:00:20:00:21 10.20.0.21/24 fd00:20::21/64 10.20.0.1 fd00:20::1
hv_in db1 /usr/bin/python3 "$PROBE" serve 10.20.0.21 5432 22 >/dev/null 2>&1 &
hv_in db1 /usr/bin/python3 "$PROBE" serve fd00:20::21 5432 22 >/dev/null 2>&1 &
hv_in web1 /usr/bin/python3 "$PROBE" serve 10.30.0.11 22 >/dev/null 2>&1 &
sleep 1

# route show: the three gateways with the derived MAC
gws=$(hv_json sw '" ".join(g["segment"]+"="+g["gateway4"]+","+g["gateway6"] for g in r["gateways"])' route show)
hv_assert_eq "mgmt=10.10.0.1,fd00:10::1 infra=10.20.0.1,fd00:20::1 app=10.30.0.1,fd00:30::1" "$gws" "route show"
gwmac=$(hv_json sw '[g["mac"] for g in r["gateways"] if g["segment"]=="app"][0]' route show)
case $gwmac in 02:68:76:*) ;; *) hv_fail "gateway MAC $gwmac is not 02:68:76:..." ;; esac
hv_pass "route show: gateways of mgmt, infra, app (app's MAC $gwmac)"

# the gateway answers ARP and NS; the guest's neighbour entry holds its MAC
hv_in web1 ping -c 1 -W 2 10.30.0.1 >/dev/null || hv_fail "web1 cannot ping its gateway"
got=$(ip -n "$HV_ID-web1" neigh show 10.30.0.1 | lladdr)
hv_assert_eq "$gwmac" "$got" "web1's ARP entry for its gateway"
hv_in web1 ping -6 -c 1 -W 2 fd00:30::1 >/dev/null || hv_fail "web1 cannot ping6 its gateway"
got=$(ip -n "$HV_ID-web1" -6 neigh show fd00:30::1 | lladdr)
hv_assert_eq "$gwmac" "$got" "web1's NDP entry for its gateway"
hv_pass "the gateway answers ARP, NS and pings with $gwmac"

# the policy decides what is routed
expect echoed "web1 -> db1 tcp/5432 through the gateways (app-db)" web1 tcp 10.20.0.21 5432
expect timeout "web1 -> db1 tcp/22 (no rule: blocked)" web1 tcp 10.20.0.21 22 1
expect echoed "admin1 -> db1 tcp/22 (admin-ssh)" admin1 tcp 10.20.0.21 22
expect echoed "admin1 -> web1 tcp/22 (admin-ssh)" admin1 tcp 10.30.0.11 22
expect timeout "db1 -> web1 tcp/22 (db1 is no administrator)" db1 tcp 10.30.0.11 22 1
if hv_in web1 ping -c 1 -W 1 10.20.0.21 >/dev/null; then hv_fail "web1 pinged db1"; fi
hv_in admin1 ping -c 2 -i 0.2 -W 2 10.20.0.21 >/dev/null || hv_fail "admin1 cannot ping db1 (admin-ping)"
hv_pass "ping: admin1 -> db1 answers (replies routed back), web1 -> db1 does not"
expect echoed "IPv6: web1 -> db1 tcp/5432 (app-db)" web1 tcp fd00:20::21 5432
expect timeout "IPv6: web1 -> db1 tcp/22 (blocked)" web1 tcp fd00:20::21 22 1
expect echoed "IPv6: admin1 -> db1 tcp/22 (admin-ssh)" admin1 tcp fd00:20::21 22
hv_in admin1 ping -6 -c 2 -i 0.2 -W 2 fd00:20::21 >/dev/null || hv_fail "IPv6 ping admin1 -> db1"
hv_pass "IPv6 ping admin1 -> db1 through the gateways"

# the connection is keyed by both segments; the pairs count routed and blocked
conn=$(hv_json sw '" ".join(c["rule"] for c in r["connections"] if c.get("dport")==5432)' \
	ct list proto=tcp host=10.20.0.21)
hv_assert_eq "app-db" "$conn" "ct list: the routed postgres connection"
read -r fwd back blocked < <(hv_json sw '"%d %d %d" % tuple(sum(p[k] for p in r["pairs"] if (p["from"], p["to"]) == (a, b)) for a, b, k in (("app", "infra", "routed"), ("infra", "app", "routed"), ("app", "infra", "blocked")))' route show)
hv_assert_ge "$fwd" 4 "routed app -> infra"
hv_assert_ge "$back" 4 "routed infra -> app (replies)"
hv_assert_ge "$blocked" 2 "blocked app -> infra"
hv_pass "route show: app->infra routed $fwd blocked $blocked, infra->app routed $back"
# `default block log`: the blocked routed connection is in the verdict log
grep -q '"rule":"default","verdict":"block".*"segment":"app".*"dst":"10.20.0.21".*"dport":22' \
	"$HV_TMP/fw.log" || hv_fail "no log line for web1 -> db1 tcp/22: $(tail -3 "$HV_TMP/fw.log")"
hv_pass "the blocked routed connection web1 -> db1 tcp/22 is logged by the default"

# TTL 1: time exceeded from the gateway; one router hop: TTL 2 arrives. The
# ICMP-error probes send two requests: on a loaded machine one error in a few
# hundred has gone missing (see the branch's report), one answer is enough here
# and the drop counters below check that every request was decided
out=$(hv_in admin1 ping -c 2 -i 0.3 -t 1 -W 2 10.20.0.21 2>&1)
echo "$out" | grep -q "From 10.10.0.1 .*Time to live exceeded" || hv_fail "TTL 1: $out"
hv_in admin1 ping -c 1 -t 2 -W 2 10.20.0.21 >/dev/null || hv_fail "TTL 2 does not reach db1"
out=$(hv_in admin1 ping -6 -c 2 -i 0.3 -t 1 -W 2 fd00:20::21 2>&1)
echo "$out" | grep -q "From fd00:10::1 .*Time exceeded" || hv_fail "hop limit 1: $out"
hv_pass "TTL/hop limit 1: time exceeded from the gateway; TTL 2 reaches db1 (one hop)"
hv_assert_ge "$(drops gw_ttl_exceeded)" 4 "gw_ttl_exceeded drops (every TTL-1 request)"

# an address in no segment: unreachable from the gateway
out=$(hv_in admin1 ping -c 2 -i 0.3 -W 2 10.99.0.1 2>&1)
echo "$out" | grep -q "From 10.10.0.1 .*Unreachable" || hv_fail "10.99.0.1: $out"
out=$(hv_in admin1 ping -6 -c 2 -i 0.3 -W 2 fd00:99::1 2>&1)
echo "$out" | grep -q "From fd00:10::1 .*[Uu]nreachable" || hv_fail "fd00:99::1: $out"
hv_assert_ge "$(drops gw_no_route)" 4 "gw_no_route drops (every request)"
hv_pass "no segment: ICMP/ICMPv6 unreachable from the gateway"
# an address of a segment that no guest answers: the gateway asks (ARP/NS),
# holds the packet, then answers host / address unreachable
out=$(hv_in admin1 ping -c 1 -W 3 10.20.0.99 2>&1)
echo "$out" | grep -q "From 10.10.0.1 .*Host Unreachable" || hv_fail "10.20.0.99: $out"
out=$(hv_in admin1 ping -6 -c 1 -W 3 fd00:20::99 2>&1)
echo "$out" | grep -q "From fd00:10::1 .*[Aa]ddress unreachable" || hv_fail "fd00:20::99: $out"
hv_assert_ge "$(drops gw_no_neigh)" 2 "gw_no_neigh drops"
hv_assert_ge "$(hv_json sw 'r["counters"]["solicits"]' route show)" 2 "ARP/NS sent by the gateways"
hv_pass "no guest answers: the gateway asked, then sent host/address unreachable"

# ARP suppression: hvnetd answers for bound web2; web2 never sees the request
ip netns exec "$HV_ID-web2" timeout 2 tcpdump -l -n -i eth0 arp >"$HV_TMP/web2.arp" 2>/dev/null &
sleep 0.5
hv_in web1 ip neigh flush dev eth0
before=$(hv_json sw 'r["counters"]["arp_suppressed"]' route show)
hv_in web1 ping -c 1 -W 2 10.30.0.12 >/dev/null || hv_fail "web1 -> web2 in one segment"
got=$(ip -n "$HV_ID-web1" neigh show 10.30.0.12 | lladdr)
hv_assert_eq 52:54:00:30:00:12 "$got" "web1's ARP entry for web2"
after=$(hv_json sw 'r["counters"]["arp_suppressed"]' route show)
hv_assert_ge "$((after - before))" 1 "ARP requests answered for bound guests"
wait $! 2>/dev/null
if grep -q "who-has 10.30.0.12" "$HV_TMP/web2.arp"; then hv_fail "web2 saw the ARP request: $(cat "$HV_TMP/web2.arp")"; fi
hv_pass "ARP for web2 answered by hvnetd, not flooded to web2"

# spoofing: a forged ARP reply, another guest's IP, another guest's MAC
before=$(drops portsec_arp)
# three gratuitous ARP replies from web2 (its own MAC) claiming web1's address
hv_in web2 /usr/bin/python3 -c '
import socket
mac = bytes.fromhex("525400300012")
arp = bytes.fromhex("0001080006040002") + mac + bytes([10, 30, 0, 11]) + b"\xff" * 6 + bytes([10, 30, 0, 11])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for _ in range(3):
    s.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
'
hv_assert_ge "$(($(drops portsec_arp) - before))" 3 "forged ARP replies dropped"
hv_pass "a forged ARP reply for web1's address is dropped and counted"
before=$(drops portsec_ip portsec_arp)
readdr() { # readdr OLD NEW: web2 takes another IPv4 address
	ip -n "$HV_ID-web2" addr del "$1/24" dev eth0
	ip -n "$HV_ID-web2" addr add "$2/24" dev eth0
	ip -n "$HV_ID-web2" route replace default via 10.30.0.1
}
readdr 10.30.0.12 10.30.0.11
expect timeout "web2 with web1's address gets nothing through" web2 tcp 10.20.0.21 5432 1
# its ARP for the gateway (sender web1's address) or its packets: counted
hv_assert_ge "$(($(drops portsec_ip portsec_arp) - before))" 1 "portsec_ip/arp drops"
readdr 10.30.0.11 10.30.0.12
before=$(drops portsec_mac)
ip -n "$HV_ID-web2" link set eth0 address 52:54:00:30:00:11
if hv_in web2 ping -c 2 -i 0.2 -W 1 10.30.0.11 >/dev/null; then hv_fail "web2 with web1's MAC pinged"; fi
hv_assert_ge "$(($(drops portsec_mac) - before))" 1 "portsec_mac drops"
port=$(hv_json sw '" ".join(m["port"] for m in r if m["mac"]=="52:54:00:30:00:11")' mac show app)
[ "$port" = "" ] || [ "$port" = "web1" ] || hv_fail "web1's MAC learned on $port"
hv_pass "web2 taking web1's IP or MAC: nothing through, counted, MAC table untouched"

# router advertisements (the file asks for them in app): a guest that takes
# them learns its default router, the gateway's link-local address
hv_netns ra1
hv_ctl sw port add ra1 tap app "iface=${HV_ID:0:9}-ra1" "netns=$HV_ID-ra1" ifname=eth0 >/dev/null ||
	hv_fail "port add ra1"
hv_in ra1 sysctl -qw net.ipv6.conf.eth0.accept_ra=2 net.ipv6.conf.eth0.addr_gen_mode=0
ip -n "$HV_ID-ra1" link set eth0 up
for _ in $(seq 50); do
	route=$(ip -n "$HV_ID-ra1" -6 route show default)
	[ -n "$route" ] && break
	sleep 0.1
done
gwll=$(/usr/bin/python3 -c 'import sys; m = [int(x, 16) for x in sys.argv[1].split(":")]; m[0] ^= 2; print("fe80::%x:%x:%x:%x" % (m[0] << 8 | m[1], m[2] << 8 | 0xff, 0xfe00 | m[3], m[4] << 8 | m[5]))' "$gwmac")
echo "$route" | grep -q "via $gwll dev eth0 proto ra" || hv_fail "ra1's default route: '$route' (want via $gwll)"
ip -n "$HV_ID-ra1" -6 route show fd00:30::/64 | grep -q "dev eth0 .*expires" || hv_fail "ra1 has no on-link route for fd00:30::/64"
hv_assert_ge "$(hv_json sw 'r["counters"]["ra_sent"]' route show)" 1 "router advertisements sent"
hv_pass "router advertisements: ra1's default route is via $gwll, fd00:30::/64 on-link"

# learn and lock: m2 is in no guest of the file; port-security=lock locks the
# MAC and address it sends from first, and drops what it sends from another
hv_netns m2
hv_ctl sw port add m2 tap mgmt "iface=${HV_ID:0:9}-m2" "netns=$HV_ID-m2" ifname=eth0 \
	port-security=lock >/dev/null || hv_fail "port add m2"
hv_in m2 sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$HV_ID-m2" addr add 10.10.0.20/24 dev eth0
ip -n "$HV_ID-m2" link set eth0 up
m2mac=$(hv_mac_of m2)
hv_in admin1 ping -c 1 -W 2 10.10.0.20 >/dev/null || hv_fail "admin1 -> m2 before the lock"
got=$(hv_json sw '" ".join(p["mode"]+"/"+p["mac"]+"/"+",".join(p["addresses"]) for p in r["port_security"] if p["port"]=="m2")' route show)
hv_assert_eq "lock/$m2mac/10.10.0.20" "$got" "route show: m2's lock"
before=$(drops portsec_ip portsec_arp)
ip -n "$HV_ID-m2" addr del 10.10.0.20/24 dev eth0
ip -n "$HV_ID-m2" addr add 10.10.0.21/24 dev eth0
if hv_in admin1 ping -c 1 -W 1 10.10.0.21 >/dev/null; then hv_fail "m2 answered from another address"; fi
hv_assert_ge "$(($(drops portsec_ip portsec_arp) - before))" 1 "m2's drops after the lock"
hv_pass "learn and lock: m2 locked to $m2mac/10.10.0.20, another address gets nothing through"

# neigh show: declared bindings and what the gateways learned
n=$(hv_json sw 'sum(1 for n in r["neighbours"] if n["origin"]=="declared" and n["address"]=="10.20.0.21" and n["port"]=="db1")' neigh show infra)
hv_assert_eq 1 "$n" "neigh show: db1 declared"
n=$(hv_json sw 'sum(1 for n in r["neighbours"] if n["origin"]=="learned" and n["mac"]=="52:54:00:10:00:10")' neigh show mgmt)
hv_assert_ge "$n" 1 "neigh show: admin1 learned"
hv_ctl sw route show | grep -q "^app .*infra" || hv_fail "route show table: $(hv_ctl sw route show)"
hv_pass "neigh show and route show"

# without a policy there are no gateways: nothing is routed
hv_ctl sw policy clear >/dev/null || hv_fail "policy clear"
expect timeout "no policy: web1 -> db1 tcp/5432 is not routed" web1 tcp 10.20.0.21 5432 1
hv_pass "gateway test done"
