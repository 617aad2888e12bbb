using System.Security.Cryptography;
using System.Text;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Metainfo;
using Appliance.TestKit;

namespace Appliance.Protocol.Tests.Robustness;

/// <summary>
/// Mutations of a real multi-file .torrent: the metainfo parser refuses with a reason (never throws), anything it
/// accepts is safe to map onto disk, and the streaming reader and the DOM agree on what is valid bencode.
/// </summary>
public sealed class BencodeMetainfoFuzzTests : IDisposable
{
    private readonly TempDirectory _temp = new("robust-metainfo");
    private readonly byte[] _torrent;

    public BencodeMetainfoFuzzTests()
    {
        string content = SampleContent.WriteMultiFile(_temp.Path);
        _torrent = TestTorrents.Create(content, pieceLength: 16 * 1024, trackers: ["http://127.0.0.1:1/announce", "udp://127.0.0.1:2"]).Bytes;
    }

    public void Dispose() => _temp.Dispose();

    private IEnumerable<byte[]> Mutants(int seed, int count) =>
        Mutations.Truncations(_torrent).Where((_, i) => i % 7 == 0 || i < 64).Concat(Mutations.Random(_torrent, seed, count));

    private static bool ReaderAccepts(byte[] data, out BencodeError error)
    {
        var reader = new BencodeReader(data, BencodeLimits.Default);
        int tokens = 0;
        while (reader.Read())
        {
            Assert.True(++tokens <= data.Length, "reader produced more tokens than bytes");
        }
        error = reader.Error;
        return !reader.Error.IsError && reader.IsComplete;
    }

    private static void Encode(BencodeNode node, MemoryStream output)
    {
        switch (node.Kind)
        {
            case BencodeKind.Integer:
                output.Write(Encoding.ASCII.GetBytes($"i{node.Integer}e"));
                break;
            case BencodeKind.ByteString:
                output.Write(Encoding.ASCII.GetBytes($"{node.Bytes.Length}:"));
                output.Write(node.Bytes);
                break;
            case BencodeKind.List:
                output.WriteByte((byte)'l');
                foreach (var item in node.Items) Encode(item, output);
                output.WriteByte((byte)'e');
                break;
            case BencodeKind.Dictionary:
                output.WriteByte((byte)'d');
                foreach (var entry in node.Entries)
                {
                    Encode(entry.KeyNode, output);
                    Encode(entry.Value, output);
                }
                output.WriteByte((byte)'e');
                break;
            default:
                Assert.Fail($"node of kind {node.Kind} inside a parsed document");
                break;
        }
    }

    [Fact]
    public void Reader_and_document_agree_on_every_mutant_and_accepted_documents_reencode_byte_for_byte()
    {
        int accepted = 0, refused = 0;
        foreach (var mutant in Mutants(seed: 101, count: 3000))
        {
            bool readerOk = ReaderAccepts(mutant, out var readerError);
            bool documentOk = BencodeDocument.TryParse(mutant, BencodeLimits.Default, out var document, out var documentError);
            Assert.Equal(readerOk, documentOk);
            if (documentOk)
            {
                accepted++;
                using var again = new MemoryStream();
                Encode(document!.Root, again);
                Assert.Equal(mutant, again.ToArray());
            }
            else
            {
                refused++;
                Assert.True(documentError.IsError);
                Assert.InRange(documentError.Offset, 0, mutant.Length);
                Assert.False(string.IsNullOrWhiteSpace(documentError.Describe()));
                Assert.Equal(readerError.Kind == BencodeErrorKind.None ? BencodeErrorKind.UnexpectedEnd : readerError.Kind, documentError.Kind);
            }
        }
        Assert.True(accepted > 0 && refused > 0, $"mutations should give both outcomes (accepted {accepted}, refused {refused})");
    }

