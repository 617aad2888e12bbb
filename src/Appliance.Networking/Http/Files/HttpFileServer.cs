using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Buffers;
using Appliance.Networking.Logging;
using Appliance.Networking.Tcp;
using Microsoft.Extensions.Logging;

namespace Appliance.Networking.Http.Files;

/// <summary>
/// A static-file HTTP/1.1 server for clients that fetch byte ranges of large files (BEP 19 web seeds): GET and HEAD,
/// one range per request, keep-alive and pipelining, ETag/Last-Modified/If-Range, and bodies sent with sendfile(2)
/// straight from the files' open handles. Which files exist is the <see cref="IHttpFileSource"/>'s business; there is
/// no directory listing. Connections are admitted by <see cref="TcpAcceptLoop"/> under total and per-address limits,
/// and one sweep closes connections past their idle, head or send deadline.
/// </summary>
public sealed class HttpFileServer : IConnectionHandler, IAsyncDisposable
{
    /// <summary>Room for the largest response head (and the short body of an error response).</summary>
    internal const int ResponseHeadBytes = 1024;

    private const string StopReason = "server stopping";

    private readonly string _name;
    private readonly IPEndPoint _endPoint;
    private readonly TcpServerLifecycle<HttpFileConnection> _lifecycle = new(StopReason, TimeSpan.Zero, StopReason);
    private readonly LogThrottle _refusalLog = new(TimeSpan.FromSeconds(10));

    public HttpFileServer(string name, IPEndPoint endPoint, IHttpFileSource files, HttpFileServerOptions options, HttpFileCounters counters,
        ILogger logger, TimeProvider? time = null)
    {
        options.Validate();
        _name = name;
        _endPoint = endPoint;
        Files = files;
        Options = options;
        Counters = counters;
        Logger = logger;
        Time = time ?? TimeProvider.System;
        RequestBuffers = new PinnedBufferPool(options.MaxRequestHeadBytes, maxRetained: 256);
        HeadBuffers = new PinnedBufferPool(ResponseHeadBytes, maxRetained: 1024);
    }

    public HttpFileServerOptions Options { get; }
    public HttpFileCounters Counters { get; }

    /// <summary>The bound address (after <see cref="Start"/>).</summary>
    public IPEndPoint LocalEndPoint => _lifecycle.LocalEndPoint;

    public int ConnectionCount => _lifecycle.Count;

    internal IHttpFileSource Files { get; }
    internal ILogger Logger { get; }
    internal TimeProvider Time { get; }
    internal string Name => _name;
    internal bool IsStopping => _lifecycle.IsStopping;

    /// <summary>Request heads: rented when a request starts arriving, returned once no request bytes are buffered.</summary>
    internal PinnedBufferPool RequestBuffers { get; }

    /// <summary>Response heads, one per connection for its lifetime (pinned: sent with sendmsg by address).</summary>
    internal PinnedBufferPool HeadBuffers { get; }

    /// <summary>Binds (throws when the address is taken), starts accepting and the deadline sweep.</summary>
    public IPEndPoint Start()
    {
        if (!SendFile.IsSupported) throw new PlatformNotSupportedException("the HTTP file server needs sendfile(2) (Linux)");
        if (_lifecycle.AcceptLoop is not null) throw new InvalidOperationException("already started");
        var acceptLoop = new TcpAcceptLoop(_endPoint, new ConnectionLimiter(Options.MaxConnections, Options.MaxConnectionsPerAddress), this, Logger);
        var bound = _lifecycle.Start(acceptLoop, PeriodicLoop.Every(Options.SweepInterval, Time, Sweep));
        HttpFileLog.Listening(Logger, _name, bound);
        return bound;
    }

    /// <summary>Stops accepting, closes every connection (responses in flight are cut) and waits until all have ended.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _lifecycle.StopAsync(cancellationToken);

    public ValueTask DisposeAsync() => _lifecycle.DisposeAsync();

    void IConnectionHandler.OnAccepted(Socket socket, IPEndPoint remote, bool onReserve)
    {
        // sendfile(2) has no MSG_DONTWAIT: the descriptor itself must be non-blocking, or a full socket buffer would
        // park a pool thread inside the call.
        socket.Blocking = false;
        Counters.Accepted();
        var connection = new HttpFileConnection(this, socket, remote, _lifecycle.NextId());
        _lifecycle.Add(connection);
        // Off the accept loop: a request already waiting would otherwise be served on it.
        ThreadPool.UnsafeQueueUserWorkItem(static c => _ = c.RunAsync(), connection, preferLocal: false);
    }

    void IConnectionHandler.OnRefused(IPEndPoint remote, AdmitResult reason)
    {
        Counters.Refused(reason == AdmitResult.TotalLimit);
        if (_refusalLog.TryEnter(out long suppressed))
            HttpFileLog.Refused(Logger, _name, remote, reason == AdmitResult.TotalLimit ? "connection limit" : "per-address limit", suppressed);
    }

    internal void OnClosed(HttpFileConnection connection)
    {
        Counters.Closed();
        _lifecycle.Remove(connection);
    }

    /// <summary>Converts a timeout to a timestamp offset on <see cref="Time"/>'s clock.</summary>
    internal long Ticks(TimeSpan timeout) => (long)(timeout.TotalSeconds * Time.TimestampFrequency);

    private void Sweep()
    {
        long now = Time.GetTimestamp();
        foreach (var connection in _lifecycle.Connections) connection.Sweep(now);
    }
}
