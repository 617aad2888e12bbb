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
    public int MaxSwarms { get; init; } = 1_000_000;

    /// <summary>Peers across all swarms; past it, announces are answered but new peers are not stored.</summary>
    public int MaxPeers { get; init; } = 4_000_000;

    /// <summary>Ports one IPv4 address (or IPv6 /64) may hold in one swarm: the announced port is the client's choice.</summary>
    public int MaxPortsPerAddress { get; init; } = 4;

    /// <summary>Announces per second from one IPv4 address or IPv6 /64 (0: no limit). A restarted client announcing
    /// thousands of torrents at once is slowed by this, as it would be by any public tracker.</summary>
    public int MaxAnnouncesPerSecondPerAddress { get; init; } = 200;

    /// <summary>Track any info-hash (otherwise only allowed ones).</summary>
    public bool Open { get; init; }

    public TimeSpan GetPeerTimeout() => PeerTimeout ?? 2 * Interval + TimeSpan.FromMinutes(1);

    /// <summary>The defaults for a tracker of our own torrents, or lower caps for one that tracks any info-hash.</summary>
    public static SwarmStoreOptions Defaults(bool open, int announcesPerSecondPerAddress = 200) => open
        ? new SwarmStoreOptions
        {
            Open = true, MaxSwarms = 100_000, MaxPeers = 1_000_000, MaxPeersPerSwarm = 20_000,
            MaxAnnouncesPerSecondPerAddress = announcesPerSecondPerAddress,
        }
        : new SwarmStoreOptions { MaxAnnouncesPerSecondPerAddress = announcesPerSecondPerAddress };
}

public enum AnnounceStatus
{
    Ok,
    NotTracked,
    SwarmLimit,

    /// <summary>The source sent more announces this second than allowed: UDP gets no reply, HTTP a failure reason.</summary>
    RateLimited,
}

/// <summary>The result of one announce: counts, and how many compact bytes were written for each family.</summary>
public readonly record struct SwarmAnswer(AnnounceStatus Status, int Complete, int Incomplete, int V4Bytes, int V6Bytes);

/// <summary>
/// The embedded tracker's state: peers of each swarm with expiry, the policy of which info-hashes are tracked, the
/// limits (peers, swarms, ports per address, announces per second per address) and peer selection. No I/O: the HTTP and
/// UDP front ends call it; time comes from a <see cref="TimeProvider"/>. Swarms live in <see cref="SwarmShard"/>s picked
/// by a keyed hash of the info-hash, each under its own lock.
/// </summary>
public sealed class SwarmStore
{
    private const int ShardBits = 8;

    private readonly SwarmShard[] _shards = new SwarmShard[1 << ShardBits];
    private readonly ConcurrentDictionary<InfoHash, byte> _allowed = new();
    private readonly TimeProvider _time;
    private readonly long _epoch;
    private readonly uint _timeoutSeconds;
    private readonly SourceRateLimiter? _rate;
    private long _peers;
    private int _swarms;

    public SwarmStore(SwarmStoreOptions? options = null, TimeProvider? time = null)
    {
        Options = options ?? new SwarmStoreOptions();
        _time = time ?? TimeProvider.System;
        _epoch = _time.GetTimestamp();
        _timeoutSeconds = (uint)Math.Clamp(Options.GetPeerTimeout().TotalSeconds, 1, uint.MaxValue / 4);
        if (Options.MaxAnnouncesPerSecondPerAddress > 0) _rate = new SourceRateLimiter(Options.MaxAnnouncesPerSecondPerAddress);
        for (int i = 0; i < _shards.Length; i++) _shards[i] = new SwarmShard();
    }

    public SwarmStoreOptions Options { get; }

    public int SwarmCount => Volatile.Read(ref _swarms);

    /// <summary>Peers stored across all swarms (kept exact, not only at sweeps).</summary>
    public long PeerCount => Interlocked.Read(ref _peers);

    public void Allow(InfoHash hash) => _allowed[hash] = 0;

    public void Disallow(InfoHash hash)
    {
        _allowed.TryRemove(hash, out _);
        if (Options.Open) return;
        ulong code = SwarmShard.HashOf(hash);
        var shard = ShardOf(code);
        lock (shard)
        {
            int i = shard.IndexOf(hash, code);
            if (i < 0) return;
            Interlocked.Add(ref _peers, -shard.At(i).Count);
            shard.RemoveAt(i);
            shard.CompactPeersIfSparse();
            Interlocked.Decrement(ref _swarms);
        }
    }

    public bool IsTracked(InfoHash hash) => Options.Open || _allowed.ContainsKey(hash);

    /// <summary>Adds this appliance as a seeder that never expires (until <see cref="Disallow"/> or <see cref="UnregisterSelf"/>).</summary>
    public void RegisterSelf(InfoHash hash, PeerAddress self)
    {
        ulong code = SwarmShard.HashOf(hash);
        var shard = ShardOf(code);
        lock (shard)
        {
            var clock = Clock();
            int i = shard.IndexOf(hash, code);
            if (i < 0)
            {
                i = shard.Add(hash, code, clock.Now);
                Interlocked.Increment(ref _swarms);
            }
            Interlocked.Add(ref _peers, shard.At(i).Upsert(self, seed: true, pinned: true, clock, int.MaxValue, int.MaxValue, shard));
            shard.CompactPeersIfSparse();
        }
    }

