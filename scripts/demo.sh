#!/bin/bash
# make demo: the reference lab, policies/nist-800-125b.hvnet (the three
# traffic classes of NIST SP 800-125B), end to end from one file: `hvnetctl
# lab up` starts a private hvnetd, the segments mgmt, infra and app with
# their gateways, an administrator (admin1), two web servers (web1, web2), a
# database that is a QEMU virtual machine (db1, TCG without KVM) and an IDS
# guest on the mirror port, and the file's policy and mirror. Then it tries
# flows between the guests, switched and routed through the segment
# gateways, and prints for each what the policy file says (expected) and
# what the switch did (the verdict, and the rule whose counter moved in
# `hvnetctl fw show`), what the IDS guest saw on its mirror port, the graph,
# and `lab down`. It checks its own results: the exit status is 1 when a
# verdict, a rule, the IDS's capture or the teardown is not what the file
# says.
#
# scripts/demo.sh [--check] [--name NAME] [--file FILE] [--log FILE]
#   --check   quiet: the whole transcript goes to the log file (--log, else
#             /tmp/hvnet-demo-NAME.log); only what went wrong and one
#             summary line are printed (tests/system/test_demo.sh)
#   --name    the lab's name (default nist-demo)
#   --file    a variant of the lab file with the same guests and addresses
#             (the test breaks a rule in a copy and expects the check to fail)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
HVNETCTL=$BUILD/cli/hvnetctl
PROBE=$ROOT/tests/system/fwprobe.py
FILE=$ROOT/policies/nist-800-125b.hvnet
LAB=nist-demo
CHECK=0
LOGF=
PORTS="22 80 5432"

usage() {
	sed -n '/^# scripts\/demo.sh/,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--check) CHECK=1 ;;
	--name) LAB=${2:?--name NAME}; shift ;;
	--file) FILE=$(realpath "${2:?--file FILE}") || exit 2; shift ;;
	--log) LOGF=${2:?--log FILE}; shift ;;
	*) usage ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces, QEMU, hvnetd)" >&2; exit 1; }
[ -x "$HVNETCTL" ] || { echo "build first (make build): no $HVNETCTL" >&2; exit 1; }
TMP=$(mktemp -d "/tmp/hvnet-demo-$LAB.XXXXXX")
bad=0
problems=()

# --check: the transcript goes to the log, fd 3 keeps the terminal
exec 3>&1
if [ $CHECK -eq 1 ]; then
	LOGF=${LOGF:-/tmp/hvnet-demo-$LAB.log}
	exec >"$LOGF" 2>&1
elif [ -n "$LOGF" ]; then
	exec > >(tee "$LOGF") 2>&1
fi

problem() { # a result that differs from what the lab file says
	bad=1
	problems+=("$*")
	echo "UNEXPECTED: $*"
}

