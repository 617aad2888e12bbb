using System.Collections.Concurrent;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;

namespace Appliance.Trackers.Embedded;

public sealed class SwarmStoreOptions
{
    /// <summary>Re-announce interval told to clients.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(30);

    public TimeSpan MinInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A peer not heard from for this long is dropped (default: two intervals and a minute).</summary>
    public TimeSpan? PeerTimeout { get; init; }

    public int DefaultNumWant { get; init; } = 50;
    public int MaxNumWant { get; init; } = 200;
    public int MaxPeersPerSwarm { get; init; } = 100_000;
    public int MaxSwarms { get; init; } = 100_000;

    /// <summary>Track any info-hash (otherwise only allowed ones).</summary>
    public bool Open { get; init; }

    public TimeSpan GetPeerTimeout() => PeerTimeout ?? 2 * Interval + TimeSpan.FromMinutes(1);
}

public enum AnnounceStatus
{
    Ok,
    NotTracked,
    SwarmLimit,
}

/// <summary>The result of one announce: counts, and how many compact bytes were written for each family.</summary>
public readonly record struct SwarmAnswer(AnnounceStatus Status, int Complete, int Incomplete, int V4Bytes, int V6Bytes);

/// <summary>
/// The embedded tracker's state: peers of each swarm with expiry, the policy of which info-hashes are tracked, and
/// peer selection. No I/O: the HTTP and UDP front ends call it; time comes from a <see cref="TimeProvider"/>.
/// </summary>
public sealed class SwarmStore
{
    private readonly ConcurrentDictionary<InfoHash, Swarm> _swarms = new();
    private readonly ConcurrentDictionary<InfoHash, byte> _allowed = new();
    private readonly TimeProvider _time;
    private readonly long _timeoutTicks;

    public SwarmStore(SwarmStoreOptions? options = null, TimeProvider? time = null)
    {
        Options = options ?? new SwarmStoreOptions();
        _time = time ?? TimeProvider.System;
        _timeoutTicks = (long)(Options.GetPeerTimeout().TotalSeconds * _time.TimestampFrequency);
    }

    public SwarmStoreOptions Options { get; }

    public int SwarmCount => _swarms.Count;

    public void Allow(InfoHash hash) => _allowed[hash] = 0;

    public void Disallow(InfoHash hash)
    {
        _allowed.TryRemove(hash, out _);
        if (!Options.Open) _swarms.TryRemove(hash, out _);
    }

    public bool IsTracked(InfoHash hash) => Options.Open || _allowed.ContainsKey(hash);

    /// <summary>Adds this appliance as a seeder that never expires (until <see cref="Disallow"/> or <see cref="UnregisterSelf"/>).</summary>
    public void RegisterSelf(InfoHash hash, PeerAddress self)
    {
        var swarm = _swarms.GetOrAdd(hash, _ => new Swarm());
        lock (swarm) swarm.Upsert(self, seed: true, pinned: true, long.MaxValue, int.MaxValue);
    }

    public void UnregisterSelf(InfoHash hash, PeerAddress self)
    {
        if (!_swarms.TryGetValue(hash, out var swarm)) return;
        lock (swarm) swarm.Remove(self);
    }

    /// <summary>
    /// Records an announce from <paramref name="peer"/> and writes up to numwant other peers in compact form:
    /// IPv4 peers into <paramref name="v4"/> and IPv6 peers into <paramref name="v6"/> (pass an empty span to skip a family).
    /// A seed gets leechers before seeds; the announcing peer is never sent to itself.
    /// </summary>
    public SwarmAnswer Announce(InfoHash hash, PeerAddress peer, bool seed, AnnounceEvent announceEvent, int numWant, Span<byte> v4, Span<byte> v6)
    {
        if (!IsTracked(hash)) return new SwarmAnswer(AnnounceStatus.NotTracked, 0, 0, 0, 0);
        if (!_swarms.TryGetValue(hash, out var swarm))
        {
            if (announceEvent == AnnounceEvent.Stopped) return new SwarmAnswer(AnnounceStatus.Ok, 0, 0, 0, 0);
            if (_swarms.Count >= Options.MaxSwarms) return new SwarmAnswer(AnnounceStatus.SwarmLimit, 0, 0, 0, 0);
            swarm = _swarms.GetOrAdd(hash, _ => new Swarm());
        }
        int want = numWant < 0 ? Options.DefaultNumWant : Math.Min(numWant, Options.MaxNumWant);
        long now = _time.GetTimestamp();
        lock (swarm)
        {
            if (now - swarm.LastSweep > _timeoutTicks / 2) swarm.Sweep(now - _timeoutTicks, now);
            if (announceEvent == AnnounceEvent.Stopped)
            {
                swarm.Remove(peer);
                return new SwarmAnswer(AnnounceStatus.Ok, swarm.Seeders, swarm.Count - swarm.Seeders, 0, 0);
            }
            if (announceEvent == AnnounceEvent.Completed) swarm.Downloaded++;
            swarm.Upsert(peer, seed, pinned: false, now, Options.MaxPeersPerSwarm);
            var (v4Bytes, v6Bytes) = swarm.Select(peer, seed, want, now - _timeoutTicks, v4, v6);
            return new SwarmAnswer(AnnounceStatus.Ok, swarm.Seeders, swarm.Count - swarm.Seeders, v4Bytes, v6Bytes);
        }
    }

