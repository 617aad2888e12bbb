using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Appliance.Networking.Tcp;
using Microsoft.Extensions.Logging;

namespace Appliance.Networking.Udp;

/// <summary>
/// The receive loop of a <see cref="DatagramEndpoint"/> on Linux: one <c>recvmmsg</c> takes up to <see cref="Batch"/>
/// datagrams (blocking for the first, MSG_WAITFORONE), so a burst of uTP packets costs one system call instead of one
/// each. Buffers, addresses and message headers are pinned arrays made once; each source address is copied into one
/// reused <see cref="SocketAddress"/>. The socket's receive timeout bounds each wait, so a stop is noticed.
/// </summary>
internal static partial class BatchedReceive
{
    public const int Batch = 32;

    // sockaddr_in6 is 28 bytes; sockaddr_storage 128.
    private const int NameSize = 128;
    private const int MsgWaitForOne = 0x10000;
    private const int MsgTrunc = 0x20;
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const int ECONNREFUSED = 111;

    public static bool IsSupported { get; } = OperatingSystem.IsLinux();

    [StructLayout(LayoutKind.Sequential)]
    private struct MultiMessageHeader
    {
        public GatherSend.MessageHeader Header;
        public uint Length;
    }

    public static unsafe void Run(Socket socket, IDatagramHandler handler, CancellationToken stopping, ILogger logger, IPEndPoint local)
    {
        var data = GC.AllocateUninitializedArray<byte>(Batch * DatagramEndpoint.MaxDatagram, pinned: true);
        var names = GC.AllocateArray<byte>(Batch * NameSize, pinned: true);
        var vectors = GC.AllocateArray<IoVector>(Batch, pinned: true);
        var messages = GC.AllocateArray<MultiMessageHeader>(Batch, pinned: true);
        var from = new SocketAddress(socket.AddressFamily);
        byte* dataBase = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(data));
        byte* nameBase = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(names));
        var vectorBase = (IoVector*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(vectors));
        var messageBase = (MultiMessageHeader*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(messages));
        for (int i = 0; i < Batch; i++)
        {
            vectors[i] = new IoVector((nint)(dataBase + i * DatagramEndpoint.MaxDatagram), DatagramEndpoint.MaxDatagram);
            messages[i].Header.Vectors = (nint)(vectorBase + i);
            messages[i].Header.VectorCount = 1;
            messages[i].Header.Name = (nint)(nameBase + i * NameSize);
        }

        // The kernel reaches these arrays through the raw pointers above, which the GC does not see: once the loop no
        // longer names an array (the vectors, after this setup), a collection may free it and hand its memory to the
        // next pinned allocation, whose bytes recvmmsg then takes for buffer addresses. Keep all four alive to the end.
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                for (int i = 0; i < Batch; i++)
                {
                    messages[i].Header.NameLength = NameSize;
                    messages[i].Header.Flags = 0;
                    messages[i].Length = 0;
                }
                int count;
                int errno = 0;
                var handle = socket.SafeHandle;
                bool added = false;
                try
                {
                    handle.DangerousAddRef(ref added);
                    count = ReceiveMany((int)handle.DangerousGetHandle(), messageBase, Batch, MsgWaitForOne, null);
                    if (count < 0) errno = Marshal.GetLastPInvokeError();
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                finally
                {
                    if (added) handle.DangerousRelease();
                }
                if (count < 0)
                {
                    // A timeout (the socket's receive timeout), a signal, or ICMP unreachable from an earlier send: not fatal.
                    if (errno is EAGAIN or EINTR or ECONNREFUSED) continue;
                    if (!stopping.IsCancellationRequested) UdpLog.ReceiveFailed(logger, local, $"recvmmsg failed with errno {errno}");
                    return;
                }
                for (int i = 0; i < count; i++)
                {
                    ref var message = ref messages[i];
                    if ((message.Header.Flags & MsgTrunc) != 0) continue; // larger than any datagram we accept
                    int nameLength = (int)Math.Min(message.Header.NameLength, (uint)from.Buffer.Length);
                    names.AsSpan(i * NameSize, nameLength).CopyTo(from.Buffer.Span);
                    from.Size = nameLength;
                    try
                    {
                        handler.OnDatagram(data.AsSpan(i * DatagramEndpoint.MaxDatagram, (int)message.Length), from);
                    }
                    catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
                    {
                        // A bug on one datagram must not stop the port: drop it, log it, keep serving.
                        UdpLog.DatagramFailed(logger, local, e.Message);
                    }
                }
                handler.OnBatchEnd();
            }
        }
        finally
        {
            GC.KeepAlive(data);
            GC.KeepAlive(names);
            GC.KeepAlive(vectors);
            GC.KeepAlive(messages);
        }
    }

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    private static unsafe partial int ReceiveMany(int socket, MultiMessageHeader* messages, uint length, int flags, void* timeout);
}
