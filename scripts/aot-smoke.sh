#!/usr/bin/env bash
# AOT smoke test: the published single binary (no .NET runtime needed) creates a torrent, describes it,
# seeds it, serves a verified block to a raw BEP 3 peer, exposes metrics, and stops cleanly on SIGTERM.
set -euo pipefail
bin=$(realpath "${1:?usage: aot-smoke.sh PATH/TO/appliance}")
work=$(mktemp -d)
trap '[ "$pid" -gt 0 ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
pid=0

"$bin" version
"$bin" --help >/dev/null
mkdir -p "$work/content/pack/sub"
python3 -c "import random,sys; sys.stdout.buffer.write(random.Random(1).randbytes(200003))" > "$work/content/pack/a.bin"
python3 -c "import random,sys; sys.stdout.buffer.write(random.Random(2).randbytes(70001))" > "$work/content/pack/sub/b.bin"
: > "$work/content/pack/empty"
"$bin" create "$work/content/pack" -o "$work/content/pack.torrent" --piece-length 32768 >/dev/null
"$bin" info "$work/content/pack.torrent" | tee "$work/info.txt"
grep -q "sub/b.bin" "$work/info.txt"

port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
peer=$(port); tracker=$(port); metrics=$(port)
"$bin" serve --content "$work/content" --listen "127.0.0.1:$peer" --tracker-listen "127.0.0.1:$tracker" \
  --dht-bootstrap none --metrics-listen "127.0.0.1:$metrics" > "$work/serve.out" 2> "$work/serve.err" &
pid=$!
for _ in $(seq 1 100); do grep -q "^seeding " "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
grep "^seeding " "$work/serve.out" || { cat "$work/serve.err"; exit 1; }

python3 - "$work/content/pack.torrent" "$work/content/pack" "$peer" <<'PY'
import hashlib, os, socket, struct, sys
torrent, folder, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(torrent, "rb").read()
start = data.index(b"4:info") + 6
# The info dictionary runs to the byte before the outer dictionary's final 'e'.
info = data[start:-1]
info_hash = hashlib.sha1(info).digest()
pieces_at = info.index(b"6:pieces") + 8
length, rest = info[pieces_at:].split(b":", 1)
piece0 = rest[:20]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"\x13BitTorrent protocol" + bytes(8) + info_hash + b"-SMOKE0-" + os.urandom(12))
def recv(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk: raise SystemExit("connection closed")
        buf += chunk
    return buf
hs = recv(68)
assert hs[28:48] == info_hash, "wrong info-hash in handshake"
s.sendall(struct.pack(">IB", 1, 2))  # interested
unchoked = False
while not unchoked:
    n, = struct.unpack(">I", recv(4))
    if n == 0: continue
    msg = recv(n)
    unchoked = msg[0] == 1
got = b""
for begin in (0, 16384):
    s.sendall(struct.pack(">IBIII", 13, 6, 0, begin, 16384))
while len(got) < 32768:
    n, = struct.unpack(">I", recv(4))
    if n == 0: continue
    msg = recv(n)
    if msg[0] == 7:
        index, begin = struct.unpack(">II", msg[1:9])
        assert index == 0 and begin == len(got), (index, begin)
        got += msg[9:]
assert hashlib.sha1(got).digest() == piece0, "piece 0 does not match its hash"
print("smoke: piece 0 served and verified over the peer wire")
PY

if curl --version >/dev/null 2>&1; then
  curl -fsS "http://127.0.0.1:$metrics/metrics" | grep -q "^appliance_" && echo "smoke: /metrics answers"
fi

kill -TERM $pid
status=0; wait $pid || status=$?
pid=0
[ "$status" -eq 0 ] || { echo "serve exited with $status after SIGTERM"; cat "$work/serve.err"; exit 1; }
echo "smoke: clean exit on SIGTERM"

# Out of file descriptors, the binary we ship keeps answering /healthz (its HTTP listener holds one descriptor in reserve)
# and keeps running. This runs against the AOT binary rather than in xunit: the JIT-hosted build's runtime needs a new
# pipe for every thread it starts and aborts ("Out of memory.") when it cannot get one, which a many-core CI machine
# hits as soon as its thread pool grows; Native AOT has no such per-thread descriptor.
peer=$(port); metrics=$(port)
"$bin" serve --content "$work/content" --listen "127.0.0.1:$peer" --no-tracker --no-dht \
  --metrics-listen "127.0.0.1:$metrics" > "$work/fd.out" 2> "$work/fd.err" &
pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$metrics/readyz" 2>/dev/null | grep -q "^loading 0" && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$metrics/readyz" | grep -q "^loading 0" || { echo "serve never loaded its torrents"; cat "$work/fd.err"; exit 1; }
python3 - "$work/content/pack.torrent" "$peer" "$metrics" "$pid" <<'PY'
import hashlib, os, socket, subprocess, sys, time
torrent, peer, metrics, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = open(torrent, "rb").read()
info_hash = hashlib.sha1(data[data.index(b"4:info") + 6:-1]).digest()
handshake = b"\x13BitTorrent protocol" + bytes(8) + info_hash + b"-SMOKE0-" + os.urandom(12)
fds = f"/proc/{pid}/fd"
# Just above what the process holds now; 32 handshaken peers (which stay) then take the rest.
limit = len(os.listdir(fds)) + 8
subprocess.run(["prlimit", "--pid", str(pid), f"--nofile={limit}:{limit}"], check=True)
peers = []
for _ in range(32):
    s = socket.create_connection(("127.0.0.1", peer), timeout=10)
    s.sendall(handshake)
    peers.append(s)
deadline = time.monotonic() + 60
while len(os.listdir(fds)) < limit:
    if time.monotonic() > deadline: raise SystemExit(f"serve never used the {limit} descriptors allowed")
    time.sleep(0.05)
probe = socket.create_connection(("127.0.0.1", metrics), timeout=30)
probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
answer = b""
while chunk := probe.recv(1024): answer += chunk
assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
for s in peers: s.close()
print(f"smoke: /healthz answered with all {limit} descriptors in use")
PY
kill -0 $pid || { echo "serve died while out of descriptors"; cat "$work/fd.err"; exit 1; }
kill -TERM $pid
status=0; wait $pid || status=$?
pid=0
[ "$status" -eq 0 ] || { echo "serve exited with $status after SIGTERM (after running out of descriptors)"; cat "$work/fd.err"; exit 1; }
echo "smoke: still running after running out of descriptors; clean exit on SIGTERM"
