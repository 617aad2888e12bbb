using System.Collections.Concurrent;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;
using Appliance.Storage.Resume;
using Microsoft.Extensions.Logging;

namespace Appliance.Seeding.Torrents;

/// <summary>
/// Loads the .torrent files of a folder into a <see cref="TorrentRegistry"/>, each with its data at
/// CONTENT/&lt;info.name&gt;. A bad torrent is refused with its reason logged; the others keep loading.
/// <see cref="LoadFileAsync"/> and <see cref="Unload(string)"/> are idempotent, for a folder watcher.
/// A torrent serves as soon as it is verified; the verification is recorded afterwards by <paramref name="resumeWriter"/>,
/// which writes nothing while a load is in progress (without one, nothing is recorded).
/// </summary>
public sealed class TorrentFolderLoader(
    TorrentRegistry registry, IPieceStoreOpener opener, string torrentsFolder, string contentFolder, ILogger logger, int parallelism = 4,
    ResumeWriter? resumeWriter = null)
{
    private readonly ConcurrentDictionary<string, InfoHash> _byPath = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _pathLocks = new(StringComparer.Ordinal);

    public string TorrentsFolder { get; } = torrentsFolder;
    public string ContentFolder { get; } = contentFolder;

    /// <summary>
    /// Loads every *.torrent of the folder (not recursive) with bounded parallelism; returns each outcome. Every .torrent
    /// is parsed first (cheap) and announced to the registry as loading, so a peer that dials for one of them while the
    /// content is still being opened or verified is held rather than refused, and its torrent is loaded next.
    /// </summary>
    public async Task<IReadOnlyList<TorrentLoadResult>> LoadAllAsync(CancellationToken cancellationToken)
    {
        using var hold = resumeWriter?.HoldForLoad(); // the resume files are written once the whole folder is loaded
        string[] paths = Directory.Exists(TorrentsFolder)
            ? [.. Directory.EnumerateFiles(TorrentsFolder, "*.torrent", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal)]
            : [];
        var results = new TorrentLoadResult[paths.Length];
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = cancellationToken };

        var announced = new TorrentMetainfo?[paths.Length];
        await Parallel.ForAsync(0, paths.Length, options, (i, _) =>
        {
            announced[i] = TryReadMetainfo(paths[i]); // a bad file is refused, with its reason, when its turn comes
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);
        var indexByHash = new Dictionary<InfoHash, int>();
        for (int i = 0; i < paths.Length; i++)
        {
            if (announced[i] is not { } metainfo) continue;
            if (indexByHash.TryAdd(metainfo.InfoHash, i)) registry.BeginLoading(metainfo);
            else announced[i] = null; // a duplicate: the first file of that info-hash owns the announcement
        }

        var queue = new LoadQueue(paths.Length);
        void OnAwaited(InfoHash infoHash)
        {
            if (indexByHash.TryGetValue(infoHash, out int index)) queue.Prefer(index);
        }
        registry.Awaited += OnAwaited;
        try
        {
            await Parallel.ForAsync(0, Math.Min(Math.Max(1, parallelism), Math.Max(1, paths.Length)), options, async (_, ct) =>
            {
                while (queue.TryTake(out int i))
                {
                    try
                    {
                        results[i] = await LoadFileAsync(paths[i], announced[i], ct).ConfigureAwait(false);
                    }
                    finally
                    {
                        if (announced[i] is { } metainfo) registry.EndLoading(metainfo);
                    }
                }
            }).ConfigureAwait(false);
        }
        finally
        {
            registry.Awaited -= OnAwaited;
            foreach (var metainfo in announced)
            {
                if (metainfo is not null) registry.EndLoading(metainfo); // cancelled part-way: nobody waits for the rest
            }
        }
        StartupRefusals = results.Where(r => r is not null && !r.Loaded).ToDictionary(r => r.TorrentPath, StringComparer.Ordinal);
        return results;
    }

    private static TorrentMetainfo? TryReadMetainfo(string path)
    {
        try
        {
            return ReadMetainfo(path);
        }
        catch (Exception e) when (e is MetainfoException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Hands out indexes in folder order, except that the ones a peer waits for go first; each index once.</summary>
    private sealed class LoadQueue(int count)
    {
        private readonly ConcurrentQueue<int> _preferred = new();
        private readonly int[] _taken = new int[count];
        private int _next = -1;

        public void Prefer(int index) => _preferred.Enqueue(index);

        public bool TryTake(out int index)
        {
            while (_preferred.TryDequeue(out index))
            {
                if (Interlocked.Exchange(ref _taken[index], 1) == 0) return true;
            }
            while ((index = Interlocked.Increment(ref _next)) < _taken.Length)
            {
                if (Interlocked.Exchange(ref _taken[index], 1) == 0) return true;
            }
            index = -1;
            return false;
        }
    }

    /// <summary>The files <see cref="LoadAllAsync"/> refused, by full path (a folder watcher takes over from there).</summary>
    public IReadOnlyDictionary<string, TorrentLoadResult> StartupRefusals { get; private set; } = new Dictionary<string, TorrentLoadResult>();

    /// <summary>Loads one .torrent; loading a file already loaded (same path and info-hash) is a no-op success.</summary>
    public async Task<TorrentLoadResult> LoadFileAsync(string torrentPath, CancellationToken cancellationToken)
    {
        using var hold = resumeWriter?.HoldForLoad();
        return await LoadFileAsync(torrentPath, parsed: null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>As above; <paramref name="parsed"/> is the file's metainfo when the caller has just read it (start-up parses the folder first).</summary>
    private async Task<TorrentLoadResult> LoadFileAsync(string torrentPath, TorrentMetainfo? parsed, CancellationToken cancellationToken)
    {
        string path = Path.GetFullPath(torrentPath);
        var gate = _pathLocks.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await LoadLockedAsync(path, parsed, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Largest .torrent read from the folder (a 100 GiB torrent with 16 KiB pieces has a 131 MB piece list; none that large is sane).</summary>
    public const int MaxTorrentFileBytes = 64 * 1024 * 1024;

    /// <summary>What API callers are told about content problems; the log has the details (paths, sizes).</summary>
    public const string ContentRefusal = "its content is missing, incomplete or unreadable (the log says why)";

    public const string TransientRefusal = "temporarily unable to open it (out of file descriptors or memory); it is retried";

    /// <summary>Every failure refuses this file only: a bad, unreadable or special file never stops the others.</summary>
    private async Task<TorrentLoadResult> LoadLockedAsync(string path, TorrentMetainfo? parsed, CancellationToken cancellationToken)
    {
        TorrentMetainfo metainfo;
        try
        {
            metainfo = parsed ?? ReadMetainfo(path);
        }
        catch (MetainfoException e)
        {
            return Refuse(path, null, e.Reason, e.Reason);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            bool transient = SafeFile.IsTransient(e);
            string reason = "cannot read the .torrent file: " + e.Message;
            return Refuse(path, null, reason, transient ? TransientRefusal : "cannot read the .torrent file", transient);
        }
        if (_byPath.TryGetValue(path, out var loaded))
        {
            if (loaded == metainfo.InfoHash && registry.TryGet(loaded, out var same)) return new TorrentLoadResult(path, same, null);
            Unload(path); // the file now describes another torrent
        }
        if (registry.TryGet(metainfo.InfoHash, out var existing))
            return Refuse(path, metainfo, $"already seeded from {existing.TorrentPath ?? "another source"}", "already seeded from another .torrent file");

        PieceStoreOpening opening;
        try
        {
            opening = await opener.OpenAsync(metainfo, ContentFolder, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            opening = PieceStoreOpening.Refused(e.Message, SafeFile.IsTransient(e));
        }
        // Queued before the torrent is registered, so an unload that follows at once finds it to forget. A refusal is
        // recorded too (which pieces were good). A duplicate refused below verified the same files: its state is as good.
        if (opening.ResumeToSave is { } verified) resumeWriter?.Enqueue(verified);
        if (opening.Store is null)
            return Refuse(path, metainfo, opening.RefusedReason ?? "storage refused it", opening.Transient ? TransientRefusal : ContentRefusal, opening.Transient);

        var torrent = new SeededTorrent(metainfo, opening.Store, path);
        if (!registry.TryAdd(torrent))
        {
            opening.Store.Dispose();
            return Refuse(path, metainfo, "already seeded", "already seeded");
        }
        _byPath[path] = metainfo.InfoHash;
        SeedingLog.TorrentLoaded(logger, metainfo.InfoHash, metainfo.Name, opening.FromResume, opening.PiecesHashed);
        return new TorrentLoadResult(path, torrent, null);
    }

    /// <summary>Reads and parses a .torrent, reading regular files only (a FIFO would block the read for ever).</summary>
    public static TorrentMetainfo ReadMetainfo(string path) => TorrentMetainfo.Parse(SafeFile.ReadAll(path, MaxTorrentFileBytes));

    /// <summary>Stops seeding the torrent loaded from <paramref name="torrentPathOrInfoHash"/> (a path, or a 40-hex info-hash).</summary>
    public bool Unload(string torrentPathOrInfoHash)
    {
        InfoHash infoHash;
        if (InfoHash.TryParse(torrentPathOrInfoHash, out var parsed))
        {
            infoHash = parsed;
            // The torrent knows its own path: removing by it keeps unloading every torrent at shutdown linear.
            if (registry.TryGet(infoHash, out var loaded) && loaded.TorrentPath is { } knownPath
                && _byPath.TryGetValue(knownPath, out var hashAtPath) && hashAtPath == infoHash)
            {
                _byPath.TryRemove(knownPath, out _);
            }
            else
            {
                foreach (var (path, hash) in _byPath)
                {
                    if (hash == infoHash) _byPath.TryRemove(path, out _);
                }
            }
        }
        else if (!_byPath.TryRemove(Path.GetFullPath(torrentPathOrInfoHash), out infoHash))
        {
            return false;
        }
        if (!registry.TryRemove(infoHash, out var torrent)) return false;
        resumeWriter?.Forget(infoHash); // a torrent no longer seeded needs no record of this verification
        torrent.Store.Dispose();
        SeedingLog.TorrentUnloaded(logger, infoHash, torrent.Name);
        return true;
    }

    private TorrentLoadResult Refuse(string path, TorrentMetainfo? metainfo, string reason, string publicReason, bool transient = false)
    {
        SeedingLog.TorrentRefused(logger, path, reason);
        return new TorrentLoadResult(path, null, reason) { Metainfo = metainfo, PublicReason = publicReason, Transient = transient };
    }
}

/// <summary>The outcome of loading one .torrent: the seeded torrent, or why it was refused.</summary>
public sealed record TorrentLoadResult(string TorrentPath, SeededTorrent? Torrent, string? RefusedReason)
{
    public TorrentMetainfo? Metainfo { get; init; }
    public bool Loaded => Torrent is not null;

    /// <summary>The refusal as told to API callers: nothing about paths or files beyond the .torrent itself.</summary>
    public string? PublicReason { get; init; }

    /// <summary>Refused for a passing reason (out of file descriptors or memory): retried with back-off, not only when files change.</summary>
    public bool Transient { get; init; }
}
