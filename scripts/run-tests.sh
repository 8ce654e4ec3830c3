#!/bin/bash
# make test: unit tests, the same under ASan+UBSan, fuzz regressions, system tests.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
pass=0 fail=0
# logs go to a directory of this run, so that runs from two checkouts at once
# do not write over each other
LOGS=$(mktemp -d /tmp/hv-tests.XXXXXX)

count() { # parse meson's "Ok: N" / "Fail: N" lines
	local log=$1 ok f
	ok=$(grep -E '^Ok: +[0-9]+' "$log" | awk '{print $2}' | tail -1)
	f=$(grep -E '^Fail: +[0-9]+' "$log" | awk '{print $2}' | tail -1)
	pass=$((pass + ${ok:-0})); fail=$((fail + ${f:-0}))
}

echo "== unit tests ($BUILD)"
meson test -C "$BUILD" --suite unit --suite fuzz-regress --print-errorlogs | tee "$LOGS/unit.log"
count "$LOGS/unit.log"

echo "== unit tests under ASan+UBSan (build-asan)"
if [ ! -f build-asan/build.ninja ]; then
	CC=clang meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C build-asan >/dev/null && meson test -C build-asan --suite unit --suite fuzz-regress --print-errorlogs | tee "$LOGS/asan.log"
count "$LOGS/asan.log"

if [ -x tests/system/run.sh ]; then
	echo "== system tests"
	tests/system/run.sh "$BUILD" | tee "$LOGS/system.log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOGS/system.log" | tail -1)
	pass=$((pass + $(echo "$line" | awk '{print $1}')))
	fail=$((fail + $(echo "$line" | awk '{print $3}')))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
