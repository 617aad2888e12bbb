using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Embedded;
using Xunit.Abstractions;

namespace Appliance.Trackers.Tests;

[CollectionDefinition(nameof(HttpTrackerAllocationCollection), DisableParallelization = true)]
public sealed class HttpTrackerAllocationCollection;

/// <summary>The embedded tracker's HTTP side over real loopback connections: keep-alive, pipelining, refusals and limits.</summary>
public sealed class HttpTrackerTests
{
    private static readonly InfoHash Hash = InfoHash.Compute("http-tracker"u8);

    internal static async Task<EmbeddedTracker> StartAsync(SwarmStoreOptions options)
    {
        for (int attempt = 0; ; attempt++)
        {
            var tracker = new EmbeddedTracker(new IPEndPoint(IPAddress.Loopback, 0), options, new TrackerCounters());
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

    internal static byte[] AnnounceRequest(InfoHash hash, int port, int numWant = 50, string extraHeaders = "")
    {
        string query = HttpAnnounceQuery.Build("http://x/announce", new AnnounceRequest
        {
            InfoHash = hash, PeerId = AnnouncerHttpTests.PeerId, Port = port, Left = 5, NumWant = numWant,
        });
        return Encoding.ASCII.GetBytes($"GET {query[query.IndexOf("/announce", StringComparison.Ordinal)..]} HTTP/1.1\r\nHost: t\r\n{extraHeaders}\r\n");
    }

    internal static byte[] ScrapeRequest(params InfoHash[] hashes)
    {
        string query = HttpAnnounceQuery.BuildScrape("http://x/scrape", hashes);
        return Encoding.ASCII.GetBytes($"GET {query[query.IndexOf("/scrape", StringComparison.Ordinal)..]} HTTP/1.1\r\nHost: t\r\n\r\n");
    }

    [Fact]
    public async Task A_thousand_announces_share_one_kept_alive_connection()
    {
        await using var tracker = await StartAsync(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        tracker.RegisterSelf(Hash, new IPEndPoint(IPAddress.Parse("192.0.2.7"), 51413));
        using var client = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        for (int i = 0; i < 1000; i++)
        {
            await client.SendAsync(AnnounceRequest(Hash, 6000 + i % 4));
            var response = await client.ReadResponseAsync();
            Assert.Equal(200, response.Status);
            Assert.True(response.KeepAlive);
            Assert.True(HttpTrackerResponse.TryParseAnnounce(response.Body, out var answer, out string error), error);
            Assert.Null(answer!.FailureReason);
            Assert.Contains(answer.Peers, p => p.ToString() == "192.0.2.7:51413");
        }
        Assert.Equal(4, tracker.Store.Scrape(Hash).Incomplete); // four ports of one address, each stored once
    }

    [Fact]
    public async Task Pipelined_announces_and_scrapes_are_answered_in_order()
    {
        await using var tracker = await StartAsync(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        using var client = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        // Fifty requests in one write, alternating kinds, then one more after the answers.
        var batch = new List<byte>();
        for (int i = 0; i < 50; i++) batch.AddRange(i % 2 == 0 ? AnnounceRequest(Hash, 7000) : ScrapeRequest(Hash));
        await client.SendAsync(batch.ToArray());
        for (int i = 0; i < 50; i++)
        {
            var response = await client.ReadResponseAsync();
            Assert.Equal(200, response.Status);
            string body = Encoding.Latin1.GetString(response.Body);
            Assert.StartsWith(i % 2 == 0 ? "d8:complete" : "d5:files", body, StringComparison.Ordinal);
        }
        await client.SendAsync(ScrapeRequest(Hash));
        var last = await client.ReadResponseAsync();
        var counts = new Dictionary<InfoHash, ScrapeCounts>();
        Assert.True(HttpTrackerResponse.TryParseScrape(last.Body, counts, out _, out _));
        Assert.Equal(new ScrapeCounts(0, 0, 1), counts[Hash]);
    }

    [Theory]
    [InlineData("GARBAGE\r\n\r\n", 400)]
    [InlineData("GET /announce HTTP/2.0\r\n\r\n", 505)]
    [InlineData("POST /announce HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 413)]
    public async Task A_malformed_request_closes_only_its_own_connection(string request, int status)
    {
        await using var tracker = await StartAsync(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        using var good = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        await good.SendAsync(AnnounceRequest(Hash, 7001));
        Assert.Equal(200, (await good.ReadResponseAsync()).Status);

        using var bad = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        await bad.SendAsync(Encoding.ASCII.GetBytes(request));
        var refused = await bad.ReadResponseAsync();
        Assert.Equal(status, refused.Status);
        Assert.False(refused.KeepAlive);
        Assert.True(await bad.ReadEndAsync(), "the tracker should close a connection after refusing its request");

        // The other connection is still kept and served.
        await good.SendAsync(AnnounceRequest(Hash, 7001));
        var after = await good.ReadResponseAsync();
        Assert.Equal(200, after.Status);
        Assert.True(after.KeepAlive);
    }

    [Fact]
    public async Task An_oversized_head_gets_431_and_other_clients_are_served()
    {
        await using var tracker = await StartAsync(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        using var bad = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        await bad.SendAsync(Encoding.ASCII.GetBytes("GET /announce?" + new string('a', 9000) + " HTTP/1.1\r\n\r\n"));
        Assert.Equal(431, (await bad.ReadResponseAsync()).Status);
        using var good = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        await good.SendAsync(ScrapeRequest(Hash));
        Assert.Equal(200, (await good.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task Unknown_paths_and_methods_are_refused_on_a_kept_connection()
    {
        await using var tracker = await StartAsync(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        using var client = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        await client.SendAsync("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\nDELETE /announce HTTP/1.1\r\nHost: t\r\n\r\n"u8.ToArray());
        var notFound = await client.ReadResponseAsync();
        var notAllowed = await client.ReadResponseAsync();
        Assert.Equal((404, true), (notFound.Status, notFound.KeepAlive));
        Assert.Equal((405, true), (notAllowed.Status, notAllowed.KeepAlive));
        await client.SendAsync(AnnounceRequest(Hash, 7002));
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task Connection_close_and_http10_get_one_answer_then_the_end()
    {
        await using var tracker = await StartAsync(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        using var closing = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        await closing.SendAsync(AnnounceRequest(Hash, 7003, extraHeaders: "Connection: close\r\n"));
        var answer = await closing.ReadResponseAsync();
        Assert.Equal((200, false), (answer.Status, answer.KeepAlive));
        Assert.True(await closing.ReadEndAsync());

        using var old = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        await old.SendAsync("GET /scrape?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.0\r\n\r\n"u8.ToArray());
        var scrape = await old.ReadResponseAsync();
        Assert.Equal((200, false), (scrape.Status, scrape.KeepAlive));
        Assert.True(await old.ReadEndAsync());
    }

    [Fact]
    public async Task Announces_over_the_per_address_rate_get_a_failure_reason_on_the_same_connection()
    {
        await using var tracker = await StartAsync(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 5 });
        using var client = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        int refused = 0;
        // Forty announces back to back: at most five per second get through (the run may straddle a few seconds).
        for (int i = 0; i < 40; i++)
        {
            await client.SendAsync(AnnounceRequest(Hash, 7004));
            var response = await client.ReadResponseAsync();
            Assert.True(response.KeepAlive);
            Assert.True(HttpTrackerResponse.TryParseAnnounce(response.Body, out var answer, out _));
            if (answer!.FailureReason is { } reason)
            {
                Assert.Contains("too many announces", reason, StringComparison.Ordinal);
                refused++;
            }
        }
        Assert.True(refused > 0, "no announce was refused");
    }

    [Fact]
    public async Task Ports_beyond_the_cap_per_address_are_answered_but_not_stored()
    {
        await using var tracker = await StartAsync(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0, MaxPortsPerAddress = 4 });
        using var client = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        for (int port = 8000; port < 8010; port++)
        {
            await client.SendAsync(AnnounceRequest(Hash, port));
            var response = await client.ReadResponseAsync();
            Assert.True(HttpTrackerResponse.TryParseAnnounce(response.Body, out var answer, out _));
            Assert.Null(answer!.FailureReason);
        }
        Assert.Equal(4, tracker.Store.Scrape(Hash).Incomplete);
    }

    [Fact]
    public async Task Numwant_above_the_maximum_is_cut_to_it_and_the_answer_fits()
    {
        var options = new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0, MaxNumWant = 200 };
        await using var tracker = await StartAsync(options);
        for (uint i = 1; i <= 300; i++) tracker.Store.Announce(Hash, PeerAddress.FromV4(0x0A000000 + i, 6881), false, AnnounceEvent.Started, 0, default, default);
        var v6 = new byte[16];
        for (uint i = 1; i <= 300; i++)
        {
            v6[0] = 0x20; v6[1] = 0x01; v6[2] = (byte)(i >> 8); v6[3] = (byte)i;
            tracker.Store.Announce(Hash, PeerAddress.FromV6Bytes(v6, 6881), false, AnnounceEvent.Started, 0, default, default);
        }
        using var client = await RawHttpClient.ConnectAsync(tracker.HttpEndPoint);
        await client.SendAsync(AnnounceRequest(Hash, 9000, numWant: 100_000));
        var response = await client.ReadResponseAsync();
        Assert.True(HttpTrackerResponse.TryParseAnnounce(response.Body, out var answer, out string error), error);
        Assert.Null(answer!.FailureReason);
        Assert.Equal(200, answer.Peers.Count);
    }
}

/// <summary>A blocking-free HTTP/1.1 client on one raw socket: requests as bytes, answers read by Content-Length.</summary>
internal sealed class RawHttpClient : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _filled;

    private RawHttpClient(Socket socket) => _socket = socket;

    public readonly record struct Response(int Status, bool KeepAlive, byte[] Body);

    public static async Task<RawHttpClient> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(endPoint, timeout.Token);
        return new RawHttpClient(socket);
    }

    public async Task SendAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _socket.SendAsync(bytes, SocketFlags.None, timeout.Token);
    }

    public async Task<Response> ReadResponseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int headEnd;
        while ((headEnd = _buffer.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8)) < 0) await FillAsync(timeout.Token);
        string head = Encoding.ASCII.GetString(_buffer, 0, headEnd);
        var lines = head.Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        string Header(string name) => lines.Skip(1).Where(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            .Select(l => l[(name.Length + 1)..].Trim()).FirstOrDefault() ?? "";
        int length = int.Parse(Header("Content-Length"), System.Globalization.CultureInfo.InvariantCulture);
        bool keepAlive = lines[0].StartsWith("HTTP/1.1", StringComparison.Ordinal)
            ? !Header("Connection").Equals("close", StringComparison.OrdinalIgnoreCase)
            : Header("Connection").Equals("keep-alive", StringComparison.OrdinalIgnoreCase);
        int total = headEnd + 4 + length;
        while (_filled < total) await FillAsync(timeout.Token);
        var body = _buffer.AsSpan(headEnd + 4, length).ToArray();
        _buffer.AsSpan(total, _filled - total).CopyTo(_buffer);
        _filled -= total;
        return new Response(status, keepAlive, body);
    }

    /// <summary>True once the server has closed the connection (nothing more arrives).</summary>
    public async Task<bool> ReadEndAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (true)
            {
                int n = await _socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, timeout.Token);
                if (n == 0) return true;
            }
        }
        catch (SocketException)
        {
            return true; // reset: closed too
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task FillAsync(CancellationToken token)
    {
        int n = await _socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, token);
        if (n == 0) throw new IOException("the tracker closed the connection");
        _filled += n;
    }

    public void Dispose() => _socket.Dispose();
}
