using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Appliance.Networking.Tcp.Epoll;

/// <summary>
/// A connected stream socket registered once, edge-triggered, with one loop of an <see cref="EpollEngine"/>. Receives
/// and sends are non-blocking syscalls on the descriptor; only an attempt that would block parks, and the loop thread
/// that sees the readiness retries it and runs the waiter's continuation inline (no thread-pool hop). One receive and
/// one send may be in flight at a time. Errors come back in the result, never as exceptions.
/// </summary>
public sealed class EpollSocket
{
    private const int MsgPeek = 0x2;
    private const int MsgDontWait = 0x40;
    private const int EAGAIN = 11;

    private static readonly SocketResult Aborted = new(0, SocketError.OperationAborted);

    private readonly Socket _socket;
    private readonly SafeHandle _handle;
    private readonly Readiness _receive = new();
    private readonly Readiness _send = new();
    private Memory<byte> _receiveBuffer;
    private bool _peek;
    private bool _drained; // the last receive returned less than it asked for: the kernel had no more then
    private int _hungUp; // the loop saw EPOLLRDHUP, EPOLLHUP or EPOLLERR: never skip a receive again
    private int _closed;
    private long _receiveCalls;

    internal EpollSocket(Socket socket, EpollLoop loop)
    {
        _socket = socket;
        _handle = socket.SafeHandle;
        Loop = loop;
    }

    public Socket Socket => _socket;

    internal EpollLoop Loop { get; }

