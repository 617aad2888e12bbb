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
        // No peer given: the leecher learns of us only from the tracker.
        using var leecher = await Libtorrent.LeechAsync(temp.Path, torrent, download,
            new Libtorrent.LeecherOptions { ListenHost = "::1", Alerts = Libtorrent.Alerts.Tracker });
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }
}
