#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Crafted sequences for the differential test (test_nft_diff.sh): what a
guest's own stack never sends, sent with scapy between the guests of a lab
that is up, so that hvnetd and the kernel datapath can be compared on them.

  nftcraft.py LAB OUT.json
      For every ordered pair of guests that share a segment, over IPv4 and
      (where both have one) IPv6:
      TCP, to ports PORTS of an echo server on the destination, seen from
      the source:
        oow   a handshake, then a data segment 2^30 bytes beyond the window
        rst   a handshake, a RST, then a data segment in the old window
        ack   an ACK that belongs to no connection
      outcome: handshake-blocked (no SYN+ACK came back), handshake-refused
      (a RST did), answered (the destination's stack answered the crafted
      segment: it got through) or silent.
      ICMP errors (destination unreachable, port: ICMP 3/3, ICMPv6 1/4)
      from the source to the destination, seen at the destination:
        icmp-related  quoting the destination's SYN+ACK of a connection to
                      its tcp/80 (allowed in the lab: RELATED)
        icmp-quote4   the same, the quote cut after the ports
        icmp-quote2   the same, the quote cut inside the ports
        icmp-blocked  quoting the SYN+ACK a blocked handshake (tcp/22) would
                      have had
        icmp-noconn   quoting a packet of no connection
      fragments and IPv6 extension headers, an echo request from the
      source, seen at the destination:
        frag-ping     in two fragments
        frag-first    its first fragment alone
        frag-later    its second fragment alone
        frag-atomic   (IPv6) a fragment header with offset 0 and no more
        hbh-ping      (IPv6) after a hop-by-hop options header
        dstopt-ping   (IPv6) after a destination options header
      outcome: delivered or dropped (ICMP errors); all, first, none or
      some (the fragments that reached the destination).
      Writes {"CASE": "OUTCOME"}, and beside it (OUT.tcpkeys.json) the TCP
      cases' [PROTO, SRC, DST, SPORT, DPORT], by which nftdiff.py
      craftlogs finds their log lines.

