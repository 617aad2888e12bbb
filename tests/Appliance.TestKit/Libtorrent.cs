using System.Globalization;

namespace Appliance.TestKit;

/// <summary>
/// python3-libtorrent (run with /usr/bin/python3) as a real client in interop tests: one leecher script set up by flags
/// (<see cref="LeecherOptions"/>), and libtorrent's own torrent creator. Each call writes its script into the folder given.
/// </summary>
public static class Libtorrent
{
    public const string Python = "/usr/bin/python3";

    /// <summary>Time the process gets beyond the script's own timeout, to start and report.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    public enum Transport
    {
        /// <summary>TCP only: uTP off, or libtorrent tries uTP first and falls back slowly where only TCP answers.</summary>
        Tcp,

        /// <summary>uTP only: TCP off.</summary>
        Utp,
    }

    public enum Encryption
    {
        /// <summary>libtorrent's default policy: an encrypted handshake offering both methods first, plaintext accepted.</summary>
        Default,

        /// <summary>MSE/PE off in both directions.</summary>
        Disabled,

        /// <summary>Encryption forced, plaintext after an obfuscated handshake.</summary>
        ForcedPlaintext,

        /// <summary>Encryption forced, RC4.</summary>
        ForcedRc4,
    }

    public enum Alerts
    {
        None,

        /// <summary>Errors and peer events, printed as "alert ..." lines.</summary>
        Peer,

        /// <summary>Errors and tracker events, printed as "alert ..." lines.</summary>
        Tracker,
    }

    public sealed record LeecherOptions
    {
        /// <summary>The peer to connect to (and reconnect to while it has none); 0: no peer, so only trackers or web seeds are sources.</summary>
        public int PeerPort { get; init; }

        public string PeerHost { get; init; } = "127.0.0.1";

        /// <summary>The address the leecher listens on ("::1" for an IPv6-only client).</summary>
        public string ListenHost { get; init; } = "127.0.0.1";

        public Transport Transport { get; init; } = Transport.Tcp;
        public Encryption Encryption { get; init; } = Encryption.Default;
        public Alerts Alerts { get; init; } = Alerts.None;
        public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    }

    /// <summary>A leecher that speaks uTP only, with encryption off, to the seeder at 127.0.0.1:<paramref name="peerPort"/>.</summary>
    public static LeecherOptions UtpOnly(int peerPort, TimeSpan timeout) =>
        new() { PeerPort = peerPort, Transport = Transport.Utp, Encryption = Encryption.Disabled, Timeout = timeout };

