using System.Net;
using System.Net.Sockets;

namespace Appliance.TestKit;

/// <summary>
/// Free loopback ports for servers a test starts (tests never hard-code ports). They come from below the kernel's
/// ephemeral range (Linux: 32768-60999): a port found by binding port 0 is one the kernel hands out again, to another
/// test's bind(0) or to any outgoing connection, before our server binds it ("Address already in use"). Here each
/// candidate is handed out once per process, from a random start, and checked bindable before it is returned.
/// </summary>
public static class Ports
{
    private const int First = 20_000;
    private const int Count = 12_000; // 20000-31999

    private static int _next = Random.Shared.Next(Count);

    public static int FreeTcp() => Find(tcp: true, udp: false);

    public static int FreeUdp() => Find(tcp: false, udp: true);

    /// <summary>A port free for both TCP and UDP (the peer port doubles as the DHT and uTP port).</summary>
    public static int FreeTcpAndUdp() => Find(tcp: true, udp: true);

    private static int Find(bool tcp, bool udp)
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int port = First + (int)((uint)Interlocked.Increment(ref _next) % Count);
            if ((!tcp || CanBind(SocketType.Stream, ProtocolType.Tcp, port)) && (!udp || CanBind(SocketType.Dgram, ProtocolType.Udp, port)))
                return port;
        }
        throw new InvalidOperationException("no free loopback port below the ephemeral range");
    }

    private static bool CanBind(SocketType type, ProtocolType protocol, int port)
    {
        try
        {
            // Dual-stack on [::] covers the 127.0.0.1, ::1 and wildcard binds tests make (IPv4 only where there is no IPv6).
            using var socket = Socket.OSSupportsIPv6
                ? new Socket(AddressFamily.InterNetworkV6, type, protocol) { DualMode = true }
                : new Socket(AddressFamily.InterNetwork, type, protocol);
            socket.Bind(new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
