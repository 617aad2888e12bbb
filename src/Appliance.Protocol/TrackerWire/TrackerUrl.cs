namespace Appliance.Protocol.TrackerWire;

/// <summary>
/// Tracker URLs as they may be shown: private trackers put a passkey in the path (<c>/PASSKEY/announce</c>) or the
/// query (<c>?passkey=...</c>), so anything beyond the scheme, host and port is hidden unless the path is a bare
/// <c>/announce</c>. Logs and printed output use this; only requests to the tracker carry the real URL.
/// </summary>
public static class TrackerUrl
{
    private const string Hidden = "/[redacted]";

    public static string Redact(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return "[tracker URL not shown]";
        if (IsBare(uri)) return url;
        return uri.Scheme + "://" + uri.Authority + Hidden;
    }

    /// <summary>True when the URL carries nothing that <see cref="Redact"/> would hide.</summary>
    public static bool IsSafeToShow(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) && IsBare(uri);

    /// <summary>Replaces the URL, wherever it occurs in <paramref name="text"/> (an error message), by its redacted form.</summary>
    public static string RedactIn(string text, string url) =>
        url.Length == 0 || IsSafeToShow(url) ? text : text.Replace(url, Redact(url), StringComparison.Ordinal);

    private static bool IsBare(Uri uri) =>
        uri.UserInfo.Length == 0 && uri.Query.Length == 0 && uri.Fragment.Length == 0 && uri.AbsolutePath is "/" or "/announce";
}
