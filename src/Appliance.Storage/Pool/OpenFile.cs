using Appliance.Storage.Files;
using Appliance.Storage.Mapping;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Storage.Pool;

/// <summary>
/// One opening of a pooled file: its descriptor and, for the mapped store, its read-only shared mapping. Counted: the
/// pool holds one reference while the opening is in the pool, and every lease (a read, a pinned segment of a send in
/// flight) holds one more. The last release unmaps and closes, so eviction never pulls pages from under a send.
/// </summary>
internal sealed class OpenFile
{
    private readonly FilePool _pool;
    private int _references;

    private OpenFile(FilePool pool, SafeFileHandle handle, nint address, long length)
    {
        _pool = pool;
        Handle = handle;
        Address = address;
        Length = length;
    }

    public SafeFileHandle Handle { get; }

    /// <summary>The mapping's address, 0 when not mapped.</summary>
    public nint Address { get; }

    public long Length { get; }

    /// <summary>The mapping cut into windows of at most the pool's window size (empty when not mapped).</summary>
    public MappedWindow[] Windows { get; private set; } = [];

    /// <summary>Log2 of the span of the mapping one bit of <see cref="MarkTouched"/> stands for (2 MiB).</summary>
    internal const int ChunkShift = 21;

    // One bit per chunk: set by sends (MarkTouched), taken by the pool's release pass; and, for that pass alone, the chunks
    // it believes mapped in. A chunk no send touched for a whole pass interval leaves the resident set.
    private ulong[] _touched = [];
    private ulong[] _resident = [];

    /// <summary>
    /// Notes that a send is about to read this range of the mapping. A bit already set is only read, so chunks in
    /// steady use cost no write; a set racing the release pass can at worst keep a chunk mapped one interval longer.
    /// </summary>
    public void MarkTouched(long offset, int length)
    {
        var touched = _touched;
        if (touched.Length == 0 || length <= 0) return;
        for (long chunk = offset >> ChunkShift, last = (offset + length - 1) >> ChunkShift; chunk <= last; chunk++)
        {
            ref ulong word = ref touched[(int)(chunk >> 6)];
            ulong bit = 1UL << (int)(chunk & 63);
            if ((word & bit) == 0) word |= bit;
        }
    }

    /// <summary>
    /// The release pass (one caller at a time): takes this file's touched bits, and releases with MADV_DONTNEED every
    /// run of chunks that were mapped in but untouched since the previous pass. Returns the bytes released.
    /// </summary>
    public long ReleaseIdleChunks()
    {
        if (Address == 0 || _touched.Length == 0) return 0;
        long released = 0;
        long runStart = -1;
        long chunks = (Length + (1L << ChunkShift) - 1) >> ChunkShift;
        for (int w = 0; w < _touched.Length; w++)
        {
            ulong touched = Interlocked.Exchange(ref _touched[w], 0);
            ulong idle = _resident[w] & ~touched;
            _resident[w] = touched;
            for (int b = 0; b < 64; b++)
            {
                long chunk = ((long)w << 6) + b;
                if (chunk >= chunks) break;
                bool release = (idle & (1UL << b)) != 0;
                if (release && runStart < 0) runStart = chunk;
                else if (!release && runStart >= 0)
                {
                    released += Advise(runStart, chunk);
                    runStart = -1;
                }
            }
        }
        if (runStart >= 0) released += Advise(runStart, chunks);
        return released;
    }

    private long Advise(long firstChunk, long endChunk)
    {
        long start = firstChunk << ChunkShift;
        long end = Math.Min(Length, endChunk << ChunkShift);
        return Libc.madvise(Address + (nint)start, (nuint)(end - start), Libc.MadvDontNeed) == 0 ? end - start : 0;
    }

    private static readonly int PageSize = Environment.SystemPageSize;

    // mincore tells page-cache residency of a file mapping only to a process that owns the file, may write it, or has
    // CAP_FOWNER; anyone else is told every page is resident (Linux hides it as a side channel). Such files are probed
    // with a non-blocking read instead.
    private bool _mincoreSeesCache = true;

    /// <summary>For tests: probe residency with non-blocking reads even where mincore would tell.</summary>
    internal static bool ProbeByRead { get; set; }

    [ThreadStatic] private static byte[]? t_probe;

    /// <summary>
    /// Whether every page of this range of the file is in the page cache: mincore on the mapping where it tells
    /// (no I/O, no fault, no copy), else a read with RWF_NOWAIT into a scratch buffer. True when it cannot tell (not
    /// mapped, or the call failed): the send then reads the pages as it always did.
    /// </summary>
    public unsafe bool IsResident(long offset, int length)
    {
        if (Address == 0 || length <= 0) return true;
        if (!_mincoreSeesCache || ProbeByRead) return IsCachedByRead(offset, length);
        const int VectorPages = 64;
        byte* vector = stackalloc byte[VectorPages];
        long position = offset & ~(long)(PageSize - 1);
        long end = offset + length;
        while (position < end)
        {
            long bytes = Math.Min(end - position, (long)VectorPages * PageSize);
            if (Libc.mincore(Address + (nint)position, (nuint)bytes, vector) != 0) return true;
            int pages = (int)((bytes + PageSize - 1) / PageSize);
            for (int p = 0; p < pages; p++)
            {
                if ((vector[p] & 1) == 0) return false;
            }
            position += bytes;
        }
        return true;
    }

