using Appliance.Protocol.Krpc;

namespace Appliance.Dht.Routing;

public enum InsertOutcome : byte
{
    Added,
    Refreshed,
    ReplacedBadNode,
    /// <summary>The bucket is full of good or questionable nodes; the node waits in the replacement cache.</summary>
    Cached,
    /// <summary>Another id already holds this IP (one entry per IP), or the id is our own.</summary>
    Refused,
}

/// <summary>
/// The BEP 5 routing table: buckets of at most K nodes, where only the bucket covering our own id splits,
/// a replacement cache per bucket, one entry per IP address. Not thread-safe: its owner serializes access.
/// </summary>
public sealed class RoutingTable
{
    public const int K = 8;
    public static readonly TimeSpan RefreshAfter = TimeSpan.FromMinutes(15);

    private readonly List<Bucket> _buckets = [];
    private readonly Dictionary<UInt128, RoutingNode> _byAddress = [];
    private readonly TimeProvider _time;
    private readonly RoutingNode[] _closest = new RoutingNode[K];

    public RoutingTable(NodeId ownId, TimeProvider time)
    {
        OwnId = ownId;
        _time = time;
        _buckets.Add(new Bucket(time.GetUtcNow()));
    }

    public NodeId OwnId { get; }

    public int Count => _byAddress.Count;

    public int BucketCount => _buckets.Count;

    private int BucketIndexOf(NodeId id) => Math.Min(OwnId.CommonPrefixLength(id), _buckets.Count - 1);

    public RoutingNode? Find(CompactPeer address) => _byAddress.GetValueOrDefault(address.Address) is { } n && n.Address == address ? n : null;

    /// <summary>Would a node with this id and address find room (so it is worth verifying with a ping)?</summary>
    public bool HasRoomFor(NodeId id, CompactPeer address)
    {
        if (id == OwnId || _byAddress.ContainsKey(address.Address)) return false;
        int index = BucketIndexOf(id);
        var bucket = _buckets[index];
        if (bucket.Nodes.Count < K) return true;
        if (index == _buckets.Count - 1 && _buckets.Count < NodeId.Bits) return true;
        return IndexOfBad(bucket.Nodes, _time.GetUtcNow()) >= 0;
    }

    /// <summary>Records a node that answered one of our queries (the only way a node enters the table).</summary>
    public InsertOutcome AddVerified(NodeId id, CompactPeer address)
    {
        var now = _time.GetUtcNow();
        if (id == OwnId || !address.IsValid) return InsertOutcome.Refused;
        if (_byAddress.TryGetValue(address.Address, out var existing))
        {
            if (existing.Id != id || existing.Address.Port != address.Port) return InsertOutcome.Refused;
            existing.LastReply = now;
            existing.ConsecutiveFailures = 0;
            _buckets[BucketIndexOf(id)].LastChanged = now;
            return InsertOutcome.Refreshed;
        }
        while (true)
        {
            int index = BucketIndexOf(id);
            var bucket = _buckets[index];
            if (bucket.Nodes.Count < K)
            {
                Add(bucket, new RoutingNode(id, address, now), now);
                bucket.Replacements.RemoveAll(r => r.Address.Address == address.Address);
                return InsertOutcome.Added;
            }
            if (index == _buckets.Count - 1 && _buckets.Count < NodeId.Bits)
            {
                Split();
                continue;
            }
            int bad = IndexOfBad(bucket.Nodes, now);
            if (bad >= 0)
            {
                _byAddress.Remove(bucket.Nodes[bad].Address.Address);
                bucket.Nodes.RemoveAt(bad);
                Add(bucket, new RoutingNode(id, address, now), now);
                return InsertOutcome.ReplacedBadNode;
            }
            bucket.Replacements.RemoveAll(r => r.Id == id || r.Address.Address == address.Address);
            if (bucket.Replacements.Count >= K) bucket.Replacements.RemoveAt(0);
            bucket.Replacements.Add(new RoutingNode(id, address, now));
            return InsertOutcome.Cached;
        }
    }

    /// <summary>The questionable nodes of the bucket <paramref name="id"/> falls in: ping them to make room.</summary>
    public IEnumerable<RoutingNode> QuestionableNear(NodeId id)
    {
        var now = _time.GetUtcNow();
        foreach (var node in _buckets[BucketIndexOf(id)].Nodes)
        {
            if (node.StateAt(now) == NodeState.Questionable) yield return node;
        }
    }

