using System.Text;
using Appliance.Dht.Node;
using Appliance.Dht.Routing;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;
using Appliance.TestKit;

namespace Appliance.Dht.Tests;

public class EngineTests
{
    private sealed class CapturingSender : IDatagramSender
    {
        public List<(byte[] Datagram, CompactPeer To)> Sent { get; } = [];

        public void Send(ReadOnlySpan<byte> datagram, CompactPeer destination) => Sent.Add((datagram.ToArray(), destination));
    }

    private static readonly CompactPeer Client = new(0x7F000002, 5000);
    private readonly ManualTime _time = new();
    private readonly CapturingSender _sender = new();
    private readonly DhtEngine _engine;
    private readonly byte[] _clientId = NodeId.Random().ToArray();

    public EngineTests()
    {
        _engine = new DhtEngine(new DhtNodeOptions { Id = NodeId.Random() }, _sender, _time);
    }

    private byte[] Query(Func<byte[], int> write)
    {
        var buffer = new byte[1500];
        return buffer.AsSpan(0, write(buffer)).ToArray();
    }

    private byte[] LastSent() => _sender.Sent[^1].Datagram;

    [Fact]
    public void The_verification_ping_counts_against_the_amplification_budget()
    {
        var sender = new CapturingSender();
        var engine = new DhtEngine(new DhtNodeOptions { Id = NodeId.Random(), AmplificationFactor = 1 }, sender, _time);
        var query = Query(b => KrpcWriter.WriteFindNode(b, "t1"u8, _clientId, NodeId.Random().ToArray(), default));
        engine.Receive(query, Client);
        // The unknown querier is pinged (to verify it); with the answer that would exceed what its query allows.
        Assert.Contains(sender.Sent, s => KrpcParser.Parse(s.Datagram, out var m) == KrpcParseStatus.Ok && m.Type == KrpcMessageType.Query);
        Assert.True(sender.Sent.Where(s => s.To == Client).Sum(s => s.Datagram.Length) <= query.Length);
    }

    [Fact]
    public async Task Transaction_ids_of_our_queries_are_not_sequential()
    {
        var sender = new CapturingSender();
        var engine = new DhtEngine(new DhtNodeOptions { Id = NodeId.Random() }, sender, _time);
        var routers = Enumerable.Range(1, 64).Select(i => new CompactPeer(0x7F000100u + (uint)i, 1)).ToList();
        var lookup = engine.LookupAsync(NodeId.Random(), Appliance.Dht.Lookups.LookupKind.FindNode, routers, [], CancellationToken.None);
        var ids = sender.Sent.Select(s =>
        {
            KrpcParser.Parse(s.Datagram, out var m);
            return (m.TransactionId[0] << 8) | m.TransactionId[1];
        }).ToList();
        Assert.True(ids.Count >= 3);
        int consecutive = ids.Zip(ids.Skip(1)).Count(p => ((p.First + 1) & 0xFFFF) == p.Second);
        Assert.True(consecutive < ids.Count / 2, $"{consecutive} of {ids.Count - 1} ids follow their predecessor");
        for (int i = 0; i < 100 && !lookup.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            engine.Tick();
            await Task.Delay(10);
        }
    }

