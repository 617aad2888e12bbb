using System.Collections.Concurrent;
using System.Net;

namespace Appliance.Networking.Tcp;

/// <summary>A connection whose server runs on a <see cref="TcpServerLifecycle{TConnection}"/>.</summary>
public interface ITcpServerConnection
{
    long Id { get; }
    IPEndPoint Remote { get; }

    /// <summary>The server is stopping: take nothing new, finish what is in flight, then close (or close at once).</summary>
    void BeginDrain();

    /// <summary>Closes the connection; it then ends on its own and calls <see cref="TcpServerLifecycle{TConnection}.Remove"/>. Any thread, any number of times.</summary>
    void Close(string reason);
}

/// <summary>
/// The start/stop shape every TCP server here shares: a <see cref="TcpAcceptLoop"/>, the live connections by id, the
/// server's periodic loops, and a stop that refuses new connections, lets the live ones drain within a deadline,
/// closes what is left and waits until every connection has released its resources.
/// </summary>
public sealed class TcpServerLifecycle<TConnection> : IAsyncDisposable where TConnection : class, ITcpServerConnection
{
    private static readonly TimeSpan DisposeDeadline = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<long, TConnection> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _stopReason;
    private readonly string _drainDeadlineReason;
    private readonly TimeSpan _drainTimeout;
    private TcpAcceptLoop? _acceptLoop;
    private Task _loops = Task.CompletedTask;
    private long _nextId;
    private volatile bool _stopRequested;

    /// <param name="stopReason">Why a connection that arrives while stopping is closed.</param>
    /// <param name="drainTimeout">How long live connections may take to finish after <see cref="ITcpServerConnection.BeginDrain"/>.</param>
    /// <param name="drainDeadlineReason">Why a connection still open at the drain deadline is closed.</param>
    public TcpServerLifecycle(string stopReason, TimeSpan drainTimeout, string drainDeadlineReason)
    {
        _stopReason = stopReason;
        _drainTimeout = drainTimeout;
        _drainDeadlineReason = drainDeadlineReason;
    }

    /// <summary>The accept loop (after <see cref="Start"/>).</summary>
    public TcpAcceptLoop? AcceptLoop => _acceptLoop;

    /// <summary>The bound address (after <see cref="Start"/>).</summary>
    public IPEndPoint LocalEndPoint => _acceptLoop?.LocalEndPoint ?? throw new InvalidOperationException("the server is not started");

    /// <summary>Set from the first moment of <see cref="StopAsync"/>: nothing new is taken on.</summary>
    public bool IsStopping => _stopRequested;

    /// <summary>Cancelled once stopping has begun.</summary>
    public CancellationToken Stopping => _stopping.Token;

    public int Count => _connections.Count;
    public ICollection<TConnection> Connections => _connections.Values;

    public long NextId() => Interlocked.Increment(ref _nextId);

    /// <summary>Starts accepting on <paramref name="acceptLoop"/> (already bound) and runs each periodic loop until stop.</summary>
    public IPEndPoint Start(TcpAcceptLoop acceptLoop, params Func<CancellationToken, Task>[] loops)
    {
        if (_acceptLoop is not null) throw new InvalidOperationException("already started");
        _acceptLoop = acceptLoop;
        acceptLoop.Start();
        var token = _stopping.Token;
        _loops = Task.WhenAll(loops.Select(loop => Task.Run(() => loop(token))));
        return acceptLoop.LocalEndPoint;
    }

    /// <summary>Tracks a new connection; one that arrives while stopping is closed at once (it still ends through <see cref="Remove"/>).</summary>
    public void Add(TConnection connection)
    {
        _connections[connection.Id] = connection;
        if (_stopRequested) connection.Close(_stopReason);
    }

    /// <summary>An ended connection: untracked and its admission slot freed. Call it last, after the server's own bookkeeping.</summary>
    public void Remove(TConnection connection)
    {
        _connections.TryRemove(connection.Id, out _);
        _acceptLoop?.Release(connection.Remote.Address);
        if (_stopRequested && _connections.IsEmpty) _allClosed.TrySetResult();
    }

    /// <summary>Stops accepting, drains and closes every connection, and waits (within the token) until all have ended.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Draining starts before the first await, so what arrives once StopAsync was called is refused.
        _stopRequested = true;
        foreach (var connection in _connections.Values) connection.BeginDrain();
        if (!_stopping.IsCancellationRequested) await _stopping.CancelAsync().ConfigureAwait(false);
        if (_acceptLoop is not null) await _acceptLoop.StopAsync().ConfigureAwait(false);
        if (_connections.IsEmpty) _allClosed.TrySetResult();
        try
        {
            using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            drain.CancelAfter(_drainTimeout);
            try
            {
                await _allClosed.Task.WaitAsync(drain.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                foreach (var connection in _connections.Values) connection.Close(_drainDeadlineReason);
                await _allClosed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await _loops.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var deadline = new CancellationTokenSource(DisposeDeadline);
        try { await StopAsync(deadline.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        _stopping.Dispose();
    }
}
