using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;

namespace Appliance.Networking.Tests.Udp;

public sealed class DatagramEndpointTests
{
    private const int PerSender = 4000;

    [Fact]
    public void Every_datagram_arrives_with_its_source_and_the_receive_thread_allocates_nothing_per_datagram()
    {
        using var endpoint = new DatagramEndpoint(new IPEndPoint(IPAddress.Loopback, 0));
        var handler = new Recorder(3 * PerSender);
        endpoint.Start(handler, "endpoint-test");
        var senders = Enumerable.Range(0, 3).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)).ToList();
        try
        {
            var target = endpoint.LocalEndPoint.Serialize();
            var datagram = new byte[100];
            for (int i = 0; i < PerSender; i++)
            {
                foreach (var sender in senders)
                {
                    if (i == 0) sender.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                    BinaryPrimitives.WriteUInt16BigEndian(datagram, (ushort)((IPEndPoint)sender.LocalEndPoint!).Port);
                    sender.SendTo(datagram, SocketFlags.None, target);
                }
                if (i % 100 == 0) Thread.Sleep(1); // stay within the socket buffer on a loaded machine
            }
            Assert.True(handler.Done.Wait(TimeSpan.FromSeconds(30)), $"{handler.Count} of {3 * PerSender} datagrams arrived");
            Assert.Equal(0, handler.Mismatches);
            // One object per datagram would be hundreds of kilobytes; what remains is a one-time runtime allocation.
            Assert.InRange(handler.AllocatedAfterWarmUp, 0, 256);
        }
        finally
        {
            foreach (var sender in senders) sender.Dispose();
        }
    }

    [Fact]
    public void Send_many_delivers_each_datagram_whole_and_in_order()
    {
        using var endpoint = new DatagramEndpoint(new IPEndPoint(IPAddress.Loopback, 0));
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        receiver.ReceiveTimeout = 10_000;
        var datagrams = Enumerable.Range(0, 100).Select(i =>
        {
            var buffer = GC.AllocateArray<byte>(1500, pinned: true);
            buffer.AsSpan().Fill((byte)i);
            return buffer;
        }).ToArray();
        var lengths = Enumerable.Range(0, 100).Select(i => 100 + i).ToArray();

        endpoint.SendMany(datagrams, lengths, ((IPEndPoint)receiver.LocalEndPoint!).Serialize());

        var received = new byte[2048];
        for (int i = 0; i < 100; i++)
        {
            int length = receiver.Receive(received);
            Assert.Equal(100 + i, length);
            Assert.All(received.AsSpan(0, length).ToArray(), b => Assert.Equal((byte)i, b));
        }
    }

    [Fact]
    public void Dispose_stops_the_receive_thread_promptly()
    {
        var endpoint = new DatagramEndpoint(new IPEndPoint(IPAddress.Loopback, 0));
        endpoint.Start(new Recorder(1), "endpoint-test");
        var started = Environment.TickCount64;
        endpoint.Dispose();
        Assert.True(Environment.TickCount64 - started < 5000);
    }

    /// <summary>Checks each datagram names its sender (the first two bytes carry the sender's port) and measures the receive thread's allocations.</summary>
    private sealed class Recorder(int expected) : IDatagramHandler
    {
        private long _warm;
        public int Count;
        public int Mismatches;
        public long AllocatedAfterWarmUp = -1;
        public ManualResetEventSlim Done { get; } = new();

        public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source)
        {
            int port = BinaryPrimitives.ReadUInt16BigEndian(source.Buffer.Span[2..]);
            if (datagram.Length != 100 || BinaryPrimitives.ReadUInt16BigEndian(datagram) != port) Mismatches++;
            Count++;
            if (Count == 100) _warm = GC.GetAllocatedBytesForCurrentThread();
            if (Count == expected)
            {
                AllocatedAfterWarmUp = GC.GetAllocatedBytesForCurrentThread() - _warm;
                Done.Set();
            }
        }
    }
}
