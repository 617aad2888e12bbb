using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Appliance.Networking.Http.Files;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Networking.Tests.Http.Files;

/// <summary>The HTTP file server over real sockets on 127.0.0.1 and real files: what web-seed clients and hostile ones get.</summary>
public sealed class HttpFileServerTests : IAsyncLifetime
{
    private readonly TempDirectory _temp = new("http-files");
    private readonly FolderSource _source;
    private readonly HttpFileCounters _counters = new();
    private HttpFileServer? _server;
    private byte[] _small = [];
    private byte[] _big = [];

    public HttpFileServerTests() => _source = new FolderSource(_temp.CreateSubdirectory("served"));

    public Task InitializeAsync()
    {
        _small = _source.Write("name/small.bin", 1000, seed: 1);
        _big = _source.Write("name/dir/big file.bin", 6 * 1024 * 1024, seed: 2);
        _source.Write("single.bin", 70_000, seed: 3);
        File.WriteAllText(_temp.Combine("secret.txt"), "outside the served folder");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        _source.Dispose();
        _temp.Dispose();
    }

    private IPEndPoint Start(HttpFileServerOptions? options = null)
    {
        _server = new HttpFileServer("test", new IPEndPoint(IPAddress.Loopback, 0), _source, options ?? new HttpFileServerOptions(), _counters, NullLogger.Instance);
        return _server.Start();
    }

