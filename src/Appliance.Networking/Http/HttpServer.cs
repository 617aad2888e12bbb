using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Networking.Http;

/// <summary>
/// A small, bounded HTTP/1.1 server on raw sockets: request heads and bodies are size-limited and time-limited,
/// requests are dispatched by exact path through an <see cref="HttpRouteTable"/>, keep-alive is supported.
/// Generic: the embedded tracker, /metrics and the admin API each run one.
/// </summary>
public sealed class HttpServer : IAsyncDisposable
{
    private const int InlineBodyLimit = 16 * 1024;

    private readonly string _name;
    private readonly IPEndPoint _endPoint;
    private readonly HttpRouteTable _routes;
    private readonly HttpServerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;

    public HttpServer(string name, IPEndPoint endPoint, HttpRouteTable routes, HttpServerOptions? options = null, ILogger? logger = null)
    {
        _name = name;
        _endPoint = endPoint;
        _routes = routes;
        _options = options ?? new HttpServerOptions();
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The bound address (useful when started on port 0).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? throw new InvalidOperationException("the server is not started"));

    public int ConnectionCount => _connections.Count;

    /// <summary>Binds and starts accepting; throws if the address cannot be bound.</summary>
    public void Start()
    {
        if (_listener is not null) throw new InvalidOperationException("already started");
        var listener = new Socket(_endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (_endPoint.AddressFamily == AddressFamily.InterNetworkV6 && _endPoint.Address.Equals(IPAddress.IPv6Any)) listener.DualMode = true;
            listener.Bind(_endPoint);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        HttpServerLog.Listening(_logger, _name, listener.LocalEndPoint!);
        _acceptLoop = AcceptLoopAsync(listener);
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stopping.IsCancellationRequested) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        foreach (var socket in _connections.Keys) socket.Dispose();
        var all = _connections.Values.Append(_acceptLoop).ToArray();
        try
        {
            await Task.WhenAll(all).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        await Task.Yield();
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // Per-connection failures (reset before accept, fd exhaustion): back off briefly and keep serving.
                HttpServerLog.AcceptFailed(_logger, _name, e);
                try { await Task.Delay(50, _stopping.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
                continue;
            }
            if (_connections.Count >= _options.MaxConnections)
            {
                HttpServerLog.ConnectionLimit(_logger, _name, _options.MaxConnections);
                socket.Dispose();
                continue;
            }
            socket.NoDelay = true;
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[socket] = ServeAsync(socket, started.Task);
            started.SetResult();
        }
    }

    private async Task ServeAsync(Socket socket, Task registered)
    {
        await registered.ConfigureAwait(false);
        await Task.Yield();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.MaxRequestHeadBytes);
        var head = new HttpRequestHead();
        var response = new HttpResponse();
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        try
        {
            int filled = 0;
            for (int served = 0; served < _options.MaxRequestsPerConnection && !_stopping.IsCancellationRequested; served++)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                timeout.CancelAfter(_options.RequestTimeout);
                var token = timeout.Token;

                int headLength;
                while ((headLength = head.Parse(buffer.AsSpan(0, filled), _options)) == 0)
                {
                    int limit = Math.Min(buffer.Length, _options.MaxRequestHeadBytes);
                    if (filled == limit)
                    {
                        headLength = -431;
                        break;
                    }
                    int n = await socket.ReceiveAsync(buffer.AsMemory(filled, limit - filled), SocketFlags.None, token).ConfigureAwait(false);
                    if (n == 0) return;
                    filled += n;
                }
                if (headLength < 0)
                {
                    await RefuseAsync(socket, response, remote, -headLength, token).ConfigureAwait(false);
                    return;
                }
                if (head.ContentLength > _options.MaxRequestBodyBytes)
                {
                    await RefuseAsync(socket, response, remote, 413, token).ConfigureAwait(false);
                    return;
                }

                int bodyLength = (int)head.ContentLength;
                byte[] body = bodyLength == 0 ? [] : new byte[bodyLength];
                int fromBuffer = Math.Min(bodyLength, filled - headLength);
                buffer.AsSpan(headLength, fromBuffer).CopyTo(body);
                int consumed = headLength + fromBuffer;
                for (int got = fromBuffer; got < bodyLength;)
                {
                    int n = await socket.ReceiveAsync(body.AsMemory(got), SocketFlags.None, token).ConfigureAwait(false);
                    if (n == 0) return;
                    got += n;
                }
                // Keep any pipelined bytes of the next request.
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;

                var request = new HttpRequest(head.Method, head.Path, head.RawQuery, head.Headers.ToArray(), body, remote);
                bool keepAlive = _options.KeepAlive && head.KeepAliveRequested && served + 1 < _options.MaxRequestsPerConnection;
                await DispatchAsync(request, response, token).ConfigureAwait(false);
                await WriteResponseAsync(socket, response, keepAlive, head.Http11, head.Method == "HEAD", token).ConfigureAwait(false);
                if (!keepAlive) return;
                // Do not keep a huge body buffer alive on an idle keep-alive connection.
                if (response.BodyCapacity > 1024 * 1024) response = new HttpResponse();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
            socket.Dispose();
            _connections.TryRemove(socket, out _);
        }
    }

