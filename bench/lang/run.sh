#!/bin/bash
# The policy language benchmark: parse + check (to the IR) and lint an
# N-rule policy with hvnet's library, side by side with `nft -c -f` (parse
# and kernel validation, no commit, in a private network namespace) on the
# same rules written for nftables. Best of RUNS for each.
#
# Usage: bench/lang/run.sh [BUILD] ; env RULES (100000), RUNS (3)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
RULES=${RULES:-100000}
RUNS=${RUNS:-3}
out=bench/out/lang-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

python3 bench/lang/gen_rules.py "$RULES" "$out/rules.hvnet" "$out/rules.nft"
echo "bench-lang: $RULES rules ($(du -h "$out/rules.hvnet" | cut -f1) hvnet, $(du -h "$out/rules.nft" | cut -f1) nft), best of $RUNS"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

"$BUILD/bench/langbench" "$out/rules.hvnet" "$RUNS" | tee "$out/hvnet.json"

nft_s=""
if command -v nft >/dev/null && [ "$(id -u)" -eq 0 ]; then
	nft_s=$(python3 - "$out/rules.nft" "$RUNS" <<'PY'
import subprocess, sys, time
best = None
for _ in range(int(sys.argv[2])):
    t0 = time.monotonic()
    subprocess.run(["unshare", "-n", "nft", "-c", "-f", sys.argv[1]], check=True)
    t = time.monotonic() - t0
    best = t if best is None or t < best else best
print("%.4f" % best)
PY
)
	echo "{\"nft_check_s\": $nft_s}" | tee "$out/nft.json"
else
	echo "nft not run (needs nftables and root)"
fi

python3 - "$out" "$nft_s" <<'PY'
import json, sys
out, nft = sys.argv[1], sys.argv[2]
h = json.load(open(out + "/hvnet.json"))
print("| pass | seconds |")
print("|---|---|")
print("| hvnet parse | %.3f |" % h["parse_s"])
print("| hvnet check (resolve, checks, IR) | %.3f |" % h["check_s"])
print("| **hvnet parse + check** | **%.3f** |" % h["parse_check_s"])
print("| hvnet lint (shadow analysis, budgeted) | %.3f |" % h["lint_s"])
if nft:
    n = float(nft)
    print("| nft -c -f (parse + kernel validation) | %.3f |" % n)
    print("\nnft / hvnet (parse + check): %.1fx; peak RSS of langbench %d MiB"
          % (n / h["parse_check_s"], h["max_rss_kb"] // 1024))
PY
