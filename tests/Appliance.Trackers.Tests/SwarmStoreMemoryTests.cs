using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Embedded;

namespace Appliance.Trackers.Tests;

[CollectionDefinition(nameof(MemoryCollection), DisableParallelization = true)]
public sealed class MemoryCollection;

/// <summary>Retained bytes per stored peer, measured on the managed heap with nothing else running in the process.</summary>
[Collection(nameof(MemoryCollection))]
public sealed class SwarmStoreMemoryTests
{
    [Fact]
    public void A_stored_peer_costs_a_few_dozen_bytes_swarm_overhead_included()
    {
        const int Swarms = 10_000, PeersPerSwarm = 10;
        var hashes = Enumerable.Range(0, Swarms).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        var buffer = new byte[1200];
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        for (int p = 0; p < PeersPerSwarm; p++)
        {
            for (int s = 0; s < Swarms; s++)
            {
                var peer = PeerAddress.FromV4((uint)(0x0A000000 + s * PeersPerSwarm + p), 6881);
                store.Announce(hashes[s], peer, false, AnnounceEvent.Started, 0, buffer, default);
            }
        }
        long after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(Swarms * PeersPerSwarm, store.PeerCount);
        double perPeer = (after - before) / (double)(Swarms * PeersPerSwarm);
        // An 8-byte entry in a slab block sized to fit, plus each swarm's value in a shard's array and its table slot,
        // spread over its 10 peers, and at this size (39 swarms a shard) about 3 bytes of the shards' partly used segments
        // and free blocks: about 17 bytes here (18 with a 48-byte value; 19 with an array per swarm, whose 24-byte header
        // cost 2.4 bytes a peer, and a 56-byte value; at 100,000 swarms the slab saves nearly all of that). The store before
        // those (12-byte entries in arrays that doubled, a source index per swarm, a swarm object and a dictionary node)
        // took about 53.
        Assert.True(perPeer < 24, $"{perPeer:0.0} bytes per peer");
        GC.KeepAlive(store);
    }

    [Fact]
    public void A_swarm_value_is_40_bytes_with_no_reference()
    {
        // The info-hash packed to 20 bytes and five ints (slab block or overflow slot, peer count, seeders, downloaded,
        // last sweep): 100,000 swarms hold 4 MB (4.8 with an overflow reference, 5.6 before that), in chunks the collector
        // does not trace.
        Assert.Equal(20, System.Runtime.CompilerServices.Unsafe.SizeOf<InfoHash>());
        Assert.Equal(40, System.Runtime.CompilerServices.Unsafe.SizeOf<Swarm>());
        Assert.False(System.Runtime.CompilerServices.RuntimeHelpers.IsReferenceOrContainsReferences<Swarm>());
    }

    [Fact]
    public void Adding_swarms_allocates_little_more_than_it_keeps()
    {
        // One peer per swarm, so each peer array is allocated once at its final size and what is measured is the shards'
        // own storage. Arrays that grew by copying left about four times the swarms' size behind as garbage, which lived
        // long enough to reach the oldest generation while swarms kept arriving.
        const int Swarms = 100_000;
        var hashes = Enumerable.Range(0, Swarms).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        var buffer = new byte[1200];
        long before = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        for (int s = 0; s < Swarms; s++)
            store.Announce(hashes[s], PeerAddress.FromV4((uint)(0x0A000000 + s), 6881), false, AnnounceEvent.Started, 0, buffer, default);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        long kept = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.Equal(Swarms, store.SwarmCount);
        // A swarm's 40-byte value, its one-peer slab block (8 bytes; an array took 40) and its table slots, the tables'
        // earlier sizes included: about 80 bytes per swarm (89 with a 48-byte value, 118 with an array each and a 56-byte
        // value). Shard arrays that grew by a quarter took 370.
        Assert.True(allocated < 130L * Swarms, $"allocated {allocated / (double)Swarms:0} bytes per swarm, kept {kept / (double)Swarms:0}");
        GC.KeepAlive(store);
    }

    [Fact]
    public void Swarms_filling_one_after_another_reuse_the_arrays_they_outgrow()
    {
        // Each swarm gets its 10 peers before the next starts, as when clients join at different times: the blocks of 2,
        // 4, 6 and 8 peers one swarm outgrows are the ones the next swarm of its shard grows into.
        const int Swarms = 20_000, PeersPerSwarm = 10;
        var hashes = Enumerable.Range(0, Swarms).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        var buffer = new byte[1200];
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (int s = 0; s < Swarms; s++)
        {
            for (int p = 0; p < PeersPerSwarm; p++)
                store.Announce(hashes[s], PeerAddress.FromV4((uint)(0x0A000000 + s * PeersPerSwarm + p), 6881), false, AnnounceEvent.Started, 0, buffer, default);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.Equal(Swarms * PeersPerSwarm, store.PeerCount);
        // What is kept and little more (16 bytes per peer; 17 with a 48-byte value, 19 with an array per swarm); every swarm growing through fresh
        // arrays took about 43.
        double perPeer = allocated / (double)(Swarms * PeersPerSwarm);
        Assert.True(perPeer < 22, $"allocated {perPeer:0.0} bytes per peer");
    }

    [Fact]
    public void Swarms_removed_and_added_again_keep_their_place_in_the_table()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = false, MaxAnnouncesPerSecondPerAddress = 0 });
        var hashes = Enumerable.Range(0, 20_000).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        var buffer = new byte[1200];
        for (int round = 0; round < 3; round++)
        {
            foreach (var hash in hashes) store.Allow(hash);
            for (int s = 0; s < hashes.Length; s++)
                store.Announce(hashes[s], PeerAddress.FromV4((uint)(0x0A000000 + s), 6881), true, AnnounceEvent.Started, 0, buffer, default);
            Assert.Equal(hashes.Length, store.SwarmCount);
            for (int s = 0; s < hashes.Length; s++) Assert.Equal(1, store.Scrape(hashes[s]).Complete);
            // Remove all but every 97th, out of order, so chunks empty from the end and swarms move into holes.
            for (int s = hashes.Length - 1; s >= 0; s -= 2) if (s % 97 != 0) store.Disallow(hashes[s]);
            for (int s = 0; s < hashes.Length; s += 2) if (s % 97 != 0) store.Disallow(hashes[s]);
            int left = Enumerable.Range(0, hashes.Length).Count(s => s % 97 == 0);
            Assert.Equal(left, store.SwarmCount);
            Assert.Equal(left, store.PeerCount);
            for (int s = 0; s < hashes.Length; s++) Assert.Equal(s % 97 == 0 ? 1 : 0, store.Scrape(hashes[s]).Complete);
            foreach (var hash in hashes) store.Disallow(hash);
            Assert.Equal(0, store.SwarmCount);
        }
    }
}
