using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Networking.Http.Inline;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Networking.Tests.Http.Inline;

public sealed class InlineHttpServerTests
{
    private const int BodyBytes = 4000;

    /// <summary>/echo?N answers N then padding to <see cref="BodyBytes"/>; /boom throws.</summary>
    private sealed class EchoHandler : IInlineHttpHandler
    {
        public int MaxBodyBytes => BodyBytes;

        public int Answer(in InlineHttpRequest request, Span<byte> body)
        {
            if (request.Path.SequenceEqual("/boom"u8)) throw new InvalidOperationException("boom");
            if (!request.Path.SequenceEqual("/echo"u8)) return -404;
            request.Query.CopyTo(body);
            body[request.Query.Length..BodyBytes].Fill((byte)'.');
            return BodyBytes;
        }
    }

    private static InlineHttpServer Start(InlineHttpServerOptions? options = null)
    {
        var server = new InlineHttpServer("test", new IPEndPoint(IPAddress.Loopback, 0), new EchoHandler(), options ?? new InlineHttpServerOptions(),
            NullLogger.Instance);
        server.Start();
        return server;
    }

    private static async Task<Socket> ConnectAsync(InlineHttpServer server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server.LocalEndPoint);
        return socket;
    }

    /// <summary>Reads until the server closes; the bytes it sent, or null if it did not close within the bound.</summary>
    private static async Task<string?> ReadToEndAsync(Socket socket, TimeSpan bound)
    {
        using var timeout = new CancellationTokenSource(bound);
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (n == 0) return Encoding.Latin1.GetString(received.ToArray());
                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException)
        {
            return Encoding.Latin1.GetString(received.ToArray());
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    [Fact]
    public async Task Pipelined_requests_whose_answers_overflow_the_send_buffer_are_all_answered_in_order()
    {
        await using var server = Start();
        using var socket = await ConnectAsync(server);
        // 40 answers of 4 KB: several send buffers' worth, from one write of heads.
        var requests = new StringBuilder();
        for (int i = 0; i < 40; i++) requests.Append($"GET /echo?{i:D3} HTTP/1.1\r\nHost: t\r\n\r\n");
        requests.Append("GET /echo?end HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        await socket.SendAsync(Encoding.ASCII.GetBytes(requests.ToString()));
        string? all = await ReadToEndAsync(socket, TimeSpan.FromSeconds(30));
        Assert.NotNull(all);
        var answers = all.Split("HTTP/1.1 200 OK\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(41, answers.Length);
        for (int i = 0; i < 40; i++)
        {
            Assert.Contains("Connection: keep-alive", answers[i], StringComparison.Ordinal);
            Assert.Contains($"\r\n\r\n{i:D3}...", answers[i], StringComparison.Ordinal);
        }
        Assert.Contains("Connection: close\r\n\r\nend...", answers[40], StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_idle_kept_connection_is_closed_after_the_idle_timeout()
    {
        await using var server = Start(new InlineHttpServerOptions { IdleTimeout = TimeSpan.FromSeconds(1), SweepInterval = TimeSpan.FromMilliseconds(100) });
        using var socket = await ConnectAsync(server);
        await socket.SendAsync("GET /echo?1 HTTP/1.1\r\nHost: t\r\n\r\n"u8.ToArray());
        var clock = Stopwatch.StartNew();
        string? all = await ReadToEndAsync(socket, TimeSpan.FromSeconds(30));
        Assert.NotNull(all); // closed well within the bound
        Assert.StartsWith("HTTP/1.1 200 OK", all, StringComparison.Ordinal);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"closed after {clock.Elapsed}");
    }

    [Fact]
    public async Task A_head_that_never_ends_is_closed_after_the_head_timeout()
    {
        await using var server = Start(new InlineHttpServerOptions
        {
            IdleTimeout = TimeSpan.FromMinutes(5), HeadTimeout = TimeSpan.FromSeconds(1), SweepInterval = TimeSpan.FromMilliseconds(100),
        });
        using var socket = await ConnectAsync(server);
        await socket.SendAsync("GET /echo?1 HTTP/1.1\r\nHost: t\r\n"u8.ToArray());
        Assert.Equal("", await ReadToEndAsync(socket, TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task A_failing_handler_ends_only_its_own_connection_with_a_500()
    {
        await using var server = Start();
        using var good = await ConnectAsync(server);
        using var bad = await ConnectAsync(server);
        await bad.SendAsync("GET /boom HTTP/1.1\r\nHost: t\r\n\r\n"u8.ToArray());
        string? refused = await ReadToEndAsync(bad, TimeSpan.FromSeconds(30));
        Assert.StartsWith("HTTP/1.1 500 ", refused, StringComparison.Ordinal);
        await good.SendAsync("GET /echo?ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"u8.ToArray());
        Assert.Contains("\r\n\r\nok...", await ReadToEndAsync(good, TimeSpan.FromSeconds(30)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stopping_closes_kept_connections()
    {
        var server = Start();
        using var socket = await ConnectAsync(server);
        await socket.SendAsync("GET /echo?1 HTTP/1.1\r\nHost: t\r\n\r\n"u8.ToArray());
        var buffer = new byte[8192];
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30))) await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30))) await server.StopAsync(deadline.Token);
        Assert.Equal(0, server.ConnectionCount);
        Assert.NotNull(await ReadToEndAsync(socket, TimeSpan.FromSeconds(30)));
        await server.DisposeAsync();
    }
}
