#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Probe every guest-to-address path of a lab that is up, for the
differential test of hvnetd against the kernel datapath (test_nft_diff.sh).

  nftdiff.py probe LAB OUT.json
      Echo servers (fwprobe.py serve) on every address of every guest, on
      PORTS (TCP and UDP); then from every guest to every address of every
      other guest: ping (echo request), TCP to TCP_PORTS, UDP to UDP_PORTS.
      Writes {"CASE": "VERDICT"}: delivered, rejected (a TCP RST or ICMP
      port unreachable came back) or blocked.
  nftdiff.py ct LAB hvnetd|kernel HVNETCTL OUT.json
      The connections the datapath tracks between the lab's guests, right
      after a probe: hvnetd's `ct list`, or the kernel's conntrack table in
      the switch namespace (conntrack -L). Writes {"PROTO SRC -> DST PORT":
      "STATE"}: TCP states by nf_conntrack's names, UDP and ICMP echo
      replied or unreplied; several connections of one key are listed
      together.
  nftdiff.py logmark LAB HVNETCTL LOG
      The number of lines of hvnetd's log-file LOG, once its writer has
      caught up: run before a probe, for `logs`'s SKIP.
  nftdiff.py logs LAB hvnetd|kernel HVNETCTL LOG OUT.json [SKIP]
      Which rule logged each case of the last probe: LOG is hvnetd's
      log-file (JSON lines, the first SKIP skipped: those before the probe)
      or the kernel lab's NFLOG capture (tcpdump -w -i nflog:1 in the
      switch namespace, during the probe). Writes {"CASE": "RULE,..."|"-"},
      a case found by its source guest, kind, destination address and port;
      lines of no probe get a key "(no probe) PROTO SRC -> DST DETAIL".
  nftdiff.py craftlogs KEYS.json hvnetd|kernel LAB HVNETCTL LOG OUT.json [SKIP]
      The same for the crafted TCP cases of nftcraft.py, found by the
      addresses and ports in KEYS.json (OUT.tcpkeys.json of nftcraft.py).
  nftdiff.py compare A.json B.json NAME_A NAME_B
      Prints every case whose outcome differs; exit 1 if any does, except
      the known difference (A rejected a UDP probe with an ICMP error, B
      dropped it: the kernel sends no ICMP reject for bridged packets),
      which is counted on the last line.

The lab's guests, namespaces and addresses come from its state file
(/run/hvnet/labs/LAB/state.json), the same for both datapaths.
"""
import concurrent.futures
import ipaddress
import json
import os
import struct
import subprocess
import sys
import time

TCP_PORTS = [22, 80, 8080]
UDP_PORTS = [53, 8080]
PORTS = sorted(set(TCP_PORTS + UDP_PORTS))
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fwprobe.py")


def guests(lab):
    with open("/run/hvnet/labs/%s/state.json" % lab) as f:
        st = json.load(f)
    out = []
    for g in st["guests"]:
        addrs = [a.split("/")[0] for n in g["nics"] for a in n["ips"]]
        segs = sorted({n["segment"] for n in g["nics"]})
        out.append((g["name"], g["instance"], addrs, segs))
    return out


def verdict(out):
    """What a guest sees, as a verdict: the echo came back (delivered), the
    firewall answered for the destination (rejected: a TCP RST, or an ICMP
    port unreachable, which fwprobe reports as refused), or nothing did
    (blocked: a timeout, or no neighbour across segments, which the guest
    reports as a timeout or EHOSTUNREACH depending on its ARP cache)."""
    if out == "echoed":
        return "delivered"
    if out in ("refused", "reset"):
        return "rejected"
    return "blocked"


def probe_one(kind, addr, port):
    """Runs in the source guest's namespace (see probe_from)."""
    if kind == "ping":
        fam = "-6" if ":" in addr else "-4"
        rc = subprocess.run(["ping", fam, "-c", "1", "-W", "1.5", addr],
                            capture_output=True).returncode
        return "delivered" if rc == 0 else "blocked"
    sys.path.insert(0, os.path.dirname(PROBE))
    import fwprobe
    fn = fwprobe.tcp if kind == "tcp" else fwprobe.udp
    return verdict(fn(addr, port, 1.5))


def probe_from(cases_json):
    """Every case of one source guest at once: one process in its namespace,
    a thread per case, so that timeouts overlap and the machine stays idle
    enough for hvnetd's polling core."""
    cases = json.loads(cases_json)
    res = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(cases))) as ex:
        futs = {ex.submit(probe_one, k, a, p): c for c, k, a, p in cases}
        for f in concurrent.futures.as_completed(futs):
            res[futs[f]] = f.result()
    print(json.dumps(res))


