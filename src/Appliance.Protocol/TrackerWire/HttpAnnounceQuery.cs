using System.Globalization;
using System.Net;
using System.Text;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.Urls;

namespace Appliance.Protocol.TrackerWire;

/// <summary>The HTTP announce and scrape query strings (BEP 3, BEP 23, BEP 48): building them (client) and parsing them (tracker).</summary>
public static class HttpAnnounceQuery
{
    public const int MaxScrapeHashes = 74; // about what fits a 2 KiB URL; more are ignored

    public static string Build(string announceUrl, AnnounceRequest request)
    {
        var text = new StringBuilder(announceUrl, announceUrl.Length + 320);
        text.Append(announceUrl.Contains('?', StringComparison.Ordinal) ? '&' : '?');
        Span<byte> hash = stackalloc byte[InfoHash.Length];
        request.InfoHash.CopyTo(hash);
        text.Append("info_hash=");
        AppendEscaped(text, hash);
        text.Append("&peer_id=");
        AppendEscaped(text, request.PeerId.Span);
        var inv = CultureInfo.InvariantCulture;
        text.Append("&port=").Append(request.Port.ToString(inv))
            .Append("&uploaded=").Append(request.Uploaded.ToString(inv))
            .Append("&downloaded=").Append(request.Downloaded.ToString(inv))
            .Append("&left=").Append(request.Left.ToString(inv))
            .Append("&corrupt=0&key=").Append(request.Key.ToString("X8", inv))
            .Append("&compact=1&no_peer_id=1");
        if (request.NumWant >= 0) text.Append("&numwant=").Append(request.NumWant.ToString(inv));
        if (request.Event.ToQueryValue() is { } e) text.Append("&event=").Append(e);
        if (!string.IsNullOrEmpty(request.TrackerId)) text.Append("&trackerid=").Append(Uri.EscapeDataString(request.TrackerId));
        if (request.IPAddress is not null) text.Append("&ip=").Append(Uri.EscapeDataString(request.IPAddress.ToString()));
        foreach (var address in request.AlsoAt)
        {
            bool v6 = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !address.IsIPv4MappedToIPv6;
            text.Append(v6 ? "&ipv6=" : "&ipv4=").Append(Uri.EscapeDataString((v6 ? address : address.MapToIPv4()).ToString()));
        }
        return text.ToString();
    }

