using Appliance.Storage.Resume;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

public sealed class StorageOpenerTests
{
    [Theory]
    [InlineData(StorageKind.Mapped)]
    [InlineData(StorageKind.Pread)]
    public async Task First_open_verifies_every_piece_and_writes_resume_state(StorageKind kind)
    {
        using var fixture = new StorageFixture();
        var result = await fixture.OpenAsync(kind);
        using var store = result.Store;
        Assert.Null(result.RefusedReason);
        Assert.NotNull(store);
        Assert.False(result.FromResume);
        Assert.Equal(fixture.Metainfo.PieceCount, result.PiecesHashed);
        Assert.True(File.Exists(ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash)));
        Assert.Empty(Directory.GetFiles(fixture.StateFolder, "*.tmp"));
    }

    [Theory]
    [InlineData(StorageKind.Mapped)]
    [InlineData(StorageKind.Pread)]
    public async Task A_symlink_leading_outside_the_content_folder_is_refused_without_saying_what_is_there(StorageKind kind)
    {
        using var fixture = new StorageFixture();
        using var outside = new TempDirectory("storage-outside");
        var victim = fixture.Metainfo.Files[0];
        string inside = Path.Combine([fixture.TorrentRoot, .. victim.PathSegments]);
        string secret = outside.Combine("secret");
        File.Move(inside, secret);
        File.CreateSymbolicLink(inside, secret);

        var result = await fixture.OpenAsync(kind);
        Assert.Null(result.Store);
        Assert.Contains("resolves outside the content folder", result.RefusedReason, StringComparison.Ordinal);
        Assert.DoesNotContain(victim.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), result.RefusedReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_symlink_to_a_file_inside_the_content_folder_is_served()
    {
        using var fixture = new StorageFixture();
        var moved = fixture.Metainfo.Files[0];
        string inside = Path.Combine([fixture.TorrentRoot, .. moved.PathSegments]);
        string elsewhere = Path.Combine(fixture.ContentFolder, "elsewhere.bin");
        File.Move(inside, elsewhere);
        File.CreateSymbolicLink(inside, elsewhere);

        using var store = await fixture.OpenStoreAsync(StorageKind.Pread);
    }

    [Fact]
    public void Only_regular_files_inside_the_root_are_opened()
    {
        using var temp = new TempDirectory("storage-safe");
        string root = temp.CreateSubdirectory("root");
        File.WriteAllText(Path.Combine(root, "a"), "a");
        File.WriteAllText(temp.Combine("outside"), "b");
        File.CreateSymbolicLink(Path.Combine(root, "escape"), temp.Combine("outside"));
        Directory.CreateDirectory(Path.Combine(root, "dir"));

        using (Files.SafeFile.OpenRegular(Path.Combine(root, "a"), root)) { }
        Assert.Contains("outside", Assert.Throws<IOException>(() => Files.SafeFile.OpenRegular(Path.Combine(root, "escape"), root)).Message, StringComparison.Ordinal);
        Assert.Contains("regular", Assert.Throws<IOException>(() => Files.SafeFile.OpenRegular(Path.Combine(root, "dir"), root)).Message, StringComparison.Ordinal);
        Assert.True(Files.SafeFile.ResolvesBeneath(Path.Combine(root, "a"), root));
        Assert.False(Files.SafeFile.ResolvesBeneath(Path.Combine(root, "escape"), root));
    }

    [Fact]
    public async Task Restart_with_unchanged_files_hashes_nothing()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        var result = await fixture.OpenAsync(StorageKind.Mapped);
        using var store = result.Store;
        Assert.NotNull(store);
        Assert.True(result.FromResume);
        Assert.Equal(0, result.PiecesHashed);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public async Task Restart_with_unchanged_files_does_not_rewrite_the_resume_file()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        string resume = ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash);
        var written = DateTime.UtcNow.AddDays(-1);
        File.SetLastWriteTimeUtc(resume, written);
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        Assert.Equal(written, File.GetLastWriteTimeUtc(resume));
    }

    [Fact]
    public async Task Touched_file_rehashes_only_its_pieces()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        File.SetLastWriteTimeUtc(fixture.PathOf("nested/b.bin"), DateTime.UtcNow.AddMinutes(-7));
        var result = await fixture.OpenAsync(StorageKind.Pread);
        using var store = result.Store;
        Assert.NotNull(store);
        Assert.True(result.FromResume);
        // nested/b.bin is 1000 bytes at offset 100003: it lies in piece 6 of 16 KiB pieces.
        Assert.Equal(1, result.PiecesHashed);
        // The new mtime is recorded: the next start hashes nothing again.
        var again = await fixture.OpenAsync(StorageKind.Pread);
        again.Store!.Dispose();
        Assert.Equal(0, again.PiecesHashed);
    }

    [Fact]
    public async Task Touched_file_with_changed_content_is_refused_naming_the_piece_and_file()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        string path = fixture.PathOf("a.bin");
        var bytes = File.ReadAllBytes(path);
        bytes[50_000] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(-3));
        var result = await fixture.OpenAsync(StorageKind.Mapped);
        Assert.Null(result.Store);
        Assert.Equal("piece 3 (in 'a.bin') does not match its hash; 1 of 29 pieces bad", result.RefusedReason);
        // The bad piece is remembered as unverified: a restart re-hashes just that piece and still refuses.
        var again = await fixture.OpenAsync(StorageKind.Mapped);
        Assert.Null(again.Store);
        Assert.Equal(1, again.PiecesHashed);
        bytes[50_000] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        var repaired = await fixture.OpenAsync(StorageKind.Mapped);
        using var store = repaired.Store;
        Assert.NotNull(store);
    }

    [Fact]
    public async Task Truncated_file_is_refused_with_expected_and_actual_size()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        using (var stream = new FileStream(fixture.PathOf("nested/deeper/c.bin"), FileMode.Open, FileAccess.Write)) stream.SetLength(70_000);
        var result = await fixture.OpenAsync(StorageKind.Mapped);
        Assert.Null(result.Store);
        Assert.Equal("file 'nested/deeper/c.bin' is too short: 70000 bytes, expected 70001", result.RefusedReason);
    }

    [Fact]
    public async Task Longer_file_is_refused()
    {
        using var fixture = new StorageFixture();
        File.AppendAllText(fixture.PathOf("z-last.bin"), "x");
        var result = await fixture.OpenAsync(StorageKind.Pread);
        Assert.Null(result.Store);
        Assert.Equal("file 'z-last.bin' is too long: 300018 bytes, expected 300017", result.RefusedReason);
    }

    [Fact]
    public async Task Missing_files_are_all_listed()
    {
        using var fixture = new StorageFixture();
        File.Delete(fixture.PathOf("a.bin"));
        Directory.Delete(fixture.PathOf("nested"), recursive: true);
        var result = await fixture.OpenAsync(StorageKind.Mapped);
        Assert.Null(result.Store);
        Assert.Equal("missing file 'a.bin' (expected 100003 bytes); missing file 'nested/b.bin' (expected 1000 bytes); " +
                     "missing file 'nested/deeper/c.bin' (expected 70001 bytes)", result.RefusedReason);
    }

    [Fact]
    public async Task Missing_content_folder_is_refused()
    {
        using var fixture = new StorageFixture();
        Directory.Delete(fixture.TorrentRoot, recursive: true);
        var result = await fixture.OpenAsync(StorageKind.Mapped);
        Assert.Null(result.Store);
        Assert.StartsWith("missing file 'a.bin'", result.RefusedReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_empty_file_is_only_a_warning()
    {
        using var fixture = new StorageFixture();
        File.Delete(fixture.PathOf("empty.txt"));
        var result = await fixture.OpenAsync(StorageKind.Mapped);
        using var store = result.Store;
        Assert.NotNull(store);
        Assert.Equal(["empty file 'empty.txt' is missing"], result.Warnings);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("d7:versioni1ee")]
    [InlineData("")]
    public async Task Corrupt_resume_file_is_ignored_with_a_warning_and_everything_rehashed(string content)
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        File.WriteAllText(ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash), content);
        var result = await fixture.OpenAsync(StorageKind.Pread);
        using var store = result.Store;
        Assert.NotNull(store);
        Assert.False(result.FromResume);
        Assert.Equal(fixture.Metainfo.PieceCount, result.PiecesHashed);
        Assert.Contains(result.Warnings, w => w.StartsWith("ignoring resume file", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Resume_file_of_another_torrent_is_ignored()
    {
        using var fixture = new StorageFixture();
        using var other = new StorageFixture(pieceLength: 32 * 1024);
        (await other.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        Directory.CreateDirectory(fixture.StateFolder);
        File.Copy(ResumeFile.PathFor(other.StateFolder, other.Metainfo.InfoHash), ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash));
        var result = await fixture.OpenAsync(StorageKind.Pread);
        using var store = result.Store;
        Assert.Equal(fixture.Metainfo.PieceCount, result.PiecesHashed);
        Assert.Contains(result.Warnings, w => w.Contains("belongs to another torrent", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Resume_state_round_trips_through_its_encoding()
    {
        using var fixture = new StorageFixture();
        (await fixture.OpenAsync(StorageKind.Pread)).Store!.Dispose();
        var state = ResumeFile.Load(fixture.StateFolder, fixture.Metainfo, out string? problem);
        Assert.Null(problem);
        Assert.NotNull(state);
        Assert.All(Enumerable.Range(0, fixture.Metainfo.PieceCount), p => Assert.True(state.IsVerified(p)));
        Assert.Equal(fixture.Metainfo.Files.Select(f => f.Length), state.Files.Select(f => f.Size));
        Assert.Equal(state.Encode(), File.ReadAllBytes(ResumeFile.PathFor(fixture.StateFolder, fixture.Metainfo.InfoHash)));
    }

    [Fact]
    public async Task Progress_reaches_one()
    {
        using var fixture = new StorageFixture();
        var reports = new System.Collections.Concurrent.ConcurrentBag<double>();
        var result = await fixture.OpenAsync(StorageKind.Pread, new SynchronousProgress(reports.Add));
        result.Store!.Dispose();
        Assert.Equal(1.0, reports.Max());
        Assert.All(reports, r => Assert.InRange(r, 0.0, 1.0));
    }

    [Fact]
    public async Task Single_file_torrent_opens_from_the_file_named_after_it()
    {
        using var temp = new TempDirectory();
        string file = SampleContent.WriteFile(temp.Combine("content", "one.bin"), 123_457);
        var metainfo = TestTorrents.Create(file, 16 * 1024).Metainfo;
        var result = await StorageOpener.OpenAsync(metainfo, temp.Combine("content"), temp.Combine("state"), StorageKind.Mapped, null, CancellationToken.None);
        using var store = result.Store;
        Assert.NotNull(store);
        var block = new byte[1000];
        Assert.True(store.TryReadBlock(7, 8_000, block.AsSpan(0, 457)));
        Assert.Equal(File.ReadAllBytes(file).AsSpan(7 * 16384 + 8_000, 457).ToArray(), block[..457]);
    }

    [Fact]
    public async Task Cancellation_stops_verification()
    {
        using var fixture = new StorageFixture();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            StorageOpener.OpenAsync(fixture.Metainfo, fixture.ContentFolder, fixture.StateFolder, StorageKind.Pread, null, new CancellationToken(canceled: true)));
    }

    private sealed class SynchronousProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