up=0
cleanup() {
	local rc=$?
	if [ $up -eq 1 ]; then
		echo
		echo "== tearing down: hvnetctl lab down $LAB"
		"$HVNETCTL" lab down "$LAB" || rc=1
	fi
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ctl() { "$HVNETCTL" -i "lab-$LAB" "$@"; }
gx() { # GUEST command...: run in the guest (namespace or VM)
	local g=$1
	shift
	"$HVNETCTL" lab exec "$LAB" "$g" -- "$@" </dev/null
}

if [ $CHECK -eq 0 ]; then
	echo "== the lab file, ${FILE#"$ROOT"/}"
	sed 's/^/    /' "$FILE"
	echo
fi

echo "== hvnetctl lab up --name $LAB ${FILE#"$ROOT"/}"
start=$(date +%s)
up=1
if ! "$HVNETCTL" lab up --name "$LAB" "$FILE"; then
	up=0 # lab up rolled back what it had created
	problem "lab up failed"
	[ $CHECK -eq 1 ] && { tail -20 "$LOGF" >&3; echo "demo check: FAILED: lab up failed (log: $LOGF)" >&3; }
	exit 1
fi
booted=$(($(date +%s) - start))
echo
echo "== hvnetctl lab status $LAB"
"$HVNETCTL" lab status "$LAB"
"$HVNETCTL" lab status "$LAB" --json >"$TMP/status.json" || problem "lab status --json failed"

# the guests: kind, segment and addresses, from lab status
# (lines: NAME KIND SEGMENT ADDR...)
python3 - "$TMP/status.json" >"$TMP/guests" <<'EOF' || problem "lab status --json: unreadable"
import json, sys
s = json.load(open(sys.argv[1]))
for g in s["guests"]:
    n = g["nics"][0]
    down = [x["name"] for x in g["nics"] if x["link"] != "up"]
    print(g["name"], g["kind"], n["segment"], "link-down" if down else "up",
          *[a.split("/")[0] for x in g["nics"] for a in x["addresses"]])
EOF
declare -A KIND SEG ADDR4 ADDR6
GUESTS=() # in the file's order
while read -r name kind seg link addrs; do
	GUESTS+=("$name")
	KIND[$name]=$kind
	SEG[$name]=$seg
	for a in $addrs; do
		case $a in *:*) ADDR6[$name]=${ADDR6[$name]:-$a} ;; *) ADDR4[$name]=${ADDR4[$name]:-$a} ;; esac
	done
	[ "$link" = up ] || problem "guest $name: a NIC has no link after lab up"
done <"$TMP/guests"
for g in admin1 web1 web2 db1 ids; do
	[ -n "${KIND[$g]:-}" ] || problem "the lab has no guest $g"
done

# ---- services: echo servers on tcp/22, 80, 5432 in every guest with an address ----
echo
echo "== every guest with an address answers on tcp/${PORTS// /, tcp/} (an echo server), so a"
echo "   connection that does not get through was stopped by the switch"
for g in "${GUESTS[@]}"; do
	[ -n "${ADDR4[$g]:-}${ADDR6[$g]:-}" ] || continue
	if [ "${KIND[$g]}" = qemu ]; then
		# busybox nc in the VM: -ll -e keeps listening, one cat per connection
		gx "$g" sh -c "for p in $PORTS; do setsid nc -ll -p \$p -e cat </dev/null >/dev/null 2>&1 & done" ||
			problem "$g: cannot start nc in the VM"
		for _ in $(seq 20); do
			n=$(gx "$g" netstat -ltn 2>/dev/null | grep -cE ":(${PORTS// /|}) ")
			[ "$n" -ge 3 ] && break
			sleep 0.2
		done
		[ "$n" -ge 3 ] || problem "$g: nc does not listen on every port in the VM"
		echo "  $g (qemu): busybox nc -ll -p PORT -e cat"
	else
		for a in ${ADDR4[$g]:-} ${ADDR6[$g]:-}; do
			ip netns exec "$LAB-$g" /usr/bin/python3 "$PROBE" serve "$a" $PORTS \
				>"$TMP/serve-$g-$a" 2>&1 &
			disown # lab down ends it with the namespace
		done
		echo "  $g (netns): tests/system/fwprobe.py serve" ${ADDR4[$g]:-} ${ADDR6[$g]:-}
	fi
done
for f in "$TMP"/serve-*; do
	for _ in $(seq 100); do grep -q serving "$f" && break; sleep 0.1; done
	grep -q serving "$f" || problem "an echo server did not start: ${f##*/serve-}"
done

# ---- the IDS guest listens on its mirror port ----
# (-Q in: what the switch sends it, not its own router solicitations)
ip netns exec "$LAB-ids" tcpdump -i eth0 -Q in -nn -U -w "$TMP/ids.pcap" 2>"$TMP/ids.err" &
idspid=$!
for _ in $(seq 50); do grep -q "listening on" "$TMP/ids.err" && break; sleep 0.1; done

