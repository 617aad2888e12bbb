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
        CompactPeer.ReadAllV4(v4[..v4Bytes], list);
        CompactPeer.ReadAllV6(v6[..v6Bytes], list);
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
}
