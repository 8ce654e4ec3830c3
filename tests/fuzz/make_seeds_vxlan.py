#!/usr/bin/python3
# Regenerate the seed frames in tests/fuzz/corpus/vxlan/: what an uplink
# receives, for the two-host overlay of fuzz_vxlan.c (host B 192.0.2.2,
# VNIs 300 and 100, peer 192.0.2.1): valid VXLAN (ICMP, ARP and VLAN-tagged
# inner frames, reserved bits set, outer padding), ARP for the VTEP, and the
# drops: truncated, no I flag, unknown VNI, unknown VTEP, nested VXLAN, wrong
# UDP port, fragment, bad checksum. Built with struct alone, no scapy.
# Crashers found later are added beside them by hand, named crash-<what>.
import os
import struct
import sys

A_MAC, B_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
A_IP, B_IP = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
G1, G2 = bytes.fromhex("525400000001"), bytes.fromhex("525400000002")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(src, dst, proto, payload, flags=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, flags, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def vxlan(vni, inner, flags=0x08, rsv=b"\0\0\0", last=0):
    return bytes([flags]) + rsv + struct.pack("!I", vni << 8 | last) + inner


def outer(inner, vni=300, src=A_IP, dst=B_IP, port=4789, **kw):
    return B_MAC + A_MAC + b"\x08\x00" + ipv4(src, dst, 17, udp(50000, port, vxlan(vni, inner, **kw)))


def icmp_echo():
    body = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"hvnet"
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    return G2 + G1 + b"\x08\x00" + ipv4(bytes([10, 30, 0, 1]), bytes([10, 30, 0, 2]), 1, body, 0)


def arp(op, sha, spa, tpa, dst=b"\xff" * 6):
    return dst + sha + b"\x08\x06" + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, spa, b"\0" * 6, tpa)


seeds = {
    "vxlan-icmp": outer(icmp_echo()),
    "vxlan-arp": outer(arp(1, G1, bytes([10, 30, 0, 1]), bytes([10, 30, 0, 2]))),
    "vxlan-vni100": outer(icmp_echo(), vni=100),
    "vxlan-inner-vlan": outer(G2 + G1 + b"\x81\x00\x00\x05" + icmp_echo()[12:]),
    "vxlan-reserved": outer(icmp_echo(), flags=0x8c, rsv=b"\x01\x02\x03", last=7),
    "vxlan-padded": outer(icmp_echo()) + b"\0" * 30,
    "arp-who-has-vtep": arp(1, A_MAC, A_IP, B_IP),
    "arp-reply-peer": arp(2, A_MAC, A_IP, B_IP, dst=B_MAC),
    "drop-truncated": outer(icmp_echo())[:46],
    "drop-no-i-flag": outer(icmp_echo(), flags=0),
    "drop-unknown-vni": outer(icmp_echo(), vni=301),
    "drop-unknown-vtep": outer(icmp_echo(), src=bytes([192, 0, 2, 9])),
    "drop-nested": outer(outer(icmp_echo())),
    "drop-port-8472": outer(icmp_echo(), port=8472),
    "drop-not-local": outer(icmp_echo(), dst=bytes([192, 0, 2, 7])),
    "drop-fragment": B_MAC + A_MAC + b"\x08\x00" + ipv4(A_IP, B_IP, 17, udp(1, 4789, vxlan(300, icmp_echo())), 0x2000),
    "drop-bad-ip-csum": outer(icmp_echo())[:24] + b"\xde\xad" + outer(icmp_echo())[26:],
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "vxlan")
os.makedirs(out, exist_ok=True)
for name, frame in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(frame)
