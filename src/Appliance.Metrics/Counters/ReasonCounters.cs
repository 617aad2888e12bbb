using System.Runtime.CompilerServices;

namespace Appliance.Metrics.Counters;

/// <summary>
/// One counter per value of an enum (reasons, results, query types), the libtorrent performance-counter
/// model: an array indexed by the enum, one interlocked increment per event, read at scrape time.
/// The enum's values must be 0..N-1.
/// </summary>
public sealed class ReasonCounters<TReason> where TReason : unmanaged, Enum
{
    private readonly long[] _counts = new long[Enum.GetValues<TReason>().Length];

    public int Count => _counts.Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment(TReason reason) => Interlocked.Increment(ref _counts[Index(reason)]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(TReason reason, long amount) => Interlocked.Add(ref _counts[Index(reason)], amount);

    public long Read(TReason reason) => Volatile.Read(ref _counts[Index(reason)]);

    public long ReadAt(int index) => Volatile.Read(ref _counts[index]);

    public long Total()
    {
        long total = 0;
        for (int i = 0; i < _counts.Length; i++) total += Volatile.Read(ref _counts[i]);
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Index(TReason reason) => Unsafe.SizeOf<TReason>() switch
    {
        1 => Unsafe.As<TReason, byte>(ref reason),
        2 => Unsafe.As<TReason, ushort>(ref reason),
        _ => Unsafe.As<TReason, int>(ref reason),
    };
}
