using System.Runtime.InteropServices;

namespace Appliance.Storage.Files;

/// <summary>The few libc calls the stores need (Linux; constants are the same on x86-64 and arm64).</summary>
internal static unsafe partial class Libc
{
    public const int ProtRead = 1;
    public const int MapShared = 1;
    public const int MadvSequential = 2;
    public const int MadvDontNeed = 4;
    public const int FadvWillNeed = 3;
    public const int RusageThread = 1;
    public const int RwfNoWait = 8;
    public const int WriteOk = 2;
    public const int AtEaccess = 0x200;
    public const uint StatxUid = 0x8;
    public const int Eagain = 11;
    public const int AtFdCwd = -100;
    public const int AtEmptyPath = 0x1000;
    public const uint StatxMtime = 0x40;
    public const uint StatxSize = 0x200;
    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(nint address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int madvise(nint address, nuint length, int advice);

    /// <summary>One byte per page of the range: bit 0 set when the page is in the page cache.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int mincore(nint address, nuint length, byte* residency);

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>With <see cref="RwfNoWait"/>: only what the page cache holds, EAGAIN when the first page is not there.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint preadv2(int fd, IoVec* vectors, int count, long offset, int flags);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int faccessat(int dirfd, string path, int mode, int flags);

    /// <summary>Returns the error number itself (0 on success), not -1 and errno.</summary>
    [LibraryImport("libc")]
    public static partial int posix_fadvise(int fd, long offset, long length, int advice);

    /// <summary>struct rusage on 64-bit Linux: two timevals, then fourteen longs; ru_majflt is the sixth long.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ResourceUsage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxResident, SharedText, UnsharedData, UnsharedStack, MinorFaults, MajorFaults;
        public long Swaps, BlockInputs, BlockOutputs, MessagesSent, MessagesReceived, Signals, VoluntarySwitches, InvoluntarySwitches;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getrusage(int who, out ResourceUsage usage);

    /// <summary>RLIMIT_NOFILE on x86-64 and arm64.</summary>
    public const int RlimitNofile = 7;

    [StructLayout(LayoutKind.Sequential)]
    public struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getrlimit(int resource, out ResourceLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint pread(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint pwrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rename(string source, string destination);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
