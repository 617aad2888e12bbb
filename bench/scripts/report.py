#!/usr/bin/python3
"""Turns the JSON results of compare.sh into the markdown perf report and its SVG chart.

Only figures present in the result files are written; anything missing is printed as "not measured".
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys

SEEDERS = ("appliance", "libtorrent")
COLORS = {"appliance": "#1f77b4", "libtorrent": "#ff7f0e", "iperf3": "#7f7f7f"}


def load_results(folder):
    runs = {}  # (label, n) -> [result...]
    iperf = {}  # n -> [(bytes/s, streams)...]
    idle = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        name = os.path.basename(path)
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        m = re.match(r"(appliance|libtorrent)-n(\d+)-r(\d+)\.json$", name)
        if m:
            data["round"] = int(m.group(3))
            runs.setdefault((m.group(1), int(m.group(2))), []).append(data)
            continue
        m = re.match(r"iperf3-n(\d+)-r(\d+)\.json$", name)
        if m and "end" in data and "sum_received" in data["end"]:
            streams = data.get("start", {}).get("test_start", {}).get("num_streams")
            iperf.setdefault(int(m.group(1)), []).append((data["end"]["sum_received"]["bits_per_second"] / 8, streams))
            continue
        m = re.match(r"idle-(appliance|libtorrent)\.json$", name)
        if m:
            idle[m.group(1)] = data
    return runs, iperf, idle


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def gb(v):
    return "not measured" if v is None else f"{v / 1e9:.3f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}x"


def ms(us):
    return "n/a" if us is None else f"{us / 1000:.2f}"


def mib(b):
    return "n/a" if b is None else f"{b / 1048576:.1f} MiB"


def summarize(runs, label, n):
    rs = runs.get((label, n), [])
    if not rs:
        return None
    return {
        "rounds": len(rs),
        "tput": median([r["throughput_Bps"] for r in rs]),
        "bpc": median([r.get("bytes_per_seeder_cpu_s") for r in rs]),
        "p50": median([r["latency_p50_us"] for r in rs]),
        "p99": median([r["latency_p99_us"] for r in rs]),
        "p999": median([r["latency_p999_us"] for r in rs]),
        "verify_failures": sum(r["verify_failures"] for r in rs),
        "failed_conns": sum(r["connections_failed_during_run"] for r in rs),
        "min_unchoked": min(r["connections_unchoked"] for r in rs),
        "alloc_per_block": median([
            r["seeder_allocated_bytes"] / (r["bytes"] / 16384)
            for r in rs if r.get("seeder_allocated_bytes") is not None and r["bytes"] > 0]),
        "loadgen_cpu": median([r.get("loadgen_cpu_s") for r in rs]),
        "seeder_cpu": median([r.get("seeder_cpu_s") for r in rs]),
        "duration": median([r["duration_s"] for r in rs]),
    }


def svg_start(width, height, title):
    """The opening of a hand-written SVG chart: white background, title centred on top."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
            '<rect width="100%" height="100%" fill="white"/>',
            f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>']


def legend_entry(out, x, y, color, name, stroke=2.5, dash=""):
    """A legend line 30 px long at (x, y) and its name after it."""
    out.append(f'<line x1="{x}" y1="{y}" x2="{x + 30}" y2="{y}" stroke="{color}" stroke-width="{stroke}"{dash}/>')
    out.append(f'<text x="{x + 37}" y="{y + 4}">{name}</text>')


