using System.Runtime.InteropServices;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;
using Appliance.Storage.Layout;

namespace Appliance.Storage.Mapping;

/// <summary>
/// Serves blocks as zero-copy views of read-only shared mappings of the torrent's files.
/// SIGBUS safety: user code never dereferences a mapped page. Segments go to the kernel only (socket sends
/// pin the window and pass its address); if a file was truncated under the mapping, the kernel fails the send
/// with EFAULT instead of raising SIGBUS, the caller reports it with <see cref="PieceStore.Fault"/>, and the store
/// refuses every later request. Hashing and <see cref="PieceStore.TryReadBlock"/> use positional reads.
/// </summary>
public sealed class MappedPieceStore : FilePieceStore
{
    /// <summary>Largest window handed out as one Memory; a 1 GiB multiple keeps windows page-aligned.</summary>
    public const int DefaultWindowBytes = 1 << 30;

    private readonly FileMapping?[] _mappings;
    private readonly int _windowShift;
    private long _mappedBytes;
    private int _references = 1; // the store itself; each Pin() adds one
    private int _disposed;

    private MappedPieceStore(TorrentMetainfo metainfo, FileHandles files, int windowBytes) : base(metainfo, files)
    {
        _windowShift = System.Numerics.BitOperations.Log2((uint)windowBytes);
        _mappings = new FileMapping?[Layout.Files.Count];
    }

    /// <summary>Maps every non-empty file (window size must be a power of two; tests use small ones).</summary>
    internal static MappedPieceStore Open(TorrentMetainfo metainfo, FileHandles files, int windowBytes = DefaultWindowBytes)
    {
        if (!System.Numerics.BitOperations.IsPow2(windowBytes)) throw new ArgumentException("window size must be a power of two", nameof(windowBytes));
        var store = new MappedPieceStore(metainfo, files, windowBytes);
        try
        {
            store.MapAll(windowBytes);
        }
        catch
        {
            store.Dispose();
            throw;
        }
        return store;
    }

    public override bool SupportsSegments => true;

    public override long MappedBytes => _mappedBytes;

    public override bool TryGetSegments(int piece, int begin, int length, Span<BlockSegment> segments, out int count)
    {
        count = 0;
        if (IsFaulted || Volatile.Read(ref _disposed) != 0 || !Layout.IsValidBlock(piece, begin, length)) return false;
        Span<FileSpan> spans = stackalloc FileSpan[MaxSegmentsPerBlock];
        int spanCount = Layout.MapRange(Layout.PieceOffset(piece) + begin, length, spans, out long covered);
        if (covered != length) return false;
        for (int s = 0; s < spanCount; s++)
        {
            var span = spans[s];
            long offset = span.FileOffset;
            int remaining = span.Length;
            if (Layout.Files[span.FileIndex].IsPad)
            {
                // Pad bytes come from one shared read-only zero mapping: no disk, no copy, no allocation.
                while (remaining > 0)
                {
                    if (count == segments.Length || count == MaxSegmentsPerBlock) { count = 0; return false; }
                    int run = Math.Min(remaining, ZeroPage.Length);
                    segments[count++] = new BlockSegment(ZeroPage.Zeros[..run]);
                    remaining -= run;
                }
                continue;
            }
            var mapping = _mappings[span.FileIndex]!;
            while (remaining > 0)
            {
                if (count == segments.Length || count == MaxSegmentsPerBlock) { count = 0; return false; }
                int window = (int)(offset >> _windowShift);
                int inWindow = (int)(offset & ((1L << _windowShift) - 1));
                var memory = mapping.Windows[window].Memory;
                int run = Math.Min(remaining, memory.Length - inWindow);
                segments[count++] = new BlockSegment(memory.Slice(inWindow, run));
                offset += run;
                remaining -= run;
            }
        }
        return true;
    }

    /// <summary>
    /// Succeeds while the pages are mapped: before Dispose, or after it while earlier pins are still held (a send
    /// racing a torrent's removal). Fails once everything is unmapped.
    /// </summary>
    internal bool TryAddReference()
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

    internal void ReleaseReference()
    {
        if (Interlocked.Decrement(ref _references) == 0) UnmapAll();
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        base.Dispose(disposing);
        ReleaseReference();
    }

    private void MapAll(int windowBytes)
    {
        long mapped = 0;
        for (int i = 0; i < _mappings.Length; i++)
        {
            var file = Layout.Files[i];
            if (file.Length == 0 || file.IsPad) continue;
            var handle = Files[i]!;
            bool added = false;
            handle.DangerousAddRef(ref added);
            nint address;
            try
            {
                address = Libc.mmap(0, (nuint)file.Length, Libc.ProtRead, Libc.MapShared, (int)handle.DangerousGetHandle(), 0);
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
            if (address == Libc.MapFailed)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"cannot map '{file.RelativePath}' ({file.Length} bytes): errno {errno}", errno);
            }
            // Swarms fetch a piece as consecutive 16 KiB blocks, so sequential read-ahead fits what peers do;
            // WILLNEED would pull whole files into the page cache at start, which a large library cannot afford.
            _ = Libc.madvise(address, (nuint)file.Length, Libc.MadvSequential);
            int windowCount = (int)((file.Length + windowBytes - 1) / windowBytes);
            var windows = new MappedWindow[windowCount];
            for (int w = 0; w < windowCount; w++)
            {
                long start = (long)w * windowBytes;
                windows[w] = new MappedWindow(this, address + (nint)start, (int)Math.Min(windowBytes, file.Length - start));
            }
            _mappings[i] = new FileMapping(address, file.Length, windows);
            mapped += file.Length;
        }
        _mappedBytes = mapped;
    }

    // Runs once, when the last reference goes. The records stay: a TryGetSegments racing Dispose may still slice a
    // window (harmless: pinning it fails now that the count is zero).
    private void UnmapAll()
    {
        foreach (var mapping in _mappings)
        {
            if (mapping is not null) _ = Libc.munmap(mapping.Address, (nuint)mapping.Length);
        }
    }

    private sealed record FileMapping(nint Address, long Length, MappedWindow[] Windows);
}
