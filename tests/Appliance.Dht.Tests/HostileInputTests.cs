using Appliance.Dht.Node;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;
using Appliance.TestKit;

namespace Appliance.Dht.Tests;

public class HostileInputTests
{
    private sealed class Sink : IDatagramSender
    {
        public int Largest;

        public void Send(ReadOnlySpan<byte> datagram, CompactPeer destination) => Largest = Math.Max(Largest, datagram.Length);
    }

    [Fact]
    public void Mutated_and_random_datagrams_never_throw_and_never_draw_big_answers()
    {
        var sink = new Sink();
        var engine = new DhtEngine(new DhtNodeOptions { Id = NodeId.Random(), PacketsPerSecondPerSource = 1e9, BurstPerSource = 1e9 }, sink, new ManualTime());
        for (int i = 1; i <= 100; i++) engine.WithTable(t => t.AddVerified(NodeId.Random(), new CompactPeer(0x0A000000u + (uint)i, 1)));
        var random = new Random(1234);
        var buffer = new byte[1500];
        var id = NodeId.Random().ToArray();
        var seeds = new List<byte[]>
        {
            buffer.AsSpan(0, KrpcWriter.WritePing(buffer, "aa"u8, id, "v1"u8)).ToArray(),
            buffer.AsSpan(0, KrpcWriter.WriteFindNode(buffer, "bb"u8, id, NodeId.Random().ToArray(), default)).ToArray(),
            buffer.AsSpan(0, KrpcWriter.WriteGetPeers(buffer, "cc"u8, id, NodeId.Random().ToArray(), default)).ToArray(),
            buffer.AsSpan(0, KrpcWriter.WriteAnnouncePeer(buffer, "dd"u8, id, NodeId.Random().ToArray(), 1, false, "12345678"u8, default)).ToArray(),
            buffer.AsSpan(0, KrpcWriter.WriteError(buffer, "ee"u8, 201, "x"u8, default)).ToArray(),
            "d1:rd2:id20:abcdefghij01234567895:nodes26:abcdefghij0123456789ABCDEF6:valuesl6:axje.ueee1:t2:aa1:y1:re"u8.ToArray(),
        };
        for (int i = 0; i < 20_000; i++)
        {
            var seed = seeds[i % seeds.Count];
            byte[] datagram;
            if (i % 10 == 0)
            {
                datagram = new byte[random.Next(0, 200)];
                random.NextBytes(datagram);
            }
            else
            {
                datagram = (byte[])seed.Clone();
                for (int m = random.Next(1, 4); m > 0; m--) datagram[random.Next(datagram.Length)] = (byte)random.Next(256);
                if (random.Next(4) == 0) datagram = datagram.AsSpan(0, random.Next(datagram.Length)).ToArray();
            }
            sink.Largest = 0;
            engine.Receive(datagram, new CompactPeer(0x7F000001u + (uint)(i % 50), 4000));
            Assert.True(sink.Largest <= datagram.Length * 4, $"{sink.Largest} bytes sent for a {datagram.Length}-byte datagram");
        }
        Assert.True(engine.Counters.Read(DhtCounter.MalformedPackets) > 1000);
    }

    [Fact]
    public void Datagram_limits_refuse_deep_nesting_and_long_strings()
    {
        var deep = System.Text.Encoding.ASCII.GetBytes("d1:z" + new string('l', 20) + new string('e', 20) + "e");
        Assert.Equal(KrpcParseStatus.MalformedBencode, KrpcParser.Parse(deep, out _));
        var writer = new byte[4000];
        var w = new BencodeWriter(writer);
        w.WriteDictionaryStart();
        w.WriteKey("t"u8); w.WriteString(new byte[3000]);
        w.WriteEnd();
        Assert.Equal(KrpcParseStatus.MalformedBencode, KrpcParser.Parse(writer.AsSpan(0, w.BytesWritten), out _));
    }
}
