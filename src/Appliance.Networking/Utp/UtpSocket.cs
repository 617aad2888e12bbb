using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Appliance.Networking.Signals;

namespace Appliance.Networking.Utp;

/// <summary>
/// A uTP connection used like a connected stream socket, for clients (the load generator, tests): connect, then
/// receive and send with one reader and one writer at a time. Waits are the connection's readable and writable events
/// through allocation-free signals; cancelling a wait only ends the wait. Failures are <see cref="SocketException"/>s as on
/// TCP: refused (a RESET to our SYN), timed out, reset.
/// </summary>
public sealed class UtpSocket : IUtpObserver, IDisposable
{
    private readonly AsyncSignal _readable = new();
    private readonly AsyncSignal _writable = new();
    private UtpConnection _connection = null!;

    private UtpSocket()
    {
    }

    public UtpConnection Connection => _connection;

    /// <summary>Wraps a connection the listener accepted (the other end of a dial, in tests).</summary>
    public static UtpSocket Over(UtpConnection accepted)
    {
        var socket = new UtpSocket { _connection = accepted };
        accepted.Observer = socket;
        return socket;
    }

    /// <summary>Dials <paramref name="remote"/> through <paramref name="port"/> and waits until the peer answers.</summary>
    public static async Task<UtpSocket> ConnectAsync(UtpListener port, IPEndPoint remote, CancellationToken ct)
    {
        var socket = new UtpSocket();
        socket._connection = port.Connect(remote, socket);
        try
        {
            while (socket._connection.State == UtpState.SynSent) await WaitAsync(socket._writable, ct).ConfigureAwait(false);
            if (socket._connection.State != UtpState.Connected) throw new SocketException((int)socket._connection.Error);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return socket;
    }

    void IUtpObserver.Readable() => _readable.Set();

    void IUtpObserver.Writable() => _writable.Set();

    /// <summary>Bytes received into <paramref name="buffer"/>; 0 when the peer has finished (FIN) or we closed.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        while (true)
        {
            int read = _connection.Read(buffer.Span, UtpListener.NowMicros);
            if (read > 0) return read;
            if (_connection.TryGetEnd(out var error))
            {
                if (error is SocketError.Success or SocketError.OperationAborted) return 0;
                throw new SocketException((int)error);
            }
            await WaitAsync(_readable, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Sends all of <paramref name="data"/>, waiting while the connection's send backlog is full.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        int offset = 0;
        while (true)
        {
            int taken = _connection.Write(data.Span[offset..], UtpListener.NowMicros);
            if (taken < 0) throw new SocketException((int)(_connection.Error == SocketError.Success ? SocketError.Shutdown : _connection.Error));
            offset += taken;
            if (offset == data.Length) return;
            await WaitAsync(_writable, ct).ConfigureAwait(false);
        }
    }

    private static async ValueTask WaitAsync(AsyncSignal signal, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (!ct.CanBeCanceled)
        {
            await signal.WaitAsync().ConfigureAwait(false);
            return;
        }
        // Cancelling wakes the waiter; the caller sees the cancellation. The registration's node is reused by the token's source.
        using (ct.UnsafeRegister(static s => ((AsyncSignal)s!).Set(), signal)) await signal.WaitAsync().ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
    }

    /// <summary>Closes our side: what was sent still goes out, then a FIN; receives return 0.</summary>
    public void Close() => _connection.Close(UtpListener.NowMicros);

    /// <summary>Ends the connection at once with a RESET (a dial still waiting for its answer included), unless it was closed.</summary>
    public void Dispose()
    {
        if (_connection.State is not (UtpState.Closing or UtpState.Closed)) _connection.Abort(UtpListener.NowMicros);
    }
}
