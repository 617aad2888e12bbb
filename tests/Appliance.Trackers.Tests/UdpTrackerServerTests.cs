using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.TestKit;
using Appliance.Trackers.Embedded;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Trackers.Tests;

/// <summary>The UDP tracker on the shared batched datagram endpoint: several workers on one port, and no allocation per packet.</summary>
public sealed class UdpTrackerServerTests
{
    private static readonly InfoHash Hash = InfoHash.Compute("udp-workers"u8);

    private static UdpTrackerServer NewServer(SwarmStore? store = null) =>
        new(store ?? NewStore(), new ConnectionIdIssuer(), new TrackerCounters(), NullLogger.Instance);

    private static SwarmStore NewStore() => new(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });

    [Fact]
    public async Task Several_workers_sharing_one_port_answer_every_client()
    {
        const int Clients = 48;
        var store = NewStore();
        await using var server = NewServer(store);
        server.Start(new IPEndPoint(IPAddress.Loopback, 0), workers: 3);
        var target = server.LocalEndPoint;
        var sockets = Enumerable.Range(0, Clients).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)).ToList();
        try
        {
            var reply = new byte[UdpTrackerServer.MaxReplyBytes];
            for (int i = 0; i < Clients; i++)
            {
                var socket = sockets[i];
                // An address each: the swarm keeps at most 4 ports per address.
                socket.Bind(new IPEndPoint(IPAddress.Parse($"127.0.2.{i + 1}"), 0));
                socket.ReceiveTimeout = 30_000;
                long connectionId = Connect(socket, target, transactionId: i, reply);
                var announce = new byte[98];
                UdpTrackerPacket.WriteAnnounceRequest(announce, connectionId, 1000 + i,
                    new AnnounceRequest { InfoHash = Hash, PeerId = AnnouncerHttpTests.PeerId, Port = (ushort)(6000 + i), Left = 1 });
                socket.SendTo(announce, target);
                int n = socket.Receive(reply);
                Assert.True(n >= UdpTrackerPacket.AnnounceResponseHeaderLength, $"client {i}: {n} bytes");
                Assert.Equal(UdpTrackerAction.Announce, (UdpTrackerAction)BinaryPrimitives.ReadInt32BigEndian(reply));
                Assert.Equal(1000 + i, BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(4)));
            }
            // Every client is in the one swarm, whichever socket the kernel gave it to.
            Assert.Equal(Clients, store.Scrape(Hash).Incomplete);
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }
    }

    [Fact]
    public void Handling_connects_announces_and_scrapes_allocates_nothing()
    {
        var server = NewServer();
        var client = PeerAddress.From(IPAddress.Parse("10.0.0.1"), 40000);
        var reply = new byte[UdpTrackerServer.MaxReplyBytes];
        var connect = new byte[16];
        UdpTrackerPacket.WriteConnectRequest(connect, 7);
        server.Handle(connect, client, reply);
        long connectionId = BinaryPrimitives.ReadInt64BigEndian(reply.AsSpan(8));
        var announce = new byte[98];
        UdpTrackerPacket.WriteAnnounceRequest(announce, connectionId, 8, new AnnounceRequest { InfoHash = Hash, PeerId = AnnouncerHttpTests.PeerId, Port = 6000 });
        var scrape = new byte[UdpTrackerPacket.ScrapeRequestHeaderLength + InfoHash.Length];
        UdpTrackerPacket.WriteScrapeRequest(scrape, connectionId, 9, [Hash]);

        void Run()
        {
            for (int i = 0; i < 2000; i++)
            {
                if (server.Handle(connect, client, reply) != 16) throw new InvalidDataException("connect not answered");
                if (server.Handle(announce, client, reply) < UdpTrackerPacket.AnnounceResponseHeaderLength) throw new InvalidDataException("announce not answered");
                if (server.Handle(scrape, client, reply) != 8 + 12) throw new InvalidDataException("scrape not answered");
            }
        }

        Run();
        Assert.Equal(0, ThreadAllocations.Quietest(Run));
    }

    [Fact]
    public void A_worker_answers_batches_of_requests_without_allocating_on_its_receive_thread()
    {
        const int Senders = 4, Rounds = 1500, InFlight = 8;
        var server = NewServer();
        using var endpoint = new DatagramEndpoint(new IPEndPoint(IPAddress.Loopback, 0));
        var measured = new Measured(new UdpTrackerWorker(server, endpoint), Senders * Rounds * InFlight);
        endpoint.Start(measured, "tracker-test");
        // Connects: the cheapest request, so the batches are full ones.
        DatagramClients.Run(endpoint.LocalEndPoint, Senders, Rounds, InFlight,
            (client, sequence, request) => UdpTrackerPacket.WriteConnectRequest(request, client * 1_000_000 + sequence % InFlight),
            (client, reply) => reply.Length == 16 && BinaryPrimitives.ReadInt32BigEndian(reply[4..]) / 1_000_000 == client ? null : "an answer meant for another");
        Assert.True(measured.Done.Wait(TimeSpan.FromSeconds(30)));
        // Anything per packet would come to more than a megabyte (48,000 x 24 B); what may remain is one-time runtime work
        // on the thread (once seen as 8 KB on a loaded machine).
        Assert.InRange(measured.AllocatedAfterWarmUp, 0, 32 * 1024);
    }

    private static long Connect(Socket socket, IPEndPoint target, int transactionId, byte[] reply)
    {
        var connect = new byte[16];
        UdpTrackerPacket.WriteConnectRequest(connect, transactionId);
        socket.SendTo(connect, target);
        Assert.Equal(16, socket.Receive(reply));
        Assert.Equal(transactionId, BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(4)));
        return BinaryPrimitives.ReadInt64BigEndian(reply.AsSpan(8));
    }

    /// <summary>Passes datagrams to the worker and measures what its receive thread allocates once warm.</summary>
    private sealed class Measured(IDatagramHandler inner, int expected) : IDatagramHandler
    {
        private long _warm;
        private int _count;
        public long AllocatedAfterWarmUp = -1;
        public ManualResetEventSlim Done { get; } = new();

        public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source)
        {
            inner.OnDatagram(datagram, source);
            if (++_count == 1000) _warm = GC.GetAllocatedBytesForCurrentThread();
        }

        public void OnBatchEnd()
        {
            inner.OnBatchEnd();
            if (_count == expected && !Done.IsSet)
            {
                AllocatedAfterWarmUp = GC.GetAllocatedBytesForCurrentThread() - _warm;
                Done.Set();
            }
        }
    }
}
