namespace Appliance.Interop.Tests.Seeding;

/// <summary>
/// A python3-libtorrent leecher that speaks uTP only (TCP off, encryption off): argv torrent, save folder, the seeder's
/// port on 127.0.0.1, timeout in seconds. Prints "seeding N" and exits 0 once complete and verified, else exits 1.
/// </summary>
internal static class UtpOnlyLeecher
{
    public const string Script = """
        import sys, time
        import libtorrent as lt
        torrent, save, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        s = lt.session({
            'listen_interfaces': '127.0.0.1:0',
            'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
            'allow_multiple_connections_per_ip': True, 'enable_outgoing_tcp': False, 'enable_incoming_tcp': False,
            'out_enc_policy': 2, 'in_enc_policy': 2,
        })
        h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
        h.connect_peer(('127.0.0.1', port))
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = h.status()
            if st.is_seeding:
                print('seeding', st.total_wanted, flush=True)
                sys.exit(0)
            if st.num_peers == 0:
                h.connect_peer(('127.0.0.1', port))
            time.sleep(0.1)
        print('timeout', h.status().progress, flush=True)
        sys.exit(1)
        """;
}
