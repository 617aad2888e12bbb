using System.Buffers.Binary;
using Appliance.LoadGen;
using Appliance.TestKit;

namespace Appliance.LoadGen.Tests;

/// <summary>--make-digests and --reference-digests: a CRC-32C per 16 KiB block, made from checked content before the run.</summary>
public sealed class BlockDigestsTests : IDisposable
{
    private const int Block = LoadOptions.BlockLength;
    // Two blocks a piece; the torrents below end with a 777-byte piece, one short block.
    private const int PieceLength = 2 * Block;
    private readonly TempDirectory _temp = new("block-digests-tests");

    public void Dispose() => _temp.Dispose();

    private static PieceVerifier.Outcome FeedPiece(PieceVerifier verifier, byte[] content, int piece, int size, int[] order, int corruptAt = -1)
    {
        verifier.Start(piece, size);
        var outcome = PieceVerifier.Outcome.Pending;
        foreach (var b in order)
        {
            var begin = b * Block;
            var block = content.AsSpan(piece * PieceLength + begin, Math.Min(Block, size - begin)).ToArray();
            if (corruptAt >= begin && corruptAt < begin + block.Length) block[corruptAt - begin] ^= 0x04;
            outcome = verifier.Feed(begin, block, default);
        }
        return outcome;
    }

    [Fact]
    public void Digests_made_from_the_content_and_saved_pass_every_block_in_any_order_including_the_short_last_one()
    {
        var file = SampleContent.WriteFile(_temp.Combine("data.bin"), 5 * PieceLength + 777, seed: 3);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;
        var made = BlockDigests.FromContent(file, torrent, out var error);
        Assert.Null(error);
        Assert.Equal(5 * 2 + 1, made!.BlockCount);
        made.Save(_temp.Combine("data.digests"), torrent);

        var digests = BlockDigests.Load(_temp.Combine("data.digests"), torrent, out error);
        Assert.Null(error);
        var content = File.ReadAllBytes(file);
        using var verifier = new PieceVerifier(digests: digests);
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(verifier, content, 1, PieceLength, [1, 0]));
        Assert.True(verifier.Comparing);
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(verifier, content, 5, 777, [0]));
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(verifier, content, 4, PieceLength, [0, 1]));
    }

    [Theory]
    [InlineData(2, 3)] // the first byte of a full block
    [InlineData(4, 2 * Block - 1)] // the last byte of a piece
    [InlineData(5, 776)] // the last byte of the torrent, in its short last block
    public void A_changed_byte_fails_its_piece(int piece, int at)
    {
        var file = SampleContent.WriteFile(_temp.Combine("data.bin"), 5 * PieceLength + 777, seed: 4);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;
        var digests = BlockDigests.FromContent(file, torrent, out _);
        var content = File.ReadAllBytes(file);
        using var verifier = new PieceVerifier(digests: digests);
        var size = torrent.PieceSize(piece);
        int[] order = size > Block ? [1, 0] : [0];

        Assert.Equal(PieceVerifier.Outcome.Failed, FeedPiece(verifier, content, piece, size, order, corruptAt: at));
        // The verifier is reusable after a failure.
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(verifier, content, piece, size, order));
    }

    [Fact]
    public void A_block_served_at_the_wrong_offset_fails_its_piece()
    {
        var file = SampleContent.WriteFile(_temp.Combine("data.bin"), 4 * PieceLength, seed: 5);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;
        var digests = BlockDigests.FromContent(file, torrent, out _);
        var content = File.ReadAllBytes(file);
        using var verifier = new PieceVerifier(digests: digests);

        verifier.Start(1, PieceLength);
        Assert.Equal(PieceVerifier.Outcome.Pending, verifier.Feed(0, content.AsSpan(PieceLength, Block), default));
        // Block 1 answered with piece 2's block 1: right length, wrong bytes.
        Assert.Equal(PieceVerifier.Outcome.Failed, verifier.Feed(Block, content.AsSpan(2 * PieceLength + Block, Block), default));
    }

    [Fact]
    public void Content_that_does_not_match_the_torrent_gets_no_digests_naming_the_piece()
    {
        var file = SampleContent.WriteFile(_temp.Combine("data.bin"), 4 * PieceLength, seed: 6);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = 2 * PieceLength + 5;
            stream.WriteByte((byte)(stream.ReadByte() ^ 1));
        }

        Assert.Null(BlockDigests.FromContent(file, torrent, out var error));
        Assert.Contains("piece 2", error);
    }

    [Fact]
    public void A_digest_file_made_for_another_torrent_is_refused_naming_both_info_hashes()
    {
        var file = SampleContent.WriteFile(_temp.Combine("a/data.bin"), 4 * PieceLength, seed: 7);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;
        // Same length and piece grid, other bytes: only the info-hash tells them apart.
        var other = TestTorrents.Create(SampleContent.WriteFile(_temp.Combine("b/data.bin"), 4 * PieceLength, seed: 8), PieceLength).Metainfo;
        BlockDigests.FromContent(file, torrent, out _)!.Save(_temp.Combine("a.digests"), torrent);

        Assert.Null(BlockDigests.Load(_temp.Combine("a.digests"), other, out var error));
        Assert.Contains("made for another torrent", error);
        Assert.Contains(torrent.InfoHash.ToHex(), error, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(other.InfoHash.ToHex(), error, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(BlockDigests.Load(_temp.Combine("a.digests"), torrent, out _));
    }

    [Fact]
    public void A_cut_short_file_and_a_file_that_is_not_a_digest_table_are_refused()
    {
        var file = SampleContent.WriteFile(_temp.Combine("data.bin"), 4 * PieceLength, seed: 9);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;
        var path = _temp.Combine("data.digests");
        BlockDigests.FromContent(file, torrent, out _)!.Save(path, torrent);
        var bytes = File.ReadAllBytes(path);

        File.WriteAllBytes(path, bytes[..^4]);
        Assert.Null(BlockDigests.Load(path, torrent, out var error));
        Assert.Contains("cut short", error);

        File.WriteAllBytes(path, new byte[bytes.Length]);
        Assert.Null(BlockDigests.Load(path, torrent, out error));
        Assert.Contains("not a LoadGen digest file", error);

        Assert.Null(BlockDigests.Load(_temp.Combine("missing.digests"), torrent, out error));
        Assert.Contains("missing.digests", error);
    }

    [Fact]
    public void A_tampered_digest_fails_the_block_it_belongs_to_and_no_other()
    {
        var file = SampleContent.WriteFile(_temp.Combine("data.bin"), 4 * PieceLength, seed: 10);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;
        var path = _temp.Combine("data.digests");
        BlockDigests.FromContent(file, torrent, out _)!.Save(path, torrent);
        DigestFiles.Tamper(path, block: 3 * 2 + 1);

        var digests = BlockDigests.Load(path, torrent, out _);
        var content = File.ReadAllBytes(file);
        using var verifier = new PieceVerifier(digests: digests);
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(verifier, content, 2, PieceLength, [0, 1]));
        Assert.Equal(PieceVerifier.Outcome.Failed, FeedPiece(verifier, content, 3, PieceLength, [0, 1]));
    }
}

/// <summary>Changes digest files the way a test needs to.</summary>
internal static class DigestFiles
{
    // Past the 56-byte header, one u32 per block.
    public static void Tamper(string path, int block)
    {
        var bytes = File.ReadAllBytes(path);
        var at = bytes.Length - 4 * (CountBlocks(bytes) - block);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)) ^ 0x10000);
        File.WriteAllBytes(path, bytes);
    }

    private static int CountBlocks(byte[] bytes) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(52));
}
