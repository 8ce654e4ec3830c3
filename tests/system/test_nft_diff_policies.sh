#!/bin/bash
# The differential test on the reference files of policies/ that have guests
# to probe: nist-800-125b.hvnet and two-tier-web.hvnet, each with its QEMU
# guest made a namespace guest (the kernel datapath runs namespace guests
# only; the guest keeps its name, NIC, MAC and addresses, so every rule
# still applies). Each file goes up on hvnetd and on the kernel datapath in
# turn, is probed alike by nftdiff.py, and every case's verdict must agree,
# and so must the rule that logged it (or that none did).
# (demo-lab.hvnet is in test_nft_diff.sh; deny-all.hvnet and
# overlay-lab.hvnet have fewer than two guests.)
. "$(dirname "$0")/nftdiff_lib.sh"

for base in nist-800-125b two-tier-web; do
	file=$HV_TMP/$base.hvnet
	sed -E 's/kind qemu; memory [^;]*; cpus [0-9]+/kind netns/' "$HV_ROOT/policies/$base.hvnet" >"$file"
	! grep -q "kind qemu" "$file" || hv_fail "$base: a qemu guest is left"
	run_lab_down "$HV_ID-d" hvnetd "$file" "$HV_TMP/$base.hvnetd.json"
	run_lab_down "$HV_ID-k" kernel "$file" "$HV_TMP/$base.kernel.json"
	/usr/bin/python3 "$DIFF" compare "$HV_TMP/$base.hvnetd.json" "$HV_TMP/$base.kernel.json" hvnetd kernel \
		>"$HV_TMP/$base.diff" || { cat "$HV_TMP/$base.diff" >&2; hv_fail "$base: hvnetd and the kernel disagree"; }
	/usr/bin/python3 "$DIFF" compare "$HV_TMP/$base.hvnetd.ct.json" "$HV_TMP/$base.kernel.ct.json" hvnetd kernel \
		>"$HV_TMP/$base.ctdiff" || { cat "$HV_TMP/$base.ctdiff" >&2; hv_fail "$base: connection states differ"; }
	compare_logs "$base"
	[ "$LOGGED" -gt 0 ] || hv_fail "$base: no case was logged: the log comparison would not tell a difference"
	conns=$(tail -1 "$HV_TMP/$base.ctdiff" | awk '{print $1}')
	n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$HV_TMP/$base.kernel.json")
	ok=$(python3 -c 'import json,sys; print(sum(v == "delivered" for v in json.load(open(sys.argv[1])).values()))' "$HV_TMP/$base.kernel.json")
	[ "$ok" -lt "$n" ] || hv_fail "$base: all $n delivered: the test would not tell a difference"
	# cases between segments that the kernel's gateways routed: two-tier-web
	# allows only such flows, so a kernel lab without routing cannot pass
	routed=$(python3 -c 'import json,sys; print(sum(v == "delivered" and ">" in k.split(")", 1)[1] for k, v in json.load(open(sys.argv[1])).items()))' "$HV_TMP/$base.kernel.json")
	[ "$routed" -gt 0 ] || hv_fail "$base: no case between segments was delivered on the kernel: its gateways route nothing"
	hv_pass "$base: $n cases, hvnetd and the kernel agree ($ok delivered, $routed of them routed between segments; $(tail -1 "$HV_TMP/$base.diff" | sed 's/.*differ, //'); $conns connections in the same states; the same rule logged each of the $LOGGED logged cases)"
done
