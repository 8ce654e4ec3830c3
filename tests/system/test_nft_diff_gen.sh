#!/bin/bash
# The differential test on generated labs (tests/system/gen_lab.py SEED:
# two segments sharing a subnet, six guests, random allow/block/reject
# rules over segments, guests, sets, addresses and services, a random
# default): each is brought up on hvnetd and on the kernel datapath in turn,
# probed alike by nftdiff.py, and every case's verdict must agree, and so
# must the rule that logged it (or that none did).
# HV_GEN_SEEDS overrides the seeds (default: one, 330 cases).
. "$(dirname "$0")/nftdiff_lib.sh"
total=0

for seed in ${HV_GEN_SEEDS:-4}; do
	file=$HV_TMP/gen$seed.hvnet
	/usr/bin/python3 "$HV_ROOT/tests/system/gen_lab.py" "$seed" >"$file" || hv_fail "gen_lab.py $seed"
	run_lab_down "$HV_ID-d" hvnetd "$file" "$HV_TMP/gen$seed.hvnetd.json"
	run_lab_down "$HV_ID-k" kernel "$file" "$HV_TMP/gen$seed.kernel.json"
	/usr/bin/python3 "$DIFF" compare "$HV_TMP/gen$seed.hvnetd.json" "$HV_TMP/gen$seed.kernel.json" hvnetd kernel \
		>"$HV_TMP/gen$seed.diff" || {
		cat "$file" "$HV_TMP/gen$seed.diff" >&2
		hv_fail "generated lab $seed: hvnetd and the kernel disagree"
	}
	/usr/bin/python3 "$DIFF" compare "$HV_TMP/gen$seed.hvnetd.ct.json" "$HV_TMP/gen$seed.kernel.ct.json" hvnetd kernel \
		>"$HV_TMP/gen$seed.ctdiff" || { cat "$HV_TMP/gen$seed.ctdiff" >&2; hv_fail "gen$seed: connection states differ"; }
	compare_logs "gen$seed"
	conns=$(tail -1 "$HV_TMP/gen$seed.ctdiff" | awk '{print $1}')
	n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$HV_TMP/gen$seed.kernel.json")
	ok=$(python3 -c 'import json,sys; print(sum(v == "delivered" for v in json.load(open(sys.argv[1])).values()))' "$HV_TMP/gen$seed.kernel.json")
	rej=$(python3 -c 'import json,sys; print(sum(v == "rejected" for v in json.load(open(sys.argv[1])).values()))' "$HV_TMP/gen$seed.kernel.json")
	total=$((total + n))
	hv_pass "generated lab $seed ($(grep -c '^	g' "$file") rules, default $(sed -n 's/^	default //p' "$file")): $n cases, the same verdicts ($ok delivered, $rej rejected) but $(tail -1 "$HV_TMP/gen$seed.diff" | sed 's/.*differ, //'); $conns connections in the same states, $LOGGED cases logged by the same rules"
done
[ "$total" -ge 300 ] || [ -n "${HV_GEN_SEEDS:-}" ] || hv_fail "only $total generated cases"
hv_pass "$total generated cases: hvnetd and the kernel agree on every one but the known differences"
