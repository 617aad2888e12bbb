using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Appliance.Networking.Tcp;

/// <summary>One buffer of a gather send: an address and a length (Linux <c>struct iovec</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct IoVector
{
    public nint Base;
    public nuint Length;

    public IoVector(nint address, int length)
    {
        Base = address;
        Length = (nuint)length;
    }
}

/// <summary>
/// Non-blocking gather send: one <c>sendmsg(MSG_DONTWAIT)</c> on the socket's descriptor with many buffers.
/// Socket.Send(IList&lt;ArraySegment&gt;) would need managed arrays, but blocks served from a memory mapping are
/// native addresses, and a piece header plus its block plus the next header... are best handed to the kernel in one
/// syscall. MSG_DONTWAIT makes the call non-blocking whatever mode .NET put the descriptor in; when the socket
/// buffer is full the caller falls back to an awaited send for the rest. Linux only (<see cref="IsSupported"/>).
/// </summary>
public static partial class GatherSend
{
    /// <summary>Linux IOV_MAX is 1024; callers keep batches well below it.</summary>
    public const int MaxVectors = 1024;

    public static bool IsSupported { get; } = OperatingSystem.IsLinux();

    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int MsgMore = 0x8000;
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const int EFAULT = 14;

    /// <summary>
    /// Sends as much of <paramref name="vectors"/> as the socket buffer takes now. Returns the bytes sent
    /// (0 with <see cref="GatherSendStatus.WouldBlock"/> when nothing fit). <paramref name="more"/> (MSG_MORE) tells the
    /// kernel more data follows at once, so a response head leaves in the same segment as the first body bytes.
    /// </summary>
    public static unsafe GatherSendStatus TrySend(Socket socket, ReadOnlySpan<IoVector> vectors, out long bytesSent, bool more = false)
    {
        bytesSent = 0;
        SafeHandle handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            fixed (IoVector* iov = vectors)
            {
                var header = new MessageHeader { Vectors = (nint)iov, VectorCount = (nuint)vectors.Length };
                while (true)
                {
                    nint sent = SendMessage(fd, &header, MsgDontWait | MsgNoSignal | (more ? MsgMore : 0));
                    if (sent >= 0)
                    {
                        bytesSent = sent;
                        return GatherSendStatus.Sent;
                    }
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR) continue;
                    return errno switch
                    {
                        EAGAIN => GatherSendStatus.WouldBlock,
                        EFAULT => GatherSendStatus.BadAddress,
                        _ => GatherSendStatus.Failed,
                    };
                }
            }
        }
        catch (ObjectDisposedException)
        {
            return GatherSendStatus.Failed;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Linux <c>struct msghdr</c> (also the head of <c>struct mmsghdr</c>, used by the batched UDP receive).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MessageHeader
    {
        public nint Name;
        public uint NameLength;
        public nint Vectors;
        public nuint VectorCount;
        public nint Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static unsafe partial nint SendMessage(int socket, MessageHeader* message, int flags);
}

public enum GatherSendStatus : byte
{
    Sent,
    WouldBlock,

    /// <summary>EFAULT: a buffer address was not readable (for a mapping: the file shrank under it).</summary>
    BadAddress,
    Failed,
}
