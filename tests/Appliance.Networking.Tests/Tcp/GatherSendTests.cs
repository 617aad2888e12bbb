using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Appliance.Networking.Tcp;

namespace Appliance.Networking.Tests.Tcp;

public sealed class GatherSendTests
{
    private static (Socket Client, Socket Server) Pair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        return (client, listener.Accept());
    }

    private static unsafe nint Address(byte[] pinned) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    [Fact]
    public void Several_buffers_arrive_in_order_as_one_stream()
    {
        Assert.True(GatherSend.IsSupported, "the appliance runs on Linux");
        var (client, server) = Pair();
        using (client)
        using (server)
        {
            var a = GC.AllocateArray<byte>(3, pinned: true);
            var b = GC.AllocateArray<byte>(5, pinned: true);
            "abc"u8.CopyTo(a);
            "defgh"u8.CopyTo(b);
            IoVector[] vectors = [new(Address(a), 3), new(Address(b), 5)];
            Assert.Equal(GatherSendStatus.Sent, GatherSend.TrySend(server, vectors, out long sent));
            Assert.Equal(8, sent);
            var received = new byte[8];
            int n = 0;
            while (n < 8) n += client.Receive(received, n, 8 - n, SocketFlags.None);
            Assert.Equal("abcdefgh"u8.ToArray(), received);
        }
    }

    [Fact]
    public void A_full_socket_buffer_gives_a_partial_send_then_would_block_instead_of_blocking()
    {
        Assert.True(GatherSend.IsSupported, "the appliance runs on Linux");
        var (client, server) = Pair();
        using (client)
        using (server)
        {
            server.SendBufferSize = 16 * 1024;
            client.ReceiveBufferSize = 16 * 1024;
            var big = GC.AllocateArray<byte>(8 * 1024 * 1024, pinned: true);
            IoVector[] vectors = [new(Address(big), big.Length)];
            Assert.Equal(GatherSendStatus.Sent, GatherSend.TrySend(server, vectors, out long sent));
            Assert.InRange(sent, 1, big.Length - 1);
            GatherSendStatus status;
            do status = GatherSend.TrySend(server, vectors, out sent);
            while (status == GatherSendStatus.Sent && sent > 0);
            Assert.Equal(GatherSendStatus.WouldBlock, status);
        }
    }

    [Fact]
    public void An_unreadable_address_is_reported_as_bad_address_not_a_crash()
    {
        Assert.True(GatherSend.IsSupported, "the appliance runs on Linux");
        var (client, server) = Pair();
        using (client)
        using (server)
        {
            IoVector[] vectors = [new(8, 16)]; // page zero is never mapped
            Assert.Equal(GatherSendStatus.BadAddress, GatherSend.TrySend(server, vectors, out _));
        }
    }
}
