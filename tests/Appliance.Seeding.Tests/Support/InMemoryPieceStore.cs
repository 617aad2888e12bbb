using Appliance.Protocol.Metainfo;
using Appliance.Storage;

namespace Appliance.Seeding.Tests.Support;

/// <summary>
/// A piece store over one byte array holding the whole torrent. With segments on, each block is cut in two segments
/// (so the gather path is exercised with more than one vector per block), from a pinned array like a mapping.
/// </summary>
internal sealed class InMemoryPieceStore(TorrentMetainfo metainfo, byte[] data, bool segments = true) : PieceStore(metainfo)
{
    private readonly byte[] _data = Pinned(data);
    private string? _fault;

    public int FailReadsAfter { get; set; } = int.MaxValue;

    /// <summary>Blocks of this piece are refused as segments without a fault (like a block over more than 16 tiny files).</summary>
    public int NoSegmentsForPiece { get; set; } = -1;
    private int _reads;

    public override string? FaultReason => Volatile.Read(ref _fault);
    public override bool SupportsSegments => segments;

    public override bool TryGetSegments(int piece, int begin, int length, Span<BlockSegment> destination, out int count)
    {
        count = 0;
        if (piece == NoSegmentsForPiece) return false;
        if (!TryLocate(piece, begin, length, out long offset)) return false;
        int first = length / 2;
        destination[0] = new BlockSegment(_data.AsMemory((int)offset, first));
        destination[1] = new BlockSegment(_data.AsMemory((int)offset + first, length - first));
        count = first == 0 ? 1 : 2;
        if (first == 0) destination[0] = new BlockSegment(_data.AsMemory((int)offset, length));
        return true;
    }

    /// <summary>Blocks read (the pread path) on an epoll loop thread, where a read that waited for a disk would stall the loop.</summary>
    public int ReadsOnLoopThread => Volatile.Read(ref _readsOnLoopThread);
    private int _readsOnLoopThread;

    public override bool TryReadBlock(int piece, int begin, Span<byte> destination)
    {
        if (Networking.Tcp.Epoll.EpollEngine.IsLoopThread) Interlocked.Increment(ref _readsOnLoopThread);
        if (!TryLocate(piece, begin, destination.Length, out long offset)) return false;
        _data.AsSpan((int)offset, destination.Length).CopyTo(destination);
        return true;
    }

    public override void Fault(string reason) => Interlocked.CompareExchange(ref _fault, reason, null);

    protected override void Dispose(bool disposing) { }

    private bool TryLocate(int piece, int begin, int length, out long offset)
    {
        offset = (long)piece * Metainfo.PieceLength + begin;
        if (IsFaulted) return false;
        if (Interlocked.Increment(ref _reads) > FailReadsAfter)
        {
            Fault("injected read failure");
            return false;
        }
        return (uint)piece < (uint)Metainfo.PieceCount && begin >= 0 && length > 0 && begin + length <= Metainfo.PieceSize(piece);
    }

    private static byte[] Pinned(byte[] data)
    {
        var pinned = GC.AllocateUninitializedArray<byte>(data.Length, pinned: true);
        data.CopyTo(pinned, 0);
        return pinned;
    }
}
