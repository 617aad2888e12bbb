using Appliance.Protocol.Metainfo;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Metainfo;

[Trait("Category", "Interop")]
public sealed class MetainfoInteropTests : IDisposable
{
    private readonly TempDirectory _temp = new("metainfo-interop");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Mktorrent_torrent_parses_with_the_info_hash_libtorrent_and_transmission_report()
    {
        string folder = SampleContent.WriteMultiFile(_temp.Path);
        string torrent = _temp.Combine("mktorrent.torrent");
        await MetainfoTools.RunOkAsync("mktorrent", ["-d", "-l", "15", "-a", "http://127.0.0.1:6969/announce", "-o", torrent, folder]);

        var metainfo = TorrentMetainfo.Load(torrent);
        var (libtorrentHash, libtorrentFiles) = await MetainfoTools.LibtorrentViewAsync(torrent);
        Assert.Equal(libtorrentHash, metainfo.InfoHash.ToHex());
        Assert.Equal(await MetainfoTools.TransmissionHashAsync(torrent), metainfo.InfoHash.ToHex());
        Assert.Equal(libtorrentFiles, metainfo.Files.Select(f => $"{f.Length} sample/{f.Path}"));
        Assert.Equal(32 * 1024, metainfo.PieceLength);
        Assert.Equal(["http://127.0.0.1:6969/announce"], metainfo.Trackers);
    }

    [Fact]
    public async Task Transmission_create_torrent_parses_with_its_own_info_hash()
    {
        string folder = SampleContent.WriteMultiFile(_temp.Path);
        string torrent = _temp.Combine("transmission.torrent");
        await MetainfoTools.RunOkAsync("transmission-create",
            ["-o", torrent, "-s", "16", "-p", "-c", "made by transmission", "-t", "http://127.0.0.1:6969/announce", folder]);

        var metainfo = TorrentMetainfo.Load(torrent);
        Assert.Equal(await MetainfoTools.TransmissionHashAsync(torrent), metainfo.InfoHash.ToHex());
        Assert.Equal((await MetainfoTools.LibtorrentViewAsync(torrent)).InfoHash, metainfo.InfoHash.ToHex());
        Assert.True(metainfo.IsPrivate);
        Assert.Equal("made by transmission", metainfo.Comment);
        Assert.Equal(16 * 1024, metainfo.PieceLength);
        Assert.Equal(SampleContent.MultiFileLayout.Sum(f => (long)f.Size), metainfo.TotalLength);
    }

