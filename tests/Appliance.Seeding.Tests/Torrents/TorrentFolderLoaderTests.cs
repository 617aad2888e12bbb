using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Tests.Support;
using Appliance.Seeding.Torrents;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Seeding.Tests.Torrents;

public sealed class TorrentFolderLoaderTests
{
    /// <summary>Opens single-file torrents from CONTENT/name into memory; refuses when the data is missing.</summary>
    private sealed class MemoryOpener : IPieceStoreOpener
    {
        public int Opened;

        public Task<PieceStoreOpening> OpenAsync(TorrentMetainfo metainfo, string contentFolder, CancellationToken cancellationToken)
        {
            string path = Path.Combine(contentFolder, metainfo.Name);
            if (!File.Exists(path)) return Task.FromResult(PieceStoreOpening.Refused($"missing file '{metainfo.Name}'"));
            Interlocked.Increment(ref Opened);
            return Task.FromResult(new PieceStoreOpening(new InMemoryPieceStore(metainfo, File.ReadAllBytes(path)), null));
        }
    }

    private static (TorrentRegistry Registry, TorrentFolderLoader Loader, MemoryOpener Opener) Create(string folder)
    {
        var registry = new TorrentRegistry();
        var opener = new MemoryOpener();
        return (registry, new TorrentFolderLoader(registry, opener, folder, folder, NullLogger.Instance, parallelism: 2), opener);
    }

