using System.Net;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Embedded;

namespace Appliance.Trackers.Tests;

/// <summary>Swarms that take an overflow from their shard (IPv6 peers, more than <see cref="Swarm.LinearLimit"/> peers)
/// and give it back.</summary>
public sealed class SwarmOverflowTests
{
    private const uint Timeout = 600;

    private static PeerAddress V4(int host, int port = 6881) => PeerAddress.FromV4((uint)(0x0A000000 + host), (ushort)port);

    private static PeerAddress V6(int net) => PeerAddress.From(IPAddress.Parse($"2001:db8:{net:x}::1"), 6881);

    private static InfoHash HashOf(int i) => InfoHash.Compute(BitConverter.GetBytes(i));

    private static int Add(SwarmShard shard, int i, uint now = 1) => shard.Add(HashOf(i), SwarmShard.HashOf(HashOf(i)), now);

    private static ref Swarm SwarmOf(SwarmShard shard, int i) => ref shard.At(shard.IndexOf(HashOf(i), SwarmShard.HashOf(HashOf(i))));

    private static int Upsert(SwarmShard shard, ref Swarm swarm, PeerAddress peer, PeerClock clock, bool seed = false, int maxPortsPerSource = 4) =>
        swarm.Upsert(peer, seed, pinned: false, clock, 100_000, maxPortsPerSource, shard);

    // Every peer the swarm hands to a leecher asking for all of them.
    private static List<string> Listed(SwarmShard shard, ref Swarm swarm, PeerClock clock)
    {
        var v4 = new byte[6 * 1000];
        var v6 = new byte[18 * 1000];
        var (v4Bytes, v6Bytes) = swarm.Select(V4(0xFFFFFF, 1), false, 1000, clock, v4, v6, shard);
        var list = new List<IPEndPoint>();
        CompactPeerCodec.ReadAllV4(v4.AsSpan(0, v4Bytes), list);
        CompactPeerCodec.ReadAllV6(v6.AsSpan(0, v6Bytes), list);
        return list.Select(e => e.ToString()).Order().ToList();
    }

    private static List<string> Names(IEnumerable<PeerAddress> peers) => peers.Select(p => p.ToString()).Order().ToList();

    [Fact]
    public void A_small_swarm_that_gains_IPv6_peers_keeps_its_IPv4_peers_and_gives_the_overflow_back_when_they_leave()
    {
        var shard = new SwarmShard();
        var clock = new PeerClock(1, Timeout);
        ref var swarm = ref shard.At(Add(shard, 0));
        // Four ports of one address (the most it may hold) and three other addresses.
        var ipv4 = Enumerable.Range(1000, 4).Select(port => V4(1, port)).Concat(Enumerable.Range(2, 3).Select(host => V4(host))).ToList();
        for (int i = 0; i < ipv4.Count; i++) Assert.Equal(1, Upsert(shard, ref swarm, ipv4[i], clock, seed: i % 2 == 0));
        Assert.Equal(0, shard.OverflowCount);

        Assert.Equal(1, Upsert(shard, ref swarm, V6(1), clock, seed: true));
        Assert.Equal(1, Upsert(shard, ref swarm, V6(2), clock));
        Assert.Equal(1, shard.OverflowCount);
        Assert.Equal((9, 5), (swarm.Count, swarm.Seeders));
        Assert.Equal(Names([.. ipv4, V6(1), V6(2)]), Listed(shard, ref swarm, clock));
        // The IPv4 peers moved into the overflow are found again, and still count against their address's ports.
        foreach (var peer in ipv4) Assert.Equal(0, Upsert(shard, ref swarm, peer, clock, seed: true));
        Assert.Equal(0, Upsert(shard, ref swarm, V4(1, 2000), clock));
        Assert.Equal((9, 8), (swarm.Count, swarm.Seeders));

        Assert.Equal(1, swarm.Remove(V6(1), shard));
        Assert.Equal(1, swarm.Remove(V6(2), shard));
        Assert.Equal(0, swarm.Remove(V6(2), shard));
        Assert.Equal(0, swarm.Sweep(clock, shard));
        Assert.Equal(0, shard.OverflowCount);
        Assert.Equal((7, 7), (swarm.Count, swarm.Seeders));
        Assert.Equal(Names(ipv4), Listed(shard, ref swarm, clock));
        foreach (var peer in ipv4) Assert.Equal(0, Upsert(shard, ref swarm, peer, clock));
        Assert.Equal(0, swarm.Seeders);
        // Back in a slab block, it grows there again.
        Assert.Equal(1, Upsert(shard, ref swarm, V4(9), clock));
        Assert.Equal(Names([.. ipv4, V4(9)]), Listed(shard, ref swarm, clock));
        Assert.Equal(0, shard.OverflowCount);
    }

