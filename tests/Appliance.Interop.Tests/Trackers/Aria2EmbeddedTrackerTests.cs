using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Trackers;

/// <summary>aria2c finds <c>appliance serve</c> only through the embedded tracker (no DHT, no LPD) and downloads every byte.</summary>
[Trait("Category", "Interop")]
public sealed class Aria2EmbeddedTrackerTests
{
    [Theory]
    [InlineData("http", false, "")]
    [InlineData("udp", false, "")]
    [InlineData("http", true, "")]
    [InlineData("http", false, "arc4")]
    [InlineData("http", false, "plain")]
    public async Task Aria2c_finds_appliance_through_embedded_tracker_and_downloads_every_byte(string scheme, bool ipv6, string requiredCrypto)
    {
        // aria2c sends UDP tracker requests over its IPv4 DHT socket only: UDP over IPv6 is LibtorrentIpv6TrackerTests.
        // Over IPv6 the seeder listens on ::1 only, so the download itself proves the tracker handed out an IPv6 peer.
        string host = ipv6 ? "[::1]" : "127.0.0.1";
        using var temp = new TempDirectory("tracker-interop");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 2);
        int peerPort = Ports.FreeTcp();
        int trackerPort = Ports.FreeTcpAndUdp();
        string announce = scheme == "http" ? $"http://{host}:{trackerPort}/announce" : $"udp://{host}:{trackerPort}";
        string torrent = Path.Combine(content, "sample.torrent");
        TestTorrents.Write(source, torrent, pieceLength: 32 * 1024, trackers: [announce]);

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"{host}:{peerPort}", "--no-dht", "--metrics-listen", "",
            "--tracker-listen", $"{host}:{trackerPort}", "--upload-slots", "unlimited",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("tracker listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        string download = temp.CreateSubdirectory("download");
        var arguments = new List<string>
        {
            "--bt-enable-lpd=false", "--seed-time=0", "--dir", download, "--console-log-level=notice", "--summary-interval=0",
            "--listen-port", Ports.FreeTcp().ToString(CultureInfo.InvariantCulture), "--file-allocation=none",
            "--bt-tracker-interval=1", "--bt-stop-timeout=60",
        };
        // MSE/PE only, with RC4 or with plaintext after the obfuscated handshake as the least it accepts.
        if (requiredCrypto.Length > 0) arguments.AddRange(["--bt-require-crypto=true", "--bt-min-crypto-level=" + requiredCrypto]);
        if (scheme == "udp")
        {
            // aria2c sends UDP tracker requests through its DHT socket: DHT on, with no bootstrap node and a fresh state file.
            arguments.AddRange(["--enable-dht=true", "--dht-listen-port", Ports.FreeUdp().ToString(CultureInfo.InvariantCulture),
                "--dht-file-path", Path.Combine(temp.Path, "dht.dat")]);
        }
        else
        {
            arguments.Add("--enable-dht=false");
        }
        arguments.Add(torrent);
        using var aria = await ExternalProcess.RunAsync("aria2c", arguments, TimeSpan.FromSeconds(90));
        Assert.True(aria.ExitCode == 0, aria.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }

    /// <summary>
    /// Regression: before it has the metadata, aria2c announces a magnet link with left=0, and the tracker used to give
    /// a "seed" no seeds, so aria2c never learnt of the appliance. The x.pe hint is taken out so only the tracker can tell it.
    /// </summary>
    [Theory]
    [InlineData("http")]
    [InlineData("udp")]
    public async Task Aria2c_downloads_the_magnet_link_serve_prints_through_the_embedded_tracker(string scheme)
    {
        using var temp = new TempDirectory("tracker-magnet");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 2);
        int peerPort = Ports.FreeTcp();
        int trackerPort = Ports.FreeTcpAndUdp();
        // Without trackers in the torrent, serve's magnet link names its embedded tracker's HTTP URL; with a udp:// one, that.
        IReadOnlyList<string> trackers = scheme == "http" ? [] : [$"udp://127.0.0.1:{trackerPort}"];
        TestTorrents.Write(source, Path.Combine(content, "sample.torrent"), pieceLength: 32 * 1024, trackers: trackers);

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{peerPort}", "--no-dht", "--metrics-listen", "",
            "--tracker-listen", $"127.0.0.1:{trackerPort}", "--upload-slots", "unlimited",
        ]);
        string seeding = await appliance.WaitForLineAsync(l => l.StartsWith("seeding ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await appliance.WaitForLineAsync(l => l.StartsWith("tracker listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        string magnet = seeding.Split(' ')[^1];
        Assert.Contains("tr=" + Uri.EscapeDataString(scheme == "http" ? $"http://127.0.0.1:{trackerPort}/announce" : $"udp://127.0.0.1:{trackerPort}"), magnet,
            StringComparison.Ordinal);
        magnet = string.Join('&', magnet.Split('&').Where(p => !p.StartsWith("x.pe=", StringComparison.Ordinal)));

        string download = temp.CreateSubdirectory("download");
        var arguments = new List<string>
        {
            "--bt-enable-lpd=false", "--seed-time=0", "--dir", download, "--console-log-level=notice", "--summary-interval=0",
            "--listen-port", Ports.FreeTcp().ToString(CultureInfo.InvariantCulture), "--file-allocation=none",
            "--bt-tracker-interval=1", "--bt-stop-timeout=60", "--bt-save-metadata=false",
        };
        if (scheme == "udp")
        {
            arguments.AddRange(["--enable-dht=true", "--dht-listen-port", Ports.FreeUdp().ToString(CultureInfo.InvariantCulture),
                "--dht-file-path", Path.Combine(temp.Path, "dht.dat")]);
        }
        else
        {
            arguments.Add("--enable-dht=false");
        }
        arguments.Add(magnet);
        using var aria = await ExternalProcess.RunAsync("aria2c", arguments, TimeSpan.FromSeconds(90));
        Assert.True(aria.ExitCode == 0, aria.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }
}
