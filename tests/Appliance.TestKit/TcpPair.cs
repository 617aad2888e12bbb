using System.Net;
using System.Net.Sockets;

namespace Appliance.TestKit;

/// <summary>Two connected TCP sockets on 127.0.0.1, for tests of socket-level code.</summary>
public static class TcpPair
{
    /// <summary>
    /// A <paramref name="clientReceiveBufferSize"/> set before connecting bounds the window the client advertises, so
    /// what it does not read backs up into the server's send queue.
    /// </summary>
    public static async Task<(Socket Client, Socket Server)> ConnectAsync(int clientReceiveBufferSize = 0)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (clientReceiveBufferSize > 0) client.ReceiveBufferSize = clientReceiveBufferSize;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(listener.LocalEndPoint!, timeout.Token);
        var server = await listener.AcceptAsync(timeout.Token);
        return (client, server);
    }
}
