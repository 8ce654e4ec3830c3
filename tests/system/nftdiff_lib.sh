#!/bin/bash
# Shared by the differential tests (test_nft_diff*.sh): sources lib.sh, sets
# up, and takes down every lab a test brought up, pass or fail. run_lab NAME
# DATAPATH FILE OUT brings FILE up as lab NAME on DATAPATH (hvnetd or
# kernel) and probes it with nftdiff.py into OUT (and its connections into
# OUT's .ct.json), leaving it up; run_lab_down does the same and takes it
# down. Which rule logged each case goes to OUT's .log.json: the lab runs a
# copy of FILE whose policy writes hvnetd's log-file into $HV_TMP and whose
# log rates are raised so that no probe goes unlogged (the rate limits
# themselves are not compared); on the kernel datapath, tcpdump reads the
# NFLOG group of the lab's switch namespace meanwhile.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
hv_setup
LABS=()
nftdiff_cleanup() {
	local rc=$?
	[ -z "${NFLOG_PID:-}" ] || kill "$NFLOG_PID" 2>/dev/null
	for l in "${LABS[@]}"; do "$HVNETCTL" lab down "$l" >/dev/null 2>&1; done
	(exit $rc)
	hv_cleanup
}
trap nftdiff_cleanup EXIT
DIFF=$HV_ROOT/tests/system/nftdiff.py

# FILE with its policy's log-file LOG (none other, and no log-pcapng) and
# every log rate 100000/s, burst 100000, on stdout
logged_copy() { # FILE LOG
	LOGF=$2 perl -pe 'next if /^\s*#/;
		s/^\s*log-(file|pcapng)\s.*\n//;
		s/(?<=\s)log(\s+rate\s+\S+)?(\s+burst\s+\d+)?(?=\s|$)/log rate 100000\/s burst 100000/g;
		s/^(policy\b[^{#]*\{)/$1\n\tlog-file "$ENV{LOGF}"/' "$1"
}

nflog_start() { # LAB PCAP: tcpdump on the NFLOG group of the kernel lab LAB
	ip netns exec "$1.switch" tcpdump -i nflog:1 -U -w "$2" 2>"$2.err" &
	NFLOG_PID=$!
	local t
	for t in $(seq 50); do
		grep -q "listening on" "$2.err" && return 0
		sleep 0.1
	done
	hv_fail "tcpdump -i nflog:1 in $1.switch: $(cat "$2.err")"
}

nflog_stop() { # PCAP
	kill -INT "$NFLOG_PID"
	wait "$NFLOG_PID" || true
	NFLOG_PID=
	grep -q "^0 packets dropped by kernel" "$1.err" || hv_fail "tcpdump -i nflog:1: $(cat "$1.err")"
}

run_lab() { # NAME DATAPATH FILE OUT
	local name=$1 dp=$2 file=$3 out=$4
	local copy=$HV_TMP/$(basename "$out" .json).hvnet log=$HV_TMP/$(basename "$out" .json).jsonl
	LAB_LOG=$log
	LABS+=("$name")
	rm -f "$log"
	logged_copy "$file" "$log" >"$copy"
	grep -q "^	log-file \"$log\"" "$copy" || hv_fail "$file: no policy block for the log-file"
	"$HVNETCTL" lab up --name "$name" --datapath "$dp" "$copy" >"$HV_TMP/$name.up" 2>&1 ||
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
	local skip=0
	if [ "$dp" = hvnetd ]; then
		skip=$(/usr/bin/python3 "$DIFF" logmark "$name" "$HVNETCTL" "$log") || hv_fail "hvnetd's log-file $log"
	else
		nflog_start "$name" "$log.pcap"
	fi
	/usr/bin/python3 "$DIFF" probe "$name" "$out" >"$HV_TMP/$name.probe" ||
		hv_fail "probing $name: $(cat "$HV_TMP/$name.probe")"
	/usr/bin/python3 "$DIFF" ct "$name" "$dp" "$HVNETCTL" "${out%.json}.ct.json" >/dev/null ||
		hv_fail "connections of $name ($dp)"
	[ "$dp" = hvnetd ] || { nflog_stop "$log.pcap" && log=$log.pcap; }
	/usr/bin/python3 "$DIFF" logs "$name" "$dp" "$HVNETCTL" "$log" "${out%.json}.log.json" "$skip" \
		>"$HV_TMP/$name.logs" 2>&1 || hv_fail "log lines of $name ($dp): $(cat "$HV_TMP/$name.logs")"
}

# the rules that logged each case of BASE agree on both datapaths
# ($HV_TMP/BASE.{hvnetd,kernel}.log.json); LOGGED: how many cases were logged
compare_logs() { # BASE
	/usr/bin/python3 "$DIFF" compare "$HV_TMP/$1.hvnetd.log.json" "$HV_TMP/$1.kernel.log.json" hvnetd kernel \
		>"$HV_TMP/$1.logdiff" || { cat "$HV_TMP/$1.logdiff" >&2; hv_fail "$1: hvnetd and the kernel logged different rules"; }
	LOGGED=$(python3 -c 'import json,sys; print(sum(v != "-" and not k.startswith("(no probe)") for k, v in json.load(open(sys.argv[1])).items()))' "$HV_TMP/$1.kernel.log.json")
}

# crafted sequences (nftcraft.py) between the guests of lab NAME, brought up
# last by run_lab, into OUT; which rule logged each crafted TCP case into
# OUT's .log.json
craft() { # NAME DATAPATH OUT
	local skip=0 log=$LAB_LOG
	if [ "$2" = hvnetd ]; then
		skip=$(/usr/bin/python3 "$DIFF" logmark "$1" "$HVNETCTL" "$log") || hv_fail "hvnetd's log-file $log"
	else
		log=$LAB_LOG.craft.pcap
		nflog_start "$1" "$log"
	fi
	/usr/bin/python3 "$HV_ROOT/tests/system/nftcraft.py" "$1" "$3" >"$HV_TMP/$1.craft" 2>&1 ||
		hv_fail "crafted sequences in $1: $(cat "$HV_TMP/$1.craft")"
	[ "$2" = hvnetd ] || nflog_stop "$log"
	/usr/bin/python3 "$DIFF" craftlogs "${3%.json}.tcpkeys.json" "$2" "$1" "$HVNETCTL" "$log" "${3%.json}.log.json" "$skip" \
		>"$HV_TMP/$1.craftlogs" 2>&1 || hv_fail "log lines of the crafted cases in $1 ($2): $(cat "$HV_TMP/$1.craftlogs")"
}

run_lab_down() { # NAME DATAPATH FILE OUT
	run_lab "$@"
	"$HVNETCTL" lab down "$1" >/dev/null || hv_fail "lab down $1 ($2)"
}