    [Fact]
    public async Task Libtorrent_create_torrent_parses_with_its_own_info_hash()
    {
        string folder = SampleContent.WriteMultiFile(_temp.Path);
        string torrent = _temp.Combine("libtorrent.torrent");
        const string script = """
            import sys, os, libtorrent as lt
            folder, out = sys.argv[1], sys.argv[2]
            fs = lt.file_storage()
            lt.add_files(fs, folder)
            t = lt.create_torrent(fs, 65536, flags=lt.create_torrent.v1_only)
            t.add_tracker('udp://127.0.0.1:6969/announce', 0)
            t.add_tracker('http://127.0.0.1:6970/announce', 1)
            lt.set_piece_hashes(t, os.path.dirname(folder))
            data = lt.bencode(t.generate())
            open(out, 'wb').write(data)
            print(lt.torrent_info(lt.bdecode(data)).info_hashes().v1)
            """;
        var process = await MetainfoTools.PythonAsync(script, folder, torrent);

        var metainfo = TorrentMetainfo.Load(torrent);
        Assert.Equal(process.StandardOutput.Trim(), metainfo.InfoHash.ToHex());
        Assert.Equal(64 * 1024, metainfo.PieceLength);
        Assert.Equal([["udp://127.0.0.1:6969/announce"], ["http://127.0.0.1:6970/announce"]], metainfo.AnnounceTiers);
        Assert.Equal(SampleContent.MultiFileLayout.Select(f => f.Path).Order(StringComparer.Ordinal), metainfo.Files.Select(f => f.Path).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(15)]
    [InlineData(18)]
    public async Task Appliance_create_gives_mktorrents_info_hash_for_a_folder_with_an_empty_file_and_nested_folders(int log2PieceLength)
    {
        string folder = SampleContent.WriteMultiFile(_temp.Path, scale: 3);
        string expected = _temp.Combine("mktorrent.torrent");
        string actual = _temp.Combine("appliance.torrent");
        await MetainfoTools.RunOkAsync("mktorrent", ["-d", "-l", log2PieceLength.ToString(System.Globalization.CultureInfo.InvariantCulture), "-o", expected, folder]);

        using var create = await ApplianceBinary.RunAsync(["create", folder, "-o", actual, "--piece-length", (1 << log2PieceLength).ToString(System.Globalization.CultureInfo.InvariantCulture)], MetainfoTools.Timeout);
        Assert.True(create.ExitCode == 0, create.AllOutput);

        var mktorrent = TorrentMetainfo.Load(expected);
        var appliance = TorrentMetainfo.Load(actual);
        Assert.Equal(mktorrent.InfoHash, appliance.InfoHash);
        Assert.Contains($"info-hash: {mktorrent.InfoHash.ToHex()}", create.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"magnet: magnet:?xt=urn:btih:{mktorrent.InfoHash.ToHex()}&dn=sample", create.StandardOutput, StringComparison.Ordinal);
        Assert.Null(appliance.CreationDate);
        Assert.Empty(appliance.Trackers);
    }

    [Fact]
    public async Task Appliance_create_gives_mktorrents_info_hash_for_a_single_file()
    {
        string file = SampleContent.WriteFile(_temp.Combine("content", "single.bin"), 1_234_567);
        string expected = _temp.Combine("mktorrent.torrent");
        string actual = _temp.Combine("appliance.torrent");
        await MetainfoTools.RunOkAsync("mktorrent", ["-d", "-l", "16", "-p", "-a", "http://127.0.0.1:6969/announce", "-o", expected, file]);
        using var create = await ApplianceBinary.RunAsync(
            ["create", file, "-o", actual, "--piece-length", "64K", "--private", "--tracker", "http://127.0.0.1:6969/announce"], MetainfoTools.Timeout);
        Assert.True(create.ExitCode == 0, create.AllOutput);
        var appliance = TorrentMetainfo.Load(actual);
        Assert.Equal(TorrentMetainfo.Load(expected).InfoHash, appliance.InfoHash);
        Assert.False(appliance.IsMultiFile);
        Assert.Equal((await MetainfoTools.LibtorrentViewAsync(actual)).InfoHash, appliance.InfoHash.ToHex());
    }

    [Fact]
    public async Task Appliance_info_shows_what_libtorrent_sees()
    {
        string folder = SampleContent.WriteMultiFile(_temp.Path);
        string torrent = _temp.Combine("t.torrent");
        await MetainfoTools.RunOkAsync("mktorrent", ["-d", "-l", "15", "-a", "http://127.0.0.1:6969/announce,http://127.0.0.1:6970/announce", "-a", "udp://127.0.0.1:6971", "-c", "hello", "-o", torrent, folder]);
        var (hash, files) = await MetainfoTools.LibtorrentViewAsync(torrent);

        using var info = await ApplianceBinary.RunAsync(["info", torrent], MetainfoTools.Timeout);
        Assert.True(info.ExitCode == 0, info.AllOutput);
        string output = info.StandardOutput;
        Assert.Contains($"info-hash:     {hash}", output, StringComparison.Ordinal);
        Assert.Contains("name:          sample", output, StringComparison.Ordinal);
        Assert.Contains("pieces:        15 of 32768 bytes (32 KiB), last 12269", output, StringComparison.Ordinal);
        Assert.Contains("  tier 1: http://127.0.0.1:6969/announce http://127.0.0.1:6970/announce", output, StringComparison.Ordinal);
        Assert.Contains("  tier 2: udp://127.0.0.1:6971", output, StringComparison.Ordinal);
        Assert.Contains("comment:       hello", output, StringComparison.Ordinal);
        Assert.Contains($"magnet:        magnet:?xt=urn:btih:{hash}", output, StringComparison.Ordinal);
        foreach (var line in files)
        {
            var parts = line.Split(' ', 2);
            Assert.Matches($@"\n\s+{parts[0]}  {System.Text.RegularExpressions.Regex.Escape(parts[1]["sample/".Length..])}\n", output);
        }
    }

    [Fact]
    public async Task Appliance_info_refuses_a_bad_torrent_with_exit_code_1_and_the_reason()
    {
        string torrent = _temp.Combine("bad.torrent");
        File.WriteAllBytes(torrent, "d4:infod6:lengthi1e4:name2:..12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"u8.ToArray());
        using var info = await ApplianceBinary.RunAsync(["info", torrent], MetainfoTools.Timeout);
        Assert.Equal(1, info.ExitCode);
        Assert.Contains("info.name has a '..' component", info.StandardError, StringComparison.Ordinal);
        Assert.Equal("", info.StandardOutput.Trim());
    }
}
