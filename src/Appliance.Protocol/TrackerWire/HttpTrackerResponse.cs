using System.Buffers;
using System.Net;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Metainfo;

namespace Appliance.Protocol.TrackerWire;

/// <summary>Bencoded HTTP tracker responses (BEP 3, 23, 7, 48): parsing (client) and writing (tracker).</summary>
public static class HttpTrackerResponse
{
    /// <summary>Bounds for a response body: shallow, and peer strings of at most a few thousand peers.</summary>
    public static BencodeLimits Limits { get; } = new(8, 1024 * 1024, 64 * 1024) { AllowUnsortedKeys = true };

    public const int MaxPeers = 10_000;

    public static bool TryParseAnnounce(ReadOnlyMemory<byte> body, out AnnounceResponse? response, out string error)
    {
        response = null;
        if (!TryParseRoot(body, out var root, out error)) return false;
        if (root["failure reason"u8] is { IsString: true } failure)
        {
            response = new AnnounceResponse { FailureReason = failure.Utf8 };
            error = "";
            return true;
        }
        if (!root.TryGet("interval"u8, out var interval) || !interval.IsInteger || interval.Integer < 0)
        {
            error = "missing or invalid 'interval'";
            return false;
        }
        var peers = new List<IPEndPoint>();
        var p = root["peers"u8];
        if (p.IsString)
        {
            CompactPeerCodec.ReadAllV4(p.Bytes, peers);
        }
        else if (p.IsList)
        {
            foreach (var item in p.Items)
            {
                if (peers.Count >= MaxPeers) break;
                if (!item.IsDictionary) continue;
                var ip = item["ip"u8];
                var port = item["port"u8];
                if (!ip.IsString || !port.IsInteger || port.Integer is < 1 or > 65535) continue;
                if (IPAddress.TryParse(ip.Utf8, out var address)) peers.Add(new IPEndPoint(address, (int)port.Integer));
            }
        }
        if (root["peers6"u8] is { IsString: true } p6) CompactPeerCodec.ReadAllV6(p6.Bytes, peers);
        if (peers.Count > MaxPeers) peers.RemoveRange(MaxPeers, peers.Count - MaxPeers);
        response = new AnnounceResponse
        {
            Interval = Clamp(interval.Integer),
            MinInterval = root["min interval"u8] is { IsInteger: true } min ? Clamp(min.Integer) : null,
            WarningMessage = root["warning message"u8] is { IsString: true } warning ? warning.Utf8 : null,
            TrackerId = root["tracker id"u8] is { IsString: true } id ? id.Utf8 : null,
            Complete = root["complete"u8] is { IsInteger: true } complete ? Clamp(complete.Integer) : null,
            Incomplete = root["incomplete"u8] is { IsInteger: true } incomplete ? Clamp(incomplete.Integer) : null,
            Peers = peers,
        };
        error = "";
        return true;
    }

    /// <summary>The bencoded top-level dictionary every tracker answer is, or why the body is not one.</summary>
    private static bool TryParseRoot(ReadOnlyMemory<byte> body, out BencodeNode root, out string error)
    {
        root = default;
        if (!BencodeDocument.TryParse(body, Limits, out var document, out var bencodeError))
        {
            error = "invalid bencode: " + bencodeError.Describe();
            return false;
        }
        root = document.Root;
        error = root.IsDictionary ? "" : "response is not a dictionary";
        return root.IsDictionary;
    }

    public static bool TryParseScrape(ReadOnlyMemory<byte> body, Dictionary<InfoHash, ScrapeCounts> into, out string? failureReason, out string error)
    {
        failureReason = null;
        if (!TryParseRoot(body, out var root, out error)) return false;
        if (root["failure reason"u8] is { IsString: true } failure)
        {
            failureReason = failure.Utf8;
            error = "";
            return true;
        }
        if (root["files"u8] is not { IsDictionary: true } files)
        {
            error = "missing 'files'";
            return false;
        }
        foreach (var entry in files.Entries)
        {
            if (entry.Key.Length != InfoHash.Length || !entry.Value.IsDictionary) continue;
            var v = entry.Value;
            into[new InfoHash(entry.Key)] = new ScrapeCounts(
                v["complete"u8] is { IsInteger: true } c ? Clamp(c.Integer) : 0,
                v["downloaded"u8] is { IsInteger: true } d ? Clamp(d.Integer) : 0,
                v["incomplete"u8] is { IsInteger: true } i ? Clamp(i.Integer) : 0);
        }
        error = "";
        return true;
    }

    /// <summary>The keys every announce answer starts with, in sorted order.</summary>
    private static void WriteSwarmFields(ref BencodeWriter writer, int interval, int minInterval, int complete, int incomplete)
    {
        writer.WriteKey("complete"u8);
        writer.WriteInteger(complete);
        writer.WriteKey("incomplete"u8);
        writer.WriteInteger(incomplete);
        writer.WriteKey("interval"u8);
        writer.WriteInteger(interval);
        writer.WriteKey("min interval"u8);
        writer.WriteInteger(minInterval);
    }

    /// <summary>Room a compact announce answer takes beyond its peers.</summary>
    public const int AnnounceOverhead = 160;

    /// <summary>Room one scrape entry takes at most (key, three counts).</summary>
    public const int ScrapeEntryBytes = 110;

