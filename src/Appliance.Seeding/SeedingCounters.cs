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
    private long _handshakesHeld;
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
    private long _hashRequestsReceived;
    private long _hashesSent;
    private long _hashBytesSent;
    private long _peersJoinedByV1;
    private long _peersJoinedByV2;

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

    /// <summary>Handshakes for a torrent still loading, held until it was ready (then counted again as accepted or refused).</summary>
    public long HandshakesHeld => Interlocked.Read(ref _handshakesHeld);
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

    /// <summary>BEP 52 <c>hash request</c> messages received (malformed ones, which disconnect the peer, included).</summary>
    public long HashRequestsReceived => Interlocked.Read(ref _hashRequestsReceived);

    /// <summary><c>hashes</c> messages sent in answer.</summary>
    public long HashesSent => Interlocked.Read(ref _hashesSent);

    /// <summary>SHA-256 bytes in the <c>hashes</c> messages sent (32 per hash, proof hashes included).</summary>
    public long HashBytesSent => Interlocked.Read(ref _hashBytesSent);

    /// <summary><c>hash reject</c> messages sent, by why the request was refused.</summary>
    public ReasonCounters<HashRejectReason> HashRejects { get; } = new();

    /// <summary>Peers past the handshake now, by the info-hash they came with: v1 (SHA-1) or v2 (SHA-256 cut to 20 bytes).</summary>
    public long PeersJoined(bool v2) => Interlocked.Read(ref v2 ? ref _peersJoinedByV2 : ref _peersJoinedByV1);

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
    internal void HandshakeHeld() => Interlocked.Increment(ref _handshakesHeld);
    internal void ConnectionAccepted() { Interlocked.Increment(ref _connectionsAccepted); Interlocked.Increment(ref _peersConnected); }
    internal void ConnectionClosed() => Interlocked.Decrement(ref _peersConnected);
    internal void ConnectionRefused(bool totalLimit) => Interlocked.Increment(ref totalLimit ? ref _connectionsRefusedTotalLimit : ref _connectionsRefusedAddressLimit);
    internal void ProtocolError() => Interlocked.Increment(ref _disconnectsProtocolError);
    internal void IdleDisconnect() => Interlocked.Increment(ref _disconnectsIdle);
    internal void QueueDepthChanged(long delta) => Interlocked.Add(ref _sendQueueDepth, delta);
    internal void HashRequestReceived() => Interlocked.Increment(ref _hashRequestsReceived);

    internal void HashesAnswered(int hashBytes)
    {
        Interlocked.Increment(ref _hashesSent);
        Interlocked.Add(ref _hashBytesSent, hashBytes);
    }

    internal void PeerJoined(bool v2) => Interlocked.Increment(ref v2 ? ref _peersJoinedByV2 : ref _peersJoinedByV1);
    internal void PeerLeft(bool v2) => Interlocked.Decrement(ref v2 ? ref _peersJoinedByV2 : ref _peersJoinedByV1);
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
