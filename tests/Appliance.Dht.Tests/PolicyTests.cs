using Appliance.Dht.Announcing;
using Appliance.Dht.Defense;
using Appliance.Dht.Peers;
using Appliance.Dht.Routing;
using Appliance.Dht.Tokens;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;
using Appliance.TestKit;

namespace Appliance.Dht.Tests;

public class RoutingTableTests
{
    private static CompactPeer Address(int i) => new(0x0A000000u + (uint)i, 6881);

    [Fact]
    public void Buckets_split_around_own_id_and_hold_at_most_K()
    {
        var time = new ManualTime();
        var table = new RoutingTable(NodeId.Random(), time);
        for (int i = 1; i <= 500; i++) table.AddVerified(NodeId.Random(), Address(i));
        Assert.True(table.BucketCount > 1);
        // Random ids: half share no prefix bit with us, and that bucket keeps only K of them.
        Assert.InRange(table.Count, RoutingTable.K * 2, 500);
        var byPrefix = table.AllNodes().GroupBy(n => Math.Min(table.OwnId.CommonPrefixLength(n.Id), table.BucketCount - 1));
        Assert.All(byPrefix, g => Assert.True(g.Count() <= RoutingTable.K));
    }

    [Fact]
    public void One_entry_per_IP_and_never_our_own_id()
    {
        var table = new RoutingTable(NodeId.Random(), new ManualTime());
        Assert.Equal(InsertOutcome.Added, table.AddVerified(NodeId.Random(), Address(1)));
        Assert.Equal(InsertOutcome.Refused, table.AddVerified(NodeId.Random(), Address(1)));
        Assert.Equal(InsertOutcome.Refused, table.AddVerified(table.OwnId, Address(2)));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void Nodes_turn_questionable_after_15_minutes_and_bad_after_two_failures()
    {
        var time = new ManualTime();
        var table = new RoutingTable(NodeId.Random(), time);
        table.AddVerified(NodeId.Random(), Address(1));
        var node = table.Find(Address(1))!;
        Assert.Equal(NodeState.Good, node.StateAt(time.GetUtcNow()));
        time.Advance(TimeSpan.FromMinutes(15));
        Assert.Equal(NodeState.Questionable, node.StateAt(time.GetUtcNow()));
        table.OnQueryFrom(node.Id, node.Address);
        Assert.Equal(NodeState.Good, node.StateAt(time.GetUtcNow()));
        table.OnFailure(node.Address);
        table.OnFailure(node.Address);
        Assert.Equal(NodeState.Bad, node.StateAt(time.GetUtcNow()));
    }

    [Fact]
    public void Full_bucket_caches_newcomers_and_a_bad_node_gives_its_place_to_the_replacement()
    {
        var time = new ManualTime();
        var own = NodeId.Parse("0000000000000000000000000000000000000000");
        var table = new RoutingTable(own, time);
        // Fill the bucket of ids starting with bit 1 (never split: it does not hold our id).
        var far = Enumerable.Range(1, RoutingTable.K + 1).Select(i => NodeId.Parse("8" + i.ToString("x39"))).ToList();
        for (int i = 0; i < RoutingTable.K; i++) Assert.Equal(InsertOutcome.Added, table.AddVerified(far[i], Address(i + 1)));
        // The first insertion after the bucket is full splits the bucket holding our id, then caches.
        Assert.Equal(InsertOutcome.Cached, table.AddVerified(far[RoutingTable.K], Address(100)));
        Assert.Null(table.Find(Address(100)));
        table.OnFailure(Address(1));
        table.OnFailure(Address(1));
        Assert.Null(table.Find(Address(1)));
        Assert.NotNull(table.Find(Address(100)));
    }

    [Fact]
    public void Closest_nodes_match_a_brute_force_sort()
    {
        var table = new RoutingTable(NodeId.Random(), new ManualTime());
        for (int i = 1; i <= 300; i++) table.AddVerified(NodeId.Random(), Address(i));
        var target = NodeId.Random();
        var expected = table.AllNodes().OrderBy(n => n.Id.Xor(target)).Take(RoutingTable.K).Select(n => n.Id).ToList();
        Assert.Equal(expected, table.Closest(target, RoutingTable.K).Select(n => n.Id).ToList());
        var compact = new byte[RoutingTable.K * CompactNode.Length];
        Assert.Equal(RoutingTable.K, table.WriteClosest(target, compact, RoutingTable.K));
        Assert.Equal(expected[0], new NodeId(compact.AsSpan(0, 20)));
    }

    [Fact]
    public void Idle_buckets_are_refreshed_after_15_minutes()
    {
        var time = new ManualTime();
        var table = new RoutingTable(NodeId.Random(), time);
        table.AddVerified(NodeId.Random(), Address(1));
        Assert.Empty(table.TakeRefreshTargets());
        time.Advance(TimeSpan.FromMinutes(15));
        var targets = table.TakeRefreshTargets();
        Assert.Equal(table.BucketCount, targets.Count);
        Assert.Empty(table.TakeRefreshTargets());
    }

    [Fact]
    public void State_file_round_trips_id_and_nodes()
    {
        var table = new RoutingTable(NodeId.Random(), new ManualTime());
        for (int i = 1; i <= 20; i++) table.AddVerified(NodeId.Random(), Address(i));
        var bytes = RoutingTableState.Encode(table.OwnId, table.AllNodes());
        var state = RoutingTableState.Decode(bytes)!;
        Assert.Equal(table.OwnId, state.Id);
        Assert.Equal(table.AllNodes().Select(n => (n.Id, n.Address)), state.Nodes);
        Assert.Null(RoutingTableState.Decode("d2:id3:abce"u8));
    }
}

public class TokenIssuerTests
{
    [Fact]
    public void Tokens_are_bound_to_the_IP_and_live_5_to_10_minutes()
    {
        var time = new ManualTime();
        var issuer = new TokenIssuer(time);
        var token = new byte[TokenIssuer.TokenLength];
        issuer.Issue(0x7F000001, token);
        Assert.True(issuer.IsValid(0x7F000001, token));
        Assert.False(issuer.IsValid(0x7F000002, token));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(issuer.IsValid(0x7F000001, token));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(issuer.IsValid(0x7F000001, token));
    }

