using Appliance.Protocol.Metainfo;
using Appliance.Storage;

namespace Appliance.Seeding.Torrents;

/// <summary>One torrent being seeded: its metainfo, where its blocks come from, and its live counters.</summary>
public sealed class SeededTorrent(TorrentMetainfo metainfo, PieceStore store, string? torrentPath = null)
{
    private long _uploadedBytes;
    private long _blocksServed;
    private int _peers;

    public TorrentMetainfo Metainfo { get; } = metainfo;
    public PieceStore Store { get; } = store;
    public InfoHash InfoHash => Metainfo.InfoHash;
    public string Name => Metainfo.Name;

    /// <summary>Answers BEP 52 hash requests (null for v1-only torrents).</summary>
    internal MerkleHashes? Hashes { get; } = metainfo.HasV2 ? new MerkleHashes(metainfo) : null;

    /// <summary>When the registry took it: 1 for the first torrent added, increasing (0 until added).</summary>
    public long LoadOrder { get; internal set; }

    /// <summary>The .torrent file it was loaded from, if any.</summary>
    public string? TorrentPath { get; } = torrentPath;

    public long UploadedBytes => Interlocked.Read(ref _uploadedBytes);
    public long BlocksServed => Interlocked.Read(ref _blocksServed);

    /// <summary>Peers past the handshake on this torrent right now.</summary>
    public int Peers => Volatile.Read(ref _peers);

    internal void AddUploaded(long bytes, int blocks)
    {
        Interlocked.Add(ref _uploadedBytes, bytes);
        Interlocked.Add(ref _blocksServed, blocks);
    }

    internal void PeerJoined() => Interlocked.Increment(ref _peers);
    internal void PeerLeft() => Interlocked.Decrement(ref _peers);
}