    [Fact]
    public async Task A_fifo_named_torrent_is_refused_without_blocking_and_the_others_load()
    {
        using var temp = new TempDirectory("loader-fifo");
        string data = SampleContent.WriteFile(temp.Combine("good.bin"), 40_000, seed: 5);
        TestTorrents.Write(data, temp.Combine("good.torrent"));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [temp.Combine("pipe.torrent")])) await mkfifo.WaitForExitAsync();
        File.CreateSymbolicLink(temp.Combine("link-to-pipe.torrent"), temp.Combine("pipe.torrent"));
        File.CreateSymbolicLink(temp.Combine("dangling.torrent"), temp.Combine("nowhere"));
        var (registry, loader, _) = Create(temp.Path);

        var results = await loader.LoadAllAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, registry.Count);
        var refused = results.Where(r => !r.Loaded).ToDictionary(r => Path.GetFileName(r.TorrentPath), r => r.RefusedReason);
        Assert.Equal(3, refused.Count);
        Assert.Contains("not a regular file", refused["pipe.torrent"], StringComparison.Ordinal);
        Assert.Contains("not a regular file", refused["link-to-pipe.torrent"], StringComparison.Ordinal);
        Assert.Contains("cannot read", refused["dangling.torrent"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_torrents_are_refused_with_their_reason_and_the_others_load()
    {
        using var temp = new TempDirectory("loader");
        for (int i = 0; i < 3; i++)
        {
            string data = SampleContent.WriteFile(temp.Combine($"file{i}.bin"), 50_000 + i, seed: i);
            TestTorrents.Write(data, temp.Combine($"t{i}.torrent"));
        }
        await File.WriteAllTextAsync(temp.Combine("garbage.torrent"), "not bencode");
        string gone = SampleContent.WriteFile(temp.Combine("gone.bin"), 1000);
        TestTorrents.Write(gone, temp.Combine("gone.torrent"));
        File.Delete(gone);
        var (registry, loader, _) = Create(temp.Path);

        var results = await loader.LoadAllAsync(CancellationToken.None);

        Assert.Equal(5, results.Count);
        Assert.Equal(3, registry.Count);
        Assert.Contains(results, r => r.TorrentPath.EndsWith("garbage.torrent", StringComparison.Ordinal) && r.RefusedReason!.Contains("bencode", StringComparison.Ordinal));
        Assert.Contains(results, r => r.TorrentPath.EndsWith("gone.torrent", StringComparison.Ordinal) && r.RefusedReason == "missing file 'gone.bin'");
    }

    [Fact]
    public async Task Loading_the_same_file_twice_is_a_no_op_and_unload_by_path_or_info_hash_removes_it()
    {
        using var temp = new TempDirectory("loader");
        string data = SampleContent.WriteFile(temp.Combine("a.bin"), 40_000);
        var metainfo = TestTorrents.Write(data, temp.Combine("a.torrent"));
        var (registry, loader, opener) = Create(temp.Path);
        var removed = new List<InfoHash>();
        registry.Removed += t => removed.Add(t.InfoHash);

        Assert.True((await loader.LoadFileAsync(temp.Combine("a.torrent"), CancellationToken.None)).Loaded);
        Assert.True((await loader.LoadFileAsync(temp.Combine("a.torrent"), CancellationToken.None)).Loaded);
        Assert.Equal(1, opener.Opened);
        Assert.True(registry.TryGet(metainfo.InfoHash, out _));

        Assert.True(loader.Unload(temp.Combine("a.torrent")));
        Assert.False(loader.Unload(temp.Combine("a.torrent")));
        Assert.Equal([metainfo.InfoHash], removed);

        Assert.True((await loader.LoadFileAsync(temp.Combine("a.torrent"), CancellationToken.None)).Loaded);
        Assert.True(loader.Unload(metainfo.InfoHash.ToHex()));
        Assert.Equal(0, registry.Count);
    }

    [Fact]
    public async Task The_same_torrent_under_two_file_names_is_seeded_once()
    {
        using var temp = new TempDirectory("loader");
        string data = SampleContent.WriteFile(temp.Combine("a.bin"), 40_000);
        TestTorrents.Write(data, temp.Combine("a.torrent"));
        File.Copy(temp.Combine("a.torrent"), temp.Combine("copy.torrent"));
        var (registry, loader, _) = Create(temp.Path);

        var results = await loader.LoadAllAsync(CancellationToken.None);

        Assert.Equal(1, registry.Count);
        Assert.Single(results, r => r.RefusedReason is not null && r.RefusedReason.StartsWith("already seeded", StringComparison.Ordinal));
    }

    /// <summary>Holds the first open until released, then opens from memory like <see cref="MemoryOpener"/>.</summary>
    private sealed class FirstOpenWaits : IPieceStoreOpener
    {
        private readonly MemoryOpener _inner = new();
        private int _opens;

        public TaskCompletionSource FirstEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<PieceStoreOpening> OpenAsync(TorrentMetainfo metainfo, string contentFolder, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _opens) == 1)
            {
                FirstEntered.TrySetResult();
                await Release.Task.WaitAsync(cancellationToken);
            }
            return await _inner.OpenAsync(metainfo, contentFolder, cancellationToken);
        }
    }

    [Fact]
    public async Task A_torrent_a_peer_waits_for_is_loaded_before_the_rest_of_the_folder()
    {
        using var temp = new TempDirectory("loader-priority");
        var metainfos = new List<TorrentMetainfo>();
        for (int i = 0; i < 10; i++)
        {
            string data = SampleContent.WriteFile(temp.Combine($"file{i}.bin"), 20_000 + i, seed: i);
            metainfos.Add(TestTorrents.Write(data, temp.Combine($"t{i}.torrent")));
        }
        var registry = new TorrentRegistry();
        var opener = new FirstOpenWaits();
        var loader = new TorrentFolderLoader(registry, opener, temp.Path, temp.Path, NullLogger.Instance, parallelism: 1);

        var loading = loader.LoadAllAsync(CancellationToken.None);
        await opener.FirstEntered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(10, registry.LoadingCount);
        var waited = registry.WhenLoaded(metainfos[7].InfoHash);
        Assert.NotNull(waited);
        Assert.Null(registry.WhenLoaded(InfoHash.Compute("not in the folder"u8)));
        opener.Release.TrySetResult();
        await loading.WaitAsync(TimeSpan.FromSeconds(60));

        await waited.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(10, registry.Count);
        Assert.True(registry.TryGet(metainfos[7].InfoHash, out var first));
        Assert.Equal(2, first.LoadOrder); // right after the one that was already opening
        Assert.True(registry.TryGet(metainfos[1].InfoHash, out var next));
        Assert.Equal(3, next.LoadOrder);
        Assert.Equal(0, registry.LoadingCount);
        Assert.Null(registry.WhenLoaded(metainfos[7].InfoHash));
    }
}
