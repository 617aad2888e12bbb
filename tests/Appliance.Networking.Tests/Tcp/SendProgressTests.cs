using System.Net.Sockets;
using Appliance.Networking.Tcp;
using Appliance.TestKit;

namespace Appliance.Networking.Tests.Tcp;

public sealed class SendProgressTests
{
    private const int Sent = 256 * 1024;

    [Fact]
    public async Task Bytes_the_peer_does_not_read_stay_pending_with_nothing_more_acknowledged_until_it_reads()
    {
        // A 4 KiB window, and a send the kernel takes whole: it completes while most of it waits on our side.
        var (client, server) = await TcpPair.ConnectAsync(clientReceiveBufferSize: 4096);
        using (client)
        using (server)
        {
            Assert.True(SendProgress.TryRead(server, out var idle));
            Assert.False(idle.Pending);

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await server.SendAsync(new byte[Sent], SocketFlags.None, timeout.Token);
            // Once the window has closed, the acknowledged count stops where the peer's buffer filled.
            var before = Sample(server);
            for (int look = 0; look < 150; look++)
            {
                await Task.Delay(200, timeout.Token);
                var now = Sample(server);
                if (now.Acknowledged == before.Acknowledged) break;
                before = now;
            }
            Assert.True(before.Pending);
            Assert.True(before.Acknowledged < Sent);

            var buffer = new byte[64 * 1024];
            for (int received = 0; received < Sent;)
            {
                int n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                Assert.True(n > 0);
                received += n;
            }
            Assert.False(await Eventually.SettledAsync(false, () => Sample(server).Pending));
            Assert.True(Sample(server).Acknowledged >= Sent);
        }
    }

    [Fact]
    public async Task Reading_the_progress_allocates_nothing()
    {
        var (client, server) = await TcpPair.ConnectAsync();
        using (client)
        using (server)
        {
            void Read()
            {
                for (int i = 0; i < 100; i++) SendProgress.TryRead(server, out _);
            }
            Read();
            Assert.Equal(0, ThreadAllocations.Quietest(Read));
        }
    }

    [Fact]
    public void A_closed_socket_has_no_progress_to_read()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Dispose();
        Assert.False(SendProgress.TryRead(socket, out _));
    }

    private static SendProgress Sample(Socket socket)
    {
        Assert.True(SendProgress.TryRead(socket, out var progress));
        return progress;
    }
}
