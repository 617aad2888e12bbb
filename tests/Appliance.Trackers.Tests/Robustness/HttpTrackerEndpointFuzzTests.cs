using Appliance.TestKit;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers.Announcing;
using Appliance.Trackers.Embedded;

namespace Appliance.Trackers.Tests.Robustness;

/// <summary>
/// The embedded tracker's HTTP side under mutated announce and scrape queries: every answer is well-formed (a
/// bencoded failure reason or a valid response, or an HTTP error), and a valid client is served afterwards.
/// </summary>
public sealed class HttpTrackerEndpointFuzzTests
{
    private static readonly InfoHash Hash = InfoHash.Compute("robust-http"u8);

    [Fact]
    public async Task Mutated_announces_and_scrapes_get_well_formed_answers_and_a_valid_client_is_served_afterwards()
    {
        await using var tracker = await StartAsync();
        tracker.Allow(Hash);
        tracker.RegisterSelf(Hash, new IPEndPoint(IPAddress.Parse("192.0.2.9"), 51413));
        var endPoint = tracker.HttpEndPoint;

        string url = HttpAnnounceQuery.Build("http://x/announce", new AnnounceRequest
        {
            InfoHash = Hash, PeerId = AnnouncerHttpTests.PeerId, Port = 6001, Left = 5, Event = AnnounceEvent.Started, NumWant = 30,
        });
        byte[] announce = Encoding.ASCII.GetBytes(url[url.IndexOf("/announce", StringComparison.Ordinal)..]);
        string scrapeUrl = HttpAnnounceQuery.BuildScrape("http://x/scrape", [Hash, Hash]);
        byte[] scrape = Encoding.ASCII.GetBytes(scrapeUrl[scrapeUrl.IndexOf("/scrape", StringComparison.Ordinal)..]);

        var targets = Mutations.Random(announce, seed: 601, count: 250).Concat(Mutations.Random(scrape, seed: 602, count: 100)).ToList();
        int failures = 0, answers = 0, httpErrors = 0;
        foreach (var target in targets)
        {
            var (status, body) = await GetAsync(endPoint, target);
            if (status != 200)
            {
                httpErrors++;
                Assert.InRange(status, 400, 599);
                continue;
            }
            bool isScrape = target.AsSpan().StartsWith("/scrape"u8);
            if (isScrape)
            {
                var counts = new Dictionary<InfoHash, ScrapeCounts>();
                Assert.True(HttpTrackerResponse.TryParseScrape(body, counts, out _, out string scrapeError), scrapeError);
                continue;
            }
            Assert.True(HttpTrackerResponse.TryParseAnnounce(body, out var response, out string error), $"{error}: {Encoding.Latin1.GetString(body)}");
            if (response!.FailureReason is not null) failures++;
            else answers++;
        }
        Assert.True(failures > 0, $"bad announces should get failure reasons (failures {failures}, answers {answers}, HTTP errors {httpErrors})");

        using var client = new HttpTrackerClient(AnnouncerHttpTests.Options());
        var good = await client.AnnounceAsync($"http://127.0.0.1:{endPoint.Port}/announce",
            new AnnounceRequest { InfoHash = Hash, PeerId = AnnouncerHttpTests.PeerId, Port = 6000, Left = 100, Event = AnnounceEvent.Started },
            new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        Assert.Null(good.FailureReason);
        Assert.Contains(good.Peers, p => p.ToString() == "192.0.2.9:51413");
    }

    /// <summary>One raw HTTP/1.1 GET with Connection: close; returns the status code and body.</summary>
    private static async Task<(int Status, byte[] Body)> GetAsync(IPEndPoint endPoint, byte[] target)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(endPoint, cts.Token);
        byte[] request = [.. "GET "u8, .. target, .. " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"u8];
        await socket.SendAsync(request, SocketFlags.None, cts.Token);
        var response = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            }
            catch (SocketException)
            {
                break;
            }
            if (n == 0) break;
            response.Write(buffer, 0, n);
            Assert.True(response.Length < 1024 * 1024, "unbounded answer");
        }
        byte[] all = response.ToArray();
        int headEnd = all.AsSpan().IndexOf("\r\n\r\n"u8);
        if (headEnd < 0) return (0, []); // closed without an answer: not expected for a well-formed request line
        string statusLine = Encoding.ASCII.GetString(all, 0, all.AsSpan().IndexOf("\r\n"u8));
        Assert.StartsWith("HTTP/1.", statusLine, StringComparison.Ordinal);
        return (int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), all[(headEnd + 4)..]);
    }

    private static async Task<EmbeddedTracker> StartAsync()
    {
        for (int attempt = 0; ; attempt++)
        {
            var tracker = new EmbeddedTracker(new IPEndPoint(IPAddress.Loopback, 0), new SwarmStoreOptions { Interval = TimeSpan.FromSeconds(120) },
                new TrackerCounters());
            try
            {
                tracker.Start(udpWorkers: 1);
                return tracker;
            }
            catch (SocketException) when (attempt < 5)
            {
                await tracker.DisposeAsync();
            }
        }
    }
}
