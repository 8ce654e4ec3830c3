#!/bin/bash
# make bench-mirror: what mirroring costs forwarding. In one run, alternating
# round by round on the same two vhost-user ports and the same generator
# (hvgen: MACS hosts, FLOWS UDP flows both ways, one segment, no policy):
#   plain     hvnetd switching, no mirror session
#   mirrored  the same with one session copying every frame that enters the
#             segment (`segment lab direction in`, so each frame once) to a
#             pcapng file on tmpfs ($SHM), rotated at 256 MB, 2 files kept
# and, for the mirrored rounds, the share of selected frames that reached
# the file (written / selected) and why the others did not (queue full,
# copy failed). The generator runs on CPU 0 and hvnetd's worker on CPU 1; the
# session's writer thread runs beside the control thread, on CPU 0 with the
# generator: a 2-core machine has no third core to give it.
#
# Usage: bench/mirror/run.sh [BUILD] ; env ROUNDS (11), SECONDS_PER_RUN (3),
#        FLOWS (1000), MACS (1000), SIZE (64), SHM (/dev/shm)
set -uo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
bench_setup mirror "${1:-}"
SHM=${SHM:-/dev/shm}
CAP=$SHM/hvbench-mirror$$
mkdir -p "$CAP"
bench_cleanup_more() { rm -rf "$CAP"; }

[ "$(stat -f -c %T "$SHM")" = tmpfs ] || echo "bench-mirror: warning: $SHM is not a tmpfs" >&2

PORTS=(--mem 1024 --segment lab --port "s0:vhost-user:lab:path=$DIR/s0.sock"
	--port "s1:vhost-user:lab:path=$DIR/s1.sock")

run_plain() {
	hvnetd_start "plain-$1" "${PORTS[@]}" || return 1
	r=$(gen "plain-$1")
	hvnetd_tag "plain-$1" "$r" plain
	hvnetd_stop
}

run_mirrored() {
	local extra
	rm -f "$CAP"/*
	hvnetd_start "mirrored-$1" "${PORTS[@]}" || return 1
	hvctl mirror add all segment lab direction in to pcap "$CAP/all.pcapng" rotate 256M keep 2 \
		>>"$OUT/hvnetd-mirrored-$1.log" || { echo "mirror add failed" >&2; return 1; }
	r=$(gen "mirrored-$1")
	sleep 1 # the writer empties its queue
	hvctl --json mirror show all >"$OUT/mirror-$1.json"
	ls -l "$CAP" >>"$OUT/mirror-$1.json.files"
	extra=$(python3 -c "
import json
m = json.load(open('$OUT/mirror-$1.json'))
m = m.get('session', m)
k = m['counters']
d = m['destinations'][0]
print(json.dumps({'mirror': {'selected': k['selected'], 'copied': k['copied'],
  'copy_failed': k['copy_failed'], 'queue_full': k['queue_full'], 'written': d['written'],
  'files': d['files'], 'written_share': d['written'] / k['selected'] if k['selected'] else 0}}))")
	hvnetd_tag "mirrored-$1" "$r" mirrored "$extra"
	hvnetd_stop
}

echo "bench-mirror: $ROUNDS rounds x (plain, mirrored), ${SECS}s each, $FLOWS flows both ways, $MACS MACs, ${SIZE}B, pcapng on $SHM"
bench_rounds plain mirrored
python3 - "$OUT/results.jsonl" <<'PY'
import json, sys
for r in (json.loads(l) for l in open(sys.argv[1])):
    m = r.get("mirror")
    if m:
        print("mirrored: selected %d, copied %d, written %d (%.1f%%), queue full %d, copy failed %d, %d files" % (
            m["selected"], m["copied"], m["written"], 100 * m["written_share"], m["queue_full"],
            m["copy_failed"], m["files"]))
PY
echo "raw results: $OUT/"