    [Fact]
    public void Document_parse_throws_only_the_bencode_exception()
    {
        foreach (var mutant in Mutations.Random(_torrent, seed: 102, count: 1000))
        {
            try
            {
                BencodeDocument.Parse(mutant);
            }
            catch (BencodeException)
            {
            }
        }
    }

    [Fact]
    public void Random_bytes_and_deep_nesting_are_refused_by_both_parsers()
    {
        var random = new Random(103);
        for (int i = 0; i < 2000; i++)
        {
            var data = new byte[random.Next(0, 64)];
            for (int k = 0; k < data.Length; k++) data[k] = "ilde:0123456789-x"u8[random.Next(17)];
            Assert.Equal(ReaderAccepts(data, out _), BencodeDocument.TryParse(data, BencodeLimits.Default, out _, out _));
        }
        foreach (int depth in new[] { 31, 32, 33, 64, 65, 10_000 })
        {
            var nested = Encoding.ASCII.GetBytes(new string('l', depth) + new string('e', depth));
            bool ok = BencodeDocument.TryParse(nested, BencodeLimits.Default, out _, out var error);
            Assert.Equal(ReaderAccepts(nested, out _), ok);
            Assert.Equal(depth <= BencodeLimits.Default.MaxDepth, ok);
            if (!ok) Assert.Equal(BencodeErrorKind.NestingTooDeep, error.Kind);
        }
    }

