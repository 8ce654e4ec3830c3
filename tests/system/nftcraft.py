#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Crafted TCP sequences for the differential test (test_nft_diff.sh): what
a guest's own stack never sends, sent with scapy between the guests of a lab
that is up, so that hvnetd and the kernel datapath can be compared on them.

  nftcraft.py LAB OUT.json
      For every ordered pair of guests that share a segment (IPv4), to TCP
      ports PORTS of an echo server on the destination:
        oow   a handshake, then a data segment 2^30 bytes beyond the window
        rst   a handshake, a RST, then a data segment in the old window
        ack   an ACK that belongs to no connection
      Writes {"CASE": "OUTCOME"}: handshake-blocked (no SYN+ACK came back),
      handshake-refused (a RST did), answered (the destination's stack
      answered the crafted segment: it got through) or silent.

The source guest's own kernel would answer the destination's SYN+ACK with a
reset (it has no socket for the crafted connection): while a source runs its
cases, a table of its own namespace drops the resets its stack sends from
the crafted connections' ports, 20000-60000 (scapy sends at layer 2, past
that table; the guest's answers as a destination, from its service ports,
go out as usual).
"""
import concurrent.futures
import json
import os
import random
import subprocess
import sys
import time

PORTS = [80, 22]
KINDS = ["oow", "rst", "ack"]
WAIT = 1.0
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fwprobe.py")
RST_DROP = """table inet hvcraft {
	chain out {
		type filter hook output priority filter; policy accept;
		tcp sport 20000-60000 tcp flags & rst == rst drop
	}
}
"""


def one(iface, dst, dmac, port, kind):
    """One crafted case; runs in the source guest's namespace."""
    from scapy.all import AsyncSniffer, Ether, IP, TCP, Raw, sendp

    sport = random.randint(20000, 60000)
    isn = random.randint(1, 2**31)
    got = []
    sn = AsyncSniffer(iface=iface, store=False, prn=got.append,
                      filter="tcp and src host %s and src port %d and dst port %d" %
                      (dst, port, sport))
    sn.start()
    time.sleep(0.3)  # the capture is open once started; give it the moment

    def send(flags, seq, ack=0, data=None):
        p = Ether(dst=dmac) / IP(dst=dst) / TCP(sport=sport, dport=port, flags=flags,
                                                 seq=seq % 2**32, ack=ack % 2**32)
        if data:
            p = p / Raw(data)
        sendp(p, iface=iface, verbose=False)

    def wait_more(n0):
        end = time.time() + WAIT
        while time.time() < end and len(got) <= n0:
            time.sleep(0.02)
        return len(got) > n0

    try:
        if kind == "ack":
            send("A", isn, random.randint(1, 2**31))
            return "answered" if wait_more(0) else "silent"
        send("S", isn)
        if not wait_more(0):
            return "handshake-blocked"
        r = got[0][TCP]
        if r.flags & 0x04:
            return "handshake-refused"
        rack = r.seq + 1
        send("A", isn + 1, rack)
        time.sleep(0.1)
        n0 = len(got)
        if kind == "oow":
            send("PA", isn + 1 + 2**30, rack, b"x")
            out = "answered" if wait_more(n0) else "silent"
            send("R", isn + 1)  # leave no connection behind
            return out
        send("R", isn + 1)
        time.sleep(0.2)
        n0 = len(got)
        send("PA", isn + 1, rack, b"x")
        return "answered" if wait_more(n0) else "silent"
    finally:
        sn.stop()


def run_from(cases_json):
    """Every case of one source guest: in its namespace, a thread each."""
    iface, cases = json.loads(cases_json)
    subprocess.run(["nft", "-f", "-"], input=RST_DROP, text=True, check=True)
    res = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(cases))) as ex:
            futs = {ex.submit(one, iface, d, m, p, k): c for c, d, m, p, k in cases}
            for f in concurrent.futures.as_completed(futs):
                res[futs[f]] = f.result()
    finally:
        subprocess.run(["nft", "delete", "table", "inet", "hvcraft"])
    print(json.dumps(res))


def guests(lab):
    with open("/run/hvnet/labs/%s/state.json" % lab) as f:
        st = json.load(f)
    out = []
    for g in st["guests"]:
        for n in g["nics"]:
            v4 = [a.split("/")[0] for a in n["ips"] if ":" not in a]
            if v4:
                out.append((g["name"], g["instance"], n["name"], n["segment"], v4[0]))
    return out


def mac_of(ns, iface):
    with open("/dev/null") as null:
        return subprocess.run(["ip", "netns", "exec", ns, "cat",
                               "/sys/class/net/%s/address" % iface],
                              capture_output=True, text=True, stdin=null,
                              check=True).stdout.strip()


def craft(lab, out_path):
    gs = guests(lab)
    servers, res = [], {}
    try:
        for _, ns, _, _, a in gs:
            p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", PROBE,
                                  "serve", a] + [str(x) for x in PORTS],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            servers.append(p)
        for p in servers:
            if p.stdout.readline().strip() != "serving":
                sys.exit("an echo server did not start")
        runs = []
        for sname, sns, sif, sseg, _ in gs:
            cases = []
            for dname, dns, dif, dseg, daddr in gs:
                if dname == sname or dseg != sseg:
                    continue
                dmac = mac_of(dns, dif)
                for port in PORTS:
                    for k in KINDS:
                        cases.append(("%s -> %s (%s) tcp/%d %s" % (sname, dname, daddr, port, k),
                                      daddr, dmac, port, k))
            if cases:
                # every source at once: the waits overlap
                runs.append((sname, subprocess.Popen(
                    ["ip", "netns", "exec", sns, "/usr/bin/python3", os.path.abspath(__file__),
                     "from", json.dumps([sif, cases])],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        for sname, r in runs:
            out, err = r.communicate(timeout=60)
            if r.returncode != 0:
                sys.exit("crafting from %s: %s" % (sname, err.strip()[-500:]))
            res.update(json.loads(out))
    finally:
        for p in servers:
            p.kill()
            p.wait()
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    print("%d crafted cases, %d answered" % (len(res),
                                             sum(v == "answered" for v in res.values())))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "from":
        run_from(sys.argv[2])
    elif len(sys.argv) == 3:
        craft(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
