using System.Collections.Concurrent;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;
using Microsoft.Extensions.Logging;

namespace Appliance.Seeding.Torrents;

/// <summary>
/// Picks up torrents and content added to or removed from the folders while serving, without a restart:
/// a file-system watch on the torrents and content folders (top level) triggers a rescan soon after a change,
/// and a periodic rescan catches what the watch misses (network file systems, overflowing event queues).
/// A rescan loads new .torrent files, unloads torrents whose .torrent or content disappeared or whose
/// storage faulted, and retries a refused torrent only once its .torrent or its content changed (so a corrupt
/// torrent is not re-hashed every period). The admin API adds and removes through it too.
/// </summary>
public sealed class ContentWatcher : IDisposable
{
    public static readonly TimeSpan DefaultRescanInterval = TimeSpan.FromSeconds(30);

    // Events come in bursts (a copy writes a file in many steps); one rescan after the burst settles.
    private static readonly TimeSpan Debounce = TimeSpan.FromSeconds(1);

    // A torrent refused for a passing reason (out of descriptors or memory) is retried after 5 s, 10 s, ... up to 5 minutes.
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LastRetry = TimeSpan.FromMinutes(5);

    private readonly TorrentRegistry _registry;
    private readonly TorrentFolderLoader _loader;
    private readonly Action<SeededTorrent>? _onLoaded;
    private readonly ILogger _logger;
    private readonly TimeSpan _rescanInterval;
    private readonly DateTime _createdUtc;
    private readonly TimeProvider _clock;
    private readonly Networking.Logging.LogThrottle _retryLog = new(TimeSpan.FromSeconds(10));
    private readonly SemaphoreSlim _scanGate = new(1, 1);
    private readonly ConcurrentDictionary<string, Refusal> _refused = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FileSignature> _loadedStamps = new(StringComparer.Ordinal);
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly CancellationTokenSource _stopping = new();
    private Timer? _debounce;
    private Task _loop = Task.CompletedTask;
    private bool _firstScanDone;
    private long _scans;

    public ContentWatcher(TorrentRegistry registry, TorrentFolderLoader loader, ILogger logger,
        Action<SeededTorrent>? onLoaded = null, TimeSpan? rescanInterval = null, TimeProvider? clock = null)
    {
        _registry = registry;
        _loader = loader;
        _logger = logger;
        _onLoaded = onLoaded;
        _rescanInterval = rescanInterval ?? DefaultRescanInterval;
        // Files older than this were seen by the seeder's own start-up load; only newer ones are new.
        _clock = clock ?? TimeProvider.System;
        _createdUtc = _clock.GetUtcNow().UtcDateTime;
    }

    public string TorrentsFolder => _loader.TorrentsFolder;

    /// <summary>Cancelled when the watcher stops: background work started through it (admin API) ends with it.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Rescans completed since start (tests wait on it).</summary>
    public long Scans => Interlocked.Read(ref _scans);

    /// <summary>Torrent files present but not seeded, with the reason as told to API callers (the log has the details).</summary>
    public IReadOnlyList<(string TorrentPath, string Reason)> Refused() =>
        [.. _refused.Select(r => (r.Key, r.Value.Reason)).OrderBy(r => r.Key, StringComparer.Ordinal)];

