#!/usr/bin/python3
# Regenerate the gateway seeds: ARP requests and replies, neighbour
# solicitations (one from ::, duplicate address detection) and
# advertisements, into tests/fuzz/corpus/reply/ (what the gateway answers) and,
# prefixed with 27 bytes of port bindings, tests/fuzz/corpus/portsec/ (forged
# and honest frames). Built with struct alone, no scapy.
import os
import struct
import sys

GUEST = bytes.fromhex("52540000000a")
OTHER = bytes.fromhex("52540000000b")
GWMAC = bytes.fromhex("026876010203")
BCAST = b"\xff" * 6
IP4 = bytes([10, 30, 0, 11])
IP4_OTHER = bytes([10, 30, 0, 12])
IP4_GW = bytes([10, 30, 0, 1])
IP6 = bytes.fromhex("fd000030000000000000000000000011")
IP6_OTHER = bytes.fromhex("fd000030000000000000000000000012")
IP6_GW = bytes.fromhex("fd000030000000000000000000000001")
UNSPEC = bytes(16)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def arp(op, sha, spa, tpa, src=GUEST, dst=BCAST):
    return dst + src + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + \
        sha + spa + bytes(6) + tpa


def snm(a):
    return bytes.fromhex("ff0200000000000000000001ff") + a[13:]


def nd(typ, src_ip, dst_ip, target, flags=0, hop=255, src=GUEST, dst=None, opt=True):
    body = struct.pack("!BBHI", typ, 0, 0, flags) + target
    if opt:
        body += bytes([1 if typ == 135 else 2, 1]) + src
    pseudo = src_ip + dst_ip + struct.pack("!I3xB", len(body), 58)
    body = body[:2] + struct.pack("!H", csum(pseudo + body)) + body[4:]
    if dst is None:
        dst = b"\x33\x33" + dst_ip[12:]
    ip = struct.pack("!IHBB", 0x60000000, len(body), 58, hop) + src_ip + dst_ip
    return dst + src + b"\x86\xdd" + ip + body


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    frames = {
        "gw-arp-request": arp(1, GUEST, IP4, IP4_GW),
        "gw-arp-probe": arp(1, GUEST, bytes(4), IP4),
        "gw-arp-reply-forged": arp(2, GUEST, IP4_OTHER, IP4_GW, dst=GWMAC),
        "gw-arp-reply": arp(2, GUEST, IP4, IP4_GW, dst=GWMAC),
        "gw-nd-ns": nd(135, IP6, snm(IP6_GW), IP6_GW),
        "gw-nd-ns-dad": nd(135, UNSPEC, snm(IP6), IP6, opt=False),
        "gw-nd-ns-hop64": nd(135, IP6, snm(IP6_GW), IP6_GW, hop=64),
        "gw-nd-na": nd(136, IP6, IP6_GW, IP6, flags=0x60000000, dst=GWMAC),
        "gw-nd-na-forged": nd(136, IP6, bytes.fromhex("ff020000000000000000000000000001"),
                              IP6_OTHER, flags=0x20000000),
        "gw-nd-ns-short": nd(135, IP6, snm(IP6_GW), IP6_GW)[:14 + 40 + 20],
    }
    # bindings: flags (on, mac, ipv4, ipv6), the MAC, the IPv4 and IPv6 address
    bind = bytes([0x0f]) + GUEST + IP4 + IP6
    for d in ("reply", "portsec"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for name, f in frames.items():
        with open(os.path.join(root, "reply", name), "wb") as out:
            out.write(f)
        with open(os.path.join(root, "portsec", name), "wb") as out:
            out.write(bind + f)
    with open(os.path.join(root, "portsec", "gw-off"), "wb") as out:
        out.write(bytes([0]) + GUEST + IP4 + IP6 + frames["gw-arp-reply-forged"])
    # what a remote VTEP may send about a gateway (hv_gw_from_vtep): the
    # bindings are then the gateway's MAC and addresses
    gw_ll6 = bytes.fromhex("fe80000000000000") + bytes([GWMAC[0] ^ 2]) + GWMAC[1:3] + \
        b"\xff\xfe" + GWMAC[3:]
    ip4h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0x4000, 63, 1, 0,
                       bytes([10, 10, 0, 5]), IP4)
    ip4h = ip4h[:10] + struct.pack("!H", csum(ip4h)) + ip4h[12:]
    routed = GUEST + GWMAC + b"\x08\x00" + ip4h + bytes([8, 0, 0xf7, 0xfe, 0, 1, 0, 0])
    vtep = {
        "vtep-gw-arp-request": arp(1, GWMAC, IP4_GW, IP4, src=GWMAC),
        "vtep-gw-arp-reply-forged": arp(2, GWMAC, IP4_GW, IP4, src=GWMAC, dst=GUEST),
        "vtep-gw-ns": nd(135, gw_ll6, snm(IP6), IP6, src=GWMAC),
        "vtep-gw-routed": routed,
        "vtep-gw-routed-tagged": routed[:12] + b"\x81\x00\x00\x05" + routed[12:],
        "vtep-gw-routed-short": routed[:30],
        "vtep-arp-reply": arp(2, GUEST, IP4, IP4_GW, dst=GWMAC),
        "vtep-nd-na": nd(136, IP6, gw_ll6, IP6, flags=0x60000000, dst=GWMAC),
    }
    for name, f in vtep.items():
        with open(os.path.join(root, "portsec", name), "wb") as out:
            out.write(bytes([0x0f]) + GWMAC + IP4_GW + IP6_GW + f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
