namespace Appliance.Interop.Tests.Seeding;

/// <summary>python3-libtorrent scripts the seeding interop tests share (run with /usr/bin/python3).</summary>
internal static class LibtorrentScripts
{
    /// <summary>
    /// libtorrent's torrent creator (qBittorrent's): argv source, output, "hybrid" (with BEP 47 pad files) or "v2",
    /// piece length, and optionally a BEP 19 web seed URL. Prints the v1 info-hash (hybrid only) and the v2 one.
    /// </summary>
    public const string Creator = """
        import sys, os, libtorrent as lt
        src, out, mode, piece = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        fs = lt.file_storage()
        lt.add_files(fs, src)
        flags = {'hybrid': 0, 'v2': lt.create_torrent.v2_only}[mode]
        t = lt.create_torrent(fs, piece, flags=flags)
        if len(sys.argv) > 5:
            t.add_url_seed(sys.argv[5])
        lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(src)))
        open(out, 'wb').write(lt.bencode(t.generate()))
        ti = lt.torrent_info(out)
        print(ti.info_hashes().v1 if mode == 'hybrid' else '', ti.info_hashes().v2)
        """;

    /// <summary>
    /// A leecher: argv a .torrent file or a magnet link, save folder, our peer port on 127.0.0.1 (0: connect to no peer, so
    /// only trackers or the torrent's web seeds are sources), timeout in seconds. No DHT, LSD, UPnP or NAT-PMP. Prints
    /// "seeding N" and exits 0 once complete, which libtorrent reaches only with every piece checked (SHA-1 for v1, the
    /// merkle tree for v2); else prints where it stood and exits 1.
    /// </summary>
    public const string Leecher = """
        import sys, time
        import libtorrent as lt
        source, save, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        s = lt.session({
            'listen_interfaces': '127.0.0.1:0',
            'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
            'allow_multiple_connections_per_ip': True, 'enable_outgoing_utp': False, 'enable_incoming_utp': False,
            'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification,
        })
        if source.startswith('magnet:'):
            p = lt.parse_magnet_uri(source)
            p.save_path = save
            h = s.add_torrent(p)
        else:
            h = s.add_torrent({'ti': lt.torrent_info(source), 'save_path': save})
        if port:
            h.connect_peer(('127.0.0.1', port))
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = h.status()
            if st.is_seeding:
                print('seeding', st.total_wanted, flush=True)
                sys.exit(0)
            if st.num_peers == 0 and port:
                h.connect_peer(('127.0.0.1', port))
            for a in s.pop_alerts():
                print('alert', a.message(), flush=True)
            time.sleep(0.1)
        st = h.status()
        print('timeout', st.state, st.progress, st.num_peers, st.errc.message(), flush=True)
        sys.exit(1)
        """;
}