The source guest's own kernel would answer the destination's SYN+ACK with a
reset (it has no socket for the crafted connection): while a source runs its
cases, a table of its own namespace drops the resets its stack sends from
the crafted connections' ports, 20000-60000 (scapy sends at layer 2, past
that table; the guest's answers as a destination, from its service ports,
go out as usual). What reaches a destination is told by a capture there
(tcpdump -Q in): each crafted packet carries a marker of its own, the IPv4
identification or the IPv6 flow label, which both datapaths keep (the
kernel's bridge refragments a reassembled datagram with the same
identification and header).
"""
import concurrent.futures
import ipaddress
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PORTS = [80, 22]
KINDS = ["oow", "rst", "ack"]
ICMP_KINDS = ["icmp-related", "icmp-quote4", "icmp-quote2", "icmp-blocked", "icmp-noconn"]
FRAG_KINDS = ["frag-ping", "frag-first", "frag-later"]
V6_KINDS = ["frag-atomic", "hbh-ping", "dstopt-ping"]
WAIT = 1.0
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fwprobe.py")
RST_DROP = """table inet hvcraft {
	chain out {
		type filter hook output priority filter; policy accept;
		tcp sport 20000-60000 tcp flags & rst == rst drop
	}
}
"""


def l3(dst, **kw):
    """The IP header to DST: IPv4 or IPv6 as DST goes."""
    from scapy.all import IP, IPv6
    if ":" in dst:
        return IPv6(dst=dst, fl=kw.get("marker", 0))
    return IP(dst=dst, id=kw.get("marker", 1))


def one(iface, dst, dmac, port, kind, sport):
    """One crafted TCP case from SPORT; runs in the source guest's namespace."""
    from scapy.all import AsyncSniffer, Ether, TCP, Raw, sendp

    isn = random.randint(1, 2**31)
    got = []
    sn = AsyncSniffer(iface=iface, store=False, prn=got.append,
                      filter="tcp and src host %s and src port %d and dst port %d" %
                      (dst, port, sport))
    sn.start()
    time.sleep(0.3)  # the capture is open once started; give it the moment

    def send(flags, seq, ack=0, data=None):
        p = Ether(dst=dmac) / l3(dst) / TCP(sport=sport, dport=port, flags=flags,
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


def icmp_error(iface, src, dst, dmac, kind, marker, sport):
    """One crafted ICMP error case; runs in the source guest's namespace.
    Returns "sent" (the destination's capture tells the outcome) or
    handshake-blocked / handshake-refused when the connection to quote
    could not be opened though it should have been."""
    from scapy.all import (AsyncSniffer, Ether, ICMP, ICMPv6DestUnreach, IP, IPv6, TCP, Raw,
                           sendp)

    v6 = ":" in dst
    port = 22 if kind == "icmp-blocked" else 80
    isn = random.randint(1, 2**31)
    rseq = random.randint(1, 2**31)
    if kind in ("icmp-related", "icmp-quote4", "icmp-quote2", "icmp-blocked"):
        got = []
        sn = AsyncSniffer(iface=iface, store=False, prn=got.append,
                          filter="tcp and src host %s and src port %d and dst port %d" %
                          (dst, port, sport))
        sn.start()
        time.sleep(0.3)
        try:
            sendp(Ether(dst=dmac) / l3(dst) / TCP(sport=sport, dport=port, flags="S", seq=isn),
                  iface=iface, verbose=False)
            end = time.time() + WAIT
            while time.time() < end and not got:
                time.sleep(0.02)
        finally:
            sn.stop()
        if got and got[0][TCP].flags & 0x04:
            return "handshake-refused"
        if got:
            rseq = got[0][TCP].seq
            sendp(Ether(dst=dmac) / l3(dst) / TCP(sport=sport, dport=port, flags="A",
                                                 seq=isn + 1, ack=rseq + 1),
                  iface=iface, verbose=False)
            time.sleep(0.1)
        elif kind != "icmp-blocked":
            return "handshake-blocked"
    else:  # icmp-noconn: ports of nothing
        port = 8081
    inner = (IPv6(src=dst, dst=src) if v6 else IP(src=dst, dst=src)) / TCP(
        sport=port, dport=sport, flags="SA", seq=rseq, ack=(isn + 1) % 2**32)
    quote = bytes(inner)
    hl = 40 if v6 else 20
    if kind == "icmp-quote4":
        quote = quote[:hl + 4]
    elif kind == "icmp-quote2":
        quote = quote[:hl + 2]
    err = ICMPv6DestUnreach(code=4) if v6 else ICMP(type=3, code=3)
    sendp(Ether(dst=dmac) / l3(dst, marker=marker) / err / Raw(quote), iface=iface,
          verbose=False)
    if kind != "icmp-noconn":
        # the connection ends with a reset from the source
        sendp(Ether(dst=dmac) / l3(dst) / TCP(sport=sport, dport=port, flags="R", seq=isn + 1),
              iface=iface, verbose=False)
    return "sent"


def echo_frags(iface, dst, dmac, kind, marker):
    """One crafted echo request case (fragments, IPv6 extension headers);
    runs in the source guest's namespace. Returns "sent"."""
    from scapy.all import (Ether, ICMP, ICMPv6EchoRequest, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                           IPv6ExtHdrHopByHop, Raw, fragment, fragment6, sendp)

    v6 = ":" in dst
    ident = random.randint(1, 65535)
    if kind in FRAG_KINDS:
        data = Raw(b"x" * 1000)
        if v6:
            frags = fragment6(l3(dst, marker=marker) / IPv6ExtHdrFragment(id=marker) /
                              ICMPv6EchoRequest(id=ident, seq=1) / data, 600)
        else:
            frags = fragment(l3(dst, marker=marker) / ICMP(id=ident, seq=1) / data, fragsize=512)
        if kind == "frag-later":
            frags = frags[1:]
        elif kind == "frag-first":
            frags = frags[:1]
        pkts = [Ether(dst=dmac) / f for f in frags]
    else:
        ext = {"frag-atomic": IPv6ExtHdrFragment(id=marker, offset=0, m=0),
               "hbh-ping": IPv6ExtHdrHopByHop(),
               "dstopt-ping": IPv6ExtHdrDestOpt()}[kind]
        pkts = [Ether(dst=dmac) / l3(dst, marker=marker) / ext /
                ICMPv6EchoRequest(id=ident, seq=1, data=b"hvnet")]
    sendp(pkts, iface=iface, verbose=False)
    return "sent"


def crafted(iface, case):
    kind = case["kind"]
    if kind in KINDS:
        return one(iface, case["dst"], case["dmac"], case["port"], kind, case["sport"])
    if kind in ICMP_KINDS:
        return icmp_error(iface, case["src"], case["dst"], case["dmac"], kind, case["marker"],
                          case["sport"])
    return echo_frags(iface, case["dst"], case["dmac"], kind, case["marker"])


def run_from(cases_json):
    """Every case of one source guest: in its namespace, a thread each."""
    iface, cases = json.loads(cases_json)
    subprocess.run(["nft", "-f", "-"], input=RST_DROP, text=True, check=True)
    res = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(cases))) as ex:
            futs = {ex.submit(crafted, iface, c): c["name"] for c in cases}
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
            for fam in (False, True):
                a = [a.split("/")[0] for a in n["ips"] if (":" in a) == fam]
                if a:
                    out.append((g["name"], g["instance"], n["name"], n["segment"], a[0]))
    return out