def case_list(gs):
    """The cases of every source guest: [(NAMESPACE, [(CASE, KIND, ADDR,
    PORT, SOURCE GUEST)])], KIND ping (PORT 0), tcp or udp."""
    out = []
    for sname, sns, saddrs, ssegs in gs:
        cases = []
        sfams = {":" in a for a in saddrs}
        for dname, _, daddrs, dsegs in gs:
            if dname == sname:
                continue
            for a in daddrs:
                # what the case crosses: another segment (routed by a
                # gateway), or a family the source has no address of
                # (reached from its link-local address on an on-link
                # prefix a router advertisement announced)
                tag = ""
                if not set(ssegs) & set(dsegs):
                    tag += " [%s>%s]" % (",".join(ssegs), ",".join(dsegs))
                if (":" in a) not in sfams:
                    tag += " [link-local source]"
                name = "%s -> %s (%s)" % (sname, dname, a)
                cases.append(("%s ping%s" % (name, tag), "ping", a, 0, sname))
                for kind, ports in (("tcp", TCP_PORTS), ("udp", UDP_PORTS)):
                    for port in ports:
                        cases.append(("%s %s/%d%s" % (name, kind, port, tag), kind, a, port,
                                      sname))
        out.append((sns, cases))
    return out


def probe(lab, out_path):
    gs = guests(lab)
    servers = []
    res = {}
    try:
        for name, ns, addrs, _ in gs:
            for a in addrs:
                p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", PROBE,
                                      "serve", a] + [str(x) for x in PORTS],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
                servers.append(p)
        for p in servers:
            if p.stdout.readline().strip() != "serving":
                sys.exit("an echo server did not start")
        runs = []
        for sns, cases in case_list(gs):
            runs.append(subprocess.Popen(["ip", "netns", "exec", sns, "/usr/bin/python3",
                                          os.path.abspath(__file__), "from",
                                          json.dumps([c[:4] for c in cases])],
                                         stdout=subprocess.PIPE, text=True))
        for r in runs:
            out, _ = r.communicate(timeout=60)
            res.update(json.loads(out))
    finally:
        for p in servers:
            p.kill()
            p.wait()
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    passed = sum(1 for v in res.values() if v == "delivered")
    print("%d cases, %d delivered" % (len(res), passed))


def ct_key(proto, src, dst, dport):
    return "%s %s -> %s %s" % (proto, src, dst, dport)


def ct_hvnetd(lab, hvnetctl):
    out = subprocess.run([hvnetctl, "-i", "lab-" + lab, "--json", "ct", "list"],
                         capture_output=True, text=True, check=True).stdout
    flows = []
    for c in json.loads(out)["connections"]:
        port = c.get("dport", "echo") if c["proto"] in ("tcp", "udp") else "echo"
        flows.append((ct_key(c["proto"], c["src"], c["dst"], port), c["state"]))
    return flows


def ct_kernel(lab):
    out = subprocess.run(["ip", "netns", "exec", lab + ".switch", "conntrack", "-L"],
                         capture_output=True, text=True, check=True).stdout
    flows = []
    for line in out.splitlines():
        w = line.split()
        if not w or w[0] not in ("tcp", "udp", "icmp", "icmpv6"):
            continue
        kv = {}
        for x in w:
            if "=" in x:
                k, v = x.split("=", 1)
                kv.setdefault(k, v)  # the first of each: the original direction
        if w[0] == "tcp":
            state = w[3].lower()
        else:
            state = "unreplied" if "[UNREPLIED]" in w else "replied"
        port = kv.get("dport", "echo") if w[0] in ("tcp", "udp") else "echo"
        flows.append((ct_key(w[0], kv["src"], kv["dst"], port), state))
    return flows


def ct(lab, datapath, hvnetctl, out_path):
    seg_of = {a: set(sg) for _, _, aa, sg in guests(lab) for a in aa}
    flows = ct_hvnetd(lab, hvnetctl) if datapath == "hvnetd" else ct_kernel(lab)
    res = {}
    for key, state in flows:
        _, src, _, dst, _ = key.split(" ", 4)
        # between the lab's guests, within a segment or routed between two
        if src in seg_of and dst in seg_of:
            res.setdefault(key, []).append(state)
    res = {k: ",".join(sorted(v)) for k, v in res.items()}
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    print("%d connections" % len(res))


def norm(addr):
    return str(ipaddress.ip_address(addr))