    [Fact]
    public void A_token_is_refused_after_a_long_silence()
    {
        var time = new ManualTime();
        var issuer = new TokenIssuer(time);
        var token = new byte[TokenIssuer.TokenLength];
        issuer.Issue(1, token);
        time.Advance(TimeSpan.FromMinutes(11));
        Assert.False(issuer.IsValid(1, token));
    }
}

public class PeerStoreTests
{
    private static readonly NodeId Hash = NodeId.Random();

    [Fact]
    public void Peers_expire_after_30_minutes()
    {
        var time = new ManualTime();
        var store = new PeerStore(new PeerStoreLimits(), time);
        Assert.True(store.Announce(Hash, new CompactPeer(1, 1)));
        time.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(1, store.CountFor(Hash));
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(0, store.CountFor(Hash));
        store.Purge();
        Assert.Equal(0, store.Count);
        Assert.Equal(0, store.InfoHashCount);
    }

    [Fact]
    public void Caps_per_info_hash_and_in_total_hold()
    {
        var time = new ManualTime();
        var store = new PeerStore(new PeerStoreLimits(MaxPeersPerInfoHash: 3, MaxInfoHashes: 2, MaxPeers: 5), time);
        for (uint i = 1; i <= 10; i++) store.Announce(Hash, new CompactPeer(i, 1));
        Assert.Equal(3, store.CountFor(Hash));
        Assert.True(store.Announce(NodeId.Random(), new CompactPeer(1, 1)));
        Assert.False(store.Announce(NodeId.Random(), new CompactPeer(1, 1)));
        Assert.Equal(4, store.Count);
    }

