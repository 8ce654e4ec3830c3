#!/bin/bash
# make demo: a small segmented lab, end to end, from one file
# (policies/demo-lab.hvnet): `hvnetctl lab up` starts a private hvnetd, two
# segments (app and db), two namespace guests in each, all four in one IP
# subnet so that only the switch keeps them apart, and the file's policy.
# Shows who reaches whom, the MAC table, the firewall at work (allowed,
# blocked, rejected, its rules' counters, the connections, a log line) and
# the lab's graph; then `lab down` removes everything.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
HVNETCTL=$BUILD/cli/hvnetctl
LAB=demo$$
FILE=policies/demo-lab.hvnet
LOG=/tmp/hvnet-demo-fw.log
IDSLOG=/tmp/hvnet-demo-ids.txt
GUESTS="web1:app:10.0.0.11 web2:app:10.0.0.12 db1:db:10.0.0.21 db2:db:10.0.0.22"
bad=0

[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces)" >&2; exit 1; }

cleanup() {
	echo
	echo "== tearing down: hvnetctl lab down $LAB"
	"$HVNETCTL" lab down "$LAB"
	rm -f "$LOG" "$IDSLOG" /tmp/hvnet-demo-blocked.pcapng
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ctl() { "$HVNETCTL" -i "lab-$LAB" "$@"; }
gx() { # GUEST command...: run in the guest's namespace
	local g=$1
	shift
	"$HVNETCTL" lab exec "$LAB" "$g" -- "$@"
}

echo "== the lab file, $FILE"
sed 's/^/    /' "$FILE"
echo
rm -f "$LOG"
echo "== hvnetctl lab up --name $LAB $FILE"
"$HVNETCTL" lab up --name "$LAB" "$FILE" || exit 1
echo
"$HVNETCTL" lab status "$LAB"

echo
echo "== reachability: ping from row to column (the policy allows ping inside a segment)"
printf "%-6s" ""
for g in $GUESTS; do printf "%-7s" "${g%%:*}"; done
echo
for a in $GUESTS; do
	IFS=: read -r an aseg aip <<<"$a"
	printf "%-6s" "$an"
	for b in $GUESTS; do
		IFS=: read -r bn bseg bip <<<"$b"
		if [ "$an" = "$bn" ]; then printf "%-7s" "-"; continue; fi
		if gx "$an" ping -c 1 -W 1 "$bip" >/dev/null 2>&1; then r=yes; else r=no; fi
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
echo "== the firewall: web servers on 8080 in web2 and db2"
gx web2 python3 -m http.server 8080 --bind 10.0.0.12 >/dev/null 2>&1 &
gx db2 python3 -m http.server 8080 --bind 10.0.0.22 >/dev/null 2>&1 &
# the IDS guest listens on its mirror port: it sees the blocked packets only
ip netns exec "$LAB-ids" timeout 15 tcpdump -i eth0 -Q in -nn -l --immediate-mode >"$IDSLOG" 2>/dev/null &
# the servers listen before anyone calls them (python starts slowly on a busy machine)
for _ in $(seq 100); do
	[ -n "$(ip netns exec "$LAB-web2" ss -Hltn 'sport = :8080')" ] &&
		[ -n "$(ip netns exec "$LAB-db2" ss -Hltn 'sport = :8080')" ] && break
	sleep 0.1
done
sleep 1 # tcpdump's start
try() { # GUEST DESCRIPTION WANT command...
	local g=$1 what=$2 want=$3 got
	shift 3
	if gx "$g" timeout 5 "$@" >/dev/null 2>&1; then got=passes; else got=refused; fi
	printf "  %-44s %s\n" "$what" "$got"
	[ "$got" = "$want" ] || bad=1
}
try web1 "web1 -> web2 http (rule web)" passes python3 -c "import urllib.request as u; u.urlopen('http://10.0.0.12:8080/', timeout=3)"
try web2 "web2 -> web1 port 22 (default block)" refused bash -c "exec 3<>/dev/tcp/10.0.0.11/22"
try db1 "db1 -> db2 http (rule db: reject, RST)" refused python3 -c "import urllib.request as u; u.urlopen('http://10.0.0.22:8080/', timeout=3)"
echo
ctl fw show
echo
ctl ct list
sleep 0.5
echo
echo "verdict log ($(wc -l <"$LOG") lines), the first:"
head -1 "$LOG" | sed 's/^/  /'
echo
echo "== the IDS guest (mirror 'blocked': verdict blocked, to port ids-eth0): what its tcpdump saw"
sleep 1
sed 's/^/  /' "$IDSLOG" | head -5
n=$(grep -c . "$IDSLOG")
echo "  ($n packets; the same in /tmp/hvnet-demo-blocked.pcapng, each with its rule in a comment)"
[ "$n" -ge 1 ] || bad=1
ctl mirror show blocked
echo
echo "== counters"
ctl stats | sed -n '/^Stages/,/^Firewall/p'
echo
echo "== the lab as a graph (hvnetctl lab graph; --svg FILE renders it with graphviz)"
"$HVNETCTL" lab graph "$LAB" | sed 's/^/    /'
exit $bad
