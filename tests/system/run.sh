#!/bin/bash
# Run every tests/system/test_*.sh (or those named on the command line), each
# in its own process with a time limit; print one line per test and a final
# "N passed, N failed" line. Exit 0 only if none failed.
cd "$(dirname "$0")"
BUILD=${1:-build}
shift || true
case "$BUILD" in /*) ;; *) BUILD=$(cd ../.. && pwd)/$BUILD ;; esac
export HV_BUILD=$BUILD
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test_*.sh)
pass=0 fail=0 skip=0
OUTS=$(mktemp -d /tmp/hv-system.XXXXXX)
for t in "${tests[@]}"; do
	t=${t%.sh}
	start=$(date +%s)
	timeout -k 10 ${HV_TEST_TIMEOUT:-180} bash "./$t.sh" >"$OUTS/$t.out" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok   $t (${took}s)"
		grep -E '^(PASS|INFO):' "$OUTS/$t.out" | sed 's/^/     /'
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1))
		echo "skip $t: $(tail -1 "$OUTS/$t.out")"
	else
		fail=$((fail + 1))
		[ $rc -eq 124 ] && echo "FAIL $t (timed out after ${took}s)" || echo "FAIL $t (exit $rc, ${took}s)"
		sed 's/^/     /' "$OUTS/$t.out" | tail -60
	fi
done
echo "$pass passed, $fail failed${skip:+, $skip skipped}"
[ $fail -eq 0 ]
