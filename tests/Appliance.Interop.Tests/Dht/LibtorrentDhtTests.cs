using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Dht;

/// <summary>
/// python3-libtorrent and the appliance find each other through the DHT alone (no tracker, no direct connect,
/// LSD/UPnP/NAT-PMP off), every node on 127.0.0.1.
/// </summary>
[Trait("Category", "Interop")]
public sealed class LibtorrentDhtTests
{
    // A libtorrent session whose only way to find peers is the DHT node at 127.0.0.1:DHT_PORT (dht_port 0: no node, it
    // waits to be contacted on listen_port).
    private const string Session = """
        import sys, time
        import libtorrent as lt
        def dht_session(dht_port, host='127.0.0.1', listen_port=0):
            ipv6 = ':' in host
            s = lt.session({
                'listen_interfaces': ('[::1]:%d' if ipv6 else '127.0.0.1:%d') % listen_port,
                'enable_dht': True, 'dht_bootstrap_nodes': ('[%s]:%d' if ipv6 else '%s:%d') % (host, dht_port) if dht_port else '',
                'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
                'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                'allow_multiple_connections_per_ip': True, 'enable_outgoing_utp': False, 'enable_incoming_utp': False,
                'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.dht_notification,
            })
            if dht_port:
                s.add_dht_node((host, dht_port))
            return s
        """;

    // A libtorrent DHT node on 127.0.0.1:LISTEN_PORT that prints every announce_peer it accepts: "announce HASH PORT".
    private const string AnnounceWatcher = Session + """

        listen_port, timeout = int(sys.argv[1]), float(sys.argv[2])
        s = dht_session(0, listen_port=listen_port)
        print('listening', s.listen_port(), flush=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            for a in s.pop_alerts():
                if isinstance(a, lt.dht_announce_alert):
                    print('announce', a.info_hash, a.port, flush=True)
                else:
                    print('alert', a.message(), flush=True)
            time.sleep(0.1)
        """;

    private const string Leecher = Session + """

        source, save, dht_port, timeout, host = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
        s = dht_session(dht_port, host)
        if source.startswith('magnet:'):
            p = lt.parse_magnet_uri(source)
        else:
            p = lt.add_torrent_params()
            p.ti = lt.torrent_info(source)
        p.save_path = save
        h = s.add_torrent(p)
        deadline = time.time() + timeout
        next_announce = 0
        while time.time() < deadline:
            st = h.status()
            if st.is_seeding:
                print('seeding', st.total_wanted, flush=True)
                sys.exit(0)
            if time.time() >= next_announce and st.num_peers == 0:
                h.force_dht_announce()
                next_announce = time.time() + 3
            for a in s.pop_alerts():
                print('alert', a.message(), flush=True)
            time.sleep(0.1)
        st = h.status()
        print('timeout', st.state, st.progress, st.num_peers, s.status().dht_nodes, flush=True)
        sys.exit(1)
        """;

    private const string Seeder = Session + """

        torrent, save, dht_port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        s = dht_session(dht_port)
        h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
        print('listening', s.listen_port(), flush=True)
        deadline = time.time() + timeout
        announced = False
        while time.time() < deadline:
            st = h.status()
            if st.is_seeding and not announced:
                print('seeding', flush=True)
                announced = True
            if st.is_seeding:
                h.force_dht_announce()
            for a in s.pop_alerts():
                print('alert', a.message(), flush=True)
            time.sleep(2)
        """;

    /// <summary>
    /// Over IPv6 the appliance listens on ::1 only and the client's one DHT node is our IPv6 node (BEP 32): the peer it
    /// finds can only be our IPv6 address from that node's get_peers values.
    /// </summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Libtorrent_finds_the_appliance_through_its_DHT_node_and_downloads_every_byte(string host)
    {
        using var temp = new TempDirectory("dht-interop");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 2);
        var metainfo = TestTorrents.Write(source, Path.Combine(content, "sample.torrent"), pieceLength: 32 * 1024);
        int port = Ports.FreeTcpAndUdp();

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", host == "::1" ? $"[::1]:{port}" : $"127.0.0.1:{port}", "--dht-bootstrap", "none", "--no-tracker",
            "--metrics-listen", "", "--upload-slots", "unlimited",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith(host == "::1" ? "dht6 listening on " : "dht listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await appliance.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        string download = temp.CreateSubdirectory("download");
        string script = Path.Combine(temp.Path, "leecher.py");
        await File.WriteAllTextAsync(script, Leecher);
        // By magnet link: the info dictionary comes from the appliance over ut_metadata (BEP 9).
        string magnet = "magnet:?xt=urn:btih:" + metainfo.InfoHash.ToString();
        using var leecher = await ExternalProcess.RunAsync("/usr/bin/python3",
            [script, magnet, download, port.ToString(CultureInfo.InvariantCulture), "90", host],
            TimeSpan.FromSeconds(120));
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }

