using System.Collections.Concurrent;
using Appliance.Protocol.Metainfo;
using Microsoft.Extensions.Logging;

namespace Appliance.Seeding.Torrents;

/// <summary>
/// Loads the .torrent files of a folder into a <see cref="TorrentRegistry"/>, each with its data at
/// CONTENT/&lt;info.name&gt;. A bad torrent is refused with its reason logged; the others keep loading.
/// <see cref="LoadFileAsync"/> and <see cref="Unload(string)"/> are idempotent, for a folder watcher.
/// </summary>
public sealed class TorrentFolderLoader(
    TorrentRegistry registry, IPieceStoreOpener opener, string torrentsFolder, string contentFolder, ILogger logger, int parallelism = 4)
{
    private readonly ConcurrentDictionary<string, InfoHash> _byPath = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _pathLocks = new(StringComparer.Ordinal);

    public string TorrentsFolder { get; } = torrentsFolder;
    public string ContentFolder { get; } = contentFolder;

    /// <summary>Loads every *.torrent of the folder (not recursive) with bounded parallelism; returns each outcome.</summary>
    public async Task<IReadOnlyList<TorrentLoadResult>> LoadAllAsync(CancellationToken cancellationToken)
    {
        string[] paths = Directory.Exists(TorrentsFolder)
            ? [.. Directory.EnumerateFiles(TorrentsFolder, "*.torrent", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal)]
            : [];
        var results = new TorrentLoadResult[paths.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, paths.Length),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = cancellationToken },
            async (i, ct) => results[i] = await LoadFileAsync(paths[i], ct).ConfigureAwait(false)).ConfigureAwait(false);
        return results;
    }

    /// <summary>Loads one .torrent; loading a file already loaded (same path and info-hash) is a no-op success.</summary>
    public async Task<TorrentLoadResult> LoadFileAsync(string torrentPath, CancellationToken cancellationToken)
    {
        string path = Path.GetFullPath(torrentPath);
        var gate = _pathLocks.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await LoadLockedAsync(path, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<TorrentLoadResult> LoadLockedAsync(string path, CancellationToken cancellationToken)
    {
        TorrentMetainfo metainfo;
        try
        {
            metainfo = TorrentMetainfo.Load(path);
        }
        catch (MetainfoException e)
        {
            return Refuse(path, null, e.Reason);
        }
        if (_byPath.TryGetValue(path, out var loaded))
        {
            if (loaded == metainfo.InfoHash && registry.TryGet(loaded, out var same)) return new TorrentLoadResult(path, same, null);
            Unload(path); // the file now describes another torrent
        }
        if (registry.TryGet(metainfo.InfoHash, out var existing))
            return Refuse(path, metainfo, $"already seeded from {existing.TorrentPath ?? "another source"}");

        PieceStoreOpening opening;
        try
        {
            opening = await opener.OpenAsync(metainfo, ContentFolder, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Refuse(path, metainfo, e.Message);
        }
        if (opening.Store is null) return Refuse(path, metainfo, opening.RefusedReason ?? "storage refused it");

        var torrent = new SeededTorrent(metainfo, opening.Store, path);
        if (!registry.TryAdd(torrent))
        {
            opening.Store.Dispose();
            return Refuse(path, metainfo, "already seeded");
        }
        _byPath[path] = metainfo.InfoHash;
        SeedingLog.TorrentLoaded(logger, metainfo.InfoHash, metainfo.Name, opening.FromResume, opening.PiecesHashed);
        return new TorrentLoadResult(path, torrent, null);
    }

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
        torrent.Store.Dispose();
        SeedingLog.TorrentUnloaded(logger, infoHash, torrent.Name);
        return true;
    }

    private TorrentLoadResult Refuse(string path, TorrentMetainfo? metainfo, string reason)
    {
        SeedingLog.TorrentRefused(logger, path, reason);
        return new TorrentLoadResult(path, null, reason) { Metainfo = metainfo };
    }
}

/// <summary>The outcome of loading one .torrent: the seeded torrent, or why it was refused.</summary>
public sealed record TorrentLoadResult(string TorrentPath, SeededTorrent? Torrent, string? RefusedReason)
{
    public TorrentMetainfo? Metainfo { get; init; }
    public bool Loaded => Torrent is not null;
}
