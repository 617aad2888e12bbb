using Appliance.Protocol.Krpc;

namespace Appliance.Dht.Lookups;

public enum LookupKind : byte
{
    FindNode,
    GetPeers,
}

/// <summary>A node that answered a lookup, with the write token it gave (get_peers).</summary>
public sealed record LookupResponder(NodeId Id, CompactPeer Address, byte[] Token);

public sealed record LookupResult(NodeId Target, IReadOnlyList<LookupResponder> Closest, IReadOnlyList<CompactPeer> Peers, int QueriesSent);

/// <summary>
/// The iterative Kademlia lookup of BEP 5 as a pure state machine: candidates ordered by distance to the
/// target, at most alpha queries in flight, finished when the K closest live candidates have all answered.
/// The owner sends the queries it asks for and reports answers and timeouts.
/// </summary>
public sealed class Lookup
{
    /// <summary>Bounds the work one lookup can cause, whatever the network answers.</summary>
    public const int MaxCandidates = 128;
    public const int MaxQueries = 256;

    private readonly List<Candidate> _candidates = [];
    private readonly HashSet<UInt128> _seenAddresses = [];
    private readonly HashSet<CompactPeer> _peers = [];
    private readonly int _k;
    private readonly int _alpha;
    private int _inFlight;

    private readonly NodeId _self;

    /// <param name="self">Our own id: responders list us too, and we never ask ourselves.</param>
    public Lookup(NodeId target, LookupKind kind, int k, int alpha, NodeId self)
    {
        _self = self;
        Target = target;
        Kind = kind;
        _k = k;
        _alpha = alpha;
    }

    public NodeId Target { get; }
    public LookupKind Kind { get; }
    public int QueriesSent { get; private set; }
    public int InFlight => _inFlight;
    public IReadOnlyCollection<CompactPeer> Peers => _peers;

    /// <summary>A node with a known id (from our table or a response).</summary>
    public void AddCandidate(NodeId id, CompactPeer address)
    {
        if (id == _self || !address.IsValid || !_seenAddresses.Add(address.Address)) return;
        int index = 0;
        while (index < _candidates.Count && (_candidates[index].Id is not { } other || Target.CompareDistance(other, id) <= 0)) index++;
        if (index >= MaxCandidates) return;
        _candidates.Insert(index, new Candidate(id, address));
        if (_candidates.Count > MaxCandidates) _candidates.RemoveAt(_candidates.Count - 1);
    }

    /// <summary>A bootstrap address whose id we do not know yet: asked first.</summary>
    public void AddBootstrap(CompactPeer address)
    {
        if (!address.IsValid || !_seenAddresses.Add(address.Address)) return;
        _candidates.Insert(0, new Candidate(null, address));
    }

    /// <summary>Adds compact node infos: 26-byte entries (<c>nodes</c>) or, with <paramref name="ipv6"/>, 38-byte ones (<c>nodes6</c>).</summary>
    public void AddCompactNodes(ReadOnlySpan<byte> nodes, bool ipv6 = false)
    {
        int length = CompactNode.LengthFor(ipv6);
        for (int i = 0; i + length <= nodes.Length; i += length)
        {
            var entry = nodes.Slice(i, length);
            var address = entry[CompactNode.IdLength..];
            AddCandidate(new NodeId(entry[..CompactNode.IdLength]), ipv6 ? CompactPeer.ReadV6(address) : CompactPeer.Read(address));
        }
    }

    public void AddPeer(CompactPeer peer)
    {
        if (peer.IsValid && _peers.Count < 4096) _peers.Add(peer);
    }

    /// <summary>The next candidates to query now (each is marked in flight).</summary>
    public List<Candidate> NextQueries()
    {
        var next = new List<Candidate>();
        if (QueriesSent >= MaxQueries) return next;
        int alive = 0;
        foreach (var candidate in _candidates)
        {
            if (_inFlight >= _alpha || QueriesSent >= MaxQueries) break;
            if (candidate.State == CandidateState.Failed) continue;
            bool bootstrap = candidate.Id is null;
            if (!bootstrap && alive++ >= _k) break;
            if (candidate.State != CandidateState.Fresh) continue;
            candidate.State = CandidateState.InFlight;
            _inFlight++;
            QueriesSent++;
            next.Add(candidate);
        }
        return next;
    }

    public void OnResponse(Candidate candidate, NodeId id, ReadOnlySpan<byte> token)
    {
        if (candidate.State != CandidateState.InFlight) return;
        _inFlight--;
        candidate.State = CandidateState.Responded;
        candidate.Token = token.ToArray();
        if (candidate.Id is null || candidate.Id != id)
        {
            // A bootstrap node (or one that changed its id) takes its place by its real id.
            _candidates.Remove(candidate);
            candidate.Id = id;
            int index = 0;
            while (index < _candidates.Count && (_candidates[index].Id is not { } other || Target.CompareDistance(other, id) <= 0)) index++;
            _candidates.Insert(index, candidate);
        }
    }

    public void OnFailure(Candidate candidate)
    {
        if (candidate.State != CandidateState.InFlight) return;
        _inFlight--;
        candidate.State = CandidateState.Failed;
    }

    /// <summary>Nothing in flight and nothing left worth asking.</summary>
    public bool IsDone
    {
        get
        {
            if (_inFlight > 0) return false;
            if (QueriesSent >= MaxQueries) return true;
            int alive = 0;
            foreach (var candidate in _candidates)
            {
                if (candidate.State == CandidateState.Failed) continue;
                if (candidate.State == CandidateState.Fresh) return false;
                if (candidate.Id is not null && ++alive >= _k) break;
            }
            return true;
        }
    }

    public LookupResult Result()
    {
        var closest = new List<LookupResponder>(_k);
        foreach (var candidate in _candidates)
        {
            if (candidate.State != CandidateState.Responded || candidate.Id is not { } id) continue;
            closest.Add(new LookupResponder(id, candidate.Address, candidate.Token ?? []));
            if (closest.Count == _k) break;
        }
        return new LookupResult(Target, closest, [.. _peers], QueriesSent);
    }

    public enum CandidateState : byte
    {
        Fresh,
        InFlight,
        Responded,
        Failed,
    }

    public sealed class Candidate(NodeId? id, CompactPeer address)
    {
        public NodeId? Id { get; internal set; } = id;
        public CompactPeer Address { get; } = address;
        public CandidateState State { get; internal set; }
        public byte[]? Token { get; internal set; }
    }
}
