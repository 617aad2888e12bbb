using Appliance.Dht.Lookups;
using Appliance.Dht.Node;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;
using Appliance.TestKit;

namespace Appliance.Dht.Tests;

public class LookupTests
{
    private static readonly NodeId Target = NodeId.Parse("0000000000000000000000000000000000000000");

    private static NodeId IdAt(int distance) => NodeId.Parse(distance.ToString("x40"));

    [Fact]
    public void At_most_alpha_queries_are_in_flight_closest_first()
    {
        var lookup = new Lookup(Target, LookupKind.FindNode, k: 8, alpha: 3, self: NodeId.Parse("f000000000000000000000000000000000000000"));
        for (int i = 1; i <= 20; i++) lookup.AddCandidate(IdAt(100 - i), new CompactPeer((uint)i, 1));
        var first = lookup.NextQueries();
        Assert.Equal([IdAt(80), IdAt(81), IdAt(82)], first.Select(c => c.Id!.Value));
        Assert.Empty(lookup.NextQueries());
        lookup.OnFailure(first[0]);
        Assert.Equal([IdAt(83)], lookup.NextQueries().Select(c => c.Id!.Value));
    }

    [Fact]
    public void A_lookup_ends_when_the_K_closest_live_candidates_have_answered()
    {
        var self = NodeId.Parse("f000000000000000000000000000000000000000");
        var lookup = new Lookup(Target, LookupKind.GetPeers, k: 2, alpha: 3, self);
        lookup.AddCandidate(IdAt(50), new CompactPeer(1, 1));
        lookup.AddCandidate(IdAt(60), new CompactPeer(2, 1));
        lookup.AddCandidate(IdAt(70), new CompactPeer(3, 1));
        var asked = lookup.NextQueries();
        Assert.Equal(2, asked.Count);
        // The closest answers with a closer node (and with us, which is never asked).
        var nodes = new byte[2 * CompactNode.Length];
        IdAt(10).CopyTo(nodes);
        new CompactPeer(4, 1).Write(nodes.AsSpan(20));
        self.CopyTo(nodes.AsSpan(26));
        new CompactPeer(5, 1).Write(nodes.AsSpan(46));
        lookup.OnResponse(asked[0], IdAt(50), "t1"u8);
        lookup.AddCompactNodes(nodes);
        lookup.AddPeer(new CompactPeer(9, 9));
        Assert.False(lookup.IsDone);
        var next = lookup.NextQueries();
        Assert.Equal([IdAt(10)], next.Select(c => c.Id!.Value));
        lookup.OnResponse(next[0], IdAt(10), "t2"u8);
        lookup.OnFailure(asked[1]);
        // The 2 closest live candidates have answered: IdAt(70) is not worth asking.
        Assert.Empty(lookup.NextQueries());
        Assert.True(lookup.IsDone);
        var result = lookup.Result();
        Assert.Equal([IdAt(10), IdAt(50)], result.Closest.Select(c => c.Id));
        Assert.Equal("t2"u8.ToArray(), result.Closest[0].Token);
        Assert.Equal([new CompactPeer(9, 9)], result.Peers);
    }

    private sealed class CapturingSender : IDatagramSender
    {
        public List<(byte[] Datagram, CompactPeer To)> Sent { get; } = [];

        public void Send(ReadOnlySpan<byte> datagram, CompactPeer destination) => Sent.Add((datagram.ToArray(), destination));
    }

    [Fact]
    public async Task The_node_takes_a_BEP42_id_once_three_responders_agree_on_a_public_address()
    {
        var sender = new CapturingSender();
        var time = new ManualTime();
        var engine = new DhtEngine(new DhtNodeOptions(), sender, time);
        var before = engine.Id;
        CompactPeer[] routers = [new(0x7F000101, 1), new(0x7F000102, 1), new(0x7F000103, 1)];
        var join = engine.BootstrapAsync(routers, []);
        var external = new CompactPeer(0x7C1F4B15, 6881); // 124.31.75.21
        foreach (var (datagram, to) in sender.Sent.ToList())
        {
            KrpcParser.Parse(datagram, out var query);
            var buffer = new byte[300];
            var w = new BencodeWriter(buffer);
            KrpcWriter.BeginResponse(ref w, external, NodeId.Random().ToArray());
            KrpcWriter.EndResponse(ref w, query.TransactionId, default);
            engine.Receive(buffer.AsSpan(0, w.BytesWritten), to);
        }
        Assert.Equal(external, engine.ExternalAddress);
        Assert.NotEqual(before, engine.Id);
        Assert.True(NodeIdSecurity.IsValid(engine.Id, external));
        Assert.Equal(3, engine.TableSize);
        // The refresh lookups that follow the join time out on the fake clock.
        for (int i = 0; i < 100 && !join.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            engine.Tick();
            await Task.Delay(10);
        }
        await join.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task One_node_answering_many_queries_is_one_vote_for_our_external_address()
    {
        var sender = new CapturingSender();
        var time = new ManualTime();
        var engine = new DhtEngine(new DhtNodeOptions(), sender, time);
        var before = engine.Id;
        var router = new CompactPeer(0x7F000101, 1);
        var external = new CompactPeer(0x7C1F4B15, 6881);
        for (int round = 0; round < 5; round++)
        {
            int already = sender.Sent.Count;
            var lookup = engine.LookupAsync(NodeId.Random(), LookupKind.FindNode, [router], [], CancellationToken.None);
            foreach (var (datagram, to) in sender.Sent.Skip(already).ToList())
            {
                KrpcParser.Parse(datagram, out var query);
                var buffer = new byte[300];
                var w = new BencodeWriter(buffer);
                KrpcWriter.BeginResponse(ref w, external, NodeId.Random().ToArray());
                KrpcWriter.EndResponse(ref w, query.TransactionId, default);
                engine.Receive(buffer.AsSpan(0, w.BytesWritten), to);
            }
            await lookup.WaitAsync(TimeSpan.FromSeconds(10));
        }
        Assert.Null(engine.ExternalAddress);
        Assert.Equal(before, engine.Id);
    }
}
