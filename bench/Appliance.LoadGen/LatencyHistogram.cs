namespace Appliance.LoadGen;

/// <summary>
/// Log-linear histogram of microseconds: exact below 128 µs, then 64 buckets per power of two
/// (under 1.6% error), so recording is an index computation and an increment.
/// </summary>
public sealed class LatencyHistogram
{
    private const int Linear = 128;
    private const int SubBuckets = 64;
    private const int Octaves = 40;
    private readonly long[] _counts = new long[Linear + Octaves * SubBuckets];

    public long Count { get; private set; }

    public void Record(long microseconds)
    {
        if (microseconds < 0) microseconds = 0;
        _counts[Index(microseconds)]++;
        Count++;
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        Count += other.Count;
    }

    public long Percentile(double p)
    {
        if (Count == 0) return 0;
        var rank = (long)Math.Ceiling(p / 100.0 * Count);
        if (rank < 1) rank = 1;
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank) return UpperBound(i);
        }
        return UpperBound(_counts.Length - 1);
    }

    private static int Index(long v)
    {
        if (v < Linear) return (int)v;
        var exponent = 63 - (int)long.LeadingZeroCount(v);
        var octave = exponent - 6;
        if (octave >= Octaves) return Linear + Octaves * SubBuckets - 1;
        var sub = (int)(v >> (exponent - 6)) - SubBuckets;
        return Linear + (octave - 1) * SubBuckets + sub;
    }

    private static long UpperBound(int index)
    {
        if (index < Linear) return index;
        var octave = (index - Linear) / SubBuckets + 1;
        var sub = (index - Linear) % SubBuckets;
        return ((long)(SubBuckets + sub + 1) << octave) - 1;
    }
}
