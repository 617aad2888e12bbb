using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Krpc;
using Microsoft.Extensions.Logging;

namespace Appliance.Dht.Node;

/// <summary>
/// The <c>--dht-bootstrap</c> entries: HOST:PORT (repeatable); none at all means the well-known public routers
/// (real deployments only; they are resolved only then); the single entry <c>none</c> means wait to be contacted.
/// </summary>
public static class BootstrapList
{
    public static IReadOnlyList<string> PublicRouters { get; } =
        ["router.bittorrent.com:6881", "dht.transmissionbt.com:6881", "router.utorrent.com:6881"];

    public static bool IsNone(IReadOnlyList<string> entries) =>
        entries.Count == 1 && string.Equals(entries[0], "none", StringComparison.OrdinalIgnoreCase);

    /// <summary>Throws <see cref="FormatException"/> for an entry that is not HOST:PORT.</summary>
    public static IReadOnlyList<(string Host, int Port)> Parse(IReadOnlyList<string> entries)
    {
        if (IsNone(entries)) return [];
        var source = entries.Count == 0 ? PublicRouters : entries;
        var parsed = new List<(string, int)>();
        foreach (string entry in source)
        {
            int colon = entry.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(entry.AsSpan(colon + 1), out int port) || port is <= 0 or > ushort.MaxValue)
                throw new FormatException($"DHT bootstrap '{entry}' is not HOST:PORT (or 'none')");
            parsed.Add((entry[..colon].Trim('[', ']'), port));
        }
        return parsed;
    }

    /// <summary>Resolves the hosts to IPv4 and IPv6 addresses (each node bootstraps from its own family); hosts that do not resolve are logged and skipped.</summary>
    public static async Task<IReadOnlyList<CompactPeer>> ResolveAsync(IReadOnlyList<(string Host, int Port)> hosts, ILogger logger, CancellationToken cancellationToken)
    {
        var resolved = new List<CompactPeer>();
        foreach (var (host, port) in hosts)
        {
            try
            {
                var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
                foreach (var address in addresses)
                {
                    var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
                    if (plain.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6) resolved.Add(CompactPeer.FromEndPoint(new IPEndPoint(plain, port)));
                }
            }
            catch (SocketException e)
            {
                DhtLog.BootstrapUnresolved(logger, host, e.Message);
            }
        }
        return resolved;
    }
}