    public ScrapeCounts Scrape(InfoHash hash)
    {
        if (!_swarms.TryGetValue(hash, out var swarm)) return default;
        lock (swarm) return new ScrapeCounts(swarm.Seeders, swarm.Downloaded, swarm.Count - swarm.Seeders);
    }

    /// <summary>Drops expired peers everywhere and empty swarms; returns (swarms, peers) left.</summary>
    public (int Swarms, long Peers) Sweep()
    {
        long now = _time.GetTimestamp();
        long peers = 0;
        foreach (var (hash, swarm) in _swarms)
        {
            lock (swarm)
            {
                swarm.Sweep(now - _timeoutTicks, now);
                peers += swarm.Count;
                if (swarm.Count == 0) _swarms.TryRemove(hash, out _);
            }
        }
        return (_swarms.Count, peers);
    }

    private struct PeerSlot
    {
        public PeerAddress Address;
        public long LastSeen;
        public bool Seed;
        public bool Pinned;
    }

    private sealed class Swarm
    {
        private readonly Dictionary<PeerAddress, int> _index = [];
        private PeerSlot[] _peers = new PeerSlot[4];

        public int Count { get; private set; }
        public int Seeders { get; private set; }
        public int Downloaded { get; set; }
        public long LastSweep { get; private set; }

        public void Upsert(PeerAddress address, bool seed, bool pinned, long now, int max)
        {
            if (_index.TryGetValue(address, out int i))
            {
                ref var slot = ref _peers[i];
                if (slot.Seed != seed) Seeders += seed ? 1 : -1;
                slot.Seed = seed;
                slot.Pinned |= pinned;
                slot.LastSeen = slot.Pinned ? long.MaxValue : now;
                return;
            }
            if (Count >= max) return;
            if (Count == _peers.Length) Array.Resize(ref _peers, _peers.Length * 2);
            _peers[Count] = new PeerSlot { Address = address, LastSeen = pinned ? long.MaxValue : now, Seed = seed, Pinned = pinned };
            _index[address] = Count++;
            if (seed) Seeders++;
        }

        public void Remove(PeerAddress address)
        {
            if (_index.TryGetValue(address, out int i)) RemoveAt(i);
        }

        public void Sweep(long expiredBefore, long now)
        {
            LastSweep = now;
            for (int i = Count - 1; i >= 0; i--)
            {
                if (_peers[i].LastSeen < expiredBefore) RemoveAt(i);
            }
            if (_peers.Length > 64 && Count < _peers.Length / 4) Array.Resize(ref _peers, Math.Max(4, _peers.Length / 2));
        }

        /// <summary>
        /// Up to <paramref name="want"/> peers from a random start. A seed gets leechers first and then seeds: a client
        /// that joined by magnet link announces left=0 before it has the metadata, and must still learn of a seed.
        /// </summary>
        public (int V4, int V6) Select(PeerAddress self, bool selfIsSeed, int want, long expiredBefore, Span<byte> v4, Span<byte> v6)
        {
            int v4Bytes = 0, v6Bytes = 0, taken = 0;
            if (Count == 0 || want == 0) return (0, 0);
            int start = Random.Shared.Next(Count);
            for (int pass = selfIsSeed ? 0 : 1; pass < 2; pass++)
            {
                for (int n = 0; n < Count && taken < want; n++)
                {
                    ref readonly var slot = ref _peers[(start + n) % Count];
                    if (slot.Address == self || slot.LastSeen < expiredBefore || (pass == 0 && slot.Seed) || (pass == 1 && selfIsSeed && !slot.Seed)) continue;
                    if (slot.Address.IsV6)
                    {
                        if (v6.Length - v6Bytes < 18) continue;
                        v6Bytes += slot.Address.WriteCompact(v6[v6Bytes..]);
                    }
                    else
                    {
                        if (v4.Length - v4Bytes < 6) continue;
                        v4Bytes += slot.Address.WriteCompact(v4[v4Bytes..]);
                    }
                    taken++;
                }
            }
            return (v4Bytes, v6Bytes);
        }

        private void RemoveAt(int i)
        {
            var removed = _peers[i];
            _index.Remove(removed.Address);
            if (removed.Seed) Seeders--;
            int last = --Count;
            if (i != last)
            {
                _peers[i] = _peers[last];
                _index[_peers[i].Address] = i;
            }
            _peers[last] = default;
        }
    }
}
