using Appliance.TestKit;
using System.Net;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Embedded;

namespace Appliance.Trackers.Tests;

public sealed class SwarmStoreTests
{
    private static readonly InfoHash Hash = InfoHash.Compute("swarm"u8);

    private static PeerAddress V4(byte last, int port = 6881) => PeerAddress.From(IPAddress.Parse($"10.0.0.{last}"), port);

    private static List<string> Peers(ReadOnlySpan<byte> v4, int v4Bytes, ReadOnlySpan<byte> v6 = default, int v6Bytes = 0)
    {
        var list = new List<IPEndPoint>();
        CompactPeerCodec.ReadAllV4(v4[..v4Bytes], list);
        CompactPeerCodec.ReadAllV6(v6[..v6Bytes], list);
        return list.Select(p => p.ToString()).ToList();
    }

    [Fact]
    public void Closed_store_refuses_unknown_torrents_and_open_store_tracks_any()
    {
        var closed = new SwarmStore();
        Assert.Equal(AnnounceStatus.NotTracked, closed.Announce(Hash, V4(1), false, AnnounceEvent.Started, 10, new byte[60], default).Status);
        closed.Allow(Hash);
        Assert.Equal(AnnounceStatus.Ok, closed.Announce(Hash, V4(1), false, AnnounceEvent.Started, 10, new byte[60], default).Status);
        var open = new SwarmStore(new SwarmStoreOptions { Open = true });
        Assert.Equal(AnnounceStatus.Ok, open.Announce(Hash, V4(1), false, AnnounceEvent.Started, 10, new byte[60], default).Status);
    }

