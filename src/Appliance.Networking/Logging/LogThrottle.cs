namespace Appliance.Networking.Logging;

/// <summary>
/// Lets a repeated log line through at most once per interval and counts the ones held back, so a flood of refusals
/// or a descriptor shortage costs one line per interval, which says how many it stands for. Thread-safe, allocation-free.
/// </summary>
public sealed class LogThrottle(TimeSpan interval, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly long _intervalTicks = interval.Ticks;
    private long _nextTicks = long.MinValue;
    private long _suppressed;

    /// <summary>True when this occurrence should be logged; <paramref name="suppressed"/> is how many were held back since the last one.</summary>
    public bool TryEnter(out long suppressed)
    {
        long now = _time.GetUtcNow().UtcTicks;
        long next = Volatile.Read(ref _nextTicks);
        if (now >= next && Interlocked.CompareExchange(ref _nextTicks, now + _intervalTicks, next) == next)
        {
            suppressed = Interlocked.Exchange(ref _suppressed, 0);
            return true;
        }
        Interlocked.Increment(ref _suppressed);
        suppressed = 0;
        return false;
    }
}
