using System.Net.Sockets;
using Appliance.Networking.Tcp;
using Appliance.TestKit;

namespace Appliance.Networking.Tests.Tcp;

public sealed class SocketReadinessTests
{
    [Fact]
    public async Task Reports_nothing_until_bytes_arrive_and_does_not_consume_them()
    {
        var (client, server) = await TcpPair.ConnectAsync();
        using (client)
        using (server)
        {
            Assert.False(SocketReadiness.HasDataOrEnd(server));

            await client.SendAsync(new byte[] { 7, 8 });
            await WaitUntilAsync(() => server.Available == 2);
            Assert.True(SocketReadiness.HasDataOrEnd(server));

            var buffer = new byte[4];
            Assert.Equal(2, await server.ReceiveAsync(buffer));
            Assert.Equal(new byte[] { 7, 8 }, buffer[..2]);
            Assert.False(SocketReadiness.HasDataOrEnd(server));
        }
    }

    [Fact]
    public async Task Reports_the_peers_close_so_the_receive_sees_it()
    {
        var (client, server) = await TcpPair.ConnectAsync();
        using (server)
        {
            client.Shutdown(SocketShutdown.Send);
            client.Dispose();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!SocketReadiness.HasDataOrEnd(server)) await Task.Delay(10, timeout.Token);
            Assert.Equal(0, await server.ReceiveAsync(new byte[4]));
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition()) await Task.Delay(10, timeout.Token);
    }
}
