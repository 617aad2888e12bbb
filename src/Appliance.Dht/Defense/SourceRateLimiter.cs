namespace Appliance.Dht.Defense;

/// <summary>
/// A token bucket per source address (IPv4, or IPv6 as its 128 bits) for incoming packets. The table of sources is
/// capped and kept in least-recently-seen order, so a new source evicts the stalest in constant time: a flood of
/// spoofed sources costs the same per packet as anything else, and a source that keeps sending stays at the fresh end
/// with its empty bucket.
/// </summary>
public sealed class SourceRateLimiter
{
    private const int None = -1;
    private readonly double _packetsPerSecond;
    private readonly double _burst;
    private readonly int _maxSources;
    private readonly TimeProvider _time;
    private readonly Dictionary<UInt128, int> _slots = [];
    // One entry per slot; _older/_newer link the slots from least (_stalest) to most (_freshest) recently seen.
    private Entry[] _entries;
    private int _stalest = None;
    private int _freshest = None;

    public SourceRateLimiter(double packetsPerSecond, double burst, int maxSources, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSources, 1);
        _packetsPerSecond = packetsPerSecond;
        _burst = burst;
        _maxSources = maxSources;
        _time = time;
        _entries = new Entry[Math.Min(maxSources, 256)];
    }

    public int TrackedSources => _slots.Count;

    public bool TryAcquire(UInt128 address)
    {
        long now = _time.GetUtcNow().UtcTicks;
        if (!_slots.TryGetValue(address, out int slot))
        {
            slot = _slots.Count < _maxSources ? NewSlot() : ReuseStalest();
            _entries[slot].Address = address;
            _entries[slot].Tokens = _burst - 1;
            _entries[slot].LastTicks = now;
            _slots[address] = slot;
            LinkFreshest(slot);
            return true;
        }
        ref var entry = ref _entries[slot];
        double elapsed = (now - entry.LastTicks) / (double)TimeSpan.TicksPerSecond;
        entry.Tokens = Math.Min(_burst, entry.Tokens + elapsed * _packetsPerSecond);
        entry.LastTicks = now;
        Unlink(slot);
        LinkFreshest(slot);
        if (entry.Tokens < 1) return false;
        entry.Tokens -= 1;
        return true;
    }

    private int NewSlot()
    {
        int slot = _slots.Count;
        if (slot == _entries.Length) Array.Resize(ref _entries, Math.Min(_maxSources, _entries.Length * 2));
        return slot;
    }

    private int ReuseStalest()
    {
        int slot = _stalest;
        _slots.Remove(_entries[slot].Address);
        Unlink(slot);
        return slot;
    }

    private void Unlink(int slot)
    {
        ref var entry = ref _entries[slot];
        if (entry.Older != None) _entries[entry.Older].Newer = entry.Newer;
        else _stalest = entry.Newer;
        if (entry.Newer != None) _entries[entry.Newer].Older = entry.Older;
        else _freshest = entry.Older;
    }

    private void LinkFreshest(int slot)
    {
        _entries[slot].Older = _freshest;
        _entries[slot].Newer = None;
        if (_freshest != None) _entries[_freshest].Newer = slot;
        _freshest = slot;
        if (_stalest == None) _stalest = slot;
    }

    private struct Entry
    {
        public UInt128 Address;
        public double Tokens;
        public long LastTicks;
        public int Older;
        public int Newer;
    }
}
