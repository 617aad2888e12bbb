using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Appliance.TestKit;

/// <summary>One parsed HTTP response: status, headers (names lower-cased) and body.</summary>
public sealed record RawHttpResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string? Header(string name) => Headers.GetValueOrDefault(name.ToLowerInvariant());
}

/// <summary>
/// An HTTP/1.1 client on one raw socket, for tests: sends request bytes exactly as given (paths no library client
/// would send: "..", %2e%2e, %2F), reads responses by Content-Length, and keeps the connection for more requests.
/// Every read is bounded by <see cref="Timeout"/>.
/// </summary>
public sealed class RawHttpClient : IDisposable
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawHttpClient(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    public static async Task<RawHttpClient> ConnectAsync(IPEndPoint server, IPAddress? source = null, int receiveBuffer = 0)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (receiveBuffer > 0) socket.ReceiveBufferSize = receiveBuffer;
            if (source is not null) socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(server);
            return new RawHttpClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>"GET TARGET HTTP/1.1" with a Host header and the extra header lines given ("Range: bytes=0-1").</summary>
    public static string Request(string target, string method = "GET", params string[] headers) =>
        $"{method} {target} HTTP/1.1\r\nHost: test\r\n{string.Concat(headers.Select(h => h + "\r\n"))}\r\n";

    public Task SendAsync(string request) => SendAsync(Encoding.ASCII.GetBytes(request));

    public async Task SendAsync(byte[] bytes)
    {
        for (int sent = 0; sent < bytes.Length;) sent += await Socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
    }

    /// <summary>Sends one request and reads its response (a HEAD response has no body whatever its Content-Length).</summary>
    public async Task<RawHttpResponse> GetAsync(string target, params string[] headers)
    {
        await SendAsync(Request(target, "GET", headers));
        return await ReadResponseAsync();
    }

    public async Task<RawHttpResponse> ReadResponseAsync(bool headOnly = false)
    {
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync()) throw new IOException("the connection closed before a response head");
        }
        string head = Encoding.Latin1.GetString(_buffer, _start, headEnd);
        _start += headEnd + 4;
        var lines = head.Split("\r\n");
        var statusParts = lines[0].Split(' ', 3);
        int status = int.Parse(statusParts[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }
        long length = headOnly ? 0 : long.Parse(headers.GetValueOrDefault("content-length", "0"), CultureInfo.InvariantCulture);
        var body = new byte[length];
        for (int got = 0; got < length;)
        {
            if (_start == _end && !await FillAsync()) throw new IOException($"the connection closed after {got} of {length} body bytes");
            int n = (int)Math.Min(length - got, _end - _start);
            _buffer.AsSpan(_start, n).CopyTo(body.AsSpan(got));
            _start += n;
            got += n;
        }
        return new RawHttpResponse(status, headers, body);
    }

    /// <summary>True once the server has closed the connection (reads until the end, discarding what arrives).</summary>
    public async Task<bool> ClosedByServerAsync()
    {
        try
        {
            while (await FillAsync()) _start = _end;
            return true;
        }
        catch (SocketException)
        {
            return true; // reset
        }
    }

    private async Task<bool> FillAsync()
    {
        if (_start == _end) _start = _end = 0;
        if (_end == _buffer.Length)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        using var timeout = new CancellationTokenSource(Timeout);
        int n = await Socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, timeout.Token);
        _end += n;
        return n > 0;
    }

    public void Dispose() => Socket.Dispose();
}