    /// <summary>A known node sent us a query: it stays good while it is active.</summary>
    public void OnQueryFrom(NodeId id, CompactPeer address)
    {
        var node = Find(address);
        if (node is not null && node.Id == id) node.LastQueryFromNode = _time.GetUtcNow();
    }

    /// <summary>A query to this node timed out; a bad node gives its place to the newest replacement.</summary>
    public void OnFailure(CompactPeer address)
    {
        var node = Find(address);
        if (node is null) return;
        node.ConsecutiveFailures++;
        var now = _time.GetUtcNow();
        if (node.StateAt(now) != NodeState.Bad) return;
        var bucket = _buckets[BucketIndexOf(node.Id)];
        if (bucket.Replacements.Count == 0) return;
        var replacement = bucket.Replacements[^1];
        bucket.Replacements.RemoveAt(bucket.Replacements.Count - 1);
        bucket.Nodes.Remove(node);
        _byAddress.Remove(node.Address.Address);
        if (!_byAddress.ContainsKey(replacement.Address.Address)) Add(bucket, replacement, now);
    }

    /// <summary>Writes the compact infos (26 bytes each over IPv4, 38 over IPv6: one table holds one family) of up to <paramref name="max"/> non-bad nodes closest to <paramref name="target"/>; returns how many.</summary>
    public int WriteClosest(NodeId target, Span<byte> destination, int max)
    {
        int count = FillClosest(target, Math.Min(max, K));
        for (int i = 0; i < count; i++)
        {
            int length = CompactNode.IdLength + _closest[i].Address.CompactLength;
            var slot = destination.Slice(i * length, length);
            _closest[i].Id.CopyTo(slot);
            _closest[i].Address.Write(slot[CompactNode.IdLength..]);
        }
        return count;
    }

    public List<RoutingNode> Closest(NodeId target, int max)
    {
        int count = FillClosest(target, Math.Min(max, K));
        return [.. _closest.AsSpan(0, count)];
    }

    private int FillClosest(NodeId target, int max)
    {
        var now = _time.GetUtcNow();
        int count = 0;
        foreach (var bucket in _buckets)
        {
            foreach (var node in bucket.Nodes)
            {
                if (node.StateAt(now) == NodeState.Bad) continue;
                if (count == max && target.CompareDistance(node.Id, _closest[count - 1].Id) >= 0) continue;
                int position = count == max ? count - 1 : count++;
                while (position > 0 && target.CompareDistance(node.Id, _closest[position - 1].Id) < 0)
                {
                    _closest[position] = _closest[position - 1];
                    position--;
                }
                _closest[position] = node;
            }
        }
        return count;
    }

    /// <summary>Random targets inside buckets idle for 15 minutes (BEP 5 refresh); marks them refreshed.</summary>
    public List<NodeId> TakeRefreshTargets()
    {
        var now = _time.GetUtcNow();
        var targets = new List<NodeId>();
        for (int i = 0; i < _buckets.Count; i++)
        {
            if (now - _buckets[i].LastChanged < RefreshAfter) continue;
            _buckets[i].LastChanged = now;
            targets.Add(OwnId.RandomWithPrefix(i));
        }
        return targets;
    }

    public List<RoutingNode> AllNodes()
    {
        var all = new List<RoutingNode>(Count);
        foreach (var bucket in _buckets) all.AddRange(bucket.Nodes);
        return all;
    }

    private static int IndexOfBad(List<RoutingNode> nodes, DateTimeOffset now)
    {
        for (int i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].StateAt(now) == NodeState.Bad) return i;
        }
        return -1;
    }

    private void Add(Bucket bucket, RoutingNode node, DateTimeOffset now)
    {
        bucket.Nodes.Add(node);
        bucket.LastChanged = now;
        _byAddress[node.Address.Address] = node;
    }

    private void Split()
    {
        var last = _buckets[^1];
        var next = new Bucket(last.LastChanged);
        int depth = _buckets.Count;
        _buckets.Add(next);
        MoveDeeper(last.Nodes, next.Nodes, depth);
        MoveDeeper(last.Replacements, next.Replacements, depth);
    }

    private void MoveDeeper(List<RoutingNode> from, List<RoutingNode> to, int depth)
    {
        for (int i = from.Count - 1; i >= 0; i--)
        {
            if (OwnId.CommonPrefixLength(from[i].Id) < depth) continue;
            to.Insert(0, from[i]);
            from.RemoveAt(i);
        }
    }

    private sealed class Bucket(DateTimeOffset created)
    {
        public List<RoutingNode> Nodes { get; } = new(K);
        public List<RoutingNode> Replacements { get; } = [];
        public DateTimeOffset LastChanged { get; set; } = created;
    }
}
