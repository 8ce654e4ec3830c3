#!/bin/bash
# The stateful firewall with the reference policies loaded, on two workers
# (so that flows whose directions arrive on different workers are handed to
# one owner). policies/nist-800-125b.hvnet: administrators reach ssh, others
# do not, replies pass, blocked connections time out and are logged with the
# rule id, UDP and ICMP behave, an ICMP error for an allowed flow passes as
# RELATED. policies/two-tier-web.hvnet: reject answers with a RST and an ICMP
# port unreachable. A broken file changes nothing; a stricter policy reports
# the connections it cuts; rollback restores the previous one.
. "$(dirname "$0")/lib.sh"
hv_setup
PROBE="$HV_ROOT/tests/system/fwprobe.py"
probe() { # probe GUEST tcp|udp HOST PORT [SECS]
	local g=$1
	shift
	hv_in "$g" /usr/bin/python3 "$PROBE" "$@"
}
expect() { # expect WANT DESCRIPTION GUEST probe-args...
	local want=$1 what=$2 got
	shift 2
	got=$(probe "$@")
	hv_assert_eq "$want" "$got" "$what"
	hv_pass "$what: $got"
}

# the reference policy, logging into this test's directory
sed "s|^policy {|policy {\n\tlog-file \"$HV_TMP/fw.log\"\n\tlog-pcapng \"$HV_TMP/fw.pcapng\"|" \
	"$HV_ROOT/policies/nist-800-125b.hvnet" >"$HV_TMP/nist.hvnet"

hv_start sw --cpus 0,1,1 --segment mgmt --segment infra --segment app
hv_guest sw admin1 mgmt 10.10.0.10/24
hv_guest_mac admin1 52:54:00:10:00:10
hv_guest sw m2 mgmt 10.10.0.20/24
hv_guest sw web1 app 10.30.0.11/24
hv_guest_mac web1 52:54:00:30:00:11
hv_guest sw web2 app 10.30.0.12/24
hv_guest_mac web2 52:54:00:30:00:12
hv_ctl sw policy apply "$HV_TMP/nist.hvnet" >"$HV_TMP/apply1.out" || hv_fail "policy apply"
grep -q "added: admin-ssh, admin-ping, app-local, mgmt-web, app-db, app-to-mgmt" "$HV_TMP/apply1.out" ||
	hv_fail "apply report: $(cat "$HV_TMP/apply1.out")"
hv_assert_eq 2 "$(hv_json sw 'len(r["workers"])' ct stats)" "connection tables (workers)"

hv_in m2 /usr/bin/python3 "$PROBE" serve 10.10.0.20 22 80 >/dev/null 2>&1 &
hv_in admin1 /usr/bin/python3 "$PROBE" serve 10.10.0.10 22 >/dev/null 2>&1 &
hv_in web2 /usr/bin/python3 "$PROBE" serve 10.30.0.12 80 53 >/dev/null 2>&1 &
sleep 1.5

expect echoed "admin1 -> m2 ssh (admin-ssh), reply included" admin1 tcp 10.10.0.20 22
expect timeout "m2 -> admin1 ssh (m2 is no administrator: default block)" m2 tcp 10.10.0.10 22 2
expect timeout "admin1 -> m2 port 80 (no rule)" admin1 tcp 10.10.0.20 80 2
hv_in admin1 ping -c 2 -i 0.2 -W 1 10.10.0.20 >/dev/null || hv_fail "admin1 cannot ping m2 (admin-ping)"
if hv_in m2 ping -c 2 -i 0.2 -W 1 10.10.0.10 >/dev/null; then hv_fail "m2 pinged admin1"; fi
hv_pass "ping: admin1 -> m2 answers, m2 -> admin1 does not"
expect echoed "web1 -> web2 tcp/80 (app-local)" web1 tcp 10.30.0.12 80
expect echoed "web1 -> web2 udp/53 (app-local)" web1 udp 10.30.0.12 53
# nothing listens on udp/54: web2's port unreachable must come back as RELATED
expect refused "web1 -> web2 udp/54: the ICMP error of an allowed flow passes" web1 udp 10.30.0.12 54

related=$(hv_json sw 'r["related"]' ct stats)
hv_assert_ge "$related" 1 "connections' RELATED ICMP errors"
conn=$(hv_json sw '" ".join(c["rule"]+"/"+c["ct_state"] for c in r["connections"] if c.get("dport")==22)' \
	ct list proto=tcp host=10.10.0.20)
