#!/bin/bash
# make bench-fw: the stateful firewall under load. In one run, alternating
# round by round on the same two vhost-user ports and the same generator:
#   testpmd   dpdk-testpmd --forward-mode=io (speed of light, no state)
#   hvnetd    a policy of RULES rules (bench/fw/gen_policy.py), every packet
#             through connection tracking; FLOWS UDP flows, each answered
#             (hvgen --reply), so FLOWS established connections
#   ovs-ct    OVS-DPDK (Debian's openvswitch-switch-dpdk) with
#             ct(commit),output flows both ways: its userspace conntrack
# The generator runs on CPU 0, the switch under test on CPU 1, one switch
# alive at a time (../shared/ENVIRONMENT.md). Connection setup rate and
# memory per connection come from bench/fw/ctbench (one core, no I/O).
#
# Usage: bench/fw/run.sh [BUILD] ; env ROUNDS (3), SECONDS_PER_RUN (10),
#        RULES (10000), FLOWS (100000), MACS (1000), SIZE (64), SKIP_OVS;
#        SWITCHES (testpmd hvnetd ovs) picks and orders them; also hvnetd-l2,
#        hvnetd without a policy (the firewall stage's price, by difference),
#        and hvnetd-b, hvnetd from the build BUILD_B (an A/B of two builds)
set -uo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
GEN_EXTRA=--reply
BUILD=${1:-build-bench}
ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_PER_RUN:-10}
RULES=${RULES:-10000}
FLOWS=${FLOWS:-100000}
MACS=${MACS:-1000}
SIZE=${SIZE:-64}
OUT=bench/out/fw-$(date +%Y%m%d-%H%M%S)
DIR=/tmp/hvfwbench$$
mkdir -p "$OUT" "$DIR"
HVNETD=$BUILD/vswitch/hvnetd
HVNETCTL=$BUILD/cli/hvnetctl
HVGEN=$BUILD/bench/hvgen
MEMARGS="--no-huge -m 1024"
OVSD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
swpid=

