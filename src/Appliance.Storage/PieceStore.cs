using System.Buffers;
using Appliance.Protocol.Metainfo;

namespace Appliance.Storage;

/// <summary>
/// Read access to one torrent's data for seeding. Implementations: a memory-mapped store (zero-copy segments)
/// and a pread store (copies into the caller's buffer), chosen per deployment (--storage mmap|pread).
/// Thread-safe for concurrent readers. A store that detects its files changed under it becomes faulted and
/// refuses every further read; it never crashes the process.
/// </summary>
public abstract class PieceStore : IDisposable
{
    /// <summary>Most segments one block can need: a 128 KiB block crossing many tiny files is cut to this many.</summary>
    public const int MaxSegmentsPerBlock = 16;

    protected PieceStore(TorrentMetainfo metainfo) => Metainfo = metainfo;

    public TorrentMetainfo Metainfo { get; }

    /// <summary>Why the store stopped serving, or null while healthy.</summary>
    public abstract string? FaultReason { get; }

    public bool IsFaulted => FaultReason is not null;

    /// <summary>True when the store can hand out zero-copy <see cref="BlockSegment"/>s (the mapped store).</summary>
    public abstract bool SupportsSegments { get; }

    /// <summary>Bytes of address space mapped from the torrent's files (0 for the pread store); page cache, not heap.</summary>
    public virtual long MappedBytes => 0;

    /// <summary>
    /// Zero-copy view of (piece, begin, length) as up to <see cref="MaxSegmentsPerBlock"/> segments.
    /// Returns false when the range is outside the piece, the store is faulted, segments are unsupported, or the block
    /// crosses more than <see cref="MaxSegmentsPerBlock"/> runs (many tiny files): for a valid block of a healthy store,
    /// serve it with <see cref="TryReadBlock"/> instead. Allocates nothing.
    /// </summary>
    public abstract bool TryGetSegments(int piece, int begin, int length, Span<BlockSegment> segments, out int count);

    /// <summary>
    /// <see cref="TryGetSegments"/> with each segment already pinned in <paramref name="pins"/> (at least as long as
    /// <paramref name="segments"/>; the caller disposes the first <paramref name="count"/>). What a send uses: the mapping
    /// cannot be closed between finding a segment and pinning it. Allocates nothing.
    /// </summary>
    public virtual bool TryPinSegments(int piece, int begin, int length, Span<BlockSegment> segments, Span<MemoryHandle> pins, out int count)
    {
        if (!TryGetSegments(piece, begin, length, segments, out count)) return false;
        for (int i = 0; i < count; i++) pins[i] = segments[i].Memory.Pin();
        return true;
    }

    /// <summary>
    /// Copies (piece, begin, length) into <paramref name="destination"/> with positional reads (never through a mapping,
    /// so a truncated file yields false and a fault, not SIGBUS). Allocates nothing.
    /// </summary>
    public abstract bool TryReadBlock(int piece, int begin, Span<byte> destination);

    /// <summary>
    /// Whether the block's bytes are in the page cache, so a send from the mapping will not wait for the disk. Only the
    /// mapped store checks, and only while it believes its content cold (<see cref="MarkCold"/>); otherwise, and for
    /// the pread store, true without a system call. A true answer is a hint: pages can still be evicted before the send.
    /// </summary>
    public virtual bool IsResident(int piece, int begin, int length) => true;

    /// <summary>Starts reading the block into the page cache without waiting for it (POSIX_FADV_WILLNEED). Allocates nothing.</summary>
    public virtual void AdviseWillNeed(int piece, int begin, int length)
    {
    }

    /// <summary>A send from this store read pages from disk: <see cref="IsResident"/> checks blocks again from now on.</summary>
    public virtual void MarkCold()
    {
    }

    /// <summary>
    /// Checks the files still have the sizes the torrent says (cheap: one fstat per file) and faults the store if not,
    /// so a truncation is noticed before a peer asks for the missing bytes. Returns <see cref="FaultReason"/>.
    /// </summary>
    public virtual string? CheckFiles() => FaultReason;

    /// <summary>Marks the store faulted (for example when a socket send from its mapping failed with EFAULT).</summary>
    public abstract void Fault(string reason);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}
