using Appliance.Metrics.Counters;

namespace Appliance.Seeding;

/// <summary>
/// Process-wide seeding counters: plain fields updated with Interlocked (per batch, not per block, on the hot path),
/// read by the metrics exporter through the public properties. Costs nothing to keep; no lock, no allocation.
/// </summary>
public sealed class SeedingCounters
{
    private long _bytesUploaded;
    private long _blocksServed;
    private long _batchesSent;
    private long _gatherSendsWouldBlock;
    private long _metadataPiecesServed;
    private long _handshakesAccepted;
    private long _handshakesUnknownTorrent;
    private long _handshakesInvalid;
    private long _handshakesTimedOut;
    private long _connectionsAccepted;
    private long _connectionsRefusedTotalLimit;
    private long _connectionsRefusedAddressLimit;
    private long _peersConnected;
    private long _disconnectsProtocolError;
    private long _disconnectsIdle;
    private long _sendQueueDepth;
    private long _blockServeTicks;
    private long _diskErrors;
    private readonly long[] _rejected = new long[Enum.GetValues<RejectReason>().Length];

    /// <summary>Time from a request arriving to its block's send completing, per block.</summary>
    public LatencyHistogram ServeLatency { get; } = new();

    /// <summary>Reads or sends of torrent data that failed (short read, EFAULT from a shrunk mapping).</summary>
    public long DiskErrors => Interlocked.Read(ref _diskErrors);

    public long BytesUploaded => Interlocked.Read(ref _bytesUploaded);
    public long BlocksServed => Interlocked.Read(ref _blocksServed);

    /// <summary>Gather sends issued; BlocksServed / BatchesSent is the average coalescing.</summary>
    public long BatchesSent => Interlocked.Read(ref _batchesSent);

    /// <summary>Batches that did not fit the socket buffer at once and finished with awaited sends (slow or saturated peers).</summary>
    public long SendsWouldBlock => Interlocked.Read(ref _gatherSendsWouldBlock);

    public long MetadataPiecesServed => Interlocked.Read(ref _metadataPiecesServed);
    public long HandshakesAccepted => Interlocked.Read(ref _handshakesAccepted);
    public long HandshakesUnknownTorrent => Interlocked.Read(ref _handshakesUnknownTorrent);
    public long HandshakesInvalid => Interlocked.Read(ref _handshakesInvalid);
    public long HandshakesTimedOut => Interlocked.Read(ref _handshakesTimedOut);
    public long ConnectionsAccepted => Interlocked.Read(ref _connectionsAccepted);
    public long ConnectionsRefusedTotalLimit => Interlocked.Read(ref _connectionsRefusedTotalLimit);
    public long ConnectionsRefusedAddressLimit => Interlocked.Read(ref _connectionsRefusedAddressLimit);

    /// <summary>Connections open right now (accepted, not yet closed).</summary>
    public long PeersConnected => Interlocked.Read(ref _peersConnected);

    public long DisconnectsProtocolError => Interlocked.Read(ref _disconnectsProtocolError);
    public long DisconnectsIdle => Interlocked.Read(ref _disconnectsIdle);

    /// <summary>Requests queued and not yet sent, over all peers.</summary>
    public long SendQueueDepth => Interlocked.Read(ref _sendQueueDepth);

    /// <summary>Sum over served blocks of the time from the request's arrival to its send completing, in Stopwatch ticks.</summary>
    public long BlockServeTicks => Interlocked.Read(ref _blockServeTicks);

    public long Rejected(RejectReason reason) => Interlocked.Read(ref _rejected[(int)reason]);

    internal void BatchSent(long bytes, int blocks, long serveTicks)
    {
        Interlocked.Add(ref _bytesUploaded, bytes);
        Interlocked.Add(ref _blocksServed, blocks);
        Interlocked.Increment(ref _batchesSent);
        Interlocked.Add(ref _blockServeTicks, serveTicks);
    }

    internal void DiskError() => Interlocked.Increment(ref _diskErrors);
    internal void SendWouldBlock() => Interlocked.Increment(ref _gatherSendsWouldBlock);
    internal void MetadataPieceServed() => Interlocked.Increment(ref _metadataPiecesServed);
    internal void Reject(RejectReason reason) => Interlocked.Increment(ref _rejected[(int)reason]);
    internal void HandshakeAccepted() => Interlocked.Increment(ref _handshakesAccepted);
    internal void HandshakeUnknownTorrent() => Interlocked.Increment(ref _handshakesUnknownTorrent);
    internal void HandshakeInvalid() => Interlocked.Increment(ref _handshakesInvalid);
    internal void HandshakeTimedOut() => Interlocked.Increment(ref _handshakesTimedOut);
    internal void ConnectionAccepted() { Interlocked.Increment(ref _connectionsAccepted); Interlocked.Increment(ref _peersConnected); }
    internal void ConnectionClosed() => Interlocked.Decrement(ref _peersConnected);
    internal void ConnectionRefused(bool totalLimit) => Interlocked.Increment(ref totalLimit ? ref _connectionsRefusedTotalLimit : ref _connectionsRefusedAddressLimit);
    internal void ProtocolError() => Interlocked.Increment(ref _disconnectsProtocolError);
    internal void IdleDisconnect() => Interlocked.Increment(ref _disconnectsIdle);
    internal void QueueDepthChanged(long delta) => Interlocked.Add(ref _sendQueueDepth, delta);
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
