#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""What a guest sees of the firewall: small clients and echo servers.

  fwprobe.py serve ADDR PORT...      TCP and UDP echo servers on each PORT
  fwprobe.py tcp HOST PORT [SECS]    connect, send, expect the echo:
                                     prints echoed | refused | timeout | reset
  fwprobe.py udp HOST PORT [SECS]    send a datagram, expect the echo:
                                     prints echoed | refused | timeout
  fwprobe.py synflood HOST PORT N SECS
                                     open N connections without waiting
                                     (SYNs that nobody answers), hold SECS
Exit status 0 whatever the outcome; the outcome is the output.
"""
import errno
import resource
import select
import socket
import sys
import threading
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve(addr, ports):
    def tcp_client(c):
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    def tcp_loop(s):
        while True:
            c, _ = s.accept()
            threading.Thread(target=tcp_client, args=(c,), daemon=True).start()

    def udp_loop(s):
        while True:
            d, peer = s.recvfrom(65535)
            s.sendto(d, peer)

    for p in ports:
        t = socket.socket(family(addr), socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((addr, p))
        t.listen(512)
        threading.Thread(target=tcp_loop, args=(t,), daemon=True).start()
        u = socket.socket(family(addr), socket.SOCK_DGRAM)
        u.bind((addr, p))
        threading.Thread(target=udp_loop, args=(u,), daemon=True).start()
    print("serving", flush=True)
    while True:
        time.sleep(3600)


def tcp(host, port, secs):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(secs)
    try:
        s.connect((host, port))
        s.sendall(b"hvnet-probe")
        d = s.recv(64)
        return "echoed" if d == b"hvnet-probe" else "wrong-echo"
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except (socket.timeout, TimeoutError):
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e)).lower()
    finally:
        s.close()


def udp(host, port, secs):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(secs)
    try:
        s.connect((host, port))
        s.send(b"hvnet-probe")
        d = s.recv(64)
        return "echoed" if d == b"hvnet-probe" else "wrong-echo"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e)).lower()
    finally:
        s.close()


def synflood(host, port, n, secs):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 64)), hard))
    socks = []
    for _ in range(n):
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        socks.append(s)
    time.sleep(secs)
    for s in socks:
        s.close()
    return "sent %d" % n


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "serve":
        serve(argv[2], [int(p) for p in argv[3:]])
    elif cmd in ("tcp", "udp"):
        secs = float(argv[4]) if len(argv) > 4 else 2.0
        print((tcp if cmd == "tcp" else udp)(argv[2], int(argv[3]), secs))
    elif cmd == "synflood":
        print(synflood(argv[2], int(argv[3]), int(argv[4]), float(argv[5])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