def ip_summary(pkt):
    """(PROTO, SRC, DST, DETAIL, SPORT) of an IPv4 or IPv6 packet, DETAIL
    the destination port (TCP, UDP) or "type N" (ICMP, ICMPv6), SPORT the
    source port (0 for other protocols); a non-first fragment has no ports
    (DETAIL 0), as in hvnetd's log. None when the packet is too short to
    say."""
    if len(pkt) >= 20 and pkt[0] >> 4 == 4:
        ihl = (pkt[0] & 15) * 4
        proto, src, dst = pkt[9], pkt[12:16], pkt[16:20]
        frag = struct.unpack(">H", pkt[6:8])[0] & 0x1fff
        l4 = pkt[ihl:] if not frag else b""
    elif len(pkt) >= 40 and pkt[0] >> 4 == 6:
        proto, src, dst, off, first = pkt[6], pkt[8:24], pkt[24:40], 40, True
        # extension headers: hop-by-hop, routing, fragment, destination
        # options, AH
        while proto in (0, 43, 44, 51, 60) and off + 8 <= len(pkt):
            nxt = pkt[off]
            if proto == 44:
                first = first and (struct.unpack(">H", pkt[off + 2:off + 4])[0] & 0xfff8) == 0
                off += 8
            elif proto == 51:
                off += (pkt[off + 1] + 2) * 4
            else:
                off += (pkt[off + 1] + 1) * 8
            proto = nxt
        l4 = pkt[off:] if first else b""
    else:
        return None
    name = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}.get(proto, str(proto))
    sport = 0
    if proto in (6, 17):
        detail = struct.unpack(">H", l4[2:4])[0] if len(l4) >= 4 else 0
        sport = struct.unpack(">H", l4[0:2])[0] if len(l4) >= 4 else 0
    elif proto in (1, 58):
        detail = "type %d" % l4[0] if l4 else 0
    else:
        detail = 0
    return (name, norm(ipaddress.ip_address(src)), norm(ipaddress.ip_address(dst)), detail,
            sport)


