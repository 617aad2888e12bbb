using Appliance.Networking.Http.Files;
using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Torrents;
using Appliance.Seeding.WebSeed;
using Appliance.Storage;
using Appliance.Storage.Creation;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.WebSeed;

/// <summary>Which URL paths the web seed resolves to which torrent file, over real stores opened from real files.</summary>
public sealed class WebSeedFilesTests : IDisposable
{
    private readonly TempDirectory _temp = new("web-seed-files");
    private readonly string _content;
    private readonly TorrentRegistry _registry = new();
    private readonly List<PieceStore> _stores = [];

    public WebSeedFilesTests() => _content = _temp.CreateSubdirectory("content");

    public void Dispose()
    {
        foreach (var store in _stores) store.Dispose();
        _temp.Dispose();
    }

    private async Task<SeededTorrent> SeedAsync(string name, TorrentFormat format = TorrentFormat.V1, int pieceLength = 16 * 1024)
    {
        string source = Path.Combine(_content, name);
        if (!Path.Exists(source)) SampleContent.WriteMultiFile(_content, name);
        var (_, metainfo) = await TorrentCreator.CreateAsync(source, new CreateOptions { Format = format, PieceLength = pieceLength }, null, CancellationToken.None);
        var opened = await StorageOpener.OpenAsync(metainfo, _content, _temp.CreateSubdirectory("state-" + Guid.NewGuid().ToString("N")), StorageKind.Mapped, null, CancellationToken.None);
        Assert.True(opened.Store is not null, opened.RefusedReason);
        _stores.Add(opened.Store!);
        var torrent = new SeededTorrent(metainfo, opened.Store!);
        Assert.True(_registry.TryAdd(torrent));
        return torrent;
    }

    private static HttpFileLookup Open(WebSeedFiles files, string path, out HttpFile file) => files.TryOpen(path, out file);

    private static SeededTorrent OwnerOf(HttpFile file) => ((WebSeedEntry)file.Owner!).Torrent;

