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

    /// <summary>Parses an announce query (tracker side). The peer's address is the connection's unless a valid ip= is given.</summary>
    public static bool TryParse(string rawQuery, out AnnounceRequest? request, out string error)
    {
        request = null;
        InfoHash? infoHash = null;
        byte[]? peerId = null;
        int port = -1, numWant = -1;
        long uploaded = 0, downloaded = 0, left = 0;
        uint key = 0;
        var announceEvent = AnnounceEvent.None;
        bool compact = true, noPeerId = false;
        string? trackerId = null;
        IPAddress? ip = null;
        Span<byte> value = stackalloc byte[256];
        foreach (var part in rawQuery.AsSpan().Split('&'))
        {
            var item = rawQuery.AsSpan(part);
            if (item.IsEmpty) continue;
            int eq = item.IndexOf('=');
            var name = eq < 0 ? item : item[..eq];
            var raw = eq < 0 ? default : item[(eq + 1)..];
            if (!PercentEncoding.TryDecode(raw, value, out int n, plusIsSpace: true))
            {
                error = $"malformed value for '{name}'";
                return false;
            }
            var v = value[..n];
            switch (name)
            {
                case "info_hash":
                    if (n != InfoHash.Length) { error = "info_hash is not 20 bytes"; return false; }
                    infoHash = new InfoHash(v);
                    break;
                case "peer_id":
                    if (n != AnnounceRequest.PeerIdLength) { error = "peer_id is not 20 bytes"; return false; }
                    peerId = v.ToArray();
                    break;
                case "port":
                    if (!TryInt(v, out long p) || p is < 1 or > 65535) { error = "invalid port"; return false; }
                    port = (int)p;
                    break;
                case "uploaded":
                    if (!TryInt(v, out uploaded)) { error = "invalid uploaded"; return false; }
                    break;
                case "downloaded":
                    if (!TryInt(v, out downloaded)) { error = "invalid downloaded"; return false; }
                    break;
                case "left":
                    if (!TryInt(v, out left)) { error = "invalid left"; return false; }
                    break;
                case "numwant":
                    if (!TryInt(v, out long w)) { error = "invalid numwant"; return false; }
                    numWant = (int)Math.Min(w, int.MaxValue);
                    break;
                case "key":
                    key = (uint)(Encoding.ASCII.GetString(v).GetHashCode(StringComparison.Ordinal));
                    break;
                case "event":
                    if (!AnnounceEventNames.TryParse(v, out announceEvent)) { error = "unknown event"; return false; }
                    break;
                case "compact":
                    compact = !v.SequenceEqual("0"u8);
                    break;
                case "no_peer_id":
                    noPeerId = v.SequenceEqual("1"u8);
                    break;
                case "trackerid":
                    trackerId = Encoding.UTF8.GetString(v);
                    break;
                case "ip":
                    IPAddress.TryParse(Encoding.ASCII.GetString(v), out ip);
                    break;
            }
        }
        if (infoHash is null) { error = "missing info_hash"; return false; }
        if (peerId is null) { error = "missing peer_id"; return false; }
        if (port < 0) { error = "missing port"; return false; }
        request = new AnnounceRequest
        {
            InfoHash = infoHash.Value,
            PeerId = peerId,
            Port = port,
            Uploaded = uploaded,
            Downloaded = downloaded,
            Left = left,
            Event = announceEvent,
            Key = key,
            NumWant = numWant,
            TrackerId = trackerId,
            IPAddress = ip,
            Compact = compact,
            NoPeerId = noPeerId,
        };
        error = "";
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
