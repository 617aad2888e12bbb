using System.Security.Cryptography;
using System.Text;
using Appliance.Protocol.Metainfo;

namespace Appliance.Protocol.Tests.Metainfo;

public class TorrentMetainfoTests
{
    private const int PieceLength = 16 * 1024;

    private static byte[] Torrent(string info, string extra = "") =>
        Encoding.Latin1.GetBytes("d" + extra + "4:info" + info + "e");

    private static string Pieces(int count) => $"6:pieces{count * 20}:" + new string('\x01', count * 20);

    private static string SingleInfo(long length, int pieces, string name = "file.bin", int pieceLength = PieceLength) =>
        $"d6:lengthi{length}e4:name{Encoding.UTF8.GetByteCount(name)}:{name}12:piece lengthi{pieceLength}e{Pieces(pieces)}e";

    private static string MultiInfo(string files, int pieces, string name = "folder") =>
        $"d5:files{files}4:name{name.Length}:{name}12:piece lengthi{PieceLength}e{Pieces(pieces)}e";

    private static string File(long length, params string[] path) =>
        $"d6:lengthi{length}e4:pathl{string.Concat(path.Select(p => $"{Encoding.UTF8.GetByteCount(p)}:{p}"))}ee";

    [Fact]
    public void Info_hash_is_sha1_of_the_exact_info_bytes()
    {
        string info = SingleInfo(20_000, 2);
        var metainfo = TorrentMetainfo.Parse(Torrent(info, "8:announce20:http://t.example/ann"));
        var expected = new InfoHash(SHA1.HashData(Encoding.Latin1.GetBytes(info)));
        Assert.Equal(expected, metainfo.InfoHash);
        Assert.Equal(info, Encoding.Latin1.GetString(metainfo.InfoBytes.Span));
        Assert.Equal("file.bin", metainfo.Name);
        Assert.Equal(2, metainfo.PieceCount);
        Assert.Equal(20_000 - PieceLength, metainfo.PieceSize(1));
        Assert.False(metainfo.IsMultiFile);
        Assert.Equal(["http://t.example/ann"], metainfo.Trackers);
    }

    [Fact]
    public void Multi_file_layout_has_offsets_and_keeps_empty_files()
    {
        string files = "l" + File(10_000, "a.bin") + File(0, "empty") + File(30_000, "sub", "dir", "b.bin") + "e";
        var metainfo = TorrentMetainfo.Parse(Torrent(MultiInfo(files, 3)));
        Assert.True(metainfo.IsMultiFile);
        Assert.Equal(40_000, metainfo.TotalLength);
        Assert.Equal(["a.bin", "empty", "sub/dir/b.bin"], metainfo.Files.Select(f => f.Path));
        Assert.Equal([0L, 10_000L, 10_000L], metainfo.Files.Select(f => f.Offset));
    }

    [Fact]
    public void Announce_list_tiers_replace_announce()
    {
        string extra = "8:announce5:http:13:announce-listll5:udp:a5:udp:bel5:udp:cee";
        var metainfo = TorrentMetainfo.Parse(Torrent(SingleInfo(100, 1), extra));
        Assert.Equal(2, metainfo.AnnounceTiers.Count);
        Assert.Equal(["udp:a", "udp:b"], metainfo.AnnounceTiers[0]);
        Assert.Equal(["udp:c"], metainfo.AnnounceTiers[1]);
    }

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("a\0b")]
    public void Unsafe_path_components_are_refused(string component)
    {
        string files = "l" + File(100, "ok", component) + "e";
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Torrent(MultiInfo(files, 1))));
        Assert.Contains("path", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("a/b")]
    public void Unsafe_names_are_refused(string name)
    {
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Torrent(SingleInfo(100, 1, name))));
        Assert.Contains("info.name", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(24 * 1024)]
    [InlineData(8 * 1024)]
    public void Piece_length_must_be_a_power_of_two_of_at_least_16_KiB(int pieceLength)
    {
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Torrent(SingleInfo(100, 1, pieceLength: pieceLength))));
        Assert.Contains("piece length", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Piece_count_must_match_the_total_length()
    {
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Torrent(SingleInfo(100_000, 2))));
        Assert.Contains("expected 7", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Pieces_must_be_a_multiple_of_20_bytes()
    {
        string info = $"d6:lengthi100e4:name1:x12:piece lengthi{PieceLength}e6:pieces19:{new string('a', 19)}e";
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Torrent(info)));
        Assert.Contains("multiple of 20", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_paths_and_file_folder_clashes_are_refused()
    {
        string twice = "l" + File(1, "a") + File(1, "a") + "e";
        Assert.Contains("twice", Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Torrent(MultiInfo(twice, 1)))).Reason, StringComparison.Ordinal);
        string clash = "l" + File(1, "a") + File(1, "a", "b") + "e";
        Assert.Contains("both a file and a folder", Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Torrent(MultiInfo(clash, 1)))).Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("i1e", "not a dictionary")]
    [InlineData("d3:fooi1ee", "missing 'info'")]
    [InlineData("d4:infod4:name1:xee", "piece length")]
    [InlineData("d4:infod6:lengthi-1e4:name1:x12:piece lengthi16384e6:pieces0:ee", "negative")]
    [InlineData("d4:infod6:lengthi0e4:name1:x12:piece lengthi16384e6:pieces0:ee", "no data")]
    [InlineData("d4:info", "bencode")]
    public void Malformed_torrents_are_refused_with_a_reason(string text, string reason)
    {
        Assert.False(TorrentMetainfo.TryParse(Encoding.Latin1.GetBytes(text), out var metainfo, out var why));
        Assert.Null(metainfo);
        Assert.Contains(reason, why, StringComparison.Ordinal);
    }

    [Fact]
    public void Writer_output_parses_back_to_the_same_layout_and_hash()
    {
        var files = new List<TorrentFile> { new(["b", "x.bin"], 20_000, 0), new(["c.bin"], 0, 20_000) };
        var draft = new MetainfoDraft("pack", PieceLength, new byte[40], files, IsMultiFile: true)
        {
            AnnounceTiers = [["http://a/announce"], ["udp://b:1/announce"]],
            IsPrivate = true,
            Comment = "hi",
        };
        var metainfo = TorrentMetainfo.Parse(MetainfoWriter.Encode(draft));
        Assert.Equal(InfoHash.Compute(MetainfoWriter.EncodeInfo(draft)), metainfo.InfoHash);
        Assert.True(metainfo.IsPrivate);
        Assert.Equal("hi", metainfo.Comment);
        Assert.Equal(["b/x.bin", "c.bin"], metainfo.Files.Select(f => f.Path));
        Assert.Equal(2, metainfo.AnnounceTiers.Count);
    }
}
