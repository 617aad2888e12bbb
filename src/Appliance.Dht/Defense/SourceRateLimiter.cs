namespace Appliance.Dht.Defense;

/// <summary>
/// A token bucket per source address (IPv4, or IPv6 as its 128 bits) for incoming packets. The table of sources is capped; when it is
/// full of recently active sources, packets from new sources are refused until entries go idle.
/// </summary>
public sealed class SourceRateLimiter(double packetsPerSecond, double burst, int maxSources, TimeProvider time)
{
    private static readonly long IdleTicks = TimeSpan.FromMinutes(1).Ticks;
    private readonly Dictionary<UInt128, Bucket> _sources = [];

    public int TrackedSources => _sources.Count;

    public bool TryAcquire(UInt128 address)
    {
        long now = time.GetUtcNow().UtcTicks;
        ref var bucket = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_sources, address);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref bucket))
        {
            if (_sources.Count >= maxSources && !EvictIdle(now)) return false;
            _sources[address] = new Bucket { Tokens = burst - 1, LastTicks = now };
            return true;
        }
        double elapsed = (now - bucket.LastTicks) / (double)TimeSpan.TicksPerSecond;
        bucket.Tokens = Math.Min(burst, bucket.Tokens + elapsed * packetsPerSecond);
        bucket.LastTicks = now;
        if (bucket.Tokens < 1) return false;
        bucket.Tokens -= 1;
        return true;
    }

    private bool EvictIdle(long now)
    {
        int before = _sources.Count;
        foreach (var (address, bucket) in _sources)
        {
            if (now - bucket.LastTicks > IdleTicks) _sources.Remove(address);
        }
        return _sources.Count < before;
    }

    private struct Bucket
    {
        public double Tokens;
        public long LastTicks;
    }
}
