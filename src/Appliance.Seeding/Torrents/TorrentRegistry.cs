using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Appliance.Protocol.Encryption;
using Appliance.Protocol.Metainfo;

namespace Appliance.Seeding.Torrents;

/// <summary>
/// The torrents this appliance seeds, by info-hash; a hybrid torrent is also found by its truncated v2 hash (one swarm,
/// two doors). Thread-safe; sessions look torrents up here at handshake,
/// and trackers, DHT and metrics follow <see cref="Added"/> / <see cref="Removed"/>.
/// Event handlers run synchronously on the thread that added or removed; they must not block.
/// Also indexed by HASH('req2', info-hash), so an encrypted handshake finds its torrent in one lookup.
/// Torrents still loading (parsed, storage being opened or verified) are known too: a handshake for one waits for it
/// (<see cref="WhenLoaded"/>) instead of being refused, and <see cref="Awaited"/> tells the loader to take it first.
/// </summary>
public sealed class TorrentRegistry : IObfuscatedHashLookup
{
    private readonly ConcurrentDictionary<InfoHash, SeededTorrent> _torrents = new();
    private readonly ConcurrentDictionary<InfoHash, InfoHash> _byReq2 = new();
    private readonly ConcurrentDictionary<InfoHash, SeededTorrent> _aliases = new();
    private readonly ConcurrentDictionary<InfoHash, Loading> _loading = new();
    private long _loads;
    private int _loadingTorrents;

    public event Action<SeededTorrent>? Added;
    public event Action<SeededTorrent>? Removed;

    /// <summary>A peer waits for this torrent (its primary info-hash) to finish loading. Runs on the peer's thread; must not block.</summary>
    public event Action<InfoHash>? Awaited;

    /// <summary>Torrents announced by <see cref="BeginLoading"/> and not yet ended.</summary>
    public int LoadingCount => Volatile.Read(ref _loadingTorrents);

    /// <summary>Announces a torrent whose storage is being opened: until <see cref="EndLoading"/>, handshakes for it are held.</summary>
    public void BeginLoading(TorrentMetainfo metainfo)
    {
        ArgumentNullException.ThrowIfNull(metainfo);
        var loading = new Loading(metainfo.InfoHash);
        foreach (var hash in metainfo.SwarmHashes)
        {
            if (!_loading.TryAdd(hash, loading)) continue;
            if (hash == loading.Primary) Interlocked.Increment(ref _loadingTorrents);
            _byReq2.TryAdd(Req2(hash), hash); // an encrypted handshake gets as far as its plaintext handshake, which is then held
        }
    }

    /// <summary>Loading ended (seeded or refused): held handshakes go on, and find the torrent or are refused.</summary>
    public void EndLoading(TorrentMetainfo metainfo)
    {
        ArgumentNullException.ThrowIfNull(metainfo);
        foreach (var hash in metainfo.SwarmHashes)
        {
            if (!_loading.TryRemove(hash, out var loading)) continue;
            if (hash == loading.Primary) Interlocked.Decrement(ref _loadingTorrents);
            if (!TryGet(hash, out _)) _byReq2.TryRemove(new KeyValuePair<InfoHash, InfoHash>(Req2(hash), hash));
            loading.Done.TrySetResult();
        }
    }

    /// <summary>A task that ends when the torrent of <paramref name="infoHash"/> has finished loading; null when it is not loading.</summary>
    public Task? WhenLoaded(InfoHash infoHash)
    {
        if (!_loading.TryGetValue(infoHash, out var loading)) return null;
        Awaited?.Invoke(loading.Primary);
        return loading.Done.Task;
    }

    private sealed class Loading(InfoHash primary)
    {
        public InfoHash Primary { get; } = primary;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public int Count => _torrents.Count;

    /// <summary>False when a torrent with the same info-hash is already seeded.</summary>
    public bool TryAdd(SeededTorrent torrent)
    {
        if (torrent.LoadOrder == 0) torrent.LoadOrder = Interlocked.Increment(ref _loads);
        if (!_torrents.TryAdd(torrent.InfoHash, torrent)) return false;
        foreach (var hash in torrent.Metainfo.SwarmHashes)
        {
            if (hash != torrent.InfoHash) _aliases.TryAdd(hash, torrent);
            _byReq2[Req2(hash)] = hash;
        }
        Added?.Invoke(torrent);
        return true;
    }

    public bool TryRemove(InfoHash infoHash, [NotNullWhen(true)] out SeededTorrent? torrent)
    {
        if (!_torrents.TryRemove(infoHash, out torrent)) return false;
        foreach (var hash in torrent.Metainfo.SwarmHashes)
        {
            if (hash != infoHash) _aliases.TryRemove(new KeyValuePair<InfoHash, SeededTorrent>(hash, torrent));
            _byReq2.TryRemove(Req2(hash), out _);
        }
        Removed?.Invoke(torrent);
        return true;
    }

    public bool TryGet(InfoHash infoHash, [NotNullWhen(true)] out SeededTorrent? torrent) =>
        _torrents.TryGetValue(infoHash, out torrent) || _aliases.TryGetValue(infoHash, out torrent);

    public bool TryFindByReq2(ReadOnlySpan<byte> req2, out InfoHash infoHash) =>
        _byReq2.TryGetValue(new InfoHash(req2), out infoHash);

    private static InfoHash Req2(InfoHash infoHash)
    {
        Span<byte> bytes = stackalloc byte[InfoHash.Length];
        infoHash.CopyTo(bytes);
        MseKeyExchange.Req2(bytes, bytes);
        return new InfoHash(bytes);
    }

    /// <summary>A point-in-time copy, ordered by name.</summary>
    public IReadOnlyList<SeededTorrent> Snapshot() => [.. _torrents.Values.OrderBy(t => t.Name, StringComparer.Ordinal)];
}
