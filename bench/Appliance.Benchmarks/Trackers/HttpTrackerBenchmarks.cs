using System.Net;
using System.Text;
using Appliance.Networking.Http.Inline;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers;
using Appliance.Trackers.Embedded;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.Trackers;

/// <summary>
/// An HTTP announce or scrape through the embedded tracker without a socket: the request head as received, parsed in
/// place, the query decoded, the swarm updated and sampled, the answer (head and bencoded body) written into the send
/// buffer. The same path a kept-alive connection runs per request; the budget is 0 B allocated per request.
/// </summary>
[MemoryDiagnoser]
public class HttpTrackerBenchmarks
{
    private readonly byte[] _answers = new byte[64 * 1024];
    private readonly IPEndPoint _remote = new(IPAddress.Parse("10.0.0.1"), 40000);
    private InlineHttpAnswers _answering = null!;
    private byte[] _announce = [];
    private byte[] _scrape = [];

    [GlobalSetup]
    public void Setup()
    {
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 });
        var hashes = Enumerable.Range(0, 10).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        var scratch = new byte[1200];
        // A swarm of 1,000 peers from as many addresses, a quarter seeds.
        for (uint i = 1; i <= 1000; i++)
            store.Announce(hashes[0], PeerAddress.FromV4(0x0B000000 + i, 6881), i % 4 == 0, AnnounceEvent.Started, 0, scratch, default);
        var endpoint = new HttpTrackerEndpoint(store, new TrackerCounters());
        var options = new InlineHttpServerOptions();
        _answering = new InlineHttpAnswers(endpoint, options, Encoding.ASCII.GetBytes(options.ContentType));

        // What libtorrent sends: the query, then Host, User-Agent and Accept-Encoding.
        string announce = HttpAnnounceQuery.Build("http://tracker.example:6969/announce", new AnnounceRequest
        {
            InfoHash = hashes[0], PeerId = Encoding.ASCII.GetBytes("-qB5010-abcdefghijkl"), Port = 6881, Left = 1000, NumWant = 50,
        });
        _announce = Head(announce[announce.IndexOf("/announce", StringComparison.Ordinal)..]);
        string scrape = HttpAnnounceQuery.BuildScrape("http://tracker.example:6969/scrape", hashes);
        _scrape = Head(scrape[scrape.IndexOf("/scrape", StringComparison.Ordinal)..]);
    }

    private static byte[] Head(string target) => Encoding.ASCII.GetBytes(
        $"GET {target} HTTP/1.1\r\nHost: tracker.example:6969\r\nUser-Agent: qBittorrent/5.0.1\r\nAccept-Encoding: gzip\r\n\r\n");

    private int Run(byte[] request)
    {
        int consumed = 0;
        _answering.AnswerHeads(request, ref consumed, _answers, _remote, stopping: false, out int length);
        return length;
    }

    [Benchmark]
    public int AnnounceNumWant50() => Run(_announce);

    [Benchmark]
    public int Scrape10() => Run(_scrape);
}
