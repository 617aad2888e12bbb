namespace Appliance.Metrics.Counters;

/// <summary>
/// Progress of the torrents being verified right now, for a gauge: each verification reports through an
/// <see cref="IProgress{T}"/> (0..1, as the storage opener does) weighted by its size in bytes.
/// </summary>
public sealed class VerificationProgress
{
    private readonly Lock _gate = new();
    private readonly List<Tracker> _active = [];

    /// <summary>Starts tracking one verification; dispose the result when it ends (done, refused or cancelled).</summary>
    public Tracker Begin(long totalBytes)
    {
        var tracker = new Tracker(this, Math.Max(1, totalBytes));
        lock (_gate) _active.Add(tracker);
        return tracker;
    }

    public int Active
    {
        get { lock (_gate) return _active.Count; }
    }

    /// <summary>Bytes verified over bytes to verify across active verifications; 1 when none is running.</summary>
    public double Ratio()
    {
        lock (_gate)
        {
            if (_active.Count == 0) return 1;
            double done = 0, total = 0;
            foreach (var t in _active)
            {
                done += t.Fraction * t.TotalBytes;
                total += t.TotalBytes;
            }
            return done / total;
        }
    }

    private void End(Tracker tracker)
    {
        lock (_gate) _active.Remove(tracker);
    }

    public sealed class Tracker : IProgress<double>, IDisposable
    {
        private readonly VerificationProgress _owner;
        private double _fraction;

        internal Tracker(VerificationProgress owner, long totalBytes)
        {
            _owner = owner;
            TotalBytes = totalBytes;
        }

        public long TotalBytes { get; }

        public double Fraction => Volatile.Read(ref _fraction);

        public void Report(double value) => Volatile.Write(ref _fraction, Math.Clamp(value, 0, 1));

        public void Dispose() => _owner.End(this);
    }
}
