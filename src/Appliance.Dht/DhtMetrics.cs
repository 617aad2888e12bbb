using Appliance.Metrics.Counters;
using Appliance.Metrics.Export;
using Appliance.Protocol.Krpc;

namespace Appliance.Dht;

/// <summary>
/// The DHT part of the metric catalogue (docs/metrics.md). Every series carries <c>family="ipv4"|"ipv6"</c>: the node per
/// address family (BEP 32) counts on its own, and a sum over the label gives the whole DHT. The IPv6 counters stay at
/// zero where the peer port is IPv4 only.
/// </summary>
public static class DhtMetrics
{
    public const string DhtNodes = "appliance_dht_nodes";
    public const string DhtQueriesReceived = "appliance_dht_queries_received_total";
    public const string DhtQueriesSent = "appliance_dht_queries_sent_total";
    public const string DhtRepliesSent = "appliance_dht_replies_sent_total";
    public const string DhtRepliesReceived = "appliance_dht_replies_received_total";
    public const string DhtDroppedPackets = "appliance_dht_dropped_packets_total";
    public const string DhtPeersStored = "appliance_dht_peers_stored";
    public const string RateLimitedPackets = "appliance_rate_limited_packets_total";

    private static readonly (string Label, KrpcMethod Method)[] QueryTypes =
    [
        ("ping", KrpcMethod.Ping), ("find_node", KrpcMethod.FindNode), ("get_peers", KrpcMethod.GetPeers),
        ("announce_peer", KrpcMethod.AnnouncePeer), ("unknown", KrpcMethod.Unknown),
    ];

    public static void Register(MetricsExporter e, DhtCounters ipv4, DhtCounters ipv6)
    {
        (string Family, DhtCounters Counters)[] nodes = [("ipv4", ipv4), ("ipv6", ipv6)];
        e.AddGauge(DhtNodes, "Nodes in the DHT routing table", ["family"], PerFamily(DhtCounter.TableSize));
        e.AddGauge(DhtPeersStored, "Peers stored for announce_peer", ["family"], PerFamily(DhtCounter.PeersStored));
        e.AddCounter(DhtQueriesReceived, "KRPC queries received by type", ["type", "family"], Queries(c => c.QueriesReceived));
        e.AddCounter(DhtQueriesSent, "KRPC queries sent by type", ["type", "family"], Queries(c => c.QueriesSent));
        e.AddCounter(DhtRepliesSent, "Replies to received queries by result", ["result", "family"],
            ByFamily(("response", DhtCounter.ResponsesSent), ("error", DhtCounter.ErrorsSent)));
        e.AddCounter(DhtRepliesReceived, "Outcomes of sent queries", ["result", "family"],
            ByFamily(("response", DhtCounter.ResponsesReceived), ("error", DhtCounter.ErrorsReceived), ("timeout", DhtCounter.Timeouts)));
        e.AddCounter(DhtDroppedPackets, "DHT datagrams dropped, by reason", ["reason", "family"],
            ByFamily(("malformed", DhtCounter.MalformedPackets), ("unknown_transaction", DhtCounter.UnknownTransactions),
                ("bad_token", DhtCounter.BadTokens), ("peer_store_full", DhtCounter.PeersRefused)));
        e.AddCounter(RateLimitedPackets, "UDP packets dropped by a per-source rate limit", ["family"], PerFamily(DhtCounter.RateLimitedPackets));

        LabelledSeries[] PerFamily(DhtCounter counter) =>
            [.. nodes.Select(n => new LabelledSeries([n.Family], () => n.Counters.Read(counter)))];

        LabelledSeries[] ByFamily(params (string Label, DhtCounter Counter)[] values) =>
            [.. nodes.SelectMany(n => values.Select(v => new LabelledSeries([v.Label, n.Family], () => n.Counters.Read(v.Counter))))];

        LabelledSeries[] Queries(Func<DhtCounters, CounterSet<KrpcMethod>> set) =>
            [.. nodes.SelectMany(n => QueryTypes.Select(q => new LabelledSeries([q.Label, n.Family], () => set(n.Counters).Read(q.Method))))];
    }
}
