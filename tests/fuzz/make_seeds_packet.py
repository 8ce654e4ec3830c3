#!/usr/bin/python3
# Regenerate the seed frames in tests/fuzz/corpus/packet/ (valid frames of
# each kind and a few malformed ones). Crashers found later are added beside
# them by hand, named crash-<what>.
import os
import sys
from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1AD, Dot1Q, Ether, ICMPv6EchoRequest, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, Raw)

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "packet")
E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
seeds = {
    "arp": Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2"),
    "ipv4-tcp-syn": E / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80, flags="S", options=[("MSS", 1460)]),
    "ipv4-udp": E / IP() / UDP(sport=53, dport=53) / Raw(b"q" * 12),
    "ipv4-icmp-echo": E / IP() / ICMP(id=7, seq=1),
    "ipv4-options": E / IP(options=b"\x01\x01\x07\x07\x04\x00\x00\x00\x00\x00\x00\x00") / UDP(),
    "ipv4-frag-first": E / IP(flags="MF", frag=0) / UDP() / Raw(b"a" * 16),
    "ipv4-frag-later": E / IP(frag=3, proto=17) / Raw(b"b" * 16),
    "ipv6-tcp": E / IPv6() / TCP(flags="SA"),
    "ipv6-ext-chain": E / IPv6() / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() / IPv6ExtHdrFragment(m=1) / UDP(),
    "ipv6-icmp6-echo": E / IPv6() / ICMPv6EchoRequest(id=9),
    "vlan1": E / Dot1Q(vlan=10) / IP() / UDP(),
    "qinq": Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1AD(vlan=20) / Dot1Q(vlan=10) / IP() / ICMP(),
    "lldp": Ether(src="02:00:00:00:00:01", dst="01:80:c2:00:00:0e", type=0x88cc) / Raw(b"\x02\x07\x04" + b"\x00" * 20),
}
raw = {name: bytes(p) for name, p in seeds.items()}
raw["runt"] = raw["ipv4-udp"][:9]
raw["ipv4-bad-ihl"] = raw["ipv4-udp"][:14] + b"\x43" + raw["ipv4-udp"][15:]
raw["ipv4-total-len-long"] = raw["ipv4-udp"][:16] + b"\xff\xff" + raw["ipv4-udp"][18:]
raw["tcp-bad-doff"] = raw["ipv4-tcp-syn"][:46] + b"\x10" + raw["ipv4-tcp-syn"][47:]
raw["vlan3"] = raw["qinq"][:12] + b"\x81\x00\x00\x01" + raw["qinq"][12:]
raw["ipv6-cut"] = raw["ipv6-tcp"][:50]
os.makedirs(out, exist_ok=True)
for name, b in raw.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b)
print("%d seeds in %s" % (len(raw), out))
