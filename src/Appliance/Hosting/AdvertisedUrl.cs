using System.Globalization;
using System.Net;

namespace Appliance.Hosting;

/// <summary>The http:// URL clients reach one of our listeners by.</summary>
public static class AdvertisedUrl
{
    /// <summary>
    /// <c>http://HOST:PORT/PATH</c> for a listener bound to <paramref name="bound"/>: the announce host when given, else the
    /// bound address, with wildcards as 127.0.0.1.
    /// </summary>
    public static string For(IPEndPoint bound, string? announceHost, string path)
    {
        string host = !string.IsNullOrEmpty(announceHost) ? announceHost
            : bound.Address.Equals(IPAddress.Any) || bound.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1"
            : bound.Address.ToString();
        if (host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[')) host = "[" + host + "]";
        return string.Create(CultureInfo.InvariantCulture, $"http://{host}:{bound.Port}{path}");
    }
}
