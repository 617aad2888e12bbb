using Appliance.Metrics.Counters;
using Appliance.Protocol.Krpc;

namespace Appliance.Dht;

/// <summary>What a DHT node counts, one slot each in <see cref="DhtCounters"/>; <see cref="DhtMetrics"/> exports them.</summary>
public enum DhtCounter
{
    ResponsesSent,
    ErrorsSent,
    ResponsesReceived,
    ErrorsReceived,

    /// <summary>Our queries that got no answer in time.</summary>
    Timeouts,
    MalformedPackets,
    RateLimitedPackets,
    UnknownTransactions,
    BadTokens,

    /// <summary>announce_peer refused because the peer store is at a cap.</summary>
    PeersRefused,

    /// <summary>Nodes whose id does not follow BEP 42 for their address (counted, not refused).</summary>
    IdsNotMatchingAddress,

    /// <summary>Level: nodes in the routing table.</summary>
    TableSize,

    /// <summary>Level: peers stored for announce_peer.</summary>
    PeersStored,
}

/// <summary>What one DHT node (one address family) did; queries are counted by method in sets of their own.</summary>
public sealed class DhtCounters : CounterSet<DhtCounter>
{
    public CounterSet<KrpcMethod> QueriesReceived { get; } = new();
    public CounterSet<KrpcMethod> QueriesSent { get; } = new();

    internal void QueryReceived(KrpcMethod method) => QueriesReceived.Increment(method);
    internal void QuerySent(KrpcMethod method) => QueriesSent.Increment(method);
    internal void ResponseSent() => Increment(DhtCounter.ResponsesSent);
    internal void ErrorSent() => Increment(DhtCounter.ErrorsSent);
    internal void ResponseReceived() => Increment(DhtCounter.ResponsesReceived);
    internal void ErrorReceived() => Increment(DhtCounter.ErrorsReceived);
    internal void Timeout() => Increment(DhtCounter.Timeouts);
    internal void Malformed() => Increment(DhtCounter.MalformedPackets);
    internal void RateLimited() => Increment(DhtCounter.RateLimitedPackets);
    internal void UnknownTransaction() => Increment(DhtCounter.UnknownTransactions);
    internal void BadToken() => Increment(DhtCounter.BadTokens);
    internal void PeerRefused() => Increment(DhtCounter.PeersRefused);
    internal void IdNotMatchingAddress() => Increment(DhtCounter.IdsNotMatchingAddress);
    internal void SetTableSize(int value) => Set(DhtCounter.TableSize, value);
    internal void SetPeersStored(int value) => Set(DhtCounter.PeersStored, value);
}
