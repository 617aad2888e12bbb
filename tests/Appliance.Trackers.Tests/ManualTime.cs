namespace Appliance.Trackers.Tests;

/// <summary>A clock the test moves by hand (timers still run on real time).</summary>
internal sealed class ManualTime : TimeProvider
{
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private long _ticks = 1_000_000;

    public override DateTimeOffset GetUtcNow() { lock (this) return _now; }

    public override long GetTimestamp() { lock (this) return _ticks; }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by)
    {
        lock (this)
        {
            _now += by;
            _ticks += by.Ticks;
        }
    }
}