    private async ValueTask DispatchAsync(HttpRequest request, HttpResponse response, CancellationToken token)
    {
        response.Reset();
        switch (_routes.Find(request.Method, request.Path, out var handler))
        {
            case RouteMatch.NoPath:
                response.StatusCode = 404;
                response.Write("not found\n");
                return;
            case RouteMatch.WrongMethod:
                response.StatusCode = 405;
                response.AddHeader("Allow", _routes.AllowedMethods(request.Path));
                response.Write("method not allowed\n");
                return;
        }
        try
        {
            await handler!(request, response, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            HttpServerLog.HandlerFailed(_logger, _name, request.Method, request.Path, e);
            response.Reset();
            response.StatusCode = 500;
            response.Write("internal error\n");
        }
    }

    private async Task RefuseAsync(Socket socket, HttpResponse response, IPEndPoint remote, int status, CancellationToken token)
    {
        HttpServerLog.Refused(_logger, _name, remote, status);
        response.Reset();
        response.StatusCode = status;
        response.Write(ReasonPhrase(status) + "\n");
        await WriteResponseAsync(socket, response, keepAlive: false, http11: true, headOnly: false, token).ConfigureAwait(false);
        await LingerAsync(socket, token).ConfigureAwait(false);
    }

    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);
    private const int MaxLingerBytes = 4 * 1024 * 1024;

    /// <summary>
    /// After a refusal the client may still be sending (the body of a 413). Closing with its bytes unread makes the
    /// kernel answer with RST, and the client then sees a broken pipe instead of our status. So the server stops
    /// sending, reads and drops what arrives, and closes once the client does, or after a short, bounded wait.
    /// </summary>
    private static async Task LingerAsync(Socket socket, CancellationToken token)
    {
        byte[] sink = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            using var linger = CancellationTokenSource.CreateLinkedTokenSource(token);
            linger.CancelAfter(LingerTime);
            for (long drained = 0; drained < MaxLingerBytes;)
            {
                int n = await socket.ReceiveAsync(sink, SocketFlags.None, linger.Token).ConfigureAwait(false);
                if (n == 0) break;
                drained += n;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(sink);
        }
    }

    private static async Task WriteResponseAsync(Socket socket, HttpResponse response, bool keepAlive, bool http11, bool headOnly, CancellationToken token)
    {
        var body = response.WrittenBody;
        var text = new StringBuilder(256);
        text.Append(http11 ? "HTTP/1.1 " : "HTTP/1.0 ").Append(response.StatusCode.ToString(CultureInfo.InvariantCulture))
            .Append(' ').Append(ReasonPhrase(response.StatusCode)).Append("\r\n")
            .Append("Content-Type: ").Append(response.ContentType).Append("\r\n")
            .Append("Content-Length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n")
            .Append("Connection: ").Append(keepAlive ? "keep-alive" : "close").Append("\r\n");
        foreach (var (name, value) in response.Headers) text.Append(name).Append(": ").Append(value).Append("\r\n");
        text.Append("\r\n");
        int headBytes = Encoding.Latin1.GetByteCount(text.ToString());
        bool inline = !headOnly && body.Length <= InlineBodyLimit;
        byte[] head = ArrayPool<byte>.Shared.Rent(headBytes + (inline ? body.Length : 0));
        try
        {
            int n = Encoding.Latin1.GetBytes(text.ToString(), head);
            if (inline)
            {
                body.Span.CopyTo(head.AsSpan(n));
                n += body.Length;
            }
            await SendAllAsync(socket, head.AsMemory(0, n), token).ConfigureAwait(false);
            if (!inline && !headOnly) await SendAllAsync(socket, body, token).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(head);
        }
    }

    private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None, token).ConfigureAwait(false);
            data = data[n..];
        }
    }

    internal static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    };
}
