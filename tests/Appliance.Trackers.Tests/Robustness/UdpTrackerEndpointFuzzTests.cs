using Appliance.TestKit;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Announcing;
using Appliance.Trackers.Embedded;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Trackers.Tests.Robustness;

/// <summary>
/// The embedded tracker's UDP endpoint (libtorrent keeps a UDP-tracker fuzzer; this is ours, seeded and bounded):
/// random and mutated datagrams get at most a bounded reply, and a valid client is still served afterwards.
/// </summary>
public sealed class UdpTrackerEndpointFuzzTests
{
    private static readonly InfoHash Hash = InfoHash.Compute("robust-udp"u8);
    private static readonly PeerAddress V4Source = PeerAddress.From(IPAddress.Parse("127.0.0.1"), 40000);
    private static readonly PeerAddress V6Source = PeerAddress.From(IPAddress.Parse("2001:db8::1"), 40001);

    private static byte[] Connect(int transaction)
    {
        var packet = new byte[UdpTrackerPacket.ConnectLength];
        UdpTrackerPacket.WriteConnectRequest(packet, transaction);
        return packet;
    }

    private static byte[] Announce(long connectionId, int transaction, int numWant = -1, int port = 6881)
    {
        var packet = new byte[UdpTrackerPacket.AnnounceRequestLength];
        UdpTrackerPacket.WriteAnnounceRequest(packet, connectionId, transaction, new AnnounceRequest
        {
            InfoHash = Hash,
            PeerId = "-XX0001-abcdefghijkl"u8.ToArray(),
            Port = port,
            Left = 1000,
            Event = AnnounceEvent.Started,
            NumWant = numWant,
        });
        return packet;
    }

    private static byte[] Scrape(long connectionId, int transaction, int hashes)
    {
        var packet = new byte[UdpTrackerPacket.ScrapeRequestHeaderLength + hashes * InfoHash.Length];
        UdpTrackerPacket.WriteScrapeRequest(packet, connectionId, transaction, Enumerable.Repeat(Hash, hashes).ToArray());
        return packet;
    }

    private static long ConnectionId(UdpTrackerServer server, PeerAddress source)
    {
        var reply = new byte[UdpTrackerServer.MaxReplyBytes];
        int n = server.Handle(Connect(1), source, reply);
        Assert.True(UdpTrackerPacket.TryReadConnectResponse(reply.AsSpan(0, n), out long id));
        return id;
    }

