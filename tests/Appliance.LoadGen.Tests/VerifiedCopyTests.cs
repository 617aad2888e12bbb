using Appliance.LoadGen;
using Appliance.TestKit;

namespace Appliance.LoadGen.Tests;

/// <summary>--reference-file: the content read and hashed before the run, so every block is only compared.</summary>
public sealed class VerifiedCopyTests : IDisposable
{
    private const int PieceLength = 64 * 1024;
    private readonly TempDirectory _temp = new("verified-copy-tests");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_content_file_matching_the_torrent_has_every_piece_verified_before_any_block_arrives()
    {
        var file = SampleContent.WriteFile(_temp.Combine("data.bin"), 5 * PieceLength + 777, seed: 3);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;

        var copy = VerifiedCopy.FromContent(file, torrent, out var error);

        Assert.Null(error);
        Assert.NotNull(copy);
        for (var p = 0; p < torrent.PieceCount; p++) Assert.True(copy.IsVerified(p));
        var bytes = File.ReadAllBytes(file);
        Assert.True(copy.Slice(5, 0, 777).SequenceEqual(bytes.AsSpan(5 * PieceLength, 777)));

        // A peer's verifier now compares: a wrong byte fails the piece, with no hashing involved.
        using var verifier = new PieceVerifier(copy);
        verifier.Start(2, PieceLength);
        Assert.True(verifier.Comparing);
        var outcome = PieceVerifier.Outcome.Pending;
        for (var begin = 0; begin < PieceLength; begin += LoadOptions.BlockLength)
        {
            var block = bytes.AsSpan(2 * PieceLength + begin, LoadOptions.BlockLength).ToArray();
            if (begin == LoadOptions.BlockLength) block[9] ^= 0x80;
            outcome = verifier.Feed(begin, block, torrent.PieceHash(2));
        }
        Assert.Equal(PieceVerifier.Outcome.Failed, outcome);
    }

    [Fact]
    public void A_content_file_with_a_changed_byte_is_refused_naming_the_piece()
    {
        var file = SampleContent.WriteFile(_temp.Combine("data.bin"), 4 * PieceLength, seed: 4);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = 3 * PieceLength + 10;
            var b = stream.ReadByte();
            stream.Position--;
            stream.WriteByte((byte)(b ^ 1));
        }

        Assert.Null(VerifiedCopy.FromContent(file, torrent, out var error));
        Assert.Contains("piece 3", error);
    }

    [Fact]
    public void A_content_file_of_another_length_is_refused()
    {
        var file = SampleContent.WriteFile(_temp.Combine("data.bin"), 4 * PieceLength, seed: 4);
        var torrent = TestTorrents.Create(file, PieceLength).Metainfo;
        File.AppendAllText(file, "x");

        Assert.Null(VerifiedCopy.FromContent(file, torrent, out var error));
        Assert.Contains("bytes", error);
    }
}