# ---- the flows ----
# FROM TO FAMILY FLOW EXPECTED RULE IDS: TO's address of FAMILY (4 or 6);
# FLOW is tcp/PORT or ping; EXPECTED and RULE are what the lab file's policy
# says; IDS is "ids" when the file's mirror (blocked, from app or infra,
# "tcp port 5432 or icmp": IPv4 ICMP only) copies the flow to the IDS guest
FLOWS="
web1   web2   4 tcp/80   allowed app-local   -
web1   db1    4 tcp/5432 allowed app-db      -
web2   db1    4 tcp/5432 allowed app-db      -
web1   db1    6 tcp/5432 allowed app-db      -
web1   db1    4 tcp/22   blocked default     -
web1   db1    4 ping     blocked default     ids
web1   admin1 4 tcp/22   blocked app-to-mgmt -
web1   admin1 4 tcp/5432 blocked app-to-mgmt ids
web1   admin1 6 ping     blocked app-to-mgmt -
admin1 web1   4 tcp/22   allowed admin-ssh   -
admin1 db1    4 tcp/22   allowed admin-ssh   -
admin1 db1    6 ping     allowed admin-ping  -
admin1 web2   4 tcp/80   allowed mgmt-web    -
admin1 db1    4 tcp/5432 blocked default     -
db1    web1   4 tcp/22   blocked default     -
db1    admin1 4 ping     blocked default     ids
"

fw_counts() { # rule id, action and packets, one rule a line, sorted for join
	ctl fw show | awk '$2 == "allow" || $2 == "block" || $2 == "reject" { print $1, $2, $5 }' | sort
}

try_flow() { # FROM ADDR FLOW SECS: what the guest sees: echoed | refused | reset | timeout
	local g=$1 a=$2 flow=$3 t=$4 out
	if [ "$flow" = ping ]; then
		out=$(gx "$g" ping -c 1 -W "$t" "$a" 2>&1) && { echo echoed; return; }
		case $out in *nreachable* | *rohibited*) echo refused ;; *) echo timeout ;; esac
		return
	fi
	if [ "${KIND[$g]}" = qemu ]; then # busybox in the VM
		out=$(gx "$g" sh -c "echo hvnet | timeout $((t + 2)) nc -w $t $a ${flow#tcp/} 2>&1")
	else # bash's /dev/tcp starts faster than a python client on a busy machine
		out=$(gx "$g" timeout "$t" bash -c \
			'exec 3<>"/dev/tcp/$0/$1" && echo hvnet >&3 && read -r r <&3 && echo "$r"' \
			"$a" "${flow#tcp/}" 2>&1)
	fi
	case $out in hvnet*) echo echoed ;; *refused*) echo refused ;; *reset*) echo reset ;; *) echo timeout ;; esac
}

