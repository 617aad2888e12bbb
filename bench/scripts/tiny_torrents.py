#!/usr/bin/python3
"""Writes COUNT single-file torrents of SIZE random bytes each into FOLDER: tNNNNN.bin beside tNNNNN.torrent (v1,
no announce unless ANNOUNCE is given), so a seeder started on FOLDER seeds them all; prints nothing.
usage: tiny_torrents.py FOLDER COUNT SIZE [ANNOUNCE]"""
import hashlib, os, random, sys
folder, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
announce = sys.argv[4] if len(sys.argv) > 4 else None
os.makedirs(folder, exist_ok=True)
piece = 16384
while piece < size and piece < 4 * 1024 * 1024 and size // piece > 1024: piece *= 2
def benc(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, str): return benc(v.encode())
    if isinstance(v, dict): return b"d" + b"".join(benc(k) + benc(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(v)
rng = random.Random(1)
for i in range(count):
    name = "t%05d.bin" % i
    data = rng.randbytes(size)
    with open(os.path.join(folder, name), "wb") as f: f.write(data)
    hashes = b"".join(hashlib.sha1(data[o:o + piece]).digest() for o in range(0, size, piece))
    info = {"length": size, "name": name, "piece length": piece, "pieces": hashes}
    meta = {"info": info}
    if announce: meta["announce"] = announce
    with open(os.path.join(folder, "t%05d.torrent" % i), "wb") as f: f.write(benc(meta))
