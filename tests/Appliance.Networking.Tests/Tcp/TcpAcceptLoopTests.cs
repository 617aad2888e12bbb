using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Tcp;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Networking.Tests.Tcp;

public sealed class TcpAcceptLoopTests
{
    private sealed class RecordingHandler : IConnectionHandler
    {
        public ConcurrentQueue<Socket> Accepted { get; } = new();
        public ConcurrentQueue<AdmitResult> Refused { get; } = new();
        public void OnAccepted(Socket socket, IPEndPoint remote, bool onReserve) => Accepted.Enqueue(socket);
        public void OnRefused(IPEndPoint remote, AdmitResult reason) => Refused.Enqueue(reason);
    }

    [Theory]
    [InlineData(SocketError.ConnectionReset, AcceptErrorKind.Ignore)]
    [InlineData(SocketError.ConnectionAborted, AcceptErrorKind.Ignore)]
    [InlineData(SocketError.TooManyOpenSockets, AcceptErrorKind.BackOff)]
    [InlineData(SocketError.NoBufferSpaceAvailable, AcceptErrorKind.BackOff)]
    [InlineData(SocketError.OperationAborted, AcceptErrorKind.Fatal)]
    [InlineData(SocketError.InvalidArgument, AcceptErrorKind.Fatal)]
    public void Accept_errors_are_sorted(SocketError error, AcceptErrorKind kind) => Assert.Equal(kind, TcpAcceptLoop.Classify(error));

    [Fact]
    public async Task A_second_listener_on_a_port_in_use_is_refused_and_a_restart_binds_the_port_again()
    {
        var handler = new RecordingHandler();
        var first = new TcpAcceptLoop(new IPEndPoint(IPAddress.Loopback, 0), new ConnectionLimiter(4, 0), handler, NullLogger.Instance);
        first.Start();
        var port = first.LocalEndPoint;
        // A connection closed by the server side leaves its socket in TIME_WAIT on that port.
        using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await client.ConnectAsync(port);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (handler.Accepted.IsEmpty) await Task.Delay(10, cts.Token);
            handler.Accepted.TryDequeue(out var accepted);
            accepted!.Dispose();
        }

        var duplicate = Assert.Throws<SocketException>(() => new TcpAcceptLoop(port, new ConnectionLimiter(4, 0), handler, NullLogger.Instance));
        Assert.Equal(SocketError.AddressAlreadyInUse, duplicate.SocketErrorCode);

        await first.DisposeAsync();
        await using var restarted = new TcpAcceptLoop(port, new ConnectionLimiter(4, 0), handler, NullLogger.Instance);
        Assert.Equal(port, restarted.LocalEndPoint);
    }

    [Fact]
    public async Task Accepts_up_to_the_total_limit_and_refuses_the_rest_until_a_slot_is_released()
    {
        var handler = new RecordingHandler();
        await using var loop = new TcpAcceptLoop(new IPEndPoint(IPAddress.Loopback, 0), new ConnectionLimiter(2, 0), handler, NullLogger.Instance);
        loop.Start();
        var clients = new List<Socket>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await client.ConnectAsync(loop.LocalEndPoint);
                clients.Add(client);
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (handler.Accepted.Count + handler.Refused.Count < 3) await Task.Delay(10, cts.Token);
            Assert.Equal(2, handler.Accepted.Count);
            Assert.Equal([AdmitResult.TotalLimit], handler.Refused);

            handler.Accepted.TryDequeue(out var first);
            first!.Dispose();
            loop.Release(IPAddress.Loopback);
            var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            clients.Add(again);
            await again.ConnectAsync(loop.LocalEndPoint);
            while (handler.Accepted.Count < 2) await Task.Delay(10, cts.Token);
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
            foreach (var socket in handler.Accepted) socket.Dispose();
        }
    }

    [Fact]
    public void Per_address_limit_is_independent_of_other_addresses()
    {
        var limiter = new ConnectionLimiter(0, 1);
        Assert.Equal(AdmitResult.Admitted, limiter.TryAdmit(IPAddress.Parse("10.0.0.1")));
        Assert.Equal(AdmitResult.AddressLimit, limiter.TryAdmit(IPAddress.Parse("10.0.0.1")));
        Assert.Equal(AdmitResult.Admitted, limiter.TryAdmit(IPAddress.Parse("10.0.0.2")));
        limiter.Release(IPAddress.Parse("10.0.0.1"));
        Assert.Equal(AdmitResult.Admitted, limiter.TryAdmit(IPAddress.Parse("10.0.0.1")));
        Assert.Equal(2, limiter.Total);
    }

    [Fact]
    public void IPv4_mapped_IPv6_counts_as_the_IPv4_address()
    {
        var limiter = new ConnectionLimiter(0, 1);
        Assert.Equal(AdmitResult.Admitted, limiter.TryAdmit(IPAddress.Parse("10.0.0.1")));
        Assert.Equal(AdmitResult.AddressLimit, limiter.TryAdmit(IPAddress.Parse("::ffff:10.0.0.1")));
        limiter.Release(IPAddress.Parse("::ffff:10.0.0.1"));
        Assert.Equal(AdmitResult.Admitted, limiter.TryAdmit(IPAddress.Parse("10.0.0.1")));
        Assert.Equal(1, limiter.Total);
    }

    [Fact]
    public void IPv6_addresses_of_one_64_prefix_share_a_limit()
    {
        var limiter = new ConnectionLimiter(0, 2);
        Assert.Equal(AdmitResult.Admitted, limiter.TryAdmit(IPAddress.Parse("2001:db8:1:2::1")));
        Assert.Equal(AdmitResult.Admitted, limiter.TryAdmit(IPAddress.Parse("2001:db8:1:2:ffff::9")));
        Assert.Equal(AdmitResult.AddressLimit, limiter.TryAdmit(IPAddress.Parse("2001:db8:1:2:1234:5678:9abc:def0")));
        Assert.Equal(AdmitResult.Admitted, limiter.TryAdmit(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.Equal(AdmitResult.Admitted, limiter.TryAdmit(IPAddress.Parse("::ffff:0.0.0.1")));
    }

    [Fact]
    public async Task Wildcard_IPv6_listener_accepts_IPv4_and_IPv6_clients()
    {
        var handler = new RecordingHandler();
        await using var loop = new TcpAcceptLoop(new IPEndPoint(IPAddress.IPv6Any, 0), new ConnectionLimiter(0, 0), handler, NullLogger.Instance);
        loop.Start();
        using var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await v4.ConnectAsync(new IPEndPoint(IPAddress.Loopback, loop.LocalEndPoint.Port));
        await v6.ConnectAsync(new IPEndPoint(IPAddress.IPv6Loopback, loop.LocalEndPoint.Port));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (handler.Accepted.Count < 2) await Task.Delay(20, deadline.Token);
        Assert.Equal(2, loop.Limiter.Total);
        foreach (var socket in handler.Accepted) socket.Dispose();
    }
}
