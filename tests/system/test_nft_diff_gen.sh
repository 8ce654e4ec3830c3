#!/bin/bash
# The differential test on generated labs (tests/system/gen_lab.py SEED:
# two segments sharing a subnet, six guests, random allow/block/reject
# rules over segments, guests, sets, addresses and services, a random
# default): each is brought up on hvnetd and on the kernel datapath in turn,
# probed alike by nftdiff.py, and every case's verdict must agree.
# HV_GEN_SEEDS overrides the seeds (default: one, 330 cases).
. "$(dirname "$0")/lib.sh"
hv_setup
LABS=()
gen_cleanup() {
	local rc=$?
	for l in "${LABS[@]}"; do "$HVNETCTL" lab down "$l" >/dev/null 2>&1; done
	(exit $rc)
	hv_cleanup
}
trap gen_cleanup EXIT
DIFF=$HV_ROOT/tests/system/nftdiff.py
total=0

run_lab() { # NAME DATAPATH FILE OUT
	local name=$1 dp=$2 file=$3 out=$4
	LABS+=("$name")
	"$HVNETCTL" lab up --name "$name" --datapath "$dp" "$file" >"$HV_TMP/$name.up" 2>&1 ||
		{ cat "$HV_TMP/$name.up" >&2; hv_fail "lab up --datapath $dp $file"; }
	sleep 1
	/usr/bin/python3 "$DIFF" probe "$name" "$out" >"$HV_TMP/$name.probe" ||
		hv_fail "probing $name: $(cat "$HV_TMP/$name.probe")"
	/usr/bin/python3 "$DIFF" ct "$name" "$dp" "$HVNETCTL" "${out%.json}.ct.json" >/dev/null ||
		hv_fail "connections of $name ($dp)"
	"$HVNETCTL" lab down "$name" >/dev/null || hv_fail "lab down $name ($dp)"
}

for seed in ${HV_GEN_SEEDS:-4}; do
	file=$HV_TMP/gen$seed.hvnet
	/usr/bin/python3 "$HV_ROOT/tests/system/gen_lab.py" "$seed" >"$file" || hv_fail "gen_lab.py $seed"
	run_lab "$HV_ID-d" hvnetd "$file" "$HV_TMP/gen$seed.hvnetd.json"
	run_lab "$HV_ID-k" kernel "$file" "$HV_TMP/gen$seed.kernel.json"
	/usr/bin/python3 "$DIFF" compare "$HV_TMP/gen$seed.hvnetd.json" "$HV_TMP/gen$seed.kernel.json" hvnetd kernel \
		>"$HV_TMP/gen$seed.diff" || {
		cat "$file" "$HV_TMP/gen$seed.diff" >&2
		hv_fail "generated lab $seed: hvnetd and the kernel disagree"
	}
	/usr/bin/python3 "$DIFF" compare "$HV_TMP/gen$seed.hvnetd.ct.json" "$HV_TMP/gen$seed.kernel.ct.json" hvnetd kernel \
		>"$HV_TMP/gen$seed.ctdiff" || { cat "$HV_TMP/gen$seed.ctdiff" >&2; hv_fail "gen$seed: connection states differ"; }
	conns=$(tail -1 "$HV_TMP/gen$seed.ctdiff" | awk '{print $1}')
	n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$HV_TMP/gen$seed.kernel.json")
	ok=$(python3 -c 'import json,sys; print(sum(v == "delivered" for v in json.load(open(sys.argv[1])).values()))' "$HV_TMP/gen$seed.kernel.json")
	rej=$(python3 -c 'import json,sys; print(sum(v == "rejected" for v in json.load(open(sys.argv[1])).values()))' "$HV_TMP/gen$seed.kernel.json")
	total=$((total + n))
	hv_pass "generated lab $seed ($(grep -c '^	g' "$file") rules, default $(sed -n 's/^	default //p' "$file")): $n cases, the same verdicts ($ok delivered, $rej rejected) but $(tail -1 "$HV_TMP/gen$seed.diff" | sed 's/.*differ, //'); $conns connections in the same states"
done
[ "$total" -ge 300 ] || [ -n "${HV_GEN_SEEDS:-}" ] || hv_fail "only $total generated cases"
hv_pass "$total generated cases: hvnetd and the kernel agree on every one but the known differences"
