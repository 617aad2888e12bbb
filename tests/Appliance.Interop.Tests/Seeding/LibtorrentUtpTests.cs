using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Seeding;

/// <summary>python3-libtorrent downloads from <c>appliance serve</c> over uTP: uTP only, and with stock settings (uTP tried first).</summary>
[Trait("Category", "Interop")]
public sealed class LibtorrentUtpTests
{
    // Inline libtorrent leecher. Mode "utp-only" turns TCP off both ways; "stock" keeps libtorrent's defaults (uTP first,
    // TCP as fallback). Prints the transport of the peer it downloaded from (peer_info flag utp_socket = bit 17) and the
    // seconds from connect_peer to the first payload byte.
    private const string Leecher = """
        import sys, time
        import libtorrent as lt
        torrent, save, port, timeout, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
        settings = {
            'listen_interfaces': '127.0.0.1:0',
            'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
            'allow_multiple_connections_per_ip': True,
            'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification,
        }
        if mode == 'utp-only':
            settings.update({'enable_outgoing_tcp': False, 'enable_incoming_tcp': False})
        s = lt.session(settings)
        h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
        start = time.time()
        h.connect_peer(('127.0.0.1', port))
        deadline = start + timeout
        first = None
        transports = set()
        while time.time() < deadline:
            st = h.status()
            if first is None and st.total_payload_download > 0:
                first = time.time() - start
            for p in h.get_peer_info():
                transports.add('utp' if int(p.flags) & (1 << 17) else 'tcp')
            if st.is_seeding:
                print('transports', ','.join(sorted(transports)), flush=True)
                print('first_byte', '%.3f' % (first if first is not None else -1), flush=True)
                print('seeding', st.total_wanted, flush=True)
                sys.exit(0)
            if st.num_peers == 0:
                h.connect_peer(('127.0.0.1', port))
            for a in s.pop_alerts():
                print('alert', a.message(), flush=True)
            time.sleep(0.05)
        st = h.status()
        print('timeout', st.state, st.progress, st.num_peers, ','.join(sorted(transports)), flush=True)
        sys.exit(1)
        """;

    [Theory]
    [InlineData("utp-only", "--no-dht")]
    [InlineData("stock", "--no-dht")]
    [InlineData("stock", "--dht-bootstrap=none")]
    public async Task Libtorrent_downloads_every_byte_over_utp(string mode, string dhtFlag)
    {
        using var temp = new TempDirectory("utp-interop");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 3);
        TestTorrents.Write(source, Path.Combine(content, "sample.torrent"), pieceLength: 32 * 1024);
        int port = Ports.FreeTcp();

        string[] dht = dhtFlag == "--no-dht" ? ["--no-dht"] : ["--dht-bootstrap", "none"];
        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{port}", .. dht, "--no-tracker", "--metrics-listen", "",
            "--state", temp.CreateSubdirectory("state"),
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("seeding ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await appliance.WaitForLineAsync(l => l.StartsWith("utp listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        string download = temp.CreateSubdirectory("download");
        string script = Path.Combine(temp.Path, "leecher.py");
        await File.WriteAllTextAsync(script, Leecher);
        using var leecher = await ExternalProcess.RunAsync("/usr/bin/python3",
            [script, Path.Combine(content, "sample.torrent"), download, port.ToString(CultureInfo.InvariantCulture), "90", mode],
            TimeSpan.FromSeconds(120));
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.Contains("transports utp\n", leecher.AllOutput.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }
}
