using System.Net;
using System.Net.Sockets;

namespace Appliance.Trackers.Announcing;

/// <summary>What the peer port's bound address means for announcing: the families it accepts, and the addresses worth naming (BEP 7).</summary>
public static class ListenAddresses
{
    /// <summary><c>[::]</c> is dual-stack (IPv4 and IPv6); any other address accepts its own family only.</summary>
    public static AddressFamily[] Families(IPEndPoint listen) =>
        listen.Address.Equals(IPAddress.IPv6Any) ? [AddressFamily.InterNetwork, AddressFamily.InterNetworkV6]
        : [TrackerResolver.FamilyOf(listen.Address)];

    /// <summary>
    /// The listen address when it is a specific, globally reachable one (a tracker can hand it to peers of that family);
    /// none for a wildcard, loopback, private or link-local address, which the tracker learns (or should not) otherwise.
    /// </summary>
    public static IPAddress[] Announced(IPEndPoint listen) => IsGlobal(listen.Address) ? [listen.Address.IsIPv4MappedToIPv6 ? listen.Address.MapToIPv4() : listen.Address] : [];

    public static bool IsGlobal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return false;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
            return !address.Equals(IPAddress.IPv6Any) && !address.IsIPv6LinkLocal && !address.IsIPv6SiteLocal && !address.IsIPv6UniqueLocal
                && !address.IsIPv6Multicast;
        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        return b[0] switch
        {
            0 or 10 or >= 224 => false,                  // "this network", private, multicast and reserved
            100 => b[1] is < 64 or > 127,                 // 100.64/10: carrier-grade NAT
            169 => b[1] != 254,                           // link-local
            172 => b[1] is < 16 or > 31,                  // 172.16/12
            192 => b[1] != 168,                           // 192.168/16
            _ => true,
        };
    }
}
