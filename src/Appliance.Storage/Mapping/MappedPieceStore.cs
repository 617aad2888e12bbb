using System.Buffers;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;
using Appliance.Storage.Layout;
using Appliance.Storage.Pool;

namespace Appliance.Storage.Mapping;

/// <summary>
/// Serves blocks as zero-copy views of read-only shared mappings of the torrent's files, mapped when a block needs them
/// and unmapped when the shared <see cref="FilePool"/> needs room and nobody is sending from them.
/// SIGBUS safety: user code never dereferences a mapped page. Segments go to the kernel only (socket sends
/// pin the window and pass its address); if a file was truncated under the mapping, the kernel fails the send
/// with EFAULT instead of raising SIGBUS, the caller reports it with <see cref="PieceStore.Fault"/>, and the store
/// refuses every later request. Hashing and <see cref="PieceStore.TryReadBlock"/> use positional reads.
/// </summary>
public sealed class MappedPieceStore : FilePieceStore
{
    /// <summary>Largest window handed out as one Memory; a 1 GiB multiple keeps windows page-aligned.</summary>
    public const int DefaultWindowBytes = 1 << 30;

    private readonly int _windowShift;
    private int _disposed;

    private MappedPieceStore(TorrentMetainfo metainfo, FileHandles files) : base(metainfo, files)
    {
        _windowShift = files.Pool.WindowShift;
    }

    /// <summary>A store over <paramref name="files"/>, which must have been registered with map: true.</summary>
    internal static MappedPieceStore Open(TorrentMetainfo metainfo, FileHandles files) => new(metainfo, files);

    public override bool SupportsSegments => true;

    /// <summary>Bytes mapped now (files the pool holds open); page cache, not heap.</summary>
    public override long MappedBytes => Files.MappedBytes();

    /// <summary>
    /// Views of the block in the current mappings. Unpinned: a segment pinned later fails with ObjectDisposedException if
    /// its file was evicted in between; a send uses <see cref="TryPinSegments"/>, which cannot race eviction.
    /// </summary>
    public override bool TryGetSegments(int piece, int begin, int length, Span<BlockSegment> segments, out int count) =>
        Collect(piece, begin, length, segments, pins: default, out count);

    public override bool TryPinSegments(int piece, int begin, int length, Span<BlockSegment> segments, Span<MemoryHandle> pins, out int count) =>
        Collect(piece, begin, length, segments, pins, out count);