    /// <summary>
    /// Downloads <paramref name="source"/> (a .torrent file or a magnet link) into <paramref name="save"/>. No DHT, LSD, UPnP or
    /// NAT-PMP. The process prints "seeding N" and exits 0 once complete, which libtorrent reaches only with every piece
    /// checked (SHA-1 for v1, the merkle tree for v2); else it prints where it stood and exits 1.
    /// </summary>
    public static async Task<ExternalProcess> LeechAsync(string scriptFolder, string source, string save, LeecherOptions options)
    {
        string script = Path.Combine(scriptFolder, "leecher.py");
        await File.WriteAllTextAsync(script, LeecherScript).ConfigureAwait(false);
        return await ExternalProcess.RunAsync(Python,
        [
            script, source, save,
            "--peer-host", options.PeerHost, "--peer-port", options.PeerPort.ToString(CultureInfo.InvariantCulture),
            "--listen", options.ListenHost,
            "--transport", options.Transport.ToString().ToLowerInvariant(),
            "--encryption", options.Encryption.ToString().ToLowerInvariant(),
            "--alerts", options.Alerts.ToString().ToLowerInvariant(),
            "--timeout", options.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture),
        ], options.Timeout + Grace).ConfigureAwait(false);
    }

    /// <summary>
    /// libtorrent's torrent creator (qBittorrent's): <paramref name="mode"/> "hybrid" (with BEP 47 pad files) or "v2",
    /// optionally with a BEP 19 web seed and a tracker (<c>announce</c>). Standard output is the v1 info-hash (hybrid only)
    /// and the v2 one.
    /// </summary>
    public static async Task<ExternalProcess> CreateTorrentAsync(string scriptFolder, string source, string output, string mode, int pieceLength,
        string? webSeed, TimeSpan timeout, string? tracker = null)
    {
        string script = Path.Combine(scriptFolder, "create.py");
        await File.WriteAllTextAsync(script, CreatorScript).ConfigureAwait(false);
        string[] arguments =
        [
            script, source, output, mode, pieceLength.ToString(CultureInfo.InvariantCulture),
            .. webSeed is null ? [] : new[] { "seed", webSeed }, .. tracker is null ? [] : new[] { "tracker", tracker },
        ];
        return await ExternalProcess.RunAsync(Python, arguments, timeout).ConfigureAwait(false);
    }

    /// <summary>The info-hashes (hex) a <see cref="CreateTorrentAsync"/> run printed: v1 (null for a v2-only torrent) and v2.</summary>
    public sealed record CreatedHashes(string? V1, string V2)
    {
        /// <summary>The v2 hash cut to 20 bytes, as v2 peers, trackers and the DHT know the torrent (BEP 52).</summary>
        public string V2Truncated => V2[..40];

        public static CreatedHashes Of(ExternalProcess create)
        {
            string[] printed = create.StandardOutput.Split(' ', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            return printed.Length == 2 ? new(printed[0], printed[1]) : new(null, printed[^1]);
        }
    }

    private const string CreatorScript = """
        import sys, os, libtorrent as lt
        src, out, mode, piece = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        fs = lt.file_storage()
        lt.add_files(fs, src)
        flags = {'hybrid': 0, 'v2': lt.create_torrent.v2_only}[mode]
        t = lt.create_torrent(fs, piece, flags=flags)
        for kind, url in zip(sys.argv[5::2], sys.argv[6::2]):
            if kind == 'seed':
                t.add_url_seed(url)
            else:
                t.add_tracker(url)
        lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(src)))
        open(out, 'wb').write(lt.bencode(t.generate()))
        ti = lt.torrent_info(out)
        print(ti.info_hashes().v1 if mode == 'hybrid' else '', ti.info_hashes().v2)
        """;

    private const string LeecherScript = """
        import argparse, sys, time
        import libtorrent as lt
        a = argparse.ArgumentParser()
        a.add_argument('source')
        a.add_argument('save')
        a.add_argument('--peer-host', default='127.0.0.1')
        a.add_argument('--peer-port', type=int, default=0)
        a.add_argument('--listen', default='127.0.0.1')
        a.add_argument('--transport', choices=['tcp', 'utp'], default='tcp')
        a.add_argument('--encryption', choices=['default', 'disabled', 'forcedplaintext', 'forcedrc4'], default='default')
        a.add_argument('--alerts', choices=['none', 'peer', 'tracker'], default='none')
        a.add_argument('--timeout', type=float, default=60)
        o = a.parse_args()
        settings = {
            'listen_interfaces': ('[%s]:0' if ':' in o.listen else '%s:0') % o.listen,
            'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
            'allow_multiple_connections_per_ip': True,
        }
        if o.transport == 'tcp':
            settings.update({'enable_outgoing_utp': False, 'enable_incoming_utp': False})
        else:
            settings.update({'enable_outgoing_tcp': False, 'enable_incoming_tcp': False})
        if o.encryption == 'disabled':
            settings.update({'out_enc_policy': 2, 'in_enc_policy': 2})
        elif o.encryption != 'default':
            level = 1 if o.encryption == 'forcedplaintext' else 2
            settings.update({'out_enc_policy': 0, 'in_enc_policy': 0, 'allowed_enc_level': level, 'prefer_rc4': level == 2})
        categories = {'none': 0, 'peer': lt.alert.category_t.peer_notification, 'tracker': lt.alert.category_t.tracker_notification}[o.alerts]
        if categories:
            settings['alert_mask'] = lt.alert.category_t.error_notification | categories
        s = lt.session(settings)
        if o.source.startswith('magnet:'):
            p = lt.parse_magnet_uri(o.source)
            p.save_path = o.save
            h = s.add_torrent(p)
        else:
            h = s.add_torrent({'ti': lt.torrent_info(o.source), 'save_path': o.save})
        peer = (o.peer_host, o.peer_port)
        if o.peer_port:
            h.connect_peer(peer)
        deadline = time.time() + o.timeout
        while time.time() < deadline:
            st = h.status()
            if st.is_seeding:
                print('seeding', st.total_wanted, flush=True)
                sys.exit(0)
            if st.num_peers == 0 and o.peer_port:
                h.connect_peer(peer)
            if categories:
                for alert in s.pop_alerts():
                    print('alert', alert.message(), flush=True)
            time.sleep(0.1)
        st = h.status()
        print('timeout', st.state, st.progress, st.num_peers, st.errc.message(), flush=True)
        sys.exit(1)
        """;
}
