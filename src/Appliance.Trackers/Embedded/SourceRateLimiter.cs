using System.Numerics;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// Announces per second per source (an IPv4 address or an IPv6 /64), in a fixed table of one-second windows with no keys:
/// memory stays the same however many addresses send, and a source that shares a bucket with a flooder (1 in
/// <see cref="Buckets"/> by a keyed hash) is limited with it. Lock-free: one compare-and-swap per announce.
/// </summary>
internal sealed class SourceRateLimiter(int perSecond)
{
    public const int Buckets = 1 << 14;

    // Each bucket: the window's second in the high 32 bits, announces seen in it in the low 32.
    private readonly ulong[] _windows = new ulong[Buckets];
    private readonly ulong _seed = (ulong)Random.Shared.NextInt64() | 1;

    public bool TryAcquire(ulong source, uint second)
    {
        ref ulong bucket = ref _windows[(int)(BitOperations.RotateLeft((source ^ _seed) * 0x9E3779B97F4A7C15UL, 17) & (Buckets - 1))];
        while (true)
        {
            ulong seen = Volatile.Read(ref bucket);
            uint count = (uint)(seen >> 32) == second ? (uint)seen : 0;
            if (count >= (uint)perSecond) return false;
            if (Interlocked.CompareExchange(ref bucket, ((ulong)second << 32) | (count + 1), seen) == seen) return true;
        }
    }
}
