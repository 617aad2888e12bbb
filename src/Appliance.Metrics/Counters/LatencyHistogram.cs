using System.Diagnostics;

namespace Appliance.Metrics.Counters;

/// <summary>
/// A latency histogram a hot path can record into for free: fixed bucket bounds, one interlocked add per
/// bucket, count and sum, no allocation and no lock. The exporter reads it at scrape time.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Bucket upper bounds in seconds (50 µs .. 2.5 s): block serving from page cache to a cold disk.</summary>
    public static readonly double[] DefaultBoundsSeconds =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private readonly long[] _boundTicks;
    private readonly long[] _buckets; // last one is +Inf
    private long _sumTicks;

    public LatencyHistogram() : this(DefaultBoundsSeconds)
    {
    }

    public LatencyHistogram(double[] boundsSeconds)
    {
        ArgumentNullException.ThrowIfNull(boundsSeconds);
        if (boundsSeconds.Length == 0) throw new ArgumentException("at least one bucket bound is needed", nameof(boundsSeconds));
        for (int i = 1; i < boundsSeconds.Length; i++)
        {
            if (boundsSeconds[i] <= boundsSeconds[i - 1]) throw new ArgumentException("bucket bounds must increase", nameof(boundsSeconds));
        }
        BoundsSeconds = (double[])boundsSeconds.Clone();
        _boundTicks = new long[boundsSeconds.Length];
        for (int i = 0; i < boundsSeconds.Length; i++) _boundTicks[i] = (long)(boundsSeconds[i] * Stopwatch.Frequency);
        _buckets = new long[boundsSeconds.Length + 1];
    }

    public IReadOnlyList<double> BoundsSeconds { get; }

    /// <summary>Records one duration measured with <see cref="Stopwatch.GetTimestamp"/> differences.</summary>
    public void RecordTicks(long elapsedTicks)
    {
        if (elapsedTicks < 0) elapsedTicks = 0;
        Interlocked.Increment(ref _buckets[BucketOf(elapsedTicks)]);
        Interlocked.Add(ref _sumTicks, elapsedTicks);
    }

    /// <summary>
    /// Records several durations with one atomic add per bucket they fall in and one for the sum, instead of two per
    /// duration: a send batch's blocks mostly share a bucket or two, and the counters are shared by every loop thread.
    /// </summary>
    public void RecordTicks(ReadOnlySpan<long> elapsedTicks)
    {
        Span<int> counts = stackalloc int[_buckets.Length];
        counts.Clear();
        long sum = 0;
        foreach (long ticks in elapsedTicks)
        {
            long elapsed = Math.Max(ticks, 0);
            counts[BucketOf(elapsed)]++;
            sum += elapsed;
        }
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] != 0) Interlocked.Add(ref _buckets[i], counts[i]);
        }
        if (elapsedTicks.Length > 0) Interlocked.Add(ref _sumTicks, sum);
    }

    private int BucketOf(long elapsedTicks)
    {
        long[] bounds = _boundTicks;
        int i = 0;
        while (i < bounds.Length && elapsedTicks > bounds[i]) i++;
        return i;
    }

    /// <summary>Records the time since <paramref name="startTimestamp"/> (a <see cref="Stopwatch.GetTimestamp"/> value).</summary>
    public void RecordSince(long startTimestamp) => RecordTicks(Stopwatch.GetTimestamp() - startTimestamp);

    /// <summary>Copies the non-cumulative bucket counts (the last is +Inf) and returns the sum in seconds.</summary>
    public double Read(Span<long> buckets)
    {
        if (buckets.Length < _buckets.Length) throw new ArgumentException("span too small for the buckets", nameof(buckets));
        for (int i = 0; i < _buckets.Length; i++) buckets[i] = Volatile.Read(ref _buckets[i]);
        return (double)Volatile.Read(ref _sumTicks) / Stopwatch.Frequency;
    }

    public int BucketCount => _buckets.Length;
}
