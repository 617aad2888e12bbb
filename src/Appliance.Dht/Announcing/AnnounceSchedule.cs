namespace Appliance.Dht.Announcing;

/// <summary>
/// When each of our torrents is (re-)announced to the DHT. New torrents are spread over a start window that
/// grows with their number (thousands of torrents do not all announce in the first second), then each comes
/// back every 15 to 30 minutes at a random point, so announces stay spread out. Pure policy over a clock.
/// </summary>
public sealed class AnnounceSchedule(TimeProvider time)
{
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan MaximumInterval = TimeSpan.FromMinutes(30);
    /// <summary>Start announces are spread at about this pace, up to <see cref="MaximumStartSpread"/>.</summary>
    public static readonly TimeSpan StartSpacing = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan MaximumStartSpread = TimeSpan.FromMinutes(10);

    private readonly Dictionary<NodeId, DateTimeOffset> _due = [];
    private readonly HashSet<NodeId> _running = [];

    public int Count => _due.Count;

    public void Add(NodeId infoHash)
    {
        if (_due.ContainsKey(infoHash)) return;
        var spread = TimeSpan.FromTicks(Math.Min(StartSpacing.Ticks * (_due.Count + 1), MaximumStartSpread.Ticks));
        _due[infoHash] = time.GetUtcNow() + TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * spread.Ticks));
    }

    public void Remove(NodeId infoHash)
    {
        _due.Remove(infoHash);
        _running.Remove(infoHash);
    }

    /// <summary>Torrents due now, at most <paramref name="max"/>; each is marked running until <see cref="Completed"/>.</summary>
    public List<NodeId> TakeDue(int max)
    {
        var now = time.GetUtcNow();
        var due = new List<NodeId>();
        foreach (var (hash, when) in _due)
        {
            if (due.Count >= max) break;
            if (when <= now && !_running.Contains(hash)) due.Add(hash);
        }
        foreach (var hash in due) _running.Add(hash);
        return due;
    }

    public void Completed(NodeId infoHash)
    {
        if (!_running.Remove(infoHash) || !_due.ContainsKey(infoHash)) return;
        var window = MaximumInterval - MinimumInterval;
        _due[infoHash] = time.GetUtcNow() + MinimumInterval + TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * window.Ticks));
    }

    public DateTimeOffset? NextDue(NodeId infoHash) => _due.TryGetValue(infoHash, out var when) ? when : null;
}