def mac_of(ns, iface):
    with open("/dev/null") as null:
        return subprocess.run(["ip", "netns", "exec", ns, "cat",
                               "/sys/class/net/%s/address" % iface],
                              capture_output=True, text=True, stdin=null,
                              check=True).stdout.strip()


def arrivals(pcap):
    """{(SRC, MARKER): [WHAT]} of a destination's capture: WHAT is ("frag",
    OFFSET) for a fragment (an IPv4 fragment, or an IPv6 packet with a
    fragment header), "icmp-error" for an ICMP or ICMPv6 error, "echo" for
    an unfragmented echo request."""
    from scapy.all import (ICMP, ICMPv6DestUnreach, ICMPv6EchoRequest, IP, IPv6,
                           IPv6ExtHdrFragment, rdpcap)
    out = {}
    for p in rdpcap(pcap):
        if IP in p:
            ip, marker = p[IP], p[IP].id
            if ip.frag or ip.flags.MF:
                what = ("frag", ip.frag * 8)
            elif ICMP in p and p[ICMP].type == 3:
                what = "icmp-error"
            else:
                continue
        elif IPv6 in p:
            ip, marker = p[IPv6], p[IPv6].fl
            if IPv6ExtHdrFragment in p:
                what = ("frag", p[IPv6ExtHdrFragment].offset * 8)
            elif ICMPv6DestUnreach in p:
                what = "icmp-error"
            elif ICMPv6EchoRequest in p:
                what = "echo"
            else:
                continue
        else:
            continue
        out.setdefault((str(ipaddress.ip_address(ip.src)), marker), []).append(what)
    return out


def outcome(kind, seen):
    """The outcome of a case seen at its destination (SEEN: its arrivals)."""
    if kind in ICMP_KINDS:
        return "delivered" if "icmp-error" in seen else "dropped"
    if kind in ("hbh-ping", "dstopt-ping"):
        return "delivered" if "echo" in seen else "dropped"
    offs = {w[1] for w in seen if isinstance(w, tuple)}
    if kind == "frag-atomic":
        # the kernel's reassembly makes a datagram of it, sent on without
        # the fragment header: delivered all the same
        return "delivered" if offs == {0} or "echo" in seen else "dropped"
    if kind in ("frag-later", "frag-first"):
        return "all" if offs else "none"
    if not offs:
        return "none"
    if offs == {0}:
        return "first"
    return "all" if 0 in offs and len(offs) >= 2 else "some"


