using Appliance.TestKit;
using Appliance.Protocol.Bencode;
using Appliance.Storage.Resume;

namespace Appliance.Storage.Tests.Robustness;

/// <summary>
/// Resume files come from disk and may be truncated by a crash or damaged: a bad one is ignored with a warning and
/// every piece is hashed again; it never crashes the opener and never makes a bad piece count as verified.
/// </summary>
public sealed class ResumeFileFuzzTests
{
    [Fact]
    public async Task Mutated_or_truncated_resume_files_are_ignored_with_a_warning_and_a_full_rehash_or_used_safely()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        string path = ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash);
        byte[] valid = File.ReadAllBytes(path);
        Assert.True(ResumeState.TryDecode(valid, fixture.Metainfo, out _, out _));

        var mutants = Mutations.Truncations(valid).Where((_, i) => i % 5 == 0).Concat(Mutations.Random(valid, seed: 401, count: 150)).ToList();
        int ignored = 0, used = 0;
        foreach (var mutant in mutants)
        {
            File.WriteAllBytes(path, mutant);
            bool decodes = ResumeState.TryDecode(mutant, fixture.Metainfo, out var decoded, out string? reason);
            var result = await fixture.OpenAsync(StorageKind.Pread);
            using var store = result.Store;
            // The content is intact, so whatever the resume file says the torrent must open.
            Assert.True(store is not null, $"refused with a damaged resume file: {result.RefusedReason}");
            if (!decodes)
            {
                ignored++;
                Assert.False(string.IsNullOrWhiteSpace(reason));
                Assert.False(result.FromResume);
                Assert.Equal(fixture.Metainfo.PieceCount, result.PiecesHashed);
                Assert.Contains(result.Warnings, w => w.Contains("resume", StringComparison.OrdinalIgnoreCase));
            }
            else
            {
                used++;
                Assert.True(result.FromResume);
                Assert.Equal(fixture.Metainfo.PieceCount, decoded!.PieceCount);
            }
            // Whatever happened, the opener leaves a resume file that is valid again.
            Assert.True(ResumeState.TryDecode(File.ReadAllBytes(path), fixture.Metainfo, out _, out string? after), after);
        }
        Assert.True(ignored > 0, $"ignored {ignored}, used {used}");
    }

    [Fact]
    public async Task Resume_file_over_the_size_limit_or_unreadable_is_ignored_with_a_warning()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        string path = ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash);

        using (var stream = new FileStream(path, FileMode.Create)) stream.SetLength(ResumeState.MaxBytes + 1L); // sparse
        var result = await fixture.OpenAsync(StorageKind.Pread);
        using (result.Store)
        {
            Assert.NotNull(result.Store);
            Assert.False(result.FromResume);
            Assert.Equal(fixture.Metainfo.PieceCount, result.PiecesHashed);
            Assert.Contains(result.Warnings, w => w.Contains("larger than", StringComparison.Ordinal));
        }

        File.Delete(path);
        Directory.CreateDirectory(path); // a folder where the file should be: unreadable
        result = await fixture.OpenAsync(StorageKind.Pread);
        using (result.Store)
        {
            Assert.NotNull(result.Store);
            Assert.False(result.FromResume);
            Assert.Equal(fixture.Metainfo.PieceCount, result.PiecesHashed);
        }
    }

    [Fact]
    public void Decoding_random_bytes_and_deep_nesting_never_throws()
    {
        using var fixture = new StorageFixture();
        var random = new Random(402);
        for (int i = 0; i < 2000; i++)
        {
            var data = new byte[random.Next(0, 300)];
            for (int k = 0; k < data.Length; k++) data[k] = "ilde:0123456789-"u8[random.Next(16)];
            if (ResumeState.TryDecode(data, fixture.Metainfo, out var state, out _))
                Assert.Equal(fixture.Metainfo.Files.Count, state!.Files.Count);
        }
        var deep = System.Text.Encoding.ASCII.GetBytes(new string('l', 100_000) + new string('e', 100_000));
        Assert.False(ResumeState.TryDecode(deep, fixture.Metainfo, out _, out string? reason));
        Assert.Contains("bencode", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bit_flip_in_the_resume_bitfield_does_not_make_a_corrupt_piece_count_as_verified()
    {
        using var fixture = new StorageFixture();
        // Corrupt one byte in the middle of piece 0 (a.bin starts the torrent), then open: refused, piece 0 unverified.
        string first = fixture.PathOf("a.bin");
        var mtime = File.GetLastWriteTimeUtc(first);
        using (var stream = new FileStream(first, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = 100;
            int b = stream.ReadByte();
            stream.Position = 100;
            stream.WriteByte((byte)(b ^ 0x01));
        }
        File.SetLastWriteTimeUtc(first, mtime);
        var refused = await fixture.OpenAsync(StorageKind.Pread);
        Assert.Null(refused.Store);
        Assert.Contains("piece 0", refused.RefusedReason, StringComparison.Ordinal);

        // The resume file now records piece 0 as not verified. Damage exactly that bit, as a bad sector might.
        string path = ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash);
        byte[] resume = File.ReadAllBytes(path);
        var document = BencodeDocument.Parse(resume);
        var pieces = document.Root["pieces"u8];
        int bitfieldStart = pieces.Offset + pieces.RawSpan.IndexOf((byte)':') + 1;
        Assert.Equal(0, resume[bitfieldStart] & 0x80);
        resume[bitfieldStart] |= 0x80;
        File.WriteAllBytes(path, resume);

        var result = await fixture.OpenAsync(StorageKind.Pread);
        using var store = result.Store;
        Assert.True(store is null, "a piece whose bytes do not match its hash was served because a damaged resume file said it was verified");
    }
}