echo
echo "== flows tried, one at a time. EXPECTED: what the file says; VERDICT: what hvnetd did (the"
echo "   rule whose packet counter moved in hvnetctl fw show, and its action); GUEST: what the"
echo "   source guest saw (echoed: the echo server answered)"
fmt="%-7s %-22s %-9s %-17s %-21s %-21s %-8s %s\n"
printf "$fmt" FROM TO FLOW PATH EXPECTED VERDICT GUEST ""
nflows=0
t0=$SECONDS
mapfile -t flows < <(sed '/^$/d' <<<"$FLOWS")
for line in "${flows[@]}"; do
	read -r from to fam flow want wrule ids <<<"$line"
	nflows=$((nflows + 1))
	if [ "$fam" = 6 ]; then a=${ADDR6[$to]:-}; else a=${ADDR4[$to]:-}; fi
	if [ -z "$a" ] || [ -z "${KIND[$from]:-}" ]; then
		problem "$from -> $to: no such guest or no IPv$fam address"
		continue
	fi
	path="switched in ${SEG[$from]}"
	[ "${SEG[$from]}" = "${SEG[$to]}" ] || path="routed ${SEG[$from]}>${SEG[$to]}"
	# a flow that disagrees is tried once more with a longer wait before it
	# counts as a difference (a busy machine)
	for t in 1 3; do
		fw_counts >"$TMP/before"
		seen=$(try_flow "$from" "$a" "$flow" "$t")
		fw_counts >"$TMP/after"
		# the rules whose counters moved, and their actions
		rules=$(join "$TMP/before" "$TMP/after" | awk '$5 > $3 { printf "%s%s", (n++ ? "+" : ""), $1 }')
		actions=$(join "$TMP/before" "$TMP/after" | awk '$5 > $3 { printf "%s%s", (n++ ? "+" : ""), $2 }')
		case $actions in
		allow) got=allowed ;;
		block) got=blocked ;;
		reject) got=rejected ;;
		"") got=undecided rules=- ;;
		*) got=several ;;
		esac
		# what the guest saw must agree with the verdict
		case $got/$seen in
		allowed/echoed | blocked/timeout | rejected/refused | rejected/reset) mark=ok ;;
		*) mark="UNEXPECTED" ;;
		esac
		[ "$got" = "$want" ] && [ "$rules" = "$wrule" ] || mark="UNEXPECTED"
		[ "$mark" = ok ] && break
	done
	printf "$fmt" "$from" "$to $a" "$flow" "$path" "$want $wrule" "$got $rules" "$seen" "$mark"
	[ "$mark" = ok ] || problem "$from -> $to ($a) $flow: expected $want by $wrule, got $got by $rules; the guest saw: $seen"
	# what the IDS must see: SRC-ADDR DST-ADDR PROTO[/PORT] RULE
	if [ "$ids" = ids ]; then
		if [ "$fam" = 6 ]; then sa=${ADDR6[$from]}; else sa=${ADDR4[$from]}; fi
		p=icmp
		[ "$flow" = ping ] || p=$flow
		echo "$sa $a $p $wrule $from $to" >>"$TMP/ids.want"
	fi
done
touch "$TMP/ids.want"
echo "($nflows flows in $((SECONDS - t0)) s)"

# ---- what the IDS guest saw ----
sleep 0.5 # the last copies reach the mirror port and the pcapng writer
kill -INT "$idspid" 2>/dev/null
wait "$idspid" 2>/dev/null
echo
echo "== the IDS guest: tcpdump on its NIC, the mirror port of session ids (blocked packets"
echo "   from app and infra matching \"tcp port 5432 or icmp\"); packets per flow:"
# tcpdump -nn: "IP 10.30.0.11.40000 > 10.10.0.10.5432: Flags [S], ..." or
# "IP 10.30.0.11 > 10.20.0.21: ICMP echo request, ..."
tcpdump -nn -r "$TMP/ids.pcap" 2>/dev/null | awk '
	$2 == "IP" || $2 == "IP6" {
		src = $3; dst = $5; sub(/:$/, "", dst)
		if ($6 == "ICMP" || $6 == "ICMP6,") { p = "icmp"; if ($6 == "ICMP6,") p = "icmp6" }
		else { sub(/\.[0-9]+$/, "", src); port = dst; sub(/.*\./, "", port); sub(/\.[0-9]+$/, "", dst); p = "tcp/" port }
		print src, dst, p
		next
	}
	{ print "other", "-", "-" }' | sort | uniq -c >"$TMP/ids.seen"
name_of() { # ADDR: the guest with that address
	local g
	for g in "${GUESTS[@]}"; do
		[ "${ADDR4[$g]:-}" = "$1" ] || [ "${ADDR6[$g]:-}" = "$1" ] && { echo "$g"; return; }
	done
	echo "$1"
}
while read -r n sa da p; do
	printf "  %4d  %-8s -> %-8s %-9s (%s -> %s)\n" "$n" "$(name_of "$sa")" "$(name_of "$da")" "$p" "$sa" "$da"