def craft(lab, out_path):
    gs = guests(lab)
    servers, caps, res, pending = [], [], {}, {}
    tmp = tempfile.mkdtemp(prefix="nftcraft.")
    marker = random.randint(0x1000, 0x4000)
    # the crafted TCP connections' source ports, distinct: a log line names
    # its case by addresses and ports
    sports = iter(random.sample(range(20000, 60001), 4096))
    tcpkeys = {}
    try:
        for _, ns, _, _, a in gs:
            p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", PROBE,
                                  "serve", a] + [str(x) for x in PORTS],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            servers.append(p)
        for p in servers:
            if p.stdout.readline().strip() != "serving":
                sys.exit("an echo server did not start")
        # what reaches each guest
        for name, ns, nic in sorted({(g[0], g[1], g[2]) for g in gs}):
            pcap = os.path.join(tmp, "%s-%s.pcap" % (name, nic))
            errf = open(pcap + ".err", "w")
            c = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", nic, "-Q", "in",
                                  "-U", "-w", pcap, "not", "arp"],
                                 stdout=subprocess.DEVNULL, stderr=errf)
            caps.append((name, pcap, c))
            for _ in range(50):
                with open(pcap + ".err") as f:
                    if "listening on" in f.read():
                        break
                time.sleep(0.1)
            else:
                sys.exit("tcpdump in %s did not start" % ns)
        runs = []
        for sname in sorted({g[0] for g in gs}):
            cases = []
            for _, sns, sif, sseg, saddr in [g for g in gs if g[0] == sname]:
                for dname, dns, dif, dseg, daddr in gs:
                    if dname == sname or dseg != sseg or (":" in daddr) != (":" in saddr):
                        continue
                    dmac = mac_of(dns, dif)
                    name = "%s -> %s (%s)" % (sname, dname, daddr)
                    for port in PORTS:
                        for k in KINDS:
                            sport = next(sports)
                            tcpkeys["%s tcp/%d %s" % (name, port, k)] = [
                                "tcp", str(ipaddress.ip_address(saddr)),
                                str(ipaddress.ip_address(daddr)), sport, port]
                            cases.append({"name": "%s tcp/%d %s" % (name, port, k), "kind": k,
                                          "sport": sport,
                                          "dst": daddr, "dmac": dmac, "port": port})
                    for k in ICMP_KINDS + FRAG_KINDS + (V6_KINDS if ":" in daddr else []):
                        marker += 1
                        cases.append({"name": "%s %s" % (name, k), "kind": k, "src": saddr,
                                      "dst": daddr, "dmac": dmac, "marker": marker,
                                      "sport": next(sports)})
                        pending[cases[-1]["name"]] = (k, dname, saddr, marker)
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
        time.sleep(WAIT)
    finally:
        for p in servers:
            p.kill()
            p.wait()
        for _, _, c in caps:
            c.send_signal(signal.SIGINT)
            c.wait()
    seen = {}
    for name, pcap, _ in caps:
        for (src, m), what in arrivals(pcap).items():
            seen[(name, src, m)] = what
    shutil.rmtree(tmp)
    for case, (kind, dname, saddr, m) in pending.items():
        if res.get(case) == "sent":
            res[case] = outcome(kind, seen.get((dname, str(ipaddress.ip_address(saddr)), m), []))
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    with open(out_path[:-len(".json")] + ".tcpkeys.json", "w") as f:
        json.dump(tcpkeys, f, indent=1, sort_keys=True)
    print("%d crafted cases, %d answered, %d delivered" %
          (len(res), sum(v == "answered" for v in res.values()),
           sum(v in ("delivered", "all") for v in res.values())))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "from":
        run_from(sys.argv[2])
    elif len(sys.argv) == 3:
        craft(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