    /// <summary>Writes a compact announce response. Peers are already in compact form (6-byte and 18-byte entries).</summary>
    public static void WriteAnnounce(IBufferWriter<byte> output, int interval, int minInterval, int complete, int incomplete,
        ReadOnlySpan<byte> compactV4, ReadOnlySpan<byte> compactV6) =>
        output.Advance(WriteAnnounce(output.GetSpan(AnnounceOverhead + compactV4.Length + compactV6.Length), interval, minInterval, complete,
            incomplete, compactV4, compactV6));

    /// <summary>
    /// Writes a compact announce response into <paramref name="output"/> (at least <see cref="AnnounceOverhead"/> bytes
    /// more than the peers) and returns its length.
    /// </summary>
    public static int WriteAnnounce(Span<byte> output, int interval, int minInterval, int complete, int incomplete,
        ReadOnlySpan<byte> compactV4, ReadOnlySpan<byte> compactV6)
    {
        var writer = new BencodeWriter(output);
        writer.WriteDictionaryStart();
        WriteSwarmFields(ref writer, interval, minInterval, complete, incomplete);
        writer.WriteKey("peers"u8);
        writer.WriteString(compactV4);
        if (!compactV6.IsEmpty)
        {
            writer.WriteKey("peers6"u8);
            writer.WriteString(compactV6);
        }
        writer.WriteEnd();
        return writer.BytesWritten;
    }

    /// <summary>Writes the original (non-compact) form: a list of dictionaries with ip, port and, unless omitted, peer id.</summary>
    public static void WriteAnnounceDictionaryPeers(IBufferWriter<byte> output, int interval, int minInterval, int complete, int incomplete,
        IReadOnlyList<(IPEndPoint EndPoint, ReadOnlyMemory<byte> PeerId)> peers, bool includePeerId)
    {
        var span = output.GetSpan(160 + peers.Count * 110);
        var writer = new BencodeWriter(span);
        writer.WriteDictionaryStart();
        WriteSwarmFields(ref writer, interval, minInterval, complete, incomplete);
        writer.WriteKey("peers"u8);
        writer.WriteListStart();
        foreach (var (endPoint, peerId) in peers)
        {
            writer.WriteDictionaryStart();
            writer.WriteKey("ip"u8);
            var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
            writer.WriteString(address.ToString());
            if (includePeerId)
            {
                writer.WriteKey("peer id"u8);
                writer.WriteString(peerId.Span);
            }
            writer.WriteKey("port"u8);
            writer.WriteInteger(endPoint.Port);
            writer.WriteEnd();
        }
        writer.WriteEnd();
        writer.WriteEnd();
        output.Advance(writer.BytesWritten);
    }

    public static void WriteFailure(IBufferWriter<byte> output, string reason) =>
        output.Advance(WriteFailure(output.GetSpan(64 + System.Text.Encoding.UTF8.GetMaxByteCount(reason.Length)), reason));

    /// <summary>Writes <c>d14:failure reason…e</c> into <paramref name="output"/> (64 bytes more than the reason's UTF-8); returns its length.</summary>
    public static int WriteFailure(Span<byte> output, string reason)
    {
        var writer = new BencodeWriter(output);
        writer.WriteDictionaryStart();
        writer.WriteKey("failure reason"u8);
        writer.WriteString(reason);
        writer.WriteEnd();
        return writer.BytesWritten;
    }

    /// <summary>Writes a scrape response; <paramref name="files"/> must be sorted by info-hash (canonical bencode).</summary>
    public static void WriteScrape(IBufferWriter<byte> output, IReadOnlyList<(InfoHash Hash, ScrapeCounts Counts)> files)
    {
        var hashes = new InfoHash[files.Count];
        var counts = new ScrapeCounts[files.Count];
        for (int i = 0; i < files.Count; i++) (hashes[i], counts[i]) = files[i];
        output.Advance(WriteScrape(output.GetSpan(32 + files.Count * ScrapeEntryBytes), hashes, counts));
    }

    /// <summary>
    /// Writes a scrape response into <paramref name="output"/> (32 + <see cref="ScrapeEntryBytes"/> per file) and returns its
    /// length; <paramref name="hashes"/> must be sorted (canonical bencode), <paramref name="counts"/> in the same order.
    /// </summary>
    public static int WriteScrape(Span<byte> output, ReadOnlySpan<InfoHash> hashes, ReadOnlySpan<ScrapeCounts> counts)
    {
        var writer = new BencodeWriter(output);
        Span<byte> key = stackalloc byte[InfoHash.Length];
        writer.WriteDictionaryStart();
        writer.WriteKey("files"u8);
        writer.WriteDictionaryStart();
        for (int i = 0; i < hashes.Length; i++)
        {
            hashes[i].CopyTo(key);
            writer.WriteKey(key);
            writer.WriteDictionaryStart();
            writer.WriteKey("complete"u8);
            writer.WriteInteger(counts[i].Complete);
            writer.WriteKey("downloaded"u8);
            writer.WriteInteger(counts[i].Downloaded);
            writer.WriteKey("incomplete"u8);
            writer.WriteInteger(counts[i].Incomplete);
            writer.WriteEnd();
        }
        writer.WriteEnd();
        writer.WriteEnd();
        return writer.BytesWritten;
    }

    private static int Clamp(long value) => (int)Math.Clamp(value, 0, int.MaxValue);
}
