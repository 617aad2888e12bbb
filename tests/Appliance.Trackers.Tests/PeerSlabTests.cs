using System.Net;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Embedded;

namespace Appliance.Trackers.Tests;

public sealed class PeerSlabTests
{
    [Fact]
    public void Blocks_handed_out_do_not_overlap_and_start_zeroed()
    {
        var slab = new PeerSlab();
        var blocks = new List<(int At, int Length)>();
        for (int i = 0; i < 400; i++)
        {
            int length = 1 + i % PeerSlab.MaxLength;
            int at = slab.Rent(length);
            var block = slab.Block(at, length);
            Assert.True(block.IndexOfAnyExcept(0UL) < 0);
            block.Fill((ulong)i + 1);
            blocks.Add((at, length));
        }
        for (int i = 0; i < blocks.Count; i++)
            Assert.True(slab.Block(blocks[i].At, blocks[i].Length).IndexOfAnyExcept((ulong)i + 1) < 0, $"block {i} was overwritten");
    }

    [Fact]
    public void A_returned_block_is_reused_for_the_same_length_zeroed_again()
    {
        var slab = new PeerSlab();
        int a = slab.Rent(10);
        slab.Rent(10);
        slab.Block(a, 10).Fill(7);
        slab.Return(a, 10);
        Assert.NotEqual(a, slab.Rent(6));
        Assert.Equal(a, slab.Rent(10));
        Assert.True(slab.Block(a, 10).IndexOfAnyExcept(0UL) < 0);
    }

    [Fact]
    public void Swarms_growing_together_keep_every_peer_when_their_shard_moves_them_to_a_fresh_slab()
    {
        // Every swarm gets its nth peer before any gets its next: each leaves behind a block of a length none needs again,
        // until the shard compacts.
        const int Swarms = 60, PeersPerSwarm = 14;
        var shard = new SwarmShard();
        var clock = new PeerClock(1, 600);
        var hashes = Enumerable.Range(0, Swarms).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        foreach (var hash in hashes) shard.Add(hash, SwarmShard.HashOf(hash), 1);
        var first = shard.Peers;
        int moves = 0;
        for (int p = 0; p < PeersPerSwarm; p++)
        {
            for (int s = 0; s < Swarms; s++)
            {
                Assert.Equal(1, shard.At(s).Upsert(Peer(s, p), seed: p % 2 == 0, pinned: false, clock, 100, 4, shard));
                var before = shard.Peers;
                shard.CompactPeersIfSparse();
                if (!ReferenceEquals(before, shard.Peers)) moves++;
            }
        }
        Assert.NotSame(first, shard.Peers);
        Assert.True(moves > 1, $"{moves} moves");
        Assert.False(shard.Peers.IsSparse);
        var v4 = new byte[6 * 100];
        for (int s = 0; s < Swarms; s++)
        {
            ref var swarm = ref shard.At(s);
            Assert.Equal(PeersPerSwarm, swarm.Count);
            Assert.Equal(PeersPerSwarm / 2, swarm.Seeders);
            var (v4Bytes, _) = swarm.Select(PeerAddress.FromV4(0x0B000001, 1), false, 100, clock, v4, default, shard);
            var listed = new List<IPEndPoint>();
            CompactPeerCodec.ReadAllV4(v4.AsSpan(0, v4Bytes), listed);
            var expected = Enumerable.Range(0, PeersPerSwarm).Select(p => Peer(s, p)).Select(a => $"{new IPAddress(BitConverter.GetBytes((uint)a.Address).Reverse().ToArray())}:{a.Port}");
            Assert.Equal(expected.Order(), listed.Select(e => e.ToString()).Order());
            // Each is found again (refreshed, not added).
            for (int p = 0; p < PeersPerSwarm; p++) Assert.Equal(0, swarm.Upsert(Peer(s, p), true, false, clock, 100, 4, shard));
        }
    }

    private static PeerAddress Peer(int swarm, int peer) => PeerAddress.FromV4((uint)(0x0A000000 + swarm * 256 + peer), (ushort)(6881 + peer));
}