hv_assert_eq "admin-ssh/established" "$conn" "ct list: the ssh connection"
hv_pass "ct list: ssh connection admitted by admin-ssh, established; $related RELATED"

# IPv6: neighbour discovery passes the policy, the IPv6 classifier decides
v6() { # GUEST ADDR: IPv6 on, the address, and wait out duplicate address detection
	hv_in "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth0.disable_ipv6=0
	ip -n "$HV_ID-$1" addr add "$2/64" dev eth0 nodad
}
v6 admin1 fd00:10::10
v6 m2 fd00:10::20
hv_in m2 /usr/bin/python3 "$PROBE" serve fd00:10::20 22 >/dev/null 2>&1 &
hv_in admin1 /usr/bin/python3 "$PROBE" serve fd00:10::10 22 >/dev/null 2>&1 &
sleep 1
expect echoed "IPv6: admin1 -> m2 ssh (admin-ssh: fd00:10::10 is in @admins)" admin1 tcp fd00:10::20 22
expect timeout "IPv6: m2 -> admin1 ssh (default block)" m2 tcp fd00:10::10 22 2
hv_in admin1 ping -6 -c 2 -i 0.2 -W 1 fd00:10::20 >/dev/null || hv_fail "IPv6 ping admin1 -> m2 (admin-ping)"
hv_pass "IPv6: ping admin1 -> m2 answers (neighbour discovery bypasses the policy)"

# a bare ACK with no connection is INVALID (needs scapy)
if /usr/bin/python3 -c 'import scapy' 2>/dev/null; then
	before=$(hv_json sw '[d["count"] for d in r["drops"] if d["reason"]=="ct_tcp_no_conn"][0]' stats)
	hv_in web1 /usr/bin/python3 -c '
from scapy.all import Ether, IP, TCP, sendp, conf
conf.verb = 0
sendp(Ether(dst="02:00:00:00:00:12")/IP(src="10.30.0.11", dst="10.30.0.12")/TCP(sport=4444, dport=80, flags="A", seq=1, ack=1), iface="eth0", count=3)'
	sleep 0.5
	after=$(hv_json sw '[d["count"] for d in r["drops"] if d["reason"]=="ct_tcp_no_conn"][0]' stats)
	hv_assert_eq 3 "$((after - before))" "ct_tcp_no_conn drops for 3 bare ACKs"
	hv_pass "3 bare ACKs without a connection: INVALID, counted as ct_tcp_no_conn"
fi

# the log: the blocked ssh attempt from m2, by rule id, as JSON lines
sleep 0.5
python3 - "$HV_TMP/fw.log" <<'EOF' || hv_fail "verdict log"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
hits = [l for l in lines if l["rule"] == "default" and l["src"] == "10.10.0.20"
        and l["dst"] == "10.10.0.10" and l.get("dport") == 22 and l["verdict"] == "block"]
assert hits, "no log line for m2 -> admin1:22: %s" % lines
assert hits[0]["segment"] == "mgmt" and hits[0]["port"] == "m2", hits[0]
print("PASS: log: %d line(s), m2 -> admin1:22 blocked by 'default' in segment mgmt" % len(lines))
EOF
n=$(tcpdump -r "$HV_TMP/fw.pcapng" -n 'tcp dst port 22 and src host 10.10.0.20' 2>/dev/null | wc -l)
hv_assert_ge "$n" 1 "blocked SYNs in the log's pcapng"
hv_pass "log-pcapng holds $n blocked SYN(s) from m2"

written=$(hv_json sw 'r["log"]["written"]' fw show)
hv_assert_ge "$written" 1 "log lines written (fw show)"
# rotation: move the file away, SIGHUP, and the next line goes to a new file
mv "$HV_TMP/fw.log" "$HV_TMP/fw.log.1"
kill -HUP "$(hv_pid sw)"
sleep 0.5
probe m2 tcp 10.10.0.10 22 1 >/dev/null
sleep 1
[ -s "$HV_TMP/fw.log" ] || hv_fail "no new log file after SIGHUP"
grep -q '"src":"10.10.0.20"' "$HV_TMP/fw.log" || hv_fail "rotated log lacks the new line"
hv_pass "fw show: $written log line(s) written; SIGHUP reopened the log after rotation"

ssh_hits=$(hv_json sw '[x["packets"] for x in r["rules"] if x["id"]=="admin-ssh"][0]' fw show)
hv_assert_ge "$ssh_hits" 1 "admin-ssh hit counter"
hv_pass "fw show: admin-ssh decided $ssh_hits packet(s)"

