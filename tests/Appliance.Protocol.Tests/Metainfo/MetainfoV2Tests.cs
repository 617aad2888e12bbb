using System.Security.Cryptography;
using System.Text;
using Appliance.Protocol.Metainfo;

namespace Appliance.Protocol.Tests.Metainfo;

/// <summary>BEP 47 pad files and attributes, BEP 52 v2 and hybrid metainfo, and the parser's bounds on paths.</summary>
public class MetainfoV2Tests
{
    private const int PieceLength = 16 * 1024;

    // A tiny bencoder for building test torrents: long, string (Latin-1 bytes), byte[], lists, and dictionaries (sorted here).
    private static void Encode(object value, MemoryStream output)
    {
        switch (value)
        {
            case long n: output.Write(Encoding.ASCII.GetBytes($"i{n}e")); break;
            case int n: output.Write(Encoding.ASCII.GetBytes($"i{n}e")); break;
            case string s: Encode(Encoding.UTF8.GetBytes(s), output); break;
            case byte[] b: output.Write(Encoding.ASCII.GetBytes($"{b.Length}:")); output.Write(b); break;
            case IEnumerable<KeyValuePair<byte[], object>> d:
                output.WriteByte((byte)'d');
                foreach (var (k, v) in d.OrderBy(e => e.Key, Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b))))
                {
                    Encode(k, output);
                    Encode(v, output);
                }
                output.WriteByte((byte)'e');
                break;
            case System.Collections.IEnumerable list:
                output.WriteByte((byte)'l');
                foreach (var item in list) Encode(item!, output);
                output.WriteByte((byte)'e');
                break;
            default: throw new ArgumentException(value.GetType().Name);
        }
    }

    private static byte[] Encode(object value)
    {
        var output = new MemoryStream();
        Encode(value, output);
        return output.ToArray();
    }

    private static Dictionary<byte[], object> Dict(params (object Key, object Value)[] entries) =>
        entries.ToDictionary(e => e.Key is string s ? Encoding.UTF8.GetBytes(s) : (byte[])e.Key, e => e.Value);

    private static byte[] Sha256(params byte[][] parts) => SHA256.HashData(parts.SelectMany(p => p).ToArray());

    private static byte[] Data(int length, byte seed) => Enumerable.Range(0, length).Select(i => (byte)(i * 31 + seed)).ToArray();

    // Written out by hand (not with MerkleTree) so the parser is checked against an independent computation.
    private static (byte[] Root, byte[] Layer) TwoPieceFile(byte[] data)
    {
        var h0 = Sha256(data[..PieceLength]);
        var h1 = Sha256(data[PieceLength..]);
        return (Sha256(h0, h1), [.. h0, .. h1]);
    }

    private static byte[] V2Torrent(byte[] root, byte[] layer, long length = 2 * PieceLength, object? layers = null)
    {
        var fileTree = Dict(("a.bin", Dict(("", Dict(("length", length), ("pieces root", root))))),
                            ("small.txt", Dict(("", Dict(("length", 5L), ("pieces root", Sha256(Encoding.ASCII.GetBytes("hello"))))))));
        var info = Dict(("file tree", fileTree), ("meta version", 2L), ("name", "v2"), ("piece length", (long)PieceLength));
        return Encode(Dict(("info", info), ("piece layers", layers ?? Dict((root, layer)))));
    }

    [Fact]
    public void V2_torrent_has_a_sha256_info_hash_truncated_for_the_swarm_and_piece_aligned_files()
    {
        var (root, layer) = TwoPieceFile(Data(2 * PieceLength, 3));
        var bytes = V2Torrent(root, layer);
        var metainfo = TorrentMetainfo.Parse(bytes);

        var document = Appliance.Protocol.Bencode.BencodeDocument.Parse(bytes);
        var v2Hash = SHA256.HashData(document.Root["info"u8].RawSpan);
        Assert.Equal(TorrentFormat.V2, metainfo.Format);
        Assert.Equal(v2Hash, metainfo.InfoHashV2);
        Assert.Equal(new InfoHash(v2Hash.AsSpan(0, 20)), metainfo.InfoHash);
        Assert.Equal([metainfo.InfoHash], metainfo.SwarmHashes);
        Assert.True(metainfo.PieceHashes.IsEmpty);
        // a.bin takes pieces 0-1; small.txt starts piece 2 and a pad fills it, so every piece is whole.
        Assert.Equal(["a.bin", "small.txt", ".pad/16379"], metainfo.Files.Select(f => f.Path));
        Assert.Equal([false, false, true], metainfo.Files.Select(f => f.IsPad));
        Assert.Equal(3, metainfo.PieceCount);
        Assert.Equal(3L * PieceLength, metainfo.TotalLength);
        Assert.True(metainfo.TryGetV2Piece(1, out int dataLength, out long width, out var expected));
        Assert.Equal((PieceLength, 1L), (dataLength, width));
        Assert.Equal(layer[32..], expected.ToArray());
        Assert.True(metainfo.TryGetV2Piece(2, out dataLength, out _, out expected));
        Assert.Equal(5, dataLength);
        Assert.StartsWith("magnet:?xt=urn:btmh:1220" + Convert.ToHexStringLower(v2Hash), metainfo.MagnetLink(), StringComparison.Ordinal);
    }

    [Fact]
    public void Piece_layers_that_do_not_hash_to_the_pieces_root_are_refused()
    {
        var (root, layer) = TwoPieceFile(Data(2 * PieceLength, 3));
        layer[40] ^= 1;
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(V2Torrent(root, layer)));
        Assert.Contains("do not match its pieces root", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("missing")]
    [InlineData("not a dictionary")]
    [InlineData("bad key")]
    public void Malformed_piece_layers_are_refused(string how)
    {
        var (root, layer) = TwoPieceFile(Data(2 * PieceLength, 3));
        object layers = how switch
        {
            "short" => Dict((root, layer[..32])),
            "missing" => Dict((Sha256([1]), layer)),
            "not a dictionary" => new List<object> { layer },
            _ => Dict((root[..31], layer)),
        };
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(V2Torrent(root, layer, layers: layers)));
        Assert.Contains("piece layers", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_tree_node_that_is_both_a_file_and_a_folder_is_refused()
    {
        var file = Dict(("length", 5L), ("pieces root", Sha256([1])));
        var child = Dict(("", Dict(("length", 0L))));
        var tree = Dict(("x", Dict(("", file), ("y", child))));
        var info = Dict(("file tree", tree), ("meta version", 2L), ("name", "t"), ("piece length", (long)PieceLength));
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Encode(Dict(("info", info)))));
        Assert.Contains("both a file and a folder", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("a/b")]
    public void File_tree_names_are_checked_like_v1_paths(string name)
    {
        var tree = Dict((name, Dict(("", Dict(("length", 5L), ("pieces root", Sha256([1])))))));
        var info = Dict(("file tree", tree), ("meta version", 2L), ("name", "t"), ("piece length", (long)PieceLength));
        Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Encode(Dict(("info", info)))));
    }

    [Fact]
    public void A_file_tree_nested_past_the_bencode_depth_limit_is_refused_without_recursing_into_it()
    {
        object node = Dict(("", Dict(("length", 5L), ("pieces root", Sha256([1])))));
        for (int i = 0; i < 100; i++) node = Dict(("d", node));
        var info = Dict(("file tree", node), ("meta version", 2L), ("name", "t"), ("piece length", (long)PieceLength));
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Encode(Dict(("info", info)))));
        Assert.Contains("bencode", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wide_file_tree_parses_in_linear_memory()
    {
        // 20,000 files in 200 folders: the parse may cost a small multiple of the input, nothing quadratic.
        var tree = Dict(Enumerable.Range(0, 200).Select(d => ((object)$"folder{d:D3}", (object)Dict(
            Enumerable.Range(0, 100).Select(f => ((object)$"file{f:D3}.txt", (object)Dict(("", Dict(("length", 5L), ("pieces root", Sha256([(byte)f]))))))).ToArray()))).ToArray());
        var info = Dict(("file tree", tree), ("meta version", 2L), ("name", "wide"), ("piece length", (long)PieceLength));
        var bytes = Encode(Dict(("info", info)));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var metainfo = TorrentMetainfo.Parse(bytes);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(40_000, metainfo.Files.Count); // each file and the pad after it
        Assert.True(allocated < 48L * bytes.Length, $"parsing {bytes.Length} bytes allocated {allocated}");
    }

    [Fact]
    public void Hybrid_torrent_answers_to_both_hashes_and_keeps_v1_pad_files()
    {
        var data = Data(2 * PieceLength, 3);
        var (root, layer) = TwoPieceFile(data);
        var small = Encoding.ASCII.GetBytes("hello");
        var smallRoot = Sha256(small);
        var padded = new byte[PieceLength];
        small.CopyTo(padded, 0);
        var pieces = Sha1(data[..PieceLength]).Concat(Sha1(data[PieceLength..])).Concat(Sha1(padded)).ToArray();
        var fileTree = Dict(("a.bin", Dict(("", Dict(("length", (long)data.Length), ("pieces root", root))))),
                            ("small.txt", Dict(("", Dict(("length", 5L), ("pieces root", smallRoot))))));
        var files = new List<object>
        {
            Dict(("length", (long)data.Length), ("path", new List<object> { "a.bin" })),
            Dict(("length", 5L), ("path", new List<object> { "small.txt" })),
            Dict(("attr", "p"), ("length", PieceLength - 5L), ("path", new List<object> { ".pad", $"{PieceLength - 5}" })),
        };
        var info = Dict(("file tree", fileTree), ("files", files), ("meta version", 2L), ("name", "h"), ("piece length", (long)PieceLength), ("pieces", pieces));
        var metainfo = TorrentMetainfo.Parse(Encode(Dict(("info", info), ("piece layers", Dict((root, layer))))));

        Assert.Equal(TorrentFormat.Hybrid, metainfo.Format);
        Assert.Equal(2, metainfo.SwarmHashes.Count);
        Assert.Equal(metainfo.TruncatedInfoHashV2, metainfo.SwarmHashes[1]);
        Assert.True(metainfo.Files[2].IsPad);
        Assert.Equal(root, metainfo.Files[0].PiecesRoot.ToArray());
        Assert.Contains("xt=urn:btih:", metainfo.MagnetLink(), StringComparison.Ordinal);
        Assert.Contains("xt=urn:btmh:1220", metainfo.MagnetLink(), StringComparison.Ordinal);

        files[1] = Dict(("length", 5L), ("path", new List<object> { "other.txt" }));
        var mismatch = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(Encode(Dict(("info", info), ("piece layers", Dict((root, layer)))))));
        Assert.Contains("disagree", mismatch.Reason, StringComparison.Ordinal);
    }

    private static byte[] Sha1(byte[] data) => SHA1.HashData(data);

    private static byte[] V1Torrent(List<object> files, int pieces = 1) =>
        Encode(Dict(("info", Dict(("files", files), ("name", "t"), ("piece length", (long)PieceLength), ("pieces", new byte[20 * pieces])))));

    private static Dictionary<byte[], object> V1File(long length, string? attr, params string[] path)
    {
        var file = Dict(("length", length), ("path", path.Cast<object>().ToList()));
        if (attr is not null) file[Encoding.ASCII.GetBytes("attr")] = attr;
        return file;
    }

    [Fact]
    public void Pad_files_may_share_a_name_and_attributes_are_kept()
    {
        var files = new List<object>
        {
            V1File(100, "x", "run.sh"), V1File(PieceLength - 100, "p", ".pad", "16284"),
            V1File(100, "h", ".hidden"), V1File(PieceLength - 100, "p", ".pad", "16284"),
            V1File(100, null, "last"),
        };
        var metainfo = TorrentMetainfo.Parse(V1Torrent(files, pieces: 3));
        Assert.Equal([TorrentFileAttributes.Executable, TorrentFileAttributes.Pad, TorrentFileAttributes.Hidden, TorrentFileAttributes.Pad, TorrentFileAttributes.None],
            metainfo.Files.Select(f => f.Attributes));
    }

    [Fact]
    public void Symlink_entries_are_refused_with_the_reason()
    {
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(V1Torrent([V1File(100, "l", "link")])));
        Assert.Contains("symlink", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Paths_deeper_than_the_cap_are_refused()
    {
        var path = Enumerable.Repeat("d", TorrentMetainfo.MaxPathDepth + 1).ToArray();
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(V1Torrent([V1File(100, null, path)])));
        Assert.Contains("deeper", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Paths_longer_than_the_cap_are_refused()
    {
        var path = Enumerable.Repeat(new string('n', 200), 25).ToArray(); // 5,024 bytes with separators
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(V1Torrent([V1File(100, null, path)])));
        Assert.Contains("longer than", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Many_deep_paths_parse_in_memory_linear_in_the_input()
    {
        // 500 files 63 folders deep: building every folder prefix of every file (the old check) allocated ~120 MB here.
        var files = new List<object>();
        for (int f = 0; f < 500; f++)
        {
            var path = Enumerable.Range(0, TorrentMetainfo.MaxPathDepth).Select(d => $"{f:D4}-{d:D2}-" + new string('x', 52)).ToArray();
            files.Add(V1File(1, null, path));
        }
        var bytes = V1Torrent(files);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var metainfo = TorrentMetainfo.Parse(bytes);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(500, metainfo.Files.Count);
        Assert.True(allocated < 16L * bytes.Length, $"parsing {bytes.Length} bytes allocated {allocated}");
    }

    [Fact]
    public void A_file_inside_a_path_that_is_a_file_is_refused()
    {
        var error = Assert.Throws<MetainfoException>(() => TorrentMetainfo.Parse(V1Torrent([V1File(100, null, "a"), V1File(100, null, "a", "b")])));
        Assert.Contains("both a file and a folder", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Magnet_with_only_btmh_names_the_truncated_v2_hash()
    {
        var v2 = Sha256([7]);
        var link = MagnetLink.Parse("magnet:?xt=urn:btmh:1220" + Convert.ToHexStringLower(v2) + "&dn=x");
        Assert.Equal(v2, link.InfoHashV2);
        Assert.False(link.HasV1);
        Assert.Equal(new InfoHash(v2.AsSpan(0, 20)), link.InfoHash);
        Assert.DoesNotContain("btih", link.ToString(), StringComparison.Ordinal);
        Assert.False(MagnetLink.TryParse("magnet:?xt=urn:btmh:1114" + Convert.ToHexStringLower(v2), out _, out var reason));
        Assert.Contains("1220", reason, StringComparison.Ordinal);
    }
}
