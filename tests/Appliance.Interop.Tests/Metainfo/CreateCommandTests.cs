using Appliance.Protocol.Metainfo;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Metainfo;

/// <summary>`appliance create` and `info` run as the real program: exit codes, stdout and stderr.</summary>
[Trait("Category", "Interop")]
public sealed class CreateCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("create-command");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Create_without_trackers_writes_no_announce_and_info_round_trips()
    {
        string folder = SampleContent.WriteMultiFile(_temp.Path);
        string torrent = _temp.Combine("out.torrent");
        using var create = await ApplianceBinary.RunAsync(["create", folder, "-o", torrent, "--comment", "hi", "--created-by", "tester"], MetainfoTools.Timeout);
        Assert.True(create.ExitCode == 0, create.AllOutput);
        var metainfo = TorrentMetainfo.Load(torrent);
        Assert.Empty(metainfo.AnnounceTiers);
        Assert.DoesNotContain("announce", System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(torrent)), StringComparison.Ordinal);
        Assert.Equal(("hi", "tester"), (metainfo.Comment, metainfo.CreatedBy));
        Assert.Equal(32 * 1024, metainfo.PieceLength); // under 50 MiB
        // The torrent has no tracker; its magnet link names where `serve` runs the embedded tracker by default.
        Assert.Equal($"info-hash: {metainfo.InfoHash.ToHex()}\nmagnet: {metainfo.MagnetLink(["http://127.0.0.1:6969/announce"])}\n", create.StandardOutput);
        Assert.DoesNotContain("hashing [", create.StandardError, StringComparison.Ordinal); // no bar when stderr is not a terminal
    }

    [Theory]
    [InlineData("seed1.example.net", "http://seed1.example.net:6969/announce")]
    [InlineData("seed1.example.net:7000", "http://seed1.example.net:7000/announce")]
    [InlineData("2001:db8::1", "http://[2001:db8::1]:6969/announce")]
    public async Task Magnet_of_a_torrent_without_trackers_names_the_embedded_tracker_on_the_announce_host(string host, string url)
    {
        string file = SampleContent.WriteFile(_temp.Combine("one.bin"), 40_000);
        string torrent = _temp.Combine("one.torrent");
        using var create = await ApplianceBinary.RunAsync(["create", file, "-o", torrent, "--announce-host", host], MetainfoTools.Timeout);
        Assert.True(create.ExitCode == 0, create.AllOutput);
        var magnet = MagnetLink.Parse(create.StandardOutput.Split('\n').Single(l => l.StartsWith("magnet: ", StringComparison.Ordinal))["magnet: ".Length..]);
        Assert.Equal([url], magnet.Trackers);
        Assert.Empty(TorrentMetainfo.Load(torrent).AnnounceTiers);
    }

    [Fact]
    public async Task Magnet_of_a_torrent_with_trackers_names_only_them()
    {
        string file = SampleContent.WriteFile(_temp.Combine("one.bin"), 40_000);
        string torrent = _temp.Combine("one.torrent");
        using var create = await ApplianceBinary.RunAsync(["create", file, "-o", torrent, "--tracker", "udp://t.example:1337/announce"], MetainfoTools.Timeout);
        Assert.True(create.ExitCode == 0, create.AllOutput);
        var magnet = MagnetLink.Parse(create.StandardOutput.Split('\n').Single(l => l.StartsWith("magnet: ", StringComparison.Ordinal))["magnet: ".Length..]);
        Assert.Equal(["udp://t.example:1337/announce"], magnet.Trackers);
    }

    [Fact]
    public async Task Create_with_web_seeds_writes_the_same_bytes_as_mktorrent()
    {
        string folder = SampleContent.WriteMultiFile(_temp.Path);
        foreach (string[] seeds in new[] { new[] { "http://seed.example:8080/" }, new[] { "http://seed.example:8080/", "https://mirror.example/pub/" } })
        {
            string ours = _temp.Combine("ours.torrent"), theirs = _temp.Combine("mktorrent.torrent");
            using var create = await ApplianceBinary.RunAsync(["create", folder, "-o", ours, "--piece-length", "32K", "--created-by", "mktorrent 1.1",
                .. seeds.SelectMany(s => new[] { "--web-seed", s })], MetainfoTools.Timeout);
            Assert.True(create.ExitCode == 0, create.AllOutput);
            await MetainfoTools.RunOkAsync("mktorrent", ["-d", "-l", "15", .. seeds.SelectMany(s => new[] { "-w", s }), "-o", theirs, folder]);
            Assert.Equal(await File.ReadAllBytesAsync(theirs), await File.ReadAllBytesAsync(ours));
            Assert.Equal(seeds, TorrentMetainfo.Load(ours).WebSeeds);
            using var info = await ApplianceBinary.RunAsync(["info", ours], MetainfoTools.Timeout);
            Assert.Contains("web seeds:\n  " + string.Join("\n  ", seeds) + "\n", info.StandardOutput, StringComparison.Ordinal);
            File.Delete(ours);
            File.Delete(theirs);
        }
    }

    [Theory]
    [InlineData("seed.example/files")]
    [InlineData("file:///etc/passwd")]
    public async Task Create_with_a_web_seed_that_is_not_an_http_url_is_a_usage_error(string url)
    {
        string file = SampleContent.WriteFile(_temp.Combine("f.bin"), 20_000);
        using var create = await ApplianceBinary.RunAsync(["create", file, "-o", _temp.Combine("x.torrent"), "--web-seed", url], MetainfoTools.Timeout);
        Assert.Equal(2, create.ExitCode);
        Assert.Contains("--web-seed", create.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_with_date_stores_the_creation_time()
    {
        string file = SampleContent.WriteFile(_temp.Combine("f.bin"), 20_000);
        string torrent = _temp.Combine("out.torrent");
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var create = await ApplianceBinary.RunAsync(["create", file, "-o", torrent, "--date"], MetainfoTools.Timeout);
        Assert.True(create.ExitCode == 0, create.AllOutput);
        Assert.InRange(TorrentMetainfo.Load(torrent).CreationDate!.Value, before - 1, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
    }

    [Fact]
    public async Task Create_of_a_missing_path_exits_1_with_the_reason()
    {
        using var create = await ApplianceBinary.RunAsync(["create", _temp.Combine("nothing-here"), "-o", _temp.Combine("x.torrent")], MetainfoTools.Timeout);
        Assert.Equal(1, create.ExitCode);
        Assert.Contains("does not exist", create.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(_temp.Combine("x.torrent")));
    }

    [Theory]
    [InlineData("1000")]
    [InlineData("8K")]
    [InlineData("128M")]
    [InlineData("lots")]
    public async Task Create_with_a_bad_piece_length_is_a_usage_error(string pieceLength)
    {
        string file = SampleContent.WriteFile(_temp.Combine("f.bin"), 20_000);
        using var create = await ApplianceBinary.RunAsync(["create", file, "-o", _temp.Combine("x.torrent"), "--piece-length", pieceLength], MetainfoTools.Timeout);
        Assert.Equal(2, create.ExitCode);
        Assert.Contains("--piece-length", create.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Info_of_a_missing_file_exits_1()
    {
        using var info = await ApplianceBinary.RunAsync(["info", _temp.Combine("none.torrent")], MetainfoTools.Timeout);
        Assert.Equal(1, info.ExitCode);
        Assert.Contains("none.torrent", info.StandardError, StringComparison.Ordinal);
    }
}