    [Fact]
    public void Metainfo_try_parse_never_throws_and_what_it_accepts_is_safe_and_consistent()
    {
        Assert.True(TorrentMetainfo.TryParse(_torrent, out var original, out _));
        AssertSafeAndConsistent(original!);
        int accepted = 0;
        foreach (var mutant in Mutants(seed: 104, count: 3000))
        {
            bool ok;
            TorrentMetainfo? metainfo;
            string? reason;
            try
            {
                ok = TorrentMetainfo.TryParse(mutant, out metainfo, out reason);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"TryParse threw {e.GetType().Name} ({e.Message}) for a {mutant.Length}-byte mutant: {Convert.ToBase64String(mutant)}");
            }
            if (ok)
            {
                accepted++;
                AssertSafeAndConsistent(metainfo!);
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(reason));
            }
        }
        Assert.True(accepted > 0, "some mutations (in comments, trackers, file data) should still be accepted");
    }

    [Theory]
    [InlineData(TorrentFormat.Hybrid)]
    [InlineData(TorrentFormat.V2)]
    public async Task V2_and_hybrid_mutants_are_refused_with_a_reason_or_safe_and_consistent(TorrentFormat format)
    {
        string content = SampleContent.WriteMultiFile(_temp.CreateSubdirectory(format.ToString()), "sample", scale: 2);
        var (torrent, original) = await Appliance.Storage.Creation.TorrentCreator.CreateAsync(content,
            new Appliance.Storage.Creation.CreateOptions { PieceLength = 16 * 1024, Format = format }, null, CancellationToken.None);
        AssertSafeAndConsistent(original);
        int accepted = 0;
        foreach (var mutant in Mutations.Truncations(torrent).Where((_, i) => i % 7 == 0 || i < 64).Concat(Mutations.Random(torrent, 105, 3000)))
        {
            bool ok;
            TorrentMetainfo? metainfo;
            string? reason;
            try
            {
                ok = TorrentMetainfo.TryParse(mutant, out metainfo, out reason);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"TryParse threw {e.GetType().Name} ({e.Message}) for a {mutant.Length}-byte mutant: {Convert.ToBase64String(mutant)}");
            }
            if (ok)
            {
                accepted++;
                AssertSafeAndConsistent(metainfo!);
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(reason));
            }
        }
        Assert.True(accepted > 0, "some mutations should still be accepted");
    }

    private static void AssertSafeAndConsistent(TorrentMetainfo metainfo)
    {
        string root = Path.Combine(Path.GetTempPath(), "robust-root");
        Assert.NotEmpty(metainfo.Files);
        long offset = 0;
        foreach (var file in metainfo.Files)
        {
            Assert.True(file.Length >= 0);
            Assert.Equal(offset, file.Offset);
            offset += file.Length;
            var segments = metainfo.IsMultiFile ? [metainfo.Name, .. file.PathSegments] : file.PathSegments;
            foreach (var segment in segments)
            {
                Assert.NotEmpty(segment);
                Assert.NotEqual(".", segment);
                Assert.NotEqual("..", segment);
                Assert.True(segment.AsSpan().IndexOfAny('/', '\\', '\0') < 0, $"unsafe path segment '{segment}'");
            }
            string full = Path.GetFullPath(Path.Combine([root, .. segments]));
            Assert.StartsWith(root + Path.DirectorySeparatorChar, full, StringComparison.Ordinal);
        }
        Assert.Equal(offset, metainfo.TotalLength);
        Assert.True(metainfo.TotalLength > 0);
        Assert.True(System.Numerics.BitOperations.IsPow2(metainfo.PieceLength));
        Assert.Equal((metainfo.TotalLength + metainfo.PieceLength - 1) / metainfo.PieceLength, metainfo.PieceCount);
        Assert.Equal(metainfo.HasV1 ? metainfo.PieceCount * InfoHash.Length : 0, metainfo.PieceHashes.Length);
        if (metainfo.HasV2)
        {
            foreach (var file in metainfo.Files.Where(f => !f.IsPad && f.Length > 0))
            {
                Assert.Equal(0, file.Offset % metainfo.PieceLength);
                Assert.Equal(MerkleTree.HashLength, file.PiecesRoot.Length);
                long pieces = (file.Length + metainfo.PieceLength - 1) / metainfo.PieceLength;
                Assert.Equal(pieces > 1 ? pieces * MerkleTree.HashLength : 0, file.PieceLayer.Length);
            }
            for (int i = 0; i < metainfo.PieceCount; i++)
            {
                if (metainfo.TryGetV2Piece(i, out int data, out long width, out var expected))
                {
                    Assert.InRange(data, 1, metainfo.PieceLength);
                    Assert.True(width >= 1 && System.Numerics.BitOperations.IsPow2(width));
                    Assert.Equal(MerkleTree.HashLength, expected.Length);
                }
            }
        }
        long sum = 0;
        for (int i = 0; i < metainfo.PieceCount; i++)
        {
            int size = metainfo.PieceSize(i);
            Assert.InRange(size, 1, metainfo.PieceLength);
            sum += size;
        }
        Assert.Equal(metainfo.TotalLength, sum);
        var v2Truncated = new InfoHash(SHA256.HashData(metainfo.InfoBytes.Span).AsSpan(0, InfoHash.Length));
        Assert.Equal(metainfo.HasV1 ? new InfoHash(SHA1.HashData(metainfo.InfoBytes.Span)) : v2Truncated, metainfo.InfoHash);
        if (metainfo.HasV2) Assert.Equal(v2Truncated, metainfo.TruncatedInfoHashV2);
    }

    [Fact]
    public void Files_whose_lengths_sum_past_long_max_are_refused_with_a_reason_not_an_overflow_exception()
    {
        byte[] torrent = Encoding.ASCII.GetBytes(
            "d4:infod5:filesld6:lengthi9223372036854775807e4:pathl1:aeed6:lengthi1e4:pathl1:beee" +
            "4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee");
        bool ok = TorrentMetainfo.TryParse(torrent, out _, out string? reason);
        Assert.False(ok);
        Assert.False(string.IsNullOrWhiteSpace(reason));
    }

    [Fact]
    public void Single_file_of_length_near_long_max_is_refused_with_a_reason()
    {
        byte[] torrent = Encoding.ASCII.GetBytes(
            "d4:infod6:lengthi9223372036854775807e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee");
        Assert.False(TorrentMetainfo.TryParse(torrent, out _, out string? reason));
        Assert.False(string.IsNullOrWhiteSpace(reason));
    }
}
