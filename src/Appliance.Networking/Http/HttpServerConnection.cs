using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Tcp;

namespace Appliance.Networking.Http;

/// <summary>One client connection of an <see cref="HttpServer"/>; its request loop is <c>HttpServer.ServeAsync</c>.</summary>
internal sealed class HttpServerConnection(Socket socket, IPEndPoint remote, long id, bool reservedOnly, bool onReserve) : ITcpServerConnection
{
    public Socket Socket { get; } = socket;
    public IPEndPoint Remote { get; } = remote;
    public long Id { get; } = id;

    /// <summary>Admitted beyond the ordinary slots (or on the reserve descriptor): one request, reserved routes only.</summary>
    public bool ReservedOnly { get; } = reservedOnly;

    /// <summary>Accepted on the accept loop's reserve descriptor, which is handed back once this connection ends.</summary>
    public bool OnReserve { get; } = onReserve;

    /// <summary>Nothing is worth finishing when the server stops: the request in flight is cut.</summary>
    public void BeginDrain() => Close("server stopping");

    /// <summary>Closing the socket ends the pending receive or send; the request loop then cleans up.</summary>
    public void Close(string reason) => Socket.Dispose();
}
