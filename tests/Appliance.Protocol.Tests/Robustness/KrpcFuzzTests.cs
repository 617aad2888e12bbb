using Appliance.TestKit;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;

namespace Appliance.Protocol.Tests.Robustness;

/// <summary>The DHT node's datagram parser (libtorrent keeps a fuzzer for it too): mutated KRPC never throws and never yields out-of-bounds fields.</summary>
public sealed class KrpcFuzzTests
{
    private static readonly byte[] Id = Enumerable.Range(1, 20).Select(i => (byte)i).ToArray();
    private static readonly byte[] Target = Enumerable.Range(100, 20).Select(i => (byte)i).ToArray();

    private static List<byte[]> ValidMessages()
    {
        var messages = new List<byte[]>();
        var buffer = new byte[1500];
        messages.Add(buffer[..KrpcWriter.WritePing(buffer, "aa"u8, Id, "AP01"u8)]);
        messages.Add(buffer[..KrpcWriter.WriteFindNode(buffer, "bb"u8, Id, Target, "AP01"u8)]);
        messages.Add(buffer[..KrpcWriter.WriteGetPeers(buffer, "cc"u8, Id, Target, default)]);
        messages.Add(buffer[..KrpcWriter.WriteAnnouncePeer(buffer, "dd"u8, Id, Target, 6881, impliedPort: true, "token-1234"u8, "AP01"u8)]);
        messages.Add(buffer[..KrpcWriter.WriteError(buffer, "ee"u8, KrpcWriter.ErrorProtocol, "bad token"u8, "AP01"u8)]);

        var w = new BencodeWriter(buffer);
        KrpcWriter.BeginResponse(ref w, new CompactPeer(0x7F000001, 6881), Id);
        w.WriteKey("nodes"u8);
        var nodes = new byte[2 * CompactNode.Length];
        new Random(1).NextBytes(nodes);
        w.WriteString(nodes);
        w.WriteKey("token"u8);
        w.WriteString("tok"u8);
        w.WriteKey("values"u8);
        w.WriteListStart();
        w.WriteString([10, 0, 0, 1, 0x1A, 0xE1]);
        w.WriteString([10, 0, 0, 2, 0x1A, 0xE2]);
        w.WriteEnd();
        KrpcWriter.EndResponse(ref w, "ff"u8, "AP01"u8);
        messages.Add(buffer[..w.BytesWritten]);
        return messages;
    }

    [Fact]
    public void Writer_output_parses_back()
    {
        foreach (var message in ValidMessages())
        {
            Assert.Equal(KrpcParseStatus.Ok, KrpcParser.Parse(message, out var parsed));
            Assert.Equal(2, parsed.TransactionId.Length);
            if (parsed.Type != KrpcMessageType.Error) Assert.True(parsed.NodeId.SequenceEqual(Id));
        }
    }

    [Fact]
    public void Mutated_and_random_datagrams_never_throw_and_accepted_fields_are_bounded()
    {
        var random = new Random(701);
        var inputs = ValidMessages().SelectMany(m => Mutations.Truncations(m).Concat(Mutations.Random(m, random.Next(), 1500))).ToList();
        for (int i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            inputs.Add(bytes);
        }
        int ok = 0;
        foreach (var datagram in inputs)
        {
            var status = KrpcParser.Parse(datagram, out var message);
            Assert.True(Enum.IsDefined(status));
            if (status != KrpcParseStatus.Ok) continue;
            ok++;
            Assert.InRange(message.TransactionId.Length, 0, KrpcParser.MaxTransactionIdLength);
            Assert.InRange(message.Token.Length, 0, KrpcParser.MaxTokenLength);
            if (message.Type is KrpcMessageType.Query or KrpcMessageType.Response) Assert.Equal(20, message.NodeId.Length);
            Assert.InRange(message.Port, -1, 65535);
            int values = 0;
            foreach (var value in message.EnumerateValues())
            {
                Assert.Equal(CompactPeer.Length, value.Length);
                Assert.True(++values <= datagram.Length, "values enumeration does not end");
            }
        }
        Assert.True(ok > 0);
    }
}
