using Appliance.Metrics.Counters;

namespace Appliance.Seeding;

/// <summary>What the seeder counts, one slot each in <see cref="SeedingCounters"/>; <see cref="SeedingMetrics"/> exports them.</summary>
public enum SeedingCounter
{
    /// <summary>Payload bytes of blocks sent.</summary>
    BytesUploaded,
    BlocksServed,

    /// <summary>Gather sends issued; BlocksServed / BatchesSent is the average coalescing.</summary>
    BatchesSent,

    /// <summary>Sum over served blocks of the time from the request's arrival to its send completing, in Stopwatch ticks.</summary>
    BlockServeTicks,

    /// <summary>Batches that did not fit the socket buffer at once and finished with awaited sends (slow or saturated peers).</summary>
    SendsWouldBlock,

    /// <summary>Reads or sends of torrent data that failed (short read, EFAULT from a shrunk mapping).</summary>
    DiskErrors,
    MetadataPiecesServed,
    HandshakesAccepted,
    HandshakesUnknownTorrent,
    HandshakesInvalid,
    HandshakesTimedOut,

    /// <summary>Handshakes for a torrent still loading, held until it was ready (then counted again as accepted or refused).</summary>
    HandshakesHeld,
    ConnectionsAccepted,
    ConnectionsRefusedTotalLimit,
    ConnectionsRefusedAddressLimit,

    /// <summary>Level: connections open right now (accepted, not yet closed).</summary>
    PeersConnected,
    DisconnectsProtocolError,
    DisconnectsIdle,

    /// <summary>Level: requests queued and not yet sent, over all peers.</summary>
    SendQueueDepth,

    /// <summary>BEP 52 <c>hash request</c> messages received (malformed ones, which disconnect the peer, included).</summary>
    HashRequestsReceived,

    /// <summary><c>hashes</c> messages sent in answer.</summary>
    HashesSent,

    /// <summary>SHA-256 bytes in the <c>hashes</c> messages sent (32 per hash, proof hashes included).</summary>
    HashBytesSent,

    /// <summary>Level: peers past the handshake now that came with the v1 (SHA-1) info-hash.</summary>
    PeersJoinedV1,

    /// <summary>Level: peers past the handshake now that came with the v2 info-hash (SHA-256 cut to 20 bytes).</summary>
    PeersJoinedV2,

    /// <summary>Queued blocks found not in the page cache before a send: each hands a disk read to a reader thread.</summary>
    ReadAheads,

    /// <summary>Bytes of queued blocks advised (POSIX_FADV_WILLNEED) by those reads; a block still queued at the next one counts again.</summary>
    ReadAheadBytesAdvised,

    /// <summary>Major page faults taken by threads sending from mappings: disk reads inside sendmsg that read-ahead did not prevent.</summary>
    SendMajorFaults,
}

/// <summary>
/// Process-wide seeding counters (per batch, not per block, on the hot path): one interlocked add per event, no lock,
/// no allocation. Requests refused and hash requests rejected are counted by reason in sets of their own.
/// </summary>
public sealed class SeedingCounters : CounterSet<SeedingCounter>
{
    /// <summary>Time from a request arriving to its block's send completing, per block.</summary>
    public LatencyHistogram ServeLatency { get; } = new();

    /// <summary>Time from a queued block found not in the page cache to its bytes being read (reader queueing included).</summary>
    public LatencyHistogram ReadAheadLatency { get; } = new();

    /// <summary>Peer requests refused, by reason.</summary>
    public CounterSet<RejectReason> Rejected { get; } = new();

    /// <summary><c>hash reject</c> messages sent, by why the request was refused.</summary>
    public CounterSet<HashRejectReason> HashRejects { get; } = new();

    internal void BatchSent(long bytes, int blocks, long serveTicks)
    {
        Add(SeedingCounter.BytesUploaded, bytes);
        Add(SeedingCounter.BlocksServed, blocks);
        Increment(SeedingCounter.BatchesSent);
        Add(SeedingCounter.BlockServeTicks, serveTicks);
    }

    internal void ReadAheadStarted() => Increment(SeedingCounter.ReadAheads);
    internal void ReadAheadAdvised(long bytes) => Add(SeedingCounter.ReadAheadBytesAdvised, bytes);
    internal void SendFaulted(long majorFaults) => Add(SeedingCounter.SendMajorFaults, majorFaults);
    internal void DiskError() => Increment(SeedingCounter.DiskErrors);
    internal void SendWouldBlock() => Increment(SeedingCounter.SendsWouldBlock);
    internal void MetadataPieceServed() => Increment(SeedingCounter.MetadataPiecesServed);
    internal void Reject(RejectReason reason) => Rejected.Increment(reason);
    internal void HandshakeAccepted() => Increment(SeedingCounter.HandshakesAccepted);
    internal void HandshakeUnknownTorrent() => Increment(SeedingCounter.HandshakesUnknownTorrent);
    internal void HandshakeInvalid() => Increment(SeedingCounter.HandshakesInvalid);
    internal void HandshakeTimedOut() => Increment(SeedingCounter.HandshakesTimedOut);
    internal void HandshakeHeld() => Increment(SeedingCounter.HandshakesHeld);

    internal void ConnectionAccepted()
    {
        Increment(SeedingCounter.ConnectionsAccepted);
        Increment(SeedingCounter.PeersConnected);
    }

    internal void ConnectionClosed() => Decrement(SeedingCounter.PeersConnected);
    internal void ConnectionRefused(bool totalLimit) =>
        Increment(totalLimit ? SeedingCounter.ConnectionsRefusedTotalLimit : SeedingCounter.ConnectionsRefusedAddressLimit);
    internal void ProtocolError() => Increment(SeedingCounter.DisconnectsProtocolError);
    internal void IdleDisconnect() => Increment(SeedingCounter.DisconnectsIdle);
    internal void QueueDepthChanged(long delta) => Add(SeedingCounter.SendQueueDepth, delta);
    internal void HashRequestReceived() => Increment(SeedingCounter.HashRequestsReceived);

    internal void HashesAnswered(int hashBytes)
    {
        Increment(SeedingCounter.HashesSent);
        Add(SeedingCounter.HashBytesSent, hashBytes);
    }

    internal void PeerJoined(bool v2) => Increment(v2 ? SeedingCounter.PeersJoinedV2 : SeedingCounter.PeersJoinedV1);
    internal void PeerLeft(bool v2) => Decrement(v2 ? SeedingCounter.PeersJoinedV2 : SeedingCounter.PeersJoinedV1);
}

/// <summary>Why a request was dropped (and, with the fast extension, answered with reject_request).</summary>
public enum RejectReason
{
    Choked,
    QueueFull,
    TooLong,
    MetadataUnavailable,
    ShuttingDown,
}

/// <summary>Why a BEP 52 hash request was answered with <c>hash reject</c> (the peer stays connected).</summary>
public enum HashRejectReason
{
    /// <summary>The torrent is v1 only: it has no merkle trees.</summary>
    NotV2,

    /// <summary>The pieces root is not the root of one of the torrent's files with a piece layer.</summary>
    UnknownRoot,

    /// <summary>Base layer under the piece layer: single blocks' hashes, which the appliance does not keep.</summary>
    BelowPieceLayer,

    /// <summary>Base layer negative, or at or above the file's root.</summary>
    BadLayer,

    /// <summary>Index, count or proof layers outside the file's tree (or a count of zero).</summary>
    OutOfRange,

    /// <summary>More hashes than one request may ask for (8,192).</summary>
    TooMany,

    /// <summary>A valid request whose answer did not fit the peer's outbox at that moment.</summary>
    OutboxFull,
}