    [Fact]
    public void One_address_holds_one_entry_per_info_hash_whatever_ports_it_announces()
    {
        var store = new PeerStore(new PeerStoreLimits(), new ManualTime());
        for (ushort port = 1; port <= 300; port++) Assert.True(store.Announce(Hash, new CompactPeer(0x0A000001, port)));
        Assert.Equal([new CompactPeer(0x0A000001, 300)], store.PeersFor(Hash));
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void Our_own_entry_is_never_evicted_by_announces_filling_the_swarm()
    {
        var time = new ManualTime();
        var store = new PeerStore(new PeerStoreLimits(MaxPeersPerInfoHash: 5), time);
        var us = new CompactPeer(0x0B000001, 6881);
        Assert.True(store.AnnounceLocal(Hash, us));
        for (uint i = 1; i <= 50; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(store.Announce(Hash, new CompactPeer(0x0A000000 + i, 1)));
        }
        // Not even by a stranger announcing from our address.
        Assert.True(store.Announce(Hash, new CompactPeer(us.Address, 9999)));
        var peers = store.PeersFor(Hash);
        Assert.Equal(5, peers.Count);
        Assert.Contains(us, peers);
    }

    [Fact]
    public void Values_list_holds_at_most_the_requested_count()
    {
        var store = new PeerStore(new PeerStoreLimits(), new ManualTime());
        for (uint i = 1; i <= 50; i++) store.Announce(Hash, new CompactPeer(i, 1));
        var buffer = new byte[1024];
        var w = new BencodeWriter(buffer);
        Assert.Equal(10, store.WriteValues(Hash, ref w, 10));
        Assert.Equal(2 + 10 * 8, w.BytesWritten);
    }
}

public class SourceRateLimiterTests
{
    [Fact]
    public void A_source_over_its_rate_is_refused_and_others_are_not()
    {
        var time = new ManualTime();
        var limiter = new SourceRateLimiter(packetsPerSecond: 5, burst: 10, maxSources: 100, time);
        int accepted = 0;
        for (int i = 0; i < 100; i++) if (limiter.TryAcquire(1)) accepted++;
        Assert.Equal(10, accepted);
        Assert.True(limiter.TryAcquire(2));
        time.Advance(TimeSpan.FromSeconds(1));
        accepted = 0;
        for (int i = 0; i < 100; i++) if (limiter.TryAcquire(1)) accepted++;
        Assert.Equal(5, accepted);
    }

    [Fact]
    public void The_source_table_is_bounded_and_a_new_source_evicts_the_stalest()
    {
        var time = new ManualTime();
        var limiter = new SourceRateLimiter(5, 10, maxSources: 10, time);
        // Source 0 floods: its bucket empties, and it stays the freshest entry however many sources come and go.
        for (int i = 0; i < 20; i++) limiter.TryAcquire(0);
        for (uint i = 1; i < 10; i++) Assert.True(limiter.TryAcquire(i));
        for (uint i = 1000; i < 1100; i++)
        {
            Assert.False(limiter.TryAcquire(0));
            Assert.True(limiter.TryAcquire(i));
        }
        Assert.Equal(10, limiter.TrackedSources);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryAcquire(0));
    }

    [Fact]
    public void A_full_table_of_spoofed_sources_costs_constant_time_per_new_source()
    {
        // Scanning the table for each new source would take about 10^11 steps here (hours); eviction in order takes a second.
        var limiter = new SourceRateLimiter(5, 10, maxSources: 100_000, new ManualTime());
        var run = Task.Run(() =>
        {
            for (uint i = 0; i < 1_100_000; i++) Assert.True(limiter.TryAcquire(i));
        });
        Assert.True(run.Wait(TimeSpan.FromSeconds(60)), "new sources took more than constant time");
        Assert.Equal(100_000, limiter.TrackedSources);
    }
}

public class AnnounceScheduleTests
{
    [Fact]
    public void Thousands_of_torrents_are_spread_over_the_start_window_then_every_15_to_30_minutes()
    {
        var time = new ManualTime();
        var schedule = new AnnounceSchedule(time);
        var hashes = Enumerable.Range(0, 3000).Select(_ => NodeId.Random()).ToList();
        foreach (var h in hashes) schedule.Add(h);
        var start = time.GetUtcNow();
        var offsets = hashes.Select(h => (schedule.NextDue(h)!.Value - start).TotalSeconds).ToList();
        Assert.True(offsets.Count(o => o < 1) < 100, "most torrents must not announce in the first second");
        Assert.All(offsets, o => Assert.InRange(o, 0, AnnounceSchedule.MaximumStartSpread.TotalSeconds));

        time.Advance(AnnounceSchedule.MaximumStartSpread);
        var due = schedule.TakeDue(10);
        Assert.Equal(10, due.Count);
        Assert.DoesNotContain(due[0], schedule.TakeDue(3000));
        schedule.Completed(due[0]);
        var next = schedule.NextDue(due[0])!.Value - time.GetUtcNow();
        Assert.InRange(next, AnnounceSchedule.MinimumInterval, AnnounceSchedule.MaximumInterval);
    }
}
