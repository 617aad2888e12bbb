#!/usr/bin/python3
"""Time to first payload byte for one python3-libtorrent client dialing one seeder.

The client keeps libtorrent's stock connection settings (what qBittorrent and Deluge ship: uTP enabled and
tried first, TCP as the fallback, encryption "enabled") unless --transport narrows it; only discovery is off
(no DHT, LSD, UPnP or NAT-PMP) so the seeder given with --peer is the one peer it knows. Prints one JSON line:
{"first_byte_s", "complete_s", "transport", "downloaded"} measured from connect_peer(). Run with /usr/bin/python3.
"""
import argparse
import json
import sys
import tempfile
import time

import libtorrent as lt

# peer_info::utp_socket (bit 17 of peer_info.flags); Debian's 2.0 binding does not name it.
UTP_SOCKET = 1 << 17


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--peer", required=True, help="seeder HOST:PORT")
    ap.add_argument("--transport", choices=["stock", "tcp", "utp"], default="stock")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    }
    if args.transport == "tcp":
        settings.update({"enable_outgoing_utp": False, "enable_incoming_utp": False})
    elif args.transport == "utp":
        settings.update({"enable_outgoing_tcp": False, "enable_incoming_tcp": False})
    session = lt.session(settings)

    host, _, port = args.peer.rpartition(":")
    with tempfile.TemporaryDirectory(prefix="first-byte-") as save_path:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.torrent)
        params.save_path = save_path
        handle = session.add_torrent(params)
        while handle.status().state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
            time.sleep(0.005)

        started = time.monotonic()
        handle.connect_peer((host.strip("[]"), int(port)))
        first = complete = None
        transport = None
        deadline = started + args.timeout
        while time.monotonic() < deadline:
            st = handle.status()
            now = time.monotonic()
            if first is None and st.total_payload_download > 0:
                first = now - started
                for peer in handle.get_peer_info():
                    transport = "utp" if peer.flags & UTP_SOCKET else "tcp"
            if st.is_seeding:
                complete = now - started
                break
            time.sleep(0.002)
        print(json.dumps({
            "first_byte_s": first,
            "complete_s": complete,
            "transport": transport,
            "downloaded": st.total_payload_download,
        }), flush=True)
        return 0 if complete is not None else 1


if __name__ == "__main__":
    sys.exit(main())