    [Fact]
    public void IPv4_peers_moved_into_the_overflow_keep_their_last_seen_time_and_seed_bit()
    {
        var shard = new SwarmShard();
        ref var swarm = ref shard.At(Add(shard, 0, now: 10));
        var early = new PeerClock(10, Timeout);
        var self = V4(100, 7000);
        Assert.Equal(1, swarm.Upsert(self, seed: true, pinned: true, early, int.MaxValue, int.MaxValue, shard));
        for (int host = 1; host <= 4; host++) Upsert(shard, ref swarm, V4(host), early, seed: host <= 2);
        var later = new PeerClock(400, Timeout);
        Upsert(shard, ref swarm, V4(5), later, seed: true);
        Upsert(shard, ref swarm, V4(6), later);
        Upsert(shard, ref swarm, V6(1), later);
        Assert.Equal(1, shard.OverflowCount);
        Assert.Equal((8, 4), (swarm.Count, swarm.Seeders));

        // The four announced at 10 s have expired by 700 s; those of 400 s and the pinned self have not.
        var now = new PeerClock(700, Timeout);
        Assert.Equal(Names([self, V4(5), V4(6), V6(1)]), Listed(shard, ref swarm, now));
        Assert.Equal(4, swarm.Sweep(now, shard));
        Assert.Equal((4, 2), (swarm.Count, swarm.Seeders));
        Assert.Equal(Names([self, V4(5), V4(6), V6(1)]), Listed(shard, ref swarm, now));
        Assert.Equal(1, shard.OverflowCount);
    }

    [Fact]
    public void A_swarm_that_grows_past_the_scanned_size_and_shrinks_back_returns_its_overflow_and_can_take_it_again()
    {
        var shard = new SwarmShard();
        var clock = new PeerClock(1, Timeout);
        ref var swarm = ref shard.At(Add(shard, 0));
        var peers = Enumerable.Range(1, 50).Select(host => V4(host)).ToList();
        for (int i = 0; i < peers.Count; i++)
        {
            Assert.Equal(1, Upsert(shard, ref swarm, peers[i], clock));
            Assert.Equal(i + 1 > Swarm.LinearLimit ? 1 : 0, shard.OverflowCount);
        }
        Assert.Equal(Names(peers), Listed(shard, ref swarm, clock));
        foreach (var peer in peers) Assert.Equal(0, Upsert(shard, ref swarm, peer, clock, seed: true));
        Assert.Equal(50, swarm.Seeders);

        foreach (var peer in peers.Skip(10)) Assert.Equal(1, swarm.Remove(peer, shard));
        Assert.Equal(1, shard.OverflowCount);
        Assert.Equal(0, swarm.Sweep(clock, shard));
        Assert.Equal(0, shard.OverflowCount);
        Assert.Equal((10, 10), (swarm.Count, swarm.Seeders));
        Assert.Equal(Names(peers.Take(10)), Listed(shard, ref swarm, clock));
        foreach (var peer in peers.Take(10)) Assert.Equal(0, Upsert(shard, ref swarm, peer, clock));

        // Growing again takes an overflow again, in the slot the first one left.
        foreach (var peer in peers.Skip(10)) Assert.Equal(1, Upsert(shard, ref swarm, peer, clock));
        Assert.Equal((1, 1), (shard.OverflowCount, shard.OverflowSlots));
        Assert.Equal(Names(peers), Listed(shard, ref swarm, clock));
        foreach (var peer in peers) Assert.Equal(0, Upsert(shard, ref swarm, peer, clock));
    }

