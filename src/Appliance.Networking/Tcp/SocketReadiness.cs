using System.Net.Sockets;
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
    private static unsafe partial nint Receive(int socket, byte* buffer, nuint length, int flags);
}
