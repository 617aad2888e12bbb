#!/usr/bin/python3
"""A DHT-only libtorrent 2.0 node on 127.0.0.1:PORT, for DHT load tests (bench/scripts/dht-vs-libtorrent.sh).

No torrents, no bootstrap (it waits to be contacted), no LSD/UPnP/NAT-PMP. Two settings move from libtorrent's
defaults so the node is measured, not its throttles: dht_upload_rate_limit (8,000 B/s by default, which would cap it
at a few dozen answers per second) and dht_block_ratelimit (5 queries/s per source by default) set to --per-source,
the appliance's own default per-source limit, so both nodes face the same rule. --set KEY=VALUE overrides any
setting. Prints "READY pid=<pid> port=<port>", then runs until SIGTERM/SIGINT or --max-seconds.
Run with /usr/bin/python3: the Debian binding is built for that interpreter.
"""
import argparse
import os
import signal
import sys
import time

import libtorrent as lt
from libtorrent_seed import apply_overrides


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--per-source", type=int, default=20)
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()

    settings = {
        "listen_interfaces": "127.0.0.1:%d" % args.port,
        "enable_dht": True,
        "dht_bootstrap_nodes": "",
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_upload_rate_limit": 1 << 30,
        "dht_block_ratelimit": args.per_source,
        "alert_mask": lt.alert_category.error,
        "user_agent": "libtorrent-bench-dht",
    }
    if not apply_overrides(settings, args.set):
        return 2

    session = lt.session(settings)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    deadline = time.monotonic() + args.max_seconds
    while not session.is_dht_running():
        if time.monotonic() > deadline or stop:
            print("ERROR the DHT did not start", flush=True)
            return 1
        time.sleep(0.05)
    print(f"READY pid={os.getpid()} port={session.listen_port()}", flush=True)
    while not stop and time.monotonic() < deadline:
        time.sleep(0.2)
        session.pop_alerts()
    return 0


if __name__ == "__main__":
    sys.exit(main())
