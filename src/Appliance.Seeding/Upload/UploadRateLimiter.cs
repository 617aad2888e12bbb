namespace Appliance.Seeding.Upload;

/// <summary>
/// Global token bucket for upload bytes (bucket = one second of rate). 0 bytes/s means unlimited, and then
/// <see cref="TryTake"/> is a constant-true check. Senders that find it empty wait <see cref="DelayFor"/> and retry.
/// </summary>
public sealed class UploadRateLimiter
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private double _tokens;
    private long _last;

    public UploadRateLimiter(long bytesPerSecond, TimeProvider time)
    {
        BytesPerSecond = Math.Max(0, bytesPerSecond);
        _time = time;
        _tokens = BytesPerSecond;
        _last = time.GetTimestamp();
    }

    public long BytesPerSecond { get; }
    public bool IsUnlimited => BytesPerSecond == 0;

    /// <summary>Takes <paramref name="bytes"/> tokens when the bucket has at least some; it may go negative (debt), so large batches still progress.</summary>
    public bool TryTake(int bytes)
    {
        if (IsUnlimited) return true;
        lock (_gate)
        {
            Refill();
            if (_tokens <= 0) return false;
            _tokens -= bytes;
            return true;
        }
    }

    /// <summary>How long until the bucket is positive again.</summary>
    public TimeSpan DelayFor()
    {
        if (IsUnlimited) return TimeSpan.Zero;
        lock (_gate)
        {
            Refill();
            if (_tokens > 0) return TimeSpan.Zero;
            return TimeSpan.FromSeconds(Math.Min(1.0, (-_tokens + 1) / BytesPerSecond));
        }
    }

    private void Refill()
    {
        long now = _time.GetTimestamp();
        double seconds = _time.GetElapsedTime(_last, now).TotalSeconds;
        _last = now;
        _tokens = Math.Min(BytesPerSecond, _tokens + seconds * BytesPerSecond);
    }
}
