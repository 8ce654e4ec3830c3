#!/bin/bash
# make bench-overlay: the VXLAN path against local switching. In one run,
# alternating round by round on the same two vhost-user ports and the same
# generator (hvgen: MACS hosts, FLOWS UDP flows both ways):
#   local     segment 'lab' (VNI 300) holding both ports: plain switching
#   local-fw  the same with the policy `allow lab -> lab udp` in force: the
#             overlay comes with a policy file (its `overlay` block), so
#             its traffic always crosses the firewall, and this is the
#             baseline that differs from it only in the overlay
#   overlay   the same policy and an `overlay` block; port s0 in 'lab', port s1 the uplink of VTEP 192.0.2.1 with one
#             peer, 192.0.2.2, played by the generator (hvgen --vxlan): what
#             the generator sends on s1 is VXLAN, which hvnetd decapsulates
#             and switches to s0; what it sends on s0 hvnetd switches to the
#             hosts it learned behind the peer and encapsulates (outer UDP
#             source port from the flow hash, UDP checksum 0, DF, TTL 64)
# with hvgen --reply, so the firewall sees one connection per flow, both
# ways, in local-fw and overlay. Every overlay round runs encapsulation one way and decapsulation the
# other, on hvnetd's one worker. Frame sizes are the inner frames' (SIZE);
# on the underlay each carries 50 bytes more. The peer's underlay MAC is a
# static entry (`hvnetctl vtep neigh`), as the generator answers no ARP.
# The generator runs on CPU 0, hvnetd's worker on CPU 1.
#
# Usage: bench/overlay/run.sh [BUILD] ; env ROUNDS (11), SECONDS_PER_RUN (3),
#        FLOWS (1000), MACS (1000), SIZE (64), CONFIGS (local local-fw overlay
#        overlay-csum; overlay-csum computes the outer UDP checksum, which
#        RFC 7348 says should be 0 and the default overlay sends as 0;
#        overlay-b is the overlay with hvnetd of the build BUILD_B, for an A/B)
set -uo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_setup overlay "${1:-}"
GEN_VTEP_MAC=02:68:ff:00:00:02 # hvgen's, host_mac(0xff, 2)

cat >"$DIR/overlay.hvnet" <<'P'
segment lab { class application; vni 300 }
policy { allow lab -> lab udp; default block }
overlay {
	local 192.0.2.1 dev s1
	peer 192.0.2.2
}
P
grep -v '^overlay\|^	\|^}' "$DIR/overlay.hvnet" >"$DIR/local.hvnet"
# overlay-csum: the same with the outer UDP checksum computed (`udp-checksum yes`)
sed 's/^	peer .*/&\n	udp-checksum yes/' "$DIR/overlay.hvnet" >"$DIR/overlay-csum.hvnet"
cp "$DIR"/*.hvnet "$OUT/"

run_local() { # ROUND [-fw: with the policy]
	set -- "$1" "${2:-}"
	hvnetd_start "local$2-$1" --mem 1024 --segment lab ${2:+--policy "$DIR/local.hvnet"} \
		--port "s0:vhost-user:lab:path=$DIR/s0.sock" \
		--port "s1:vhost-user:lab:path=$DIR/s1.sock" || return 1
	GEN_EXTRA=--reply
	r=$(gen "local$2-$1")
	hvnetd_tag "local$2-$1" "$r" "local$2"
	hvnetd_stop
}

run_local-fw() { run_local "$1" -fw; }

run_overlay() { # ROUND [CONFIG]
	local upmac extra cfg=${2:-overlay}
	set -- "$1"
	local pol=$DIR/overlay.hvnet
	[ "$cfg" = overlay-csum ] && pol=$DIR/overlay-csum.hvnet
	hvnetd_start "$cfg-$1" --mem 1024 --segment lab --policy "$pol" \
		--port "s0:vhost-user:lab:path=$DIR/s0.sock" \
		--port "s1:vhost-user:-:path=$DIR/s1.sock" || return 1
	hvctl vtep neigh 192.0.2.2 "$GEN_VTEP_MAC" >/dev/null || { echo "vtep neigh failed" >&2; return 1; }
	upmac=$(hvctl --json port show s1 | python3 -c "import json,sys; print(json.load(sys.stdin)['mac'])")
	GEN_EXTRA="--reply --vxlan 300 --vtep-mac $upmac"
	r=$(gen "$cfg-$1")
	hvctl --json vtep show >"$OUT/vtep-$cfg-$1.json"
	extra=$(python3 -c "
import json
v = json.load(open('$OUT/vtep-$cfg-$1.json'))
p = v['peers'][0]
print(json.dumps({'vtep': {'counters': v['counters'], 'peer_rx': p['rx_packets'], 'peer_tx': p['tx_packets'],
  'peer_macs': p['macs'], 'drops': {k: n for k, n in v['drops'].items() if n}}}))")
	hvnetd_tag "$cfg-$1" "$r" "$cfg" "$extra"
	hvnetd_stop
}

run_overlay-csum() { run_overlay "$1" overlay-csum; }

# overlay-b: the overlay with hvnetd of the build BUILD_B, for an A/B of two builds
run_overlay-b() {
	local HVNETD=${BUILD_B:?BUILD_B names the other build}/vswitch/hvnetd
	run_overlay "$1" overlay-b
}

configs=${CONFIGS:-local local-fw overlay overlay-csum}
echo "bench-overlay: $ROUNDS rounds x ($configs), ${SECS}s each, $FLOWS flows both ways, $MACS MACs, ${SIZE}B inner frames"
bench_rounds $configs
echo
case " $configs " in *" local-fw "*"overlay "*) python3 bench/summary.py "$OUT/results.jsonl" local-fw overlay ;; esac
echo "raw results: $OUT/"
