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
/// </summary>
public sealed class TorrentRegistry : IObfuscatedHashLookup
{
    private readonly ConcurrentDictionary<InfoHash, SeededTorrent> _torrents = new();
    private readonly ConcurrentDictionary<InfoHash, InfoHash> _byReq2 = new();
    private readonly ConcurrentDictionary<InfoHash, SeededTorrent> _aliases = new();
    private long _loads;

    public event Action<SeededTorrent>? Added;
    public event Action<SeededTorrent>? Removed;

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
