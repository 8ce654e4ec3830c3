#!/bin/bash
# make bench-route: routing between two segments through hvnetd's segment
# gateways against switching inside one segment, both through the stateful
# firewall, alternating round by round in one run on the same two
# vhost-user ports and the same generator (hvgen --l3 --reply: FLOWS UDP
# connections between MACS hosts, half on each port, each with an address of
# its own, answered both ways):
#   switched  one segment 'lab' holding both ports; policy `allow lab -> lab udp`
#   routed    segments 'a' (10.1.0.0/16, port s0) and 'b' (10.2.0.0/16, port
#             s1), each with a gateway; hosts send to their gateway's MAC and
#             hvnetd routes (TTL, checksum, MACs rewritten, the destination's
#             MAC from the neighbours it learned from the warm-up's
#             gratuitous ARPs); policy `allow a -> b udp; allow b -> a udp`
# Both policies are stateful, so the replies are established connections in
# both. The generator runs on CPU 0, hvnetd's worker on CPU 1.
#
# Usage: bench/route/run.sh [BUILD] ; env ROUNDS (11), SECONDS_PER_RUN (3),
#        FLOWS (10000), MACS (1000), SIZE (64)
set -uo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
FLOWS=${FLOWS:-10000}
bench_setup route "${1:-}"

cat >"$DIR/switched.hvnet" <<'P'
segment lab { class application; subnet 10.0.0.0/8 }
policy { allow lab -> lab udp; default block }
P
cat >"$DIR/routed.hvnet" <<'P'
segment a { class application; subnet 10.1.0.0/16; gateway 10.1.0.1 }
segment b { class infrastructure; subnet 10.2.0.0/16; gateway 10.2.0.1 }
policy { allow a -> b udp; allow b -> a udp; default block }
P
cp "$DIR"/*.hvnet "$OUT/"
COMMON=(--mem 1024 --ct-max $((FLOWS * 2 + 65536)) --neigh-port-limit "$MACS")

run_switched() {
	hvnetd_start "switched-$1" "${COMMON[@]}" --segment lab --policy "$DIR/switched.hvnet" \
		--port "s0:vhost-user:lab:path=$DIR/s0.sock" \
		--port "s1:vhost-user:lab:path=$DIR/s1.sock" || return 1
	GEN_EXTRA="--l3 --reply"
	r=$(gen "switched-$1")
	hvnetd_tag "switched-$1" "$r" switched
	hvnetd_stop
}

run_routed() {
	local gw0 gw1 extra
	hvnetd_start "routed-$1" "${COMMON[@]}" --segment a --segment b --policy "$DIR/routed.hvnet" \
		--port "s0:vhost-user:a:path=$DIR/s0.sock" \
		--port "s1:vhost-user:b:path=$DIR/s1.sock" || return 1
	gw0=$(hvctl --json route show | python3 -c "import json,sys; print([g['mac'] for g in json.load(sys.stdin)['gateways'] if g['segment']=='a'][0])")
	gw1=$(hvctl --json route show | python3 -c "import json,sys; print([g['mac'] for g in json.load(sys.stdin)['gateways'] if g['segment']=='b'][0])")
	GEN_EXTRA="--l3 --reply --gw0 $gw0 --gw1 $gw1"
	r=$(gen "routed-$1")
	hvctl --json route show >"$OUT/route-$1.json"
	hvctl --json neigh show >"$OUT/neigh-$1.json"
	extra=$(python3 -c "
import json
r = json.load(open('$OUT/route-$1.json')); n = json.load(open('$OUT/neigh-$1.json'))
print(json.dumps({'neighbours': len(n['neighbours']), 'routed': r['counters']['routed'],
  'pairs': r['pairs']}))")
	hvnetd_tag "routed-$1" "$r" routed "$extra"
	hvnetd_stop
}

echo "bench-route: $ROUNDS rounds x (switched, routed), ${SECS}s each, $FLOWS flows both ways, $MACS hosts, ${SIZE}B"
bench_rounds switched routed
echo "raw results: $OUT/"