    [Fact]
    public void Mutated_datagrams_handled_in_process_never_throw_and_replies_fit_a_datagram()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Interval = TimeSpan.FromSeconds(120) });
        store.Allow(Hash);
        var server = new UdpTrackerServer(store, new ConnectionIdIssuer(), new TrackerCounters(), NullLogger.Instance);
        var reply = new byte[UdpTrackerServer.MaxReplyBytes];

        // Fill the swarm with many IPv6 and IPv4 peers (each its own source, so all are stored) so announce replies are as
        // large as they get.
        foreach (var (source, family) in new[] { (V4Source, "v4"), (V6Source, "v6") })
        {
            long id = ConnectionId(server, source);
            for (int i = 0; i < 400; i++)
            {
                var peer = family == "v4"
                    ? PeerAddress.From(new IPAddress([10, 0, (byte)(i >> 8), (byte)i]), 1000 + i)
                    : PeerAddress.From(IPAddress.Parse($"2001:db8:{i + 100:x}::1"), 1000 + i);
                long peerId = ConnectionId(server, peer);
                Assert.True(server.Handle(Announce(peerId, i), peer, reply) > 0);
            }
            int n = server.Handle(Announce(id, 9, numWant: int.MaxValue), source, reply);
            Assert.True(UdpTrackerPacket.TryReadResponseHeader(reply.AsSpan(0, n), out var action, out _));
            Assert.Equal(UdpTrackerAction.Announce, action);
        }

        var random = new Random(301);
        foreach (var source in new[] { V4Source, V6Source })
        {
            long id = ConnectionId(server, source);
            byte[][] seeds = [Connect(5), Announce(id, 6), Announce(id, 7, numWant: 1000), Scrape(id, 8, 3), Scrape(id, 9, 200)];
            foreach (var valid in seeds)
            {
                foreach (var mutant in Mutations.Truncations(valid).Concat(Mutations.Random(valid, random.Next(), 600)))
                {
                    int n = server.Handle(mutant, source, reply);
                    Assert.InRange(n, 0, UdpTrackerServer.MaxReplyBytes);
                    if (n > 0) Assert.True(n >= 8, "a reply always carries action and transaction id");
                }
            }
            for (int i = 0; i < 1000; i++)
            {
                var garbage = new byte[random.Next(0, 200)];
                random.NextBytes(garbage);
                Assert.InRange(server.Handle(garbage, source, reply), 0, UdpTrackerServer.MaxReplyBytes);
            }
        }
    }

    [Fact]
    public async Task Embedded_tracker_keeps_answering_a_valid_client_after_a_flood_of_bad_datagrams()
    {
        await using var tracker = await StartAsync();
        tracker.Allow(Hash);
        tracker.RegisterSelf(Hash, new IPEndPoint(IPAddress.Parse("192.0.2.7"), 51413));
        var endPoint = tracker.UdpEndPoint;

        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        raw.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        // A real connection id for this socket, so mutants of announce and scrape get past the id check.
        await raw.SendToAsync(Connect(42), SocketFlags.None, endPoint, cts.Token);
        var buffer = new byte[4096];
        var received = await raw.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        Assert.True(UdpTrackerPacket.TryReadConnectResponse(buffer.AsSpan(0, received.ReceivedBytes), out long id));

        var random = new Random(302);
        byte[][] seeds = [Connect(1), Announce(id, 2), Scrape(id, 3, 2)];
        int sent = 0;
        for (int i = 0; i < 1500; i++)
        {
            byte[] datagram;
            if (i % 3 == 0)
            {
                datagram = new byte[random.Next(0, 1400)];
                random.NextBytes(datagram);
            }
            else
            {
                datagram = Mutations.Mutate(seeds[random.Next(seeds.Length)], random);
            }
            await raw.SendToAsync(datagram, SocketFlags.None, endPoint, cts.Token);
            sent++;
            if (i % 100 == 99) await DrainAsync(raw, buffer); // keep our receive queue from overflowing
        }
        await DrainAsync(raw, buffer);
        Assert.Equal(1500, sent);

        var options = AnnouncerHttpTests.Options();
        await using var client = new UdpTrackerClient(options);
        var response = await client.AnnounceAsync($"udp://127.0.0.1:{endPoint.Port}",
            new AnnounceRequest { InfoHash = Hash, PeerId = AnnouncerHttpTests.PeerId, Port = 6000, Left = 100, Event = AnnounceEvent.Started },
            cts.Token);
        Assert.Null(response.FailureReason);
        Assert.Contains(response.Peers, p => p.ToString() == "192.0.2.7:51413");
    }

    private static async Task DrainAsync(Socket socket, byte[] buffer)
    {
        while (true)
        {
            using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            try
            {
                var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), quiet.Token);
                Assert.True(r.ReceivedBytes <= UdpTrackerServer.MaxReplyBytes);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task<EmbeddedTracker> StartAsync()
    {
        for (int attempt = 0; ; attempt++)
        {
            // No announce rate limit: the flood's mutated announces from 127.0.0.1 must not hold back the valid client's.
            var tracker = new EmbeddedTracker(new IPEndPoint(IPAddress.Loopback, 0),
                new SwarmStoreOptions { Interval = TimeSpan.FromSeconds(120), MaxAnnouncesPerSecondPerAddress = 0 },
                new TrackerCounters());
            try
            {
                tracker.Start(udpWorkers: 1);
                return tracker;
            }
            catch (SocketException) when (attempt < 5)
            {
                await tracker.DisposeAsync(); // the UDP port matching the TCP port was taken; try another pair
            }
        }
    }
}
