using Appliance.Protocol.Krpc;

namespace Appliance.Dht;

/// <summary>
/// What the DHT node did, as plain counters the metrics exporter reads (queries by method are indexed by
/// <see cref="KrpcMethod"/>). Written under the node's lock, read lock-free.
/// </summary>
public sealed class DhtCounters
{
    private const int Methods = (int)KrpcMethod.AnnouncePeer + 1;

    private readonly long[] _queriesReceived = new long[Methods];
    private readonly long[] _queriesSent = new long[Methods];
    private long _responsesSent;
    private long _errorsSent;
    private long _responsesReceived;
    private long _errorsReceived;
    private long _timeouts;
    private long _malformed;
    private long _rateLimited;
    private long _unknownTransactions;
    private long _badTokens;
    private long _peersRefused;
    private long _idsNotMatchingAddress;
    private long _tableSize;
    private long _peersStored;

    public long QueriesReceived(KrpcMethod method) => Volatile.Read(ref _queriesReceived[(int)method]);
    public long QueriesSent(KrpcMethod method) => Volatile.Read(ref _queriesSent[(int)method]);
    public long ResponsesSent => Volatile.Read(ref _responsesSent);
    public long ErrorsSent => Volatile.Read(ref _errorsSent);
    public long ResponsesReceived => Volatile.Read(ref _responsesReceived);
    public long ErrorsReceived => Volatile.Read(ref _errorsReceived);
    /// <summary>Our queries that got no answer in time.</summary>
    public long Timeouts => Volatile.Read(ref _timeouts);
    public long MalformedPackets => Volatile.Read(ref _malformed);
    public long RateLimitedPackets => Volatile.Read(ref _rateLimited);
    public long UnknownTransactions => Volatile.Read(ref _unknownTransactions);
    public long BadTokens => Volatile.Read(ref _badTokens);
    /// <summary>announce_peer refused because the peer store is at a cap.</summary>
    public long PeersRefused => Volatile.Read(ref _peersRefused);
    /// <summary>Nodes whose id does not follow BEP 42 for their address (counted, not refused).</summary>
    public long IdsNotMatchingAddress => Volatile.Read(ref _idsNotMatchingAddress);
    public long TableSize => Volatile.Read(ref _tableSize);
    public long PeersStored => Volatile.Read(ref _peersStored);

    internal void QueryReceived(KrpcMethod method) => Interlocked.Increment(ref _queriesReceived[(int)method]);
    internal void QuerySent(KrpcMethod method) => Interlocked.Increment(ref _queriesSent[(int)method]);
    internal void ResponseSent() => Interlocked.Increment(ref _responsesSent);
    internal void ErrorSent() => Interlocked.Increment(ref _errorsSent);
    internal void ResponseReceived() => Interlocked.Increment(ref _responsesReceived);
    internal void ErrorReceived() => Interlocked.Increment(ref _errorsReceived);
    internal void Timeout() => Interlocked.Increment(ref _timeouts);
    internal void Malformed() => Interlocked.Increment(ref _malformed);
    internal void RateLimited() => Interlocked.Increment(ref _rateLimited);
    internal void UnknownTransaction() => Interlocked.Increment(ref _unknownTransactions);
    internal void BadToken() => Interlocked.Increment(ref _badTokens);
    internal void PeerRefused() => Interlocked.Increment(ref _peersRefused);
    internal void IdNotMatchingAddress() => Interlocked.Increment(ref _idsNotMatchingAddress);
    internal void SetTableSize(int value) => Volatile.Write(ref _tableSize, value);
    internal void SetPeersStored(int value) => Volatile.Write(ref _peersStored, value);
}
