using System.Buffers.Binary;
using System.Net;
using Appliance.Networking.Http.Inline;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// The HTTP front end of the embedded tracker: <c>/announce</c> and <c>/scrape</c> answered straight from the request
/// bytes into the response span (<see cref="InlineHttpServer"/> moves the bytes). A compact announce and a scrape
/// allocate nothing. Failures are bencoded reasons in a 200 answer, as BEP 3 has them.
/// </summary>
public sealed class HttpTrackerEndpoint : IInlineHttpHandler
{
    // Non-compact answers (compact=0, rare) hold at most this many peers, so every answer fits the compact one's room.
    private const int DictionaryPeerBytes = 110;

    private readonly SwarmStore _store;
    private readonly TrackerCounters _counters;
    private readonly int _interval;
    private readonly int _minInterval;

    public HttpTrackerEndpoint(SwarmStore store, TrackerCounters counters)
    {
        _store = store;
        _counters = counters;
        _interval = (int)store.Options.Interval.TotalSeconds;
        _minInterval = (int)store.Options.MinInterval.TotalSeconds;
        MaxBodyBytes = Math.Max(HttpTrackerResponse.AnnounceOverhead + store.Options.MaxNumWant * (6 + 18),
            32 + HttpAnnounceQuery.MaxScrapeHashes * HttpTrackerResponse.ScrapeEntryBytes);
    }

    public int MaxBodyBytes { get; }

    public int Answer(in InlineHttpRequest request, Span<byte> body)
    {
        if (request.Path.SequenceEqual("/announce"u8)) return Announce(request.Query, ReadSource(request.Remote), body);
        if (request.Path.SequenceEqual("/scrape"u8)) return Scrape(request.Query, body);
        return -404;
    }

    /// <summary>Answers one announce query from <paramref name="source"/> (its port is replaced by the announced one).</summary>
    public int Announce(ReadOnlySpan<byte> query, PeerAddress source, Span<byte> body)
    {
        if (!HttpAnnounceQuery.TryParse(query, out var announce, out string error)) return Failure(body, error);
        int maxPeers = _store.Options.MaxNumWant;
        Span<byte> peers = stackalloc byte[maxPeers * (6 + 18)];
        var v4 = peers[..(maxPeers * 6)];
        var v6 = peers[(maxPeers * 6)..];
        var answer = _store.Announce(announce.InfoHash, source.WithPort(announce.Port), announce.Left == 0, announce.Event, announce.NumWant, v4, v6);
        if (answer.Status != AnnounceStatus.Ok)
        {
            return Failure(body, answer.Status switch
            {
                AnnounceStatus.NotTracked => "torrent not tracked here",
                AnnounceStatus.RateLimited => "too many announces from your address, retry later",
                _ => "tracker is full",
            });
        }
        _counters.Increment(TrackerCounter.EmbeddedHttpAnnounces);
        if (announce.Compact)
            return HttpTrackerResponse.WriteAnnounce(body, _interval, _minInterval, answer.Complete, answer.Incomplete, v4[..answer.V4Bytes], v6[..answer.V6Bytes]);
        return DictionaryPeers(body, answer, v4[..answer.V4Bytes], v6[..answer.V6Bytes]);
    }

    /// <summary>Answers one scrape query: each tracked info-hash asked for, once, in order.</summary>
    public int Scrape(ReadOnlySpan<byte> query, Span<byte> body)
    {
        Span<InfoHash> hashes = stackalloc InfoHash[HttpAnnounceQuery.MaxScrapeHashes];
        if (!HttpAnnounceQuery.TryParseScrape(query, hashes, out int asked, out string error)) return Failure(body, error);
        if (asked == 0) return Failure(body, "info_hash required");
        _counters.Increment(TrackerCounter.EmbeddedHttpScrapes);
        hashes = hashes[..asked];
        hashes.Sort();
        Span<ScrapeCounts> counts = stackalloc ScrapeCounts[asked];
        int files = 0;
        for (int i = 0; i < hashes.Length; i++)
        {
            if ((files > 0 && hashes[i] == hashes[files - 1]) || !_store.IsTracked(hashes[i])) continue;
            hashes[files] = hashes[i];
            counts[files++] = _store.Scrape(hashes[i]);
        }
        return HttpTrackerResponse.WriteScrape(body, hashes[..files], counts[..files]);
    }

    private int Failure(Span<byte> body, string reason)
    {
        _counters.Increment(TrackerCounter.EmbeddedHttpRejected);
        return HttpTrackerResponse.WriteFailure(body, reason);
    }

    // compact=0: the original list of dictionaries. Rare (every current client asks for compact), so it may allocate.
    private int DictionaryPeers(Span<byte> body, SwarmAnswer answer, ReadOnlySpan<byte> v4, ReadOnlySpan<byte> v6)
    {
        int room = (MaxBodyBytes - HttpTrackerResponse.AnnounceOverhead) / DictionaryPeerBytes;
        var peers = new List<(IPEndPoint, ReadOnlyMemory<byte>)>();
        for (int i = 0; i < v4.Length && peers.Count < room; i += 6) peers.Add((CompactPeerCodec.ReadV4(v4.Slice(i, 6)), default));
        for (int i = 0; i < v6.Length && peers.Count < room; i += 18) peers.Add((CompactPeerCodec.ReadV6(v6.Slice(i, 18)), default));
        var output = new System.Buffers.ArrayBufferWriter<byte>(MaxBodyBytes);
        HttpTrackerResponse.WriteAnnounceDictionaryPeers(output, _interval, _minInterval, answer.Complete, answer.Incomplete, peers, includePeerId: false);
        output.WrittenSpan.CopyTo(body);
        return output.WrittenCount;
    }

    /// <summary>The client's address without allocating (an IPv4-mapped IPv6 address, as a dual-stack socket reports, becomes IPv4).</summary>
    internal static PeerAddress ReadSource(IPEndPoint remote)
    {
        Span<byte> bytes = stackalloc byte[16];
        remote.Address.TryWriteBytes(bytes, out int n);
        return n == 4
            ? PeerAddress.FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes), (ushort)remote.Port)
            : PeerAddress.FromV6Bytes(bytes, (ushort)remote.Port);
    }
}