# a broken file changes nothing
epoch=$(hv_json sw 'r["current"]["epoch"]' policy status)
printf 'segment app { subnet 10.30.0.0/24 }\npolicy { allow app -> nowhere }\n' >"$HV_TMP/broken.hvnet"
if hv_ctl sw policy apply "$HV_TMP/broken.hvnet" 2>"$HV_TMP/broken.err"; then hv_fail "broken policy applied"; fi
grep -q "broken.hvnet:2" "$HV_TMP/broken.err" || hv_fail "error does not name file:line: $(cat "$HV_TMP/broken.err")"
hv_assert_eq "$epoch" "$(hv_json sw 'r["current"]["epoch"]' policy status)" "epoch after a failed apply"
expect echoed "after the failed apply, web1 -> web2 still passes" web1 tcp 10.30.0.12 80
hv_pass "broken policy refused with file:line, policy in force unchanged"

# a stricter policy cuts live connections, and says how many
cut=$(hv_json sw 'r["connections_cut"]' policy apply "$HV_ROOT/policies/deny-all.hvnet")
hv_assert_ge "$cut" 2 "connections cut by deny-all"
expect timeout "under deny-all, web1 -> web2 tcp/80" web1 tcp 10.30.0.12 80 1
hv_ctl sw policy rollback >/dev/null || hv_fail "rollback"
expect echoed "after rollback, web1 -> web2 tcp/80" web1 tcp 10.30.0.12 80
hv_pass "deny-all cut $cut connection(s); rollback restored nist-800-125b"

# clear: no policy, everything passes; rollback brings the policy back
hv_ctl sw policy clear >/dev/null || hv_fail "policy clear"
expect echoed "without a policy, m2 -> admin1 ssh" m2 tcp 10.10.0.10 22
hv_ctl sw policy rollback >/dev/null || hv_fail "rollback after clear"
hv_assert_eq "$HV_TMP/nist.hvnet" "$(hv_json sw 'r["current"]["path"]' policy status)" "policy after rollback"
hv_ctl sw ct flush >/dev/null
expect timeout "policy back: m2 -> admin1 ssh blocked again" m2 tcp 10.10.0.10 22 1
hv_pass "policy clear lets everything pass; rollback puts nist-800-125b back"

# reject: two-tier-web's db-out answers for the data segment
hv_ctl sw segment add data >/dev/null || hv_fail "segment add data"
hv_guest sw db data 192.168.120.21/24
hv_guest_mac db 52:54:00:78:00:15
hv_guest sw d2 data 192.168.120.22/24
hv_in d2 /usr/bin/python3 "$PROBE" serve 192.168.120.22 3306 53 >/dev/null 2>&1 &
sleep 1
hv_ctl sw policy apply "$HV_ROOT/policies/two-tier-web.hvnet" >/dev/null || hv_fail "apply two-tier-web"
# d2 listens on both ports, so a refusal can only come from hvnetd
expect refused "db -> d2 tcp/3306: RST from the firewall (db-out: reject)" db tcp 192.168.120.22 3306
expect refused "db -> d2 udp/53: ICMP port unreachable from the firewall" db udp 192.168.120.22 53
sent=$(hv_json sw 'r["firewall"]["rejects_sent"]' stats)
hv_assert_ge "$sent" 2 "rejects sent"
hits=$(hv_json sw '[x["packets"] for x in r["rules"] if x["id"]=="db-out"][0]' fw show)
hv_assert_ge "$hits" 2 "db-out hits"
hv_pass "reject: $sent answer(s) sent, db-out decided $hits packet(s)"

# two workers: packets whose connection another worker tracks were handed over
# one reading (IPv6 neighbour discovery keeps flowing meanwhile), after the
# rings have drained
sleep 0.5
read -r out in full < <(hv_json sw '"%d %d %d" % (r["firewall"]["handoff_out"], r["firewall"]["handoff_in"], [d["count"] for d in r["drops"] if d["reason"]=="handoff_full"][0])' stats)
hv_assert_ge "$out" 1 "packets handed to the owning worker"
# the workers' counters are read one after the other while a packet or two
# may cross: equal within a few
d=$((out - in))
[ "${d#-}" -le 4 ] || hv_fail "handed out $out, taken in $in"
hv_assert_eq 0 "$full" "hand-off queue full drops"
hv_pass "hand-off between the two workers: $out packets, none lost"
