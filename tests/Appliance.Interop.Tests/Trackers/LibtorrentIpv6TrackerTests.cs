using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Trackers;

/// <summary>
/// python3-libtorrent on ::1 finds <c>appliance serve</c> only through the embedded tracker over IPv6 (HTTP, and UDP with
/// BEP 15's 18-byte peers) and downloads every byte; the seeder listens on ::1 only, so the peer it got was IPv6.
/// </summary>
[Trait("Category", "Interop")]
public sealed class LibtorrentIpv6TrackerTests
{
    private const string Leecher = """
        import sys, time
        import libtorrent as lt
        torrent, save, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
        s = lt.session({
            'listen_interfaces': '[::1]:0',
            'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
            'allow_multiple_connections_per_ip': True, 'enable_outgoing_utp': False, 'enable_incoming_utp': False,
            'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification,
        })
        h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = h.status()
            if st.is_seeding:
                print('seeding', st.total_wanted, flush=True)
                sys.exit(0)
            for a in s.pop_alerts():
                print('alert', a.message(), flush=True)
            time.sleep(0.1)
        st = h.status()
        print('timeout', st.state, st.progress, st.num_peers, flush=True)
        sys.exit(1)
        """;

    [Theory]
    [InlineData("http")]
    [InlineData("udp")]
    public async Task Libtorrent_on_ipv6_finds_appliance_through_embedded_tracker_and_downloads_every_byte(string scheme)
    {
        using var temp = new TempDirectory("tracker6-interop");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 2);
        int peerPort = Ports.FreeTcp();
        int trackerPort = Ports.FreeTcpAndUdp();
        string announce = scheme == "http" ? $"http://[::1]:{trackerPort}/announce" : $"udp://[::1]:{trackerPort}";
        string torrent = Path.Combine(content, "sample.torrent");
        TestTorrents.Write(source, torrent, pieceLength: 32 * 1024, trackers: [announce]);

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"[::1]:{peerPort}", "--no-dht", "--metrics-listen", "",
            "--tracker-listen", $"[::1]:{trackerPort}", "--upload-slots", "unlimited",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("tracker listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        string download = temp.CreateSubdirectory("download");
        string script = Path.Combine(temp.Path, "leecher.py");
        await File.WriteAllTextAsync(script, Leecher);
        using var leecher = await ExternalProcess.RunAsync("/usr/bin/python3", [script, torrent, download, "60"], TimeSpan.FromSeconds(90));
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }
}