    [Fact]
    public async Task The_appliance_finds_a_libtorrent_seed_that_announced_into_the_DHT()
    {
        using var temp = new TempDirectory("dht-interop");
        string content = temp.CreateSubdirectory("content");
        string elsewhere = temp.CreateSubdirectory("libtorrent");
        string source = SampleContent.WriteMultiFile(elsewhere, "theirs", seed: 5);
        string torrent = Path.Combine(temp.Path, "theirs.torrent");
        var metainfo = TestTorrents.Write(source, torrent);
        int port = Ports.FreeTcpAndUdp();

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{port}", "--dht-bootstrap", "none", "--no-tracker", "--metrics-listen", "",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("dht listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        string script = Path.Combine(temp.Path, "seeder.py");
        await File.WriteAllTextAsync(script, Seeder);
        using var seeder = ExternalProcess.Start("/usr/bin/python3", [script, torrent, elsewhere, port.ToString(CultureInfo.InvariantCulture), "120"]);
        try
        {
            string listening = await seeder.WaitForLineAsync(l => l.StartsWith("listening ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            int seederPort = int.Parse(listening["listening ".Length..], CultureInfo.InvariantCulture);
            await seeder.WaitForLineAsync(l => l == "seeding", TimeSpan.FromSeconds(30));

            using var lookup = await ApplianceBinary.RunAsync([
                "dht", "get-peers", metainfo.InfoHash.ToString(), "--dht-bootstrap", $"127.0.0.1:{port}", "--timeout", "60",
            ], TimeSpan.FromSeconds(90));
            Assert.True(lookup.ExitCode == 0, lookup.AllOutput + "\n--- seeder ---\n" + seeder.AllOutput);
            Assert.Contains($"127.0.0.1:{seederPort}", lookup.StandardOutput.Split('\n', StringSplitOptions.TrimEntries));
        }
        finally
        {
            seeder.Kill();
            appliance.Terminate();
            await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        }
    }

    /// <summary>
    /// A hybrid torrent is one swarm under two keys (BEP 52): v1 clients look it up in the DHT by the SHA-1 info-hash, v2
    /// clients by the SHA-256 one cut to 20 bytes. The appliance's only DHT contact is a libtorrent node, which must accept
    /// an announce_peer for each hash (the hashes come from libtorrent's own creator).
    /// </summary>
    [Fact]
    public async Task The_appliance_announces_a_hybrid_torrent_into_the_DHT_under_both_info_hashes()
    {
        using var temp = new TempDirectory("dht-hybrid");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample");
        string scripts = temp.CreateSubdirectory("scripts");
        using var create = await Libtorrent.CreateTorrentAsync(scripts, source, Path.Combine(content, "sample.torrent"), "hybrid", 32 * 1024,
            webSeed: null, TimeSpan.FromSeconds(60));
        Assert.True(create.ExitCode == 0, create.AllOutput);
        var hashes = Libtorrent.CreatedHashes.Of(create);
        string[] expected = [hashes.V1!, hashes.V2Truncated];

        int watcherPort = Ports.FreeTcpAndUdp();
        string script = Path.Combine(scripts, "watcher.py");
        await File.WriteAllTextAsync(script, AnnounceWatcher);
        using var watcher = ExternalProcess.Start(Libtorrent.Python, [script, watcherPort.ToString(CultureInfo.InvariantCulture), "150"]);
        await watcher.WaitForLineAsync(l => l.StartsWith("listening ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        int port = Ports.FreeTcpAndUdp();
        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{port}", "--dht-bootstrap", $"127.0.0.1:{watcherPort}", "--no-tracker",
            "--metrics-listen", "", "--state", temp.CreateSubdirectory("state"),
        ]);
        try
        {
            foreach (string hash in expected)
            {
                try
                {
                    await watcher.WaitForLineAsync(l => l == $"announce {hash} {port}", TimeSpan.FromSeconds(90));
                }
                catch (Exception e) when (e is TimeoutException or InvalidOperationException)
                {
                    Assert.Fail($"no announce_peer for {hash}\n{e.Message}\n--- appliance ---\n{appliance.AllOutput}");
                }
            }
        }
        finally
        {
            watcher.Kill();
            appliance.Terminate();
            await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        }
        Assert.Equal(0, appliance.ExitCode);
    }
}
