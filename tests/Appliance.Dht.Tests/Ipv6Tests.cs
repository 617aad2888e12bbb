using System.Net;
using Appliance.Dht.Node;
using Appliance.Dht.Routing;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;
using Appliance.TestKit;

namespace Appliance.Dht.Tests;

/// <summary>BEP 32 (DHT over IPv6: nodes6, want, 18-byte peers and addresses) and BEP 42 for IPv6.</summary>
public sealed class Ipv6Tests
{
    private sealed class CapturingSender : IDatagramSender
    {
        public List<(byte[] Datagram, CompactPeer To)> Sent { get; } = [];

        public void Send(ReadOnlySpan<byte> datagram, CompactPeer destination) => Sent.Add((datagram.ToArray(), destination));
    }

    private static readonly CompactPeer Client6 = CompactPeer.FromEndPoint(IPEndPoint.Parse("[2001:db8::7]:6000"));
    private readonly CapturingSender _sender4 = new();
    private readonly CapturingSender _sender6 = new();
    private readonly DhtEngine _engine4;
    private readonly DhtEngine _engine6;
    private readonly byte[] _clientId = NodeId.Random().ToArray();

    public Ipv6Tests()
    {
        var time = new ManualTime();
        _engine4 = new DhtEngine(new DhtNodeOptions { Id = NodeId.Random() }, _sender4, time);
        _engine6 = new DhtEngine(new DhtNodeOptions { Id = NodeId.Random(), EndPoint = new IPEndPoint(IPAddress.IPv6Any, 6881) }, _sender6, time);
        _engine4.Sibling = _engine6;
        _engine6.Sibling = _engine4;
        for (int i = 1; i <= 3; i++)
        {
            var id = NodeId.Random();
            _engine6.WithTable(t => t.AddVerified(id, CompactPeer.FromEndPoint(IPEndPoint.Parse($"[2001:db8:1::{i}]:700{i}"))));
            _engine4.WithTable(t => t.AddVerified(NodeId.Random(), new CompactPeer(0x0A000000u + (uint)i, (ushort)(7000 + i))));
        }
    }

