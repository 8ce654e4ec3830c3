#!/usr/bin/python3
# Regenerate the seed frames in tests/fuzz/corpus/reply/: originals the reply
# builders answer (TCP, UDP, ICMP echo; IPv4 and IPv6; with VLAN tags; longer
# than the ICMP quote caps) and some they must refuse (an ICMP error, a later
# fragment, a multicast destination). Built with struct alone, no scapy.
# Crashers found later are added beside them by hand, named crash-<what>.
import os
import struct
import sys

GUEST = bytes.fromhex("02000000000a")
PEER = bytes.fromhex("02000000000b")
IP4_GUEST, IP4_PEER = bytes([10, 0, 0, 1]), bytes([192, 0, 2, 7])
IP6_GUEST = bytes.fromhex("20010db8000000000000000000000001")
IP6_PEER = bytes.fromhex("20010db8000100000000000000000007")
IP6_ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def eth(ethertype, dst=PEER, tags=()):
    b = dst + GUEST
    for tpid, tci in tags:
        b += struct.pack("!HH", tpid, tci)
    return b + struct.pack("!H", ethertype)


def ip4(proto, payload, src=IP4_GUEST, dst=IP4_PEER, frag=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def ip6(next_hdr, payload, src=IP6_GUEST, dst=IP6_PEER):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), next_hdr, 64, src, dst) + payload


def tcp(flags, seq=1000, ack=0, data=b""):
    return struct.pack("!HHIIBBHHH", 40000, 443, seq, ack, 0x50, flags, 65535, 0, 0) + data


def udp(data):
    return struct.pack("!HHHH", 5353, 53, 8 + len(data), 0) + data


def icmp(type_, code=0, data=b""):
    return struct.pack("!BBHHH", type_, code, 0, 7, 1) + data


Q, AD = 0x8100, 0x88a8
seeds = {
    "ipv4-tcp-syn": eth(0x0800) + ip4(6, tcp(0x02)),
    "ipv4-tcp-ack-data": eth(0x0800) + ip4(6, tcp(0x18, 5000, 7000, b"GET / HTTP/1.1\r\n\r\n")),
    "ipv4-tcp-fin-padded": eth(0x0800) + ip4(6, tcp(0x01, 77)) + b"\0" * 6,
    "ipv4-tcp-rst": eth(0x0800) + ip4(6, tcp(0x04)),
    "ipv6-tcp-ack": eth(0x86dd) + ip6(6, tcp(0x10, 1, 2, b"x" * 40)),
    "ipv4-udp": eth(0x0800) + ip4(17, udp(b"q" * 30)),
    "ipv4-udp-long": eth(0x0800) + ip4(17, udp(bytes(range(256)) * 3)),
    "ipv6-udp-long": eth(0x86dd) + ip6(17, udp(bytes(range(256)) * 6)),
    "ipv4-icmp-echo": eth(0x0800) + ip4(1, icmp(8, 0, b"p" * 56)),
    "ipv6-icmp6-echo": eth(0x86dd) + ip6(58, icmp(128, 0, b"p" * 56)),
    "vlan-ipv4-tcp-syn": eth(0x0800, tags=[(Q, 42)]) + ip4(6, tcp(0x02)),
    "qinq-ipv6-udp": eth(0x86dd, tags=[(AD, 300), (Q, 42)]) + ip6(17, udp(b"d" * 20)),
    "ipv4-icmp-unreach": eth(0x0800) + ip4(1, icmp(3, 3, ip4(17, udp(b"")))),
    "ipv4-frag-later": eth(0x0800) + ip4(17, b"f" * 64, frag=0x2000 | 185),
    "ipv6-mcast-udp": eth(0x86dd, dst=bytes.fromhex("333300000001")) + ip6(17, udp(b"m" * 1300), dst=IP6_ALL_NODES),
    "ipv6-frag-first": eth(0x86dd) + ip6(44, struct.pack("!BBHI", 17, 0, 1, 0xabcd) + udp(b"z" * 100)),
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "reply")
os.makedirs(out, exist_ok=True)
for name, b in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b)
print("%d seeds in %s" % (len(seeds), out))
