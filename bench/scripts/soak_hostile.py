#!/usr/bin/python3
"""Hostile peers for the soak (bench/scripts/soak.sh): for --seconds, keeps up to --concurrency misbehaving
connections going against one seeder, each chosen in turn from the kinds below, and counts how each ended.

  garbage        random bytes instead of a handshake
  oversized      a valid handshake, then a message that claims 2 GB
  bad-request    a valid handshake, interested, then a request for a piece that does not exist
  unknown        a handshake for an info-hash the seeder does not have
  half           the first 30 bytes of a handshake, then silence
  mse-garbage    96 random bytes (a fake MSE public key), then 600 more that never contain the sync hash
  never-reads    a valid handshake, interested and 200 requests, then it never reads (its receive buffer fills)
  utp-garbage    UDP datagrams that are not uTP, or uTP headers of unknown connections, to the peer port
  utp-half-open  uTP SYNs that never go further

At most --never-reading (3) never-reading peers are open at once. A kind "ended by the seeder" when the seeder closed or reset the connection before we gave up (--hold seconds, 150 by
default: past the seeder's 2-minute send-stall timeout); "held" when we closed it first. Only 127.0.0.0/8 is used.
Prints one JSON object with the counts per kind.
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import threading
import time

PROTOCOL = b"\x13BitTorrent protocol"


def handshake(info_hash):
    return PROTOCOL + bytes(8) + info_hash + b"-SK0001-" + os.urandom(12)


def message(msg_id, payload=b""):
    return struct.pack(">IB", 1 + len(payload), msg_id) + payload


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.kinds = {}

    def add(self, kind, outcome):
        with self.lock:
            self.kinds.setdefault(kind, {}).setdefault(outcome, 0)
            self.kinds[kind][outcome] += 1


def wait_for_close(sock, hold, read=True):
    """Reads (or only waits) until the seeder closes or resets the connection, or `hold` seconds pass."""
    deadline = time.monotonic() + hold
    if not read:
        # A peer that never reads: only a reset or an error on send shows the seeder gave up.
        while time.monotonic() < deadline:
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
            try:
                sock.send(struct.pack(">I", 0))  # a keep-alive
            except OSError:
                return "ended by the seeder"
        return "held"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "held"
        sock.settimeout(min(left, 5.0))
        try:
            if not sock.recv(65536):
                return "ended by the seeder"
        except socket.timeout:
            continue
        except OSError:
            return "ended by the seeder"


def tcp(args, kind):
    sock = socket.create_connection((args.host, args.port), timeout=10, source_address=(args.source, 0))
    try:
        if kind == "garbage":
            sock.sendall(os.urandom(1024))
        elif kind == "oversized":
            sock.sendall(handshake(args.info_hash) + struct.pack(">IB", 0x7FFFFFF0, 7) + os.urandom(256))
        elif kind == "bad-request":
            sock.sendall(handshake(args.info_hash) + message(2) + message(6, struct.pack(">III", 0xFFFFFF, 0, 16384)))
        elif kind == "unknown":
            sock.sendall(handshake(os.urandom(20)))
        elif kind == "half":
            sock.sendall(handshake(args.info_hash)[:30])
        elif kind == "mse-garbage":
            sock.sendall(os.urandom(96))
            time.sleep(0.2)
            sock.sendall(os.urandom(600))
        elif kind == "never-reads":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            requests = b"".join(message(6, struct.pack(">III", i % args.pieces, 0, 16384)) for i in range(200))
            sock.sendall(handshake(args.info_hash) + message(2) + requests)
            return wait_for_close(sock, args.hold, read=False)
        return wait_for_close(sock, args.hold)
    finally:
        sock.close()


def utp_header(kind, conn_id, seq):
    # BEP 29: type << 4 | version 1, no extension, connection id, timestamps, window, seq_nr, ack_nr.
    return struct.pack(">BBHIIIHH", kind << 4 | 1, 0, conn_id, int(time.monotonic() * 1e6) & 0xFFFFFFFF, 0, 65536, seq, 0)


def udp(args, kind):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((args.source, 0))
        for _ in range(20):
            if kind == "utp-garbage":
                datagram = random.choice([os.urandom(random.randint(1, 200)), utp_header(random.choice([0, 1, 2]), random.randint(0, 65535), 1)])
            else:
                datagram = utp_header(4, random.randint(0, 65534), random.randint(0, 65535))
            sock.sendto(datagram, (args.host, args.port))
            time.sleep(0.05)
        return "sent"
    finally:
        sock.close()


TCP_KINDS = ["garbage", "oversized", "bad-request", "unknown", "half", "mse-garbage", "never-reads"]
UDP_KINDS = ["utp-garbage", "utp-half-open"]


def run_one(args, kind, counts):
    try:
        outcome = udp(args, kind) if kind in UDP_KINDS else tcp(args, kind)
    except OSError as e:
        outcome = f"connect failed: {type(e).__name__}"
    counts.add(kind, outcome)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", required=True, help="seeder HOST:PORT (127.0.0.0/8)")
    ap.add_argument("--info-hash", required=True, help="40 hex digits of a torrent the seeder has")
    ap.add_argument("--pieces", type=int, default=1, help="its piece count (requests stay within it)")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--concurrency", type=int, default=12)
    ap.add_argument("--hold", type=float, default=150)
    ap.add_argument("--never-reading", type=int, default=3, help="never-reading peers at once at most")
    ap.add_argument("--source", default="127.0.0.200", help="our source address (own per-IP budget at the seeder)")
    args = ap.parse_args()
    host, _, port = args.peer.rpartition(":")
    args.host, args.port = host, int(port)
    if not args.host.startswith("127."):
        sys.exit("loopback only")
    args.info_hash = bytes.fromhex(args.info_hash)

    counts = Counts()
    deadline = time.monotonic() + args.seconds
    # No connection outlives the run: the last ones hold only until the deadline.
    kinds = TCP_KINDS + UDP_KINDS
    threads = []
    n = 0
    turn = 0
    while time.monotonic() < deadline:
        threads = [(k, t) for k, t in threads if t.is_alive()]
        if len(threads) < args.concurrency:
            kind = kinds[turn % len(kinds)]
            turn += 1
            # Never-reading peers hold on for minutes: capped, or they would take every place (and every upload slot).
            if kind == "never-reads" and sum(k == kind for k, _ in threads) >= args.never_reading:
                continue
            n += 1
            args_now = argparse.Namespace(**vars(args))
            args_now.hold = max(1.0, min(args.hold, deadline - time.monotonic()))
            t = threading.Thread(target=run_one, args=(args_now, kind, counts), daemon=True)
            t.start()
            threads.append((kind, t))
        time.sleep(0.25)
    for _, t in threads:
        t.join(timeout=15)
    print(json.dumps({"started": n, "kinds": counts.kinds, "unfinished": sum(t.is_alive() for _, t in threads)}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
