using Appliance.Storage.Creation;
using Appliance.TestKit;

namespace Appliance.Storage.Tests;

public sealed class TorrentCreatorTests
{
    [Fact]
    public async Task Created_torrent_has_the_same_info_hash_as_the_independent_test_creator()
    {
        using var temp = new TempDirectory();
        string folder = SampleContent.WriteMultiFile(temp.Path);
        var expected = TestTorrents.Create(folder, 16 * 1024).Metainfo;
        var (_, created) = await TorrentCreator.CreateAsync(folder, new CreateOptions { PieceLength = 16 * 1024 }, null, CancellationToken.None);
        Assert.Equal(expected.InfoHash, created.InfoHash);
        Assert.Equal(expected.PieceHashes.ToArray(), created.PieceHashes.ToArray());
    }

    [Fact]
    public void Files_are_listed_in_byte_order_of_their_path_like_mktorrent()
    {
        using var temp = new TempDirectory();
        string root = temp.CreateSubdirectory("t");
        foreach (var name in new[] { "a/x", "a-b/x", "a.txt", "a/sub/y", "B", ".hidden", "empty", "Z", "\u00e4" })
            SampleContent.WriteFile(Path.Combine(root, name), name == "empty" ? 0 : 3);
        Directory.CreateDirectory(Path.Combine(root, "empty-folder"));
        var files = ContentScanner.Scan(root);
        Assert.Equal([".hidden", "B", "Z", "a-b/x", "a.txt", "a/sub/y", "a/x", "empty", "\u00e4"], files.Select(f => f.RelativePath));
        Assert.Equal(0, files.Single(f => f.RelativePath == "empty").Length);
    }

    [Fact]
    public void Symbolic_links_are_followed_and_broken_ones_refused()
    {
        using var temp = new TempDirectory();
        string root = temp.CreateSubdirectory("t");
        SampleContent.WriteFile(temp.Combine("outside.bin"), 10);
        File.CreateSymbolicLink(Path.Combine(root, "link"), temp.Combine("outside.bin"));
        Assert.Equal(10, Assert.Single(ContentScanner.Scan(root)).Length);
        File.CreateSymbolicLink(Path.Combine(root, "dangling"), temp.Combine("nothing"));
        Assert.Throws<FileNotFoundException>(() => ContentScanner.Scan(root));
    }

    [Fact]
    public async Task Output_file_inside_the_folder_is_left_out()
    {
        using var temp = new TempDirectory();
        string folder = SampleContent.WriteMultiFile(temp.Path);
        string output = Path.Combine(folder, "sample.torrent");
        File.WriteAllText(output, "old");
        var (_, created) = await TorrentCreator.CreateAsync(folder, new CreateOptions(), null, CancellationToken.None, exclude: output);
        Assert.DoesNotContain(created.Files, f => f.Path == "sample.torrent");
    }

    [Fact]
    public async Task Content_with_only_empty_files_is_refused()
    {
        using var temp = new TempDirectory();
        string root = temp.CreateSubdirectory("t");
        File.WriteAllBytes(Path.Combine(root, "e"), []);
        var e = await Assert.ThrowsAsync<Appliance.Protocol.Metainfo.MetainfoException>(() =>
            TorrentCreator.CreateAsync(root, new CreateOptions(), null, CancellationToken.None));
        Assert.Contains("holds no data", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Optional_fields_are_written_only_when_asked()
    {
        using var temp = new TempDirectory();
        string file = SampleContent.WriteFile(temp.Combine("f.bin"), 40_000);
        var (_, plain) = await TorrentCreator.CreateAsync(file, new CreateOptions(), null, CancellationToken.None);
        Assert.Null(plain.CreationDate);
        Assert.Null(plain.Comment);
        Assert.False(plain.IsPrivate);
        Assert.Empty(plain.Trackers);
        var options = new CreateOptions
        {
            AnnounceTiers = [["http://127.0.0.1:1/a", "http://127.0.0.1:2/a"], ["udp://127.0.0.1:3"]],
            IsPrivate = true,
            Comment = "c",
            CreatedBy = "me",
            CreationDate = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
        };
        var (_, full) = await TorrentCreator.CreateAsync(file, options, null, CancellationToken.None);
        Assert.Equal(options.AnnounceTiers, full.AnnounceTiers);
        Assert.True(full.IsPrivate);
        Assert.Equal(("c", "me", 1_700_000_000L), (full.Comment, full.CreatedBy, full.CreationDate));
        Assert.NotEqual(plain.InfoHash, full.InfoHash); // private is inside the info dictionary
    }

    [Theory]
    [InlineData(1L, 32 * 1024)]
    [InlineData(50L * 1024 * 1024 - 1, 32 * 1024)]
    [InlineData(50L * 1024 * 1024, 64 * 1024)]
    [InlineData(700L * 1024 * 1024, 512 * 1024)]
    [InlineData(4L * 1024 * 1024 * 1024, 2 * 1024 * 1024)]
    [InlineData(1L << 40, 16 * 1024 * 1024)]
    public void Default_piece_length_grows_with_total_size(long total, int expected) =>
        Assert.Equal(expected, PieceLengths.ForTotalSize(total));
}