    [Fact]
    public void Ping_is_answered_with_our_id_and_the_requesters_address()
    {
        _engine.Receive(Query(b => KrpcWriter.WritePing(b, "t1"u8, _clientId, default)), Client);
        var answer = _sender.Sent.Single(s => KrpcParser.Parse(s.Datagram, out var m) == KrpcParseStatus.Ok && m.Type == KrpcMessageType.Response);
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(answer.Datagram, out var r));
        Assert.True(r.TransactionId.SequenceEqual("t1"u8));
        Assert.Equal(_engine.Id, new NodeId(r.NodeId));
        Assert.Equal(Client, CompactPeer.Read(r.ExternalAddress));
        Assert.Equal(Client, answer.To);
    }

    [Fact]
    public void A_querying_node_enters_the_table_only_after_answering_our_ping()
    {
        _engine.Receive(Query(b => KrpcWriter.WritePing(b, "t1"u8, _clientId, default)), Client);
        Assert.Equal(0, _engine.TableSize);
        var ping = _sender.Sent.Single(s => KrpcParser.Parse(s.Datagram, out var m) == KrpcParseStatus.Ok && m.Type == KrpcMessageType.Query);
        KrpcParser.Parse(ping.Datagram, out var query);
        var tid = query.TransactionId.ToArray();
        // A reply with another transaction id is ignored.
        _engine.Receive(Response("zz"u8.ToArray(), _clientId), Client);
        Assert.Equal(0, _engine.TableSize);
        Assert.Equal(1, _engine.Counters.Read(DhtCounter.UnknownTransactions));
        // The right id from another address is ignored too.
        _engine.Receive(Response(tid, _clientId), new CompactPeer(0x7F000003, 5000));
        Assert.Equal(0, _engine.TableSize);
        _engine.Receive(Response(tid, _clientId), Client);
        Assert.Equal(1, _engine.TableSize);
    }

    private static byte[] Response(byte[] tid, byte[] id)
    {
        var buffer = new byte[200];
        var w = new BencodeWriter(buffer);
        KrpcWriter.BeginResponse(ref w, new CompactPeer(0x7F000001, 1), id);
        KrpcWriter.EndResponse(ref w, tid, default);
        return buffer.AsSpan(0, w.BytesWritten).ToArray();
    }

    [Fact]
    public void Announce_with_a_valid_token_is_stored_and_returned_as_values()
    {
        var hash = NodeId.Random().ToArray();
        _engine.Receive(Query(b => KrpcWriter.WriteGetPeers(b, "g1"u8, _clientId, hash, default)), Client);
        KrpcParser.Parse(LastSentResponse(), out var getPeers);
        Assert.False(getPeers.Token.IsEmpty);
        var token = getPeers.Token.ToArray();

        _engine.Receive(Query(b => KrpcWriter.WriteAnnouncePeer(b, "a1"u8, _clientId, hash, 7000, impliedPort: false, token, default)), Client);
        KrpcParser.Parse(LastSentResponse(), out var ack);
        Assert.Equal(KrpcMessageType.Response, ack.Type);
        Assert.Equal(1, _engine.Peers.Count);

        var other = new CompactPeer(0x7F000009, 1234);
        _engine.Receive(Query(b => KrpcWriter.WriteGetPeers(b, "g2"u8, NodeId.Random().ToArray(), hash, default)), other);
        KrpcParser.Parse(LastSentResponse(), out var found);
        var values = new List<CompactPeer>();
        foreach (var v in found.EnumerateValues()) values.Add(CompactPeer.Read(v));
        Assert.Equal([new CompactPeer(Client.Address, 7000)], values);
    }

    [Fact]
    public void Implied_port_uses_the_source_port()
    {
        var hash = NodeId.Random().ToArray();
        _engine.Receive(Query(b => KrpcWriter.WriteGetPeers(b, "g1"u8, _clientId, hash, default)), Client);
        KrpcParser.Parse(LastSentResponse(), out var getPeers);
        var token = getPeers.Token.ToArray();
        _engine.Receive(Query(b => KrpcWriter.WriteAnnouncePeer(b, "a1"u8, _clientId, hash, 1, impliedPort: true, token, default)), Client);
        Assert.Equal([new CompactPeer(Client.Address, Client.Port)], _engine.Peers.PeersFor(new NodeId(hash)));
    }

    [Fact]
    public void Announce_with_a_bad_or_foreign_token_gets_error_203()
    {
        var hash = NodeId.Random().ToArray();
        _engine.Receive(Query(b => KrpcWriter.WriteGetPeers(b, "g1"u8, _clientId, hash, default)), Client);
        KrpcParser.Parse(LastSentResponse(), out var getPeers);
        var token = getPeers.Token.ToArray();
        var thief = new CompactPeer(0x7F000005, 5000);
        _engine.Receive(Query(b => KrpcWriter.WriteAnnouncePeer(b, "a1"u8, _clientId, hash, 7000, false, token, default)), thief);
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(LastSent(), out var error));
        Assert.Equal(KrpcMessageType.Error, error.Type);
        Assert.Equal(203, error.ErrorCode);
        Assert.Equal(0, _engine.Peers.Count);
        Assert.Equal(1, _engine.Counters.Read(DhtCounter.BadTokens));
    }

    [Fact]
    public void Unknown_method_gets_error_204_and_missing_arguments_203()
    {
        var unknown = Encoding.Latin1.GetBytes("d1:ad2:id20:" + new string('a', 20) + "e1:q3:foo1:t2:xx1:y1:qe");
        _engine.Receive(unknown, Client);
        KrpcParser.Parse(LastSent(), out var e1);
        Assert.Equal(204, e1.ErrorCode);
        var noTarget = Encoding.Latin1.GetBytes("d1:ad2:id20:" + new string('a', 20) + "e1:q9:find_node1:t2:xx1:y1:qe");
        _engine.Receive(noTarget, Client);
        KrpcParser.Parse(LastSent(), out var e2);
        Assert.Equal(203, e2.ErrorCode);
    }

    [Fact]
    public void Malformed_packets_are_dropped_and_counted()
    {
        _engine.Receive("not bencode"u8, Client);
        _engine.Receive("d1:ae"u8, Client);
        _engine.Receive(new byte[3000], Client);
        Assert.Empty(_sender.Sent);
        Assert.Equal(3, _engine.Counters.Read(DhtCounter.MalformedPackets));
    }

    [Fact]
    public void Responses_are_never_more_than_four_times_their_query()
    {
        for (int i = 1; i <= 200; i++) _engine.WithTable(t => t.AddVerified(NodeId.Random(), new CompactPeer(0x0A000000u + (uint)i, 6881)));
        var hash = NodeId.Random();
        for (uint i = 1; i <= 300; i++) _engine.Peers.Announce(hash, new CompactPeer(0x0B000000u + i, 6881));
        var hashBytes = hash.ToArray();
        var queries = new[]
        {
            Query(b => KrpcWriter.WriteFindNode(b, "f"u8, _clientId, NodeId.Random().ToArray(), default)),
            Query(b => KrpcWriter.WriteGetPeers(b, "g"u8, _clientId, NodeId.Random().ToArray(), default)),
            Query(b => KrpcWriter.WriteGetPeers(b, "g"u8, _clientId, hashBytes, default)),
            Query(b => KrpcWriter.WriteGetPeers(b, "g"u8, _clientId, hashBytes, "AP\x00\x01"u8)),
        };
        foreach (var query in queries)
        {
            _sender.Sent.Clear();
            _engine.Receive(query, new CompactPeer(0x7F000010, 1));
            var response = _sender.Sent.Single(s => KrpcParser.Parse(s.Datagram, out var m) == KrpcParseStatus.Ok && m.Type == KrpcMessageType.Response).Datagram;
            Assert.InRange(response.Length, 1, query.Length * 4);
            KrpcParser.Parse(response, out var parsed);
            Assert.True(parsed.Nodes.Length > 0 || !parsed.EncodedValues.IsEmpty);
        }
    }

    [Fact]
    public void A_flooding_source_is_rate_limited()
    {
        var ping = Query(b => KrpcWriter.WritePing(b, "t1"u8, _clientId, default));
        for (int i = 0; i < 500; i++) _engine.Receive(ping, Client);
        Assert.True(_engine.Counters.Read(DhtCounter.RateLimitedPackets) > 400);
        Assert.True(_sender.Sent.Count < 100);
    }

    [Fact]
    public void Answering_a_get_peers_query_allocates_nothing()
    {
        var sink = new SinkSender();
        var engine = new DhtEngine(new DhtNodeOptions { Id = NodeId.Random(), PacketsPerSecondPerSource = 1e9, BurstPerSource = 1e9 }, sink, _time);
        var source = new CompactPeer(0x0A000001, 6881);
        var sourceId = NodeId.Random();
        for (int i = 1; i <= 100; i++) engine.WithTable(t => t.AddVerified(i == 1 ? sourceId : NodeId.Random(), new CompactPeer(0x0A000000u + (uint)i, 6881)));
        var query = Query(b => KrpcWriter.WriteGetPeers(b, "g1"u8, sourceId.ToArray(), NodeId.Random().ToArray(), default));
        engine.Receive(query, source);
        Assert.Equal(0, ThreadAllocations.Quietest(() =>
        {
            for (int i = 0; i < 1000; i++) engine.Receive(query, source);
        }));
        Assert.True(sink.Count >= 1001 && (sink.Count - 1) % 1000 == 0, $"{sink.Count} replies");
    }

    private sealed class SinkSender : IDatagramSender
    {
        public int Count { get; private set; }

        public void Send(ReadOnlySpan<byte> datagram, CompactPeer destination) => Count++;
    }

    private byte[] LastSentResponse() =>
        _sender.Sent.Last(s => KrpcParser.Parse(s.Datagram, out var m) == KrpcParseStatus.Ok && m.Type != KrpcMessageType.Query).Datagram;

}