    // With pins, each file segment keeps the lease taken to find it (released by disposing the pin), so the mapping
    // stays between finding the segment and the send that reads it; without, the lease ends here.
    private bool Collect(int piece, int begin, int length, Span<BlockSegment> segments, Span<MemoryHandle> pins, out int count)
    {
        count = 0;
        bool pinning = !pins.IsEmpty;
        if (IsFaulted || Volatile.Read(ref _disposed) != 0 || !Layout.IsValidBlock(piece, begin, length)) return false;
        Span<FileSpan> spans = stackalloc FileSpan[MaxSegmentsPerBlock];
        int spanCount = Layout.MapRange(Layout.PieceOffset(piece) + begin, length, spans, out long covered);
        if (covered != length) return false;
        if (pinning && pins.Length < Math.Min(segments.Length, MaxSegmentsPerBlock)) throw new ArgumentException("fewer pins than segments", nameof(pins));
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
                    if (count == segments.Length || count == MaxSegmentsPerBlock) return Abandon(pins, ref count);
                    int run = Math.Min(remaining, ZeroPage.Length);
                    var zeros = ZeroPage.Zeros[..run];
                    if (pinning) pins[count] = zeros.Pin();
                    segments[count++] = new BlockSegment(zeros);
                    remaining -= run;
                }
                continue;
            }
            var entry = Files.Entry(span.FileIndex)!;
            var open = entry.TryLease(out _);
            if (open is null) return Abandon(pins, ref count); // cannot be reopened: fails this block only (counted by the pool)
            open.MarkTouched(offset, remaining);
            bool leaseUsed = false;
            try
            {
                while (remaining > 0)
                {
                    if (count == segments.Length || count == MaxSegmentsPerBlock) return Abandon(pins, ref count);
                    int window = (int)(offset >> _windowShift);
                    int inWindow = (int)(offset & ((1L << _windowShift) - 1));
                    var mapped = open.Windows[window];
                    var memory = mapped.Memory;
                    int run = Math.Min(remaining, memory.Length - inWindow);
                    if (pinning)
                    {
                        // The first segment of this file takes the lease; a further one (a file over several windows) adds one.
                        if (leaseUsed && !open.TryAddReference()) return Abandon(pins, ref count);
                        leaseUsed = true;
                        pins[count] = mapped.PinLeased(inWindow);
                    }
                    segments[count++] = new BlockSegment(memory.Slice(inWindow, run));
                    offset += run;
                    remaining -= run;
                }
            }
            finally
            {
                if (!leaseUsed) open.Release();
            }
        }
        return true;
    }

    /// <summary>
    /// Resident checks in a row that found every page cached before the store stops checking: a store whose content is
    /// in memory pays no mincore per block, and a store that goes cold again is caught by <see cref="MarkCold"/>.
    /// </summary>
    public const int WarmAfterResidentChecks = 4096;

    // Content is assumed cold when opened (a fast-resumed torrent's data has not been read since boot) and after a send
    // that took a major fault; it is assumed warm after WarmAfterResidentChecks cached blocks in a row.
    private int _cold = 1;
    private int _residentStreak;

    /// <summary>Whether blocks are being checked for residency now (the content was opened or seen cold).</summary>
    public bool ChecksResidency => Volatile.Read(ref _cold) != 0;

    public override void MarkCold()
    {
        Volatile.Write(ref _residentStreak, 0);
        if (Volatile.Read(ref _cold) == 0) Volatile.Write(ref _cold, 1);
    }

    public override bool IsResident(int piece, int begin, int length)
    {
        if (Volatile.Read(ref _cold) == 0) return true;
        if (!ForEachFileSpan(piece, begin, length, static (open, offset, run) => open.IsResident(offset, run)))
        {
            Volatile.Write(ref _residentStreak, 0);
            return false;
        }
        if (Interlocked.Increment(ref _residentStreak) >= WarmAfterResidentChecks) Volatile.Write(ref _cold, 0);
        return true;
    }

    public override void AdviseWillNeed(int piece, int begin, int length) =>
        ForEachFileSpan(piece, begin, length, static (open, offset, run) =>
        {
            open.AdviseWillNeed(offset, run);
            return true;
        });

    // Calls visit for each file run of the block (pad files have no pages) under a lease; stops at the first false.
    // True when the block is invalid or a file cannot be leased: the send path then reports it the way it always did.
    private bool ForEachFileSpan(int piece, int begin, int length, Func<OpenFile, long, int, bool> visit)
    {
        if (IsFaulted || Volatile.Read(ref _disposed) != 0 || !Layout.IsValidBlock(piece, begin, length)) return true;
        Span<FileSpan> spans = stackalloc FileSpan[MaxSegmentsPerBlock];
        int spanCount = Layout.MapRange(Layout.PieceOffset(piece) + begin, length, spans, out _);
        for (int s = 0; s < spanCount; s++)
        {
            var span = spans[s];
            if (Layout.Files[span.FileIndex].IsPad) continue;
            var open = Files.Entry(span.FileIndex)?.TryLease(out _);
            if (open is null) continue;
            try
            {
                if (!visit(open, span.FileOffset, span.Length)) return false;
            }
            finally
            {
                open.Release();
            }
        }
        return true;
    }

    private static bool Abandon(Span<MemoryHandle> pins, ref int count)
    {
        if (!pins.IsEmpty)
        {
            for (int i = 0; i < count; i++) pins[i].Dispose();
        }
        count = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        base.Dispose(disposing);
    }
}
