using Appliance.Storage.Layout;

namespace Appliance.Storage.Tests;

public sealed class FileLayoutTests
{
    private static FileLayout Layout(int pieceLength, params long[] sizes) =>
        FileLayout.ForFiles(sizes.Select((s, i) => ($"/c/f{i}", $"f{i}", s)).ToList(), pieceLength);

    [Fact]
    public void Range_crossing_files_splits_into_runs_in_torrent_order()
    {
        var layout = Layout(16, 10, 0, 5, 20);
        Span<FileSpan> spans = stackalloc FileSpan[8];
        int count = layout.MapRange(8, 10, spans, out long covered);
        Assert.Equal(10, covered);
        Assert.Equal([new FileSpan(0, 8, 2), new FileSpan(2, 0, 5), new FileSpan(3, 0, 3)], spans[..count].ToArray());
    }

    [Fact]
    public void Zero_length_files_never_appear_in_a_span()
    {
        var layout = Layout(16, 0, 7, 0, 0, 9, 0);
        Span<FileSpan> spans = stackalloc FileSpan[8];
        int count = layout.MapRange(0, 16, spans, out long covered);
        Assert.Equal(16, covered);
        Assert.Equal([new FileSpan(1, 0, 7), new FileSpan(4, 0, 9)], spans[..count].ToArray());
        Assert.Equal((0, 0), layout.PiecesOfFile(0));
        Assert.Equal((0, 0), layout.PiecesOfFile(5));
    }

    [Fact]
    public void Too_few_span_slots_report_how_much_was_covered()
    {
        var layout = Layout(64, 3, 3, 3, 3);
        Span<FileSpan> spans = stackalloc FileSpan[2];
        int count = layout.MapRange(1, 10, spans, out long covered);
        Assert.Equal(2, count);
        Assert.Equal(5, covered);
    }

    [Fact]
    public void Last_piece_is_short_and_blocks_past_its_end_are_invalid()
    {
        var layout = Layout(16, 20, 15);
        Assert.Equal(3, layout.PieceCount);
        Assert.Equal(3, layout.PieceSize(2));
        Assert.True(layout.IsValidBlock(2, 0, 3));
        Assert.False(layout.IsValidBlock(2, 0, 4));
        Assert.False(layout.IsValidBlock(2, 3, 1));
    }

    [Theory]
    [InlineData(-1, 0, 1)]
    [InlineData(3, 0, 1)]
    [InlineData(0, -1, 1)]
    [InlineData(0, 0, 0)]
    [InlineData(0, 15, 2)]
    [InlineData(0, int.MaxValue, 1)]
    public void Out_of_range_blocks_are_invalid(int piece, int begin, int length) =>
        Assert.False(Layout(16, 20, 15).IsValidBlock(piece, begin, length));

    [Fact]
    public void Pieces_of_a_file_cover_every_piece_it_touches()
    {
        var layout = Layout(16, 20, 15, 30);
        Assert.Equal((0, 2), layout.PiecesOfFile(0));
        Assert.Equal((1, 2), layout.PiecesOfFile(1));
        Assert.Equal((2, 3), layout.PiecesOfFile(2));
        Assert.Equal(["f0", "f1"], layout.FilesOfPiece(1));
    }

    [Fact]
    public void Torrent_files_resolve_under_content_folder_and_torrent_name()
    {
        using var fixture = new StorageFixture();
        var layout = FileLayout.ForTorrent(fixture.Metainfo, fixture.ContentFolder);
        string root = Path.GetFullPath(fixture.TorrentRoot) + Path.DirectorySeparatorChar;
        Assert.All(layout.Files, f => Assert.StartsWith(root, f.FullPath, StringComparison.Ordinal));
        Assert.Equal(fixture.PathOf("nested/deeper/c.bin"), layout.Files.Single(f => f.RelativePath == "nested/deeper/c.bin").FullPath);
    }

    [Fact]
    public void Single_file_torrent_is_the_file_named_after_the_torrent()
    {
        using var temp = new TestKit.TempDirectory();
        string file = TestKit.SampleContent.WriteFile(temp.Combine("content", "movie.bin"), 50_000);
        var metainfo = TestKit.TestTorrents.Create(file).Metainfo;
        var layout = FileLayout.ForTorrent(metainfo, temp.Combine("content"));
        Assert.Equal(file, Assert.Single(layout.Files).FullPath);
    }
}
