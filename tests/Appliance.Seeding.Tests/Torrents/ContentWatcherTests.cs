using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Torrents;
using Appliance.Storage;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Seeding.Tests.Torrents;

public sealed class ContentWatcherTests : IDisposable
{
    private readonly TempDirectory _temp = new("ops-watch");
    private readonly string _content;
    private readonly string _torrents;
    private readonly CountingStorageOpener _opener;
    private readonly TorrentRegistry _registry = new();
    private readonly ContentWatcher _watcher;

    public ContentWatcherTests()
    {
        _content = _temp.CreateSubdirectory("content");
        _torrents = _temp.CreateSubdirectory("torrents");
        _opener = new CountingStorageOpener(Path.Combine(_temp.Path, "state"));
        var loader = new TorrentFolderLoader(_registry, _opener, _torrents, _content, NullLogger.Instance);
        // Created "long ago": every file counts as new, as if it appeared after the seeder's start-up load.
        _watcher = new ContentWatcher(_registry, loader, NullLogger.Instance, clock: new ManualTime(DateTimeOffset.UnixEpoch));
    }

    public void Dispose()
    {
        foreach (var torrent in _registry.Snapshot()) torrent.Store.Dispose();
        _watcher.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task A_refused_torrent_is_retried_only_after_its_content_changes()
    {
        string staged = SampleContent.WriteFile(_temp.Combine("staging", "late.bin"), 50_000, seed: 4);
        var metainfo = TestTorrents.Write(staged, Path.Combine(_torrents, "late.torrent"));

        await _watcher.ScanAsync(CancellationToken.None);
        await _watcher.ScanAsync(CancellationToken.None);
        await _watcher.ScanAsync(CancellationToken.None);
        Assert.Equal(1, _opener.Opens);
        Assert.Single(_watcher.Refused());
        Assert.Equal(0, _registry.Count);

        File.Move(staged, Path.Combine(_content, "late.bin"));
        await _watcher.ScanAsync(CancellationToken.None);
        Assert.Equal(2, _opener.Opens);
        Assert.True(_registry.TryGet(metainfo.InfoHash, out _));
        Assert.Empty(_watcher.Refused());
    }

    [Fact]
    public async Task Deleting_the_torrent_file_unloads_and_a_seeded_torrent_is_not_reopened_by_rescans()
    {
        string data = SampleContent.WriteFile(Path.Combine(_content, "a.bin"), 30_000, seed: 2);
        var metainfo = TestTorrents.Write(data, Path.Combine(_torrents, "a.torrent"));
        await _watcher.ScanAsync(CancellationToken.None);
        await _watcher.ScanAsync(CancellationToken.None);
        Assert.Equal(1, _opener.Opens);
        Assert.True(_registry.TryGet(metainfo.InfoHash, out _));

        File.Delete(Path.Combine(_torrents, "a.torrent"));
        await _watcher.ScanAsync(CancellationToken.None);
        Assert.Equal(0, _registry.Count);
        Assert.Empty(_watcher.Refused());
    }

    [Fact]
    public async Task A_content_file_truncated_under_a_seeded_torrent_is_noticed_by_the_next_scan()
    {
        string data = SampleContent.WriteFile(Path.Combine(_content, "t.bin"), 60_000, seed: 9);
        var metainfo = TestTorrents.Write(data, Path.Combine(_torrents, "t.torrent"));
        await _watcher.ScanAsync(CancellationToken.None);
        Assert.True(_registry.TryGet(metainfo.InfoHash, out var torrent));

        using (var file = File.OpenWrite(data)) file.SetLength(10_000);
        await _watcher.ScanAsync(CancellationToken.None);
        Assert.False(_registry.TryGet(metainfo.InfoHash, out _));
        Assert.True(torrent.Store.IsFaulted);
        Assert.Contains("storage faulted", Assert.Single(_watcher.Refused()).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Removing_through_the_api_deletes_the_torrent_file_but_never_the_content()
    {
        string data = SampleContent.WriteFile(Path.Combine(_content, "b.bin"), 30_000, seed: 3);
        var metainfo = TestTorrents.Write(data, Path.Combine(_torrents, "b.torrent"));
        await _watcher.ScanAsync(CancellationToken.None);

        Assert.True(await _watcher.RemoveAsync(metainfo.InfoHash, CancellationToken.None));
        Assert.Null(await _watcher.RemoveAsync(metainfo.InfoHash, CancellationToken.None));
        Assert.False(File.Exists(Path.Combine(_torrents, "b.torrent")));
        Assert.True(File.Exists(data));
        await _watcher.ScanAsync(CancellationToken.None);
        Assert.Equal(0, _registry.Count);
    }

    [Fact]
    public async Task A_torrent_refused_for_a_transient_error_is_retried_with_back_off_without_any_file_changing()
    {
        using var temp = new TempDirectory("ops-transient");
        string content = temp.CreateSubdirectory("content");
        string torrents = temp.CreateSubdirectory("torrents");
        string data = SampleContent.WriteFile(Path.Combine(content, "c.bin"), 30_000, seed: 6);
        var metainfo = TestTorrents.Write(data, Path.Combine(torrents, "c.torrent"));
        var registry = new TorrentRegistry();
        var opener = new CountingStorageOpener(Path.Combine(temp.Path, "state"), failFirstOpen: true);
        var clock = new ManualTime(DateTimeOffset.UnixEpoch);
        using var watcher = new ContentWatcher(registry, new TorrentFolderLoader(registry, opener, torrents, content, NullLogger.Instance),
            NullLogger.Instance, clock: clock);

        await watcher.ScanAsync(CancellationToken.None);
        Assert.Equal(0, registry.Count);
        Assert.Contains("retried", Assert.Single(watcher.Refused()).Reason, StringComparison.Ordinal);
        Assert.Equal(1, watcher.TransientRefusals); // /readyz says 503 meanwhile
        await watcher.ScanAsync(CancellationToken.None);
        Assert.Equal(1, opener.Opens); // not before its back-off

        clock.Advance(TimeSpan.FromSeconds(6));
        await watcher.ScanAsync(CancellationToken.None);
        Assert.Equal(2, opener.Opens);
        Assert.True(registry.TryGet(metainfo.InfoHash, out var torrent));
        torrent.Store.Dispose();
        Assert.Empty(watcher.Refused());
        Assert.Equal(0, watcher.TransientRefusals);
    }
}
