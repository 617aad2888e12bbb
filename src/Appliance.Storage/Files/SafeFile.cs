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
    private const int ORdOnly = 0, OWrOnly = 1, OCreat = 0x40, OExcl = 0x80, ONoCtty = 0x100, ONonBlock = 0x800, OCloExec = 0x80000, OPath = 0x200000;
    private const uint StatxType = 0x1, StatxIno = 0x100;
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

    /// <summary>
    /// Reads a whole regular file of at most <paramref name="maxBytes"/>: open, one statx (type and size), reads, close.
    /// A missing file throws <see cref="FileNotFoundException"/> (<see cref="IsMissing"/>).
    /// </summary>
    public static unsafe byte[] ReadAll(string path, int maxBytes)
    {
        int fd = Open(path, ORdOnly | ONonBlock | OCloExec | ONoCtty);
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (!TryStatType(fd, out bool regular, out long length)) throw LastError();
        if (!regular) throw new IOException("not a regular file");
        if (length > maxBytes) throw new IOException($"larger than {maxBytes} bytes");
        var data = new byte[length];
        int done = 0;
        while (done < data.Length)
        {
            int n = ReadAt(fd, data.AsSpan(done), done);
            if (n == 0) break;
            done += n;
        }
        return done == data.Length ? data : data[..done];
    }

    /// <summary>One positional read (EINTR retried); the count read, 0 at end of file. Throws IOException with the errno.</summary>
    public static unsafe int ReadAt(int fd, Span<byte> destination, long offset)
    {
        fixed (byte* buffer = destination)
        {
            while (true)
            {
                nint n = Libc.pread(fd, buffer, (nuint)destination.Length, offset);
                if (n >= 0) return (int)n;
                if (Marshal.GetLastPInvokeError() != EINTR) throw LastError();
            }
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/> (it must not exist: O_EXCL) and writes <paramref name="data"/> to it, without the
    /// advisory lock .NET's FileStream takes (the name is new, so nobody else has it open). A missing folder throws an
    /// IOException that <see cref="IsMissing"/> recognises.
    /// </summary>
    public static unsafe void WriteNew(string path, ReadOnlySpan<byte> data)
    {
        int fd = Open(path, OWrOnly | OCreat | OExcl | OCloExec, mode: 0x1B6); // 0666, less the umask, as .NET creates files
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        fixed (byte* buffer = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = Libc.pwrite(fd, buffer + done, (nuint)(data.Length - done), done);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == EINTR) continue;
                    throw LastError();
                }
                done += (int)n;
            }
        }
    }

    /// <summary>Renames <paramref name="source"/> over <paramref name="destination"/> (atomic within a file system).</summary>
    public static void Replace(string source, string destination)
    {
        if (Libc.rename(source, destination) != 0) throw LastError();
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
            if (beneath is not null && !IsBeneath(DescriptorPath(fd), beneath)) throw new IOException("resolves outside the content folder");
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
    public static bool ResolvesBeneath(string path, string root) => IsBeneath(RealPath(path), root);

    /// <summary>What <see cref="StatBeneath"/> found at a path.</summary>
    public enum Found
    {
        RegularFile,
        /// <summary>Nothing there, or something that is not a regular file (a folder, a FIFO, a dangling symlink).</summary>
        Missing,
        /// <summary>It resolves outside the root (a symlink out of it); nothing is said about what is there.</summary>
        Outside,
    }

    /// <summary>
    /// The stamp of a content file that must resolve inside <paramref name="root"/>, in four calls: an O_PATH open (it
    /// never blocks and has no side effect on devices), the descriptor's real path, one statx on it, close.
    /// </summary>
    public static unsafe Found StatBeneath(string path, string root, out FileStamp stamp)
    {
        stamp = default;
        int fd;
        try
        {
            fd = Open(path, OPath | OCloExec);
        }
        catch (IOException e) when (IsMissing(e))
        {
            return Found.Missing;
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (!IsBeneath(DescriptorPath(fd), root)) return Found.Outside;
        byte* buffer = stackalloc byte[256];
        if (Libc.statx(fd, "", Libc.AtEmptyPath, StatxType | Libc.StatxSize | Libc.StatxMtime, buffer) != 0) throw LastError();
        var bytes = new ReadOnlySpan<byte>(buffer, 256);
        ushort mode = BinaryPrimitives.ReadUInt16LittleEndian(bytes[28..]);
        const int S_IFMT = 0xF000, S_IFREG = 0x8000;
        if ((mode & S_IFMT) != S_IFREG) return Found.Missing;
        stamp = FileStamp.FromStatx(bytes);
        return Found.RegularFile;
    }

    /// <summary>
    /// Whether <paramref name="real"/> (a resolved path) lies inside <paramref name="root"/>. The root's own real path is
    /// cached with its inode: while the root path still leads to the same directory (one statx), its real path is reused
    /// instead of resolved again (three calls) for every file. A verdict of "outside" is always confirmed against a
    /// freshly resolved root, so a root folder moved since it was cached never refuses a file that is inside it now.
    /// </summary>
    private static bool IsBeneath(string? real, string root)
    {
        if (real is null) return false;
        if (RootRealPath(root, fresh: false) is { } cached && Inside(real, cached)) return true;
        return RootRealPath(root, fresh: true) is { } top && Inside(real, top);
    }

    private static bool Inside(string real, string top) => real.StartsWith(Path.TrimEndingDirectorySeparator(top) + "/", StringComparison.Ordinal);

    private sealed record ResolvedRoot(string RealPath, DirectoryIdentity Identity);

    private readonly record struct DirectoryIdentity(ulong Inode, ulong Device);

    private const int MaxCachedRoots = 64;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ResolvedRoot> s_roots = new(StringComparer.Ordinal);

    private static string? RootRealPath(string root, bool fresh)
    {
        if (!OperatingSystem.IsLinux()) return Path.GetFullPath(root);
        if (!fresh && s_roots.TryGetValue(root, out var cached) && Identify(Libc.AtFdCwd, root, 0) == cached.Identity) return cached.RealPath;
        int fd;
        try
        {
            fd = Open(root, OPath | OCloExec);
        }
        catch (IOException e) when (IsMissing(e))
        {
            s_roots.TryRemove(root, out _);
            return null;
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        string? real = DescriptorPath(fd);
        if (real is null || Identify(fd, "", Libc.AtEmptyPath) is not { } identity) return real;
        if (s_roots.Count >= MaxCachedRoots) s_roots.Clear(); // one content folder in the appliance; tests use many
        s_roots[root] = new ResolvedRoot(real, identity);
        return real;
    }

    private static unsafe DirectoryIdentity? Identify(int directory, string path, int flags)
    {
        byte* buffer = stackalloc byte[256];
        if (Libc.statx(directory, path, flags, StatxIno, buffer) != 0) return null;
        var bytes = new ReadOnlySpan<byte>(buffer, 256);
        // stx_ino at 32; stx_dev_major and stx_dev_minor at 136 and 140
        ulong device = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(bytes[136..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(bytes[140..]);
        return new DirectoryIdentity(BinaryPrimitives.ReadUInt64LittleEndian(bytes[32..]), device);
    }

    private static string? DescriptorPath(int fd)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        return target is null || !target.StartsWith('/') ? null : target;
    }

    private static int Open(string path, int flags, int mode = 0)
    {
        while (true)
        {
            int fd = open(path, flags, mode);
            if (fd >= 0) return fd;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR) continue;
            if (errno is ENOENT or ENOTDIR) throw new FileNotFoundException("no such file", path) { HResult = errno };
            throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
        }
    }

    private static IOException LastError()
    {
        int errno = Marshal.GetLastPInvokeError();
        return errno is ENOENT or ENOTDIR
            ? new FileNotFoundException(Marshal.GetPInvokeErrorMessage(errno)) { HResult = errno }
            : new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
    }

    private static bool IsRegular(int fd)
    {
        if (!TryStatType(fd, out bool regular, out _)) throw LastError();
        return regular;
    }

    /// <summary>One statx on a descriptor: whether it is a regular file, and its size.</summary>
    private static unsafe bool TryStatType(int fd, out bool regular, out long size)
    {
        byte* buffer = stackalloc byte[256];
        regular = false;
        size = 0;
        if (Libc.statx(fd, "", Libc.AtEmptyPath, StatxType | Libc.StatxSize, buffer) != 0) return false;
        var bytes = new ReadOnlySpan<byte>(buffer, 256);
        ushort mode = BinaryPrimitives.ReadUInt16LittleEndian(bytes[28..]);
        const int S_IFMT = 0xF000, S_IFREG = 0x8000;
        regular = (mode & S_IFMT) == S_IFREG;
        size = BinaryPrimitives.ReadInt64LittleEndian(bytes[40..]);
        return true;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);
}
