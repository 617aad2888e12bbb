#!/usr/bin/python3
"""Seed every .torrent of a folder with python3-libtorrent, as a first start would: each torrent's data is checked
(not seed_mode), with libtorrent's default settings but for discovery (no DHT, LSD, UPnP, NAT-PMP), the listen
address, and with torrents added outside libtorrent's queue (not auto-managed, as qBittorrent adds them with queueing
turned off): queued, libtorrent checks one torrent at a time and starts more only every auto-manage interval (30 s),
and seeds at most 5 at once, which no mass seeder would run with. Prints "LISTENING port=<port>" once the listen socket is open, "ALL_SEEDING seconds=<s>" when every torrent
seeds (seconds since this process started), and runs until SIGTERM/SIGINT or --max-seconds. With --resume-dir, a
torrent whose DIR/<info-hash>.fastresume exists is added from it (a restart: no check of the data), and once every
torrent seeds, the resume data of those added without it is written there ("RESUME_SAVED count=<n>"), as a client
saves it after checking.
Run with /usr/bin/python3: the Debian binding is built for that interpreter.
"""
import argparse
import os
import signal
import time

import libtorrent as lt

STARTED = time.monotonic()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--folder", required=True, help="holds NAME.torrent beside its content")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--high-performance", action="store_true",
                    help="start from lt.high_performance_seed() instead of the defaults")
    ap.add_argument("--resume-dir", metavar="DIR", help="load and save fast-resume files here (restart measurements)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a libtorrent setting on top")
    args = ap.parse_args()

    settings = lt.high_performance_seed() if args.high_performance else {}
    for kv in args.set:
        key, value = kv.split("=", 1)
        settings[key] = int(value) if value.lstrip("-").isdigit() else (value == "true" if value in ("true", "false") else value)
    settings.update({
        "listen_interfaces": args.listen,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert_category.status | lt.alert_category.error | lt.alert_category.storage,
    })
    session = lt.session(settings)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    deadline = STARTED + args.max_seconds
    while session.listen_port() == 0 and time.monotonic() < deadline and not stopping:
        time.sleep(0.01)
    print(f"LISTENING port={session.listen_port()}", flush=True)

    names = sorted(n for n in os.listdir(args.folder) if n.endswith(".torrent"))
    resumed = 0
    for name in names:
        info = lt.torrent_info(os.path.join(args.folder, name))
        resume = os.path.join(args.resume_dir, f"{info.info_hash()}.fastresume") if args.resume_dir else None
        if resume and os.path.exists(resume):
            with open(resume, "rb") as f:
                params = lt.read_resume_data(f.read())
            resumed += 1
        else:
            params = lt.add_torrent_params()
        params.ti = info
        params.save_path = args.folder
        params.flags &= ~lt.torrent_flags.auto_managed
        params.flags &= ~lt.torrent_flags.paused
        session.async_add_torrent(params)

    announced = False
    while not stopping and time.monotonic() < deadline:
        if not announced and len(session.get_torrents()) == len(names) \
                and not session.get_torrent_status(lambda st: not st.is_seeding, 0):
            print(f"ALL_SEEDING seconds={time.monotonic() - STARTED:.2f}", flush=True)
            announced = True
            if args.resume_dir and resumed < len(names):
                print(f"RESUME_SAVED count={save_all_resume(session, args.resume_dir, deadline)}", flush=True)
        session.pop_alerts()
        time.sleep(0.2)


def save_all_resume(session, folder, deadline):
    """Asks every torrent for its resume data and writes each to FOLDER/<info-hash>.fastresume; returns how many."""
    os.makedirs(folder, exist_ok=True)
    handles = session.get_torrents()
    for handle in handles:
        handle.save_resume_data()
    saved = failed = 0
    while saved + failed < len(handles) and time.monotonic() < deadline:
        session.wait_for_alert(500)
        for alert in session.pop_alerts():
            if isinstance(alert, lt.save_resume_data_alert):
                with open(os.path.join(folder, f"{alert.params.info_hashes.v1}.fastresume"), "wb") as f:
                    f.write(lt.write_resume_data_buf(alert.params))
                saved += 1
            elif isinstance(alert, lt.save_resume_data_failed_alert):
                failed += 1
    return saved


if __name__ == "__main__":
    main()
