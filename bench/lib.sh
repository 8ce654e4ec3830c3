# Shared by bench/run.sh and bench/fw/run.sh (sourced). The caller sets DIR
# (sockets), OUT (logs), HVGEN, MEMARGS, SECS, MACS, FLOWS, SIZE, and
# optionally GEN_EXTRA (more hvgen options, e.g. --reply).

wait_sock() { for _ in $(seq 150); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

machine() {
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
}

# gen LABEL: hvgen on CPU 0 against $DIR/s0.sock and s1.sock; its JSON line
gen() {
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
