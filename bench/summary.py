#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The table of a benchmark run for bench/RESULTS.md: per round the packets
per second of every configuration and the ratio of each to the baseline
(the first named), then the median ratios.

Usage: bench/summary.py RESULTS.jsonl BASELINE OTHER..."""
import json
import statistics
import sys

rows = [json.loads(l) for l in open(sys.argv[1])]
names = sys.argv[2:]
base = names[0]
by = {n: [r for r in rows if r["switch"] == n] for n in names}
rounds = min(len(v) for v in by.values())
print("| round | " + " | ".join("%s Mpps" % n for n in names) + " | " +
      " | ".join("%s/%s" % (n, base) for n in names[1:]) + " | cycles/pkt " +
      ", ".join(names) + " |")
print("|---" * (1 + len(names) * 2) + "|")
ratios = {n: [] for n in names[1:]}
for i in range(rounds):
    b = by[base][i]["rx_pps"]
    for n in names[1:]:
        ratios[n].append(by[n][i]["rx_pps"] / b)
    print("| %d | %s | %s | %s |" % (
        i + 1, " | ".join("%.2f" % (by[n][i]["rx_pps"] / 1e6) for n in names),
        " | ".join("%.3f" % ratios[n][-1] for n in names[1:]),
        ", ".join("%.0f" % by[n][i]["cycles_per_packet"] for n in names)))
print()
for n in names[1:]:
    v = ratios[n]
    print("median %s/%s: %.3f (min %.3f, max %.3f)" % (n, base, statistics.median(v), min(v), max(v)))