def svg_end(path, out):
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def chart(path, peers, series, title):
    width, height = 760, 440
    left, right, top, bottom = 80, 170, 50, 60
    pw, ph = width - left - right, height - top - bottom
    ymax = max([v for s in series.values() for v in s if v is not None] + [1e9]) * 1.1 / 1e9
    step = 0.5 if ymax <= 4 else 1.0 if ymax <= 10 else 2.0
    xs = {n: left + (i + 0.5) * pw / len(peers) for i, n in enumerate(peers)}

    def y(v):
        return top + ph - (v / 1e9) / ymax * ph

    out = svg_start(width, height, title)
    tick = 0.0
    while tick <= ymax + 1e-9:
        ty = top + ph - tick / ymax * ph
        out.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + pw}" y2="{ty:.1f}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{left - 8}" y="{ty + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>')
    for n, x in xs.items():
        out.append(f'<text x="{x:.1f}" y="{top + ph + 20}" text-anchor="middle">{n}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 15}" text-anchor="middle">peers (connections; iperf3 streams capped at 128)</text>')
    out.append(f'<text x="20" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 20 {top + ph / 2})">median throughput (GB/s)</text>')
    for i, (name, values) in enumerate(series.items()):
        color = COLORS.get(name, "black")
        dash = ' stroke-dasharray="6 4"' if name == "iperf3" else ""
        pts = [(xs[n], y(v)) for n, v in zip(peers, values) if v is not None]
        if len(pts) > 1:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2.5"{dash} points="' + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
        for (px, py), v in zip(pts, [v for v in values if v is not None]):
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{color}"/>')
            out.append(f'<text x="{px + 6:.1f}" y="{py - 6:.1f}" fill="{color}" font-size="11">{v / 1e9:.2f}</text>')
        legend_entry(out, left + pw + 15, top + 20 + i * 22, color, name, dash=dash)
    svg_end(path, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--free", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--chart", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--peers", default="1 8 64 512")
    ap.add_argument("--rounds", default="3")
    ap.add_argument("--duration", default="10")
    ap.add_argument("--warmup", default="3")
    ap.add_argument("--pipeline", default="32")
    ap.add_argument("--size-mib", default="256")
    ap.add_argument("--piece-kib", default="256")
    ap.add_argument("--idle", default="10000")
    ap.add_argument("--note", default="")
    ap.add_argument("--verify", default="sha1")
    ap.add_argument("--recv-buffer", default="262144")
    ap.add_argument("--lt-set", default="")
    ap.add_argument("--iperf-len", default="128K")
    ap.add_argument("--format", default="v1", choices=["v1", "hybrid"])
    ap.add_argument("--join", default="v1", choices=["v1", "v2"])
    ap.add_argument("--encryption", default="plaintext", choices=["plaintext", "rc4"])
    ap.add_argument("--files", default="1")
    ap.add_argument("--transport", default="tcp", choices=["tcp", "utp"])
    ap.add_argument("--torrent-summary", default="")
    a = ap.parse_args()

    peers = [int(p) for p in a.peers.split()]
    runs, iperf, idle = load_results(a.results)
    s = {(label, n): summarize(runs, label, n) for label in SEEDERS for n in peers}
    ip = {n: median([v for v, _ in iperf.get(n, [])]) for n in peers}
    streams = {n: (iperf[n][0][1] if iperf.get(n) else min(n, 128)) for n in peers}
    machine = open(a.machine).read().strip()
    free = open(a.free).read().rstrip()
    status = open(a.status).read().strip()
    date = os.path.basename(a.out)[:10]

    def get(label, n, key):
        v = s[(label, n)]
        return None if v is None else v[key]

    L = []
    variant = ""
    if a.format != "v1" or a.join != "v1" or a.files != "1":
        variant = f", {a.format} torrent of {a.files} file(s), joined by its {a.join} info-hash"
    if a.encryption == "rc4":
        variant += ", every peer MSE/PE-encrypted with RC4"
    utp = a.transport == "utp"
    if utp:
        variant += ", every peer over uTP (BEP 29)"
    L.append(f"# Seeding throughput: appliance vs libtorrent ({date}{variant})")
    L.append("")
    lt_settings = "`high_performance_seed()` settings" + (f" with {', '.join('`' + kv + '`' for kv in a.lt_set.split())} on top" if a.lt_set.strip() else "")
    if a.verify == "reference":
        verification = ("every piece verified by the client: SHA-1 the first time the run receives it, then byte for byte against "
                        "those SHA-1-verified bytes (LoadGen `--verify reference`)")
    else:
        verification = "every received piece SHA-1 verified by the client (LoadGen `--verify sha1`)"
    if a.format == "hybrid":
        torrent = (f"{a.size_mib} MiB hybrid (BEP 52) torrent of {a.files} file(s) with {a.piece_kib} KiB pieces, made by "
                   f"`appliance create --format hybrid` (a BEP 47 pad file after every file that ends mid-piece; the pad zeros are part of the "
                   f"v1 pieces the client verifies), in the page cache, every LoadGen connection joining by its "
                   f"{'v2 info-hash (SHA-256 cut to 20 bytes, v2 reserved bit set)' if a.join == 'v2' else 'v1 info-hash'}")
    else:
        torrent = (f"{a.size_mib} MiB {'single-file' if a.files == '1' else a.files + '-file'} torrent with {a.piece_kib} KiB pieces "
                   f"(mktorrent, in the page cache)")
    L.append(f"Measured by `bench/scripts/compare.sh` in one run: LoadGen (bench/Appliance.LoadGen, a light verifying BEP 3 client) "
             f"against `appliance serve --upload-slots unlimited --no-dht --no-tracker` and against python3-libtorrent "
             f"with {lt_settings} ({'uTP on (`enable_incoming_utp`)' if utp else 'TCP only'}, every peer unchoked), alternately, {a.rounds} round(s), medians. "
             + ("Every LoadGen peer dials the seeder's peer port over uTP (LoadGen `--transport utp`, the project's own uTP) from a UDP port of its own. " if utp else "") +
             f"Each measurement: {a.warmup} s warm-up then {a.duration} s measured, Q = {a.pipeline} pipelined 16 KiB requests per peer, "
             f"{int(a.recv_buffer) // 1024} KiB client receive buffer per peer, "
             f"{torrent}, {verification}. "
             + ("" if utp else f"iperf3 over loopback with the same stream count and {a.iperf_len} writes is the ceiling."))
    L.append("")
    if a.torrent_summary:
        L.append(f"Torrent: {a.torrent_summary}.")
        L.append("")
    others_cpu = [max(0.0, r["machine_busy_cpu_s"] - r["seeder_cpu_s"] - r["loadgen_cpu_s"])
                  for rs in runs.values() for r in rs
                  if r.get("machine_busy_cpu_s") is not None and r.get("seeder_cpu_s") is not None]
    busiest = max(others_cpu) if others_cpu else None
    if busiest is None:
        L.append("Whether other processes shared the cores was not measured; read the side-by-side ratios from alternating rounds, not absolute numbers.")
    elif busiest > 1.0:
        L.append(f"**The machine was shared**: other processes took up to {busiest:.1f} CPU-s of a measured window's {(os.cpu_count() or 1) * float(a.duration):.0f} "
                 "(column 'other processes CPU s'), so absolute numbers are noisy; the side-by-side ratios from alternating rounds are the figures to read.")
    else:
        L.append(f"The machine was otherwise idle: other processes took at most {busiest:.2f} CPU-s of any measured window "
                 "(column 'other processes CPU s'); client and seeder still share the same cores.")
    if a.note:
        L.append("")
        L.append(a.note)
    if status:
        L.append("")
        L.append("## What did not run as planned")
        L.append("")
        for line in status.splitlines():
            L.append(f"- {line}")

    # Targets
    L.append("")
    L.append("## Targets (issue 11: uTP seeding)" if utp else "## Targets (issue 3)")
    L.append("")
    L.append("| target | measured | met? |")
    L.append("|---|---|---|")

    def verdict(ok):
        return "not measured" if ok is None else ("**met**" if ok else "**not met**")

    # Over uTP the issue asks for bytes per seeder CPU-second at 1, 8 and 64 peers; the TCP ceilings and idle targets are issue 3's.
    for n in ((1, 8, 64) if utp else ()):
        if n not in peers:
            continue
        r = ratio(get("appliance", n, "bpc"), get("libtorrent", n, "bpc"))
        L.append(f"| >= 2x libtorrent bytes per CPU-second over uTP at {n} peer(s) | {gb(get('appliance', n, 'bpc'))} vs {gb(get('libtorrent', n, 'bpc'))} GB/CPU-s = {fmt_ratio(r)} | {verdict(None if r is None else r >= 2)} |")
    for n in (() if utp else (64, 512)):
        if n not in peers:
            continue
        r = ratio(get("appliance", n, "tput"), get("libtorrent", n, "tput"))
        L.append(f"| >= 2x libtorrent throughput at {n} peers | {gb(get('appliance', n, 'tput'))} vs {gb(get('libtorrent', n, 'tput'))} GB/s = {fmt_ratio(r)} | {verdict(None if r is None else r >= 2)} |")
    for n in (() if utp else (64, 512)):
        if n not in peers:
            continue
        r = ratio(get("appliance", n, "bpc"), get("libtorrent", n, "bpc"))
        L.append(f"| >= 2x libtorrent bytes per CPU-second at {n} peers | {gb(get('appliance', n, 'bpc'))} vs {gb(get('libtorrent', n, 'bpc'))} GB/CPU-s = {fmt_ratio(r)} | {verdict(None if r is None else r >= 2)} |")
    for n in (() if utp else (64, 512)):
        if n not in peers:
            continue
        r = ratio(get("appliance", n, "tput"), ip[n])
        L.append(f"| >= 50% of iperf3 loopback ({n} peers, iperf3 -P {streams[n]}) | {gb(get('appliance', n, 'tput'))} of {gb(ip[n])} GB/s = {'n/a' if r is None else f'{r * 100:.0f}%'} | {verdict(None if r is None else r >= 0.5)} |")
    if 512 in peers:
        p50, p99 = get("appliance", 512, "p50"), get("appliance", 512, "p99")
        r = ratio(p99, p50)
        L.append(f"| p99 <= 3x p50 at 512 peers | p50 {ms(p50)} ms, p99 {ms(p99)} ms = {fmt_ratio(r)} | {verdict(None if r is None else r <= 3)} |")
    ia = idle.get("appliance")
    if utp:
        pass
    elif ia and ia.get("seeder_rss_delta_bytes") is not None:
        ok = ia["connections_handshaken"] >= int(a.idle) and ia["seeder_rss_delta_bytes"] < 50 * 1048576
        L.append(f"| {a.idle} idle connections < 50 MB extra RSS | {ia['connections_handshaken']} handshaken, {ia['connections_open_at_end']} open at end, +{mib(ia['seeder_rss_delta_bytes'])} RSS | {verdict(ok)} |")
    else:
        L.append(f"| {a.idle} idle connections < 50 MB extra RSS | not measured | not measured |")
    allocs = [get("appliance", n, "alloc_per_block") for n in peers if get("appliance", n, "alloc_per_block") is not None]
    if allocs:
        worst = max(allocs)
        # The counter is process-wide (metrics scrapes, timers, the sweeper); one object per block would be >= 24 B/block.
        L.append(f"| 0 B allocated per served block | process-wide `appliance_process_allocated_bytes_total` / blocks served, worst median over N: "
                 f"{worst:.2f} B/block (one object per block would be >= 24 B/block) | "
                 f"{'no per-block allocation visible (the exact 0 B/block gate is the seeding tests and benchmarks)' if worst < 24 else '**not met**: allocates per block'} |")
    else:
        L.append("| 0 B allocated per served block | n/a (no allocated-bytes counter scraped) | not measured |")

    # Throughput table
    L.append("")
    L.append("## Throughput and CPU efficiency (medians)")
    L.append("")
    L.append("| peers | appliance GB/s | libtorrent GB/s | appliance / libtorrent | appliance GB per seeder CPU-s | libtorrent GB per seeder CPU-s | ratio | iperf3 GB/s (streams) | appliance % of iperf3 | libtorrent % of iperf3 |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in peers:
        at, lt_ = get("appliance", n, "tput"), get("libtorrent", n, "tput")
        ab, lb = get("appliance", n, "bpc"), get("libtorrent", n, "bpc")
        pa, pl = ratio(at, ip[n]), ratio(lt_, ip[n])
        L.append(f"| {n} | {gb(at)} | {gb(lt_)} | {fmt_ratio(ratio(at, lt_))} | {gb(ab)} | {gb(lb)} | {fmt_ratio(ratio(ab, lb))} | "
                 f"{gb(ip[n])} (-P {streams[n]}) | {'n/a' if pa is None else f'{pa * 100:.0f}%'} | {'n/a' if pl is None else f'{pl * 100:.0f}%'} |")
    L.append("")
    L.append(f"iperf3 3.12 accepts at most 128 parallel streams, so the 512-peer ceiling is measured with -P 128. "
             f"1 GB = 10^9 bytes. Bytes per CPU-second = payload bytes delivered in the measured window / the seeder's "
             f"utime+stime over the same window (/proc/PID/stat, all threads).")
    L.append("")
    L.append(f"![throughput vs peers]({os.path.basename(a.chart)})")

    # Latency
    L.append("")
    L.append("## Block latency (request sent -> block fully received, medians of per-round percentiles, ms)")
    L.append("")
    L.append("| peers | appliance p50 | p99 | p999 | p99/p50 | libtorrent p50 | p99 | p999 | p99/p50 |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in peers:
        row = [str(n)]
        for label in SEEDERS:
            p50, p99, p999 = get(label, n, "p50"), get(label, n, "p99"), get(label, n, "p999")
            row += [ms(p50), ms(p99), ms(p999), fmt_ratio(ratio(p99, p50))]
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append(f"With Q = {a.pipeline} requests outstanding per peer, latency grows with the number of peers by construction "
             f"(Little's law: about N x Q x 16 KiB / throughput); p99/p50 is the fairness figure.")

    # Idle (TCP only: LoadGen's idle mode does not speak uTP)
    if not utp:
        L.append("")
        L.append("## Idle connections (fresh seeder, handshaken and silent; 50 connections per source address 127.0.0.x)")
        L.append("")
        L.append("| seeder | requested | handshaken | open at end | RSS before | RSS after | extra RSS | extra anonymous RSS | per connection |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label in SEEDERS:
            d = idle.get(label)
            if not d:
                L.append(f"| {label} | {a.idle} | not measured | | | | | | |")
                continue
            delta = d.get("seeder_rss_delta_bytes")
            per = "n/a" if delta is None or not d["connections_handshaken"] else f"{delta / d['connections_handshaken'] / 1024:.1f} KiB"
            L.append(f"| {label} | {d['connections_requested']} | {d['connections_handshaken']} | {d['connections_open_at_end']} | "
                     f"{mib(d.get('seeder_rss_before_bytes'))} | {mib(d.get('seeder_rss_after_bytes'))} | {mib(delta)} | {mib(d.get('seeder_rss_anon_delta_bytes'))} | {per} |")
            if d.get("failure_reasons"):
                L.append(f"| | failures: {d['failure_reasons']} | | | | | | | |")

    # Per-round
    L.append("")
    L.append("## Every measurement")
    L.append("")
    L.append("| seeder | peers | round | GB/s | seeder CPU s | LoadGen CPU s | other processes CPU s | unchoked | dropped during run | verify failures | p50 / p99 / p999 ms | seeder allocated B/block |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in SEEDERS:
        for n in peers:
            for r in sorted(runs.get((label, n), []), key=lambda x: x["round"]):
                alloc = "n/a"
                if r.get("seeder_allocated_bytes") is not None and r["bytes"] > 0:
                    alloc = f"{r['seeder_allocated_bytes'] / (r['bytes'] / 16384):.2f}"
                cpu = "n/a" if r.get("seeder_cpu_s") is None else f"{r['seeder_cpu_s']:.2f}"
                others = "n/a"
                if r.get("machine_busy_cpu_s") is not None and r.get("seeder_cpu_s") is not None:
                    others = f"{max(0.0, r['machine_busy_cpu_s'] - r['seeder_cpu_s'] - r['loadgen_cpu_s']):.2f}"
                L.append(f"| {label} | {n} | {r['round']} | {r['throughput_Bps'] / 1e9:.3f} | {cpu} | {r['loadgen_cpu_s']:.2f} | {others} | "
                         f"{r['connections_unchoked']}/{n} | {r['connections_failed_during_run']} | {r['verify_failures']} | "
                         f"{ms(r['latency_p50_us'])} / {ms(r['latency_p99_us'])} / {ms(r['latency_p999_us'])} | {alloc} |")
                if r.get("failure_reasons"):
                    L.append(f"| | | | failures: {r['failure_reasons']} | | | | | | | | |")
    L.append("")
    L.append("iperf3 per round (GB/s): " + "; ".join(
        f"N={n}: " + ", ".join(f"{v / 1e9:.2f}" for v, _ in iperf.get(n, [])) for n in peers if iperf.get(n)) if iperf else "iperf3: not measured")

    L.append("")
    L.append("## Machine")
    L.append("")
    L.append("```")
    L.append(machine)
    L.append("")
    L.append(free)
    L.append("```")
    L.append("")
    L.append("## Commands")
    L.append("")
    L.append("```")
    L.append(a.command)
    if a.format == "hybrid":
        L.append(f"appliance create W/content/sample -o W/torrents/sample.torrent --format hybrid --piece-length {int(a.piece_kib) * 1024}")
    L.append("# per measurement (see compare.sh):")
    L.append("appliance serve --content W/content --torrents W/torrents --state W/state --listen 127.0.0.1:P --upload-slots unlimited --no-dht --no-tracker --metrics-listen 127.0.0.1:M")
    lt_flags = "".join(f" --set {kv}" for kv in a.lt_set.split())
    L.append(f"/usr/bin/python3 bench/scripts/libtorrent_seed.py --torrent W/torrents/sample.torrent --save-path W/content --listen 127.0.0.1:P{lt_flags}")
    L.append(f"Appliance.LoadGen --torrent W/torrents/sample.torrent --target 127.0.0.1:P --peers N --pipeline {a.pipeline} --duration {a.duration} --warmup {a.warmup} --seeder-pid PID --verify {a.verify} --recv-buffer {a.recv_buffer} --join {a.join}{' --transport utp' if utp else ''} [--metrics http://127.0.0.1:M/metrics] --json OUT")
    if not utp:
        L.append(f"iperf3 -s -B 127.0.0.1 -p P ; iperf3 -c 127.0.0.1 -p P -P min(N,128) -l {a.iperf_len} -t {a.duration} -O {a.warmup} -J")
        L.append(f"Appliance.LoadGen --idle {a.idle} --per-ip 50 --join {a.join} --torrent W/torrents/sample.torrent --target 127.0.0.1:P --duration 5 --warmup 3 --seeder-pid PID")
    L.append("```")
    L.append("")
    L.append("## How to read this")
    L.append("")
    if a.verify == "reference":
        L.append("- The client checks every byte it receives. It hashes a piece with SHA-1 the first time the run receives it and keeps those bytes; "
                 "every later copy of that piece, from any connection, is compared byte for byte with them (a mismatch counts as a verify failure, "
                 "like a wrong hash). This is as strict as hashing each copy but costs a memory compare instead of SHA-1 (about 0.56 CPU-s per GiB "
                 "here with SHA-NI), so the client takes less of the 2 cores it shares with the seeder. Pieces hashed are counted in the LoadGen JSON "
                 "(`pieces_hashed`, about one per piece per run).")
    else:
        L.append("- The client hashes every received piece with SHA-1 (about 0.56 CPU-s per GiB here with SHA-NI through OpenSSL).")
    L.append("- The client receives every byte through the kernel, so it needs CPU of the same order as a fast seeder; client and seeder share 2 cores, "
             "so above about 1 GB/s the client, not the seeder, can be the limit. Its CPU time and the CPU taken by other processes (whole-machine "
             "busy time from /proc/stat minus seeder minus client) are in the per-measurement table; the seeder's bytes per CPU-second is the figure "
             "least affected by this.")
    L.append("- RSS of a memory-mapping seeder includes page-cache pages of the mapped content it touched; the idle test runs on a fresh process "
             "before any block is served, and the anonymous-RSS column excludes file-backed pages.")
    L.append("- Allocated bytes come from the appliance's own counter (`GC.GetTotalAllocatedBytes(false)`, process-wide, so metric scrapes, "
             "timers and the LoadGen's scrape requests are included); libtorrent is C++ and has no such figure.")

    text = "\n".join(L) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    chart(a.chart, peers, {
        "appliance": [get("appliance", n, "tput") for n in peers],
        "libtorrent": [get("libtorrent", n, "tput") for n in peers],
        "iperf3": [ip[n] for n in peers],
    }, f"Seeding throughput vs peers ({date}{f', {a.format}, {a.join} join' if variant else ''}{', RC4' if a.encryption == 'rc4' else ''}{', uTP' if utp else ''}, medians, 2-core shared VM)")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
