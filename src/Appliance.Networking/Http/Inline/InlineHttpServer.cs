using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Buffers;
using Appliance.Networking.Logging;
using Appliance.Networking.Tcp;
using Microsoft.Extensions.Logging;

namespace Appliance.Networking.Http.Inline;

/// <summary>
/// An HTTP/1.1 server for small GET requests answered at once from memory by an <see cref="IInlineHttpHandler"/> (the
/// embedded tracker's announces and scrapes). Keep-alive and pipelining: every complete head in a received chunk is
/// answered into one send buffer and the answers leave with one send. Request heads are parsed in place and nothing is
/// allocated per request. Connections are admitted by <see cref="TcpAcceptLoop"/> under total and per-address limits,
/// and one sweep closes those past their idle, head or send deadline. Unlike <see cref="HttpServer"/> it reads no
/// request body and awaits nothing between a request and its answer.
/// </summary>
public sealed class InlineHttpServer : IConnectionHandler, IAsyncDisposable
{
    /// <summary>Room kept for a response head before its body (the longest: HTTP/1.1, a 9-digit length, keep-alive).</summary>
    internal const int HeadRoom = 256;

    private const string StopReason = "server stopping";

    private readonly string _name;
    private readonly IPEndPoint _endPoint;
    private readonly TcpServerLifecycle<InlineHttpConnection> _lifecycle = new(StopReason, TimeSpan.Zero, StopReason);
    private readonly LogThrottle _refusalLog = new(TimeSpan.FromSeconds(10));

    public InlineHttpServer(string name, IPEndPoint endPoint, IInlineHttpHandler handler, InlineHttpServerOptions options, ILogger logger,
        TimeProvider? time = null)
    {
        options.Validate();
        _name = name;
        _endPoint = endPoint;
        Handler = handler;
        Options = options;
        Logger = logger;
        Time = time ?? TimeProvider.System;
        ContentType = System.Text.Encoding.ASCII.GetBytes(options.ContentType);
        RequestBuffers = new PinnedBufferPool(options.MaxRequestHeadBytes, maxRetained: 256);
        // Two of the largest answers fit, so a pipelined batch leaves in few sends.
        SendBuffers = new PinnedBufferPool(Math.Max(16 * 1024, 2 * (HeadRoom + handler.MaxBodyBytes)), maxRetained: 256);
    }

    public InlineHttpServerOptions Options { get; }

    /// <summary>The bound address (after <see cref="Start"/>).</summary>
    public IPEndPoint LocalEndPoint => _lifecycle.LocalEndPoint;

    public int ConnectionCount => _lifecycle.Count;

    internal IInlineHttpHandler Handler { get; }
    internal ILogger Logger { get; }
    internal TimeProvider Time { get; }
    internal string Name => _name;
    internal bool IsStopping => _lifecycle.IsStopping;
    internal byte[] ContentType { get; }

    /// <summary>Request heads: rented when a request starts arriving, returned once no request bytes are buffered.</summary>
    internal PinnedBufferPool RequestBuffers { get; }

    /// <summary>Answers: rented with the request buffer and returned with it, so an idle connection holds neither.</summary>
    internal PinnedBufferPool SendBuffers { get; }

    /// <summary>Binds (throws when the address is taken), starts accepting and the deadline sweep.</summary>
    public IPEndPoint Start()
    {
        if (_lifecycle.AcceptLoop is not null) throw new InvalidOperationException("already started");
        var acceptLoop = new TcpAcceptLoop(_endPoint, new ConnectionLimiter(Options.MaxConnections, Options.MaxConnectionsPerAddress), this, Logger,
            backlog: 1024);
        var bound = _lifecycle.Start(acceptLoop, PeriodicLoop.Every(Options.SweepInterval, Time, Sweep));
        InlineHttpLog.Listening(Logger, _name, bound);
        return bound;
    }

    /// <summary>Stops accepting, closes every connection (answers in flight are cut) and waits until all have ended.</summary>
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
        // Answers are small and leave whole: never hold one back waiting for an acknowledgement.
        socket.NoDelay = true;
        var connection = new InlineHttpConnection(this, socket, remote, _lifecycle.NextId());
        _lifecycle.Add(connection);
        // Off the accept loop: a request already waiting would otherwise be served on it.
        ThreadPool.UnsafeQueueUserWorkItem(static c => _ = c.RunAsync(), connection, preferLocal: false);
    }

    void IConnectionHandler.OnRefused(IPEndPoint remote, AdmitResult reason)
    {
        if (_refusalLog.TryEnter(out long suppressed))
            InlineHttpLog.Refused(Logger, _name, remote, reason == AdmitResult.TotalLimit ? "connection limit" : "per-address limit", suppressed);
    }

    internal void OnClosed(InlineHttpConnection connection) => _lifecycle.Remove(connection);

    /// <summary>Converts a timeout to a timestamp offset on <see cref="Time"/>'s clock.</summary>
    internal long Ticks(TimeSpan timeout) => (long)(timeout.TotalSeconds * Time.TimestampFrequency);

    private void Sweep()
    {
        long now = Time.GetTimestamp();
        foreach (var connection in _lifecycle.Connections) connection.Sweep(now);
    }
}
