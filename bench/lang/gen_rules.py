#!/usr/bin/env python3
"""Generate an N-rule policy as an hvnet file and the same rules as an
nftables ruleset (inet family, forward hook, segments as input/output interface names), for
bench/lang/run.sh. Deterministic: the same N gives the same files."""
import random
import sys

n = int(sys.argv[1])
out_hv, out_nft = sys.argv[2], sys.argv[3]
rnd = random.Random(42)
segs = 16
acts = ["allow", "block", "reject"]
nft_acts = {"allow": "accept", "block": "drop", "reject": "reject"}
with open(out_hv, "w") as hv, open(out_nft, "w") as nf:
    for s in range(segs):
        hv.write("segment s%d { class application; vni %d; subnet 10.%d.0.0/16 }\n" % (s, 100 + s, s))
    hv.write("service web = tcp/80, tcp/443\n")
    hv.write("policy {\n")
    nf.write("table inet hvbench {\n\tchain hvfilter {\n\t\ttype filter hook forward priority 0; policy drop;\n")
    for i in range(n):
        a, b = rnd.randrange(segs), rnd.randrange(segs)
        sa = "10.%d.%d.%d" % (a, rnd.randrange(256), rnd.randrange(1, 255))
        da = "10.%d.%d.%d" % (b, rnd.randrange(256), rnd.randrange(1, 255))
        port = rnd.randrange(1, 65535)
        act = acts[i % 7 == 6 and 2 or i % 3 == 2 and 1 or 0]
        log = " log" if i % 11 == 0 else ""
        proto = "tcp" if i % 2 else "udp"
        hv.write("\tr%d: %s%s s%d %s -> s%d %s service %s/%d\n" % (i, act, log, a, sa, b, da, proto, port))
        nf.write('\t\tiifname "s%d" oifname "s%d" ip saddr %s ip daddr %s %s dport %d%s %s comment "r%d"\n'
                 % (a, b, sa, da, proto, port, ' log prefix "r%d "' % i if log else "", nft_acts[act], i))
    hv.write("\tdefault block log\n}\n")
    nf.write("\t}\n}\n")
