using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Appliance.Networking.Tcp;

/// <summary>
/// Whether a stream socket has something for the next receive right now: bytes, the peer's FIN, or an error.
/// A zero-byte receive can complete on a readiness notification whose bytes an earlier receive already took; a
/// caller that rents a buffer after it would then hold that buffer while it waits (an idle peer must hold none).
/// One <c>recv(MSG_PEEK | MSG_DONTWAIT)</c> of one byte tells the two apart without consuming anything.
/// </summary>
public static partial class SocketReadiness
{
    private const int MsgPeek = 0x2;
    private const int MsgDontWait = 0x40;
    private const int EINTR = 4;
    private const int EAGAIN = 11;

    // After this many wake-ups in a row with nothing to read, stop waiting for a better one: the caller then waits with
    // its buffer, as it would without the check (bounded work if readiness keeps being reported for nothing).
    private const int MaxEmptyWakeups = 8;

    /// <summary>
    /// Completes when <paramref name="socket"/> has bytes, its end or an error for the next receive, without taking a
    /// buffer (zero-byte receives on <paramref name="receive"/>), so an idle connection holds none.
    /// </summary>
    // Pooled builder: waiting again after an empty wake-up reuses a pooled state machine instead of allocating one.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<SocketResult> WaitForDataAsync(SocketAwaitableEventArgs receive, Socket socket)
    {
        for (int empty = 0; ; empty++)
        {
            var result = await receive.ReceiveAsync(socket, Memory<byte>.Empty).ConfigureAwait(false);
            if (!result.Succeeded || empty == MaxEmptyWakeups || HasDataOrEnd(socket)) return result;
        }
    }

    public static unsafe bool HasDataOrEnd(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return true;
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            byte probe;
            while (true)
            {
                nint n = Receive(fd, &probe, 1, MsgPeek | MsgDontWait);
                if (n >= 0) return true; // a byte, or 0 for the peer's FIN
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                return errno != EAGAIN; // any other error is for the receive to report
            }
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    internal static unsafe partial nint Receive(int socket, byte* buffer, nuint length, int flags);
}
