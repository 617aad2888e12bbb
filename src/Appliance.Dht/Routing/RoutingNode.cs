using Appliance.Protocol.Krpc;

namespace Appliance.Dht.Routing;

public enum NodeState : byte
{
    Good,
    Questionable,
    Bad,
}

/// <summary>A node in the routing table with the timestamps BEP 5 uses to judge it.</summary>
public sealed class RoutingNode(NodeId id, CompactPeer address, DateTimeOffset now)
{
    /// <summary>BEP 5: a node that failed this many queries in a row is bad.</summary>
    public const int FailuresBeforeBad = 2;

    public static readonly TimeSpan GoodFor = TimeSpan.FromMinutes(15);

    public NodeId Id { get; } = id;
    public CompactPeer Address { get; } = address;
    public DateTimeOffset LastReply { get; internal set; } = now;
    public DateTimeOffset LastQueryFromNode { get; internal set; } = DateTimeOffset.MinValue;
    public int ConsecutiveFailures { get; internal set; }

    /// <summary>
    /// BEP 5: good if it replied to us within 15 minutes, or replied once and queried us within 15 minutes;
    /// bad after repeated failures; questionable otherwise.
    /// </summary>
    public NodeState StateAt(DateTimeOffset now)
    {
        if (ConsecutiveFailures >= FailuresBeforeBad) return NodeState.Bad;
        if (now - LastReply < GoodFor || now - LastQueryFromNode < GoodFor) return NodeState.Good;
        return NodeState.Questionable;
    }
}
