using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Storage.Files;

/// <summary>
/// Opens files whose type and place are not trusted: only regular files are read (a FIFO or device named like a
/// torrent is opened without blocking and refused), and content may be required to resolve inside a root folder,
/// checked on the opened descriptor itself (/proc/self/fd), so a symlink swapped in between check and use cannot
/// lead outside. Failures are <see cref="IOException"/>s whose HResult is the errno, for <see cref="IsTransient"/>.
/// </summary>
public static partial class SafeFile
{
    private const int ORdOnly = 0, ONoCtty = 0x100, ONonBlock = 0x800, OCloExec = 0x80000, OPath = 0x200000;
    private const uint StatxType = 0x1;
    private const int ENOENT = 2, EINTR = 4, EAGAIN = 11, ENOMEM = 12, ENOTDIR = 20, ENFILE = 23, EMFILE = 24, ENOBUFS = 105;

    /// <summary>Errors worth retrying later (descriptor or memory exhaustion), as opposed to what stays wrong until the file changes.</summary>
    public static bool IsTransient(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is IOException && e.HResult is EMFILE or ENFILE or ENOMEM or EAGAIN or EINTR or ENOBUFS) return true;
        }
        return false;
    }

    /// <summary>Whether the error says the file is not there.</summary>
    public static bool IsMissing(IOException e) => e.HResult is ENOENT or ENOTDIR || e is FileNotFoundException or DirectoryNotFoundException;

    /// <summary>Reads a whole regular file of at most <paramref name="maxBytes"/>.</summary>
    public static byte[] ReadAll(string path, int maxBytes)
    {
        using var handle = OpenRegular(path, beneath: null);
        long length = RandomAccess.GetLength(handle);
        if (length > maxBytes) throw new IOException($"larger than {maxBytes} bytes");
        var data = new byte[length];
        int done = 0;
        while (done < data.Length)
        {
            int n = RandomAccess.Read(handle, data.AsSpan(done), done);
            if (n == 0) break;
            done += n;
        }
        return done == data.Length ? data : data[..done];
    }

    /// <summary>
    /// Opens a regular file read-only. With <paramref name="beneath"/>, the file must resolve inside that folder
    /// (after every symlink); otherwise it is refused with a reason that says nothing about what lies outside.
    /// </summary>
    public static SafeFileHandle OpenRegular(string path, string? beneath)
    {
        int fd = Open(path, ORdOnly | ONonBlock | OCloExec | ONoCtty);
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (beneath is not null)
            {
                string? root = RealPath(beneath);
                string? real = DescriptorPath(fd);
                if (root is null || real is null || !real.StartsWith(Path.TrimEndingDirectorySeparator(root) + "/", StringComparison.Ordinal))
                    throw new IOException("resolves outside the content folder");
            }
            if (!IsRegular(fd)) throw new IOException("not a regular file");
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Where <paramref name="path"/> resolves after every symlink, or null when it does not exist. Opening with O_PATH never blocks.</summary>
    public static string? RealPath(string path)
    {
        if (!OperatingSystem.IsLinux()) return Path.GetFullPath(path);
        int fd;
        try
        {
            fd = Open(path, OPath | OCloExec);
        }
        catch (IOException e) when (IsMissing(e))
        {
            return null;
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        return DescriptorPath(fd);
    }

    /// <summary>Whether <paramref name="path"/> exists and resolves inside <paramref name="root"/>.</summary>
    public static bool ResolvesBeneath(string path, string root)
    {
        string? real = RealPath(path);
        string? top = RealPath(root);
        return real is not null && top is not null && real.StartsWith(Path.TrimEndingDirectorySeparator(top) + "/", StringComparison.Ordinal);
    }

    private static string? DescriptorPath(int fd)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        return target is null || !target.StartsWith('/') ? null : target;
    }

    private static int Open(string path, int flags)
    {
        while (true)
        {
            int fd = open(path, flags, 0);
            if (fd >= 0) return fd;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR) continue;
            if (errno is ENOENT or ENOTDIR) throw new FileNotFoundException("no such file", path) { HResult = errno };
            throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
        }
    }

    private static unsafe bool IsRegular(int fd)
    {
        byte* buffer = stackalloc byte[256];
        if (Libc.statx(fd, "", Libc.AtEmptyPath, StatxType, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
        }
        ushort mode = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(buffer + 28, 2));
        const int S_IFMT = 0xF000, S_IFREG = 0x8000;
        return (mode & S_IFMT) == S_IFREG;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);
}
