using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Networking.Logging;
using Appliance.Networking.Tcp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Networking.Http;

/// <summary>
/// A small, bounded HTTP/1.1 server on raw sockets: request heads and bodies are size-limited and time-limited,
/// requests are dispatched by exact path through an <see cref="HttpRouteTable"/>, keep-alive is supported.
/// Generic: /metrics and the admin API run one (the embedded tracker answers on the allocation-free <see cref="Inline.InlineHttpServer"/>).
/// </summary>
public sealed class HttpServer : IConnectionHandler, IAsyncDisposable
{
    private const int InlineBodyLimit = 16 * 1024;
    private const string StopReason = "server stopping";

    private readonly string _name;
    private readonly IPEndPoint _endPoint;
    private readonly HttpRouteTable _routes;
    private readonly HttpServerOptions _options;
    private readonly ILogger _logger;
    private readonly TcpServerLifecycle<HttpServerConnection> _lifecycle = new(StopReason, TimeSpan.Zero, StopReason);
    private readonly ConnectionLimiter _limiter;
    private readonly LogThrottle _refusals = new(TimeSpan.FromSeconds(10));

    public HttpServer(string name, IPEndPoint endPoint, HttpRouteTable routes, HttpServerOptions? options = null, ILogger? logger = null)
    {
        _name = name;
        _endPoint = endPoint;
        _routes = routes;
        _options = options ?? new HttpServerOptions();
        _logger = logger ?? NullLogger.Instance;
        _limiter = new ConnectionLimiter(_options.MaxConnections + _options.ReservedConnections, _options.MaxConnectionsPerAddress);
    }

    /// <summary>The bound address (useful when started on port 0).</summary>
    public IPEndPoint LocalEndPoint => _lifecycle.LocalEndPoint;

    public int ConnectionCount => _lifecycle.Count;

    /// <summary>Binds and starts accepting; throws if the address cannot be bound.</summary>
    public void Start()
    {
        if (_lifecycle.AcceptLoop is not null) throw new InvalidOperationException("already started");
        // A descriptor in reserve: out of descriptors, a health probe is still accepted and answered.
        var acceptLoop = new TcpAcceptLoop(_endPoint, _limiter, this, _logger, backlog: 512, keepReserveDescriptor: true);
        HttpServerLog.Listening(_logger, _name, _lifecycle.Start(acceptLoop));
    }

    /// <summary>Stops accepting and closes every connection; returns when all have ended or the token is cancelled.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _lifecycle.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public ValueTask DisposeAsync() => _lifecycle.DisposeAsync();

    void IConnectionHandler.OnAccepted(Socket socket, IPEndPoint remote, bool onReserve)
    {
        // Once the ordinary slots (or the descriptors) are taken, a new connection may only reach reserved routes.
        bool reservedOnly = onReserve || _limiter.Total > _options.MaxConnections;
        var connection = new HttpServerConnection(socket, remote, _lifecycle.NextId(), reservedOnly, onReserve);
        _lifecycle.Add(connection);
        _ = ServeAsync(connection, _lifecycle.Stopping);
    }

    void IConnectionHandler.OnRefused(IPEndPoint remote, AdmitResult reason)
    {
        if (!_refusals.TryEnter(out long suppressed)) return;
        if (reason == AdmitResult.TotalLimit) HttpServerLog.ConnectionLimit(_logger, _name, _options.MaxConnections + _options.ReservedConnections, suppressed);
        else HttpServerLog.AddressLimit(_logger, _name, remote.Address, _options.MaxConnectionsPerAddress, suppressed);
    }

