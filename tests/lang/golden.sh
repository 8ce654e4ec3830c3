#!/bin/bash
# Golden tests of the policy language: every file under tests/lang/errors,
# tests/lang/cases and policies/ is checked with `hvnetctl policy check
# --strict`, and, when it has no error, dumped with `policy show --ir`; the
# output must equal tests/lang/expected/<dir>/<file>.expected. Every file
# without errors must also survive the canonical printer: `policy show`,
# read back, gives the same IR dump.
#
# Usage: golden.sh HVNETCTL SOURCE_ROOT [--regen]
#   --regen rewrites the expected files; review the diff before committing.
set -uo pipefail
ctl=$(realpath "$1")
root=$(realpath "$2")
regen=${3:-}
fail=0 n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for dir in tests/lang/errors tests/lang/cases policies; do
	tag=$(basename "$dir")
	mkdir -p "$root/tests/lang/expected/$tag"
	for f in "$root/$dir"/*.hvnet; do
		[ -e "$f" ] || continue
		name=$(basename "$f")
		exp="$root/tests/lang/expected/$tag/$name.expected"
		n=$((n + 1))
		# run from the file's directory so that paths in messages are stable
		out=$(cd "$root/$dir" && { "$ctl" policy check --strict "$name" 2>&1; echo "exit $?"; })
		rc=${out##*exit }
		if [ "$rc" != 1 ]; then
			out+=$'\n'$(cd "$root/$dir" && "$ctl" policy show --ir "$name" 2>&1)
			# the canonical form must read back to the same IR
			(cd "$root/$dir" && "$ctl" policy show "$name") > "$tmp/canon.hvnet" 2>&1
			a=$(cd "$root/$dir" && "$ctl" policy show --ir "$name" 2>&1)
			b=$("$ctl" policy show --ir "$tmp/canon.hvnet" 2>&1)
			if [ "$a" != "$b" ]; then
				echo "FAIL $dir/$name: the canonical form reads back to a different IR"
				diff <(echo "$a") <(echo "$b") | head -20
				fail=$((fail + 1))
			fi
		fi
		if [ "$regen" = --regen ]; then
			printf '%s\n' "$out" > "$exp"
		elif [ ! -f "$exp" ]; then
			echo "FAIL $dir/$name: no expected output (run with --regen)"
			fail=$((fail + 1))
		elif ! diff -u "$exp" <(printf '%s\n' "$out") > "$tmp/diff"; then
			echo "FAIL $dir/$name:"
			head -40 "$tmp/diff"
			fail=$((fail + 1))
		fi
	done
done
echo "$n files, $fail failed"
[ "$fail" -eq 0 ]
