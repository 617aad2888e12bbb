using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Networking.Tcp;

/// <summary>
/// Zero-copy file-to-socket send: one <c>sendfile(2)</c> of as much of a file range as the socket buffer takes now. The
/// kernel moves page-cache pages to the socket; no byte passes through user memory. The socket must be non-blocking
/// (sendfile has no MSG_DONTWAIT), so a full socket buffer answers <see cref="SendFileStatus.WouldBlock"/> and the caller
/// waits for room. Linux only (<see cref="IsSupported"/>).
/// </summary>
public static partial class SendFile
{
    public static bool IsSupported { get; } = OperatingSystem.IsLinux();

    /// <summary>Linux sends at most this many bytes per call (MAX_RW_COUNT).</summary>
    public const long MaxBytesPerCall = 0x7FFF_F000;

    private const int EINTR = 4;
    private const int EAGAIN = 11;

    /// <summary>
    /// Sends up to <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/>, which advances by
    /// the bytes sent. <see cref="SendFileStatus.EndOfFile"/> means the file ended before the range did (it shrank).
    /// </summary>
    public static unsafe SendFileStatus TrySend(Socket socket, SafeFileHandle file, ref long offset, long count, out long sent)
    {
        sent = 0;
        SafeHandle socketHandle = socket.SafeHandle;
        bool socketAdded = false, fileAdded = false;
        try
        {
            socketHandle.DangerousAddRef(ref socketAdded);
            file.DangerousAddRef(ref fileAdded);
            int socketFd = (int)socketHandle.DangerousGetHandle();
            int fileFd = (int)file.DangerousGetHandle();
            long position = offset;
            while (true)
            {
                nint n = Send(socketFd, fileFd, &position, (nuint)Math.Min(count, MaxBytesPerCall));
                if (n > 0)
                {
                    sent = n;
                    offset = position;
                    return SendFileStatus.Sent;
                }
                if (n == 0) return count == 0 ? SendFileStatus.Sent : SendFileStatus.EndOfFile;
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                return errno == EAGAIN ? SendFileStatus.WouldBlock : SendFileStatus.Failed;
            }
        }
        catch (ObjectDisposedException)
        {
            return SendFileStatus.Failed;
        }
        finally
        {
            if (fileAdded) file.DangerousRelease();
            if (socketAdded) socketHandle.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    private static unsafe partial nint Send(int socket, int file, long* offset, nuint count);
}

public enum SendFileStatus : byte
{
    Sent,
    WouldBlock,

    /// <summary>The file ended inside the range: it was truncated after its size was read.</summary>
    EndOfFile,
    Failed,
}
