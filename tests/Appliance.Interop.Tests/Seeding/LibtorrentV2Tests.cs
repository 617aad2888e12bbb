using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Seeding;

/// <summary>
/// Torrents made the way qBittorrent and Deluge make them (python3-libtorrent's create_torrent: hybrid v1+v2 with BEP 47
/// pad files by default, or v2 only) are seeded by <c>appliance serve</c> and downloaded and verified by a libtorrent client.
/// </summary>
[Trait("Category", "Interop")]
public sealed class LibtorrentV2Tests
{
    [Theory]
    [InlineData("hybrid", "mmap", false)]
    [InlineData("hybrid", "pread", false)]
    [InlineData("v2", "mmap", false)]
    [InlineData("v2", "pread", false)]
    [InlineData("hybrid", "mmap", true)]
    [InlineData("v2", "mmap", true)]
    public async Task Libtorrent_downloads_a_torrent_made_by_libtorrent(string format, string storage, bool magnetWithOnlyBtmh)
    {
        using var temp = new TempDirectory("v2-interop");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 2);
        // libtorrent 2.0.8 has a race (fixed upstream) that pauses a hybrid as "v1 and v2 hashes do not describe the same
        // data" when requested v2 hashes arrive for a piece that passed SHA-1 but is not yet on its disk. A hybrid from a
        // magnet therefore gets pieces larger than any file, so it needs no hash requests; v2-only magnets cover those.
        int pieceLength = format == "hybrid" && magnetWithOnlyBtmh ? 1024 * 1024 : 32 * 1024;
        await DownloadAsync(temp, content, source, format, storage, magnetWithOnlyBtmh, pieceLength);
    }

    [Fact]
    public async Task Libtorrent_fetches_a_long_piece_layer_in_parts_proven_by_uncle_hashes()
    {
        // 611 pieces of 16 KiB: more than the 512 hashes libtorrent asks for at once, so its requests need uncles.
        using var temp = new TempDirectory("v2-interop-long");
        string content = temp.CreateSubdirectory("content");
        string source = Path.Combine(content, "sample");
        SampleContent.WriteFile(Path.Combine(source, "big.bin"), 10_000_000, seed: 5);
        SampleContent.WriteFile(Path.Combine(source, "small.bin"), 3_000, seed: 6);
        await DownloadAsync(temp, content, source, "v2", "mmap", magnetWithOnlyBtmh: true, 16 * 1024);
    }

    private static async Task DownloadAsync(TempDirectory temp, string content, string source, string format, string storage, bool magnetWithOnlyBtmh, int pieceLength)
    {
        string torrent = Path.Combine(content, "sample.torrent");
        string scriptDir = temp.CreateSubdirectory("scripts");
        using var create = await Libtorrent.CreateTorrentAsync(scriptDir, source, torrent, format, pieceLength, webSeed: null, TimeSpan.FromSeconds(60));
        Assert.True(create.ExitCode == 0, create.AllOutput);
        var hashes = Libtorrent.CreatedHashes.Of(create);
        string v2Hash = hashes.V2;

        using var info = await ApplianceBinary.RunAsync(["info", torrent], TimeSpan.FromSeconds(60));
        Assert.True(info.ExitCode == 0, info.AllOutput);
        Assert.Contains(format == "hybrid" ? "format:        hybrid (v1 + v2)" : "format:        v2 (BEP 52)", info.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("info-hash v2:  " + v2Hash, info.StandardOutput, StringComparison.Ordinal);
        if (format == "hybrid") Assert.Contains("info-hash:     " + hashes.V1, info.StandardOutput, StringComparison.Ordinal);

        int port = Ports.FreeTcp();
        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{port}", "--no-dht", "--no-tracker", "--metrics-listen", "",
            "--storage", storage, "--upload-slots", "unlimited",
        ]);
        string seeding = await appliance.WaitForLineAsync(l => l.StartsWith("seeding ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await appliance.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        string magnet = seeding.Split(' ')[^1];
        Assert.Contains("xt=urn:btmh:1220" + v2Hash, magnet, StringComparison.Ordinal);

        string target = torrent;
        if (magnetWithOnlyBtmh)
        {
            // Only the v2 hash: the client fetches the info dictionary with ut_metadata over a v2 handshake, and for a
            // v2-only torrent the piece layers with BEP 52 hash requests.
            target = "magnet:?xt=urn:btmh:1220" + v2Hash + "&dn=sample";
        }

        string download = temp.CreateSubdirectory("download");
        using var leecher = await Libtorrent.LeechAsync(scriptDir, target, download,
            new Libtorrent.LeecherOptions { PeerPort = port, Alerts = Libtorrent.Alerts.Peer });
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);
        Assert.False(Directory.Exists(Path.Combine(content, "sample", ".pad")), "a pad file was written to disk");

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, appliance.ExitCode);
    }

    [Theory]
    [InlineData("btih")]
    [InlineData("btmh")]
    public async Task Libtorrent_finds_a_hybrid_through_the_embedded_tracker_by_either_hash(string hashKind)
    {
        using var temp = new TempDirectory("v2-tracker");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample");
        string torrent = Path.Combine(content, "sample.torrent");
        string scriptDir = temp.CreateSubdirectory("scripts");
        // Pieces larger than any file: no hash requests, so libtorrent 2.0.8's hybrid hash race (see above) cannot hit.
        using var create = await Libtorrent.CreateTorrentAsync(scriptDir, source, torrent, "hybrid", 1048576, webSeed: null, TimeSpan.FromSeconds(60));
        Assert.True(create.ExitCode == 0, create.AllOutput);
        var hashes = Libtorrent.CreatedHashes.Of(create);

        int port = Ports.FreeTcp();
        int trackerPort = Ports.FreeTcpAndUdp();
        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{port}", "--no-dht", "--metrics-listen", "",
            "--tracker-listen", $"127.0.0.1:{trackerPort}", "--upload-slots", "unlimited",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("seeding ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        await appliance.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        // No peer given: the client learns of us only from the tracker, asked with the one hash the magnet names.
        string xt = hashKind == "btih" ? "urn:btih:" + hashes.V1 : "urn:btmh:1220" + hashes.V2;
        string magnet = $"magnet:?xt={xt}&dn=sample&tr={Uri.EscapeDataString($"http://127.0.0.1:{trackerPort}/announce")}";
        string download = temp.CreateSubdirectory("download");
        using var leecher = await Libtorrent.LeechAsync(scriptDir, magnet, download, new Libtorrent.LeecherOptions { Alerts = Libtorrent.Alerts.Peer });
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
    }
}
