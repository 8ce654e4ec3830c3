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

# The real-world and hostile captures of ../shared/corpus (skipped when absent):
# the daemon survives them and accounts for every frame.
CORPUS=$HV_ROOT/../shared/corpus/tcpdump
if [ ! -d "$CORPUS" ]; then
	echo "INFO: $CORPUS not found; corpus replay skipped"
	exit 0
fi
n_in=$(/usr/bin/python3 - "$CORPUS" "$HV_TMP/corpus.pcap" <<'PY'
import glob, sys
from scapy.utils import RawPcapReader, PcapWriter
w = PcapWriter(sys.argv[2], linktype=1, sync=False)
n = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.pcap")):
    try:
        r = RawPcapReader(f)
        if r.linktype != 1:
            continue
        for data, _ in r:
            w.write(data)
            n += 1
    except Exception:
        continue
w.close()
print(n)
PY
)
hv_ctl sw port add cout pcap s1 tx="$HV_TMP/cout.pcap" >/dev/null || hv_fail "add cout"
hv_ctl sw port add cin pcap s1 rx="$HV_TMP/corpus.pcap" >/dev/null || hv_fail "add cin"
for _ in $(seq 100); do
	[ "$(hv_json sw 'r["rx_packets"]' port show cin)" -ge "$n_in" ] && break
	sleep 0.1
done
sleep 0.5
hv_ctl sw --json port show cin >"$HV_TMP/cin.json"
hv_ctl sw --json port show cout >"$HV_TMP/cout.json"
python3 - "$HV_TMP/cin.json" "$HV_TMP/cout.json" "$n_in" <<'PY' || hv_fail "corpus accounting"
import json, sys
p, o, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
drops = sum(p["drop_reasons"].values())
print("INFO: corpus: %d frames in, %d read, %d forwarded, %d dropped: %s" % (
    n, p["rx_packets"], o["tx_packets"], drops, p["drop_reasons"]))
assert p["rx_packets"] == n, "read %d of %d frames" % (p["rx_packets"], n)
assert p["rx_packets"] == o["tx_packets"] + drops, "unaccounted frames"
PY
hv_json sw 'r["pid"]' version >/dev/null || hv_fail "hvnetd died replaying the corpus"
hv_pass "corpus replay: every frame forwarded or dropped by reason; daemon alive"