    private unsafe bool IsCachedByRead(long offset, int length)
    {
        // Once per thread, for threads that send from files mincore cannot see; pinned, so the address never moves.
        var probe = t_probe ??= GC.AllocateUninitializedArray<byte>(128 * 1024, pinned: true);
        fixed (byte* buffer = probe)
        {
            while (length > 0)
            {
                int chunk = Math.Min(length, probe.Length);
                var vector = new Libc.IoVec { Base = buffer, Length = (nuint)chunk };
                nint read = Libc.preadv2((int)Handle.DangerousGetHandle(), &vector, 1, offset, Libc.RwfNoWait);
                if (read < 0) return System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != Libc.Eagain; // EOPNOTSUPP, ENOSYS: cannot tell
                if (read < chunk) return false; // a page further on is not cached, or the file ends early (truncated)
                offset += chunk;
                length -= chunk;
            }
        }
        return true;
    }

    private static unsafe bool MincoreSeesCache(SafeFileHandle handle, string path)
    {
        uint user = Libc.geteuid();
        if (user == 0) return true;
        byte* buffer = stackalloc byte[256]; // struct statx; stx_uid at byte 20
        if (Libc.statx((int)handle.DangerousGetHandle(), "", Libc.AtEmptyPath, Libc.StatxUid, buffer) == 0 && *(uint*)(buffer + 20) == user) return true;
        return Libc.faccessat(Libc.AtFdCwd, path, Libc.WriteOk, Libc.AtEaccess) == 0;
    }

    /// <summary>
    /// Linux reads at most max(read-ahead window, largest device request) of one POSIX_FADV_WILLNEED and drops the rest
    /// without an error; the window is 128 KiB by default, so advice is given in pieces that size.
    /// </summary>
    public const int AdviseChunkBytes = 128 * 1024;

    /// <summary>Starts reading this range of the file into the page cache and returns without waiting (POSIX_FADV_WILLNEED).</summary>
    public void AdviseWillNeed(long offset, long length)
    {
        int fd = (int)Handle.DangerousGetHandle();
        while (length > 0)
        {
            long chunk = Math.Min(length, AdviseChunkBytes);
            _ = Libc.posix_fadvise(fd, offset, chunk, Libc.FadvWillNeed);
            offset += chunk;
            length -= chunk;
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> (a regular file, inside <paramref name="beneath"/> when given) and, with
    /// <paramref name="map"/>, maps <paramref name="length"/> bytes of it. Holds two references: the pool's and the
    /// caller's lease. Throws IOException (errno in HResult) or UnauthorizedAccessException.
    /// </summary>
    public static OpenFile Open(FilePool pool, string path, string? beneath, long length, bool map)
    {
        int windowShift = pool.WindowShift;
        var handle = SafeFile.OpenRegular(path, beneath);
        if (!map || length == 0) return new OpenFile(pool, handle, 0, length) { _references = 2 };
        nint address = Libc.mmap(0, (nuint)length, Libc.ProtRead, Libc.MapShared, (int)handle.DangerousGetHandle(), 0);
        if (address == Libc.MapFailed)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new IOException($"cannot map {length} bytes: errno {errno}", errno);
        }
        // Swarms fetch a piece as consecutive 16 KiB blocks, so sequential read-ahead fits what peers do;
        // WILLNEED would pull whole files into the page cache, which a large library cannot afford.
        _ = Libc.madvise(address, (nuint)length, Libc.MadvSequential);
        // A mapping of the layout's length, not the file's current one: pages past a truncated end fail a send with
        // EFAULT (user code never reads them), so a file truncated under us never raises SIGBUS.
        var opened = new OpenFile(pool, handle, address, length) { _references = 2 };
        long windowBytes = 1L << windowShift;
        var windows = new MappedWindow[(int)((length + windowBytes - 1) >> windowShift)];
        for (int w = 0; w < windows.Length; w++)
        {
            long start = w * windowBytes;
            windows[w] = new MappedWindow(opened, address + (nint)start, (int)Math.Min(windowBytes, length - start));
        }
        opened.Windows = windows;
        opened._mincoreSeesCache = MincoreSeesCache(handle, path);
        int words = (int)((((length + (1L << ChunkShift) - 1) >> ChunkShift) + 63) >> 6);
        opened._touched = new ulong[words];
        opened._resident = new ulong[words];
        return opened;
    }

    /// <summary>A lease: succeeds while the opening is alive (in the pool, or still held by someone after eviction).</summary>
    public bool TryAddReference()
    {
        int current = Volatile.Read(ref _references);
        while (current > 0)
        {
            int seen = Interlocked.CompareExchange(ref _references, current + 1, current);
            if (seen == current) return true;
            current = seen;
        }
        return false;
    }

    public void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        if (left == 0) Close();
        // Only the pool holds it now: if sends holding files took the pool over its cap, shrink it back.
        else if (left == 1 && _pool.IsOverCapacity) _pool.Trim();
    }

    /// <summary>Drops the pool's reference only if nobody else holds one (eviction): true when it is now closed.</summary>
    public bool TryCloseIdle()
    {
        if (Interlocked.CompareExchange(ref _references, 0, 1) != 1) return false;
        Close();
        return true;
    }

    private void Close()
    {
        if (Address != 0) _ = Libc.munmap(Address, (nuint)Length);
        Handle.Dispose();
    }
}
