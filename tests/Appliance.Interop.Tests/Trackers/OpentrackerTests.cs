using System.Globalization;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Trackers;

/// <summary>
/// The announcer registers <c>appliance serve</c> with Debian's opentracker (HTTP or UDP announce), then aria2c, knowing
/// only the torrent's announce URL, finds the appliance through opentracker and downloads every byte.
/// </summary>
[Trait("Category", "Interop")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class OpentrackerTests
{
    [Theory]
    [InlineData("http")]
    [InlineData("udp")]
    public async Task Announcer_registers_with_opentracker_and_aria2c_downloads_through_it(string scheme)
    {
        using var temp = new TempDirectory("opentracker-interop");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 2);
        int trackerPort = Ports.FreeTcpAndUdp();
        int peerPort = Ports.FreeTcp();
        string announce = scheme == "http" ? $"http://127.0.0.1:{trackerPort}/announce" : $"udp://127.0.0.1:{trackerPort}";
        string torrent = Path.Combine(content, "sample.torrent");
        var metainfo = TestTorrents.Write(source, torrent, pieceLength: 32 * 1024, trackers: [announce]);

        using var opentracker = await StartOpentrackerAsync(temp, trackerPort, [metainfo.InfoHash]);

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{peerPort}", "--no-dht", "--no-tracker", "--metrics-listen", "",
            "--upload-slots", "unlimited",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await WaitForSeederAsync(trackerPort, metainfo.InfoHash, opentracker, appliance, TimeSpan.FromSeconds(30));

        string download = temp.CreateSubdirectory("download");
        var arguments = new List<string>
        {
            "--bt-enable-lpd=false", "--seed-time=0", "--dir", download, "--console-log-level=notice", "--summary-interval=0",
            "--listen-port", Ports.FreeTcp().ToString(CultureInfo.InvariantCulture), "--file-allocation=none", "--bt-stop-timeout=60",
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
        arguments.Add(torrent);
        using var aria = await ExternalProcess.RunAsync("aria2c", arguments, TimeSpan.FromSeconds(90));
        Assert.True(aria.ExitCode == 0, aria.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput + "\n--- opentracker ---\n" + opentracker.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
        // Shutdown sent event=stopped: opentracker no longer lists a seeder.
        var after = await ScrapeAsync(trackerPort, metainfo.InfoHash);
        Assert.Equal(0, after.Complete);
    }

    /// <summary>
    /// libtorrent's creator makes the hybrid and reports both its hashes; the appliance must register under each with
    /// opentracker, which has no idea the two are one torrent: each hash is scraped as a swarm of its own.
    /// </summary>
    [Theory]
    [InlineData("http")]
    [InlineData("udp")]
    public async Task Announcer_registers_a_hybrid_torrent_with_opentracker_under_both_info_hashes(string scheme)
    {
        using var temp = new TempDirectory("opentracker-hybrid");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample");
        int trackerPort = Ports.FreeTcpAndUdp();
        string announce = scheme == "http" ? $"http://127.0.0.1:{trackerPort}/announce" : $"udp://127.0.0.1:{trackerPort}";
        using var create = await Libtorrent.CreateTorrentAsync(temp.CreateSubdirectory("scripts"), source, Path.Combine(content, "sample.torrent"),
            "hybrid", 32 * 1024, webSeed: null, TimeSpan.FromSeconds(60), tracker: announce);
        Assert.True(create.ExitCode == 0, create.AllOutput);
        var hashes = Libtorrent.CreatedHashes.Of(create);
        InfoHash v1 = InfoHash.ParseHex(hashes.V1!);
        InfoHash v2 = InfoHash.ParseHex(hashes.V2Truncated);
        using var opentracker = await StartOpentrackerAsync(temp, trackerPort, [v1, v2]);

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{Ports.FreeTcp()}", "--no-dht", "--no-tracker", "--metrics-listen", "",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await WaitForSeederAsync(trackerPort, v1, opentracker, appliance, TimeSpan.FromSeconds(60));
        await WaitForSeederAsync(trackerPort, v2, opentracker, appliance, TimeSpan.FromSeconds(60));

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
        // Shutdown sent event=stopped under each hash.
        Assert.Equal(0, (await ScrapeAsync(trackerPort, v1)).Complete);
        Assert.Equal(0, (await ScrapeAsync(trackerPort, v2)).Complete);
    }

    /// <summary>Debian's opentracker on 127.0.0.1:<paramref name="port"/> (HTTP and UDP), tracking only the whitelisted hashes.</summary>
    private static async Task<ExternalProcess> StartOpentrackerAsync(TempDirectory temp, int port, IEnumerable<InfoHash> whitelist)
    {
        // opentracker refuses root: it drops to nobody and chroots into its folder, where the whitelist must be readable.
        string chroot = temp.CreateSubdirectory("opentracker");
        await File.WriteAllLinesAsync(Path.Combine(chroot, "whitelist.txt"), whitelist.Select(h => h.ToHex()));
        File.SetUnixFileMode(temp.Path, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(chroot, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(Path.Combine(chroot, "whitelist.txt"), (UnixFileMode)0b110_100_100);
        string portText = port.ToString(CultureInfo.InvariantCulture);
        return ExternalProcess.Start("opentracker", ["-i", "127.0.0.1", "-p", portText, "-P", portText, "-d", chroot, "-u", "nobody", "-w", "whitelist.txt"]);
    }

    private static async Task WaitForSeederAsync(int port, InfoHash hash, ExternalProcess opentracker, ExternalProcess appliance, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            try
            {
                if ((await ScrapeAsync(port, hash)).Complete >= 1) return;
            }
            catch (HttpRequestException)
            {
            }
            if (cts.IsCancellationRequested)
                throw new TimeoutException($"the appliance never showed up as a seeder of {hash} in opentracker\n" + appliance.AllOutput + "\n--- opentracker ---\n" + opentracker.AllOutput);
            await Task.Delay(200);
        }
    }

    private static async Task<ScrapeCounts> ScrapeAsync(int port, InfoHash hash)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var body = await client.GetByteArrayAsync(HttpAnnounceQuery.BuildScrape($"http://127.0.0.1:{port}/scrape", [hash]));
        var counts = new Dictionary<InfoHash, ScrapeCounts>();
        Assert.True(HttpTrackerResponse.TryParseScrape(body, counts, out _, out string error), error);
        return counts.GetValueOrDefault(hash);
    }
}
