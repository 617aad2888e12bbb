using System.Security.Cryptography;
using Appliance.LoadGen;

namespace Appliance.LoadGen.Tests;

/// <summary>
/// The load generator's numbers are only worth something if it notices a seeder that serves wrong bytes,
/// in both verification modes and whatever order blocks arrive in.
/// </summary>
public sealed class PieceVerifierTests
{
    private const int Block = LoadOptions.BlockLength;
    private const int PieceLength = 4 * Block;
    private const int Pieces = 3;

    private readonly byte[] _content = new byte[PieceLength * Pieces];
    private readonly byte[][] _hashes = new byte[Pieces][];

    public PieceVerifierTests()
    {
        new Random(7).NextBytes(_content);
        for (var p = 0; p < Pieces; p++) _hashes[p] = SHA1.HashData(_content.AsSpan(p * PieceLength, PieceLength));
    }

    private VerifiedCopy NewCopy() => new(_content.Length, PieceLength, Pieces);

    private ReadOnlySpan<byte> BlockOf(int piece, int begin) => _content.AsSpan(piece * PieceLength + begin, Block);

    private PieceVerifier.Outcome FeedPiece(PieceVerifier verifier, int piece, int[] order, int corruptBlock = -1)
    {
        verifier.Start(piece, PieceLength);
        var outcome = PieceVerifier.Outcome.Pending;
        foreach (var b in order)
        {
            var bytes = BlockOf(piece, b * Block).ToArray();
            if (b == corruptBlock) bytes[Block / 2] ^= 0x01;
            outcome = verifier.Feed(b * Block, bytes, _hashes[piece]);
        }
        return outcome;
    }

    [Fact]
    public void Sha1_mode_verifies_a_piece_whose_blocks_arrive_out_of_order()
    {
        using var verifier = new PieceVerifier();
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(verifier, 1, [2, 0, 3, 1]));
    }

    [Fact]
    public void Sha1_mode_fails_a_piece_with_one_flipped_bit()
    {
        using var verifier = new PieceVerifier();
        Assert.Equal(PieceVerifier.Outcome.Failed, FeedPiece(verifier, 0, [0, 1, 2, 3], corruptBlock: 2));
    }

    [Fact]
    public void Reference_mode_hashes_the_first_copy_and_compares_later_copies()
    {
        var copy = NewCopy();
        using var first = new PieceVerifier(copy);
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(first, 2, [0, 1, 2, 3]));
        Assert.False(first.Comparing);
        Assert.True(copy.IsVerified(2));

        using var later = new PieceVerifier(copy);
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(later, 2, [3, 1, 0, 2]));
        Assert.True(later.Comparing);
    }

    [Fact]
    public void Reference_mode_fails_a_later_copy_that_differs_by_one_bit()
    {
        var copy = NewCopy();
        using var verifier = new PieceVerifier(copy);
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(verifier, 1, [1, 0, 2, 3]));
        Assert.Equal(PieceVerifier.Outcome.Failed, FeedPiece(verifier, 1, [0, 1, 2, 3], corruptBlock: 3));
        Assert.Equal(PieceVerifier.Outcome.Failed, FeedPiece(verifier, 1, [3, 2, 1, 0], corruptBlock: 0));
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(verifier, 1, [0, 1, 2, 3]));
    }

    [Fact]
    public void Reference_mode_never_keeps_a_copy_whose_hash_did_not_match()
    {
        var copy = NewCopy();
        using var verifier = new PieceVerifier(copy);
        Assert.Equal(PieceVerifier.Outcome.Failed, FeedPiece(verifier, 0, [0, 1, 2, 3], corruptBlock: 1));
        Assert.False(copy.IsVerified(0));

        // The next copy is hashed again, so the good bytes still pass and become the reference.
        Assert.Equal(PieceVerifier.Outcome.Verified, FeedPiece(verifier, 0, [0, 2, 1, 3]));
        Assert.True(copy.IsVerified(0));
        Assert.Equal(PieceVerifier.Outcome.Failed, FeedPiece(verifier, 0, [0, 1, 2, 3], corruptBlock: 1));
    }

    [Fact]
    public void Reference_mode_reports_a_block_received_twice_as_a_duplicate()
    {
        var copy = NewCopy();
        using var verifier = new PieceVerifier(copy);
        FeedPiece(verifier, 2, [0, 1, 2, 3]);
        verifier.Start(2, PieceLength);
        Assert.Equal(PieceVerifier.Outcome.Pending, verifier.Feed(Block, BlockOf(2, Block), _hashes[2]));
        Assert.Equal(PieceVerifier.Outcome.Duplicate, verifier.Feed(Block, BlockOf(2, Block), _hashes[2]));
    }

    [Fact]
    public void A_short_last_piece_is_compared_by_its_own_length()
    {
        var content = new byte[PieceLength + Block + 100];
        new Random(3).NextBytes(content);
        var lastLength = content.Length - PieceLength;
        var hash = SHA1.HashData(content.AsSpan(PieceLength));
        var copy = new VerifiedCopy(content.Length, PieceLength, 2);
        using var verifier = new PieceVerifier(copy);
        for (var round = 0; round < 2; round++)
        {
            verifier.Start(1, lastLength);
            Assert.Equal(PieceVerifier.Outcome.Pending, verifier.Feed(Block, content.AsSpan(PieceLength + Block, 100), hash));
            Assert.Equal(PieceVerifier.Outcome.Verified, verifier.Feed(0, content.AsSpan(PieceLength, Block), hash));
            Assert.Equal(round == 1, verifier.Comparing);
        }
    }
}
