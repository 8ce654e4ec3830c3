#!/bin/bash
# make bench: hvnetd against dpdk-testpmd --forward-mode=io on the same two
# vhost-user ports, alternating in one run, driven by hvgen. The generator
# runs on CPU 0 and the switch under test on CPU 1 (ENVIRONMENT.md: exactly
# two busy threads on a 2-core machine); only one switch is alive at a time.
#
# Usage: bench/run.sh [BUILD] ; env ROUNDS (3), SECONDS_PER_RUN (10), MACS (1000),
#        FLOWS (1000), SIZE (64), HUGE (no|yes)
set -uo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BUILD=${1:-build-bench}
ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_PER_RUN:-10}
MACS=${MACS:-1000}
FLOWS=${FLOWS:-1000}
SIZE=${SIZE:-64}
HUGE=${HUGE:-no}
OUT=bench/out/$(date +%Y%m%d-%H%M%S)
DIR=/tmp/hvbench$$
mkdir -p "$OUT" "$DIR"
HVNETD=$BUILD/vswitch/hvnetd
HVNETCTL=$BUILD/cli/hvnetctl
HVGEN=$BUILD/bench/hvgen
MEMARGS="--no-huge -m 1024"
[ "$HUGE" = yes ] && MEMARGS="-m 1024"
swpid=

cleanup() {
	[ -n "$swpid" ] && kill -INT "$swpid" 2>/dev/null && sleep 1 && kill -9 "$swpid" 2>/dev/null
	pkill -f "file-prefix hvb-" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT




run_hvnetd() {
	local extra
	hvnetd_start "$1" --mem 1024 --segment bench \
		--port "s0:vhost-user:bench:path=$DIR/s0.sock" \
		--port "s1:vhost-user:bench:path=$DIR/s1.sock" || return 1
	r=$(gen "hvnetd-$1")
	extra=$(hvctl --json stats | python3 -c "import json,sys; print(json.dumps({'macs_learned': json.load(sys.stdin)['mac_learn']['entries']}))")
	hvnetd_tag "$1" "$r" hvnetd "$extra"
	hvnetd_stop
}

echo "bench: $ROUNDS rounds x (testpmd io, hvnetd busy), ${SECS}s each, $MACS MACs, $FLOWS flows, ${SIZE}B, hugepages=$HUGE"
machine
: >"$OUT/results.jsonl"
for i in $(seq "$ROUNDS"); do
	for sw in testpmd hvnetd; do
		line=$(run_$sw "$i") || exit 1
		echo "$line" >>"$OUT/results.jsonl"
		echo "$line" | python3 -c "import json,sys; r=json.load(sys.stdin); print('round $i %-8s %6.2f Mpps  loss %5.2f%%  %6.1f cycles/pkt' % (r['switch'], r['rx_pps']/1e6, 100*r['loss'], r['cycles_per_packet']))"
	done
done
python3 - "$OUT/results.jsonl" <<'PY'
import json, sys, statistics
rs = [json.loads(l) for l in open(sys.argv[1])]
tp = [r["rx_pps"] for r in rs if r["switch"] == "testpmd"]
hv = [r["rx_pps"] for r in rs if r["switch"] == "hvnetd"]
ratios = [h / t for h, t in zip(hv, tp)]
hvr = [r for r in rs if r["switch"] == "hvnetd"]
print()
print("| round | testpmd io Mpps | hvnetd Mpps | hvnetd/testpmd | testpmd cyc/pkt | hvnetd cyc/pkt | MACs learned | hvnetd drops |")
print("|---|---|---|---|---|---|---|---|")
for i, (t, h) in enumerate(zip([r for r in rs if r["switch"] == "testpmd"], hvr), 1):
    print("| %d | %.2f | %.2f | %.3f | %.0f | %.0f | %d | %s |" % (
        i, t["rx_pps"] / 1e6, h["rx_pps"] / 1e6, h["rx_pps"] / t["rx_pps"],
        t["cycles_per_packet"], h["cycles_per_packet"], h["macs_learned"], h["drops"] or "none"))
print()
print("median ratio hvnetd/testpmd: %.3f (min %.3f, max %.3f)" % (
    statistics.median(ratios), min(ratios), max(ratios)))
PY
echo "raw results: $OUT/results.jsonl"
