using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Appliance.Networking.Tcp.Epoll;

/// <summary>
/// Linux epoll calls and the <c>struct epoll_event</c> layout, which differs by architecture: packed (12 bytes, data at
/// offset 4) on x86-64, naturally aligned (16 bytes, data at offset 8) elsewhere. Events are read and written at that
/// stride from raw memory, so one code path serves both.
/// </summary>
internal static unsafe partial class EpollNative
{
    public const uint In = 0x001;
    public const uint Out = 0x004;
    public const uint Error = 0x008;
    public const uint HangUp = 0x010;
    public const uint ReadHangUp = 0x2000;
    public const uint EdgeTriggered = 1u << 31;

    public const int CtlAdd = 1;
    public const int CtlDel = 2;
    private const int CloseOnExec = 0x80000;

    public const int EINTR = 4;

    public static bool IsSupported { get; } = OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    public static int EventSize { get; } = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    public static uint EventsAt(byte* events, int index) => Unsafe.ReadUnaligned<uint>(events + index * EventSize);

    public static ulong DataAt(byte* events, int index) => Unsafe.ReadUnaligned<ulong>(events + index * EventSize + DataOffset);

    public static int Create() => epoll_create1(CloseOnExec);

    /// <summary>EPOLL_CTL_ADD or _DEL of <paramref name="fd"/>; 0 or the errno.</summary>
    public static int Control(int epoll, int operation, int fd, uint events, ulong data)
    {
        byte* ev = stackalloc byte[16];
        Unsafe.WriteUnaligned(ev, events);
        Unsafe.WriteUnaligned(ev + DataOffset, data);
        return epoll_ctl(epoll, operation, fd, ev) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Waits for events; the count, or -errno.</summary>
    public static int Wait(int epoll, byte* events, int capacity, int timeoutMilliseconds)
    {
        int count = epoll_wait(epoll, events, capacity, timeoutMilliseconds);
        return count >= 0 ? count : -Marshal.GetLastPInvokeError();
    }

    /// <summary>A non-blocking eventfd (the loop's stop signal); -1 on failure.</summary>
    public static int CreateEventFd() => eventfd(0, CloseOnExec | 0x800 /* EFD_NONBLOCK */);

    /// <summary>Makes an eventfd readable.</summary>
    public static void Signal(int eventFd)
    {
        ulong one = 1;
        write(eventFd, &one, sizeof(ulong));
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epoll, int operation, int fd, byte* ev);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epoll, byte* events, int maxEvents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);
}
