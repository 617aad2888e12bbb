using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Appliance.Networking.Tcp;
using Appliance.Networking.Tcp.Epoll;

namespace Appliance.Networking.Tests.Tcp.Epoll;

public sealed class EpollEngineTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly EpollEngine _engine = new(loops: 2);

    public void Dispose() => _engine.Dispose();

    private (Socket Client, EpollSocket Server) Pair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.Connect(listener.LocalEndPoint!);
        var accepted = listener.Accept();
        accepted.NoDelay = true;
        var registered = _engine.TryRegister(accepted);
        Assert.NotNull(registered);
        return (client, registered!);
    }

    [Fact]
    public async Task A_parked_receive_completes_on_the_loop_thread_when_data_arrives()
    {
        var (client, server) = Pair();
        using (client)
        {
            var buffer = new byte[16];
            var pending = server.ReceiveAsync(buffer);
            Assert.False(pending.IsCompleted, "nothing was sent yet");
            bool? onLoop = null;
            var resumed = Continue(pending, () => onLoop = EpollEngine.IsLoopThread);
            client.Send("hello"u8);
            var result = await resumed.WaitAsync(Bound);
            Assert.True(result.Succeeded);
            Assert.Equal(5, result.BytesTransferred);
            Assert.Equal("hello"u8.ToArray(), buffer[..5]);
            Assert.True(onLoop, "the continuation ran inline on the epoll loop thread");
            server.Close();
        }
    }

    // Records where the continuation of a pending receive runs (no await in between, so nothing hops).
    private static Task<SocketResult> Continue(ValueTask<SocketResult> pending, Action onContinuation)
    {
        var done = new TaskCompletionSource<SocketResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var awaiter = pending.ConfigureAwait(false).GetAwaiter();
        awaiter.UnsafeOnCompleted(() =>
        {
            onContinuation();
            done.SetResult(awaiter.GetResult());
        });
        return done.Task;
    }

    [Fact]
    public async Task Waiting_for_data_consumes_nothing()
    {
        var (client, server) = Pair();
        using (client)
        {
            var waiting = server.WaitForDataAsync();
            client.Send("abc"u8);
            var ready = await waiting.AsTask().WaitAsync(Bound);
            Assert.True(ready.Succeeded);
            Assert.Equal(0, ready.BytesTransferred);
            var buffer = new byte[8];
            var received = await server.ReceiveAsync(buffer).AsTask().WaitAsync(Bound);
            Assert.Equal(3, received.BytesTransferred);
            server.Close();
        }
    }

    [Fact]
    public async Task A_peer_closing_completes_the_receive_with_zero_bytes()
    {
        var (client, server) = Pair();
        var pending = server.ReceiveAsync(new byte[8]).AsTask();
        client.Shutdown(SocketShutdown.Both);
        client.Dispose();
        var result = await pending.WaitAsync(Bound);
        Assert.True(result.Succeeded);
        Assert.Equal(0, result.BytesTransferred);
        server.Close();
    }

    [Fact]
    public async Task Closing_while_a_receive_is_parked_fails_it()
    {
        var (client, server) = Pair();
        using (client)
        {
            var pending = server.WaitForDataAsync().AsTask();
            Assert.False(pending.IsCompleted);
            server.Close();
            var result = await pending.WaitAsync(Bound);
            Assert.False(result.Succeeded);
            Assert.Equal(0, _engine.SocketsOnLoop(0) + _engine.SocketsOnLoop(1));
            // The descriptor was closed after deregistration: the peer sees the end of the stream.
            Assert.Equal(0, client.Receive(new byte[4]));
            // Receiving after the close fails at once.
            Assert.False((await server.ReceiveAsync(new byte[4])).Succeeded);
        }
    }

    [Fact]
    public async Task A_send_the_socket_buffer_cannot_take_waits_for_the_reader_then_resumes()
    {
        var (client, server) = Pair();
        using (client)
        {
            client.ReceiveBufferSize = 64 * 1024;
            var block = GC.AllocateArray<byte>(256 * 1024, pinned: true);
            new Random(5).NextBytes(block);
            const int Blocks = 64; // 16 MiB: far more than both socket buffers hold
            var sender = Task.Run(async () =>
            {
                int waits = 0;
                for (int i = 0; i < Blocks; i++)
                {
                    int offset = 0;
                    while (offset < block.Length)
                    {
                        server.BeginSend();
                        var status = GatherSend.TrySend(server.Socket, [new IoVector(Address(block) + offset, block.Length - offset)], out long sent);
                        Assert.True(status is GatherSendStatus.Sent or GatherSendStatus.WouldBlock, status.ToString());
                        offset += (int)sent;
                        if (offset == block.Length) break;
                        waits++;
                        var writable = await server.WaitWritableAsync();
                        Assert.True(writable.Succeeded);
                    }
                }
                return waits;
            });
            // Not reading yet: the sender fills the buffers and parks.
            await Task.Delay(200);
            Assert.False(sender.IsCompleted);
            var received = new byte[block.Length];
            for (int i = 0; i < Blocks; i++)
            {
                int n = 0;
                while (n < received.Length) n += client.Receive(received, n, received.Length - n, SocketFlags.None);
                Assert.True(block.AsSpan().SequenceEqual(received), $"block {i} arrived intact");
            }
            int waited = await sender.WaitAsync(Bound);
            Assert.True(waited > 0, "the sender had to wait for room");
            server.Close();
        }
    }

    private static unsafe nint Address(byte[] pinned) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    [Fact]
    public async Task Thousands_of_round_trips_lose_no_readiness()
    {
        // Each reply is sent the moment the previous one was read, so readiness often lands between a receive's EAGAIN
        // and its park: a lost edge would leave a receive parked for ever.
        var (client, server) = Pair();
        using (client)
        {
            const int Rounds = 5000;
            var echo = Task.Run(async () =>
            {
                var buffer = new byte[1];
                var reply = GC.AllocateArray<byte>(1, pinned: true);
                for (int i = 0; i < Rounds; i++)
                {
                    var waited = await server.WaitForDataAsync();
                    Assert.True(waited.Succeeded);
                    var got = await server.ReceiveAsync(buffer);
                    Assert.Equal(1, got.BytesTransferred);
                    reply[0] = buffer[0];
                    server.BeginSend();
                    Assert.Equal(GatherSendStatus.Sent, GatherSend.TrySend(server.Socket, [new IoVector(Address(reply), 1)], out long sent));
                    Assert.Equal(1, sent);
                }
            });
            client.ReceiveTimeout = 20_000;
            var one = new byte[1];
            for (int i = 0; i < Rounds; i++)
            {
                one[0] = (byte)i;
                client.Send(one);
                Assert.Equal(1, client.Receive(one));
                Assert.Equal((byte)i, one[0]);
            }
            await echo.WaitAsync(Bound);
            server.Close();
        }
    }

    [Fact]
    public async Task Data_arriving_between_a_would_block_receive_and_its_park_is_not_lost()
    {
        var (client, server) = Pair();
        using (client)
        {
            // The byte arrives, and the loop sees its one edge, after the receive found nothing but before it parks.
            server.BeforePark = () =>
            {
                server.BeforePark = null;
                client.Send("x"u8);
                Thread.Sleep(200);
            };
            var buffer = new byte[4];
            var result = await server.ReceiveAsync(buffer).AsTask().WaitAsync(Bound);
            Assert.Equal(1, result.BytesTransferred);
            Assert.Equal((byte)'x', buffer[0]);
            server.Close();
        }
    }

    [Fact]
    public async Task Room_made_between_a_would_block_send_and_its_park_is_not_lost()
    {
        var (client, server) = Pair();
        using (client)
        {
            var block = GC.AllocateArray<byte>(64 * 1024, pinned: true);
            long queued = 0;
            while (true)
            {
                server.BeginSend();
                var status = GatherSend.TrySend(server.Socket, [new IoVector(Address(block), block.Length)], out long sent);
                queued += sent;
                if (status == GatherSendStatus.WouldBlock) break;
                Assert.Equal(GatherSendStatus.Sent, status);
            }
            // The reader takes everything after the send would block, before the wait parks: the one EPOLLOUT edge
            // comes then, and nothing after it (the reader stops).
            server.BeforePark = () =>
            {
                server.BeforePark = null;
                var sink = new byte[1024 * 1024];
                while (queued > 0) queued -= client.Receive(sink);
                Thread.Sleep(200);
            };
            var writable = await server.WaitWritableAsync().AsTask().WaitAsync(Bound);
            Assert.True(writable.Succeeded);
            server.Close();
        }
    }

    [Fact]
    public async Task After_a_short_read_the_next_receive_parks_without_a_syscall()
    {
        var (client, server) = Pair();
        using (client)
        {
            var buffer = new byte[16];
            // Parked first, so the report of this byte is the one that resumes it (a report landing after the receive
            // began would rightly make the next receive try the syscall).
            var first = server.ReceiveAsync(buffer);
            Assert.False(first.IsCompleted);
            client.Send("a"u8);
            Assert.Equal(1, (await first.AsTask().WaitAsync(Bound)).BytesTransferred);
            long calls = server.ReceiveCalls;
            var next = server.ReceiveAsync(buffer);
            Assert.False(next.IsCompleted);
            Assert.Equal(calls, server.ReceiveCalls); // no recv that could only have found EAGAIN
            client.Send("b"u8);
            var result = await next.AsTask().WaitAsync(Bound);
            Assert.Equal(1, result.BytesTransferred);
            Assert.Equal((byte)'b', buffer[0]);
            server.Close();
        }
    }

    [Fact]
    public async Task Data_and_the_peers_close_read_in_one_receive_still_end_in_a_zero_byte_receive()
    {
        var (client, server) = Pair();
        client.Send("abc"u8);
        client.Shutdown(SocketShutdown.Send);
        // The loop sees the data and the FIN (one report) before the receive starts; the receive takes the data and
        // stops at the FIN, short: the next receive must not park on the strength of that short read.
        await Task.Delay(200);
        var buffer = new byte[16];
        Assert.Equal(3, (await server.ReceiveAsync(buffer).AsTask().WaitAsync(Bound)).BytesTransferred);
        var end = await server.ReceiveAsync(buffer).AsTask().WaitAsync(Bound);
        Assert.True(end.Succeeded);
        Assert.Equal(0, end.BytesTransferred);
        server.Close();
        client.Dispose();
    }

    [Fact]
    public void A_stopped_engine_refuses_sockets_so_the_caller_serves_them_another_way()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var accepted = listener.Accept();
        _engine.Dispose();
        Assert.Null(_engine.TryRegister(accepted));
    }

    [Fact]
    public void Sockets_are_spread_over_the_loops()
    {
        var pairs = Enumerable.Range(0, 8).Select(_ => Pair()).ToArray();
        try
        {
            Assert.Equal(4, _engine.SocketsOnLoop(0));
            Assert.Equal(4, _engine.SocketsOnLoop(1));
        }
        finally
        {
            foreach (var (client, server) in pairs)
            {
                server.Close();
                client.Dispose();
            }
        }
        Assert.Equal(0, _engine.SocketsOnLoop(0) + _engine.SocketsOnLoop(1));
    }
}