    /// <summary>The loop's table slot and a generation unique to this registration: an event for a socket since removed is recognised.</summary>
    internal int Slot { get; set; }
    internal uint Generation { get; set; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>recv system calls made (the one-byte peeks too); read by tests.</summary>
    internal long ReceiveCalls => Volatile.Read(ref _receiveCalls);

    /// <summary>Test seam: runs between an attempt that would block and the park (where a readiness report must not be lost).</summary>
    internal Action? BeforePark { get; set; }

    /// <summary>Completes when the next receive will not wait (bytes, the peer's FIN or an error), consuming nothing and taking no buffer.</summary>
    public ValueTask<SocketResult> WaitForDataAsync() => StartReceive(default, peek: true);

    /// <summary>Receives what is there, up to the buffer; 0 bytes with success means the peer closed.</summary>
    public ValueTask<SocketResult> ReceiveAsync(Memory<byte> buffer) => StartReceive(buffer, peek: false);

    /// <summary>Call before each non-blocking send attempt (a gather sendmsg on <see cref="Socket"/>), so writability reported during it is kept.</summary>
    public void BeginSend() => _send.BeginAttempt();

    /// <summary>After a send attempt the socket buffer could not take whole: completes when it may take more (at once if that was reported meanwhile).</summary>
    public ValueTask<SocketResult> WaitWritableAsync()
    {
        short token = _send.Prepare();
        if (IsClosed) return new ValueTask<SocketResult>(Aborted);
        BeforePark?.Invoke();
        return _send.TryPark() ? _send.Parked(token) : default;
    }

    private ValueTask<SocketResult> StartReceive(Memory<byte> buffer, bool peek)
    {
        _receiveBuffer = buffer;
        _peek = peek;
        short token = _receive.Prepare();
        // A TCP receive returns less than asked only when it emptied the queue, and every segment queued after it
        // began reports readiness (edge-triggered, from an attempt that cleared the state first): with no report since,
        // this receive would only find EAGAIN, so it parks without the syscall (refsend's one recv per wake-up).
        // Not after a hang-up: a FIN the last receive stopped at reports nothing more, yet the next receive returns 0.
        // (TCP urgent data, which no BitTorrent peer sends, also ends a receive early: such a peer stalls only itself.)
        if (_drained && Volatile.Read(ref _hungUp) == 0 && _receive.TryPark()) return _receive.Parked(token);
        while (true)
        {
            _receive.BeginAttempt();
            if (TryReceive(out var result))
            {
                _receiveBuffer = default;
                return new ValueTask<SocketResult>(result);
            }
            BeforePark?.Invoke();
            if (_receive.TryPark()) return _receive.Parked(token);
        }
    }

    /// <summary>Runs on the loop thread for each event of this registration.</summary>
    internal void OnEvents(uint events)
    {
        if ((events & (EpollNative.ReadHangUp | EpollNative.HangUp | EpollNative.Error)) != 0) Volatile.Write(ref _hungUp, 1);
        if ((events & (EpollNative.In | EpollNative.ReadHangUp | EpollNative.HangUp | EpollNative.Error)) != 0 && _receive.Report()) ResumeReceive();
        if ((events & (EpollNative.Out | EpollNative.HangUp | EpollNative.Error)) != 0 && _send.Report()) ResumeSend();
    }

    private void ResumeReceive()
    {
        while (true)
        {
            _receive.BeginAttempt();
            if (TryReceive(out var result))
            {
                _receiveBuffer = default;
                _receive.Complete(result);
                return;
            }
            if (_receive.TryPark()) return;
        }
    }

    private void ResumeSend() => _send.Complete(IsClosed ? Aborted : default);

    private unsafe bool TryReceive(out SocketResult result)
    {
        if (IsClosed)
        {
            result = Aborted;
            return true;
        }
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            int fd = (int)_handle.DangerousGetHandle();
            byte probe;
            var span = _receiveBuffer.Span;
            fixed (byte* buffer = span)
            {
                while (true)
                {
                    _receiveCalls++;
                    nint n = _peek
                        ? SocketReadiness.Receive(fd, &probe, 1, MsgPeek | MsgDontWait)
                        : SocketReadiness.Receive(fd, buffer, (nuint)span.Length, MsgDontWait);
                    if (n >= 0)
                    {
                        _drained = !_peek && n > 0 && n < span.Length;
                        result = new SocketResult(_peek ? 0 : (int)n, SocketError.Success);
                        return true;
                    }
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EpollNative.EINTR) continue;
                    if (errno == EAGAIN)
                    {
                        _drained = false;
                        result = default;
                        return false;
                    }
                    result = new SocketResult(0, SocketErrors.FromErrno(errno));
                    return true;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            result = Aborted;
            return true;
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Closes the connection: deregisters it from its loop before the descriptor is closed (so the number, once reused,
    /// cannot receive this socket's events), then fails a parked receive or send, on the thread pool (the caller may
    /// hold locks, or be another connection's loop). Safe to call more than once, from any thread.
    /// </summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        Loop.Remove(this);
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        _socket.Dispose();
        if (_receive.Report()) ThreadPool.UnsafeQueueUserWorkItem(static s => s.ResumeReceive(), this, preferLocal: false);
        if (_send.Report()) ThreadPool.UnsafeQueueUserWorkItem(static s => s.ResumeSend(), this, preferLocal: false);
    }

    /// <summary>The descriptor, for EPOLL_CTL calls: -1 once the socket is disposed.</summary>
    internal int AddRefDescriptor(ref bool added)
    {
        try
        {
            _handle.DangerousAddRef(ref added);
            return (int)_handle.DangerousGetHandle();
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
    }

    internal void ReleaseDescriptor() => _handle.DangerousRelease();
}

/// <summary>errno values of a failed stream receive or send, as the <see cref="SocketError"/> the rest of the code reports.</summary>
internal static class SocketErrors
{
    public static SocketError FromErrno(int errno) => errno switch
    {
        32 => SocketError.Shutdown, // EPIPE
        103 => SocketError.ConnectionAborted, // ECONNABORTED
        104 => SocketError.ConnectionReset, // ECONNRESET
        107 => SocketError.NotConnected, // ENOTCONN
        110 => SocketError.TimedOut, // ETIMEDOUT
        113 => SocketError.HostUnreachable, // EHOSTUNREACH
        9 => SocketError.OperationAborted, // EBADF: closed under us
        _ => SocketError.SocketError,
    };
}