    private KrpcMessage Answer(CapturingSender sender, out byte[] datagram)
    {
        datagram = sender.Sent.Last(s => KrpcParser.Parse(s.Datagram, out var m) == KrpcParseStatus.Ok && m.Type == KrpcMessageType.Response).Datagram;
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(datagram, out var message));
        return message;
    }

    private byte[] FindNode(string? want)
    {
        var buffer = new byte[512];
        var w = new BencodeWriter(buffer);
        w.WriteDictionaryStart();
        w.WriteKey("a"u8);
        w.WriteDictionaryStart();
        w.WriteKey("id"u8); w.WriteString(_clientId);
        w.WriteKey("target"u8); w.WriteString(NodeId.Random().ToArray());
        if (want is not null)
        {
            w.WriteKey("want"u8);
            w.WriteListStart();
            foreach (var family in want.Split(',')) w.WriteString(System.Text.Encoding.ASCII.GetBytes(family));
            w.WriteEnd();
        }
        w.WriteEnd();
        w.WriteKey("q"u8); w.WriteString("find_node"u8);
        w.WriteKey("t"u8); w.WriteString("f1"u8);
        w.WriteKey("y"u8); w.WriteString("q"u8);
        w.WriteEnd();
        return buffer.AsSpan(0, w.BytesWritten).ToArray();
    }

    [Fact]
    public void IPv6_node_answers_with_nodes6_and_the_requesters_18_byte_address()
    {
        _engine6.Receive(FindNode(null), Client6);
        var answer = Answer(_sender6, out _);
        Assert.Equal(Client6, CompactPeer.ReadV6(answer.ExternalAddress));
        Assert.True(answer.Nodes.IsEmpty);
        Assert.Equal(3 * CompactNode.V6Length, answer.Nodes6.Length);
        var nodes6 = answer.Nodes6.ToArray();
        var addresses = Enumerable.Range(0, 3).Select(i => CompactPeer.ReadV6(nodes6.AsSpan(i * CompactNode.V6Length + CompactNode.IdLength))).ToList();
        Assert.Contains(CompactPeer.FromEndPoint(IPEndPoint.Parse("[2001:db8:1::1]:7001")), addresses);
    }

    [Theory]
    [InlineData("n4", true, false)]
    [InlineData("n6", false, true)]
    [InlineData("n4,n6", true, true)]
    public void Want_names_the_families_answered_from_each_routing_table(string want, bool nodes4, bool nodes6)
    {
        _engine6.Receive(FindNode(want), Client6);
        var answer = Answer(_sender6, out _);
        Assert.Equal(nodes4 ? 3 * CompactNode.Length : 0, answer.Nodes.Length);
        Assert.Equal(nodes6 ? 3 * CompactNode.V6Length : 0, answer.Nodes6.Length);
    }

    [Fact]
    public void Want_entries_other_than_n4_and_n6_are_ignored()
    {
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(FindNode("n4,x9,n6"), out var query));
        Assert.Equal(KrpcWant.Nodes4 | KrpcWant.Nodes6, query.Want);
    }

    [Fact]
    public void IPv6_peers_are_announced_and_returned_as_18_byte_values()
    {
        var infoHash = NodeId.Random();
        var self = CompactPeer.FromEndPoint(IPEndPoint.Parse("[::1]:51413"));
        _engine6.AddLocalPeer(infoHash, self);
        var buffer = new byte[512];
        _engine6.Receive(buffer.AsSpan(0, KrpcWriter.WriteGetPeers(buffer, "g1"u8, _clientId, infoHash.ToArray(), default)).ToArray(), Client6);
        var answer = Answer(_sender6, out _);
        var values = new List<CompactPeer>();
        foreach (var value in answer.EnumerateValues()) values.Add(CompactPeer.ReadAny(value));
        Assert.Equal([self], values);

        int length = KrpcWriter.WriteAnnouncePeer(buffer, "a1"u8, _clientId, infoHash.ToArray(), 6001, impliedPort: false, answer.Token.ToArray(), default);
        _engine6.Receive(buffer.AsSpan(0, length).ToArray(), Client6);
        Assert.Contains(Client6 with { Port = 6001 }, _engine6.Peers.PeersFor(infoHash));
    }

    [Fact]
    public void BEP_42_ids_for_IPv6_match_their_address_and_not_another_prefix()
    {
        var address = CompactPeer.FromEndPoint(IPEndPoint.Parse("[2001:db8:85a3::8a2e:370:7334]:1"));
        var id = NodeIdSecurity.Generate(address);
        Assert.True(NodeIdSecurity.IsValid(id, address));
        Assert.True(NodeIdSecurity.IsValid(id, CompactPeer.FromEndPoint(IPEndPoint.Parse("[2001:db8:85a3::1]:1"))), "only the first 64 bits count");
        Assert.False(NodeIdSecurity.IsValid(id, CompactPeer.FromEndPoint(IPEndPoint.Parse("[2001:db9:85a3::8a2e:370:7334]:1"))));
        Assert.True(NodeIdSecurity.IsExempt(CompactPeer.FromEndPoint(IPEndPoint.Parse("[::1]:1"))));
        Assert.True(NodeIdSecurity.IsExempt(CompactPeer.FromEndPoint(IPEndPoint.Parse("[fe80::1]:1"))));
        Assert.True(NodeIdSecurity.IsExempt(CompactPeer.FromEndPoint(IPEndPoint.Parse("[fd00::1]:1"))));
        Assert.False(NodeIdSecurity.IsExempt(address));
    }

    [Fact]
    public void State_file_keeps_IPv6_nodes_beside_IPv4_ones()
    {
        var nodes = _engine6.WithTable(t => t.AllNodes()).Concat(_engine4.WithTable(t => t.AllNodes())).ToList();
        var decoded = RoutingTableState.Decode(RoutingTableState.Encode(_engine6.Id, nodes));
        Assert.NotNull(decoded);
        Assert.Equal(nodes.Select(n => (n.Id, n.Address)).OrderBy(n => n.Address.ToString()), decoded.Nodes.OrderBy(n => n.Address.ToString()));
    }

    [Fact]
    public void Malformed_nodes6_is_a_bad_field()
    {
        byte[] response = [.. "d1:rd2:id20:"u8, .. new byte[20], .. "6:nodes637:"u8, .. new byte[37], .. "e1:t2:aa1:y1:re"u8];
        Assert.Equal(KrpcParseStatus.BadField, KrpcParser.Parse(response, out _));
    }
}