    [Fact]
    public async Task Get_returns_the_whole_file_with_its_validators()
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        var response = await client.GetAsync("/name/small.bin");
        Assert.Equal(200, response.Status);
        Assert.Equal(_small, response.Body);
        Assert.Equal("bytes", response.Header("Accept-Ranges"));
        Assert.Equal("application/octet-stream", response.Header("Content-Type"));
        Assert.Matches("^\"3e8-[0-9a-f]+\"$", response.Header("ETag"));
        Assert.EndsWith(" GMT", response.Header("Last-Modified"), StringComparison.Ordinal);
        Assert.NotNull(response.Header("Date"));
        Assert.Equal("keep-alive", response.Header("Connection"));
        Assert.Equal(1000, await Eventually.SettledAsync(1000L, () => _counters.Read(HttpFileCounter.BodyBytesSent)));
        Assert.Equal(1, _counters.Responses.Read(HttpStatusClass.Success));
    }

    [Theory]
    [InlineData("bytes=0-99", 0, 100)]
    [InlineData("bytes=900-", 900, 100)]
    [InlineData("bytes=-10", 990, 10)]
    [InlineData("bytes=500-100000", 500, 500)]
    public async Task A_range_gets_206_with_exactly_those_bytes(string range, int start, int count)
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        var response = await client.GetAsync("/name/small.bin", "Range: " + range);
        Assert.Equal(206, response.Status);
        Assert.Equal(_small.AsSpan(start, count).ToArray(), response.Body);
        Assert.Equal($"bytes {start}-{start + count - 1}/1000", response.Header("Content-Range"));
    }

    [Fact]
    public async Task Head_returns_the_headers_and_no_body()
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        await client.SendAsync(RawHttpClient.Request("/name/small.bin", "HEAD", "Range: bytes=10-19"));
        var head = await client.ReadResponseAsync(headOnly: true);
        Assert.Equal(206, head.Status);
        Assert.Equal("10", head.Header("Content-Length"));
        // The next response on the connection starts right after the head: no body bytes came in between.
        var next = await client.GetAsync("/name/small.bin", "Range: bytes=0-1");
        Assert.Equal(_small.AsSpan(0, 2).ToArray(), next.Body);
    }

    [Fact]
    public async Task One_connection_serves_many_requests_in_turn_and_pipelined()
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        for (int i = 0; i < 5; i++)
        {
            var response = await client.GetAsync("/name/small.bin", $"Range: bytes={i * 100}-{i * 100 + 99}");
            Assert.Equal(_small.AsSpan(i * 100, 100).ToArray(), response.Body);
        }
        // Pipelined: every request sent before any response is read, including a whole large file in the middle.
        var pipelined = new StringBuilder();
        pipelined.Append(RawHttpClient.Request("/name/small.bin", "GET", "Range: bytes=0-9"));
        pipelined.Append(RawHttpClient.Request("/name/dir/big%20file.bin"));
        pipelined.Append(RawHttpClient.Request("/missing"));
        pipelined.Append(RawHttpClient.Request("/single.bin", "HEAD"));
        pipelined.Append(RawHttpClient.Request("/name/small.bin", "GET", "Range: bytes=-3"));
        await client.SendAsync(pipelined.ToString());
        Assert.Equal(_small.AsSpan(0, 10).ToArray(), (await client.ReadResponseAsync()).Body);
        Assert.Equal(_big, (await client.ReadResponseAsync()).Body);
        Assert.Equal(404, (await client.ReadResponseAsync()).Status);
        Assert.Equal("70000", (await client.ReadResponseAsync(headOnly: true)).Header("Content-Length"));
        Assert.Equal(_small.AsSpan(997, 3).ToArray(), (await client.ReadResponseAsync()).Body);
        Assert.Equal(1, _counters.Read(HttpFileCounter.ConnectionsAccepted));
    }

    [Theory]
    [InlineData("bytes=1000-")]
    [InlineData("bytes=5000-6000")]
    [InlineData("bytes=9-2")]
    [InlineData("bytes=99999999999999999999999-")]
    public async Task An_unsatisfiable_or_malformed_range_gets_416_with_the_file_size(string range)
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        var response = await client.GetAsync("/name/small.bin", "Range: " + range);
        Assert.Equal(416, response.Status);
        Assert.Equal("bytes */1000", response.Header("Content-Range"));
        Assert.Empty(response.Body);
        Assert.Equal(200, (await client.GetAsync("/name/small.bin")).Status); // the connection stays usable
    }

    [Fact]
    public async Task A_stale_if_range_gets_the_whole_file_and_a_current_one_the_range()
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        var first = await client.GetAsync("/name/small.bin");
        string etag = first.Header("ETag")!;
        string modified = first.Header("Last-Modified")!;

        Assert.Equal(206, (await client.GetAsync("/name/small.bin", "Range: bytes=0-9", "If-Range: " + etag)).Status);
        Assert.Equal(206, (await client.GetAsync("/name/small.bin", "Range: bytes=0-9", "If-Range: " + modified)).Status);
        var stale = await client.GetAsync("/name/small.bin", "Range: bytes=0-9", "If-Range: \"3e8-1\"");
        Assert.Equal(200, stale.Status);
        Assert.Equal(_small, stale.Body);
        Assert.Equal(200, (await client.GetAsync("/name/small.bin", "Range: bytes=0-9", "If-Range: W/" + etag)).Status);
        // Stale validator and an unsatisfiable range: the range is ignored, so the whole file, not 416.
        Assert.Equal(200, (await client.GetAsync("/name/small.bin", "Range: bytes=5000-", "If-Range: Mon, 01 Jan 1990 00:00:00 GMT")).Status);
    }

    [Fact]
    public async Task Changing_the_file_changes_its_etag()
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        string before = (await client.GetAsync("/name/small.bin")).Header("ETag")!;
        File.SetLastWriteTimeUtc(_source.FullPath("name/small.bin"), DateTime.UtcNow.AddMinutes(5));
        var after = await client.GetAsync("/name/small.bin", "Range: bytes=0-9", "If-Range: " + before);
        Assert.NotEqual(before, after.Header("ETag"));
        Assert.Equal(200, after.Status);
    }

    [Fact]
    public async Task Several_ranges_in_one_request_get_the_whole_file()
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        var response = await client.GetAsync("/name/small.bin", "Range: bytes=0-9,20-29");
        Assert.Equal(200, response.Status);
        Assert.Equal(_small, response.Body);
    }

    [Theory]
    [InlineData("/../secret.txt")]
    [InlineData("/name/../../secret.txt")]
    [InlineData("/%2e%2e/secret.txt")]
    [InlineData("/name/%2E%2E/%2e%2e/secret.txt")]
    [InlineData("/name%2f..%2f..%2fsecret.txt")]
    [InlineData("/..%5csecret.txt")]
    [InlineData("/secret.txt")]
    [InlineData("/name/")]
    [InlineData("/name")]
    [InlineData("/")]
    [InlineData("//name/small.bin")]
    [InlineData("/name//small.bin")]
    [InlineData("/name/./small.bin")]
    [InlineData("/name/small.bin%00")]
    [InlineData("/name/small.bin/")]
    [InlineData("/name/small.bin/..")]
    [InlineData("/NAME/small.bin")]
    [InlineData("/name/%zz")]
    [InlineData("/name/%C0%AE%C0%AE/secret.txt")]
    [InlineData("/proc/self/environ")]
    public async Task Paths_outside_the_served_files_never_get_200(string target)
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        var response = await client.GetAsync(target);
        Assert.Contains(response.Status, new[] { 400, 404 });
        Assert.DoesNotContain("outside", Encoding.ASCII.GetString(response.Body), StringComparison.Ordinal);
        Assert.Equal(200, (await client.GetAsync("/name/small.bin")).Status);
    }

    [Fact]
    public async Task Requests_it_does_not_serve_get_their_status()
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        await client.SendAsync(RawHttpClient.Request("/name/small.bin", "DELETE"));
        var refused = await client.ReadResponseAsync();
        Assert.Equal(405, refused.Status);
        Assert.Equal("GET, HEAD", refused.Header("Allow"));
        await client.SendAsync("GET /name/small.bin HTTP/2.0\r\n\r\n");
        Assert.Equal(505, (await client.ReadResponseAsync()).Status);
        Assert.True(await client.ClosedByServerAsync());

        using var withBody = await RawHttpClient.ConnectAsync(_server!.LocalEndPoint);
        await withBody.SendAsync(RawHttpClient.Request("/name/small.bin", "GET", "Content-Length: 3") + "abc");
        Assert.Equal(413, (await withBody.ReadResponseAsync()).Status);
        Assert.True(await withBody.ClosedByServerAsync());

        using var huge = await RawHttpClient.ConnectAsync(_server.LocalEndPoint);
        await huge.SendAsync(RawHttpClient.Request("/name/small.bin", "GET", "X-Padding: " + new string('a', 9000)));
        Assert.Equal(431, (await huge.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task An_http10_client_gets_one_response_and_the_connection_closes()
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        await client.SendAsync("GET /name/small.bin HTTP/1.0\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.StartsWith("close", response.Header("Connection"), StringComparison.Ordinal);
        Assert.Equal(_small, response.Body);
        Assert.True(await client.ClosedByServerAsync());
    }

    [Fact]
    public async Task Connections_beyond_the_per_address_cap_are_refused_and_other_addresses_still_served()
    {
        var endPoint = Start(new HttpFileServerOptions { MaxConnectionsPerAddress = 2 });
        using var first = await RawHttpClient.ConnectAsync(endPoint);
        using var second = await RawHttpClient.ConnectAsync(endPoint);
        Assert.Equal(200, (await first.GetAsync("/name/small.bin")).Status);
        Assert.Equal(200, (await second.GetAsync("/name/small.bin")).Status);

        using var third = await RawHttpClient.ConnectAsync(endPoint);
        Assert.True(await third.ClosedByServerAsync());
        Assert.Equal(1, _counters.Read(HttpFileCounter.RefusedAddressLimit));

        using var elsewhere = await RawHttpClient.ConnectAsync(endPoint, IPAddress.Parse("127.0.0.2"));
        Assert.Equal(200, (await elsewhere.GetAsync("/name/small.bin")).Status);

        // A closed connection frees its slot.
        first.Dispose();
        Assert.Equal(2L, await Eventually.SettledAsync(2L, () => _counters.Read(HttpFileCounter.Connections)));
        using var again = await RawHttpClient.ConnectAsync(endPoint);
        Assert.Equal(200, (await again.GetAsync("/name/small.bin")).Status);
    }

    [Fact]
    public async Task A_client_that_never_reads_is_closed_after_the_send_timeout()
    {
        var options = new HttpFileServerOptions { SendTimeout = TimeSpan.FromSeconds(1), SweepInterval = TimeSpan.FromMilliseconds(100) };
        using var client = await RawHttpClient.ConnectAsync(Start(options), receiveBuffer: 4096);
        await client.SendAsync(RawHttpClient.Request("/name/dir/big%20file.bin"));
        // The response is larger than both socket buffers: the server waits for room that never comes, then gives up.
        Assert.Equal(1, await Eventually.SettledAsync(1L, () => _counters.Timeouts.Read(HttpFileTimeout.Send)));
        Assert.Equal(0, await Eventually.SettledAsync(0, () => _server!.ConnectionCount));
        Assert.True(_counters.Read(HttpFileCounter.SendsStalled) > 0);
        Assert.True(_counters.Read(HttpFileCounter.BodyBytesSent) < _big.Length);
    }

    [Fact]
    public async Task A_slow_reader_gets_every_byte_across_waits_for_room()
    {
        using var client = await RawHttpClient.ConnectAsync(Start(), receiveBuffer: 16 * 1024);
        await client.SendAsync(RawHttpClient.Request("/name/dir/big%20file.bin", "GET", "Range: bytes=1-"));
        // Nothing is read until the server has found the socket buffer full and waits for room.
        Assert.True(await Eventually.SettledAsync(true, () => _counters.Read(HttpFileCounter.SendsStalled) > 0));
        var response = await client.ReadResponseAsync();
        Assert.Equal(_big.AsSpan(1).ToArray(), response.Body);
    }

    [Fact]
    public async Task Idle_connections_and_slow_heads_are_closed()
    {
        var options = new HttpFileServerOptions
        {
            IdleTimeout = TimeSpan.FromSeconds(1),
            HeadTimeout = TimeSpan.FromSeconds(1),
            SweepInterval = TimeSpan.FromMilliseconds(100),
        };
        var endPoint = Start(options);
        using var idle = await RawHttpClient.ConnectAsync(endPoint);
        using var slow = await RawHttpClient.ConnectAsync(endPoint);
        await slow.SendAsync("GET /name/small.bin HTTP/1.1\r\nHost: x\r\n");
        Assert.True(await idle.ClosedByServerAsync());
        Assert.True(await slow.ClosedByServerAsync());
        Assert.Equal(1, _counters.Timeouts.Read(HttpFileTimeout.Idle));
        Assert.Equal(1, _counters.Timeouts.Read(HttpFileTimeout.Head));
    }

    [Fact]
    public async Task A_file_shorter_than_its_size_is_reported_and_the_connection_closed()
    {
        // The source vouches for 1 MiB, the file holds 1000 bytes: sendfile reaches the end early.
        _source.Write("short.bin", 1000, seed: 4, claimedLength: 1024 * 1024);
        using var client = await RawHttpClient.ConnectAsync(Start());
        await client.SendAsync(RawHttpClient.Request("/short.bin"));
        var cut = await Record.ExceptionAsync(() => client.ReadResponseAsync());
        Assert.True(cut is IOException or System.Net.Sockets.SocketException, cut?.ToString() ?? "the response was complete");
        Assert.Equal(["short.bin"], _source.Failures.ToArray());
        Assert.Equal(1, _counters.Read(HttpFileCounter.FileErrors));
    }

    [Fact]
    public async Task Stop_closes_open_connections()
    {
        using var client = await RawHttpClient.ConnectAsync(Start());
        Assert.Equal(200, (await client.GetAsync("/name/small.bin")).Status);
        await _server!.StopAsync();
        Assert.True(await client.ClosedByServerAsync());
        Assert.Equal(0, _server.ConnectionCount);
        Assert.Equal(0, _counters.Read(HttpFileCounter.Connections));
    }

    /// <summary>Serves the files under one folder by relative path; a file may claim a length it does not have.</summary>
    private sealed class FolderSource(string root) : IHttpFileSource, IDisposable
    {
        private readonly ConcurrentDictionary<string, (SafeFileHandle Handle, long Length)> _files = new(StringComparer.Ordinal);

        public ConcurrentQueue<string> Failures { get; } = new();

        public string FullPath(string relative) => Path.Combine(root, relative);

        public byte[] Write(string relative, int size, int seed, long? claimedLength = null)
        {
            string full = SampleContent.WriteFile(FullPath(relative), size, seed);
            _files[relative] = (File.OpenHandle(full), claimedLength ?? size);
            return File.ReadAllBytes(full);
        }

        public HttpFileLookup TryOpen(ReadOnlySpan<char> path, out HttpFile file)
        {
            file = default;
            string key = path.ToString();
            if (!_files.TryGetValue(key, out var entry)) return HttpFileLookup.NotFound;
            long mtime = (File.GetLastWriteTimeUtc(FullPath(key)) - DateTime.UnixEpoch).Ticks * 100;
            return HttpFile.TryOpen(entry.Handle, entry.Length, mtime, key, out file) ? HttpFileLookup.Found : HttpFileLookup.Unavailable;
        }

        public void Failed(in HttpFile file, string reason) => Failures.Enqueue((string)file.Owner!);

        public void Dispose()
        {
            foreach (var (handle, _) in _files.Values) handle.Dispose();
        }
    }
}