    [Fact]
    public void Removed_swarms_free_their_overflow_slots_for_new_ones_and_swarms_moved_in_their_place_keep_their_own()
    {
        const int Swarms = 11;
        var shard = new SwarmShard();
        var clock = new PeerClock(1, Timeout);
        // Swarm s: IPv4 hosts s * 100 + 1..3; even swarms also an IPv6 peer, and every fourth 40 IPv4 peers in all. Swarm 8
        // has IPv6 peers only.
        List<PeerAddress> PeersOf(int s) => s == 8
            ? [V6(s), V6(s + 1000)]
            : [.. Enumerable.Range(1, s % 4 == 0 ? 40 : 3).Select(p => V4(s * 100 + p)), .. s % 2 == 0 ? [V6(s)] : Array.Empty<PeerAddress>()];
        void Fill(int s)
        {
            ref var swarm = ref shard.At(Add(shard, s));
            foreach (var peer in PeersOf(s)) Assert.Equal(1, Upsert(shard, ref swarm, peer, clock));
        }
        void Check(IEnumerable<int> present)
        {
            foreach (int s in present) Assert.Equal(Names(PeersOf(s)), Listed(shard, ref SwarmOf(shard, s), clock));
        }
        for (int s = 0; s < Swarms; s++) Fill(s);
        Assert.Equal((6, 6), (shard.OverflowCount, shard.OverflowSlots));
        Check(Enumerable.Range(0, Swarms));

        // Swarm 0 goes and the last (10, with an overflow) moves into its place; then 3 (none), then 4.
        var removed = new[] { 0, 3, 4 };
        foreach (int s in removed)
        {
            shard.RemoveAt(shard.IndexOf(HashOf(s), SwarmShard.HashOf(HashOf(s))));
            shard.CompactPeersIfSparse();
        }
        Assert.Equal((4, 6), (shard.OverflowCount, shard.OverflowSlots));
        var left = Enumerable.Range(0, Swarms).Except(removed).ToList();
        Check(left);

        // Two new swarms with overflows take the two freed slots; a third needs a new one.
        Fill(20);
        Fill(22);
        Assert.Equal((6, 6), (shard.OverflowCount, shard.OverflowSlots));
        Fill(24);
        Assert.Equal((7, 7), (shard.OverflowCount, shard.OverflowSlots));
        Check([.. left, 20, 22, 24]);

        // Emptied and swept, every swarm gives its overflow back.
        foreach (int s in (int[])[.. left, 20, 22, 24])
        {
            ref var swarm = ref SwarmOf(shard, s);
            foreach (var peer in PeersOf(s)) Assert.Equal(1, swarm.Remove(peer, shard));
            swarm.Sweep(clock, shard);
            Assert.Equal(0, swarm.Count);
        }
        Assert.Equal(0, shard.OverflowCount);
    }

    [Fact]
    public void Random_announces_stops_sweeps_and_removed_swarms_keep_every_swarm_exactly_its_own_peers()
    {
        // Swarms cross the scanned size and gain and lose IPv6 peers both ways, while swarms go away (others moving into
        // their place), overflow slots are reused and the slab is compacted; a plain model says what each must hold.
        const int Swarms = 12;
        var shard = new SwarmShard();
        var clock = new PeerClock(1, Timeout);
        var random = new Random(16);
        var model = new Dictionary<int, Dictionary<PeerAddress, bool>>();
        for (int step = 0; step < 20_000; step++)
        {
            int s = random.Next(Swarms);
            if (!model.TryGetValue(s, out var peers))
            {
                Add(shard, s);
                model[s] = peers = [];
            }
            ref var swarm = ref SwarmOf(shard, s);
            var peer = random.Next(4) == 0 ? V6(1 + random.Next(12)) : V4(1 + random.Next(60), 6881 + random.Next(2));
            int op = random.Next(100);
            if (op < 55)
            {
                bool seed = random.Next(2) == 0;
                Assert.Equal(peers.ContainsKey(peer) ? 0 : 1, Upsert(shard, ref swarm, peer, clock, seed, maxPortsPerSource: 100));
                peers[peer] = seed;
            }
            else if (op < 90) Assert.Equal(peers.Remove(peer) ? 1 : 0, swarm.Remove(peer, shard));
            else if (op < 98) Assert.Equal(0, swarm.Sweep(clock, shard));
            else
            {
                shard.RemoveAt(shard.IndexOf(HashOf(s), SwarmShard.HashOf(HashOf(s))));
                model.Remove(s);
            }
            shard.CompactPeersIfSparse();
            Assert.True(shard.OverflowCount <= shard.Count);
            if (step % 500 != 499) continue;
            foreach (var (i, expected) in model)
            {
                ref var checkedSwarm = ref SwarmOf(shard, i);
                Assert.Equal((expected.Count, expected.Count(p => p.Value)), (checkedSwarm.Count, checkedSwarm.Seeders));
                Assert.Equal(Names(expected.Keys), Listed(shard, ref checkedSwarm, clock));
            }
        }
        foreach (var (i, expected) in model)
        {
            ref var swarm = ref SwarmOf(shard, i);
            foreach (var peer in expected.Keys) Assert.Equal(1, swarm.Remove(peer, shard));
            swarm.Sweep(clock, shard);
        }
        Assert.Equal(0, shard.OverflowCount);
    }
}
