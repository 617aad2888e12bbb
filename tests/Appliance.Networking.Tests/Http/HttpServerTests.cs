using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Networking.Http;
using Appliance.Protocol.Urls;

namespace Appliance.Networking.Tests.Http;

public sealed class HttpServerTests : IAsyncLifetime
{
    private readonly HttpRouteTable _routes = new();
    private HttpServer _server = null!;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(30));

    public HttpServerTests()
    {
        _routes.MapGet("/hello", (request, response, _) =>
        {
            response.ContentType = "text/plain";
            response.Write("hello " + (request.Query.GetString("name") ?? "nobody"));
            return ValueTask.CompletedTask;
        });
        _routes.MapPost("/echo", (request, response, _) =>
        {
            response.ContentType = "application/octet-stream";
            response.Write(request.Body.Span);
            return ValueTask.CompletedTask;
        });
        _routes.MapGet("/big", async (request, response, ct) =>
        {
            var chunk = new byte[64 * 1024];
            for (int i = 0; i < chunk.Length; i++) chunk[i] = (byte)i;
            for (int i = 0; i < 48; i++) await response.BodyStream.WriteAsync(chunk, ct);
        });
        _routes.MapGet("/fail", (_, _, _) => throw new InvalidOperationException("boom"));
        _routes.MapGet("/status", (_, response, _) =>
        {
            response.StatusCode = 503;
            response.AddHeader("X-Why", "not ready");
            return ValueTask.CompletedTask;
        });
    }

    public Task InitializeAsync()
    {
        _server = new HttpServer("test", new IPEndPoint(IPAddress.Loopback, 0), _routes,
            new HttpServerOptions { MaxRequestHeadBytes = 1024, MaxRequestBodyBytes = 4096, RequestTimeout = TimeSpan.FromSeconds(2) });
        _server.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _cts.Dispose();
    }

    private HttpClient Client() => new() { BaseAddress = new Uri($"http://127.0.0.1:{_server.LocalEndPoint.Port}"), Timeout = Timeout };

    [Fact]
    public async Task Get_route_reads_decoded_query_and_returns_body()
    {
        using var client = Client();
        using var response = await client.GetAsync("/hello?x=1&name=w%C3%B6rld+x", _cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello wörld x", await response.Content.ReadAsStringAsync(_cts.Token));
    }

    [Fact]
    public async Task Post_body_reaches_handler()
    {
        using var client = Client();
        var payload = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        using var response = await client.PostAsync("/echo", new ByteArrayContent(payload), _cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync(_cts.Token));
    }

    [Fact]
    public async Task Body_over_limit_gets_413()
    {
        using var client = Client();
        using var response = await client.PostAsync("/echo", new ByteArrayContent(new byte[5000]), _cts.Token);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task A_client_still_sending_a_body_over_the_limit_can_finish_and_read_the_413()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_server.LocalEndPoint, _cts.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n"), _cts.Token);
        await socket.SendAsync(new byte[1000], _cts.Token);

        // The answer comes while most of the body is still to be sent.
        var answer = new byte[4096];
        int got = await socket.ReceiveAsync(answer, _cts.Token);
        Assert.StartsWith("HTTP/1.1 413", Encoding.ASCII.GetString(answer, 0, got), StringComparison.Ordinal);
        await Task.Delay(200, _cts.Token);

        // Closing with the client's bytes unread would reset the connection, and this send would fail.
        for (int sent = 1000; sent < 300_000; sent += 10_000)
            await socket.SendAsync(new byte[10_000], _cts.Token);
        while (got > 0) got = await socket.ReceiveAsync(answer, _cts.Token);
    }

    [Fact]
    public async Task Large_body_written_through_stream_arrives_whole()
    {
        using var client = Client();
        var bytes = await client.GetByteArrayAsync("/big", _cts.Token);
        Assert.Equal(48 * 64 * 1024, bytes.Length);
        Assert.Equal((byte)255, bytes[255]);
    }

    [Fact]
    public async Task Unknown_path_is_404_and_wrong_method_is_405_with_allow()
    {
        using var client = Client();
        using var missing = await client.GetAsync("/nope", _cts.Token);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var wrong = await client.PostAsync("/hello", new ByteArrayContent([]), _cts.Token);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrong.StatusCode);
        Assert.Equal("GET", string.Join(",", wrong.Content.Headers.Allow));
    }

    [Fact]
    public async Task Handler_exception_becomes_500_and_server_keeps_serving()
    {
        using var client = Client();
        using var failed = await client.GetAsync("/fail", _cts.Token);
        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        using var status = await client.GetAsync("/status", _cts.Token);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status.StatusCode);
        Assert.Equal("not ready", status.Headers.GetValues("X-Why").Single());
    }

    [Fact]
    public async Task Oversized_head_gets_431_and_connection_closes()
    {
        string reply = await RawAsync("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + new string('a', 2000) + "\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431", reply, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GARBAGE\r\n\r\n", "400")]
    [InlineData("GET /hello HTTP/2.0\r\n\r\n", "505")]
    [InlineData("GET nope HTTP/1.1\r\n\r\n", "400")]
    [InlineData("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "501")]
    [InlineData("GET /hello HTTP/1.1\r\nbad header\r\n\r\n", "400")]
    public async Task Malformed_requests_are_refused_with_status(string request, string status)
    {
        string reply = await RawAsync(request);
        Assert.StartsWith("HTTP/1.1 " + status, reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keep_alive_serves_pipelined_requests_on_one_connection()
    {
        string reply = await RawAsync("GET /hello?name=a HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?name=b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        Assert.Contains("hello a", reply, StringComparison.Ordinal);
        Assert.Contains("hello b", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silent_client_is_disconnected_after_request_timeout()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_server.LocalEndPoint, _cts.Token);
        await socket.SendAsync("GET /hel"u8.ToArray(), SocketFlags.None, _cts.Token);
        using var cts = new CancellationTokenSource(Timeout);
        int n = await socket.ReceiveAsync(new byte[100], SocketFlags.None, cts.Token);
        Assert.Equal(0, n);
    }

    [Fact]
    public void Query_string_decodes_binary_values()
    {
        var query = new QueryString("info_hash=%12%34V%78%9a&port=6881&flag");
        Assert.True(query.TryGetRaw("info_hash", out var raw));
        Span<byte> bytes = stackalloc byte[20];
        Assert.True(PercentEncoding.TryDecode(raw, bytes, out int written, plusIsSpace: false));
        Assert.Equal(new byte[] { 0x12, 0x34, (byte)'V', 0x78, 0x9a }, bytes[..written].ToArray());
        Assert.Equal("6881", query.GetString("port"));
        Assert.Equal("", query.GetString("flag"));
        Assert.Null(query.GetString("missing"));
        Assert.False(PercentEncoding.TryDecode("%zz", bytes, out _, plusIsSpace: false));
    }

    private async Task<string> RawAsync(string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(_server.LocalEndPoint, cts.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, cts.Token);
        var all = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0) all.Write(buffer, 0, n);
        return Encoding.ASCII.GetString(all.ToArray());
    }
}
