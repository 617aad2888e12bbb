using System.Net;
using System.Net.Sockets;

namespace Appliance.TestKit;

/// <summary>Free loopback ports, found by binding port 0 (tests never hard-code ports).</summary>
public static class Ports
{
    public static int FreeTcp()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static int FreeUdp()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>A port free for both TCP and UDP (the peer port doubles as the DHT port).</summary>
    public static int FreeTcpAndUdp()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            int port = FreeTcp();
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("no port free for both TCP and UDP");
    }
}
