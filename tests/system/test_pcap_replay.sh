#!/bin/bash
# Replay a capture through a pcap port: every frame read is either forwarded
# (to a pcap tx port in the same segment) or counted as dropped by reason.
. "$(dirname "$0")/lib.sh"
hv_setup

/usr/bin/python3 - "$HV_TMP/in.pcap" <<'PY' || hv_fail "building the input capture"
import sys
from scapy.all import Ether, Dot1Q, IP, IPv6, TCP, UDP, ICMP, Raw
from scapy.utils import PcapWriter
frames = []
for i in range(40):   # forwarded: unicast to an unknown MAC, flooded to 'out'
    frames.append(bytes(Ether(src="02:00:00:00:00:%02x" % (i % 8 + 1), dst="02:00:00:00:99:99") /
                        IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + i, dport=53) / Raw(b"x" * 20)))
for i in range(10):   # forwarded: IPv6 multicast
    frames.append(bytes(Ether(src="02:00:00:00:00:01", dst="33:33:00:00:00:01") /
                        IPv6(src="fe80::1", dst="ff02::1") / TCP(sport=i + 1, dport=80, flags="S")))
for _ in range(5):    # VLAN_NOT_ALLOWED
    frames.append(bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:99:99") / Dot1Q(vlan=10) /
                        IP(src="10.0.0.1", dst="10.0.0.2") / ICMP()))
for _ in range(4):    # runts: 10 bytes, not even an Ethernet header
    frames.append(bytes(Ether(src="02:00:00:00:00:03", dst="02:00:00:00:99:99"))[:10])
for _ in range(3):    # IPv4 header length 12 bytes: below the minimum of 20
    raw = bytearray(bytes(Ether(src="02:00:00:00:00:04", dst="02:00:00:00:99:99") /
                          IP(src="10.0.0.1", dst="10.0.0.2") / UDP()))
    raw[14] = 0x43
    frames.append(bytes(raw))
for _ in range(2):    # SRC_MAC_INVALID: multicast source
    frames.append(bytes(Ether(src="03:00:00:00:00:01", dst="02:00:00:00:99:99") / IP()))
w = PcapWriter(sys.argv[1], linktype=1, sync=True)
for f in frames:
    w.write(f)
w.close()
PY

# one worker: net_pcap queues cannot be shared between workers
hv_start sw --cpus 0 --segment s1
hv_ctl sw port add out pcap s1 tx="$HV_TMP/out.pcap" >/dev/null || hv_fail "add out"
hv_ctl sw port add in pcap s1 rx="$HV_TMP/in.pcap" >/dev/null || hv_fail "add in"
for _ in $(seq 50); do
	[ "$(hv_json sw 'r["rx_packets"]' port show in)" -ge 64 ] && break
	sleep 0.1
done
sleep 0.5
hv_ctl sw --json port show in >"$HV_TMP/in.json"
rx=$(python3 -c "import json; print(json.load(open('$HV_TMP/in.json'))['rx_packets'])")
hv_assert_eq 64 "$rx" "frames read from the capture"
tx=$(hv_json sw 'r["tx_packets"]' port show out)
python3 - "$HV_TMP/in.json" "$tx" <<'PY' || hv_fail "accounting"
import json, sys
p = json.load(open(sys.argv[1]))
tx = int(sys.argv[2])
reasons = p["drop_reasons"]
print("INFO: rx %d, forwarded %d, drops %s" % (p["rx_packets"], tx, reasons))
assert tx == 50, "forwarded %d, expected 50" % tx
assert reasons.get("vlan_not_allowed") == 5, reasons
assert reasons.get("src_mac_invalid") == 2, reasons
assert sum(reasons.values()) == 14, reasons
assert p["rx_packets"] == tx + sum(reasons.values())
parse = {k: v for k, v in reasons.items() if k not in ("vlan_not_allowed", "src_mac_invalid")}
assert sorted(parse.values()) == [3, 4], "runts and bad IHL by their own reasons: %s" % parse
PY
# the tx capture is complete once the port is closed
hv_ctl sw port del out >/dev/null || hv_fail "del out"
n=$(tcpdump -r "$HV_TMP/out.pcap" -n 2>/dev/null | wc -l)
hv_assert_eq 50 "$n" "frames in the output capture"
hv_pass "64 frames in: 50 forwarded into out.pcap, 14 dropped by reason"
