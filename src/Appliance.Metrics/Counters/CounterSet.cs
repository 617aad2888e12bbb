using System.Runtime.CompilerServices;

namespace Appliance.Metrics.Counters;

/// <summary>
/// The appliance's one counter model (libtorrent's performance counters): a domain declares an enum of what it counts,
/// the values live in one array indexed by that enum, an event is one interlocked add (no lock, no allocation), and
/// the metrics registrars read the array at scrape time. A value may be a count (only grows) or a level (a gauge:
/// goes up and down, or is set). Domains derive their counters class from it to add the events they record.
/// The enum's values must be 0..N-1.
/// </summary>
public class CounterSet<TCounter> where TCounter : unmanaged, Enum
{
    private static readonly int Size = CheckedSize();

    private readonly long[] _values = new long[Size];

    public int Count => _values.Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment(TCounter counter) => Interlocked.Increment(ref _values[Index(counter)]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Decrement(TCounter counter) => Interlocked.Decrement(ref _values[Index(counter)]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(TCounter counter, long amount) => Interlocked.Add(ref _values[Index(counter)], amount);

    /// <summary>For levels read from elsewhere (a table size, a swarm count), written by one owner.</summary>
    public void Set(TCounter counter, long value) => Volatile.Write(ref _values[Index(counter)], value);

    /// <summary>Racy by design: a scrape may see a count one event behind.</summary>
    public long Read(TCounter counter) => Volatile.Read(ref _values[Index(counter)]);

    public long Total()
    {
        long total = 0;
        for (int i = 0; i < _values.Length; i++) total += Volatile.Read(ref _values[i]);
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Index(TCounter counter) => Unsafe.SizeOf<TCounter>() switch
    {
        1 => Unsafe.As<TCounter, byte>(ref counter),
        2 => Unsafe.As<TCounter, ushort>(ref counter),
        _ => Unsafe.As<TCounter, int>(ref counter),
    };

    private static int CheckedSize()
    {
        var values = Enum.GetValues<TCounter>();
        foreach (var value in values)
        {
            if ((uint)Index(value) >= (uint)values.Length)
            {
                throw new InvalidOperationException($"{typeof(TCounter).Name}.{value}: counter enums must number their values 0..N-1");
            }
        }
        return values.Length;
    }
}