cleanup() {
	[ -n "$swpid" ] && kill -INT "$swpid" 2>/dev/null && sleep 1 && kill -9 "$swpid" 2>/dev/null
	ovs_stop 2>/dev/null
	pkill -f "file-prefix hvb-" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

if [ -z "${SKIP_OVS:-}" ] && [ ! -x "$OVSD" ]; then
	echo "bench-fw: installing openvswitch-switch-dpdk (the OVS-DPDK peer)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		openvswitch-switch-dpdk >/dev/null || { echo "cannot install OVS-DPDK; SKIP_OVS=1 runs without it" >&2; exit 1; }
fi



tag() { # JSON-LINE SWITCH CYCLES [EXTRA-JSON]
	python3 -c "import json,sys; r=json.loads(sys.argv[1]); r['switch']=sys.argv[2]; r['cycles_per_packet']=float(sys.argv[3] or 0); r.update(json.loads(sys.argv[4])); print(json.dumps(r))" \
		"$1" "$2" "${3:-0}" "${4:-{\}}"
}


run_hvnetd() { # ROUND [CONFIG]
	local extra l=${2:+$2-}$1 # a label per configuration and round
	hvnetd_start "$l" --mem 1536 --segment bench --ct-max $((FLOWS * 2 + 65536)) \
		--port "s0:vhost-user:bench:path=$DIR/s0.sock" \
		--port "s1:vhost-user:bench:path=$DIR/s1.sock" \
		--policy "$DIR/policy.hvnet" || return 1
	r=$(gen "hvnetd-$l")
	hvctl --json ct stats >"$OUT/hvnetd-ct-$l.json"
	hvctl --json policy status >"$OUT/hvnetd-policy-$l.json"
	hvctl --json stats >"$OUT/hvnetd-fw-$l.json"
	extra=$(python3 -c "
import json
s=json.load(open('$OUT/hvnetd-fw-$l.json')); c=json.load(open('$OUT/hvnetd-ct-$l.json'))
p=json.load(open('$OUT/hvnetd-policy-$l.json'))['current']
print(json.dumps({'connections': c['connections'], 'rules': p['rules'], 'entries': p['entries'],
  'established': s['firewall']['established']}))")
	hvnetd_tag "$l" "$r" "${2:-hvnetd}" "$extra"
	hvnetd_stop
}

# the same switch without a policy: what the firewall stage costs, by difference
run_hvnetd-l2() {
	local l=l2-$1
	hvnetd_start "$l" --mem 1536 --segment bench \
		--port "s0:vhost-user:bench:path=$DIR/s0.sock" \
		--port "s1:vhost-user:bench:path=$DIR/s1.sock" || return 1
	r=$(gen "hvnetd-$l")
	hvnetd_tag "$l" "$r" hvnetd-l2
	hvnetd_stop
}

run_hvnetd-b() {
	local HVNETD=${BUILD_B:?BUILD_B names the other build}/vswitch/hvnetd
	run_hvnetd "$1" hvnetd-b
}

OVSDIR=$DIR/ovs
VSCTL="ovs-vsctl --db=unix:$OVSDIR/db.sock --timeout=30"
ovs_stop() {
	[ -d "$OVSDIR" ] || return 0
	$VSCTL --if-exists del-br br0 2>/dev/null
	[ -f "$OVSDIR/vswitchd.pid" ] && kill "$(cat "$OVSDIR/vswitchd.pid")" 2>/dev/null
	[ -f "$OVSDIR/ovsdb.pid" ] && kill "$(cat "$OVSDIR/ovsdb.pid")" 2>/dev/null
	for _ in $(seq 50); do pgrep -f "file-prefix hvb-ovs" >/dev/null || break; sleep 0.1; done
	pkill -9 -f "file-prefix hvb-ovs" 2>/dev/null
	rm -rf "$OVSDIR"
}

run_ovs() {
	ovs_stop
	mkdir -p "$OVSDIR"
	export OVS_RUNDIR=$OVSDIR OVS_LOGDIR=$OVSDIR OVS_DBDIR=$OVSDIR
	{
		ovsdb-tool create "$OVSDIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
		ovsdb-server --remote="punix:$OVSDIR/db.sock" --pidfile="$OVSDIR/ovsdb.pid" --detach \
			--log-file="$OVSDIR/ovsdb.log" "$OVSDIR/conf.db"
		$VSCTL --no-wait init
		$VSCTL --no-wait set Open_vSwitch . other_config:dpdk-init=true \
			"other_config:dpdk-extra=--no-huge --legacy-mem -m 2048 --file-prefix hvb-ovs --no-pci --no-telemetry" \
			other_config:pmd-cpu-mask=0x2 other_config:dpdk-lcore-mask=0x1
	} >>"$OUT/ovs-$1.log" 2>&1
	"$OVSD" "unix:$OVSDIR/db.sock" --pidfile="$OVSDIR/vswitchd.pid" --detach \
		--log-file="$OVSDIR/vswitchd.log" >>"$OUT/ovs-$1.log" 2>&1
	{
		$VSCTL add-br br0 -- set bridge br0 datapath_type=netdev
		$VSCTL add-port br0 s0 -- set Interface s0 type=dpdkvhostuser ofport_request=1
		$VSCTL add-port br0 s1 -- set Interface s1 type=dpdkvhostuser ofport_request=2
	} >>"$OUT/ovs-$1.log" 2>&1
	{
		ovs-ofctl del-flows br0
		ovs-ofctl add-flow br0 "table=0,priority=10,ip,in_port=1,actions=ct(commit),output:2"
		ovs-ofctl add-flow br0 "table=0,priority=10,ip,in_port=2,actions=ct(commit),output:1"
		ovs-ofctl add-flow br0 "table=0,priority=0,actions=NORMAL"
		ovs-ofctl dump-flows br0
	} >>"$OUT/ovs-$1.log" 2>&1
	wait_sock "$OVSDIR/s1" || { echo "OVS did not create its sockets" >&2; tail -20 "$OVSDIR/vswitchd.log" >&2; return 1; }
	ln -sf "$OVSDIR/s0" "$DIR/s0.sock"
	ln -sf "$OVSDIR/s1" "$DIR/s1.sock"
	sleep 1
	ctl=$(ls "$OVSDIR"/*vswitchd*.ctl | head -1)
	# OVS's first vhost connection stalls its main thread for seconds while it
	# faults in memory (no hugepages), and no rx queue is polled meanwhile: a
	# first, unmeasured connection absorbs that
	SECS=2 gen "ovs-warm-$1" >/dev/null
	sleep 2
	ovs-appctl -t "$ctl" dpif-netdev/pmd-rxq-show >>"$OUT/ovs-$1.log" 2>&1
	ovs-appctl -t "$ctl" dpif-netdev/pmd-stats-clear >>"$OUT/ovs-$1.log" 2>&1
	r=$(gen "ovs-$1")
	ovs-appctl -t "$ctl" dpif-netdev/pmd-stats-show >"$OUT/ovs-pmd-$1.txt"
	conns=$(ovs-appctl -t "$ctl" dpctl/ct-stats-show 2>/dev/null | grep -o 'Total: [0-9]*' | head -1 | cut -d' ' -f2)
	cpp=$(grep -o 'avg processing cycles per packet: [0-9.]*' "$OUT/ovs-pmd-$1.txt" | head -1 | awk '{print $NF}')
	cp "$OVSDIR/vswitchd.log" "$OUT/ovs-vswitchd-$1.log"
	rm -f "$DIR/s0.sock" "$DIR/s1.sock"
	ovs_stop
	tag "$r" ovs-ct "$cpp" "{\"connections\": \"${conns:-?}\"}"
}

python3 bench/fw/gen_policy.py "$RULES" >"$DIR/policy.hvnet"
cp "$DIR/policy.hvnet" "$OUT/policy.hvnet"
switches=${SWITCHES:-testpmd hvnetd ovs}
[ -n "${SKIP_OVS:-}" ] && [ -z "${SWITCHES:-}" ] && switches="testpmd hvnetd"
echo "bench-fw: $ROUNDS rounds x ($switches), ${SECS}s each, $RULES rules, $FLOWS flows both ways, $MACS MACs, ${SIZE}B"
machine
: >"$OUT/results.jsonl"
for i in $(seq "$ROUNDS"); do
	for sw in $switches; do
		line=$(run_$sw "$i") || exit 1
		echo "$line" >>"$OUT/results.jsonl"
		echo "$line" | python3 -c "import json,sys; r=json.load(sys.stdin); print('round $i %-8s %6.2f Mpps  loss %5.2f%%  %6.1f cycles/pkt %s' % (r['switch'], r['rx_pps']/1e6, 100*r['loss'], r['cycles_per_packet'], r.get('connections', '')))"
	done
done
python3 - "$OUT/results.jsonl" <<'PY'
import json, sys, statistics
rs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rs:
    by.setdefault(r["switch"], []).append(r)
tp, hv, ov = by.get("testpmd", []), by.get("hvnetd", []), by.get("ovs-ct", [])
print()
print("| round | testpmd io Mpps | hvnetd Mpps | OVS ct Mpps | hvnetd/testpmd | hvnetd/OVS | cyc/pkt testpmd, hvnetd, OVS | hvnetd connections | hvnetd drops |")
print("|---|---|---|---|---|---|---|---|---|")
r1, r2 = [], []
for i in range(len(hv) if tp else 0):
    t, h = tp[i], hv[i]
    o = ov[i] if i < len(ov) else None
    r1.append(h["rx_pps"] / t["rx_pps"])
    if o:
        r2.append(h["rx_pps"] / o["rx_pps"])
    print("| %d | %.2f | %.2f | %s | %.3f | %s | %.0f, %.0f, %s | %d | %s |" % (
        i + 1, t["rx_pps"] / 1e6, h["rx_pps"] / 1e6, "%.2f" % (o["rx_pps"] / 1e6) if o else "-",
        r1[-1], "%.2f" % r2[-1] if o else "-", t["cycles_per_packet"], h["cycles_per_packet"],
        "%.0f" % o["cycles_per_packet"] if o else "-", h.get("connections", 0), h.get("drops") or "none"))
print()
if r1:
    print("median hvnetd/testpmd: %.3f (min %.3f, max %.3f)" % (statistics.median(r1), min(r1), max(r1)))
if r2:
    print("median hvnetd/OVS-ct: %.2f (min %.2f, max %.2f)" % (statistics.median(r2), min(r2), max(r2)))
l2 = by.get("hvnetd-l2", [])
if l2:
    fc = [h["rx_pps"] / l["rx_pps"] for h, l in zip(hv, l2)]
    print("median hvnetd/hvnetd-l2 (the firewall stage's share): %.3f (min %.3f, max %.3f); cycles/pkt hvnetd-l2 %s" % (
        statistics.median(fc), min(fc), max(fc), " ".join("%.0f" % l["cycles_per_packet"] for l in l2)))
    if ov:
        lo = [l["rx_pps"] / o["rx_pps"] for l, o in zip(l2, ov)]
        print("median hvnetd-l2/OVS-ct (no firewall against OVS with conntrack): %.2f (min %.2f, max %.2f)" % (
            statistics.median(lo), min(lo), max(lo)))
hb = by.get("hvnetd-b", [])
if hb:
    ab = [h["rx_pps"] / b["rx_pps"] for h, b in zip(hv, hb)]
    print("median hvnetd/hvnetd-b: %.3f (min %.3f, max %.3f); cycles/pkt hvnetd %s, hvnetd-b %s" % (
        statistics.median(ab), min(ab), max(ab),
        " ".join("%.0f" % h["cycles_per_packet"] for h in hv), " ".join("%.0f" % b["cycles_per_packet"] for b in hb)))
PY
echo
echo "connection setup and memory (bench/fw/ctbench, one core):"
[ -n "${SKIP_CTBENCH:-}" ] || taskset -c 1 "$BUILD/bench/ctbench" --no-huge -m 1024 --no-pci --file-prefix hvb-ct --no-telemetry \
	--log-level=error -- "$DIR/policy.hvnet" 1000000 | tee "$OUT/ctbench.txt"
echo "raw results: $OUT/"
