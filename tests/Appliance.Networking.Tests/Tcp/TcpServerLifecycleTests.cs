using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Tcp;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Networking.Tests.Tcp;

public sealed class TcpServerLifecycleTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Stop_lets_connections_drain_and_closes_those_still_open_at_the_drain_deadline()
    {
        await using var lifecycle = new TcpServerLifecycle<Connection>("stopping", TimeSpan.FromMilliseconds(200), "drain deadline passed");
        var drains = new Connection(lifecycle, 1, finishesDrain: true);
        var lingers = new Connection(lifecycle, 2, finishesDrain: false);
        lifecycle.Add(drains);
        lifecycle.Add(lingers);

        using var deadline = new CancellationTokenSource(Patience);
        await lifecycle.StopAsync(deadline.Token);

        Assert.Equal("drained", drains.CloseReason);
        Assert.Equal("drain deadline passed", lingers.CloseReason);
        Assert.Equal(0, lifecycle.Count);
    }

    [Fact]
    public async Task A_connection_that_arrives_while_stopping_is_closed_at_once()
    {
        await using var lifecycle = new TcpServerLifecycle<Connection>("stopping", TimeSpan.FromSeconds(5), "drain deadline passed");
        using var deadline = new CancellationTokenSource(Patience);
        await lifecycle.StopAsync(deadline.Token);

        var late = new Connection(lifecycle, 3, finishesDrain: true);
        lifecycle.Add(late);
        Assert.Equal("stopping", late.CloseReason);
        Assert.Equal(0, lifecycle.Count);
    }

    [Fact]
    public async Task Stop_ends_the_accept_loop_and_the_periodic_loops_and_frees_the_port()
    {
        await using var lifecycle = new TcpServerLifecycle<Connection>("stopping", TimeSpan.FromSeconds(5), "drain deadline passed");
        var ticks = 0;
        var bound = lifecycle.Start(new TcpAcceptLoop(new IPEndPoint(IPAddress.Loopback, 0), new ConnectionLimiter(4, 0), new Refuser(), NullLogger.Instance),
            async token =>
            {
                try
                {
                    while (true)
                    {
                        Interlocked.Increment(ref ticks);
                        await Task.Delay(10, token);
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });
        Assert.Equal(bound, lifecycle.LocalEndPoint);
        using var deadline = new CancellationTokenSource(Patience);
        await lifecycle.StopAsync(deadline.Token);

        Assert.True(Volatile.Read(ref ticks) > 0);
        Assert.True(lifecycle.IsStopping);
        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        again.Bind(bound); // the listener is closed: its port is free
    }

    private sealed class Connection(TcpServerLifecycle<Connection> lifecycle, long id, bool finishesDrain) : ITcpServerConnection
    {
        private int _closed;
        public long Id { get; } = id;
        public IPEndPoint Remote { get; } = new(IPAddress.Loopback, 1000 + (int)id);
        public string? CloseReason { get; private set; }

        public void BeginDrain()
        {
            if (finishesDrain) Close("drained");
        }

        public void Close(string reason)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0) return;
            CloseReason = reason;
            lifecycle.Remove(this);
        }
    }

    private sealed class Refuser : IConnectionHandler
    {
        public void OnAccepted(Socket socket, IPEndPoint remote, bool onReserve) => socket.Dispose();
        public void OnRefused(IPEndPoint remote, AdmitResult reason)
        {
        }
    }
}