    public void UnregisterSelf(InfoHash hash, PeerAddress self)
    {
        ulong code = SwarmShard.HashOf(hash);
        var shard = ShardOf(code);
        lock (shard)
        {
            int i = shard.IndexOf(hash, code);
            if (i < 0) return;
            Interlocked.Add(ref _peers, -shard.At(i).Remove(self, shard));
            shard.CompactPeersIfSparse();
        }
    }

    /// <summary>
    /// Records an announce from <paramref name="peer"/> and writes up to numwant other peers in compact form:
    /// IPv4 peers into <paramref name="v4"/> and IPv6 peers into <paramref name="v6"/> (pass an empty span to skip a family).
    /// A seed gets leechers before seeds; the announcing peer is never sent to itself.
    /// </summary>
    public SwarmAnswer Announce(InfoHash hash, PeerAddress peer, bool seed, AnnounceEvent announceEvent, int numWant, Span<byte> v4, Span<byte> v6)
    {
        if (!IsTracked(hash)) return new SwarmAnswer(AnnounceStatus.NotTracked, 0, 0, 0, 0);
        if (_rate is not null && !_rate.TryAcquire(Swarm.SourceKey(peer), Clock().Now)) return new SwarmAnswer(AnnounceStatus.RateLimited, 0, 0, 0, 0);
        int want = numWant < 0 ? Options.DefaultNumWant : Math.Min(numWant, Options.MaxNumWant);
        ulong code = SwarmShard.HashOf(hash);
        var shard = ShardOf(code);
        lock (shard)
        {
            // Read under the lock, so the times one swarm sees never go back.
            var clock = Clock();
            int i = shard.IndexOf(hash, code);
            if (i < 0)
            {
                if (announceEvent == AnnounceEvent.Stopped) return new SwarmAnswer(AnnounceStatus.Ok, 0, 0, 0, 0);
                if (Volatile.Read(ref _swarms) >= Options.MaxSwarms) return new SwarmAnswer(AnnounceStatus.SwarmLimit, 0, 0, 0, 0);
                i = shard.Add(hash, code, clock.Now);
                Interlocked.Increment(ref _swarms);
            }
            ref var swarm = ref shard.At(i);
            if (clock.Now - swarm.LastSweep > _timeoutSeconds / 2) Interlocked.Add(ref _peers, -swarm.Sweep(clock, shard));
            if (announceEvent == AnnounceEvent.Stopped)
            {
                Interlocked.Add(ref _peers, -swarm.Remove(peer, shard));
                shard.CompactPeersIfSparse();
                return new SwarmAnswer(AnnounceStatus.Ok, swarm.Seeders, swarm.Count - swarm.Seeders, 0, 0);
            }
            if (announceEvent == AnnounceEvent.Completed) swarm.Downloaded++;
            int room = Interlocked.Read(ref _peers) < Options.MaxPeers ? Options.MaxPeersPerSwarm : 0;
            Interlocked.Add(ref _peers, swarm.Upsert(peer, seed, pinned: false, clock, room, Options.MaxPortsPerAddress, shard));
            shard.CompactPeersIfSparse();
            var (v4Bytes, v6Bytes) = swarm.Select(peer, seed, want, clock, v4, v6, shard);
            return new SwarmAnswer(AnnounceStatus.Ok, swarm.Seeders, swarm.Count - swarm.Seeders, v4Bytes, v6Bytes);
        }
    }

    public ScrapeCounts Scrape(InfoHash hash)
    {
        ulong code = SwarmShard.HashOf(hash);
        var shard = ShardOf(code);
        lock (shard)
        {
            int i = shard.IndexOf(hash, code);
            if (i < 0) return default;
            ref var swarm = ref shard.At(i);
            return new ScrapeCounts(swarm.Seeders, swarm.Downloaded, swarm.Count - swarm.Seeders);
        }
    }

    /// <summary>Drops expired peers everywhere and empty swarms; returns (swarms, peers) left.</summary>
    public (int Swarms, long Peers) Sweep()
    {
        foreach (var shard in _shards)
        {
            lock (shard)
            {
                var clock = Clock();
                // From the end: removing i moves the last swarm (already swept) into i.
                for (int i = shard.Count - 1; i >= 0; i--)
                {
                    ref var swarm = ref shard.At(i);
                    Interlocked.Add(ref _peers, -swarm.Sweep(clock, shard));
                    if (swarm.Count != 0) continue;
                    shard.RemoveAt(i);
                    Interlocked.Decrement(ref _swarms);
                }
                shard.CompactPeersIfSparse();
            }
        }
        return (SwarmCount, PeerCount);
    }

    private SwarmShard ShardOf(ulong code) => _shards[code >> (64 - ShardBits)];

    // Seconds since the store was made, from 1.
    private PeerClock Clock() => new((uint)((_time.GetTimestamp() - _epoch) / _time.TimestampFrequency) + 1, _timeoutSeconds);
}
