using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;
using Appliance.Networking.Utp;

namespace Appliance.LoadGen;

/// <summary>The byte stream a load peer downloads over: a TCP connection, or a uTP (BEP 29) one to the seeder's peer port.</summary>
public abstract class PeerLink : IDisposable
{
    /// <summary>Bytes received; 0 when the seeder closed. Throws <see cref="SocketException"/> on failures, as a socket does.</summary>
    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct);

    /// <summary>Sends every byte of <paramref name="data"/>.</summary>
    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct);

    public abstract void Dispose();

    public static async Task<PeerLink> ConnectAsync(TransportKind transport, IPEndPoint target, IPAddress? source, int soRcvBuf, CancellationToken ct) =>
        transport == TransportKind.Utp
            ? await UtpLink.ConnectAsync(target, source, ct).ConfigureAwait(false)
            : await TcpLink.ConnectAsync(target, source, soRcvBuf, ct).ConfigureAwait(false);
}

/// <summary>Which transport the load peers use.</summary>
public enum TransportKind
{
    Tcp,
    Utp,
}

internal sealed class TcpLink(Socket socket) : PeerLink
{
    public static async Task<PeerLink> ConnectAsync(IPEndPoint target, IPAddress? source, int soRcvBuf, CancellationToken ct)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (soRcvBuf > 0) socket.ReceiveBufferSize = soRcvBuf;
            if (source is not null) socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(target, ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new TcpLink(socket);
    }

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct) => socket.ReceiveAsync(buffer, SocketFlags.None, ct);

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var sent = 0;
        while (sent < data.Length) sent += await socket.SendAsync(data[sent..], SocketFlags.None, ct).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        try { socket.Dispose(); }
        catch (ObjectDisposedException) { }
    }
}

/// <summary>
/// A uTP connection from a UDP port of its own, as each real client has: the seeder's per-source half-open cap is then
/// never the limit, and its per-address limits count the <c>--per-ip</c> source addresses as over TCP. The project's own
/// uTP (<see cref="UtpListener.Connect"/>) dials; the port's receive and timer threads are this connection's alone.
/// </summary>
internal sealed class UtpLink : PeerLink
{
    private readonly DatagramEndpoint _endpoint;
    private readonly UtpListener _port;
    private UtpSocket? _socket;

    private UtpLink(DatagramEndpoint endpoint)
    {
        _endpoint = endpoint;
        _port = new UtpListener(endpoint, acceptor: null, new UtpCounters(), maxHalfOpen: 1, maxConnections: 1);
    }

    public static async Task<PeerLink> ConnectAsync(IPEndPoint target, IPAddress? source, CancellationToken ct)
    {
        var any = target.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        var link = new UtpLink(new DatagramEndpoint(new IPEndPoint(source is not null && source.AddressFamily == target.AddressFamily ? source : any, 0)));
        try
        {
            link._port.Start();
            link._endpoint.Start(link._port, "loadgen-utp");
            link._socket = await UtpSocket.ConnectAsync(link._port, target, ct).ConfigureAwait(false);
        }
        catch
        {
            link.Dispose();
            throw;
        }
        return link;
    }

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct) => _socket!.ReceiveAsync(buffer, ct);

    public override ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct) => _socket!.SendAsync(data, ct);

    public override void Dispose()
    {
        _socket?.Dispose();
        _port.Dispose();
        _endpoint.Dispose();
    }
}
