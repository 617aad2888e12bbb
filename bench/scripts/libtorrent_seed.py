#!/usr/bin/python3
"""Seed one torrent with python3-libtorrent (Debian 2.0.x) using its high-performance seed settings.

TCP only on 127.0.0.1:PORT, no DHT/LSD/UPnP/NAT-PMP, several connections per IP allowed, every peer
unchoked, no rate limits; --set KEY=VALUE overrides any setting on top. Prints "READY pid=<pid> port=<port> info_hash=<hex>" once the data is verified
and it is seeding, then runs until SIGTERM/SIGINT (or --max-seconds, so it never outlives a bench run).
Run with /usr/bin/python3: the Debian binding is built for that interpreter.
"""
import argparse
import os
import signal
import sys
import time

import libtorrent as lt


def apply_overrides(settings, items):
    """--set KEY=VALUE overrides, typed as libtorrent's default for KEY; prints an ERROR line and returns False on a bad one."""
    known = lt.default_settings()
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in known:
            print(f"ERROR --set {item}: not KEY=VALUE with a known libtorrent setting", flush=True)
            return False
        current = known[key]
        if isinstance(current, bool):
            settings[key] = value.lower() in ("1", "true", "yes")
        elif isinstance(current, int):
            settings[key] = int(value)
        else:
            settings[key] = value
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--save-path", required=True, help="folder holding <info.name>")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0 = any free port)")
    ap.add_argument("--max-seconds", type=float, default=3600)
    ap.add_argument("--resume", metavar="FILE",
                    help="fast resume: load FILE when it exists (no check of the data at start), else check and write it once seeding")
    ap.add_argument("--connections-limit", type=int, default=20000)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one libtorrent setting after high_performance_seed() (repeatable), e.g. aio_threads=1")
    args = ap.parse_args()

    settings = lt.high_performance_seed()
    settings.update({
        "listen_interfaces": args.listen,
        "enable_incoming_tcp": True,
        "enable_outgoing_tcp": True,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "unchoke_slots_limit": -1,
        "upload_rate_limit": 0,
        "download_rate_limit": 0,
        "connections_limit": args.connections_limit,
        # Incoming peers enter the peer list first; its default cap (3000) would refuse the rest.
        "max_peerlist_size": args.connections_limit,
        "alert_mask": lt.alert_category.error | lt.alert_category.status,
        "user_agent": "libtorrent-bench-seed",
    })
    if args.resume is not None:
        settings["alert_mask"] = settings["alert_mask"] | lt.alert_category.storage  # save_resume_data_alert
    if not apply_overrides(settings, args.set):
        return 2
    session = lt.session(settings)

    info = lt.torrent_info(args.torrent)
    resumed = args.resume is not None and os.path.exists(args.resume)
    if resumed:
        with open(args.resume, "rb") as f:
            params = lt.read_resume_data(f.read())
    else:
        params = lt.add_torrent_params()
    params.ti = info
    params.save_path = args.save_path
    params.max_connections = args.connections_limit
    params.max_uploads = -1
    handle = session.add_torrent(params)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))

    deadline = time.monotonic() + args.max_seconds
    # A full check (not seed_mode) so no piece is hashed lazily while we are measured.
    while not stopping and time.monotonic() < deadline:
        st = handle.status()
        if st.is_seeding:
            break
        if st.errc.value() != 0:
            print(f"ERROR {st.errc.message()}", flush=True)
            return 2
        if st.state == lt.torrent_status.downloading and not st.is_seeding:
            print(f"ERROR data incomplete under {args.save_path}: progress {st.progress:.3f}", flush=True)
            return 2
        time.sleep(0.05)

    if not handle.status().is_seeding:
        print("ERROR not seeding", flush=True)
        return 2
    if args.resume is not None and not resumed and not save_resume(session, handle, args.resume):
        print("ERROR could not save resume data", flush=True)
        return 2
    print(f"READY pid={os.getpid()} port={session.listen_port()} info_hash={info.info_hash()}", flush=True)

    while not stopping and time.monotonic() < deadline:
        time.sleep(0.2)
        for alert in session.pop_alerts():
            if alert.category() & lt.alert_category.error:
                print(f"ALERT {alert.message()}", file=sys.stderr, flush=True)
    del session
    return 0


def save_resume(session, handle, path):
    """Asks for the torrent's resume data and writes it to PATH (within 30 s)."""
    handle.save_resume_data(lt.save_resume_flags_t.save_info_dict)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        session.wait_for_alert(500)
        for alert in session.pop_alerts():
            if isinstance(alert, lt.save_resume_data_alert):
                with open(path, "wb") as f:
                    f.write(lt.write_resume_data_buf(alert.params))
                return True
            if isinstance(alert, lt.save_resume_data_failed_alert):
                return False
    return False


if __name__ == "__main__":
    sys.exit(main())
