#!/usr/bin/python3
"""The soak's sampler (bench/scripts/soak.sh): every --interval seconds until --seconds have passed, one CSV row
about the seeder process: resident memory (VmRSS and its anonymous part RssAnon, from /proc/PID/status), open file
descriptors (/proc/PID/fd), threads, a /healthz round trip, and from /metrics the connected peers, uTP connections,
blocks served and the block latency (p50 and p99 of appliance_block_serve_duration_seconds over the interval, from the
histogram's bucket deltas). A row whose process is gone says so (alive=0) and sampling stops.
"""
import argparse
import csv
import os
import re
import sys
import time
import urllib.request

FIELDS = ["t_s", "alive", "rss_bytes", "rss_anon_bytes", "fds", "threads", "healthz_ms", "healthz_ok",
          "peers", "utp_connections", "blocks_served", "block_p50_ms", "block_p99_ms"]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def status(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "Threads"):
                values[key] = int(rest.split()[0])
    return values


def scrape(url):
    """Prometheus text to {(name, labels): value}."""
    out = {}
    with urllib.request.urlopen(url, timeout=10) as r:
        for line in r.read().decode().splitlines():
            m = SAMPLE.match(line)
            if m:
                out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def buckets(metrics, name):
    """Cumulative histogram buckets as [(upper bound, count)], sorted."""
    result = []
    for (n, labels), v in metrics.items():
        if n == name + "_bucket":
            le = re.search(r'le="([^"]+)"', labels).group(1)
            result.append((float("inf") if le == "+Inf" else float(le), v))
    return sorted(result)


def quantile(before, after, q):
    """The q quantile (seconds, the bucket's upper bound) of the observations between two scrapes; None without any."""
    if not before or len(before) != len(after):
        return None
    deltas = [(le, a - b) for (le, a), (_, b) in zip(after, before)]
    total = deltas[-1][1]
    if total <= 0:
        return None
    for le, count in deltas:
        if count >= q * total:
            return le
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--metrics", required=True, help="http://HOST:PORT (the metrics listener)")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    histogram = "appliance_block_serve_duration_seconds"
    started = time.monotonic()
    previous = None
    with open(a.out, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        tick = 0
        while True:
            row = {"t_s": round(time.monotonic() - started, 1), "alive": 1}
            try:
                s = status(a.pid)
                row.update(rss_bytes=s["VmRSS"] * 1024, rss_anon_bytes=s["RssAnon"] * 1024, threads=s["Threads"])
                row["fds"] = sum(1 for _ in os.scandir(f"/proc/{a.pid}/fd"))
            except (OSError, KeyError):
                row["alive"] = 0
                w.writerow(row)
                f.flush()
                return 1
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(a.metrics + "/healthz", timeout=10) as r:
                    row["healthz_ok"] = int(r.status == 200)
            except OSError:
                row["healthz_ok"] = 0
            row["healthz_ms"] = round((time.monotonic() - t0) * 1000, 2)
            try:
                m = scrape(a.metrics + "/metrics")
                row["peers"] = int(m.get(("appliance_peers_connected", ""), 0))
                row["utp_connections"] = int(m.get(("appliance_utp_connections", ""), 0))
                row["blocks_served"] = int(m.get(("appliance_blocks_served_total", ""), 0))
                current = buckets(m, histogram)
                for q, key in ((0.5, "block_p50_ms"), (0.99, "block_p99_ms")):
                    v = quantile(previous, current, q)
                    row[key] = "" if v is None else ("inf" if v == float("inf") else round(v * 1000, 3))
                previous = current
            except (OSError, ValueError):
                pass
            w.writerow(row)
            f.flush()
            tick += 1
            next_at = started + tick * a.interval
            if next_at - started > a.seconds:
                return 0
            time.sleep(max(0.0, next_at - time.monotonic()))


if __name__ == "__main__":
    sys.exit(main())