    /// <summary>
    /// Torrents refused for a passing lack of resources (file descriptors, memory) and waiting for their retry: the library
    /// is not what the operator asked for, so the box is not ready.
    /// </summary>
    public int TransientRefusals => _firstScanDone
        ? _refused.Values.Count(r => r.RetryAt is not null)
        : _loader.StartupRefusals.Values.Count(r => r.Transient);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        bool shared = string.Equals(Path.GetFullPath(_loader.ContentFolder), Path.GetFullPath(_loader.TorrentsFolder), StringComparison.Ordinal);
        Watch(_loader.TorrentsFolder, shared ? "*" : "*.torrent");
        if (!shared) Watch(_loader.ContentFolder, "*");
        _debounce = new Timer(_ => RequestScan(), null, Timeout.Infinite, Timeout.Infinite);
        _loop = RunAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var watcher in _watchers) watcher.Dispose();
        _watchers.Clear();
        _debounce?.Dispose();
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        foreach (var watcher in _watchers) watcher.Dispose();
        _debounce?.Dispose();
        _stopping.Dispose();
        _scanGate.Dispose();
    }

    /// <summary>One rescan of both folders (also what the periodic loop and the watch run).</summary>
    public async Task ScanAsync(CancellationToken cancellationToken)
    {
        await _scanGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ScanLockedAsync(cancellationToken).ConfigureAwait(false);
            _firstScanDone = true;
            Interlocked.Increment(ref _scans);
        }
        finally
        {
            _scanGate.Release();
        }
    }

    /// <summary>Loads one .torrent of the torrents folder now (admin API); the result says why it was refused.</summary>
    public async Task<TorrentLoadResult> LoadAsync(string torrentPath, CancellationToken cancellationToken)
    {
        await _scanGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await LoadLockedAsync(Path.GetFullPath(torrentPath), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _scanGate.Release();
        }
    }

    /// <summary>
    /// Stops seeding a torrent (admin API) and deletes its .torrent file from the torrents folder so a rescan does
    /// not load it again; when the file cannot be deleted (read-only folder) it is skipped until it changes.
    /// Content is never touched. Returns null when no such torrent is seeded, else whether the file was deleted.
    /// </summary>
    public async Task<bool?> RemoveAsync(InfoHash infoHash, CancellationToken cancellationToken)
    {
        await _scanGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_registry.TryGet(infoHash, out var torrent)) return null;
            string? path = torrent.TorrentPath is null ? null : Path.GetFullPath(torrent.TorrentPath);
            _loader.Unload(infoHash.ToHex());
            if (path is null) return false;
            _loadedStamps.TryRemove(path, out _);
            bool deleted = false;
            if (IsInTorrentsFolder(path))
            {
                try
                {
                    File.Delete(path);
                    deleted = true;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    ContentWatcherLog.DeleteFailed(_logger, path, e.Message);
                }
            }
            if (!deleted) _refused[path] = new Refusal("removed through the admin API", Signature(path, torrent.Metainfo));
            ContentWatcherLog.Removed(_logger, torrent.InfoHash, torrent.Name, "admin API");
            return deleted;
        }
        finally
        {
            _scanGate.Release();
        }
    }

    public bool IsInTorrentsFolder(string path)
    {
        string folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(_loader.TorrentsFolder));
        string full = Path.GetFullPath(path);
        return string.Equals(Path.GetDirectoryName(full), folder, StringComparison.Ordinal);
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        await Task.Yield();
        using var periodic = new PeriodicTimer(_rescanInterval);
        try
        {
            await ScanGuardedAsync(stopping).ConfigureAwait(false);
            while (await periodic.WaitForNextTickAsync(stopping).ConfigureAwait(false))
                await ScanGuardedAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task ScanGuardedAsync(CancellationToken stopping)
    {
        try
        {
            await ScanAsync(stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A folder briefly unreadable (unmounted, permissions): keep serving what is loaded, try again later.
            ContentWatcherLog.ScanFailed(_logger, e);
        }
    }

    private void RequestScan()
    {
        if (_stopping.IsCancellationRequested) return;
        var token = _stopping.Token;
        _ = Task.Run(async () =>
        {
            try
            {
                await ScanGuardedAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
        });
    }

    private void Watch(string folder, string filter)
    {
        if (!Directory.Exists(folder)) return;
        var watcher = new FileSystemWatcher(folder, filter)
        {
            IncludeSubdirectories = false,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
        };
        watcher.Created += OnChanged;
        watcher.Changed += OnChanged;
        watcher.Deleted += OnChanged;
        watcher.Renamed += OnChanged;
        watcher.Error += (_, e) => ContentWatcherLog.WatchFailed(_logger, folder, e.GetException());
        watcher.EnableRaisingEvents = true;
        _watchers.Add(watcher);
    }

    private void OnChanged(object sender, FileSystemEventArgs e)
    {
        if (e.Name is { } name && name.StartsWith('.')) return; // the state folder (CONTENT/.appliance) and hidden temp files
        _debounce?.Change(Debounce, Timeout.InfiniteTimeSpan);
    }

    private async Task ScanLockedAsync(CancellationToken cancellationToken)
    {
        var present = Directory.Exists(_loader.TorrentsFolder)
            ? Directory.EnumerateFiles(_loader.TorrentsFolder, "*.torrent", SearchOption.TopDirectoryOnly).Select(Path.GetFullPath).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);

        var loadedPaths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var torrent in _registry.Snapshot())
        {
            if (torrent.TorrentPath is null) continue;
            string path = Path.GetFullPath(torrent.TorrentPath);
            string? why = null;
            if (!present.Contains(path)) why = "its .torrent file was removed";
            else if (!ContentExists(torrent.Metainfo)) why = "its content was removed";
            // One fstat per file: a file truncated or grown under us is noticed here, before a peer asks for the missing bytes.
            else if (torrent.Store.CheckFiles() is { } fault) why = "storage fault: " + fault;
            if (why is not null)
            {
                _loader.Unload(path);
                _loadedStamps.TryRemove(path, out _);
                ContentWatcherLog.Removed(_logger, torrent.InfoHash, torrent.Name, why);
                string told = torrent.Store.FaultReason is null ? why : "its storage faulted (the log says why)";
                if (present.Contains(path)) _refused[path] = new Refusal(told, Signature(path, torrent.Metainfo));
                continue;
            }
            var stamp = FileSignature.Of(path);
            if (_loadedStamps.TryGetValue(path, out var known) && known != stamp)
            {
                _loadedStamps.TryRemove(path, out _);
                continue; // the .torrent was rewritten: treat as new below
            }
            _loadedStamps[path] = stamp;
            loadedPaths.Add(path);
        }

        foreach (var path in _refused.Keys)
        {
            if (!present.Contains(path)) _refused.TryRemove(path, out _);
        }

        var candidates = new List<string>();
        foreach (var path in present)
        {
            if (loadedPaths.Contains(path)) continue;
            if (_refused.TryGetValue(path, out var refusal))
            {
                bool retryDue = refusal.RetryAt is { } due && _clock.GetUtcNow() >= due;
                if (!retryDue && refusal.Signature == Signature(path, metainfo: null)) continue;
            }
            else if (!_firstScanDone && File.GetLastWriteTimeUtc(path) < _createdUtc)
            {
                // Present when the seeder loaded the folder at start and not seeded: it was refused then (and logged).
                var atStart = _loader.StartupRefusals.GetValueOrDefault(path);
                _refused[path] = Refuse(atStart?.PublicReason ?? "refused at start-up (see the log)", Signature(path, metainfo: null),
                    atStart?.Transient ?? false, previous: null);
                continue;
            }
            candidates.Add(path);
        }

        await Parallel.ForEachAsync(candidates,
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount), CancellationToken = cancellationToken },
            async (path, ct) => await LoadLockedAsync(path, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    private async Task<TorrentLoadResult> LoadLockedAsync(string path, CancellationToken cancellationToken)
    {
        var signature = Signature(path, metainfo: null);
        var result = await _loader.LoadFileAsync(path, cancellationToken).ConfigureAwait(false);
        if (result.Torrent is { } torrent)
        {
            _refused.TryRemove(path, out _);
            _loadedStamps[path] = FileSignature.Of(path);
            ContentWatcherLog.PickedUp(_logger, torrent.InfoHash, torrent.Name);
            _onLoaded?.Invoke(torrent);
        }
        else
        {
            _refused[path] = Refuse(result.PublicReason ?? "refused", signature, result.Transient, _refused.GetValueOrDefault(path));
        }
        return result;
    }

    /// <summary>A refusal; a transient one is retried after a delay that doubles with each transient failure in a row.</summary>
    private Refusal Refuse(string reason, string signature, bool transient, Refusal? previous)
    {
        if (!transient) return new Refusal(reason, signature);
        int attempts = (previous?.RetryAt is null ? 0 : previous.Attempts) + 1;
        var delay = TimeSpan.FromTicks(Math.Min(LastRetry.Ticks, FirstRetry.Ticks << Math.Min(attempts - 1, 20)));
        if (_retryLog.TryEnter(out long suppressed)) ContentWatcherLog.RetryLater(_logger, attempts, delay.TotalSeconds, suppressed);
        return new Refusal(reason, signature) { RetryAt = _clock.GetUtcNow() + delay, Attempts = attempts };
    }

    private bool ContentExists(TorrentMetainfo metainfo)
    {
        string root = Path.Combine(_loader.ContentFolder, metainfo.Name);
        return metainfo.IsMultiFile ? Directory.Exists(root) : File.Exists(root);
    }

    /// <summary>What must change for a refused torrent to be worth another try: its .torrent file or its content.</summary>
    private string Signature(string torrentPath, TorrentMetainfo? metainfo)
    {
        var torrentStamp = FileSignature.Of(torrentPath);
        if (metainfo is null)
        {
            try
            {
                metainfo = TorrentFolderLoader.ReadMetainfo(torrentPath);
            }
            catch (Exception e) when (e is MetainfoException or IOException or UnauthorizedAccessException)
            {
                return torrentStamp.ToString();
            }
        }
        string root = Path.Combine(_loader.ContentFolder, metainfo.Name);
        long count = 0, bytes = 0, latest = 0;
        if (File.Exists(root))
        {
            var one = FileSignature.Of(root);
            count = 1; bytes = one.Length; latest = one.LastWrite;
        }
        else if (Directory.Exists(root))
        {
            var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
            foreach (var file in new DirectoryInfo(root).EnumerateFiles("*", options))
            {
                count++;
                bytes += file.Length;
                latest = Math.Max(latest, file.LastWriteTimeUtc.Ticks);
            }
        }
        return $"{torrentStamp}|{count}:{bytes}:{latest}";
    }

    private sealed record Refusal(string Reason, string Signature)
    {
        public DateTimeOffset? RetryAt { get; init; }
        public int Attempts { get; init; }
    }

    private readonly record struct FileSignature(long Length, long LastWrite)
    {
        // One statx (FileInfo made an lstat and a geteuid): the rescan takes one per loaded torrent.
        public static FileSignature Of(string path) =>
            FileStamp.Read(path) is { } stamp ? new FileSignature(stamp.Size, stamp.MtimeNanoseconds) : default;
    }
}

internal static partial class ContentWatcherLog
{
    [LoggerMessage(6101, LogLevel.Information, "Picked up {InfoHash} {Name}")]
    public static partial void PickedUp(ILogger logger, InfoHash infoHash, string name);

    [LoggerMessage(6102, LogLevel.Information, "Stopped seeding {InfoHash} {Name}: {Reason}")]
    public static partial void Removed(ILogger logger, InfoHash infoHash, string name, string reason);

    [LoggerMessage(6103, LogLevel.Warning, "Rescan of the torrents and content folders failed; serving what is loaded")]
    public static partial void ScanFailed(ILogger logger, Exception exception);

    [LoggerMessage(6104, LogLevel.Warning, "Watching {Folder} failed; the periodic rescan still picks up changes")]
    public static partial void WatchFailed(ILogger logger, string folder, Exception exception);

    [LoggerMessage(6106, LogLevel.Warning, "A torrent was refused for a passing reason (out of file descriptors or memory); retry {Attempt} in {Seconds} s ({Suppressed} more not logged)")]
    public static partial void RetryLater(ILogger logger, int attempt, double seconds, long suppressed);

    [LoggerMessage(6105, LogLevel.Warning, "Could not delete {Path}: {Reason}; it is skipped until it changes")]
    public static partial void DeleteFailed(ILogger logger, string path, string reason);
}
