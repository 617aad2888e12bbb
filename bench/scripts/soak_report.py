#!/usr/bin/python3
"""Turns a soak's results folder (bench/scripts/soak.sh) into the verdict, the markdown report and its SVG plot.

Checks (each must pass; the exit status is 1 otherwise):
  - the seeder was alive at every sample and at the end, and stopped cleanly (exit 0) on SIGTERM;
  - /healthz answered every sample;
  - growth: the least-squares slope of VmRSS, RssAnon and open descriptors over the second half of the run (fitted to
    each minute's lowest sample, the floor a leak raises) stays under --rss-slope-max MiB/hour and --fd-slope-max
    descriptors/hour (the first half is warm-up: caches, pools);
    judged in runs of 10 minutes or more only;
  - nothing lost: every LoadGen download completed with no verify failure, every churn run verified every piece, every
    probe download completed, every HTTP announce was answered, every add and remove took effect;
  - counters that must stay 0 did: disk errors, faulted torrents, refused torrents at the end;
  - the seeder logged no warning or error (a stopped UDP receive loop, for one, shows only there).
Only what the files hold is written; anything missing is "not measured".
"""
import argparse
import csv
import glob
import json
import math
import os
import re
import statistics
import sys

from report import legend_entry, svg_end, svg_start

MIB = 1048576
# A trend fitted over less than five minutes is noise (one garbage collection moves it): shorter runs report it unjudged.
MIN_JUDGED_SECONDS = 600


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_text(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def samples(path):
    rows = []
    try:
        with open(path) as f:
            for r in csv.DictReader(f):
                rows.append({k: (float(v) if v not in ("", None) and k != "alive" else v) for k, v in r.items()})
    except OSError:
        pass
    return rows


def slope(points):
    """Least-squares slope (units per second) of [(t, v)]; None with fewer than 3 points."""
    points = [(t, v) for t, v in points if v not in ("", None)]
    if len(points) < 3:
        return None
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return None if den == 0 else sum((t - mt) * (v - mv) for t, v in points) / den


def fit(points):
    """(slope, intercept) for the plot's trend line."""
    s = slope(points)
    if s is None:
        return None
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    return s, mv - s * mt


def minute_floors(points, start):
    """The lowest value of each minute from `start` on, at that sample's time: [(t, v)]. A minute with fewer than four
    samples (the run's last, cut short) has no floor worth the name and is left out."""
    minutes = {}
    for t, v in points:
        minutes.setdefault(int((t - start) // 60), []).append((t, v))
    return [min(samples, key=lambda p: p[1]) for _, samples in sorted(minutes.items()) if len(samples) >= 4]


def metric(text, name, labels=""):
    total = None
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$', line)
        if m and m.group(1) == name and labels in (m.group(2) or ""):
            total = (total or 0) + float(m.group(3))
    return total


def by_label(text, name, label):
    out = {}
    for line in text.splitlines():
        m = re.match(r'^' + re.escape(name) + r'\{[^}]*' + label + r'="([^"]*)"[^}]*\}\s+(\S+)$', line)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(2))
    return out


def nice_step(rough):
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least `rough`."""
    power = 10 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)


def chart(path, rows, half, trends, title):
    """Four panels over time: memory, descriptors, threads, latency; the second half shaded, trend lines dashed."""
    width, panel_h, gap, left, right, top = 860, 150, 40, 80, 170, 50
    panels = [
        ("resident memory (MiB)", [("VmRSS", "rss_bytes", MIB, "#1f77b4"), ("RssAnon", "rss_anon_bytes", MIB, "#2ca02c")]),
        ("open descriptors", [("fds", "fds", 1, "#d62728")]),
        ("threads", [("threads", "threads", 1, "#9467bd")]),
        ("latency (ms)", [("/healthz round trip", "healthz_ms", 1, "#ff7f0e"), ("block p99 (interval)", "block_p99_ms", 1, "#8c564b"),
                          ("block p50 (interval)", "block_p50_ms", 1, "#7f7f7f")]),
    ]
    height = top + len(panels) * (panel_h + gap) + 30
    pw = width - left - right
    tmax = max([r["t_s"] for r in rows] + [1])

    def x(t):
        return left + t / tmax * pw

    out = svg_start(width, height, title)
    for i, (name, series) in enumerate(panels):
        y0 = top + i * (panel_h + gap)
        values = [r[key] / scale for _, key, scale, _ in series for r in rows if isinstance(r.get(key), float) and r[key] != float("inf")]
        step = nice_step(max(values + [1e-9]) / 4)
        vmax = step * 4 if max(values + [0]) <= step * 4 else step * 5
        vmin = 0.0

        def y(v):
            return y0 + panel_h - (v - vmin) / (vmax - vmin) * panel_h

        out.append(f'<rect x="{x(half):.1f}" y="{y0}" width="{x(tmax) - x(half):.1f}" height="{panel_h}" fill="#f3f3f3"/>')
        for k in range(int(round(vmax / step)) + 1):
            v = k * step
            out.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{left + pw}" y2="{y(v):.1f}" stroke="#e0e0e0"/>')
            out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.4g}</text>')
        out.append(f'<rect x="{left}" y="{y0}" width="{pw}" height="{panel_h}" fill="none" stroke="black"/>')
        out.append(f'<text x="{left}" y="{y0 - 6}">{name}</text>')
        for j, (label, key, scale, color) in enumerate(series):
            pts = [(x(r["t_s"]), y(r[key] / scale)) for r in rows if isinstance(r.get(key), float) and r[key] != float("inf")]
            if len(pts) > 1:
                out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
            line = trends.get(key)
            if line:
                s, c = line
                out.append(f'<line x1="{x(half):.1f}" y1="{y((s * half + c) / scale):.1f}" x2="{x(tmax):.1f}" y2="{y((s * tmax + c) / scale):.1f}" '
                           f'stroke="black" stroke-width="1.2" stroke-dasharray="5 3"/>')
            legend_entry(out, left + pw + 12, y0 + 14 + j * 18, color, label, stroke=2)
    axis_y = top + len(panels) * (panel_h + gap) - gap + 18
    for k in range(6):
        t = tmax * k / 5
        out.append(f'<text x="{x(t):.1f}" y="{axis_y}" text-anchor="middle">{t / 60:.1f}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{axis_y + 18}" text-anchor="middle">minutes (shaded: the second half, where the trend is fitted; dashed: the fit to the lowest sample of each minute)</text>')
    svg_end(path, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--duration", type=int, required=True)
    ap.add_argument("--size-mib", default="32")
    ap.add_argument("--rss-slope-max", type=float, required=True, help="MiB per hour")
    ap.add_argument("--fd-slope-max", type=float, required=True, help="descriptors per hour")
    ap.add_argument("--hashes", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--chart", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--serve", required=True)
    a = ap.parse_args()
    res = a.results
    checks = []  # (what, measured, ok)

    rows = samples(os.path.join(res, "samples.csv"))
    alive_rows = [r for r in rows if r.get("alive") == "1"]
    alive_end = read_text(os.path.join(res, "alive-at-end.txt")) == "1"
    exit_text = read_text(os.path.join(res, "seeder-exit.txt"), "? ?").split()
    checks.append(("the seeder never died", f"{len(alive_rows)} of {len(rows)} samples alive, alive at the end: {'yes' if alive_end else 'no'}",
                   bool(rows) and len(alive_rows) == len(rows) and alive_end))
    checks.append(("clean stop on SIGTERM", f"exit code {exit_text[0]} after {exit_text[1]} ms", exit_text[0] == "0"))
    healthz_bad = [r for r in alive_rows if r.get("healthz_ok") != 1.0]
    checks.append(("/healthz answered every sample", f"{len(alive_rows) - len(healthz_bad)} of {len(alive_rows)}", bool(alive_rows) and not healthz_bad))

    # Growth over the second half, fitted to each minute's lowest sample: connections of the churn come and go
    # between samples (100 idle peers are 100 descriptors) and the heap saws with collections; what a leak raises is
    # the floor. The slope over every sample is shown beside it.
    half = a.duration / 2
    second = [r for r in alive_rows if r["t_s"] >= half]
    trends = {}
    growth = []
    for key, label, scale, unit, limit in (("rss_bytes", "VmRSS", MIB, "MiB", a.rss_slope_max), ("rss_anon_bytes", "RssAnon", MIB, "MiB", a.rss_slope_max),
                                           ("fds", "open descriptors", 1, "fds", a.fd_slope_max), ("threads", "threads", 1, "threads", None)):
        pts = [(r["t_s"], r[key]) for r in second if isinstance(r.get(key), float)]
        floors = minute_floors(pts, half)
        line = fit(floors)
        if line:
            trends[key] = line
        per_hour = None if line is None else line[0] * 3600 / scale
        raw = slope(pts)
        raw_per_hour = None if raw is None else raw * 3600 / scale
        first_v = floors[0][1] / scale if floors else None
        last_v = floors[-1][1] / scale if floors else None
        growth.append((label, unit, per_hour, raw_per_hour, first_v, last_v, limit, len(floors)))
        if limit is not None and a.duration >= MIN_JUDGED_SECONDS:
            checks.append((f"no growth trend in {label} (second half, per-minute floor)",
                           "not measured" if per_hour is None else f"{per_hour:+.1f} {unit}/hour (limit {limit:g})",
                           per_hour is not None and per_hour <= limit))

    # Nothing lost.
    downloads = [d for d in (read_json(p) for p in sorted(glob.glob(os.path.join(res, "download-*.json")))) if d]
    d_ok = [d for d in downloads if d["peers_completed"] == d["peers"] and d["verify_failures"] == 0]
    checks.append(("every LoadGen download complete and verified",
                   f"{len(d_ok)} of {len(downloads)} rounds ({sum(d['peers_completed'] for d in downloads)} whole-torrent downloads, "
                   f"{sum(d['pieces_verified'] for d in downloads)} pieces verified, {sum(d['verify_failures'] for d in downloads)} failures)",
                   bool(downloads) and len(d_ok) == len(downloads)))
    churn = [d for d in (read_json(p) for p in sorted(glob.glob(os.path.join(res, "churn-*.json")))) if d]
    idle = [d for d in (read_json(p) for p in sorted(glob.glob(os.path.join(res, "idle-*.json")))) if d]
    checks.append(("churn downloads verified", f"{len(churn)} runs, {sum(d['pieces_verified'] for d in churn)} pieces verified, "
                   f"{sum(d['verify_failures'] for d in churn)} failures", bool(churn) and all(d["verify_failures"] == 0 for d in churn)))
    probes = []
    try:
        with open(os.path.join(res, "probe.jsonl")) as f:
            probes = [json.loads(line) for line in f if line.strip()]
    except OSError:
        pass
    probe_done = [p for p in probes if p["result"] and p["result"].get("complete_s") is not None]
    checks.append(("every probe download (libtorrent, uTP and TCP in turn) complete", f"{len(probe_done)} of {len(probes)}", bool(probes) and len(probe_done) == len(probes)))
    announces = read_text(os.path.join(res, "http-announces.txt")).splitlines()
    answered_ok = sum(line == "ok" for line in announces)
    refusals = sorted({line for line in announces if line != "ok"})
    checks.append(("every HTTP announce answered", f"{answered_ok} of {len(announces)}" + (f" (first failure: `{refusals[0]}`)" if refusals else ""),
                   bool(announces) and answered_ok == len(announces)))
    ops = []
    try:
        with open(os.path.join(res, "torrent-ops.csv")) as f:
            ops = list(csv.DictReader(f))
    except OSError:
        pass
    for kind in ("folder-add", "folder-remove", "api-add", "api-remove"):
        these = [o for o in ops if o["operation"] == kind]
        took = [int(o["took"][:-2]) for o in these if o["result"] == "ok" and o["took"].endswith("ms")]
        checks.append((f"every {kind} took effect", f"{sum(o['result'] == 'ok' for o in these)} of {len(these)}"
                       + (f", median {statistics.median(took) / 1000:.1f} s" if took else ""), bool(these) and all(o["result"] == "ok" for o in these)))

    # Warnings and errors in the seeder's log: hostile peers are refused quietly (debug level), so any is worth a look.
    log_lines = [line for line in read_text(os.path.join(res, "seeder.err")).splitlines() if re.search(r"\b(warn|fail|crit):", line)]
    distinct = sorted({re.sub(r"^\S+\s+", "", line) for line in log_lines})
    checks.append(("no warning or error in the seeder's log", f"{len(log_lines)} lines" + (f"; first: `{distinct[0][:200]}`" if distinct else ""), not log_lines))

    # Counters that must stay 0.
    metrics = read_text(os.path.join(res, "metrics-end.txt"))
    for what, name, labels in (("disk errors", "appliance_disk_errors_total", ""), ("faulted torrents", "appliance_torrents", 'state="faulted"'),
                               ("refused torrents at the end", "appliance_torrents", 'state="refused"')):
        v = metric(metrics, name, labels)
        checks.append((f"{what} = 0", "not measured" if v is None else f"{v:g}", v == 0))

    failed = [c for c in checks if not c[2]]
    short = a.duration < 1800
    date = os.path.basename(a.out)[:10]
    L = []
    if short:
        L.append(f"# Soak: SHORT CHECK of {a.duration} s ({date}), not the 30-minute soak")
        L.append("")
        L.append(f"A {a.duration}-second run proves the script works end to end; its trends are too short to mean anything. "
                 "The soak itself is `bench/scripts/soak.sh` with the default 30 minutes on a quiet machine.")
    else:
        L.append(f"# Soak: {a.duration / 60:.0f} minutes of mixed load on one `appliance serve` ({date})")
    L.append("")
    L.append(f"**Verdict: {'PASS' if not failed else 'FAIL'}** ({len(checks) - len(failed)} of {len(checks)} checks passed"
             + ("" if not failed else "; failed: " + "; ".join(c[0] for c in failed)) + ").")
    L.append("")
    L.append(f"Machine: {read_text(os.path.join(res, 'machine.txt')).replace(chr(10), '; ')}. Load average at start {read_text(os.path.join(res, 'loadavg-start.txt'))}, "
             f"at the end {read_text(os.path.join(res, 'loadavg-end.txt'))} (a shared machine shows in latency, not in the checks).")
    L.append("")
    L.append("## Checks")
    L.append("")
    L.append("| check | measured | pass |")
    L.append("|---|---|---|")
    for what, measured, ok in checks:
        L.append(f"| {what} | {measured} | {'yes' if ok else '**no**'} |")
    L.append("")
    L.append("## Growth (second half, least squares)")
    L.append("")
    if a.duration < MIN_JUDGED_SECONDS:
        L.append(f"Not judged: the run was shorter than {MIN_JUDGED_SECONDS // 60} minutes, so the fit is noise.")
        L.append("")
    L.append("| series | slope of the per-minute floor (judged) | slope of every sample | floor, first minute | floor, last minute | limit | minutes |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for label, unit, per_hour, raw_per_hour, first_v, last_v, limit, n in growth:
        fmt = (lambda v: "n/a" if v is None else f"{v:.1f} {unit}")
        rate = (lambda v: "n/a" if v is None else f"{v:+.1f} {unit}/hour")
        L.append(f"| {label} | {rate(per_hour)} | {rate(raw_per_hour)} | {fmt(first_v)} | {fmt(last_v)} | "
                 f"{'-' if limit is None else f'{limit:g} {unit}/hour'} | {n} |")
    L.append("")
    L.append(f"![memory, descriptors, threads and latency over the run]({os.path.basename(a.chart)})")
    L.append("")
    L.append("## Latency")
    L.append("")

    def stats(key):
        vs = sorted(r[key] for r in alive_rows if isinstance(r.get(key), float) and r[key] != float("inf"))
        if not vs:
            return "not measured"
        return f"median {statistics.median(vs):.2f} ms, worst {vs[-1]:.2f} ms over {len(vs)} samples"

    L.append(f"- `/healthz` round trip: {stats('healthz_ms')}")
    L.append(f"- block latency p99 per 10-s interval (request arrived to send completed, upper bucket bound): {stats('block_p99_ms')}")
    L.append(f"- block latency p50 per interval: {stats('block_p50_ms')}")
    for transport in ("utp", "tcp"):
        fb = sorted(p["result"]["first_byte_s"] * 1000 for p in probe_done if p["transport"] == transport and p["result"].get("first_byte_s") is not None)
        used = sorted({str(p["result"].get("transport")) for p in probe_done if p["transport"] == transport})
        L.append(f"- probe client over {transport} (connected over {', '.join(used) or 'n/a'}), time to first byte: "
                 + (f"median {statistics.median(fb):.0f} ms, worst {fb[-1]:.0f} ms over {len(fb)} downloads" if fb else "not measured"))
    L.append("")
    L.append("## What ran")
    L.append("")
    L.append(f"- downloads: {len(downloads)} LoadGen `--complete` rounds of 4 peers over a {a.size_mib} MiB torrent (every other one MSE/RC4), "
             f"{sum(d['bytes'] for d in downloads) / 1e9:.2f} GB")
    L.append(f"- churn: {len(churn)} short verifying LoadGen runs of 8 peers, {len(idle)} runs of 100 idle handshaked peers "
             f"({sum(d['connections_handshaken'] for d in idle)} handshakes)")
    L.append(f"- probe: {len(probes)} fresh python3-libtorrent downloads")
    hostile = read_json(os.path.join(res, "hostile.json"))
    if hostile:
        parts = []
        for kind, outcomes in sorted(hostile["kinds"].items()):
            parts.append(f"{kind} " + ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())))
        L.append(f"- hostile peers ({hostile['started']} started): " + "; ".join(parts))
    else:
        L.append("- hostile peers: not measured")
    dht = read_text(os.path.join(res, "dht.txt"))
    sent = sum(int(m) for m in re.findall(r"queries sent (\d+)", dht))
    answered = sum(int(m) for m in re.findall(r" answered (\d+) \(", dht))
    L.append(f"- DHT: {len(re.findall('queries sent', dht))} bursts, {sent} queries sent, {answered} answered (the node's per-source rate limit drops the rest)")
    tracker = read_text(os.path.join(res, "tracker.txt"))
    responses = sum(int(m) for m in re.findall(r" responses=(\d+)", tracker))
    timeouts = sum(int(m) for m in re.findall(r" timeouts=(\d+)", tracker))
    L.append(f"- tracker: {len(re.findall('label=', tracker))} UDP bursts, {responses} responses, {timeouts} timeouts; {len(announces)} HTTP announces")
    L.append(f"- torrents: {len(ops)} add and remove operations (hashes {a.hashes})")
    L.append("")
    L.append("## Counters at the end (from /metrics)")
    L.append("")
    for name, label in (("appliance_handshakes_total", "result"), ("appliance_encrypted_handshakes_total", "result"),
                        ("appliance_disconnects_total", "reason"), ("appliance_connections_refused_total", "limit"),
                        ("appliance_requests_rejected_total", "reason"), ("appliance_utp_connections_refused_total", "reason"),
                        ("appliance_utp_resets_total", "direction"), ("appliance_embedded_tracker_requests_total", "type"),
                        ("appliance_dht_dropped_packets_total", "reason"), ("appliance_torrents", "state")):
        values = by_label(metrics, name, label)
        L.append(f"- `{name}`: " + (", ".join(f"{k} {v:g}" for k, v in sorted(values.items())) if values else "not measured"))
    for name in ("appliance_blocks_served_total", "appliance_uploaded_bytes_total", "appliance_connections_accepted_total",
                 "appliance_utp_connections_accepted_total", "appliance_rate_limited_packets_total", "appliance_utp_dropped_packets_total"):
        v = metric(metrics, name)
        L.append(f"- `{name}`: {'not measured' if v is None else f'{v:g}'}")
    L.append("")
    L.append("## Commands")
    L.append("")
    L.append("```")
    L.append(a.command)
    L.append(a.serve)
    L.append("```")
    L.append("")
    L.append("Samples every 10 s (bench/scripts/soak_sample.py): VmRSS and RssAnon from /proc/PID/status (VmRSS includes the "
             "mapped content pages the seeder touched, RssAnon does not), descriptors from /proc/PID/fd, threads, a `/healthz` "
             "round trip, block latency from the `appliance_block_serve_duration_seconds` histogram's bucket deltas. "
             "The first half is warm-up (pools, caches, the page cache filling); the trend is fitted over the second half only.")
    text = "\n".join(L) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    chart(a.chart, alive_rows or rows, half, trends,
          f"Soak {'short check ' if short else ''}{date}: {a.duration // 60} min of mixed load on one appliance serve")
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
