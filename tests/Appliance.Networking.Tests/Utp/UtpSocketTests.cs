using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;
using Appliance.Networking.Utp;

namespace Appliance.Networking.Tests.Utp;

/// <summary>Our dialing side against our own listener, each on a real UDP socket on loopback.</summary>
public sealed class UtpSocketTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly List<IDisposable> _owned = [];

    [Fact]
    public async Task Dialed_connection_carries_a_megabyte_each_way_to_our_listener_and_its_close_reaches_the_other_end()
    {
        var accepted = new TaskCompletionSource<UtpConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = Port(new IPEndPoint(IPAddress.Loopback, 0), new Acceptor(accepted));
        var client = Port(new IPEndPoint(IPAddress.Loopback, 0), acceptor: null);
        using var bound = new CancellationTokenSource(Bound);

        using var dialer = await UtpSocket.ConnectAsync(client, server.Endpoint, bound.Token);
        var up = Bytes(1 << 20, seed: 1);
        var down = Bytes((1 << 20) + 333, seed: 2);
        // The listener hands the connection over once our first data arrives, so the upload starts first.
        var sending = dialer.SendAsync(up, bound.Token).AsTask();
        using var answerer = UtpSocket.Over(await accepted.Task.WaitAsync(bound.Token));
        var received = ReadExactlyAsync(answerer, up.Length, bound.Token);
        var receivedBack = ReadExactlyAsync(dialer, down.Length, bound.Token);
        await answerer.SendAsync(down, bound.Token);
        await sending;

        Assert.Equal(up, await received);
        Assert.Equal(down, await receivedBack);
        dialer.Close();
        Assert.Equal(0, await answerer.ReceiveAsync(new byte[16], bound.Token)); // the dialer's FIN: a clean end
        Assert.Equal(1, server.Counters.Read(UtpCounter.ConnectionsAccepted));
    }

    [Fact]
    public async Task Dial_to_a_port_that_accepts_nothing_is_refused_at_once()
    {
        var server = Port(new IPEndPoint(IPAddress.Loopback, 0), acceptor: null);
        var client = Port(new IPEndPoint(IPAddress.Loopback, 0), acceptor: null);
        using var bound = new CancellationTokenSource(Bound);

        var e = await Assert.ThrowsAsync<SocketException>(() => UtpSocket.ConnectAsync(client, server.Endpoint, bound.Token));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Equal(1, server.Counters.Read(UtpCounter.ResetsSent));
        Assert.Equal(0, client.Listener.ConnectionCount);
    }

    [Fact]
    public async Task Cancelling_a_dial_nobody_answers_ends_it_and_frees_its_entry()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var client = Port(new IPEndPoint(IPAddress.Loopback, 0), acceptor: null);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => UtpSocket.ConnectAsync(client, (IPEndPoint)silent.LocalEndPoint!, cancel.Token));
        // The aborted connection leaves the table with the next packet or timer tick.
        Assert.True(SpinWait.SpinUntil(() => client.Listener.ConnectionCount == 0, Bound), "the cancelled dial kept its entry");
    }

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<byte[]> ReadExactlyAsync(UtpSocket socket, int length, CancellationToken ct)
    {
        var bytes = new byte[length];
        int read = 0;
        while (read < length)
        {
            int n = await socket.ReceiveAsync(bytes.AsMemory(read), ct);
            Assert.True(n > 0, $"the stream ended after {read} of {length} bytes");
            read += n;
        }
        return bytes;
    }

    private UtpPort Port(IPEndPoint at, IUtpAcceptor? acceptor)
    {
        var port = new UtpPort(at, acceptor);
        _owned.Add(port);
        return port;
    }

    public void Dispose()
    {
        foreach (var owned in _owned) owned.Dispose();
    }

    /// <summary>A UDP socket with our uTP on it.</summary>
    private sealed class UtpPort : IDisposable
    {
        private readonly DatagramEndpoint _endpoint;

        public UtpPort(IPEndPoint at, IUtpAcceptor? acceptor)
        {
            _endpoint = new DatagramEndpoint(at);
            Listener = new UtpListener(_endpoint, acceptor, Counters);
            Listener.Start();
            _endpoint.Start(Listener, "utp-socket-test");
        }

        public UtpCounters Counters { get; } = new();
        public UtpListener Listener { get; }
        public IPEndPoint Endpoint => _endpoint.LocalEndPoint;

        public static implicit operator UtpListener(UtpPort port) => port.Listener;

        public void Dispose()
        {
            Listener.Dispose();
            _endpoint.Dispose();
        }
    }

    private sealed class Acceptor(TaskCompletionSource<UtpConnection> accepted) : IUtpAcceptor
    {
        public bool TryAccept(UtpConnection connection, IPEndPoint remote) => accepted.TrySetResult(connection);
    }
}
