using Appliance.Networking.Buffers;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Choking;
using Appliance.Seeding.Torrents;
using Appliance.Seeding.Upload;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ObjectPool;

namespace Appliance.Seeding.Sessions;

/// <summary>What a session reports to the server that runs it: the few things only the server can do.</summary>
internal interface ISessionHost
{
    /// <summary>Holds a handshake for a torrent still loading: the task completes when loading ended; null when it cannot wait.</summary>
    Task? TryHoldHandshake(InfoHash infoHash);

    /// <summary>A held handshake stopped waiting (loaded, timed out or closed).</summary>
    void HandshakeHoldEnded();

    /// <summary>The torrent's store cannot serve: every peer of that torrent is disconnected.</summary>
    void StoreFailed(SeededTorrent torrent);

    /// <summary>Both loops of the session ended and its resources are released.</summary>
    void SessionEnded(PeerSession session);
}

/// <summary>
/// Everything a <see cref="PeerSession"/> uses, built once by its server and shared by every session of it: the
/// session never sees the server, only these services and the <see cref="ISessionHost"/> it reports to.
/// </summary>
internal sealed class SessionServices
{
    public required SeedingOptions Options { get; init; }
    public required TimeProvider Time { get; init; }
    public required SeedingCounters Counters { get; init; }
    public required ILogger Logger { get; init; }

    /// <summary>Finds the torrent a handshake names.</summary>
    public required TorrentRegistry Registry { get; init; }
    public required PeerId PeerId { get; init; }

    /// <summary>4 KiB pinned receive buffers: what a session reads requests, haves and other short messages into.</summary>
    public required PinnedBufferPool RequestBuffers { get; init; }

    /// <summary>32 KiB pinned buffers: outboxes, and the receive buffer of a session while it reads a message longer
    /// than a <see cref="RequestBuffers"/> buffer (an extension handshake, a large bitfield).</summary>
    public required PinnedBufferPool SmallBuffers { get; init; }

    /// <summary>256 KiB pinned buffers blocks are read into when they cannot go out as mapped pages.</summary>
    public required PinnedBufferPool ReadBuffers { get; init; }
    public required SendBatchPool SendBatches { get; init; }

    /// <summary>Reader threads for queued blocks found not in the page cache; null when read-ahead is off.</summary>
    public ReadAheadPool? ReadAhead { get; init; }
    public required UploadRateLimiter RateLimiter { get; init; }
    public required UploadSlotLedger Slots { get; init; }
    public required ISessionHost Host { get; init; }

    /// <summary>Counts a send that had to wait for a slow peer (one delegate for every session).</summary>
    public required Action SendWaited { get; init; }
}