done <"$TMP/ids.seen"
[ -s "$TMP/ids.seen" ] || echo "  (nothing)"
# every flow the mirror selects was seen, and nothing else
while read -r sa da p rule from to; do
	grep -q " $sa $da $p\$" "$TMP/ids.seen" || problem "the IDS did not see $from -> $to $p"
done <"$TMP/ids.want"
while read -r n sa da p; do
	grep -q "^$sa $da $p " "$TMP/ids.want" ||
		problem "the IDS saw $n packets it should not have: $sa -> $da $p"
done <"$TMP/ids.seen"

ctl --json mirror show ids >"$TMP/mirror.json" || problem "mirror show ids failed"
pcap=$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print([d["file"] for d in m["destinations"] if "file" in d][0])' "$TMP/mirror.json" 2>/dev/null)
echo
echo "== the same copies in the session's pcapng file, each with its rule (tshark, frame.comment):"
echo "   ${pcap#"$ROOT"/}"
if [ -z "$pcap" ]; then
	problem "mirror show ids: no pcapng file"
elif command -v tshark >/dev/null; then
	tshark -r "$pcap" -T fields -E separator=' ' -e ip.src -e ip.dst -e _ws.col.Protocol -e frame.comment \
		2>/dev/null | sort | uniq -c | sed 's/^/  /' | tee "$TMP/pcapng.txt"
	while read -r sa da p rule from to; do
		grep -q " $sa $da .* rule=$rule\b" "$TMP/pcapng.txt" ||
			problem "the pcapng file has no packet $from -> $to with rule=$rule"
	done <"$TMP/ids.want"
else
	echo "  (tshark is not installed: apt-get install tshark)"
fi
echo
ctl mirror show ids

echo
echo "== the firewall's rule counters and the connections it tracks"
ctl fw show
echo
ctl ct list

# ---- the graph ----
echo
echo "== the lab as a graph: hvnetctl lab graph $LAB (Graphviz DOT)"
if "$HVNETCTL" lab graph "$LAB" >"$TMP/lab.dot"; then
	sed 's/^/    /' "$TMP/lab.dot"
	grep -q '"seg:app" -> "seg:infra" \[label="app-db"' "$TMP/lab.dot" ||
		problem "lab graph: no edge app -> infra for app-db"
else
	problem "lab graph failed"
fi
if [ $CHECK -eq 0 ] && command -v dot >/dev/null; then
	svg=$BUILD/$LAB.svg
	"$HVNETCTL" lab graph "$LAB" --svg "$svg" && echo "  as SVG: ${svg#"$ROOT"/} (dot -Tsvg)"
fi

# ---- lab down: nothing left ----
echo
echo "== hvnetctl lab down $LAB"
up=0
"$HVNETCTL" lab down "$LAB" || problem "lab down failed"
left=$(ip netns list | grep -c -- "^$LAB-")
[ "$left" -eq 0 ] || problem "lab down left $left namespaces"
[ ! -e "/run/hvnet/labs/$LAB" ] || problem "lab down left /run/hvnet/labs/$LAB"
[ -z "$(pgrep -f -- "-name $LAB-")" ] || problem "lab down left a QEMU process"
took=$(($(date +%s) - start))

echo
if [ $bad -eq 0 ]; then
	msg="demo check: ok: $nflows flows as the policy says, the IDS saw $(wc -l <"$TMP/ids.want") mirrored flows, lab down left nothing (lab up ${booted}s, all ${took}s)"
else
	msg="demo check: FAILED: ${#problems[@]} unexpected results"
fi
echo "$msg"
if [ $CHECK -eq 1 ]; then
	for p in "${problems[@]}"; do echo "  $p" >&3; done
	echo "$msg" >&3
	[ $bad -eq 0 ] || echo "  the whole transcript: $LOGF" >&3
fi
exit $bad
