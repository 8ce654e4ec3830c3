#!/bin/bash
# Adaptive polling: an idle hvnetd uses little CPU and still answers within a
# fraction of a millisecond; busy polling burns its worker core.
. "$(dirname "$0")/lib.sh"
hv_setup

cpu_pct() { # pid seconds: CPU use of pid over the interval, in percent of one core
	local pid=$1 s=$2 t0 t1 hz
	hz=$(getconf CLK_TCK)
	t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	sleep "$s"
	t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	echo $(((t1 - t0) * 100 / hz / s))
}

hv_start sw --segment app
hv_guest sw i1 app 10.60.0.1/24
hv_guest sw i2 app 10.60.0.2/24
hv_in i1 ping -c 2 -W 1 10.60.0.2 >/dev/null || hv_fail "i1 -> i2"
sleep 1
# the lowest of up to three 3-second windows: other work on a 2-core machine
# delays the worker's wake-ups and inflates one window, while a worker that
# does not sleep is above the limit in all three
for _ in 1 2 3; do
	idle=$(cpu_pct "$(hv_pid sw)" 3)
	[ "$idle" -le 10 ] && break
done
[ "$idle" -le 10 ] || hv_fail "idle adaptive hvnetd uses ${idle}% CPU (limit 10%) in three windows"
hv_in i1 ping -c 21 -i 0.2 10.60.0.2 >"$HV_TMP/ping.txt" || hv_fail "ping while idle"
# the median: this VM's scheduler adds multi-millisecond outliers even to busy polling
med=$(grep -o 'time=[0-9.]*' "$HV_TMP/ping.txt" | cut -d= -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
avg=$(awk -F/ '/^rtt/ {print $5}' "$HV_TMP/ping.txt")
python3 -c "import sys; sys.exit(0 if $med < 1.0 else 1)" || hv_fail "idle round trip median ${med} ms (limit 1 ms)"
hv_pass "adaptive: idle CPU ${idle}%, ping every 0.2 s: median ${med} ms, avg ${avg} ms"

hv_start busy --poll busy --segment app
busy=$(cpu_pct "$(hv_pid busy)" 2)
[ "$busy" -ge 80 ] || hv_fail "busy-poll hvnetd uses only ${busy}% CPU"
hv_pass "busy: ${busy}% CPU"
