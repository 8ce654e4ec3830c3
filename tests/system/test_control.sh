#!/bin/bash
# Bad input on every channel gets a clear error and changes nothing: bad
# requests on the socket, refused commands, a bad command line; two instances
# run side by side and a third cannot take an instance's socket.
. "$(dirname "$0")/lib.sh"
hv_setup

hv_start one --segment app --port p1:null:app
hv_start two --segment app

pid1=$(hv_json one 'r["pid"]' version)
pid2=$(hv_json two 'r["pid"]' version)
[ "$pid1" != "$pid2" ] || hv_fail "two instances answered with one pid"
hv_pass "instances one (pid $pid1) and two (pid $pid2) run side by side"

expect_refused() { # expected-text args...
	local want=$1
	shift
	hv_ctl one "$@" >/dev/null 2>"$HV_TMP/err.txt"
	local rc=$?
	[ $rc -eq 1 ] || hv_fail "hvnetctl $*: exit $rc, expected 1 ($(cat "$HV_TMP/err.txt"))"
	grep -q -- "$want" "$HV_TMP/err.txt" || hv_fail "hvnetctl $*: '$(cat "$HV_TMP/err.txt")' lacks '$want'"
}
expect_refused "port 'nope' does not exist" port show nope
expect_refused "unknown port kind 'bogus'" port add x bogus app
expect_refused "segment 'nowhere' does not exist" port add x null nowhere
expect_refused "take no option 'colour'" port add x null app colour=red
expect_refused "port 'p1' exists" port add p1 null app
expect_refused "mac-limit=lots" port add x null app mac-limit=lots
expect_refused "still has 1 port" segment del app
hv_assert_eq "p1" "$(hv_json one '" ".join(p["name"] for p in r)' port list)" "ports after refused requests"
hv_ctl one port add r1 ring app >/dev/null || hv_fail "add a ring port"
hv_assert_eq "ring up" "$(hv_json one 'r["kind"] + " " + r["state"]' port show r1)" "ring port r1"
hv_ctl one port del r1 >/dev/null || hv_fail "del r1"
hv_pass "refused requests exit 1 with the reason; port list unchanged"

hv_ctl one port >/dev/null 2>&1
hv_assert_eq 2 $? "hvnetctl usage error exit code"
hvnetctl_rc=0
"$HVNETCTL" -s /run/hvnet/$HV_ID-none.sock version >/dev/null 2>&1 || hvnetctl_rc=$?
hv_assert_eq 3 "$hvnetctl_rc" "hvnetctl exit code without a daemon"

# raw protocol abuse on the socket
/usr/bin/python3 - "/run/hvnet/$HV_ID-one.sock" <<'PY' || hv_fail "protocol abuse"
import json, socket, sys
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1]); s.settimeout(5)
    return s, s.makefile("rb")
s, f = conn()
s.sendall(b'not json\n{"id": 5, "cmd": "no.such"}\n{"id": 6, "cmd": "port.add", "args": {"name": 7}}\n')
r1, r2, r3 = (json.loads(f.readline()) for _ in range(3))
assert r1["ok"] is False and r1["error"]["code"] == "EINVAL" and "line 1" in r1["error"]["message"], r1
assert r2["id"] == 5 and r2["error"]["code"] == "EOPNOTSUPP", r2
assert r3["id"] == 6 and r3["error"]["code"] == "EINVAL" and "'name'" in r3["error"]["message"], r3
s.close()
s, f = conn()
try:
    s.sendall(b"x" * (2 << 20))
except (BrokenPipeError, ConnectionResetError):
    pass
line = f.readline()
assert line == b"" or json.loads(line)["error"]["code"] == "EMSGSIZE", line
s, f = conn()
s.sendall(b'{"id": 9, "cmd": "version"}\n')
assert json.loads(f.readline())["ok"] is True
print("INFO: garbage, unknown command, wrong type and a 2 MiB line all answered; daemon alive")
PY
hv_pass "bad requests on the socket get error replies; the daemon keeps serving"

# bad command lines: exit 2 naming the bad part
"$HVNETD" --instance "$HV_ID-bad" --poll sometimes >"$HV_TMP/bad1.txt" 2>&1
hv_assert_eq 2 $? "hvnetd --poll sometimes exit code"
grep -q -- "--poll" "$HV_TMP/bad1.txt" || hv_fail "no mention of --poll: $(cat "$HV_TMP/bad1.txt")"
"$HVNETD" --instance "$HV_ID-bad" --segment app --port "x:tap" >"$HV_TMP/bad2.txt" 2>&1
rc=$?
[ $rc -ne 0 ] || hv_fail "hvnetd accepted --port x:tap"
grep -q "x:tap" "$HV_TMP/bad2.txt" || hv_fail "port spec error does not name the spec: $(cat "$HV_TMP/bad2.txt")"
hv_pass "bad command lines: '$(head -1 "$HV_TMP/bad1.txt")' / '$(head -1 "$HV_TMP/bad2.txt")'"

# the socket of a live instance cannot be taken over
"$HVNETD" --instance "$HV_ID-one" >"$HV_TMP/dup.txt" 2>&1
rc=$?
[ $rc -ne 0 ] || hv_fail "a second hvnetd took instance one's socket"
grep -q "another hvnetd" "$HV_TMP/dup.txt" || hv_fail "unclear duplicate-instance error: $(cat "$HV_TMP/dup.txt")"
hv_assert_eq "$pid1" "$(hv_json one 'r["pid"]' version)" "instance one after the duplicate start"
hv_pass "a duplicate instance is refused: $(grep -m1 'another hvnetd' "$HV_TMP/dup.txt")"