    /// <summary>Unreserved characters stay as they are; every other byte becomes %XX (binary info-hashes included).</summary>
    public static void AppendEscaped(StringBuilder text, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~')
                text.Append((char)b);
            else
                text.Append('%').Append("0123456789ABCDEF"[b >> 4]).Append("0123456789ABCDEF"[b & 15]);
        }
    }

    /// <summary>
    /// Parses an announce query (tracker side) from the raw bytes of the request target after '?', without allocating:
    /// the embedded tracker's hot path. <paramref name="error"/> is a fixed reason on failure.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> rawQuery, out HttpAnnounceFields fields, out string error)
    {
        fields = new HttpAnnounceFields { NumWant = -1, Compact = true };
        bool sawHash = false, sawPeerId = false;
        fields.Port = -1;
        Span<byte> value = stackalloc byte[256];
        var rest = rawQuery;
        int offset = 0;
        while (!rest.IsEmpty)
        {
            int amp = rest.IndexOf((byte)'&');
            var item = amp < 0 ? rest : rest[..amp];
            int itemStart = offset;
            int step = amp < 0 ? rest.Length : amp + 1;
            rest = rest[step..];
            offset += step;
            if (item.IsEmpty) continue;
            int eq = item.IndexOf((byte)'=');
            var name = eq < 0 ? item : item[..eq];
            var raw = eq < 0 ? default : item[(eq + 1)..];
            if (!PercentEncoding.TryDecode(raw, value, out int n, plusIsSpace: true))
            {
                error = MalformedValue(name);
                return false;
            }
            var v = value[..n];
            var where = new Range(itemStart + eq + 1, itemStart + item.Length);
            switch (name)
            {
                case var _ when name.SequenceEqual("info_hash"u8):
                    if (n != InfoHash.Length) { error = "info_hash is not 20 bytes"; return false; }
                    fields.InfoHash = new InfoHash(v);
                    sawHash = true;
                    break;
                case var _ when name.SequenceEqual("peer_id"u8):
                    if (n != AnnounceRequest.PeerIdLength) { error = "peer_id is not 20 bytes"; return false; }
                    fields.PeerId = where;
                    sawPeerId = true;
                    break;
                case var _ when name.SequenceEqual("port"u8):
                    if (!TryInt(v, out long p) || p is < 1 or > 65535) { error = "invalid port"; return false; }
                    fields.Port = (int)p;
                    break;
                case var _ when name.SequenceEqual("uploaded"u8):
                    if (!TryInt(v, out fields.Uploaded)) { error = "invalid uploaded"; return false; }
                    break;
                case var _ when name.SequenceEqual("downloaded"u8):
                    if (!TryInt(v, out fields.Downloaded)) { error = "invalid downloaded"; return false; }
                    break;
                case var _ when name.SequenceEqual("left"u8):
                    if (!TryInt(v, out fields.Left)) { error = "invalid left"; return false; }
                    break;
                case var _ when name.SequenceEqual("numwant"u8):
                    if (!TryInt(v, out long w)) { error = "invalid numwant"; return false; }
                    fields.NumWant = (int)Math.Min(w, int.MaxValue);
                    break;
                case var _ when name.SequenceEqual("event"u8):
                    if (!AnnounceEventNames.TryParse(v, out fields.Event)) { error = "unknown event"; return false; }
                    break;
                case var _ when name.SequenceEqual("compact"u8):
                    fields.Compact = !v.SequenceEqual("0"u8);
                    break;
                case var _ when name.SequenceEqual("no_peer_id"u8):
                    fields.NoPeerId = v.SequenceEqual("1"u8);
                    break;
                case var _ when name.SequenceEqual("key"u8):
                    fields.Key = where;
                    break;
                case var _ when name.SequenceEqual("trackerid"u8):
                    fields.TrackerId = where;
                    break;
                case var _ when name.SequenceEqual("ip"u8):
                    fields.IP = where;
                    break;
            }
        }
        if (!sawHash) { error = "missing info_hash"; return false; }
        if (!sawPeerId) { error = "missing peer_id"; return false; }
        if (fields.Port < 0) { error = "missing port"; return false; }
        error = "";
        return true;
    }

    // Bad input only: the name is worth the allocation in the reason a client sees.
    private static string MalformedValue(ReadOnlySpan<byte> name) =>
        "malformed value for '" + Encoding.Latin1.GetString(name[..Math.Min(name.Length, 32)]) + "'";

    /// <summary>Parses an announce query (tracker side) into a request, with the fields a tracker ignores (for tests and tools).</summary>
    public static bool TryParse(string rawQuery, out AnnounceRequest? request, out string error)
    {
        request = null;
        // A URL is ASCII: any other character is a malformed value (Latin-1 would read it as some other byte).
        if (rawQuery.AsSpan().ContainsAnyExceptInRange('\0', (char)0x7F))
        {
            error = "malformed value: not ASCII";
            return false;
        }
        byte[] query = Encoding.ASCII.GetBytes(rawQuery);
        if (!TryParse(query, out var fields, out error)) return false;
        byte[] Decoded(Range where)
        {
            var bytes = new byte[query.AsSpan(where).Length];
            PercentEncoding.TryDecode(query.AsSpan(where), bytes, out int n, plusIsSpace: true);
            return bytes[..n];
        }
        IPAddress? ip = null;
        if (!fields.IP.Equals(default(Range))) IPAddress.TryParse(Encoding.ASCII.GetString(Decoded(fields.IP)), out ip);
        request = new AnnounceRequest
        {
            InfoHash = fields.InfoHash,
            PeerId = Decoded(fields.PeerId),
            Port = fields.Port,
            Uploaded = fields.Uploaded,
            Downloaded = fields.Downloaded,
            Left = fields.Left,
            Event = fields.Event,
            Key = fields.Key.Equals(default(Range)) ? 0 : (uint)Encoding.ASCII.GetString(Decoded(fields.Key)).GetHashCode(StringComparison.Ordinal),
            NumWant = fields.NumWant,
            TrackerId = fields.TrackerId.Equals(default(Range)) ? null : Encoding.UTF8.GetString(Decoded(fields.TrackerId)),
            IPAddress = ip,
            Compact = fields.Compact,
            NoPeerId = fields.NoPeerId,
        };
        return true;
    }

    /// <summary>BEP 48: the scrape URL replaces the last path segment "announce..." with "scrape..."; null when not derivable.</summary>
    public static string? ScrapeUrl(string announceUrl)
    {
        int query = announceUrl.IndexOf('?', StringComparison.Ordinal);
        string path = query < 0 ? announceUrl : announceUrl[..query];
        int slash = path.LastIndexOf('/');
        if (slash < 0 || !path.AsSpan(slash + 1).StartsWith("announce", StringComparison.Ordinal)) return null;
        return path[..(slash + 1)] + "scrape" + path[(slash + 1 + "announce".Length)..] + (query < 0 ? "" : announceUrl[query..]);
    }

    public static string BuildScrape(string scrapeUrl, IEnumerable<InfoHash> hashes)
    {
        var text = new StringBuilder(scrapeUrl);
        char separator = scrapeUrl.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        Span<byte> bytes = stackalloc byte[InfoHash.Length];
        foreach (var hash in hashes)
        {
            hash.CopyTo(bytes);
            text.Append(separator).Append("info_hash=");
            AppendEscaped(text, bytes);
            separator = '&';
        }
        return text.ToString();
    }

    /// <summary>
    /// Collects the info_hash values of a scrape query's raw bytes into <paramref name="hashes"/> (at most its length; more
    /// are ignored) without allocating; <paramref name="count"/> says how many.
    /// </summary>
    public static bool TryParseScrape(ReadOnlySpan<byte> rawQuery, Span<InfoHash> hashes, out int count, out string error)
    {
        count = 0;
        Span<byte> value = stackalloc byte[64];
        var rest = rawQuery;
        while (!rest.IsEmpty)
        {
            int amp = rest.IndexOf((byte)'&');
            var item = amp < 0 ? rest : rest[..amp];
            rest = amp < 0 ? default : rest[(amp + 1)..];
            int eq = item.IndexOf((byte)'=');
            if (eq < 0 || !item[..eq].SequenceEqual("info_hash"u8)) continue;
            if (!PercentEncoding.TryDecode(item[(eq + 1)..], value, out int n, plusIsSpace: true) || n != InfoHash.Length)
            {
                error = "info_hash is not 20 bytes";
                return false;
            }
            if (count < hashes.Length) hashes[count++] = new InfoHash(value[..n]);
        }
        error = "";
        return true;
    }

    /// <summary>Collects the info_hash values of a scrape query (at most <see cref="MaxScrapeHashes"/>).</summary>
    public static bool TryParseScrape(string rawQuery, List<InfoHash> hashes, out string error)
    {
        Span<byte> value = stackalloc byte[64];
        foreach (var part in rawQuery.AsSpan().Split('&'))
        {
            var item = rawQuery.AsSpan(part);
            int eq = item.IndexOf('=');
            if (eq < 0 || !item[..eq].SequenceEqual("info_hash")) continue;
            if (!PercentEncoding.TryDecode(item[(eq + 1)..], value, out int n, plusIsSpace: true) || n != InfoHash.Length)
            {
                error = "info_hash is not 20 bytes";
                return false;
            }
            if (hashes.Count < MaxScrapeHashes) hashes.Add(new InfoHash(value[..n]));
        }
        error = "";
        return true;
    }

    private static bool TryInt(ReadOnlySpan<byte> text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}

/// <summary>
/// An announce query as the tracker reads it (<see cref="HttpAnnounceQuery.TryParse(ReadOnlySpan{byte}, out HttpAnnounceFields, out string)"/>):
/// the fields it acts on, and where the raw values it does not need lie in the query.
/// </summary>
public struct HttpAnnounceFields
{
    public InfoHash InfoHash;
    public int Port;
    public long Uploaded;
    public long Downloaded;
    public long Left;

    /// <summary>Peers wanted; -1 when absent (the tracker chooses).</summary>
    public int NumWant;
    public AnnounceEvent Event;
    public bool Compact;
    public bool NoPeerId;

    /// <summary>Still percent-encoded; a default range when absent.</summary>
    public Range PeerId;
    public Range Key;
    public Range TrackerId;
    public Range IP;
}
