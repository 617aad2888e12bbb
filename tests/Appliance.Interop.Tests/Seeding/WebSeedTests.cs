using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Seeding;

/// <summary>
/// <c>appliance serve --web-seed-listen</c> as the BEP 19 web seed of torrents whose url-list names it: a libtorrent
/// client that is given no peer at all, and aria2c, download everything from the web seed alone and verify it.
/// </summary>
[Trait("Category", "Interop")]
public sealed partial class WebSeedTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _temp = new("web-seed-interop");
    private readonly string _content;
    private readonly string _torrents;
    private readonly int _webSeedPort = Ports.FreeTcp();
    private readonly int _metricsPort = Ports.FreeTcp();

    public WebSeedTests()
    {
        _content = _temp.CreateSubdirectory("content");
        _torrents = _temp.CreateSubdirectory("torrents");
    }

    public void Dispose() => _temp.Dispose();

    private string BaseUrl => $"http://127.0.0.1:{_webSeedPort}/";

    /// <summary>`appliance create --web-seed URL` into the torrents folder.</summary>
    private async Task<string> CreateTorrentAsync(string source, string url, string format = "v1")
    {
        string torrent = Path.Combine(_torrents, Path.GetFileName(source) + ".torrent");
        using var create = await ApplianceBinary.RunAsync(["create", source, "-o", torrent, "--piece-length", "32K", "--format", format, "--web-seed", url], Patience);
        Assert.True(create.ExitCode == 0, create.AllOutput);
        return torrent;
    }

    private async Task<ExternalProcess> ServeAsync(int seeded)
    {
        var serve = ApplianceBinary.Start([
            "serve", "--content", _content, "--torrents", _torrents, "--listen", $"127.0.0.1:{Ports.FreeTcp()}", "--no-dht", "--no-tracker", "--no-utp",
            "--metrics-listen", $"127.0.0.1:{_metricsPort}", "--web-seed-listen", $"127.0.0.1:{_webSeedPort}",
        ]);
        await serve.WaitForLineAsync(l => l.StartsWith("web seed listening on 127.0.0.1:" + _webSeedPort + " " + BaseUrl, StringComparison.Ordinal), Patience);
        // The torrents folder loads after every listener started; the seeder's "listening on" line follows the last "seeding" line.
        await serve.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), Patience);
        Assert.True(serve.StandardOutput.Split('\n').Count(l => l.StartsWith("seeding ", StringComparison.Ordinal)) == seeded, serve.AllOutput);
        return serve;
    }

    private async Task<string> MetricsAsync()
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await client.GetStringAsync($"http://127.0.0.1:{_metricsPort}/metrics");
    }

    private static long Sample(string metrics, string series)
    {
        var match = Regex.Match(metrics, "^" + Regex.Escape(series) + " ([0-9.e+]+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"no {series} in\n{metrics}");
        return (long)double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Serves the torrents folder, runs the libtorrent leecher on <paramref name="torrent"/> with no peer (port 0: the
    /// torrent names no tracker, DHT and LSD are off, so the web seed is the only source), and checks every byte of
    /// <paramref name="source"/> arrived, all of it over HTTP.
    /// </summary>
    private async Task LibtorrentDownloadsFromTheWebSeedAloneAsync(string torrent, string source, long payload)
    {
        using var serve = await ServeAsync(seeded: 1);
        string download = _temp.CreateSubdirectory("download");
        // No peer: the torrent's web seed is the only source.
        using (var leecher = await Libtorrent.LeechAsync(_temp.Path, torrent, download, new Libtorrent.LeecherOptions { Alerts = Libtorrent.Alerts.Peer }))
            Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + serve.AllOutput);
        string downloaded = Path.Combine(download, Path.GetFileName(source));
        if (Directory.Exists(source)) Assert.True(SampleContent.SameTree(source, downloaded, out string difference), difference);
        else Assert.Equal(await File.ReadAllBytesAsync(source), await File.ReadAllBytesAsync(downloaded));
        await AssertServedByWebSeedOnlyAsync(payload);
        await StopAsync(serve);
    }

    /// <summary>Every byte came over HTTP: no peer-wire connection was made, and no request was refused.</summary>
    private async Task AssertServedByWebSeedOnlyAsync(long payload)
    {
        string metrics = await MetricsAsync();
        Assert.Equal(0, Sample(metrics, "appliance_connections_accepted_total"));
        Assert.True(Sample(metrics, "appliance_web_seed_sent_bytes_total") >= payload, metrics);
        Assert.Equal(0, Sample(metrics, "appliance_web_seed_requests_total{status=\"4xx\"}"));
        Assert.Equal(0, Sample(metrics, "appliance_web_seed_requests_total{status=\"5xx\"}"));
    }

    private static async Task StopAsync(ExternalProcess serve)
    {
        serve.Terminate();
        await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(serve.ExitCode == 0, serve.AllOutput);
    }

    [Fact]
    public async Task Libtorrent_with_no_peer_downloads_a_multi_file_torrent_from_the_web_seed_alone()
    {
        string source = SampleContent.WriteMultiFile(_content, "sample", scale: 3);
        string torrent = await CreateTorrentAsync(source, BaseUrl);
        await LibtorrentDownloadsFromTheWebSeedAloneAsync(torrent, source, SampleContent.MultiFileLayout.Sum(f => 3L * f.Size));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Libtorrent_with_no_peer_downloads_a_single_file_torrent_from_the_web_seed_alone(bool urlNamesTheFile)
    {
        // BEP 19: a URL ending in '/' gets the torrent's name appended; one that does not is the file's own URL.
        string file = SampleContent.WriteFile(Path.Combine(_content, "lone file.bin"), 700_001, seed: 12);
        string torrent = await CreateTorrentAsync(file, urlNamesTheFile ? BaseUrl + "lone%20file.bin" : BaseUrl);
        await LibtorrentDownloadsFromTheWebSeedAloneAsync(torrent, file, 700_001);
    }

    [Fact]
    public async Task Libtorrent_downloads_a_hybrid_torrent_with_pad_files_made_by_libtorrent_from_the_web_seed()
    {
        // libtorrent's creator pads every file to a piece boundary (BEP 47); a web-seed client never asks for pad files.
        string source = SampleContent.WriteMultiFile(_content, "sample", scale: 2);
        string torrent = Path.Combine(_torrents, "sample.torrent");
        using (var create = await Libtorrent.CreateTorrentAsync(_temp.Path, source, torrent, "hybrid", 32768, BaseUrl, Patience))
            Assert.True(create.ExitCode == 0, create.AllOutput);
        await LibtorrentDownloadsFromTheWebSeedAloneAsync(torrent, source, SampleContent.MultiFileLayout.Sum(f => 2L * f.Size));
    }

    [Fact]
    public async Task Aria2c_downloads_torrents_from_their_web_seed_with_no_peers()
    {
        string multi = SampleContent.WriteMultiFile(_content, "sample", scale: 2);
        string single = SampleContent.WriteFile(Path.Combine(_content, "one.bin"), 400_000, seed: 21);
        string multiTorrent = await CreateTorrentAsync(multi, BaseUrl);
        string singleTorrent = await CreateTorrentAsync(single, BaseUrl);
        using var serve = await ServeAsync(seeded: 2);

        string download = _temp.CreateSubdirectory("download");
        foreach (string torrent in new[] { multiTorrent, singleTorrent })
        {
            using var aria = await ExternalProcess.RunAsync("aria2c", [
                "--dir", download, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                "--enable-peer-exchange=false", "--listen-port", Ports.FreeTcp().ToString(CultureInfo.InvariantCulture),
                "--file-allocation=none", "--console-log-level=notice", "--summary-interval=0", "--bt-stop-timeout=60", torrent,
            ], Patience);
            Assert.True(aria.ExitCode == 0, aria.AllOutput + "\n--- appliance ---\n" + serve.AllOutput);
        }
        Assert.True(SampleContent.SameTree(multi, Path.Combine(download, "sample"), out string difference), difference);
        Assert.Equal(await File.ReadAllBytesAsync(single), await File.ReadAllBytesAsync(Path.Combine(download, "one.bin")));
        string metrics = await MetricsAsync();
        Assert.Equal(0, Sample(metrics, "appliance_connections_accepted_total"));
        Assert.True(Sample(metrics, "appliance_web_seed_sent_bytes_total") >= 400_000 + SampleContent.MultiFileLayout.Sum(f => 2L * f.Size));
        await StopAsync(serve);
    }

    [Fact]
    public async Task Aria2c_downloads_a_file_by_its_url_over_several_ranged_connections()
    {
        string source = SampleContent.WriteMultiFile(_content, "sample", scale: 40);
        await CreateTorrentAsync(source, BaseUrl);
        using var serve = await ServeAsync(seeded: 1);

        string download = _temp.CreateSubdirectory("download");
        using var aria = await ExternalProcess.RunAsync("aria2c", [
            "--dir", download, "--split=4", "--max-connection-per-server=4", "--min-split-size=1M", "--file-allocation=none",
            "--console-log-level=notice", "--summary-interval=0", BaseUrl + "sample/z-last.bin",
        ], Patience);
        Assert.True(aria.ExitCode == 0, aria.AllOutput + "\n--- appliance ---\n" + serve.AllOutput);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(source, "z-last.bin")), await File.ReadAllBytesAsync(Path.Combine(download, "z-last.bin")));
        await StopAsync(serve);
    }

    [Fact]
    public async Task Paths_outside_the_seeded_files_get_no_200()
    {
        string source = SampleContent.WriteMultiFile(_content, "sample");
        await CreateTorrentAsync(source, BaseUrl);
        File.WriteAllText(Path.Combine(_content, "not-in-a-torrent.txt"), "private");
        File.CreateSymbolicLink(Path.Combine(_content, "sample", "link-out"), "/etc/passwd");
        using var serve = await ServeAsync(seeded: 1);

        using var client = await RawHttpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _webSeedPort));
        foreach (string target in new[]
        {
            "/not-in-a-torrent.txt", "/sample/link-out", "/sample/../not-in-a-torrent.txt", "/sample/%2e%2e/not-in-a-torrent.txt",
            "/sample%2f..%2fnot-in-a-torrent.txt", "/..%2f..%2fetc%2fpasswd", "/../../etc/passwd", "/sample/", "/sample", "/",
            "/sample/sample.torrent", "/sample.torrent", "/.appliance", "/sample/nested",
        })
        {
            var response = await client.GetAsync(target);
            Assert.True(response.Status is 400 or 404, $"{target}: {response.Status}");
        }
        Assert.Equal(200, (await client.GetAsync("/sample/nested/b.bin")).Status);
        await StopAsync(serve);
    }
}
