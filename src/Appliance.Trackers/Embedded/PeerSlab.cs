namespace Appliance.Trackers.Embedded;

/// <summary>
/// The IPv4 peer lists of one shard's small swarms (up to <see cref="MaxLength"/> entries), as blocks carved from 2 KB
/// segments instead of one array each: an array costs a 24-byte header, which for a swarm of 10 peers is a quarter of
/// its 80 bytes of peers (2.4 MB at 100,000 such swarms). A block a swarm outgrows or shrinks out of goes on a free
/// list for its length, taken by the next swarm of the shard that needs that length. Swarms that grow together (each
/// gets its third peer, then each its fifth) leave free blocks of lengths no swarm needs again: once free entries pass an
/// eighth of those in use, the shard moves its swarms' blocks into a fresh slab (<see cref="IsSparse"/>,
/// <see cref="SwarmShard.CompactPeersIfSparse"/>) and the old one is left to the collector. Guarded by the shard's lock.
/// </summary>
internal sealed class PeerSlab
{
    public const int MaxLength = Swarm.LinearLimit + 1;

    // 256 entries: the last, partly used segment of each of the 256 shards wastes 1 KB on average.
    private const int SegmentBits = 8;
    private const int SegmentLength = 1 << SegmentBits;

    // A swarm keeps a handle in 25 bits (and the length in 6, the sign marking an overflow instead): 33 million entries a
    // shard, 8 billion in all.
    private const int MaxSegments = 1 << (25 - SegmentBits);

    private ulong[][] _segments = [];
    private int _segmentCount;

    // Entries of the last segment handed out.
    private int _used = SegmentLength;

    // _free[n]: the first free block of n entries, or -1; a free block's first entry holds the next one's handle.
    private readonly int[] _free = new int[MaxLength + 1];

    private int _liveEntries, _freeEntries;

    public PeerSlab() => _free.AsSpan().Fill(-1);

    /// <summary>Free blocks hold over an eighth as many entries as blocks in use (and more than 64): moving the blocks in
    /// use into a fresh slab costs a copy of them, paid for by the eighth freed since the last move.</summary>
    public bool IsSparse => _freeEntries > 64 && _freeEntries > _liveEntries / 8;

    /// <summary>The block at <paramref name="handle"/> (from <see cref="Rent"/>) of <paramref name="length"/> entries.</summary>
    public Span<ulong> Block(int handle, int length) =>
        length == 0 ? default : _segments[handle >> SegmentBits].AsSpan(handle & (SegmentLength - 1), length);

    /// <summary>A zeroed block of <paramref name="length"/> entries (1 to <see cref="MaxLength"/>); 0 gives no block.</summary>
    public int Rent(int length)
    {
        if (length == 0) return 0;
        _liveEntries += length;
        int head = _free[length];
        if (head >= 0)
        {
            ref ulong first = ref Block(head, 1)[0];
            _free[length] = (int)(long)first;
            _freeEntries -= length;
            first = 0;
            return head;
        }
        if (_used + length > SegmentLength)
        {
            // The rest of the segment (shorter than any block that did not fit) is a free block of its own length.
            if (_used < SegmentLength) Free(((_segmentCount - 1) << SegmentBits) | _used, SegmentLength - _used);
            if (_segmentCount == MaxSegments) throw new InvalidOperationException("a tracker shard holds at most 33 million small-swarm peers");
            if (_segmentCount == _segments.Length) Array.Resize(ref _segments, Math.Max(4, _segments.Length * 2));
            _segments[_segmentCount++] = new ulong[SegmentLength];
            _used = 0;
        }
        int handle = ((_segmentCount - 1) << SegmentBits) | _used;
        _used += length;
        return handle;
    }

    /// <summary>Puts a block back on its free list.</summary>
    public void Return(int handle, int length)
    {
        if (length == 0) return;
        _liveEntries -= length;
        Free(handle, length);
    }

    private void Free(int handle, int length)
    {
        var block = Block(handle, length);
        block.Clear();
        block[0] = (ulong)(long)_free[length];
        _free[length] = handle;
        _freeEntries += length;
    }
}
