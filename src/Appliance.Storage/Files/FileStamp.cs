using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Storage.Files;

/// <summary>What fast resume compares to decide a file is unchanged: its size and modification time in nanoseconds.</summary>
public readonly record struct FileStamp(long Size, long MtimeNanoseconds)
{
    /// <summary>Reads the stamp of a file, or null when it does not exist or is not a regular file.</summary>
    public static FileStamp? Read(string path)
    {
        if (OperatingSystem.IsLinux() && TryStatx(path, out var stamp, out bool missing)) return missing ? null : stamp;
        var info = new FileInfo(path);
        if (!info.Exists) return null;
        // Portable fallback: DateTime ticks are 100 ns.
        long ticks = info.LastWriteTimeUtc.Ticks - DateTime.UnixEpoch.Ticks;
        return new FileStamp(info.Length, ticks * 100);
    }

    /// <summary>The stamp of an open file (one statx on the descriptor, no allocation), or null when it cannot be read.</summary>
    public static FileStamp? Read(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux()) return null;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return TryStatx((int)handle.DangerousGetHandle(), "", Libc.AtEmptyPath, out var stamp, out bool missing) && !missing ? stamp : null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static bool TryStatx(string path, out FileStamp stamp, out bool missing) => TryStatx(Libc.AtFdCwd, path, 0, out stamp, out missing);

    private static unsafe bool TryStatx(int directory, string path, int flags, out FileStamp stamp, out bool missing)
    {
        stamp = default;
        missing = false;
        // struct statx is 256 bytes with the same layout on every Linux architecture (unlike struct stat).
        byte* buffer = stackalloc byte[256];
        int result;
        try
        {
            result = Libc.statx(directory, path, flags, Libc.StatxSize | Libc.StatxMtime, buffer);
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        if (result != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            const int ENOENT = 2, ENOTDIR = 20;
            if (errno is ENOENT or ENOTDIR) { missing = true; return true; }
            return false; // ENOSYS (old kernel, seccomp) or other: let the portable path decide
        }
        var bytes = new ReadOnlySpan<byte>(buffer, 256);
        ushort mode = BinaryPrimitives.ReadUInt16LittleEndian(bytes[28..]);
        const int S_IFMT = 0xF000, S_IFREG = 0x8000;
        if ((mode & S_IFMT) != S_IFREG) { missing = true; return true; }
        stamp = FromStatx(bytes);
        return true;
    }

    /// <summary>The stamp in a struct statx filled with at least STATX_SIZE and STATX_MTIME.</summary>
    internal static FileStamp FromStatx(ReadOnlySpan<byte> statx)
    {
        long size = BinaryPrimitives.ReadInt64LittleEndian(statx[40..]);
        long seconds = BinaryPrimitives.ReadInt64LittleEndian(statx[112..]);
        uint nanoseconds = BinaryPrimitives.ReadUInt32LittleEndian(statx[120..]);
        return new FileStamp(size, seconds * 1_000_000_000 + nanoseconds);
    }
}