    private async Task ServeAsync(HttpServerConnection connection, CancellationToken stopping)
    {
        // Off the accept loop: a request already waiting would otherwise be served on it.
        await Task.Yield();
        var socket = connection.Socket;
        var remote = connection.Remote;
        bool reservedOnly = connection.ReservedOnly;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.MaxRequestHeadBytes);
        var head = new HttpRequestHead();
        var response = new HttpResponse();
        try
        {
            int filled = 0;
            int maxRequests = reservedOnly ? 1 : _options.MaxRequestsPerConnection;
            for (int served = 0; served < maxRequests && !stopping.IsCancellationRequested; served++)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
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

                // Route, admission and body limit are decided from the head: nothing is read or held for a request that
                // will be refused, and only a route that takes a body reads one.
                var request = new HttpRequest(head.Method, head.Path, head.RawQuery, head.Headers.ToArray(), ReadOnlyMemory<byte>.Empty, remote);
                response.Reset();
                var route = Admit(request, head.ContentLength, response, reservedOnly);
                int consumed = headLength;
                if (route is not null && head.ContentLength > 0)
                {
                    int inBuffer = Math.Min((int)head.ContentLength, filled - headLength);
                    var body = await ReadBodyAsync(socket, buffer.AsMemory(headLength, inBuffer), (int)head.ContentLength, token).ConfigureAwait(false);
                    if (body is null) return;
                    request.Body = body;
                    consumed += inBuffer;
                }
                bool bodyUnread = route is null && head.ContentLength > 0;
                bool keepAlive = _options.KeepAlive && head.KeepAliveRequested && served + 1 < maxRequests && !bodyUnread;
                if (route is not null) await DispatchAsync(route.Handler, request, response, token).ConfigureAwait(false);
                else if (_refusals.TryEnter(out long held)) HttpServerLog.Refused(_logger, _name, remote, response.StatusCode, held);
                await WriteResponseAsync(socket, response, keepAlive, head.Http11, head.Method == "HEAD", token).ConfigureAwait(false);
                if (bodyUnread) await LingerAsync(socket, token).ConfigureAwait(false);
                if (!keepAlive) return;
                // Keep any pipelined bytes of the next request.
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
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
            if (connection.OnReserve) _lifecycle.AcceptLoop?.ReturnReserve();
            _lifecycle.Remove(connection);
        }
    }

    /// <summary>The route that will read the body and handle the request, or null with the refusal written to the response.</summary>
    private HttpRoute? Admit(HttpRequest request, long contentLength, HttpResponse response, bool reservedOnly)
    {
        var match = _routes.Find(request.Method, request.Path, out var route);
        if (reservedOnly && (match != RouteMatch.Found || !route!.Options.Reserved))
        {
            response.StatusCode = 503;
            response.AddHeader("Retry-After", "1");
            response.Write("busy\n");
            return null;
        }
        switch (match)
        {
            case RouteMatch.NoPath:
                response.StatusCode = 404;
                response.Write("not found\n");
                return null;
            case RouteMatch.WrongMethod:
                response.StatusCode = 405;
                response.AddHeader("Allow", _routes.AllowedMethods(request.Path));
                response.Write("method not allowed\n");
                return null;
        }
        if (route!.Options.Admit is { } admit && !admit(request, response)) return null;
        if (contentLength > (route.Options.MaxBodyBytes ?? _options.MaxRequestBodyBytes))
        {
            response.Reset();
            response.StatusCode = 413;
            response.Write(ReasonPhrase(413) + "\n");
            return null;
        }
        return route;
    }

    private const int FirstBodyChunk = 64 * 1024;

    /// <summary>
    /// The body's buffer grows with the bytes that actually arrive, never ahead of them by more than it holds already:
    /// a client that announces a large Content-Length and sends little costs little.
    /// </summary>
    internal static int NextBodyCapacity(int current, int declared) =>
        current == 0 ? Math.Min(declared, FirstBodyChunk) : (int)Math.Min(declared, 2L * current);

    private static async ValueTask<byte[]?> ReadBodyAsync(Socket socket, ReadOnlyMemory<byte> buffered, int length, CancellationToken token)
    {
        byte[] body = new byte[Math.Max(NextBodyCapacity(0, length), buffered.Length)];
        buffered.CopyTo(body);
        int got = buffered.Length;
        while (got < length)
        {
            if (got == body.Length) Array.Resize(ref body, NextBodyCapacity(body.Length, length));
            int n = await socket.ReceiveAsync(body.AsMemory(got), SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0) return null;
            got += n;
        }
        return body;
    }

    private async ValueTask DispatchAsync(HttpHandler handler, HttpRequest request, HttpResponse response, CancellationToken token)
    {
        try
        {
            await handler(request, response, token).ConfigureAwait(false);
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
        if (_refusals.TryEnter(out long held)) HttpServerLog.Refused(_logger, _name, remote, status, held);
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
    internal static async Task LingerAsync(Socket socket, CancellationToken token)
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
        206 => "Partial Content",
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
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    };
}
