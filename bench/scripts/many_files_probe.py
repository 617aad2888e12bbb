#!/usr/bin/python3
"""Asks a seeder for the first block of every torrent of a folder, in order, over the plain peer wire (one TCP
connection per torrent: handshake, interested, wait for unchoke, request block 0 of piece 0). A torrent not served yet
(still loading, refused, choked) is retried until --timeout. Prints one JSON line:
{"served", "torrents", "seconds"} with seconds counted from --since (a time.time() stamp, the seeder's exec).
usage: many_files_probe.py --folder DIR --peer HOST:PORT [--since EPOCH] [--timeout S]"""
import argparse, hashlib, json, os, socket, struct, sys, time


def bdecode(data, i=0):
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        out, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            start = i
            v, i = bdecode(data, i)
            out[k] = v
            if k == b"info": out[b"__info_span"] = (start, i)
        return out, i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


def torrent(path):
    data = open(path, "rb").read()
    meta, _ = bdecode(data)
    start, end = meta[b"__info_span"]
    info = meta[b"info"]
    total = info.get(b"length") or sum(f[b"length"] for f in info[b"files"])
    return hashlib.sha1(data[start:end]).digest(), min(16384, info[b"piece length"], total)


def recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk: raise ConnectionError("closed")
        buf += chunk
    return buf


def serve_one(host, port, info_hash, length):
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"\x13BitTorrent protocol" + bytes(8) + info_hash + os.urandom(20))
        if recv_exactly(s, 68)[28:48] != info_hash: return False
        s.sendall(struct.pack(">IB", 1, 2))  # interested
        requested = False
        while True:
            (size,) = struct.unpack(">I", recv_exactly(s, 4))
            if size == 0: continue
            body = recv_exactly(s, size)
            if body[0] == 1 and not requested:  # unchoke
                s.sendall(struct.pack(">IBIII", 13, 6, 0, 0, length))
                requested = True
            elif body[0] == 7:  # piece
                return len(body) - 9 == length
            elif body[0] == 16:  # reject (fast extension)
                return False


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--folder", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--since", type=float, default=time.time())
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--sample", type=int, default=0,
                    help="ask only this many torrents, spread evenly over the sorted list and always the last one (0: all)")
    args = ap.parse_args()
    host, _, port = args.peer.rpartition(":")
    names = sorted(n for n in os.listdir(args.folder) if n.endswith(".torrent"))
    if 0 < args.sample < len(names):
        # One connection per torrent is what limits this probe (about 1 ms each): at 100,000 torrents asking every
        # one would measure the probe. An even sample ending with the last torrent measures the seeder.
        step = len(names) / args.sample
        names = sorted({names[min(len(names) - 1, int(i * step))] for i in range(args.sample)} | {names[-1]})
    deadline = time.time() + args.timeout
    served = 0
    for name in names:
        info_hash, length = torrent(os.path.join(args.folder, name))
        while time.time() < deadline:
            try:
                if serve_one(host, int(port), info_hash, length):
                    served += 1
                    break
            except (OSError, ConnectionError, struct.error):
                pass
            time.sleep(0.05)
    print(json.dumps({"served": served, "torrents": len(names), "seconds": round(time.time() - args.since, 2)}), flush=True)
    return 0 if served == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
