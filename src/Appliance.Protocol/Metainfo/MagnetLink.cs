namespace Appliance.Protocol.Metainfo;

/// <summary>Magnet URIs (BEP 9): <c>magnet:?xt=urn:btih:HASH&amp;dn=NAME&amp;tr=URL...</c>.</summary>
public sealed record MagnetLink(InfoHash InfoHash, string? DisplayName, IReadOnlyList<string> Trackers)
{
    public static string Format(InfoHash infoHash, string? displayName, IEnumerable<string> trackers)
    {
        var text = new System.Text.StringBuilder("magnet:?xt=urn:btih:").Append(infoHash.ToHex());
        if (!string.IsNullOrEmpty(displayName)) text.Append("&dn=").Append(Uri.EscapeDataString(displayName));
        foreach (var tracker in trackers) text.Append("&tr=").Append(Uri.EscapeDataString(tracker));
        return text.ToString();
    }

    public override string ToString() => Format(InfoHash, DisplayName, Trackers);

    public static MagnetLink Parse(string uri) =>
        TryParse(uri, out var link, out var reason) ? link : throw new FormatException("invalid magnet link: " + reason);

    public static bool TryParse(string uri, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MagnetLink? link, out string? reason)
    {
        link = null;
        const string prefix = "magnet:?";
        if (!uri.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) { reason = "does not start with 'magnet:?'"; return false; }
        InfoHash? hash = null;
        string? name = null;
        var trackers = new List<string>();
        foreach (var part in uri[prefix.Length..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) continue;
            string key = part[..eq];
            string value = Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '));
            switch (key)
            {
                case "xt" when value.StartsWith("urn:btih:", StringComparison.OrdinalIgnoreCase):
                    if (!InfoHash.TryParse(value.AsSpan(9), out var parsed)) { reason = $"bad info-hash '{value[9..]}'"; return false; }
                    hash = parsed;
                    break;
                case "dn":
                    name = value;
                    break;
                case "tr":
                    trackers.Add(value);
                    break;
            }
        }
        if (hash is null) { reason = "no 'xt=urn:btih:' info-hash"; return false; }
        link = new MagnetLink(hash.Value, name, trackers);
        reason = null;
        return true;
    }
}
