#!/bin/bash
# make demo: a small segmented lab, end to end. hvnetd with two segments (app
# and db), two namespace guests on tap ports in each, all four in one IP
# subnet so that only the switch keeps them apart. Shows who reaches whom,
# the MAC table and the counters, then tears everything down.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
HVNETD=$BUILD/vswitch/hvnetd
HVNETCTL=$BUILD/cli/hvnetctl
INST=demo$$
SOCK=/run/hvnet/$INST.sock
LOG=/tmp/$INST.log
GUESTS="web1:app:10.0.0.11 web2:app:10.0.0.12 db1:db:10.0.0.21 db2:db:10.0.0.22"
pid=

[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces)" >&2; exit 1; }

cleanup() {
	echo
	echo "== tearing down"
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for g in $GUESTS; do
		ip netns pids "$INST-${g%%:*}" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$INST-${g%%:*}" 2>/dev/null
	done
	rm -f "$LOG"
	echo "hvnetd stopped, namespaces removed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ctl() { "$HVNETCTL" -s "$SOCK" "$@"; }

echo "== starting hvnetd (instance $INST, adaptive polling, no hugepages needed)"
"$HVNETD" --instance "$INST" --segment app --segment db >"$LOG" 2>&1 &
pid=$!
for _ in $(seq 100); do ctl version >/dev/null 2>&1 && break; sleep 0.1; done
ctl version || { cat "$LOG"; exit 1; }

echo
echo "== four guests (network namespaces), one subnet 10.0.0.0/24, two segments"
for g in $GUESTS; do
	IFS=: read -r name seg ip <<<"$g"
	ip netns add "$INST-$name"
	ip -n "$INST-$name" link set lo up
	ip netns exec "$INST-$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ctl port add "$name" tap "$seg" netns="$INST-$name" ifname=eth0 >/dev/null || exit 1
	ip -n "$INST-$name" addr add "$ip/24" dev eth0
	ip -n "$INST-$name" link set eth0 up
	printf "  %-5s segment %-4s %s\n" "$name" "$seg" "$ip"
done
echo
ctl port list

echo
echo "== reachability (ping from row to column)"
printf "%-6s" ""
for g in $GUESTS; do printf "%-7s" "${g%%:*}"; done
echo
bad=0
for a in $GUESTS; do
	IFS=: read -r an aseg aip <<<"$a"
	printf "%-6s" "$an"
	for b in $GUESTS; do
		IFS=: read -r bn bseg bip <<<"$b"
		if [ "$an" = "$bn" ]; then printf "%-7s" "-"; continue; fi
		if ip netns exec "$INST-$an" ping -c 1 -W 1 "$bip" >/dev/null 2>&1; then r=yes; else r=no; fi
		printf "%-7s" "$r"
		want=no; [ "$aseg" = "$bseg" ] && want=yes
		[ "$r" = "$want" ] || bad=1
	done
	echo
done
if [ $bad -eq 0 ]; then
	echo "isolation holds: guests reach their own segment only"
else
	echo "UNEXPECTED: reachability does not follow the segments" >&2
fi

echo
echo "== MAC table"
ctl mac show
echo
echo "== counters"
ctl segment list
echo
ctl stats | sed -n '/^Stages/,/^MAC learning/p'
echo
echo "== the firewall: a policy for the lab, put in force while it runs"
POL=/tmp/$INST.hvnet
cat >"$POL" <<EOF
segment app { class application }    # one subnet for both: only the switch keeps them apart
segment db  { class infrastructure }
policy demo {
	log-file "/tmp/$INST-fw.log"
	web:  allow app -> app tcp/8080
	ping: allow app -> app icmp/echo-request
	db:   reject log db -> db tcp/8080
	default block log
}
EOF
sed 's/^/    /' "$POL"
ctl policy apply "$POL" || bad=1
ip netns exec "$INST-web2" python3 -m http.server 8080 --bind 10.0.0.12 >/dev/null 2>&1 &
ip netns exec "$INST-db2" python3 -m http.server 8080 --bind 10.0.0.22 >/dev/null 2>&1 &
sleep 1
try() { # GUEST DESCRIPTION WANT command...
	local g=$1 what=$2 want=$3 got
	shift 3
	if ip netns exec "$INST-$g" timeout 5 "$@" >/dev/null 2>&1; then got=passes; else got=refused; fi
	printf "  %-44s %s\n" "$what" "$got"
	[ "$got" = "$want" ] || bad=1
}
echo
try web1 "web1 -> web2 http (rule web)" passes python3 -c "import urllib.request as u; u.urlopen('http://10.0.0.12:8080/', timeout=3)"
try web1 "web1 -> web2 ping (rule ping)" passes ping -c 1 -W 1 10.0.0.12
try web2 "web2 -> web1 port 22 (default block)" refused bash -c "exec 3<>/dev/tcp/10.0.0.11/22"
try db1 "db1 -> db2 http (rule db: reject, RST)" refused python3 -c "import urllib.request as u; u.urlopen('http://10.0.0.22:8080/', timeout=3)"
try db1 "db1 -> db2 ping (default block)" refused ping -c 1 -W 1 10.0.0.22
echo
ctl fw show
echo
ctl ct list
sleep 0.5
echo
echo "verdict log ($(wc -l <"/tmp/$INST-fw.log") lines), the first:"
head -1 "/tmp/$INST-fw.log" | sed 's/^/  /'
rm -f "$POL" "/tmp/$INST-fw.log"
exit $bad
