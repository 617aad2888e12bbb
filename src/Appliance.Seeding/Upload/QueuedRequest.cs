using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Appliance.Protocol.PeerWire;

namespace Appliance.Seeding.Upload;

/// <summary>A validated request waiting to be served, with its arrival time (Stopwatch ticks) for serve latency.</summary>
internal readonly record struct QueuedRequest(BlockRequest Block, long ArrivedAt);

/// <summary>
/// A peer's pending requests in arrival order: a ring buffer, allocated on the first request (idle peers never own one)
/// and grown by doubling as the peer's pipeline deepens, so a peer keeping 128 requests in flight owns 3 KiB, not the
/// worst case of the request limit (at 10,000 peers that difference is hundreds of megabytes).
/// A cancel finds its block through an index instead of scanning the queue: it is counted against the block and the
/// oldest copy is dropped when it reaches the head, so a burst of cancels costs O(1) each. The index is built by the
/// first cancel (most peers never cancel, and keeping it costs a hash insert and remove per block). Cancelled entries
/// still hold ring slots; the ring has room for as many again as the queue's capacity and is compacted when they fill
/// it. Not thread-safe; the session's lock guards it.
/// </summary>
internal sealed class RequestQueue(int capacity)
{
    private const int InitialSlots = 16;

    private QueuedRequest[]? _items;
    private Dictionary<BlockRequest, Copies>? _index; // null until the first cancel: until then every entry is live
    private int _head;
    private int _used; // ring slots in use: live requests and cancelled ones not yet dropped

    public int Count { get; private set; }
    public int Capacity { get; } = capacity;

    // Live requests plus as many cancelled ones (see Compact).
    private int MaxSlots => (int)Math.Min(2L * Capacity, Array.MaxLength);

    public bool TryEnqueue(QueuedRequest request)
    {
        if (Count >= Capacity) return false;
        _items ??= new QueuedRequest[Math.Min(InitialSlots, MaxSlots)];
        if (_used == _items.Length)
        {
            if (_items.Length < MaxSlots) Grow();
            else Compact();
        }
        _items[(_head + _used) % _items.Length] = request;
        _used++;
        Count++;
        if (_index is not null) CollectionsMarshal.GetValueRefOrAddDefault(_index, request.Block, out _).Live++;
        return true;
    }

    public QueuedRequest Dequeue()
    {
        SkipCancelled();
        var item = _items![_head];
        _head = (_head + 1) % _items.Length;
        _used--;
        Count--;
        Forget(item.Block, cancelled: false);
        return item;
    }

    public QueuedRequest Peek()
    {
        SkipCancelled();
        return _items![_head];
    }

    /// <summary>Copies the first queued requests, oldest first, into <paramref name="destination"/> (cancelled ones may be among them).</summary>
    public int CopyTo(Span<BlockRequest> destination)
    {
        int count = Math.Min(_used, destination.Length);
        for (int i = 0; i < count; i++) destination[i] = _items![(_head + i) % _items.Length].Block;
        return count;
    }

    /// <summary>Removes the oldest queued request for exactly this block (cancel), in constant time.</summary>
    public bool Remove(BlockRequest block)
    {
        if (_used == 0) return false;
        _index ??= BuildIndex();
        ref var copies = ref CollectionsMarshal.GetValueRefOrNullRef(_index, block);
        if (Unsafe.IsNullRef(ref copies) || copies.Live == copies.Cancelled) return false;
        copies.Cancelled++;
        Count--;
        return true;
    }

    // Before the first cancel every entry in the ring is live.
    private Dictionary<BlockRequest, Copies> BuildIndex()
    {
        var index = new Dictionary<BlockRequest, Copies>(_used);
        for (int i = 0; i < _used; i++)
            CollectionsMarshal.GetValueRefOrAddDefault(index, _items![(_head + i) % _items.Length].Block, out _).Live++;
        return index;
    }

    /// <summary>Drops cancelled entries at the head, so the head is a live request.</summary>
    private void SkipCancelled()
    {
        if (_index is null) return;
        while (_used > 0)
        {
            var block = _items![_head].Block;
            ref var copies = ref CollectionsMarshal.GetValueRefOrNullRef(_index, block);
            if (copies.Cancelled == 0) return;
            _head = (_head + 1) % _items.Length;
            _used--;
            Forget(block, cancelled: true);
        }
    }

    private void Forget(BlockRequest block, bool cancelled)
    {
        if (_index is null) return;
        ref var copies = ref CollectionsMarshal.GetValueRefOrNullRef(_index, block);
        copies.Live--;
        if (cancelled) copies.Cancelled--;
        if (copies.Live == 0) _index.Remove(block);
    }

    // The ring is full and below its largest size: the same entries, in order, in one twice as long.
    private void Grow()
    {
        var items = _items!;
        var grown = new QueuedRequest[(int)Math.Min(2L * items.Length, MaxSlots)];
        for (int i = 0; i < _used; i++) grown[i] = items[(_head + i) % items.Length];
        _items = grown;
        _head = 0;
    }

    /// <summary>
    /// Keeps the live requests in order and drops the cancelled ones (the oldest copy of a cancelled block first). Only
    /// reached once the ring is at its largest and cancelled entries fill as many slots as the queue holds, so its copy
    /// is rare and amortised.
    /// </summary>
    private void Compact()
    {
        var items = _items!;
        var fresh = new QueuedRequest[items.Length];
        int kept = 0;
        for (int i = 0; i < _used; i++)
        {
            var item = items[(_head + i) % items.Length];
            ref var copies = ref CollectionsMarshal.GetValueRefOrNullRef(_index!, item.Block);
            if (copies.Cancelled > 0)
            {
                Forget(item.Block, cancelled: true);
                continue;
            }
            fresh[kept++] = item;
        }
        _items = fresh;
        _head = 0;
        _used = kept;
    }

    private struct Copies
    {
        public int Live;      // entries of this block in the ring, cancelled ones included
        public int Cancelled; // of those, how many a cancel has claimed (the oldest ones)
    }
}
