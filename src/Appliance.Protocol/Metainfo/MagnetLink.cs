using Appliance.Protocol.Urls;

namespace Appliance.Protocol.Metainfo;

/// <summary>
/// Magnet URIs (BEP 9, BEP 52): <c>magnet:?xt=urn:btih:HASH&amp;xt=urn:btmh:1220HASH&amp;dn=NAME&amp;tr=URL...</c>.
/// <see cref="InfoHash"/> is the v1 hash, or the truncated v2 hash when the link has only <c>btmh</c>.
/// </summary>
public sealed record MagnetLink(InfoHash InfoHash, string? DisplayName, IReadOnlyList<string> Trackers)
{
    /// <summary>The v2 info-hash (32 bytes) when the link has <c>xt=urn:btmh:</c>.</summary>
    public byte[]? InfoHashV2 { get; init; }

    // A multihash: 0x12 (sha2-256), 0x20 (32 bytes), then the digest.
    private const string Sha256MultihashPrefix = "1220";

    public static string Format(InfoHash infoHash, string? displayName, IEnumerable<string> trackers) =>
        Format(infoHash, null, displayName, trackers);

    public static string Format(InfoHash? infoHash, byte[]? infoHashV2, string? displayName, IEnumerable<string> trackers)
    {
        if (infoHash is null && infoHashV2 is null) throw new ArgumentException("a magnet link needs an info-hash");
        var text = new System.Text.StringBuilder("magnet:?");
        if (infoHash is { } v1) text.Append("xt=urn:btih:").Append(v1.ToHex());
        if (infoHashV2 is not null)
        {
            if (infoHash is not null) text.Append('&');
            text.Append("xt=urn:btmh:").Append(Sha256MultihashPrefix).Append(Convert.ToHexStringLower(infoHashV2));
        }
        if (!string.IsNullOrEmpty(displayName)) text.Append("&dn=").Append(Uri.EscapeDataString(displayName));
        foreach (var tracker in trackers) text.Append("&tr=").Append(Uri.EscapeDataString(tracker));
        return text.ToString();
    }

    public override string ToString() => Format(InfoHashV2 is null || HasV1 ? InfoHash : null, InfoHashV2, DisplayName, Trackers);

    /// <summary>True when the link names a v1 info-hash (btih), not only a v2 one.</summary>
    public bool HasV1 { get; init; } = true;

    public static MagnetLink Parse(string uri) =>
        TryParse(uri, out var link, out var reason) ? link : throw new FormatException("invalid magnet link: " + reason);

    public static bool TryParse(string uri, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MagnetLink? link, out string? reason)
    {
        link = null;
        const string prefix = "magnet:?";
        if (!uri.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) { reason = "does not start with 'magnet:?'"; return false; }
        InfoHash? hash = null;
        byte[]? v2 = null;
        string? name = null;
        var trackers = new List<string>();
        foreach (var part in uri[prefix.Length..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) continue;
            string key = part[..eq];
            if (PercentEncoding.DecodeUtf8(part.AsSpan(eq + 1), plusIsSpace: true) is not { } value)
            {
                reason = $"malformed escape in '{key}'";
                return false;
            }
            switch (key)
            {
                case "xt" when value.StartsWith("urn:btih:", StringComparison.OrdinalIgnoreCase):
                    if (!InfoHash.TryParse(value.AsSpan(9), out var parsed)) { reason = $"bad info-hash '{value[9..]}'"; return false; }
                    hash = parsed;
                    break;
                case "xt" when value.StartsWith("urn:btmh:", StringComparison.OrdinalIgnoreCase):
                    string multihash = value[9..];
                    if (multihash.Length != 4 + 64 || !multihash.StartsWith(Sha256MultihashPrefix, StringComparison.Ordinal))
                    { reason = $"bad v2 info-hash '{multihash}' (expected 1220 and 64 hex digits)"; return false; }
                    try { v2 = Convert.FromHexString(multihash.AsSpan(4)); }
                    catch (FormatException) { reason = $"bad v2 info-hash '{multihash}'"; return false; }
                    break;
                case "dn":
                    name = value;
                    break;
                case "tr":
                    trackers.Add(value);
                    break;
            }
        }
        if (hash is null && v2 is null) { reason = "no 'xt=urn:btih:' or 'xt=urn:btmh:' info-hash"; return false; }
        link = new MagnetLink(hash ?? new InfoHash(v2.AsSpan(0, InfoHash.Length)), name, trackers) { InfoHashV2 = v2, HasV1 = hash is not null };
        reason = null;
        return true;
    }
}
