using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Torrents;
using Appliance.Storage;
using Appliance.Storage.Resume;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Seeding.Tests.Torrents;

/// <summary>
/// A first start serves each torrent once it is verified and records the verification afterwards: no resume file is
/// written while the folder loads, a stop flushes them, a crash before that only costs a second verification.
/// </summary>
public sealed class DeferredResumeTests : IDisposable
{
    private const int Count = 12;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _temp = new("deferred-resume");
    private readonly string _folder;
    private readonly string _state;
    private readonly List<TorrentMetainfo> _torrents = [];

    public DeferredResumeTests()
    {
        _folder = _temp.CreateSubdirectory("library");
        _state = _temp.Combine("state");
        for (int i = 0; i < Count; i++)
        {
            string data = SampleContent.WriteFile(Path.Combine(_folder, $"file{i:D2}.bin"), 40_000 + i, seed: i + 1);
            _torrents.Add(TestTorrents.Write(data, Path.Combine(_folder, $"t{i:D2}.torrent"), pieceLength: 16 * 1024));
        }
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>The real opener, noting how each open went and how many resume files the state folder held when it began.</summary>
    private sealed class WatchingOpener(string stateFolder) : IPieceStoreOpener, IDisposable
    {
        private readonly SeedingStorageOpener _inner = new(stateFolder, StorageKind.Pread, NullLogger.Instance);
        private readonly List<(bool FromResume, int Hashed, int FilesSeen)> _opens = [];

        public IReadOnlyList<(bool FromResume, int Hashed, int FilesSeen)> Opens
        {
            get
            {
                lock (_opens) return [.. _opens];
            }
        }

        public async Task<PieceStoreOpening> OpenAsync(TorrentMetainfo metainfo, string contentFolder, CancellationToken cancellationToken)
        {
            int seen = Directory.Exists(stateFolder) ? Directory.GetFiles(stateFolder, "*.resume").Length : 0;
            var opening = await _inner.OpenAsync(metainfo, contentFolder, cancellationToken);
            lock (_opens) _opens.Add((opening.FromResume, opening.PiecesHashed, seen));
            return opening;
        }

        public void Dispose() => _inner.Dispose();
    }

    private (TorrentRegistry Registry, TorrentFolderLoader Loader, WatchingOpener Opener) Start(ResumeWriter writer)
    {
        var registry = new TorrentRegistry();
        var opener = new WatchingOpener(_state);
        return (registry, new TorrentFolderLoader(registry, opener, _folder, _folder, NullLogger.Instance, parallelism: 2, writer), opener);
    }

    private bool HasResumeFile(TorrentMetainfo torrent) => File.Exists(ResumeFile.PathFor(_state, torrent.InfoHash));

    private static void AssertServes(TorrentRegistry registry, TorrentMetainfo torrent)
    {
        Assert.True(registry.TryGet(torrent.InfoHash, out var seeded), $"{torrent.Name} is not seeded");
        Assert.True(seeded.Store.TryReadBlock(0, 0, new byte[16 * 1024]), $"{torrent.Name} cannot be read");
    }

    [Fact]
    public async Task A_first_start_writes_no_resume_file_until_the_whole_folder_is_loaded()
    {
        using var writer = new ResumeWriter(_state, Timeout.InfiniteTimeSpan);
        var (registry, loader, opener) = Start(writer);
        using var _ = opener;

        var results = await loader.LoadAllAsync(CancellationToken.None).WaitAsync(Patience);

        Assert.All(results, r => Assert.True(r.Loaded, r.RefusedReason));
        Assert.Equal(Count, opener.Opens.Count);
        Assert.All(opener.Opens, o => Assert.Equal(0, o.FilesSeen)); // no open competed with a resume file's creation
        await WaitUntilAsync(() => _torrents.All(HasResumeFile)); // and they follow on their own once the load is over
        Assert.Equal(0, writer.PendingCount);
        Assert.Equal(Count, writer.Written);
    }

    [Fact]
    public async Task A_torrent_serves_while_its_resume_file_is_not_written_yet()
    {
        using var writer = new ResumeWriter(_state, Timeout.InfiniteTimeSpan);
        var (registry, loader, opener) = Start(writer);
        using var _ = opener;
        var held = writer.HoldForLoad(); // as if another load were still running

        await loader.LoadAllAsync(CancellationToken.None).WaitAsync(Patience);

        Assert.All(_torrents, t => AssertServes(registry, t));
        Assert.DoesNotContain(_torrents, HasResumeFile);
        Assert.Equal(Count, writer.PendingCount);
        held.Dispose();
        await WaitUntilAsync(() => _torrents.All(HasResumeFile));
    }

    [Fact]
    public async Task A_restart_after_a_flushed_stop_resumes_every_torrent_without_hashing()
    {
        using (var writer = new ResumeWriter(_state, Timeout.InfiniteTimeSpan))
        {
            var (_, loader, opener) = Start(writer);
            using var _ = opener;
            using var held = writer.HoldForLoad(); // the stop comes before the writes would have
            await loader.LoadAllAsync(CancellationToken.None).WaitAsync(Patience);
            Assert.Equal(0, await writer.FlushAsync(new CancellationTokenSource(Patience).Token));
        }

        using var restartWriter = new ResumeWriter(_state, Timeout.InfiniteTimeSpan);
        var (registry, restarted, reopener) = Start(restartWriter);
        using var __ = reopener;
        await restarted.LoadAllAsync(CancellationToken.None).WaitAsync(Patience);

        Assert.All(_torrents, t => AssertServes(registry, t));
        Assert.All(reopener.Opens, o => Assert.True(o.FromResume && o.Hashed == 0, $"resumed: {o.FromResume}, pieces hashed: {o.Hashed}"));
        Assert.Equal(0, restartWriter.PendingCount); // nothing changed: nothing to write
    }

    [Fact]
    public async Task A_crash_before_the_writes_verifies_again_on_the_next_start_and_still_serves()
    {
        var writer = new ResumeWriter(_state, Timeout.InfiniteTimeSpan);
        var (_, loader, opener) = Start(writer);
        using (opener)
        {
            var held = writer.HoldForLoad();
            await loader.LoadAllAsync(CancellationToken.None).WaitAsync(Patience);
            writer.Dispose(); // the process dies: the pending states are lost
            held.Dispose();
        }
        Assert.DoesNotContain(_torrents, HasResumeFile);

        using var restartWriter = new ResumeWriter(_state, Timeout.InfiniteTimeSpan);
        var (registry, restarted, reopener) = Start(restartWriter);
        using var _ = reopener;
        await restarted.LoadAllAsync(CancellationToken.None).WaitAsync(Patience);

        Assert.All(_torrents, t => AssertServes(registry, t));
        Assert.All(reopener.Opens, o => Assert.True(!o.FromResume && o.Hashed > 0, $"resumed: {o.FromResume}, pieces hashed: {o.Hashed}"));
        await WaitUntilAsync(() => _torrents.All(HasResumeFile));
    }

    [Fact]
    public async Task A_torrent_unloaded_before_its_write_is_not_written()
    {
        using var writer = new ResumeWriter(_state, Timeout.InfiniteTimeSpan);
        var (registry, loader, opener) = Start(writer);
        using var _ = opener;
        var held = writer.HoldForLoad();
        await loader.LoadAllAsync(CancellationToken.None).WaitAsync(Patience);
        var removed = _torrents[3];

        Assert.True(loader.Unload(removed.InfoHash.ToHex()));
        held.Dispose();
        Assert.Equal(0, await writer.FlushAsync(new CancellationTokenSource(Patience).Token));

        Assert.False(HasResumeFile(removed));
        Assert.All(_torrents.Where(t => t != removed), t => Assert.True(HasResumeFile(t), t.Name));
        Assert.Equal(Count - 1, registry.Count);
    }

    [Fact]
    public async Task A_torrent_added_later_is_recorded_once_its_load_ends()
    {
        using var writer = new ResumeWriter(_state, Timeout.InfiniteTimeSpan);
        var (registry, loader, opener) = Start(writer);
        using var _ = opener;
        await loader.LoadAllAsync(CancellationToken.None).WaitAsync(Patience);
        string data = SampleContent.WriteFile(Path.Combine(_folder, "late.bin"), 30_000, seed: 99);
        var late = TestTorrents.Write(data, Path.Combine(_folder, "late.torrent"), pieceLength: 16 * 1024);

        var result = await loader.LoadFileAsync(Path.Combine(_folder, "late.torrent"), CancellationToken.None).WaitAsync(Patience);

        Assert.True(result.Loaded, result.RefusedReason);
        AssertServes(registry, late);
        await WaitUntilAsync(() => HasResumeFile(late));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never held");
            await Task.Delay(20);
        }
    }
}
