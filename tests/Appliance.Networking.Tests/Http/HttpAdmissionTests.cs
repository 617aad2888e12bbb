using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Networking.Http;

namespace Appliance.Networking.Tests.Http;

/// <summary>
/// What a client can make the server hold before it is known to be welcome: route, admission and body limit are
/// decided from the head; connections are capped per address, and a few are kept for reserved routes.
/// </summary>
public sealed class HttpAdmissionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static HttpRouteTable Routes()
    {
        var routes = new HttpRouteTable();
        routes.MapGet("/hello", (_, response, _) =>
        {
            response.Write("hello");
            return ValueTask.CompletedTask;
        });
        routes.MapGet("/healthz", (_, response, _) =>
        {
            response.Write("ok");
            return ValueTask.CompletedTask;
        }, new HttpRouteOptions { Reserved = true });
        routes.MapPost("/guarded", (request, response, _) =>
        {
            response.Write(request.Body.Span);
            return ValueTask.CompletedTask;
        }, new HttpRouteOptions
        {
            Admit = (request, response) =>
            {
                if (request.GetHeader("Authorization") == "let me in") return true;
                response.StatusCode = 401;
                return false;
            },
        });
        routes.MapPost("/small", (request, response, _) =>
        {
            response.Write(request.Body.Span);
            return ValueTask.CompletedTask;
        }, new HttpRouteOptions { MaxBodyBytes = 100 });
        return routes;
    }

    private static HttpServer Start(HttpServerOptions? options = null)
    {
        var server = new HttpServer("admission", new IPEndPoint(IPAddress.Loopback, 0), Routes(),
            options ?? new HttpServerOptions { MaxRequestBodyBytes = 4096, RequestTimeout = TimeSpan.FromSeconds(30) });
        server.Start();
        return server;
    }

    [Fact]
    public async Task Unknown_path_is_answered_from_the_head_without_waiting_for_the_announced_body()
    {
        await using var server = Start();
        using var socket = await ConnectAsync(server, IPAddress.Loopback);
        await SendAsync(socket, "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 404", await ReadAnswerAsync(socket), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_admission_is_answered_before_the_body_is_read()
    {
        await using var server = Start();
        using var refused = await ConnectAsync(server, IPAddress.Loopback);
        await SendAsync(refused, "POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 401", await ReadAnswerAsync(refused), StringComparison.Ordinal);

        using var admitted = await ConnectAsync(server, IPAddress.Loopback);
        await SendAsync(admitted, "POST /guarded HTTP/1.1\r\nHost: x\r\nAuthorization: let me in\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        string answer = await ReadAnswerAsync(admitted);
        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.EndsWith("hello", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_route_body_limit_below_the_server_default_is_enforced_from_the_head()
    {
        await using var server = Start();
        using var socket = await ConnectAsync(server, IPAddress.Loopback);
        await SendAsync(socket, "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 413", await ReadAnswerAsync(socket), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_route_still_reads_a_body_that_arrives_in_pieces()
    {
        await using var server = Start(new HttpServerOptions { MaxRequestBodyBytes = 1 << 20, RequestTimeout = TimeSpan.FromSeconds(30) });
        using var socket = await ConnectAsync(server, IPAddress.Loopback);
        var body = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 31)).ToArray();
        await SendAsync(socket, $"POST /guarded HTTP/1.1\r\nHost: x\r\nAuthorization: let me in\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        for (int sent = 0; sent < body.Length; sent += 70_001)
            await socket.SendAsync(body.AsMemory(sent, Math.Min(70_001, body.Length - sent)));
        var all = await ReadAllAsync(socket);
        Assert.Equal(body, all[^body.Length..]);
    }

    [Fact]
    public void Body_buffer_grows_with_the_bytes_that_arrive_not_with_the_announced_length()
    {
        int declared = 4 * 1024 * 1024;
        int capacity = HttpServer.NextBodyCapacity(0, declared);
        Assert.True(capacity <= 64 * 1024);
        int steps = 0;
        while (capacity < declared)
        {
            int next = HttpServer.NextBodyCapacity(capacity, declared);
            Assert.True(next <= 2 * capacity);
            capacity = next;
            steps++;
        }
        Assert.Equal(declared, capacity);
        Assert.True(steps < 10);
        Assert.Equal(10, HttpServer.NextBodyCapacity(0, 10));
    }

    [Fact]
    public async Task One_address_cannot_take_every_connection()
    {
        await using var server = Start(new HttpServerOptions { MaxConnections = 64, MaxConnectionsPerAddress = 4, RequestTimeout = TimeSpan.FromSeconds(30) });
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++) idle.Add(await ConnectAsync(server, IPAddress.Loopback));
            await WaitForAsync(() => server.ConnectionCount == 4);

            using var fifth = await ConnectAsync(server, IPAddress.Loopback);
            await SendAsync(fifth, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", tolerateReset: true);
            Assert.Equal("", await ReadAnswerAsync(fifth));

            using var other = await ConnectAsync(server, IPAddress.Parse("127.0.0.2"));
            await SendAsync(other, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200", await ReadAnswerAsync(other), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var socket in idle) socket.Dispose();
        }
    }

    [Fact]
    public async Task A_flood_of_refused_connections_writes_one_log_line()
    {
        var log = new CountingLogger();
        await using var server = new HttpServer("flood", new IPEndPoint(IPAddress.Loopback, 0), Routes(),
            new HttpServerOptions { MaxConnectionsPerAddress = 1, RequestTimeout = TimeSpan.FromSeconds(30) }, log);
        server.Start();
        using var held = await ConnectAsync(server, IPAddress.Loopback);
        await WaitForAsync(() => server.ConnectionCount == 1);
        for (int i = 0; i < 20; i++)
        {
            using var refused = await ConnectAsync(server, IPAddress.Loopback);
            Assert.Equal("", await ReadAnswerAsync(refused));
        }
        Assert.Equal(1, log.Warnings);
    }

    private sealed class CountingLogger : Microsoft.Extensions.Logging.ILogger
    {
        private int _warnings;

        public int Warnings => Volatile.Read(ref _warnings);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == Microsoft.Extensions.Logging.LogLevel.Warning) Interlocked.Increment(ref _warnings);
        }
    }

    [Fact]
    public async Task Reserved_routes_are_answered_when_every_ordinary_connection_is_taken()
    {
        await using var server = Start(new HttpServerOptions { MaxConnections = 6, ReservedConnections = 2, RequestTimeout = TimeSpan.FromSeconds(30) });
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < 6; i++) idle.Add(await ConnectAsync(server, IPAddress.Parse($"127.0.1.{i + 1}")));
            await WaitForAsync(() => server.ConnectionCount == 6);

            using var health = await ConnectAsync(server, IPAddress.Loopback);
            await SendAsync(health, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
            string answer = await ReadAnswerAsync(health);
            Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
            Assert.Contains("Connection: close", answer, StringComparison.Ordinal);

            using var ordinary = await ConnectAsync(server, IPAddress.Loopback);
            await SendAsync(ordinary, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 503", await ReadAnswerAsync(ordinary), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var socket in idle) socket.Dispose();
        }
    }

    private static async Task<Socket> ConnectAsync(HttpServer server, IPAddress from)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(server.LocalEndPoint, cts.Token);
        return socket;
    }

    private static async Task SendAsync(Socket socket, string text, bool tolerateReset = false)
    {
        try
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(text));
        }
        catch (SocketException) when (tolerateReset)
        {
        }
    }

    /// <summary>Everything the server sends until it closes or the answer is complete (one response, no body beyond Content-Length).</summary>
    private static async Task<string> ReadAnswerAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var all = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0) break;
                all.Write(buffer, 0, n);
                string text = Encoding.Latin1.GetString(all.ToArray());
                int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end < 0) continue;
                var length = text[..end].Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                if (length is not null && all.Length >= end + 4 + int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)) break;
            }
        }
        catch (SocketException)
        {
        }
        return Encoding.Latin1.GetString(all.ToArray());
    }

    private static async Task<byte[]> ReadAllAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var all = new MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0) all.Write(buffer, 0, n);
        return all.ToArray();
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(Timeout);
        while (!condition()) await Task.Delay(10, cts.Token);
    }
}
