using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Networking.Tcp;

/// <summary>What a server does with each admitted or refused connection.</summary>
public interface IConnectionHandler
{
    /// <summary>
    /// Takes ownership of <paramref name="socket"/>; must call <see cref="TcpAcceptLoop.Release"/> once it is closed, and
    /// <see cref="TcpAcceptLoop.ReturnReserve"/> too when <paramref name="onReserve"/> says it was accepted on the
    /// descriptor held in reserve (the process is out of descriptors: serve it briefly).
    /// </summary>
    void OnAccepted(Socket socket, IPEndPoint remote, bool onReserve);

    void OnRefused(IPEndPoint remote, AdmitResult reason);
}

/// <summary>
/// Accepts TCP connections on a raw listening socket with one reusable awaitable, admits them under the
/// connection limits, and hands them over. Accept errors are sorted into fatal (stop the loop), transient
/// resource shortage (back off, then retry) and per-connection noise (ignore), each logged with its reason.
/// Optionally it holds one descriptor in reserve: out of descriptors, it gives that up so the waiting connection
/// (a health probe, perhaps) is still accepted, and takes it back once that connection has closed.
/// </summary>
public sealed class TcpAcceptLoop : IAsyncDisposable
{
    private static readonly TimeSpan BackOff = TimeSpan.FromMilliseconds(100);
    private readonly Logging.LogThrottle _backOffLog = new(TimeSpan.FromSeconds(10));

    private readonly IConnectionHandler _handler;
    private readonly ConnectionLimiter _limiter;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly bool _keepReserve;
    private SafeFileHandle? _reserve;
    private Task _loop = Task.CompletedTask;

    public TcpAcceptLoop(IPEndPoint endPoint, ConnectionLimiter limiter, IConnectionHandler handler, ILogger logger, int backlog = 1024,
        bool keepReserveDescriptor = false)
    {
        _handler = handler;
        _limiter = limiter;
        _logger = logger;
        _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // SO_REUSEADDR alone: a restart binds while the last run's connections sit in TIME_WAIT. .NET's ReuseAddress
            // also sets SO_REUSEPORT on Linux, which let a second appliance listen on the same port and take a share of
            // the peers (and of the metrics scrapes) instead of failing with "address in use".
            if (OperatingSystem.IsLinux()) LinuxSocketOptions.Enable(_listener, LinuxSocketOptions.SoReuseAddr);
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
                _listener.DualMode = true;
            _listener.Bind(endPoint);
            _listener.Listen(backlog);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _keepReserve = keepReserveDescriptor;
        if (_keepReserve) _reserve = OpenReserve();
    }

    /// <summary>The bound address (with the real port when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    public ConnectionLimiter Limiter => _limiter;

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Frees the limiter slot of a connection the handler has closed.</summary>
    public void Release(IPAddress address) => _limiter.Release(address);

    /// <summary>A connection accepted on the reserve descriptor has closed: the reserve is taken back.</summary>
    public void ReturnReserve()
    {
        if (_keepReserve && !_stopping.IsCancellationRequested && Volatile.Read(ref _reserve) is null)
            Interlocked.CompareExchange(ref _reserve, OpenReserve(), null)?.Dispose();
    }

    public async Task StopAsync()
    {
        if (!_stopping.IsCancellationRequested) await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _loop.ConfigureAwait(false);
        Interlocked.Exchange(ref _reserve, null)?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task RunAsync()
    {
        using var accept = new SocketAwaitableEventArgs();
        bool onReserve = false;
        while (!_stopping.IsCancellationRequested)
        {
            SocketResult result;
            try
            {
                result = await accept.AcceptAsync(_listener).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            if (result.Succeeded)
            {
                Admit(accept.AcceptSocket!, onReserve);
                onReserve = false;
                continue;
            }
            if (result.Error == SocketError.TooManyOpenSockets && Interlocked.Exchange(ref _reserve, null) is { } reserve)
            {
                reserve.Dispose();
                onReserve = true;
                continue;
            }
            switch (Classify(result.Error))
            {
                case AcceptErrorKind.Ignore:
                    TcpLog.AcceptErrorIgnored(_logger, result.Error);
                    break;
                case AcceptErrorKind.BackOff:
                    if (_backOffLog.TryEnter(out long suppressed)) TcpLog.AcceptBackingOff(_logger, result.Error, BackOff.TotalMilliseconds, suppressed);
                    try { await Task.Delay(BackOff, _stopping.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) { return; }
                    ReturnReserve();
                    break;
                default:
                    if (!_stopping.IsCancellationRequested) TcpLog.AcceptFatal(_logger, result.Error, LocalEndPoint);
                    return;
            }
        }
    }

    private void Admit(Socket socket, bool onReserve)
    {
        if (socket.RemoteEndPoint is not IPEndPoint remote)
        {
            socket.Dispose();
            if (onReserve) ReturnReserve();
            return;
        }
        var outcome = _limiter.TryAdmit(remote.Address);
        if (outcome != AdmitResult.Admitted)
        {
            _handler.OnRefused(remote, outcome);
            socket.Dispose();
            if (onReserve) ReturnReserve();
            return;
        }
        socket.NoDelay = true;
        try
        {
            _handler.OnAccepted(socket, remote, onReserve);
        }
        catch (Exception e)
        {
            TcpLog.HandlerFailed(_logger, remote, e);
            socket.Dispose();
            _limiter.Release(remote.Address);
            if (onReserve) ReturnReserve();
        }
    }

    private static SafeFileHandle? OpenReserve()
    {
        try
        {
            return File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Sorts an accept error: what only concerns one connection, what is a passing shortage, what is the end.</summary>
    public static AcceptErrorKind Classify(SocketError error) => error switch
    {
        // The peer gave up between SYN and accept: nothing to do with us.
        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Interrupted or SocketError.TimedOut
            or SocketError.NetworkReset or SocketError.HostUnreachable or SocketError.NetworkUnreachable => AcceptErrorKind.Ignore,
        // EMFILE/ENFILE/ENOBUFS/ENOMEM: connections will close and free resources; spinning on accept would only burn CPU.
        SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable or SocketError.WouldBlock
            or SocketError.TryAgain or SocketError.ProcessLimit or SocketError.SystemNotReady => AcceptErrorKind.BackOff,
        // Listener closed (stop) or broken: the loop ends.
        _ => AcceptErrorKind.Fatal,
    };
}

public enum AcceptErrorKind : byte
{
    Ignore,
    BackOff,
    Fatal,
}
