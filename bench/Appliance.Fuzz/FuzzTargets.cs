using System.Text;
using Appliance.Fuzz.Encryption;
using Appliance.Fuzz.PeerWire;
using Appliance.Fuzz.Utp;
using Appliance.Networking.Http;
using Appliance.Networking.Http.Files;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Protocol.Urls;

namespace Appliance.Fuzz;

/// <summary>Runs one parser over arbitrary bytes. A parser must answer every input with a value or an error; any exception is a finding.</summary>
public delegate void FuzzTarget(ReadOnlySpan<byte> data);

/// <summary>One small target per parser, named as <c>make fuzz</c> and the corpus folders name them.</summary>
public static class FuzzTargets
{
    public static IReadOnlyDictionary<string, FuzzTarget> All { get; } = new Dictionary<string, FuzzTarget>(StringComparer.Ordinal)
    {
        ["bencode"] = Bencode,
        ["metainfo"] = Metainfo,
        ["peer-wire"] = PeerWireTarget.Fuzz,
        ["hash-answer"] = HashAnswerTarget.Fuzz,
        ["krpc"] = Krpc,
        ["tracker-http"] = TrackerHttp,
        ["tracker-udp"] = TrackerUdp,
        ["http-head"] = HttpHead,
        ["utp-header"] = UtpHeaderTarget.Fuzz,
        ["utp-connection"] = UtpConnectionTarget.Fuzz,
        ["mse"] = MseTarget.Fuzz,
        ["web-seed-request"] = WebSeedRequest,
    };

    private static void Bencode(ReadOnlySpan<byte> data)
    {
        var reader = new BencodeReader(data, BencodeLimits.Default);
        while (reader.Read())
        {
        }
        if (BencodeDocument.TryParse(data.ToArray(), BencodeLimits.Default, out var document, out _)) Walk(document.Root, 0);
    }

    private static void Walk(BencodeNode value, int depth)
    {
        if (depth > 64) return;
        if (value.IsDictionary)
        {
            foreach (var (_, child) in value.Entries) Walk(child, depth + 1);
        }
        else if (value.IsList)
        {
            foreach (var child in value.Items) Walk(child, depth + 1);
        }
    }

    private static void Metainfo(ReadOnlySpan<byte> data)
    {
        if (!TorrentMetainfo.TryParse(data.ToArray(), out var metainfo, out _)) return;
        _ = metainfo!.MagnetLink();
        for (int i = 0; i < metainfo.PieceCount; i++) _ = metainfo.PieceSize(i);
    }

    private static void Krpc(ReadOnlySpan<byte> data)
    {
        if (KrpcParser.Parse(data, out var message) != KrpcParseStatus.Ok) return;
        foreach (var value in message.EnumerateValues())
        {
            if (value.Length == CompactPeer.Length) _ = CompactPeer.Read(value);
        }
    }

    private static void TrackerHttp(ReadOnlySpan<byte> data)
    {
        string query = Encoding.Latin1.GetString(data);
        _ = HttpAnnounceQuery.TryParse(query, out _, out _);
        _ = HttpAnnounceQuery.TryParseScrape(query, [], out _);
        // The raw-byte parsers the embedded tracker runs on every request.
        _ = HttpAnnounceQuery.TryParse(data, out HttpAnnounceFields _, out _);
        Span<InfoHash> hashes = stackalloc InfoHash[HttpAnnounceQuery.MaxScrapeHashes];
        _ = HttpAnnounceQuery.TryParseScrape(data, hashes, out _, out _);
        var body = data.ToArray();
        _ = HttpTrackerResponse.TryParseAnnounce(body, out _, out _);
        _ = HttpTrackerResponse.TryParseScrape(body, [], out _, out _);
    }

    private static void TrackerUdp(ReadOnlySpan<byte> data)
    {
        _ = UdpTrackerPacket.TryReadConnectRequest(data, out _);
        if (UdpTrackerPacket.TryReadRequestAction(data, out var action, out _, out _))
        {
            if (action == UdpTrackerAction.Announce) _ = UdpTrackerPacket.TryReadAnnounceRequest(data, out _);
            if (action == UdpTrackerAction.Scrape)
            {
                int count = UdpTrackerPacket.ScrapeRequestHashCount(data);
                for (int i = 0; i < count; i++) _ = UdpTrackerPacket.ScrapeRequestHash(data, i);
            }
        }
        if (UdpTrackerPacket.TryReadResponseHeader(data, out var response, out _))
        {
            switch (response)
            {
                case UdpTrackerAction.Connect:
                    _ = UdpTrackerPacket.TryReadConnectResponse(data, out _);
                    break;
                case UdpTrackerAction.Announce:
                    _ = UdpTrackerPacket.TryReadAnnounceResponse(data, ipv6: false, out _, out _);
                    _ = UdpTrackerPacket.TryReadAnnounceResponse(data, ipv6: true, out _, out _);
                    break;
                case UdpTrackerAction.Scrape:
                    _ = UdpTrackerPacket.TryReadScrapeResponse(data, [new InfoHash(new byte[20])], []);
                    break;
                case UdpTrackerAction.Error:
                    _ = UdpTrackerPacket.ReadErrorMessage(data);
                    break;
            }
        }
    }

    // Created on first use: instrumented code must not run before SharpFuzz has set up the coverage map.
    private static HttpServerOptions? _headOptions;

    private static void HttpHead(ReadOnlySpan<byte> data)
    {
        var head = new HttpRequestHead();
        if (head.Parse(data, _headOptions ??= new HttpServerOptions()) <= 0) return;
        var query = new QueryString(head.RawQuery);
        _ = query.GetString("info_hash");
        Span<byte> decoded = stackalloc byte[64];
        if (query.TryGetRaw("info_hash", out var raw)) _ = PercentEncoding.TryDecode(raw, decoded, out _, plusIsSpace: false);
    }

    /// <summary>What the web seed does with a request head: span parse, path decode, Range and If-Range against a few sizes.</summary>
    private static void WebSeedRequest(ReadOnlySpan<byte> data)
    {
        Span<HttpHeaderField> fields = stackalloc HttpHeaderField[64];
        int length = HttpHeadParser.Parse(data, 8192, fields, out var layout);
        if (length <= 0) return;
        var head = data[..length];
        fields = fields[..layout.HeaderCount];
        var target = layout.Target(head);
        Span<byte> scratch = stackalloc byte[target.Length];
        Span<char> path = stackalloc char[target.Length];
        if (RequestPath.Decode(target, scratch, path, out int written) == RequestPathResult.Decoded)
        {
            var decoded = path[..written];
            if (decoded.IsEmpty || decoded[0] == '/' || decoded.IndexOf("//") >= 0 || decoded.IndexOf('\0') >= 0)
                throw new InvalidOperationException("a decoded path names no file");
        }
        if (HttpHeadParser.TryGetHeader(head, fields, "Range"u8, out var range))
        {
            foreach (long size in (ReadOnlySpan<long>)[0, 1, 1000, long.MaxValue])
            {
                if (RangeRequest.Evaluate(range, size, out long start, out long count) == RangeOutcome.Partial
                    && (start < 0 || count <= 0 || start > size - count))
                    throw new InvalidOperationException($"range {start}+{count} outside a file of {size}");
            }
        }
        if (HttpHeadParser.TryGetHeader(head, fields, "If-Range"u8, out var ifRange))
            _ = FileValidators.IfRangeMatches(ifRange, "\"3e8-1\""u8, "Sun, 06 Nov 1994 08:49:37 GMT"u8);
    }
}