    [Fact]
    public async Task Every_file_is_found_at_name_slash_path_and_a_single_file_at_its_name()
    {
        await SeedAsync("sample");
        SampleContent.WriteFile(Path.Combine(_content, "lone.bin"), 50_000, seed: 9);
        await SeedAsync("lone.bin");
        using var files = new WebSeedFiles(_registry);

        foreach (var (path, size) in SampleContent.MultiFileLayout)
        {
            Assert.Equal(HttpFileLookup.Found, Open(files, "sample/" + path, out var file));
            Assert.Equal(size, file.Length);
            Assert.True(file.ModifiedNanoseconds > 0 || size == 0);
            if (size > 0)
            {
                var bytes = new byte[size];
                Assert.Equal(size, RandomAccess.Read(file.Handle!, bytes, 0));
                Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(_content, "sample", path)), bytes);
            }
            file.Release();
        }
        Assert.Equal(HttpFileLookup.Found, Open(files, "lone.bin", out var lone));
        Assert.Equal(50_000, lone.Length);
        lone.Release();
    }

    [Theory]
    [InlineData("sample")]
    [InlineData("sample/")]
    [InlineData("sample/nested")]
    [InlineData("sample/nested/")]
    [InlineData("a.bin")]
    [InlineData("Sample/a.bin")]
    [InlineData("sample/../sample/a.bin")]
    [InlineData("sample/./a.bin")]
    [InlineData("sample//a.bin")]
    [InlineData("sample/a.bin/")]
    [InlineData("lone.bin/lone.bin")]
    [InlineData("")]
    public async Task Names_that_are_not_exactly_a_torrent_file_are_not_found(string path)
    {
        await SeedAsync("sample");
        using var files = new WebSeedFiles(_registry);
        Assert.Equal(HttpFileLookup.NotFound, Open(files, path, out _));
    }

    [Fact]
    public async Task Pad_files_are_never_served()
    {
        var torrent = await SeedAsync("sample", TorrentFormat.Hybrid);
        var pads = torrent.Metainfo.Files.Where(f => f.IsPad).ToList();
        Assert.NotEmpty(pads);
        using var files = new WebSeedFiles(_registry);
        foreach (var pad in pads) Assert.Equal(HttpFileLookup.NotFound, Open(files, WebSeedFiles.UrlPath(torrent.Metainfo, pad), out _));
        Assert.Equal(HttpFileLookup.NotFound, Open(files, "sample/.pad", out _));
        Assert.Equal(SampleContent.MultiFileLayout.Count, files.Count);
        Assert.Equal(HttpFileLookup.Found, Open(files, "sample/z-last.bin", out var real));
        real.Release();
    }

    [Fact]
    public async Task Torrents_added_and_removed_later_are_followed()
    {
        using var files = new WebSeedFiles(_registry);
        Assert.Equal(HttpFileLookup.NotFound, Open(files, "sample/a.bin", out _));
        var torrent = await SeedAsync("sample");
        Assert.Equal(HttpFileLookup.Found, Open(files, "sample/a.bin", out var file));
        file.Release();
        Assert.True(_registry.TryRemove(torrent.InfoHash, out _));
        Assert.Equal(HttpFileLookup.NotFound, Open(files, "sample/a.bin", out _));
        Assert.Equal(0, files.Count);
    }

    [Fact]
    public async Task When_two_torrents_list_a_path_the_first_loaded_serves_it_and_the_next_takes_over()
    {
        var first = await SeedAsync("sample", TorrentFormat.V1, 16 * 1024);
        var second = await SeedAsync("sample", TorrentFormat.V1, 32 * 1024);
        using var files = new WebSeedFiles(_registry);
        Assert.Equal(HttpFileLookup.Found, Open(files, "sample/a.bin", out var file));
        Assert.Same(first, OwnerOf(file));
        file.Release();

        first.Store.Fault("test: the first one broke");
        Assert.Equal(HttpFileLookup.Found, Open(files, "sample/a.bin", out file));
        Assert.Same(second, OwnerOf(file));
        file.Release();

        Assert.True(_registry.TryRemove(second.InfoHash, out _));
        Assert.Equal(HttpFileLookup.Unavailable, Open(files, "sample/a.bin", out _));
    }

    [Fact]
    public async Task A_file_whose_size_changed_faults_its_torrent_instead_of_being_served()
    {
        var torrent = await SeedAsync("sample");
        using var files = new WebSeedFiles(_registry);
        File.AppendAllText(Path.Combine(_content, "sample", "nested", "b.bin"), "grown");
        Assert.Equal(HttpFileLookup.Unavailable, Open(files, "sample/nested/b.bin", out _));
        Assert.Contains("b.bin", torrent.Store.FaultReason, StringComparison.Ordinal);
        Assert.Equal(HttpFileLookup.Unavailable, Open(files, "sample/a.bin", out _));
    }

    [Fact]
    public async Task An_open_file_stays_readable_after_its_torrent_is_unloaded_until_released()
    {
        var torrent = await SeedAsync("sample");
        using var files = new WebSeedFiles(_registry);
        Assert.Equal(HttpFileLookup.Found, Open(files, "sample/a.bin", out var file));
        Assert.True(_registry.TryRemove(torrent.InfoHash, out _));
        torrent.Store.Dispose();
        var first = new byte[16];
        Assert.Equal(16, RandomAccess.Read(file.Handle!, first, 0));
        file.Release();
        Assert.True(file.Handle!.IsClosed);
    }

    [Fact]
    public async Task A_failed_send_faults_the_torrent()
    {
        var torrent = await SeedAsync("sample");
        using var files = new WebSeedFiles(_registry);
        Assert.Equal(HttpFileLookup.Found, Open(files, "sample/z-last.bin", out var file));
        files.Failed(file, "the file ended early");
        file.Release();
        Assert.Contains("z-last.bin", torrent.Store.FaultReason, StringComparison.Ordinal);
    }
}
