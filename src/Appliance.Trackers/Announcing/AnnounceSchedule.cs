using System.Net.Sockets;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;

namespace Appliance.Trackers.Announcing;

/// <summary>One tracker URL of a torrent, over one address family, with what we remember about it.</summary>
public sealed class TrackerEndpointState(string url)
{
    public string Url { get; } = url;

    /// <summary>The <c>tracker id</c> this tracker gave us, echoed on later announces (BEP 3).</summary>
    public string? TrackerId { get; set; }

    /// <summary>True once this tracker accepted event=started; then re-announces carry no event.</summary>
    public bool Started { get; set; }

    public int ConsecutiveFailures { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset? LastSuccess { get; set; }
}

/// <summary>
/// The announce policy of one torrent over one address family, free of I/O: multitracker tiers (BEP 12: shuffled within a
/// tier, tried in order, the tracker that answers moves to the front of its tier), the next announce time from interval /
/// min interval with jitter, and exponential back-off when every tracker fails. A torrent has one per family we listen
/// on (as libtorrent has one announce endpoint per listen socket): the families' trackers, events and back-off are apart.
/// </summary>
public sealed class AnnounceSchedule
{
    private readonly List<List<TrackerEndpointState>> _tiers;
    private readonly AnnouncerOptions _options;
    private readonly Random _random;

    public AnnounceSchedule(InfoHash infoHash, IReadOnlyList<IReadOnlyList<string>> tiers, AnnouncerOptions options, Random random,
        AddressFamily family = AddressFamily.InterNetwork)
    {
        InfoHash = infoHash;
        Family = family;
        _options = options;
        _random = random;
        _tiers = [];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tier in tiers)
        {
            var list = tier.Where(u => !string.IsNullOrWhiteSpace(u) && seen.Add(u)).Select(u => new TrackerEndpointState(u)).ToList();
            for (int i = list.Count - 1; i > 0; i--)
            {
                int j = random.Next(i + 1);
                (list[i], list[j]) = (list[j], list[i]);
            }
            if (list.Count > 0) _tiers.Add(list);
        }
    }

    public InfoHash InfoHash { get; }

    public AddressFamily Family { get; }

    public DateTimeOffset NextAnnounce { get; set; }

    public int ConsecutiveFailures { get; private set; }

    /// <summary>The tracker that last answered: event=stopped goes there.</summary>
    public TrackerEndpointState? Current { get; private set; }

    public bool HasTrackers => _tiers.Count > 0;

    /// <summary>Trackers in the order they should be tried now.</summary>
    public IEnumerable<TrackerEndpointState> Order() => _tiers.SelectMany(t => t);

    public IReadOnlyList<IReadOnlyList<TrackerEndpointState>> Tiers => _tiers;

    /// <summary>The event to send to <paramref name="tracker"/> on a regular announce.</summary>
    public static AnnounceEvent EventFor(TrackerEndpointState tracker) => tracker.Started ? AnnounceEvent.None : AnnounceEvent.Started;

    /// <summary>Schedules the first announce at a random point in the initial spread.</summary>
    /// <summary>The first announce at <paramref name="when"/> (the announcer paces first announces across torrents).</summary>
    public void ScheduleAt(DateTimeOffset when) => NextAnnounce = when;

    public void TrackerFailed(TrackerEndpointState tracker, string reason)
    {
        tracker.ConsecutiveFailures++;
        tracker.LastError = reason;
    }

    /// <summary>A tracker answered: promote it within its tier and schedule the next announce from its intervals.</summary>
    public TimeSpan Succeeded(TrackerEndpointState tracker, AnnounceResponse response, DateTimeOffset now)
    {
        tracker.ConsecutiveFailures = 0;
        tracker.LastError = null;
        tracker.Started = true;
        tracker.LastSuccess = now;
        if (!string.IsNullOrEmpty(response.TrackerId)) tracker.TrackerId = response.TrackerId;
        foreach (var tier in _tiers)
        {
            int index = tier.IndexOf(tracker);
            if (index > 0)
            {
                tier.RemoveAt(index);
                tier.Insert(0, tracker);
            }
        }
        Current = tracker;
        ConsecutiveFailures = 0;
        var interval = response.Interval > 0 ? TimeSpan.FromSeconds(response.Interval) : _options.DefaultInterval;
        var floor = _options.MinimumInterval;
        if (response.MinInterval is > 0 && TimeSpan.FromSeconds(response.MinInterval.Value) > floor) floor = TimeSpan.FromSeconds(response.MinInterval.Value);
        // Up to 10% earlier than asked, never below the floor: spreads torrents that were added together.
        var delay = interval - TimeSpan.FromMilliseconds(_random.NextDouble() * interval.TotalMilliseconds * 0.1);
        if (delay < floor) delay = floor;
        NextAnnounce = now + delay;
        return delay;
    }

    /// <summary>
    /// No tracker has an address in this family (an A record only, for the IPv6 schedule): nothing failed, so no back-off;
    /// look again after the default interval, as DNS may change.
    /// </summary>
    public TimeSpan NoTrackerInFamily(DateTimeOffset now)
    {
        var delay = _options.DefaultInterval + TimeSpan.FromMilliseconds(_random.NextDouble() * _options.DefaultInterval.TotalMilliseconds * 0.1);
        NextAnnounce = now + delay;
        return delay;
    }

    /// <summary>Every tracker failed: back off exponentially (with jitter) from <see cref="AnnouncerOptions.MinBackoff"/>.</summary>
    public TimeSpan AllFailed(DateTimeOffset now)
    {
        ConsecutiveFailures++;
        double factor = Math.Pow(2, Math.Min(ConsecutiveFailures - 1, 30));
        var backoff = TimeSpan.FromMilliseconds(Math.Min(_options.MaxBackoff.TotalMilliseconds, _options.MinBackoff.TotalMilliseconds * factor));
        backoff += TimeSpan.FromMilliseconds(_random.NextDouble() * backoff.TotalMilliseconds * 0.1);
        NextAnnounce = now + backoff;
        return backoff;
    }
}
