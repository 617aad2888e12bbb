namespace Appliance.Trackers.Announcing;

/// <summary>
/// When to scrape each tracker (BEP 48), free of I/O: a tracker is first scraped <see cref="AnnouncerOptions.FirstScrapeDelay"/>
/// after it starts answering our announces, then every <see cref="AnnouncerOptions.ScrapeInterval"/> with up to 10% jitter;
/// a failed scrape backs off exponentially like a failed announce.
/// </summary>
public sealed class ScrapeSchedule(AnnouncerOptions options, Random random)
{
    private readonly Dictionary<string, (DateTimeOffset Next, int Failures)> _trackers = new(StringComparer.Ordinal);

    public int Count => _trackers.Count;

    /// <summary>Starts scraping a tracker (no change if it is already scheduled).</summary>
    public void Track(string url, DateTimeOffset now)
    {
        if (!_trackers.ContainsKey(url)) _trackers[url] = (now + Jittered(options.FirstScrapeDelay), 0);
    }

    public void Forget(string url) => _trackers.Remove(url);

    public DateTimeOffset? NextDue => _trackers.Count == 0 ? null : _trackers.Values.Min(t => t.Next);

    /// <summary>Trackers due now, each once: they are not due again until <see cref="Succeeded"/> or <see cref="Failed"/>.</summary>
    public List<string> TakeDue(DateTimeOffset now)
    {
        var due = _trackers.Where(t => t.Value.Next <= now).Select(t => t.Key).ToList();
        foreach (var url in due) _trackers[url] = (DateTimeOffset.MaxValue, _trackers[url].Failures);
        return due;
    }

    public TimeSpan Succeeded(string url, DateTimeOffset now)
    {
        var delay = Jittered(options.ScrapeInterval);
        if (_trackers.ContainsKey(url)) _trackers[url] = (now + delay, 0);
        return delay;
    }

    public TimeSpan Failed(string url, DateTimeOffset now)
    {
        if (!_trackers.TryGetValue(url, out var state)) return TimeSpan.Zero;
        int failures = state.Failures + 1;
        double factor = Math.Pow(2, Math.Min(failures - 1, 30));
        var delay = Jittered(TimeSpan.FromMilliseconds(Math.Min(options.MaxBackoff.TotalMilliseconds, options.MinBackoff.TotalMilliseconds * factor)));
        _trackers[url] = (now + delay, failures);
        return delay;
    }

    private TimeSpan Jittered(TimeSpan value) => value + TimeSpan.FromMilliseconds(random.NextDouble() * value.TotalMilliseconds * 0.1);
}
