using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Appliance.Networking.Tcp;

namespace Appliance.Networking.Udp;

/// <summary>
/// <c>sendmmsg</c> (Linux): up to <see cref="MaxBatch"/> datagrams to one destination (a window of uTP packets), or a
/// <see cref="DatagramBatch"/> of datagrams each to its own destination (the replies to one received batch), in one
/// system call. Headers and vectors live on the stack; the datagrams are pinned arrays, addressed directly.
/// </summary>
internal static partial class BatchedSend
{
    public const int MaxBatch = 64;
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int EINTR = 4;

    public static bool IsSupported { get; } = OperatingSystem.IsLinux();

    [StructLayout(LayoutKind.Sequential)]
    private struct MultiMessageHeader
    {
        public GatherSend.MessageHeader Header;
        public uint Length;
    }

    public static unsafe void Send(Socket socket, ReadOnlySpan<byte[]> datagrams, ReadOnlySpan<int> lengths, SocketAddress destination)
    {
        int count = Math.Min(datagrams.Length, MaxBatch);
        var messages = stackalloc MultiMessageHeader[count];
        var vectors = stackalloc IoVector[count];
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            fixed (byte* name = destination.Buffer.Span)
            {
                for (int i = 0; i < count; i++)
                {
                    // Only for arrays on the pinned object heap: their address never changes.
                    vectors[i] = new IoVector((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(datagrams[i])), lengths[i]);
                    messages[i] = default;
                    messages[i].Header.Name = (nint)name;
                    messages[i].Header.NameLength = (uint)destination.Size;
                    messages[i].Header.Vectors = (nint)(vectors + i);
                    messages[i].Header.VectorCount = 1;
                }
                int fd = (int)handle.DangerousGetHandle();
                int sent = 0;
                while (sent < count)
                {
                    int n = SendMany(fd, messages + sent, (uint)(count - sent), MsgDontWait | MsgNoSignal);
                    if (n > 0)
                    {
                        sent += n;
                        continue;
                    }
                    if (n < 0 && Marshal.GetLastPInvokeError() == EINTR) continue;
                    break; // a full socket buffer or an error: the rest is lost and will be resent
                }
            }
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
        if (datagrams.Length > MaxBatch) Send(socket, datagrams[MaxBatch..], lengths[MaxBatch..], destination);
    }

    /// <summary>
    /// Sends every datagram of <paramref name="batch"/>, waiting for room in the socket buffer like a blocking send; a
    /// datagram the kernel refuses (its destination unreachable) is skipped, the rest still go.
    /// </summary>
    public static unsafe void Send(Socket socket, DatagramBatch batch)
    {
        int count = batch.Count;
        if (count == 0) return;
        if (count > MaxBatch) throw new ArgumentException("too many datagrams for one sendmmsg", nameof(batch));
        var messages = stackalloc MultiMessageHeader[count];
        var vectors = stackalloc IoVector[count];
        byte* data = (byte*)Unsafe.AsPointer(ref batch.DataStart);
        byte* names = (byte*)Unsafe.AsPointer(ref batch.NamesStart);
        for (int i = 0; i < count; i++)
        {
            vectors[i] = new IoVector((nint)(data + i * batch.MaxDatagram), batch.Length(i));
            messages[i] = default;
            messages[i].Header.Name = (nint)(names + i * DatagramBatch.NameSize);
            messages[i].Header.NameLength = (uint)batch.NameLength(i);
            messages[i].Header.Vectors = (nint)(vectors + i);
            messages[i].Header.VectorCount = 1;
        }
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            int sent = 0;
            while (sent < count)
            {
                int n = SendMany(fd, messages + sent, (uint)(count - sent), MsgNoSignal);
                if (n > 0) sent += n;
                else if (n < 0 && Marshal.GetLastPInvokeError() == EINTR) continue;
                else sent++; // the kernel refused the datagram at `sent` (e.g. its destination unreachable): skip it
            }
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) handle.DangerousRelease();
            GC.KeepAlive(batch);
        }
    }

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    private static unsafe partial int SendMany(int socket, MultiMessageHeader* messages, uint length, int flags);
}