    [Fact]
    public void Announcer_is_not_returned_to_itself_and_numwant_is_respected()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true });
        var buffer = new byte[600];
        for (byte i = 1; i <= 20; i++) store.Announce(Hash, V4(i), false, AnnounceEvent.Started, 0, buffer, default);
        var answer = store.Announce(Hash, V4(5), false, AnnounceEvent.None, 100, buffer, default);
        var peers = Peers(buffer, answer.V4Bytes);
        Assert.Equal(19, peers.Count);
        Assert.DoesNotContain("10.0.0.5:6881", peers);
        Assert.Equal(20, answer.Incomplete);
        answer = store.Announce(Hash, V4(5), false, AnnounceEvent.None, 7, buffer, default);
        Assert.Equal(7 * 6, answer.V4Bytes);
    }

    [Fact]
    public void Seeders_get_leechers_first_then_seeds_and_counts_follow_events()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true });
        var buffer = new byte[600];
        store.Announce(Hash, V4(1), seed: true, AnnounceEvent.Started, 0, buffer, default);
        store.Announce(Hash, V4(2), seed: true, AnnounceEvent.Started, 0, buffer, default);
        store.Announce(Hash, V4(3), seed: false, AnnounceEvent.Started, 0, buffer, default);
        var answer = store.Announce(Hash, V4(1), seed: true, AnnounceEvent.None, 1, buffer, default);
        Assert.Equal(["10.0.0.3:6881"], Peers(buffer, answer.V4Bytes));
        Assert.Equal((2, 1), (answer.Complete, answer.Incomplete));
        answer = store.Announce(Hash, V4(1), seed: true, AnnounceEvent.None, 50, buffer, default);
        Assert.Equal(["10.0.0.2:6881", "10.0.0.3:6881"], Peers(buffer, answer.V4Bytes).Order().ToList());
        store.Announce(Hash, V4(3), seed: true, AnnounceEvent.Completed, 0, buffer, default);
        store.Announce(Hash, V4(2), seed: true, AnnounceEvent.Stopped, 0, buffer, default);
        Assert.Equal(new ScrapeCounts(2, 1, 0), store.Scrape(Hash));
    }

    [Fact]
    public void A_magnet_client_announcing_left_0_before_it_has_metadata_gets_the_seed()
    {
        var store = new SwarmStore();
        store.Allow(Hash);
        store.RegisterSelf(Hash, V4(100, 7000));
        var buffer = new byte[600];
        var answer = store.Announce(Hash, V4(1), seed: true, AnnounceEvent.Started, 50, buffer, default);
        Assert.Equal(["10.0.0.100:7000"], Peers(buffer, answer.V4Bytes));
    }

    [Fact]
    public void Silent_peers_expire_but_the_registered_self_does_not()
    {
        var time = new ManualTime();
        var store = new SwarmStore(new SwarmStoreOptions { PeerTimeout = TimeSpan.FromMinutes(10) }, time);
        store.Allow(Hash);
        store.RegisterSelf(Hash, V4(100, 7000));
        var buffer = new byte[600];
        store.Announce(Hash, V4(1), false, AnnounceEvent.Started, 0, buffer, default);
        time.Advance(TimeSpan.FromMinutes(11));
        var answer = store.Announce(Hash, V4(2), false, AnnounceEvent.Started, 50, buffer, default);
        Assert.Equal(["10.0.0.100:7000"], Peers(buffer, answer.V4Bytes));
        Assert.Equal((1, 1), (answer.Complete, answer.Incomplete));
        time.Advance(TimeSpan.FromMinutes(11));
        var (swarms, peers) = store.Sweep();
        Assert.Equal((1, 1L), (swarms, peers));
    }

    [Fact]
    public void IPv6_peers_go_to_the_v6_list_and_mapped_addresses_count_as_v4()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true });
        var v4 = new byte[600];
        var v6 = new byte[1800];
        store.Announce(Hash, PeerAddress.From(IPAddress.Parse("2001:db8::1"), 6000), false, AnnounceEvent.Started, 0, v4, v6);
        store.Announce(Hash, PeerAddress.From(IPAddress.Parse("::ffff:10.1.2.3"), 6001), false, AnnounceEvent.Started, 0, v4, v6);
        var answer = store.Announce(Hash, V4(9), false, AnnounceEvent.Started, 50, v4, v6);
        Assert.Equal(["10.1.2.3:6001", "[2001:db8::1]:6000"], Peers(v4, answer.V4Bytes, v6, answer.V6Bytes).Order().ToList());
    }

    [Fact]
    public void Swarm_and_peer_caps_bound_memory()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxSwarms = 2, MaxPeersPerSwarm = 3 });
        var buffer = new byte[600];
        Assert.Equal(AnnounceStatus.Ok, store.Announce(InfoHash.Compute([1]), V4(1), false, AnnounceEvent.Started, 0, buffer, default).Status);
        Assert.Equal(AnnounceStatus.Ok, store.Announce(InfoHash.Compute([2]), V4(1), false, AnnounceEvent.Started, 0, buffer, default).Status);
        Assert.Equal(AnnounceStatus.SwarmLimit, store.Announce(InfoHash.Compute([3]), V4(1), false, AnnounceEvent.Started, 0, buffer, default).Status);
        for (byte i = 2; i < 10; i++) store.Announce(InfoHash.Compute([1]), V4(i), false, AnnounceEvent.Started, 0, buffer, default);
        Assert.Equal(3, store.Scrape(InfoHash.Compute([1])).Incomplete);
    }

    private static PeerAddress V6(string address, int port = 6881) => PeerAddress.From(IPAddress.Parse(address), port);

    [Fact]
    public void One_address_holds_at_most_a_few_ports_per_swarm()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxPortsPerAddress = 4 });
        var buffer = new byte[600];
        for (int port = 1000; port < 1100; port++)
            Assert.Equal(AnnounceStatus.Ok, store.Announce(Hash, V4(1, port), false, AnnounceEvent.Started, 0, buffer, default).Status);
        Assert.Equal(4, store.Scrape(Hash).Incomplete);
        store.Announce(Hash, V4(2), false, AnnounceEvent.Started, 0, buffer, default);
        Assert.Equal(5, store.Scrape(Hash).Incomplete);
        store.Announce(Hash, V4(1, 1000), false, AnnounceEvent.Stopped, 0, buffer, default);
        store.Announce(Hash, V4(1, 2000), false, AnnounceEvent.Started, 0, buffer, default);
        Assert.Equal(5, store.Scrape(Hash).Incomplete);
        Assert.Equal(5, store.PeerCount);
    }

    [Fact]
    public void IPv6_limits_count_a_whole_64_as_one_address()
    {
        var time = new ManualTime();
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxPortsPerAddress = 2, MaxAnnouncesPerSecondPerAddress = 5 }, time);
        var v6 = new byte[1800];
        for (int i = 1; i <= 5; i++)
            Assert.Equal(AnnounceStatus.Ok, store.Announce(Hash, V6($"2001:db8:1:2::{i:x}"), false, AnnounceEvent.Started, 0, default, v6).Status);
        Assert.Equal(2, store.Scrape(Hash).Incomplete);
        // The sixth announce this second from the same /64 is refused, whatever the host part.
        Assert.Equal(AnnounceStatus.RateLimited, store.Announce(Hash, V6("2001:db8:1:2:ffff::1"), false, AnnounceEvent.None, 0, default, v6).Status);
        Assert.Equal(AnnounceStatus.Ok, store.Announce(Hash, V6("2001:db8:1:3::1"), false, AnnounceEvent.Started, 0, default, v6).Status);
        Assert.Equal(3, store.Scrape(Hash).Incomplete);
    }

    [Fact]
    public void Announces_from_one_address_are_rate_limited_per_second()
    {
        var time = new ManualTime();
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 10 }, time);
        var buffer = new byte[600];
        for (int i = 0; i < 10; i++)
            Assert.Equal(AnnounceStatus.Ok, store.Announce(InfoHash.Compute([(byte)i]), V4(1), false, AnnounceEvent.Started, 0, buffer, default).Status);
        Assert.Equal(AnnounceStatus.RateLimited, store.Announce(Hash, V4(1, 7000), false, AnnounceEvent.Started, 0, buffer, default).Status);
        Assert.Equal(AnnounceStatus.Ok, store.Announce(Hash, V4(2), false, AnnounceEvent.Started, 0, buffer, default).Status);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(AnnounceStatus.Ok, store.Announce(Hash, V4(1, 7000), false, AnnounceEvent.Started, 0, buffer, default).Status);
    }

    [Fact]
    public void The_global_peer_cap_holds_across_swarms_and_frees_room_when_peers_leave()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxPeers = 5 });
        var buffer = new byte[600];
        for (byte i = 1; i <= 10; i++)
            Assert.Equal(AnnounceStatus.Ok, store.Announce(InfoHash.Compute([(byte)(i % 2)]), V4(i), false, AnnounceEvent.Started, 0, buffer, default).Status);
        Assert.Equal(5, store.PeerCount);
        Assert.Equal(5, store.Scrape(InfoHash.Compute([0])).Incomplete + store.Scrape(InfoHash.Compute([1])).Incomplete);
        store.Announce(InfoHash.Compute([1]), V4(1), false, AnnounceEvent.Stopped, 0, buffer, default);
        store.Announce(InfoHash.Compute([7]), V4(50), false, AnnounceEvent.Started, 0, buffer, default);
        Assert.Equal(1, store.Scrape(InfoHash.Compute([7])).Incomplete);
        Assert.Equal(5, store.PeerCount);
    }

    [Fact]
    public void Open_tracker_defaults_cap_swarms_and_peers_lower_than_our_own_tracker()
    {
        var open = SwarmStoreOptions.Defaults(open: true);
        var closed = SwarmStoreOptions.Defaults(open: false);
        Assert.True(open.Open);
        Assert.False(closed.Open);
        Assert.True(open.MaxSwarms < closed.MaxSwarms);
        Assert.True(open.MaxPeers < closed.MaxPeers);
        Assert.True(open.MaxPeersPerSwarm < closed.MaxPeersPerSwarm);
    }

    [Fact]
    public void One_source_with_many_peers_cannot_fill_a_peer_list()
    {
        // Ports per address lifted so one address holds 100 peers, announced one after another after 5 honest peers.
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxPortsPerAddress = 1000, MaxAnnouncesPerSecondPerAddress = 0 });
        var buffer = new byte[1200];
        for (byte i = 1; i <= 5; i++) store.Announce(Hash, V4(i), false, AnnounceEvent.Started, 0, buffer, default);
        for (int port = 1000; port < 1100; port++) store.Announce(Hash, V4(66, port), false, AnnounceEvent.Started, 0, buffer, default);
        for (int round = 0; round < 20; round++)
        {
            var answer = store.Announce(Hash, V4(99), false, AnnounceEvent.None, 10, buffer, default);
            var peers = Peers(buffer, answer.V4Bytes);
            Assert.Equal(10, peers.Count);
            Assert.Equal(peers.Count, peers.Distinct().Count());
            // Every source gets one peer in before any gets a second (allowing one honest peer deferred by a keyed-hash tie).
            Assert.True(peers.Count(p => !p.StartsWith("10.0.0.66:", StringComparison.Ordinal)) >= 4, string.Join(' ', peers));
        }
    }

    [Fact]
    public void Many_peers_come_and_go_and_every_one_is_found_again()
    {
        var time = new ManualTime();
        var store = new SwarmStore(new SwarmStoreOptions
        {
            Open = true, PeerTimeout = TimeSpan.FromMinutes(10), MaxAnnouncesPerSecondPerAddress = 0, MaxNumWant = 100_000,
        }, time);
        var buffer = new byte[1200];
        var random = new Random(5);
        var lastSeen = new Dictionary<PeerAddress, TimeSpan>();
        var clock = TimeSpan.Zero;
        for (int step = 0; step < 20_000; step++)
        {
            if (step % 2000 == 1999)
            {
                // Three minutes pass: peers silent for over ten expire, in sweeps the announces trigger.
                time.Advance(TimeSpan.FromMinutes(3));
                clock += TimeSpan.FromMinutes(3);
            }
            var peer = random.Next(3) == 0
                ? PeerAddress.From(IPAddress.Parse($"2001:db8:{random.Next(300):x}::1"), 6881 + random.Next(3))
                : PeerAddress.From(new IPAddress([10, 1, (byte)random.Next(4), (byte)random.Next(256)]), 6881 + random.Next(3));
            if (random.Next(3) == 0)
            {
                store.Announce(Hash, peer, false, AnnounceEvent.Stopped, 0, buffer, default);
                lastSeen.Remove(peer);
            }
            else
            {
                store.Announce(Hash, peer, random.Next(2) == 0, AnnounceEvent.None, 0, buffer, default);
                lastSeen[peer] = clock;
            }
        }
        store.Sweep();
        var present = lastSeen.Where(p => clock - p.Value <= TimeSpan.FromMinutes(10)).Select(p => p.Key).ToHashSet();
        Assert.Equal(present.Count, store.PeerCount);
        var counts = store.Scrape(Hash);
        Assert.Equal(present.Count, counts.Complete + counts.Incomplete);
        // A leecher asking for everyone gets exactly the peers that are there.
        var v4 = new byte[6 * 10_000];
        var v6 = new byte[18 * 10_000];
        var all = store.Announce(Hash, V4(250, 1), false, AnnounceEvent.None, int.MaxValue, v4, v6);
        var listed = Peers(v4, all.V4Bytes, v6, all.V6Bytes).ToHashSet();
        Assert.Equal(present.Select(p => p.ToString()).Order(), listed.Order());
        store.Announce(Hash, V4(250, 1), false, AnnounceEvent.Stopped, 0, v4, v6);
        // All expire together; a sweep leaves nothing behind.
        time.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal((0, 0L), store.Sweep());
    }

    [Fact]
    public void A_swarm_growing_past_the_scanned_size_keeps_finding_and_updating_its_peers()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxPortsPerAddress = 3, MaxAnnouncesPerSecondPerAddress = 0, MaxNumWant = 1000 });
        var v4 = new byte[6 * 1000];
        var v6 = new byte[18 * 1000];
        // 40 addresses with 3 ports each (a fourth is refused) and 10 IPv6 /64s: 130 peers, well past the 32 a swarm scans.
        for (int round = 0; round < 2; round++)
        {
            bool seed = round == 1;
            for (byte a = 1; a <= 40; a++)
                for (int port = 1000; port < 1004; port++) store.Announce(Hash, V4(a, port), seed, AnnounceEvent.None, 0, v4, v6);
            for (int i = 1; i <= 10; i++) store.Announce(Hash, V6($"2001:db8:{i:x}::1"), seed, AnnounceEvent.None, 0, v4, v6);
            // The second round finds every peer again: nothing is added, each becomes a seed.
            Assert.Equal(130, store.PeerCount);
            Assert.Equal(seed ? new ScrapeCounts(130, 0, 0) : new ScrapeCounts(0, 0, 130), store.Scrape(Hash));
        }
        // Back under the scanned size: the rest are still found, and the port limit still holds.
        for (byte a = 1; a <= 36; a++)
            for (int port = 1000; port < 1003; port++) store.Announce(Hash, V4(a, port), false, AnnounceEvent.Stopped, 0, v4, v6);
        for (int i = 1; i <= 8; i++) store.Announce(Hash, V6($"2001:db8:{i:x}::1"), false, AnnounceEvent.Stopped, 0, v4, v6);
        Assert.Equal(14, store.PeerCount);
        Assert.Equal((1, 14L), store.Sweep());
        for (byte a = 37; a <= 40; a++)
            for (int port = 1000; port < 1004; port++) store.Announce(Hash, V4(a, port), false, AnnounceEvent.None, 0, v4, v6);
        Assert.Equal(new ScrapeCounts(2, 0, 12), store.Scrape(Hash));
        var all = store.Announce(Hash, V4(250), false, AnnounceEvent.None, 1000, v4, v6);
        var expected = Enumerable.Range(37, 4).SelectMany(a => Enumerable.Range(1000, 3).Select(port => $"10.0.0.{a}:{port}"))
            .Concat(["[2001:db8:9::1]:6881", "[2001:db8:a::1]:6881"]);
        Assert.Equal(expected.Order(), Peers(v4, all.V4Bytes, v6, all.V6Bytes).Order());
    }

    [Fact]
    public void A_peer_silent_for_as_long_as_the_stored_tick_takes_to_come_round_has_expired()
    {
        var time = new ManualTime();
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, PeerTimeout = TimeSpan.FromMinutes(10) }, time);
        var buffer = new byte[600];
        store.Announce(Hash, V4(1), false, AnnounceEvent.Started, 0, buffer, default);
        // A peer's last announce is kept as a 15-bit count of seconds: 32,767 seconds later it reads as "just now",
        // and no sweep ran meanwhile.
        time.Advance(TimeSpan.FromSeconds(32_767));
        var answer = store.Announce(Hash, V4(2), false, AnnounceEvent.Started, 50, buffer, default);
        Assert.Empty(Peers(buffer, answer.V4Bytes));
        Assert.Equal(1, answer.Incomplete);
    }

    [Fact]
    public void With_a_timeout_past_4096_seconds_peers_expire_on_time_in_coarser_ticks()
    {
        var time = new ManualTime();
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, PeerTimeout = TimeSpan.FromHours(3), MaxAnnouncesPerSecondPerAddress = 0 }, time);
        var buffer = new byte[600];
        store.Announce(Hash, V4(1), false, AnnounceEvent.Started, 0, buffer, default);
        time.Advance(TimeSpan.FromHours(3) - TimeSpan.FromSeconds(10));
        var answer = store.Announce(Hash, V4(2), false, AnnounceEvent.Started, 50, buffer, default);
        Assert.Equal(["10.0.0.1:6881"], Peers(buffer, answer.V4Bytes));
        time.Advance(TimeSpan.FromSeconds(20));
        answer = store.Announce(Hash, V4(3), false, AnnounceEvent.Started, 50, buffer, default);
        Assert.Equal(["10.0.0.2:6881"], Peers(buffer, answer.V4Bytes));
        time.Advance(TimeSpan.FromHours(3));
        Assert.Equal((1, 1L), store.Sweep());
        Assert.Equal(new ScrapeCounts(0, 0, 1), store.Scrape(Hash));
    }

    [Fact]
    public void Thousands_of_swarms_keep_their_counts_while_others_are_disallowed_and_expire()
    {
        var time = new ManualTime();
        var store = new SwarmStore(new SwarmStoreOptions { PeerTimeout = TimeSpan.FromMinutes(10), MaxAnnouncesPerSecondPerAddress = 0 }, time);
        var hashes = Enumerable.Range(0, 3000).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        var buffer = new byte[600];
        void AnnounceAll(int s, AnnounceEvent e)
        {
            for (int p = 0; p <= s % 5; p++) store.Announce(hashes[s], V4((byte)(p + 1)), p == 0, e, 0, buffer, default);
        }
        for (int s = 0; s < hashes.Length; s++)
        {
            store.Allow(hashes[s]);
            AnnounceAll(s, s % 3 == 0 ? AnnounceEvent.Completed : AnnounceEvent.Started);
        }
        Assert.Equal(3000, store.SwarmCount);
        Assert.Equal(9000, store.PeerCount);
        // Every fourth swarm is disallowed; the even ones then fall silent and expire, the odd ones announce again.
        for (int s = 0; s < hashes.Length; s += 4) store.Disallow(hashes[s]);
        time.Advance(TimeSpan.FromMinutes(6));
        for (int s = 1; s < hashes.Length; s += 2) AnnounceAll(s, AnnounceEvent.None);
        time.Advance(TimeSpan.FromMinutes(6));
        var (swarms, peers) = store.Sweep();
        Assert.Equal(1500, swarms);
        Assert.Equal(Enumerable.Range(0, 3000).Where(s => s % 2 == 1).Sum(s => s % 5 + 1), peers);
        for (int s = 0; s < hashes.Length; s++)
        {
            var expected = s % 2 == 0 ? default : new ScrapeCounts(1, s % 3 == 0 ? s % 5 + 1 : 0, s % 5);
            Assert.Equal(expected, store.Scrape(hashes[s]));
        }
    }

    [Fact]
    public void Concurrent_announces_to_many_swarms_are_all_counted()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        var hashes = Enumerable.Range(0, 500).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            var buffer = new byte[600];
            for (int round = 0; round < 3; round++)
                foreach (var hash in hashes) store.Announce(hash, V4((byte)(worker + 1)), false, AnnounceEvent.None, 10, buffer, default);
        });
        Assert.Equal(500 * 8, store.PeerCount);
        Assert.All(hashes, hash => Assert.Equal(new ScrapeCounts(0, 0, 8), store.Scrape(hash)));
    }
}
