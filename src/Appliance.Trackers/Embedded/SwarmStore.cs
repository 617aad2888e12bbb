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
/// UDP front ends call it; time comes from a <see cref="TimeProvider"/>.
/// </summary>
public sealed class SwarmStore
{
    private readonly ConcurrentDictionary<InfoHash, Swarm> _swarms = new();
    private readonly ConcurrentDictionary<InfoHash, byte> _allowed = new();
    private readonly TimeProvider _time;
    private readonly long _epoch;
    private readonly uint _timeoutSeconds;
    private readonly SourceRateLimiter? _rate;
    private long _peers;

    public SwarmStore(SwarmStoreOptions? options = null, TimeProvider? time = null)
    {
        Options = options ?? new SwarmStoreOptions();
        _time = time ?? TimeProvider.System;
        _epoch = _time.GetTimestamp();
        _timeoutSeconds = (uint)Math.Max(1, Options.GetPeerTimeout().TotalSeconds);
        if (Options.MaxAnnouncesPerSecondPerAddress > 0) _rate = new SourceRateLimiter(Options.MaxAnnouncesPerSecondPerAddress);
    }

    public SwarmStoreOptions Options { get; }

    public int SwarmCount => _swarms.Count;

    /// <summary>Peers stored across all swarms (kept exact, not only at sweeps).</summary>
    public long PeerCount => Interlocked.Read(ref _peers);

    public void Allow(InfoHash hash) => _allowed[hash] = 0;

    public void Disallow(InfoHash hash)
    {
        _allowed.TryRemove(hash, out _);
        if (!Options.Open && _swarms.TryRemove(hash, out var swarm)) Retire(swarm);
    }

    public bool IsTracked(InfoHash hash) => Options.Open || _allowed.ContainsKey(hash);

    /// <summary>Adds this appliance as a seeder that never expires (until <see cref="Disallow"/> or <see cref="UnregisterSelf"/>).</summary>
    public void RegisterSelf(InfoHash hash, PeerAddress self)
    {
        while (true)
        {
            var swarm = _swarms.GetOrAdd(hash, _ => new Swarm());
            lock (swarm)
            {
                if (swarm.Retired) continue;
                Interlocked.Add(ref _peers, swarm.Upsert(self, seed: true, pinned: true, Swarm.Pinned, int.MaxValue, int.MaxValue));
                return;
            }
        }
    }

    public void UnregisterSelf(InfoHash hash, PeerAddress self)
    {
        if (!_swarms.TryGetValue(hash, out var swarm)) return;
        lock (swarm) Interlocked.Add(ref _peers, -swarm.Remove(self));
    }

    /// <summary>
    /// Records an announce from <paramref name="peer"/> and writes up to numwant other peers in compact form:
    /// IPv4 peers into <paramref name="v4"/> and IPv6 peers into <paramref name="v6"/> (pass an empty span to skip a family).
    /// A seed gets leechers before seeds; the announcing peer is never sent to itself.
    /// </summary>
    public SwarmAnswer Announce(InfoHash hash, PeerAddress peer, bool seed, AnnounceEvent announceEvent, int numWant, Span<byte> v4, Span<byte> v6)
    {
        if (!IsTracked(hash)) return new SwarmAnswer(AnnounceStatus.NotTracked, 0, 0, 0, 0);
        uint now = Now();
        if (_rate is not null && !_rate.TryAcquire(Swarm.SourceKey(peer), now)) return new SwarmAnswer(AnnounceStatus.RateLimited, 0, 0, 0, 0);
        int want = numWant < 0 ? Options.DefaultNumWant : Math.Min(numWant, Options.MaxNumWant);
        uint expiredBefore = now > _timeoutSeconds ? now - _timeoutSeconds : 0;
        while (true)
        {
            if (!_swarms.TryGetValue(hash, out var swarm))
            {
                if (announceEvent == AnnounceEvent.Stopped) return new SwarmAnswer(AnnounceStatus.Ok, 0, 0, 0, 0);
                if (_swarms.Count >= Options.MaxSwarms) return new SwarmAnswer(AnnounceStatus.SwarmLimit, 0, 0, 0, 0);
                swarm = _swarms.GetOrAdd(hash, _ => new Swarm());
            }
            lock (swarm)
            {
                // Removed by a sweep or Disallow between the lookup and the lock: look again.
                if (swarm.Retired) continue;
                if (now - swarm.LastSweep > _timeoutSeconds / 2) Interlocked.Add(ref _peers, -swarm.Sweep(expiredBefore, now));
                if (announceEvent == AnnounceEvent.Stopped)
                {
                    Interlocked.Add(ref _peers, -swarm.Remove(peer));
                    return new SwarmAnswer(AnnounceStatus.Ok, swarm.Seeders, swarm.Count - swarm.Seeders, 0, 0);
                }
                if (announceEvent == AnnounceEvent.Completed) swarm.Downloaded++;
                int room = Interlocked.Read(ref _peers) < Options.MaxPeers ? Options.MaxPeersPerSwarm : 0;
                Interlocked.Add(ref _peers, swarm.Upsert(peer, seed, pinned: false, now, room, Options.MaxPortsPerAddress));
                var (v4Bytes, v6Bytes) = swarm.Select(peer, seed, want, expiredBefore, v4, v6);
                return new SwarmAnswer(AnnounceStatus.Ok, swarm.Seeders, swarm.Count - swarm.Seeders, v4Bytes, v6Bytes);
            }
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
        uint now = Now();
        uint expiredBefore = now > _timeoutSeconds ? now - _timeoutSeconds : 0;
        foreach (var (hash, swarm) in _swarms)
        {
            lock (swarm)
            {
                Interlocked.Add(ref _peers, -swarm.Sweep(expiredBefore, now));
                if (swarm.Count == 0 && _swarms.TryRemove(new KeyValuePair<InfoHash, Swarm>(hash, swarm))) swarm.Retired = true;
            }
        }
        return (_swarms.Count, PeerCount);
    }

    private void Retire(Swarm swarm)
    {
        lock (swarm)
        {
            swarm.Retired = true;
            Interlocked.Add(ref _peers, -swarm.Count);
        }
    }

    // Seconds since the store was made, from 1: peer times fit in 4 bytes and 0 means "never".
    private uint Now() => (uint)((_time.GetTimestamp() - _epoch) / _time.TimestampFrequency) + 1;
}
