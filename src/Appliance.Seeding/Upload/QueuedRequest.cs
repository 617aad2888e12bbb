using Appliance.Protocol.PeerWire;

namespace Appliance.Seeding.Upload;

/// <summary>A validated request waiting to be served, with its arrival time (Stopwatch ticks) for serve latency.</summary>
internal readonly record struct QueuedRequest(BlockRequest Block, long ArrivedAt);

/// <summary>
/// A peer's pending requests in arrival order: a ring buffer, allocated on the first request (idle peers never own one).
/// Not thread-safe; the session's lock guards it.
/// </summary>
internal sealed class RequestQueue(int capacity)
{
    private QueuedRequest[]? _items;
    private int _head;

    public int Count { get; private set; }
    public int Capacity { get; } = capacity;

    public bool TryEnqueue(QueuedRequest request)
    {
        if (Count >= Capacity) return false;
        _items ??= new QueuedRequest[Capacity];
        _items[(_head + Count) % Capacity] = request;
        Count++;
        return true;
    }

    public QueuedRequest Dequeue()
    {
        var item = _items![_head];
        _head = (_head + 1) % Capacity;
        Count--;
        return item;
    }

    public QueuedRequest Peek() => _items![_head];

    /// <summary>Removes the first queued request for exactly this block (cancel). O(n), and n is small and cancels rare.</summary>
    public bool Remove(BlockRequest block)
    {
        for (int i = 0; i < Count; i++)
        {
            int slot = (_head + i) % Capacity;
            if (_items![slot].Block != block) continue;
            for (int j = i; j < Count - 1; j++)
                _items[(_head + j) % Capacity] = _items[(_head + j + 1) % Capacity];
            Count--;
            return true;
        }
        return false;
    }
}
