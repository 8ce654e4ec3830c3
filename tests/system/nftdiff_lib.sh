#!/bin/bash
# Shared by the differential tests (test_nft_diff*.sh): sources lib.sh, sets
# up, and takes down every lab a test brought up, pass or fail. run_lab NAME
# DATAPATH FILE OUT brings FILE up as lab NAME on DATAPATH (hvnetd or
# kernel) and probes it with nftdiff.py into OUT (and its connections into
# OUT's .ct.json), leaving it up; run_lab_down does the same and takes it
# down.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
hv_setup
LABS=()
nftdiff_cleanup() {
	local rc=$?
	for l in "${LABS[@]}"; do "$HVNETCTL" lab down "$l" >/dev/null 2>&1; done
	(exit $rc)
	hv_cleanup
}
trap nftdiff_cleanup EXIT
DIFF=$HV_ROOT/tests/system/nftdiff.py

run_lab() { # NAME DATAPATH FILE OUT
	local name=$1 dp=$2 file=$3 out=$4
	LABS+=("$name")
	"$HVNETCTL" lab up --name "$name" --datapath "$dp" "$file" >"$HV_TMP/$name.up" 2>&1 ||
		{ cat "$HV_TMP/$name.up" >&2; hv_fail "lab up --datapath $dp $file"; }
	sleep 1
	# a guest that has a gateway but no global IPv6 address of its own reaches
	# its segment's IPv6 hosts once a router advertisement made the prefix
	# on-link: wait for it (at most 6 s) on both datapaths alike
	if grep -q "router-advertisements" "$file"; then
		local g t
		for g in $(ip netns list | awk '{print $1}' | grep -- "^$name-"); do
			ip -n "$g" -4 route show default | grep -q . || continue
			ip -n "$g" -6 addr show scope global | grep -q inet6 && continue
			for t in $(seq 60); do
				ip -n "$g" -6 route show default | grep -q . && break
				sleep 0.1
			done
		done
	fi
	/usr/bin/python3 "$DIFF" probe "$name" "$out" >"$HV_TMP/$name.probe" ||
		hv_fail "probing $name: $(cat "$HV_TMP/$name.probe")"
	/usr/bin/python3 "$DIFF" ct "$name" "$dp" "$HVNETCTL" "${out%.json}.ct.json" >/dev/null ||
		hv_fail "connections of $name ($dp)"
}

craft() { # NAME OUT: crafted TCP sequences between the guests of lab NAME
	/usr/bin/python3 "$HV_ROOT/tests/system/nftcraft.py" "$1" "$2" >"$HV_TMP/$1.craft" 2>&1 ||
		hv_fail "crafted sequences in $1: $(cat "$HV_TMP/$1.craft")"
}

run_lab_down() { # NAME DATAPATH FILE OUT
	run_lab "$@"
	"$HVNETCTL" lab down "$1" >/dev/null || hv_fail "lab down $1 ($2)"
}
