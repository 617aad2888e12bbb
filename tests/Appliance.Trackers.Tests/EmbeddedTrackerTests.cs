using Appliance.TestKit;
using System.Buffers.Binary;
using System.Net;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Announcing;
using Appliance.Trackers.Embedded;

namespace Appliance.Trackers.Tests;

public sealed class EmbeddedTrackerTests
{
    private static readonly InfoHash Hash = InfoHash.Compute("embedded"u8);

    private static async Task<EmbeddedTracker> StartAsync(bool open = false)
    {
        var tracker = new EmbeddedTracker(new IPEndPoint(IPAddress.Loopback, 0), new SwarmStoreOptions { Open = open, Interval = TimeSpan.FromSeconds(120) },
            new TrackerCounters());
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                tracker.Start(udpWorkers: 1);
                return tracker;
            }
            catch (System.Net.Sockets.SocketException) when (attempt < 5)
            {
                // the UDP port matching the TCP port was taken; try another pair
                await tracker.DisposeAsync();
                tracker = new EmbeddedTracker(new IPEndPoint(IPAddress.Loopback, 0), new SwarmStoreOptions { Open = open, Interval = TimeSpan.FromSeconds(120) },
                    new TrackerCounters());
            }
        }
    }

    [Theory]
    [InlineData("http")]
    [InlineData("udp")]
    public async Task Announcer_finds_the_registered_seeder_through_the_embedded_tracker(string scheme)
    {
        await using var tracker = await StartAsync();
        tracker.Allow(Hash);
        tracker.RegisterSelf(Hash, new IPEndPoint(IPAddress.Parse("192.0.2.7"), 51413));
        string url = scheme == "http" ? $"http://127.0.0.1:{tracker.HttpEndPoint.Port}/announce" : $"udp://127.0.0.1:{tracker.UdpEndPoint.Port}";
        var options = AnnouncerHttpTests.Options();
        using var http = new HttpTrackerClient(options);
        await using var udp = new UdpTrackerClient(options);
        var request = new AnnounceRequest { InfoHash = Hash, PeerId = AnnouncerHttpTests.PeerId, Port = 6000, Left = 100, Event = AnnounceEvent.Started };
        var response = scheme == "http"
            ? await http.AnnounceAsync(url, request, CancellationToken.None)
            : await udp.AnnounceAsync(url, request, CancellationToken.None);
        Assert.Null(response.FailureReason);
        Assert.Equal(120, response.Interval);
        Assert.Equal("192.0.2.7:51413", Assert.Single(response.Peers).ToString());
        Assert.Equal((1, 1), (response.Complete, response.Incomplete));

        var scrape = scheme == "http"
            ? await http.ScrapeAsync(url, [Hash, InfoHash.Compute("other"u8)], CancellationToken.None)
            : await udp.ScrapeAsync(url, [Hash], CancellationToken.None);
        Assert.Equal(new ScrapeCounts(1, 0, 1), scrape[Hash]);
    }

    [Fact]
    public async Task Unknown_torrent_gets_a_failure_reason_over_http_and_an_error_over_udp()
    {
        await using var tracker = await StartAsync();
        var options = AnnouncerHttpTests.Options();
        using var http = new HttpTrackerClient(options);
        await using var udp = new UdpTrackerClient(options);
        var request = new AnnounceRequest { InfoHash = Hash, PeerId = AnnouncerHttpTests.PeerId, Port = 6000 };
        var response = await http.AnnounceAsync($"http://127.0.0.1:{tracker.HttpEndPoint.Port}/announce", request, CancellationToken.None);
        Assert.Equal("torrent not tracked here", response.FailureReason);
        var error = await Assert.ThrowsAsync<TrackerException>(() => udp.AnnounceAsync($"udp://127.0.0.1:{tracker.UdpEndPoint.Port}", request, CancellationToken.None));
        Assert.Contains("not tracked", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "missing info_hash")]
    [InlineData("info_hash=abc&peer_id=-AP0100-abcdefghijkl&port=1", "info_hash is not 20 bytes")]
    [InlineData("info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=-AP0100-abcdefghijkl&port=99999", "invalid port")]
    public async Task Malformed_http_announces_get_a_failure_reason(string query, string reason)
    {
        await using var tracker = await StartAsync(open: true);
        using var client = new HttpClient();
        var body = await client.GetByteArrayAsync($"http://127.0.0.1:{tracker.HttpEndPoint.Port}/announce?{query}");
        Assert.True(HttpTrackerResponse.TryParseAnnounce(body, out var response, out _));
        Assert.Contains(reason, response!.FailureReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_dictionary_peers_are_served_when_compact_is_off()
    {
        await using var tracker = await StartAsync(open: true);
        tracker.RegisterSelf(Hash, new IPEndPoint(IPAddress.Parse("192.0.2.9"), 7000));
        using var client = new HttpClient();
        string hash = AnnouncerHttpTests.Escaped(Hash.ToArray());
        var body = await client.GetByteArrayAsync($"http://127.0.0.1:{tracker.HttpEndPoint.Port}/announce?info_hash={hash}&peer_id=-AP0100-abcdefghijkl&port=5000&left=5&compact=0");
        Assert.Contains("2:ip9:192.0.2.9", System.Text.Encoding.Latin1.GetString(body), StringComparison.Ordinal);
        Assert.True(HttpTrackerResponse.TryParseAnnounce(body, out var response, out _));
        Assert.Equal("192.0.2.9:7000", Assert.Single(response!.Peers).ToString());
    }

    [Fact]
    public void Udp_connection_ids_are_bound_to_the_client_and_expire_after_two_rotations()
    {
        var time = new ManualTime();
        var store = new SwarmStore(new SwarmStoreOptions { Open = true }, time);
        var server = new UdpTrackerServer(store, new ConnectionIdIssuer(time), new TrackerCounters(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var client = PeerAddress.From(IPAddress.Parse("10.0.0.1"), 40000);
        var other = PeerAddress.From(IPAddress.Parse("10.0.0.2"), 40000);
        var reply = new byte[1500];
        var connect = new byte[16];
        UdpTrackerPacket.WriteConnectRequest(connect, 77);
        Assert.Equal(16, server.Handle(connect, client, reply));
        Assert.Equal(77, BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(4)));
        long connectionId = BinaryPrimitives.ReadInt64BigEndian(reply.AsSpan(8));

        var announce = new byte[98];
        var request = new AnnounceRequest { InfoHash = Hash, PeerId = AnnouncerHttpTests.PeerId, Port = 6000 };
        UdpTrackerPacket.WriteAnnounceRequest(announce, connectionId, 78, request);
        Assert.Equal(UdpTrackerAction.Announce, Action(reply, server.Handle(announce, client, reply)));
        Assert.Equal(0, server.Handle(announce, other, reply));
        UdpTrackerPacket.WriteAnnounceRequest(announce, connectionId ^ 1, 78, request);
        Assert.Equal(0, server.Handle(announce, client, reply));

        UdpTrackerPacket.WriteAnnounceRequest(announce, connectionId, 79, request);
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(UdpTrackerAction.Announce, Action(reply, server.Handle(announce, client, reply)));
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(0, server.Handle(announce, client, reply));
    }

    [Fact]
    public async Task Http_announces_share_one_kept_alive_connection_even_when_pipelined()
    {
        await using var tracker = await StartAsync();
        tracker.Allow(Hash);
        tracker.RegisterSelf(Hash, new IPEndPoint(IPAddress.Parse("192.0.2.7"), 51413));
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream,
            System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(tracker.HttpEndPoint);
        string hash = AnnouncerHttpTests.Escaped(Hash.ToArray());
        string Request(int port) =>
            $"GET /announce?info_hash={hash}&peer_id=-AP0100-abcdefghijkl&port={port}&left=5&compact=1 HTTP/1.1\r\nHost: t\r\n\r\n";
        // Three requests in one write (pipelined), then a fourth after the answers: all on this one connection.
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(Request(5001) + Request(5002) + Request(5003)));
        var received = new List<byte>();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        async Task ReadResponsesAsync(int count)
        {
            while (CompleteResponses(System.Text.Encoding.Latin1.GetString(received.ToArray())) < count)
            {
                int n = await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, cts.Token);
                Assert.True(n > 0, "the tracker closed the connection: " + System.Text.Encoding.Latin1.GetString(received.ToArray()));
                received.AddRange(buffer.AsSpan(0, n).ToArray());
            }
        }
        await ReadResponsesAsync(3);
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(Request(5004)));
        await ReadResponsesAsync(4);
        string all = System.Text.Encoding.Latin1.GetString(received.ToArray());
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(all, "Connection: keep-alive", System.Text.RegularExpressions.RegexOptions.IgnoreCase).Count);
        Assert.Equal(4, tracker.Store.Scrape(Hash).Incomplete);
    }

    /// <summary>Whole responses (head and Content-Length body) at the start of <paramref name="text"/>.</summary>
    private static int CompleteResponses(string text)
    {
        int count = 0, at = 0;
        while (true)
        {
            int headEnd = text.IndexOf("\r\n\r\n", at, StringComparison.Ordinal);
            if (headEnd < 0) return count;
            var length = System.Text.RegularExpressions.Regex.Match(text[at..headEnd], "Content-Length: (\\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
            int end = headEnd + 4 + int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (end > text.Length) return count;
            count++;
            at = end;
        }
    }

    [Fact]
    public async Task A_second_tracker_with_several_udp_workers_cannot_join_a_port_in_use()
    {
        var logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        await using var first = new UdpTrackerServer(new SwarmStore(new SwarmStoreOptions { Open = true }), new ConnectionIdIssuer(), new TrackerCounters(), logger);
        first.Start(new IPEndPoint(IPAddress.Loopback, 0), workers: 2);
        await using var second = new UdpTrackerServer(new SwarmStore(new SwarmStoreOptions { Open = true }), new ConnectionIdIssuer(), new TrackerCounters(), logger);
        var refused = Assert.Throws<System.Net.Sockets.SocketException>(() => second.Start(first.LocalEndPoint, workers: 2));
        Assert.Equal(System.Net.Sockets.SocketError.AddressAlreadyInUse, refused.SocketErrorCode);
    }

    [Fact]
    public void Udp_announces_over_the_per_address_rate_get_no_reply()
    {
        var time = new ManualTime();
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 3 }, time);
        var server = new UdpTrackerServer(store, new ConnectionIdIssuer(time), new TrackerCounters(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var client = PeerAddress.From(IPAddress.Parse("10.0.0.1"), 40000);
        var reply = new byte[1500];
        var connect = new byte[16];
        UdpTrackerPacket.WriteConnectRequest(connect, 1);
        server.Handle(connect, client, reply);
        long connectionId = BinaryPrimitives.ReadInt64BigEndian(reply.AsSpan(8));
        var announce = new byte[98];
        UdpTrackerPacket.WriteAnnounceRequest(announce, connectionId, 2, new AnnounceRequest { InfoHash = Hash, PeerId = AnnouncerHttpTests.PeerId, Port = 6000 });
        for (int i = 0; i < 3; i++) Assert.Equal(UdpTrackerAction.Announce, Action(reply, server.Handle(announce, client, reply)));
        Assert.Equal(0, server.Handle(announce, client, reply));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(UdpTrackerAction.Announce, Action(reply, server.Handle(announce, client, reply)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(15)]
    [InlineData(50)]
    public void Truncated_or_unconnected_udp_packets_get_no_reply(int length)
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true });
        var server = new UdpTrackerServer(store, new ConnectionIdIssuer(), new TrackerCounters(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var packet = new byte[length];
        Random.Shared.NextBytes(packet);
        var reply = new byte[1500];
        int n = server.Handle(packet, PeerAddress.From(IPAddress.Loopback, 1), reply);
        Assert.Equal(0, n); // too short, or a random connection id, which is never valid
        Assert.Equal(0, store.SwarmCount);
    }

    private static UdpTrackerAction Action(byte[] reply, int length) =>
        length >= 8 ? (UdpTrackerAction)BinaryPrimitives.ReadInt32BigEndian(reply) : (UdpTrackerAction)(-1);
}
