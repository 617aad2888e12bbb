using System.Text;
using Appliance.Protocol.Krpc;
using Appliance.TestKit;

namespace Appliance.Protocol.Tests.Krpc;

public class KrpcCodecTests
{
    private static readonly byte[] Id = Encoding.ASCII.GetBytes("abcdefghij0123456789");
    private static readonly byte[] Hash = Encoding.ASCII.GetBytes("mnopqrstuvwxyz123456");

    [Fact]
    public void Ping_query_from_BEP5_parses()
    {
        var bytes = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"u8.ToArray();
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(bytes, out var m));
        Assert.Equal(KrpcMessageType.Query, m.Type);
        Assert.Equal(KrpcMethod.Ping, m.Method);
        Assert.True(m.TransactionId.SequenceEqual("aa"u8));
        Assert.True(m.NodeId.SequenceEqual(Id));
    }

    [Fact]
    public void A_query_with_keys_out_of_order_parses_as_other_implementations_send_it()
    {
        var bytes = "d1:y1:q1:t2:aa1:q9:get_peers1:ad9:info_hash20:mnopqrstuvwxyz1234562:id20:abcdefghij0123456789ee"u8.ToArray();
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(bytes, out var m));
        Assert.Equal(KrpcMethod.GetPeers, m.Method);
        Assert.True(m.NodeId.SequenceEqual(Id));
        Assert.True(m.InfoHash.SequenceEqual(Hash));
    }

    [Fact]
    public void Get_peers_response_with_values_and_token_parses()
    {
        var bytes = "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re"u8.ToArray();
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(bytes, out var m));
        Assert.Equal(KrpcMessageType.Response, m.Type);
        Assert.True(m.Token.SequenceEqual("aoeusnth"u8));
        var values = new List<CompactPeer>();
        foreach (var v in m.EnumerateValues()) values.Add(CompactPeer.Read(v));
        Assert.Equal(2, values.Count);
        Assert.Equal(CompactPeer.Read("axje.u"u8), values[0]);
    }

    [Fact]
    public void Error_message_parses_code_and_text()
    {
        var bytes = "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee"u8.ToArray();
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(bytes, out var m));
        Assert.Equal(KrpcMessageType.Error, m.Type);
        Assert.Equal(201, m.ErrorCode);
        Assert.Equal("A Generic Error Ocurred", Encoding.ASCII.GetString(m.ErrorMessage));
    }

    [Theory]
    [InlineData("")]
    [InlineData("le")]
    [InlineData("d1:q4:ping1:t2:aa1:y1:qe")]
    [InlineData("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe")]
    [InlineData("d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe")]
    [InlineData("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qeXX")]
    [InlineData("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:ze")]
    [InlineData("d1:ad2:id20:abcdefghij01234567895:nodes3:abce1:q4:ping1:t2:aa1:y1:qe")]
    [InlineData("d1:ad2:id20:abcdefghij01234567894:porti70000ee1:q4:ping1:t2:aa1:y1:qe")]
    [InlineData("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:q4:ping1:t2:aa1:y1:qe")]
    public void Malformed_datagrams_are_refused(string text)
    {
        Assert.NotEqual(KrpcParseStatus.Ok, KrpcParser.Parse(Encoding.Latin1.GetBytes(text), out _));
    }

    [Fact]
    public void Unknown_keys_are_skipped()
    {
        var bytes = "d1:ad2:id20:abcdefghij01234567893:zzzli1eee1:q4:ping1:t2:aa3:xyzd1:ai1ee1:y1:qe"u8.ToArray();
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(bytes, out var m));
        Assert.Equal(KrpcMethod.Ping, m.Method);
    }

    [Fact]
    public void Announce_peer_round_trips_through_writer_and_parser()
    {
        var buffer = new byte[512];
        int n = KrpcWriter.WriteAnnouncePeer(buffer, "xy"u8, Id, Hash, 6881, impliedPort: true, "tok"u8, "AP\x00\x01"u8);
        Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(buffer.AsSpan(0, n), out var m));
        Assert.Equal(KrpcMethod.AnnouncePeer, m.Method);
        Assert.Equal(6881, m.Port);
        Assert.True(m.ImpliedPort);
        Assert.True(m.InfoHash.SequenceEqual(Hash));
        Assert.True(m.Token.SequenceEqual("tok"u8));
        Assert.True(m.Version.SequenceEqual("AP\x00\x01"u8));
    }

    [Fact]
    public void Parsing_a_query_allocates_nothing()
    {
        var buffer = new byte[512];
        int n = KrpcWriter.WriteGetPeers(buffer, "xy"u8, Id, Hash, "AP\x00\x01"u8);
        var datagram = buffer.AsSpan(0, n);
        KrpcParser.Parse(datagram, out _);
        Assert.Equal(0, ThreadAllocations.Quietest(() =>
        {
            for (int i = 0; i < 100; i++) KrpcParser.Parse(buffer.AsSpan(0, n), out _);
        }));
    }

    [Fact]
    public void Compact_peer_is_address_then_port_big_endian()
    {
        var peer = CompactPeer.Read([127, 0, 0, 1, 0x1A, 0xE1]);
        Assert.Equal("127.0.0.1:6881", peer.ToString());
        Assert.Equal(6881, peer.ToEndPoint().Port);
    }
}
