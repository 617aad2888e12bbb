using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;

namespace Appliance.Dht.Peers;

/// <summary>Caps that bound the memory the peers announced to us can take.</summary>
public sealed record PeerStoreLimits(int MaxPeersPerInfoHash = 200, int MaxInfoHashes = 20_000, int MaxPeers = 200_000)
{
    /// <summary>BEP 5 leaves it open; libtorrent and others keep announced peers for 30 minutes.</summary>
    public TimeSpan PeerLifetime { get; init; } = TimeSpan.FromMinutes(30);
}

/// <summary>
/// Peers announced to us with announce_peer, by info-hash, each kept for 30 minutes. One entry per IP address and
/// info-hash, so one host cannot fill a swarm's list; our own entries (<see cref="AnnounceLocal"/>) are never evicted.
/// </summary>
public sealed class PeerStore(PeerStoreLimits limits, TimeProvider time)
{
    private readonly Dictionary<NodeId, List<StoredPeer>> _swarms = [];
    private int _total;

    public int Count => _total;

    public int InfoHashCount => _swarms.Count;

    /// <summary>Adds or refreshes a peer; false when a cap refuses it.</summary>
    public bool Announce(NodeId infoHash, CompactPeer peer) => Add(infoHash, peer, local: false);

    /// <summary>Lists ourselves for a torrent we seed: the entry is refreshed like any other but never evicted for room.</summary>
    public bool AnnounceLocal(NodeId infoHash, CompactPeer peer) => Add(infoHash, peer, local: true);

    private bool Add(NodeId infoHash, CompactPeer peer, bool local)
    {
        long expires = time.GetUtcNow().Add(limits.PeerLifetime).UtcTicks;
        if (!_swarms.TryGetValue(infoHash, out var swarm))
        {
            if (_swarms.Count >= limits.MaxInfoHashes || _total >= limits.MaxPeers)
            {
                Purge();
                if (_swarms.Count >= limits.MaxInfoHashes || _total >= limits.MaxPeers) return false;
            }
            swarm = [];
            _swarms[infoHash] = swarm;
        }
        for (int i = 0; i < swarm.Count; i++)
        {
            if (swarm[i].Peer.Address != peer.Address) continue;
            // Another announce from the same address replaces its entry (a new port); it never replaces ours.
            if (swarm[i].Local && !local) return true;
            swarm[i] = new StoredPeer(peer, expires, local);
            return true;
        }
        if (swarm.Count >= limits.MaxPeersPerInfoHash)
        {
            // The full swarm gives up the announced entry closest to expiry.
            int oldest = -1;
            for (int i = 0; i < swarm.Count; i++)
            {
                if (!swarm[i].Local && (oldest < 0 || swarm[i].ExpiresTicks < swarm[oldest].ExpiresTicks)) oldest = i;
            }
            if (oldest < 0) return false;
            swarm[oldest] = new StoredPeer(peer, expires, local);
            return true;
        }
        if (_total >= limits.MaxPeers) return false;
        swarm.Add(new StoredPeer(peer, expires, local));
        _total++;
        return true;
    }

    public int CountFor(NodeId infoHash)
    {
        if (!_swarms.TryGetValue(infoHash, out var swarm)) return 0;
        long now = time.GetUtcNow().UtcTicks;
        int live = 0;
        foreach (var p in swarm) if (p.ExpiresTicks > now) live++;
        return live;
    }

    /// <summary>Writes up to <paramref name="max"/> live peers as a <c>values</c> list, starting at a random offset.</summary>
    public int WriteValues(NodeId infoHash, ref BencodeWriter writer, int max)
    {
        writer.WriteListStart();
        int written = 0;
        if (_swarms.TryGetValue(infoHash, out var swarm) && swarm.Count > 0)
        {
            long now = time.GetUtcNow().UtcTicks;
            int start = Random.Shared.Next(swarm.Count);
            Span<byte> compact = stackalloc byte[CompactPeer.V6Length];
            for (int i = 0; i < swarm.Count && written < max; i++)
            {
                var stored = swarm[(start + i) % swarm.Count];
                if (stored.ExpiresTicks <= now) continue;
                stored.Peer.Write(compact);
                writer.WriteString(compact[..stored.Peer.CompactLength]);
                written++;
            }
        }
        writer.WriteEnd();
        return written;
    }

    public List<CompactPeer> PeersFor(NodeId infoHash)
    {
        var result = new List<CompactPeer>();
        if (!_swarms.TryGetValue(infoHash, out var swarm)) return result;
        long now = time.GetUtcNow().UtcTicks;
        foreach (var p in swarm) if (p.ExpiresTicks > now) result.Add(p.Peer);
        return result;
    }

    /// <summary>Drops expired peers and empty swarms.</summary>
    public void Purge()
    {
        long now = time.GetUtcNow().UtcTicks;
        List<NodeId>? empty = null;
        foreach (var (hash, swarm) in _swarms)
        {
            _total -= swarm.RemoveAll(p => p.ExpiresTicks <= now);
            if (swarm.Count == 0) (empty ??= []).Add(hash);
        }
        if (empty is null) return;
        foreach (var hash in empty) _swarms.Remove(hash);
    }

    private readonly record struct StoredPeer(CompactPeer Peer, long ExpiresTicks, bool Local);
}
