using Appliance.TestKit;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Networking.Http;

namespace Appliance.Networking.Tests.Robustness;

/// <summary>
/// The HTTP server (tracker announces, metrics, health) under hostile clients: malformed and oversized heads,
/// slowloris trickles and pipelined garbage cost their own connection at most; a valid GET is answered afterwards.
/// </summary>
public sealed class HttpServerFuzzTests : IAsyncLifetime
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);
    private static readonly HttpServerOptions Options = new()
    {
        MaxRequestHeadBytes = 2048,
        MaxRequestBodyBytes = 4096,
        RequestTimeout = RequestTimeout,
    };

    private static readonly byte[] ValidGet = Encoding.ASCII.GetBytes(
        "GET /hello?name=robust&x=%41 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fuzz/1.0\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n");

    private static readonly byte[] ValidPost = Encoding.ASCII.GetBytes(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello");

    private readonly HttpRouteTable _routes = new();
    private HttpServer _server = null!;

    public HttpServerFuzzTests()
    {
        _routes.MapGet("/hello", (request, response, _) =>
        {
            response.Write("hello " + (request.Query.GetString("name") ?? "nobody"));
            return ValueTask.CompletedTask;
        });
        _routes.MapPost("/echo", (request, response, _) =>
        {
            response.Write(request.Body.Span);
            return ValueTask.CompletedTask;
        });
    }

    public Task InitializeAsync()
    {
        _server = new HttpServer("robust", new IPEndPoint(IPAddress.Loopback, 0), _routes, Options);
        _server.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public void Head_parser_never_throws_and_answers_a_length_more_or_a_refusal_status()
    {
        int[] refusals = [-400, -431, -501, -505];
        foreach (var valid in new[] { ValidGet, ValidPost })
        {
            int headLength = new HttpRequestHead().Parse(valid, Options);
            Assert.True(headLength > 0);
            foreach (var prefix in Mutations.Truncations(valid[..headLength]))
                Assert.Equal(0, new HttpRequestHead().Parse(prefix, Options));

            foreach (var mutant in Mutations.Random(valid, seed: 501 + valid.Length, count: 4000))
            {
                var head = new HttpRequestHead();
                int result = head.Parse(mutant, Options);
                if (result > 0)
                {
                    Assert.True(result <= mutant.Length && result <= Options.MaxRequestHeadBytes);
                    Assert.StartsWith("/", head.Path, StringComparison.Ordinal);
                    Assert.True(head.ContentLength >= 0);
                    Assert.True(head.Headers.Count <= Options.MaxHeaderCount);
                }
                else if (result < 0)
                {
                    Assert.Contains(result, refusals);
                }
            }
        }
        var oversized = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nX: " + new string('a', 5000) + "\r\n\r\n");
        Assert.Equal(-431, new HttpRequestHead().Parse(oversized, Options));
        Assert.Equal(-431, new HttpRequestHead().Parse(oversized.AsSpan(0, 3000), Options));
        var many = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n" + string.Concat(Enumerable.Range(0, 100).Select(i => $"H{i}: v\r\n")) + "\r\n");
        Assert.Equal(-431, new HttpRequestHead().Parse(many, new HttpServerOptions { MaxRequestHeadBytes = 64 * 1024 }));
    }

    [Fact]
    public async Task Hostile_connections_cost_only_themselves_and_a_valid_get_is_answered_afterwards()
    {
        var random = new Random(502);
        var attacks = new List<Func<Task<string>>>();
        foreach (var mutant in Mutations.Random(ValidGet, seed: 503, count: 40).Concat(Mutations.Random(ValidPost, seed: 504, count: 40)))
            attacks.Add(() => SendAndDrainAsync(mutant, "mutated request"));
        for (int i = 0; i < 10; i++)
        {
            var garbage = new byte[random.Next(1, 3000)];
            random.NextBytes(garbage);
            attacks.Add(() => SendAndDrainAsync(garbage, "random bytes"));
        }
        attacks.Add(() => SendAndDrainAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nX: " + new string('a', 50_000) + "\r\n\r\n"), "oversized header"));
        attacks.Add(() => SendAndDrainAsync(Encoding.ASCII.GetBytes("POST /echo HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nabc"), "huge content length"));
        attacks.Add(() => SendAndDrainAsync(Encoding.ASCII.GetBytes("POST /echo HTTP/1.1\r\nContent-Length: -5\r\n\r\n"), "negative content length"));
        attacks.Add(() => SendAndDrainAsync([.. ValidGet, .. ValidGet, .. Encoding.ASCII.GetBytes("\0\0\0GARBAGE\r\n\r\n"), .. ValidGet], "pipelined garbage"));
        for (int i = 0; i < 4; i++) attacks.Add(SlowlorisAsync);

        var outcomes = await Task.WhenAll(attacks.Select(a => Task.Run(a)));
        var stuck = outcomes.Where(o => o.StartsWith("stuck", StringComparison.Ordinal)).ToList();
        Assert.True(stuck.Count == 0, string.Join("; ", stuck));

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_server.LocalEndPoint.Port}"), Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal("hello after", await client.GetStringAsync("/hello?name=after"));

        // Every hostile connection is gone from the server's table (ours are closed; the server must notice).
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (_server.ConnectionCount > 1 && !wait.IsCancellationRequested) await Task.Delay(50);
        Assert.InRange(_server.ConnectionCount, 0, 1);
    }

    /// <summary>Sends the bytes, reads whatever comes back until the server closes or goes quiet; "stuck" if it never does either.</summary>
    private async Task<string> SendAndDrainAsync(byte[] bytes, string what)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await socket.ConnectAsync(_server.LocalEndPoint, cts.Token);
        try
        {
            await socket.SendAsync(bytes, SocketFlags.None, cts.Token);
        }
        catch (SocketException)
        {
            return what + ": reset while sending";
        }
        // A keep-alive connection that got its answers stays open until the idle timeout; the request timeout bounds it.
        var buffer = new byte[16 * 1024];
        long received = 0;
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0) return $"{what}: closed after {received} bytes";
                received += n;
                Assert.True(received < 1024 * 1024, $"{what}: unbounded answer");
            }
        }
        catch (SocketException)
        {
            return what + ": reset";
        }
        catch (OperationCanceledException)
        {
            return $"stuck: {what} ({Convert.ToBase64String(bytes.AsSpan(0, Math.Min(bytes.Length, 200)))}) still open after 15 s";
        }
    }

    /// <summary>A head trickled one byte at a time, never finished: the request timeout must end it.</summary>
    private async Task<string> SlowlorisAsync()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(RequestTimeout * 4);
        await socket.ConnectAsync(_server.LocalEndPoint, cts.Token);
        byte[] partial = Encoding.ASCII.GetBytes("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + new string('z', 200));
        var receive = socket.ReceiveAsync(new byte[1024], SocketFlags.None, cts.Token).AsTask();
        try
        {
            foreach (byte b in partial)
            {
                if (receive.IsCompleted) break;
                await socket.SendAsync(new[] { b }, SocketFlags.None, cts.Token);
                await Task.Delay(100, cts.Token);
            }
            int n = await receive;
            return n == 0 ? "slowloris: closed" : "slowloris: answered and closed";
        }
        catch (SocketException)
        {
            return "slowloris: reset";
        }
        catch (OperationCanceledException)
        {
            return $"stuck: slowloris connection still open after {RequestTimeout * 4}";
        }
    }
}