def nflog_lines(pcap):
    """[(RULE, PROTO, SRC, DST, DETAIL, SPORT)] of the kernel's log: the NFLOG
    records of a pcap file (tcpdump -w, link type NFLOG), each an nflog
    header (family, version, group) and TLVs in the writer's byte order,
    the prefix (NFULA_PREFIX, "RULE-ID: ") and the IP packet (NFULA_PAYLOAD)
    among them."""
    with open(pcap, "rb") as f:
        data = f.read()
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif data[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        sys.exit("%s: not a pcap file" % pcap)
    if len(data) < 24 or struct.unpack(e + "I", data[20:24])[0] != 239:
        sys.exit("%s: not an NFLOG capture (link type 239)" % pcap)
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        rec = data[off + 16:off + 16 + incl]
        off += 16 + incl
        prefix, payload, i = None, b"", 4
        while i + 4 <= len(rec):
            tl, tt = struct.unpack(e + "HH", rec[i:i + 4])
            if tl < 4:
                break
            if tt == 10:  # NFULA_PREFIX
                prefix = rec[i + 4:i + tl].split(b"\0")[0].decode(errors="replace")
            elif tt == 9:  # NFULA_PAYLOAD
                payload = rec[i + 4:i + tl]
            i += (tl + 3) & ~3
        summ = ip_summary(payload)
        rule = prefix[:-2] if prefix and prefix.endswith(": ") else prefix
        if summ:
            out.append((rule,) + summ)
    return out


def hvnetd_flushed(lab, hvnetctl):
    """hvnetd's log counters once its writer has written every line
    submitted (at most 5 s)."""
    for _ in range(50):
        out = subprocess.run([hvnetctl, "-i", "lab-" + lab, "--json", "fw", "show"],
                             capture_output=True, text=True, check=True).stdout
        ls = json.loads(out).get("log")
        if ls is None:
            sys.exit("hvnetd has no log-file open")
        if ls["written"] + ls["dropped_full"] >= ls["submitted"]:
            break
        time.sleep(0.1)
    return ls


def log_mark(lab, hvnetctl, path):
    """How many lines hvnetd's log-file has, once flushed: the lines before
    a probe, which `logs` skips (the kernel's log is read during the probe
    only)."""
    hvnetd_flushed(lab, hvnetctl)
    with open(path) as f:
        print(sum(1 for _ in f))


def hvnetd_lines(lab, hvnetctl, path, skip=0):
    """[(RULE, PROTO, SRC, DST, DETAIL, SPORT)] of hvnetd's log-file past its first
    SKIP lines, once flushed; exits when a line was lost (a full ring or the
    rate limit: the test raises the rates so that every probe is logged)."""
    ls = hvnetd_flushed(lab, hvnetctl)
    if ls["dropped_full"] or ls["rate_limited"]:
        sys.exit("hvnetd lost log lines: %s" % ls)
    out = []
    with open(path) as f:
        for i, line in enumerate(f):
            if i < skip:
                continue
            r = json.loads(line)
            if "dport" in r:
                detail = r["dport"]
            elif "icmp_type" in r:
                detail = "type %d" % r["icmp_type"]
            else:
                detail = 0
            out.append((r["rule"], r["proto"], norm(r["src"]), norm(r["dst"]), detail,
                        r.get("sport", 0)))
    return out


def logs(lab, datapath, hvnetctl, src, out_path, skip="0"):
    """Which rule logged each case (nftdiff.py logs): every case of the
    probe gets the ids of the rules that logged a packet of it, or "-";
    log lines of no probe are listed by what they carry."""
    gs = guests(lab)
    owner = {}
    for name, ns, addrs, _ in gs:
        for a in addrs:
            owner[norm(a)] = name
        # link-local sources (a family the guest has no address of)
        out = subprocess.run(["ip", "-n", ns, "-j", "addr", "show"], capture_output=True,
                             text=True, check=True).stdout
        for link in json.loads(out):
            for a in link.get("addr_info", []):
                owner.setdefault(norm(a["local"]), name)
    index = {}
    for _, cases in case_list(gs):
        for case, kind, addr, port, sname in cases:
            index[(sname, kind, norm(addr), port)] = case
    lines = hvnetd_lines(lab, hvnetctl, src, int(skip)) if datapath == "hvnetd" else \
        nflog_lines(src)
    res = {c: set() for c in index.values()}
    for rule, proto, s, d, detail, _ in lines:
        kind = "ping" if detail in ("type 8", "type 128") else proto
        key = (owner.get(s), kind, d, 0 if kind == "ping" else detail)
        if key in index:
            res[index[key]].add(rule)
        else:
            res.setdefault("(no probe) %s %s -> %s %s" % (proto, s, d, detail), set()).add(rule)
    res = {k: ",".join(sorted(v)) or "-" for k, v in res.items()}
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    print("%d log lines: %d of %d cases logged" %
          (len(lines), sum(v != "-" for k, v in res.items() if k in index.values()), len(index)))


def craft_logs(keys_path, datapath, lab, hvnetctl, src, out_path, skip="0"):
    """Which rule logged each crafted TCP case of nftcraft.py (its
    .tcpkeys.json: [PROTO, SRC, DST, SPORT, DPORT] a case): the ids of the
    rules that logged a packet of the case's connection, or "-"."""
    with open(keys_path) as f:
        keys = json.load(f)
    index = {tuple(v): c for c, v in keys.items()}
    lines = hvnetd_lines(lab, hvnetctl, src, int(skip)) if datapath == "hvnetd" else \
        nflog_lines(src)
    res = {c: set() for c in keys}
    for rule, proto, s, d, detail, sport in lines:
        case = index.get((proto, s, d, sport, detail))
        if case:
            res[case].add(rule)
    res = {k: ",".join(sorted(v)) or "-" for k, v in res.items()}
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    print("%d crafted TCP cases, %d logged" % (len(res), sum(v != "-" for v in res.values())))


def known(case, va, vb):
    """The differences docs/nftables.md lists, by name, or None:
    - reject: for a bridged packet the kernel sends no ICMP error for a
      reject, so a UDP probe that hvnetd answers with port unreachable is
      simply dropped by the kernel.
    - fragment: the kernel reassembles a fragmented datagram before its
      rules see it and passes all of an allowed one; hvnetd decides a
      non-first fragment by rules without ports or ICMP type, so a rule
      like `allow ... icmp/echo-request` passes the first fragment only
      (nftcraft.py frag-ping); the kernel holds a first fragment without
      the rest until its reassembly times out, hvnetd passes it when
      allowed (frag-first)."""
    if " udp/" in case and va == "rejected" and vb == "blocked":
        return "reject"
    if ((case.endswith(" frag-ping") and (va, vb) == ("first", "all")) or
            (case.endswith(" frag-first") and (va, vb) == ("all", "none"))):
        return "fragment"
    return None


def compare(a_path, b_path, an, bn):
    a = json.load(open(a_path))
    b = json.load(open(b_path))
    diff = 0
    kn = {}
    for c in sorted(set(a) | set(b)):
        if a.get(c) == b.get(c):
            continue
        k = known(c, a.get(c), b.get(c))
        if k is not None:
            kn[k] = kn.get(k, 0) + 1
            continue
        print("DIFF %s: %s %s, %s %s" % (c, an, a.get(c), bn, b.get(c)))
        diff += 1
    print("%d cases, %d differ, %d known differences (%s)" %
          (len(set(a) | set(b)), diff, sum(kn.values()),
           ", ".join("%s: %d" % kv for kv in sorted(kn.items())) or "none"))
    return 1 if diff else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "from":
        probe_from(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 6 and sys.argv[1] == "ct":
        ct(*sys.argv[2:])
    elif len(sys.argv) in (7, 8) and sys.argv[1] == "logs":
        logs(*sys.argv[2:])
    elif len(sys.argv) in (8, 9) and sys.argv[1] == "craftlogs":
        craft_logs(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "logmark":
        log_mark(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "compare":
        sys.exit(compare(*sys.argv[2:]))
    else:
        sys.exit(__doc__)
