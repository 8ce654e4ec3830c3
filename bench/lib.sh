# Shared by bench/run.sh and bench/fw/run.sh (sourced). The caller sets DIR
# (sockets), OUT (logs), HVGEN, MEMARGS, SECS, MACS, FLOWS, SIZE, and
# optionally GEN_EXTRA (more hvgen options, e.g. --reply).

wait_sock() { for _ in $(seq 150); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

machine() {
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
}

# gen LABEL: hvgen on CPU 0 against $DIR/s0.sock and s1.sock; its JSON line.
# With PERF=1, `perf record` samples hvnetd ($swpid) or else CPU 1 meanwhile, into
# $OUT/perf-LABEL.data (perf report -i FILE)
gen() {
	local who="-C 1"
	[ -n "${swpid:-}" ] && who="-p $swpid"
	[ -n "${PERF:-}" ] && (sleep 1.5 && perf record -q $who -o "$OUT/perf-$1.data" -- sleep "$(python3 -c "print(max(1, $SECS - 2))")" >/dev/null 2>&1) &
	taskset -c 0 "$HVGEN" -l 0 --no-pci $MEMARGS --file-prefix hvb-gen --no-telemetry \
		--log-level=error -- --sock0 "$DIR/s0.sock" --sock1 "$DIR/s1.sock" \
		--seconds "$SECS" --macs "$MACS" --flows "$FLOWS" --size "$SIZE" ${GEN_EXTRA:-} \
		--json 2>>"$OUT/$1.log" | tail -1
}

# run_testpmd ROUND: testpmd io on CPU 1 between the two sockets; the
# generator's JSON line with switch and cycles_per_packet added
run_testpmd() {
	local r cpp

	rm -f "$DIR"/s*.sock
	(tail -f /dev/null | dpdk-testpmd -l 0,1 --no-pci $MEMARGS --file-prefix hvb-tp --no-telemetry \
		--vdev "net_vhost0,iface=$DIR/s0.sock,queues=1" \
		--vdev "net_vhost1,iface=$DIR/s1.sock,queues=1" -- \
		--forward-mode=io --auto-start --nb-cores=1 --total-num-mbufs=16384 \
		--record-core-cycles >"$OUT/testpmd-$1.log" 2>&1) &
	wait_sock "$DIR/s1.sock" || { echo "testpmd did not start" >&2; return 1; }
	sleep 1
	r=$(gen "testpmd-$1")
	pkill -INT -f "file-prefix hvb-tp"
	for _ in $(seq 50); do pgrep -f "file-prefix hvb-tp" >/dev/null || break; sleep 0.1; done
	cpp=$(grep -o 'CPU cycles/packet=[0-9.]*' "$OUT/testpmd-$1.log" | tail -1 | cut -d= -f2)
	echo "$r" | python3 -c "import json,sys; r=json.load(sys.stdin); r['switch']='testpmd'; r['cycles_per_packet']=float('${cpp:-0}' or 0); print(json.dumps(r))"
}

hvctl() { "$HVNETCTL" -s "$DIR/ctl.sock" "$@"; }

# hvnetd_start LABEL ARGS...: hvnetd with its control thread on CPU 0 and one
# busy-polling worker on CPU 1, its log in $OUT/hvnetd-LABEL.log; returns
# once the socket of the port s1 exists and hvnetd says it is ready, counters
# cleared. ARGS name the segments, the ports (on $DIR/s0.sock and
# $DIR/s1.sock) and whatever else the configuration needs.
hvnetd_start() {
	local label=$1
	shift
	rm -f "$DIR"/s*.sock
	"$HVNETD" --instance hvb-sw --socket "$DIR/ctl.sock" --cpus 0,1 --poll busy \
		--hugepages "${HUGE:-no}" "$@" >"$OUT/hvnetd-$label.log" 2>&1 &
	swpid=$!
	wait_sock "$DIR/s1.sock" || { echo "hvnetd did not start" >&2; cat "$OUT/hvnetd-$label.log" >&2; return 1; }
	for _ in $(seq 100); do grep -q "ready" "$OUT/hvnetd-$label.log" && break; sleep 0.1; done
	hvctl stats clear >/dev/null
}

hvnetd_stop() {
	[ -n "$swpid" ] || return 0
	kill -INT "$swpid"
	wait "$swpid" 2>/dev/null
	swpid=
}

# hvnetd_tag LABEL GEN-LINE CONFIG [EXTRA-JSON]: the generator's JSON line
# with switch=CONFIG and hvnetd's own figures from `hvnetctl --json stats`
# (cycles per packet of its worker, drops by reason, frames flooded), saved
# as $OUT/hvnetd-stats-LABEL.json; call before hvnetd_stop
hvnetd_tag() {
	hvctl --json stats >"$OUT/hvnetd-stats-$1.json"
	python3 -c "
import json, sys
r = json.loads(sys.argv[1]); s = json.load(open(sys.argv[2]))
r['switch'] = sys.argv[3]
r['cycles_per_packet'] = s['lcores'][0]['cycles_per_packet']
r['drops'] = {d['reason']: d['count'] for d in s['drops'] if d['count']}
r['flooded'] = sum(g['flooded'] for g in s['segments'])
r.update(json.loads(sys.argv[4]))
print(json.dumps(r))" "$2" "$OUT/hvnetd-stats-$1.json" "$3" "${4:-{\}}"
}

# print_round ROUND JSON-LINE: one line of progress
print_round() {
	echo "$2" | python3 -c "import json,sys; r=json.load(sys.stdin); print('round $1 %-10s %6.2f Mpps  loss %5.2f%%  %6.1f cycles/pkt  unexpected %d  drops %s' % (r['switch'], r['rx_pps']/1e6, 100*r['loss'], r['cycles_per_packet'], r.get('rx_unexpected', 0), r.get('drops') or 'none'))"
}

# bench_setup NAME [BUILD]: what every hvnetd benchmark starts with: the knobs
# from the environment (ROUNDS, SECONDS_PER_RUN as SECS, FLOWS, MACS, SIZE;
# a script sets its own defaults first), OUT and DIR, the binaries, and a
# cleanup on exit that stops hvnetd, the DPDK processes, and calls
# bench_cleanup_more when the script defines it
bench_setup() {
	BUILD=${2:-build-bench}
	ROUNDS=${ROUNDS:-11}
	SECS=${SECONDS_PER_RUN:-3}
	FLOWS=${FLOWS:-1000}
	MACS=${MACS:-1000}
	SIZE=${SIZE:-64}
	OUT=bench/out/$1-$(date +%Y%m%d-%H%M%S)
	DIR=/tmp/hvbench-$1-$$
	mkdir -p "$OUT" "$DIR"
	HVNETD=$BUILD/vswitch/hvnetd
	HVNETCTL=$BUILD/cli/hvnetctl
	HVGEN=$BUILD/bench/hvgen
	MEMARGS="--no-huge -m 1024"
	swpid=
	trap bench_cleanup EXIT
}

bench_cleanup() {
	[ -n "$swpid" ] && kill -INT "$swpid" 2>/dev/null && sleep 1 && kill -9 "$swpid" 2>/dev/null
	pkill -f "file-prefix hvb-" 2>/dev/null
	declare -F bench_cleanup_more >/dev/null && bench_cleanup_more
	rm -rf "$DIR"
}

# bench_rounds CONFIG...: ROUNDS rounds, each running run_CONFIG ROUND for
# every CONFIG in turn, their JSON lines in $OUT/results.jsonl; then the
# table of bench/summary.py with the first CONFIG as the baseline
bench_rounds() {
	local i cfg line
	machine
	: >"$OUT/results.jsonl"
	for i in $(seq "$ROUNDS"); do
		for cfg in "$@"; do
			line=$(run_$cfg "$i") || exit 1
			echo "$line" >>"$OUT/results.jsonl"
			print_round "$i" "$line"
		done
	done
	echo
	python3 bench/summary.py "$OUT/results.jsonl" "$@"
}
