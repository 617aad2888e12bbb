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
        // An 8-byte entry in an array sized to fit, plus each swarm's array header, its value in a shard's array and its
        // table slot, spread over its 10 peers: about 18 bytes here. The store this replaced (12-byte entries in arrays that
        // doubled, a source index per swarm, a swarm object and a dictionary node) took about 53.
        Assert.True(perPeer < 24, $"{perPeer:0.0} bytes per peer");
        GC.KeepAlive(store);
    }
}
