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

    /// <summary>Whether datagrams to one destination leave segmented (UDP GSO); off where the kernel lacks it, or with APPLIANCE_UDP_GSO=0.</summary>
    public static bool Segmentation => s_segmentation;

    private const int SolUdp = 17;
    private const int UdpSegment = 103;
    private const int EIO = 5;
    private const int EINVAL = 22;
    // The kernel's cap is 64 segments (128 on newer kernels) and one IP datagram (64 KiB with headers).
    private const int MaxSegments = 64;
    private const int MaxSegmentedBytes = 60 * 1024;
    private static volatile bool s_segmentation = ProbeSegmentation();

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
        var controls = stackalloc SegmentControl[count];
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
                }
                int fd = (int)handle.DangerousGetHandle();
                bool segmented = s_segmentation;
                int messageCount = segmented
                    ? Segment(lengths[..count], messages, vectors, controls, name, destination.Size)
                    : OnePerDatagram(count, messages, vectors, name, destination.Size);
                int sent = 0;
                while (sent < messageCount)
                {
                    int n = SendMany(fd, messages + sent, (uint)(messageCount - sent), MsgDontWait | MsgNoSignal);
                    if (n > 0)
                    {
                        sent += n;
                        continue;
                    }
                    int errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                    if (errno == EINTR) continue;
                    if (segmented && errno is EIO or EINVAL && messages[sent].Header.ControlLength != 0)
                    {
                        // The device cannot offload it (EIO) or the path is narrower than the segment (EINVAL): this
                        // message's datagrams go one by one, and a device without checksum offload never segments again.
                        if (errno == EIO) s_segmentation = false;
                        SendUnsegmented(fd, ref messages[sent]);
                        sent++;
                        continue;
                    }
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

    private static unsafe int OnePerDatagram(int count, MultiMessageHeader* messages, IoVector* vectors, byte* name, int nameLength)
    {
        for (int i = 0; i < count; i++)
        {
            messages[i] = default;
            messages[i].Header.Name = (nint)name;
            messages[i].Header.NameLength = (uint)nameLength;
            messages[i].Header.Vectors = (nint)(vectors + i);
            messages[i].Header.VectorCount = 1;
        }
        return count;
    }

    /// <summary>
    /// UDP generic segmentation offload: a run of datagrams of one size (the last may be shorter) leaves as one message
    /// that the kernel (or the device) cuts back into those datagrams, so the stack is walked once per run, not once per
    /// datagram. Returns the number of messages.
    /// </summary>
    private static unsafe int Segment(ReadOnlySpan<int> lengths, MultiMessageHeader* messages, IoVector* vectors, SegmentControl* controls,
        byte* name, int nameLength)
    {
        int messageCount = 0;
        int i = 0;
        while (i < lengths.Length)
        {
            int size = lengths[i];
            int end = i + 1;
            int total = size;
            while (end < lengths.Length && end - i < MaxSegments && total + lengths[end] <= MaxSegmentedBytes && lengths[end] <= size)
            {
                total += lengths[end];
                // A shorter datagram can only end a run.
                if (lengths[end++] < size) break;
            }
            ref var message = ref messages[messageCount];
            message = default;
            message.Header.Name = (nint)name;
            message.Header.NameLength = (uint)nameLength;
            message.Header.Vectors = (nint)(vectors + i);
            message.Header.VectorCount = (nuint)(end - i);
            if (end - i > 1)
            {
                controls[messageCount] = new SegmentControl((ushort)size);
                message.Header.Control = (nint)(controls + messageCount);
                message.Header.ControlLength = (nuint)sizeof(SegmentControl);
            }
            messageCount++;
            i = end;
        }
        return messageCount;
    }

    private static unsafe void SendUnsegmented(int fd, ref MultiMessageHeader segmented)
    {
        var vectors = (IoVector*)segmented.Header.Vectors;
        int count = (int)segmented.Header.VectorCount;
        var single = stackalloc MultiMessageHeader[count];
        for (int i = 0; i < count; i++)
        {
            single[i] = default;
            single[i].Header.Name = segmented.Header.Name;
            single[i].Header.NameLength = segmented.Header.NameLength;
            single[i].Header.Vectors = (nint)(vectors + i);
            single[i].Header.VectorCount = 1;
        }
        int sent = 0;
        while (sent < count)
        {
            int n = SendMany(fd, single + sent, (uint)(count - sent), MsgDontWait | MsgNoSignal);
            if (n > 0) sent += n;
            else if (n < 0 && Marshal.GetLastPInvokeError() == EINTR) continue;
            else return;
        }
    }

    /// <summary>Whether the kernel takes UDP_SEGMENT (Linux 4.18+); older kernels would ignore the option and send one huge datagram.</summary>
    private static unsafe bool ProbeSegmentation()
    {
        if (!OperatingSystem.IsLinux()) return false;
        if (Environment.GetEnvironmentVariable("APPLIANCE_UDP_GSO") == "0") return false;
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            Span<byte> size = stackalloc byte[sizeof(int)];
            BitConverter.TryWriteBytes(size, 1200);
            probe.SetRawSocketOption(SolUdp, UdpSegment, size);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>cmsghdr with a 16-bit UDP_SEGMENT size, padded to the control message alignment (CMSG_SPACE(2) on 64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct SegmentControl(ushort size)
    {
        public readonly nuint Length = (nuint)(sizeof(long) * 2 + sizeof(ushort)); // CMSG_LEN(2)
        public readonly int Level = SolUdp;
        public readonly int Type = UdpSegment;
        public readonly ushort Size = size;
        private readonly ushort _pad0;
        private readonly int _pad1;
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
