using System.Collections.Concurrent;
using System.Net.Sockets;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Trackers.Announcing;

/// <summary>
/// Announces every added torrent to its trackers and scrapes those trackers. Policy lives in <see cref="AnnounceSchedule"/>
/// (per torrent and address family we listen on) and <see cref="ScrapeSchedule"/> (per tracker); this class keeps the
/// schedules in due order and runs due announces over the shared HTTP and UDP clients, with at most
/// <see cref="AnnouncerOptions.MaxConcurrentPerTracker"/> requests in flight per tracker host and family and
/// <see cref="AnnouncerOptions.MaxConcurrentAnnounces"/> over all. A tracker whose host has IPv4 and IPv6 addresses is
/// announced to over both when we listen on both, so peers of either family learn of us.
/// </summary>
public sealed class Announcer : IAsyncDisposable
{
    private readonly AnnouncerOptions _options;
    private readonly TrackerCounters _counters;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly HttpTrackerClient _http;
    private readonly UdpTrackerClient _udp;
    private readonly TrackerHostLimiter _hosts;
    private readonly ConcurrentDictionary<InfoHash, Entry> _torrents = new();
    private readonly PriorityQueue<(Entry Entry, AnnounceSchedule Schedule), DateTimeOffset> _due = new();
    private readonly TrackerResolver _resolver;
    private readonly AddressFamily[] _families;
    private readonly ScrapeSchedule _scrapes;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly Random _random = new();
    // When the next torrent's first announce may leave (under the _random lock).
    private DateTimeOffset _nextFirstAnnounce;
    private readonly uint _key = (uint)Random.Shared.Next();
    private Task _loop = Task.CompletedTask;
    private Task _scrapeLoop = Task.CompletedTask;
    private int _stopped;

    public Announcer(AnnouncerOptions options, TrackerCounters counters, ILogger? logger = null, TimeProvider? time = null)
    {
        if (options.PeerId.Length != AnnounceRequest.PeerIdLength) throw new ArgumentException("peer id must be 20 bytes", nameof(options));
        _families = options.Families.Where(f => f is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6).Distinct().ToArray();
        if (_families.Length == 0) throw new ArgumentException("announce over IPv4, IPv6 or both", nameof(options));
        _options = options;
        _counters = counters;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _resolver = new TrackerResolver(options, _time);
        _http = new HttpTrackerClient(options, _resolver);
        _udp = new UdpTrackerClient(options, _time, _resolver);
        _hosts = new TrackerHostLimiter(Math.Max(1, options.MaxConcurrentPerTracker), Math.Max(1, options.MaxConcurrentAnnounces));
        _scrapes = new ScrapeSchedule(options, new Random(_random.Next()));
        _slots = new SemaphoreSlim(Math.Max(1, options.MaxStartedAnnounces));
    }

    public UdpTrackerClient Udp => _udp;

    public HttpTrackerClient Http => _http;

    public int Count => _torrents.Count;

    public void Start()
    {
        _loop = RunAsync(_stopping.Token);
        _scrapeLoop = ScrapeLoopAsync(_stopping.Token);
    }

    /// <summary>Schedules a torrent. Its first announce (event=started) comes within the initial spread.</summary>
    public void Add(InfoHash infoHash, IReadOnlyList<IReadOnlyList<string>> tiers, Func<long> uploaded)
    {
        foreach (var url in tiers.SelectMany(t => t).Where(u => !IsSupported(u)).Distinct()) TrackerLog.UnsupportedTracker(_logger, TrackerUrl.Redact(url));
        var usable = tiers.Select(t => (IReadOnlyList<string>)t.Where(IsSupported).ToList()).ToList();
        var schedules = new AnnounceSchedule[_families.Length];
        DateTimeOffset first;
        lock (_random)
        {
            for (int i = 0; i < schedules.Length; i++) schedules[i] = new AnnounceSchedule(infoHash, usable, _options, new Random(_random.Next()), _families[i]);
            if (!schedules[0].HasTrackers) return;
            // First announces leave at InitialAnnouncesPerSecond in the order torrents are added, so a torrent that
            // loads last waits only for those before it, not for a random share of the whole library's spread.
            var now = _time.GetUtcNow();
            if (_nextFirstAnnounce < now) _nextFirstAnnounce = now;
            first = _nextFirstAnnounce < now + _options.MaxInitialSpread ? _nextFirstAnnounce : now + _options.MaxInitialSpread;
            _nextFirstAnnounce += TimeSpan.FromSeconds(1.0 / Math.Max(1, _options.InitialAnnouncesPerSecond));
        }
        foreach (var schedule in schedules) schedule.ScheduleAt(first);
        var entry = new Entry(schedules, uploaded);
        if (_torrents.TryAdd(infoHash, entry))
        {
            _counters.Increment(TrackerCounter.AnnouncedTorrents);
            lock (_due)
            {
                foreach (var schedule in schedules) _due.Enqueue((entry, schedule), schedule.NextAnnounce);
            }
            _wake.Release();
        }
    }

    /// <summary>Stops announcing a torrent and tells its tracker over each family that announced (event=stopped) in the background.</summary>
    public void Remove(InfoHash infoHash)
    {
        if (!_torrents.TryRemove(infoHash, out var entry)) return;
        entry.Removed = true; // left in the due queue, skipped when it comes up
        _counters.Decrement(TrackerCounter.AnnouncedTorrents);
        entry.ForgetScrape(_counters);
        if (Volatile.Read(ref _stopped) != 0) return;
        foreach (var schedule in entry.Schedules)
        {
            if (schedule.Current is not null) _ = SendStoppedAsync(entry, schedule, _stopping.Token);
        }
    }

    /// <summary>A torrent's schedule over one family (null when it is not announced, or not over that family).</summary>
    public AnnounceSchedule? GetSchedule(InfoHash infoHash, AddressFamily family = AddressFamily.InterNetwork) =>
        _torrents.TryGetValue(infoHash, out var entry) ? Array.Find(entry.Schedules, s => s.Family == family) : null;

    /// <summary>The tracker's counts for a torrent from the last scrape, if any.</summary>
    public ScrapeCounts? GetScrape(InfoHash infoHash) => _torrents.TryGetValue(infoHash, out var entry) ? entry.Scraped : null;

    /// <summary>Stops scheduling and sends event=stopped to each torrent's current tracker, over each family that
    /// announced, within the stop timeout.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        try { await _loop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        try { await _scrapeLoop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.StopTimeout);
        var announced = _torrents.Values.SelectMany(e => e.Schedules.Where(s => s.Current is not null).Select(s => (Entry: e, Schedule: s))).ToList();
        var sends = announced.Select(a => SendStoppedAsync(a.Entry, a.Schedule, deadline.Token)).ToArray();
        var results = await Task.WhenAll(sends).ConfigureAwait(false);
        TrackerLog.StoppedSent(_logger, results.Length, results.Count(ok => !ok));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _http.Dispose();
        await _udp.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Announces one torrent now over each family (tests and the admin API), outside the schedule's timing.</summary>
    public Task AnnounceNowAsync(InfoHash infoHash, CancellationToken cancellationToken) =>
        _torrents.TryGetValue(infoHash, out var entry)
            ? Task.WhenAll(entry.Schedules.Select(s => AnnounceAsync(entry, s, cancellationToken)))
            : Task.CompletedTask;

    /// <summary>Scrapes every tracker now (tests), outside the scrape schedule's timing.</summary>
    public async Task ScrapeNowAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(CurrentTrackers().Select(u => ScrapeTrackerAsync(u, cancellationToken))).ConfigureAwait(false);
    }

    private IEnumerable<string> CurrentTrackers() =>
        _torrents.Values.SelectMany(e => e.Schedules).Select(s => s.Current?.Url).OfType<string>().Distinct();

    private static bool IsSupported(string url) =>
        url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith("udp://", StringComparison.OrdinalIgnoreCase);

    // Takes torrents in due order; one waiting for a slot holds up the rest, which is the pacing.
    private async Task RunAsync(CancellationToken stopping)
    {
        await Task.Yield();
        while (!stopping.IsCancellationRequested)
        {
            (Entry Entry, AnnounceSchedule Schedule)? next = null;
            var wait = TimeSpan.FromSeconds(1);
            lock (_due)
            {
                var now = _time.GetUtcNow();
                while (_due.TryPeek(out var item, out var due))
                {
                    if (item.Entry.Removed)
                    {
                        _due.Dequeue();
                        continue;
                    }
                    if (item.Schedule.NextAnnounce > due)
                    {
                        _due.DequeueEnqueue(item, item.Schedule.NextAnnounce); // moved later by AnnounceNowAsync
                        continue;
                    }
                    if (due <= now) next = _due.Dequeue();
                    else if (due - now < wait) wait = due - now;
                    break;
                }
            }
            if (next is null)
            {
                await _wake.WaitAsync(wait, stopping).ConfigureAwait(false);
                continue;
            }
            await _slots.WaitAsync(stopping).ConfigureAwait(false);
            _ = RunOneAsync(next.Value.Entry, next.Value.Schedule, stopping);
        }
    }

    private async Task RunOneAsync(Entry entry, AnnounceSchedule schedule, CancellationToken stopping)
    {
        try
        {
            await AnnounceAsync(entry, schedule, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            _slots.Release();
            if (!entry.Removed)
            {
                lock (_due) _due.Enqueue((entry, schedule), schedule.NextAnnounce);
            }
        }
    }

    private async Task ScrapeLoopAsync(CancellationToken stopping)
    {
        await Task.Yield();
        while (!stopping.IsCancellationRequested)
        {
            List<string> due;
            lock (_scrapes)
            {
                foreach (var url in CurrentTrackers()) _scrapes.Track(url, _time.GetUtcNow());
                due = _scrapes.TakeDue(_time.GetUtcNow());
            }
            foreach (var url in due) _ = ScrapeScheduledAsync(url, stopping);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ScrapeScheduledAsync(string url, CancellationToken stopping)
    {
        bool ok;
        try
        {
            ok = await ScrapeTrackerAsync(url, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (_scrapes)
        {
            if (ok) _scrapes.Succeeded(url, _time.GetUtcNow());
            else _scrapes.Failed(url, _time.GetUtcNow());
        }
    }

    /// <summary>
    /// Scrapes the torrents whose current tracker (over any family) is <paramref name="url"/>, in batches; true if every
    /// batch answered. A scrape asks for the tracker's counts, which do not depend on the family asking: one family does
    /// it, IPv4 where it announces there.
    /// </summary>
    private async Task<bool> ScrapeTrackerAsync(string url, CancellationToken cancellationToken)
    {
        var current = _torrents.Values.SelectMany(e => e.Schedules.Where(s => s.Current?.Url == url).Select(s => (Entry: e, s.Family))).ToList();
        if (current.Count == 0) return true;
        var family = current.Any(c => c.Family == AddressFamily.InterNetwork) ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        var entries = current.Select(c => c.Entry).Distinct().ToList();
        bool udp = IsUdp(url);
        int batch = udp ? UdpTrackerPacket.MaxScrapeHashes : _options.HttpScrapeBatch;
        bool allOk = true;
        for (int i = 0; i < entries.Count; i += batch)
        {
            var part = entries.Skip(i).Take(batch).ToList();
            var hashes = part.Select(e => e.InfoHash).ToList();
            try
            {
                Dictionary<InfoHash, ScrapeCounts> counts;
                using (await _hosts.AcquireAsync(url, family, cancellationToken).ConfigureAwait(false))
                {
                    counts = udp
                        ? await _udp.ScrapeAsync(url, family, hashes, cancellationToken).ConfigureAwait(false)
                        : await _http.ScrapeAsync(url, family, hashes, cancellationToken).ConfigureAwait(false);
                }
                _counters.Increment(TrackerCounter.ScrapesOk);
                foreach (var entry in part)
                {
                    if (counts.TryGetValue(entry.InfoHash, out var c) && !entry.Removed) entry.SetScrape(c, _counters);
                }
            }
            catch (TrackerException e)
            {
                allOk = false;
                _counters.Increment(TrackerCounter.ScrapesFailed);
                TrackerLog.ScrapeFailed(_logger, url, e.Message);
                // A tracker without scrape support (BEP 48 is optional) fails every batch the same way.
                if (i == 0) break;
            }
        }
        return allOk;
    }

    /// <summary>
    /// BEP 12, over one family: try trackers tier by tier until one answers. A tracker with no address in the family is
    /// passed over without counting as a failure; when every tracker is, the family waits and looks again later.
    /// </summary>
    private async Task AnnounceAsync(Entry entry, AnnounceSchedule schedule, CancellationToken cancellationToken)
    {
        string hex = schedule.InfoHash.ToHex();
        string family = HttpTrackerClient.FamilyName(schedule.Family);
        var counters = _counters.Announces(schedule.Family);
        bool tried = false;
        foreach (var tracker in schedule.Order().ToList())
        {
            AnnounceResponse response;
            try
            {
                if (!await HasAddressAsync(tracker.Url, schedule.Family, cancellationToken).ConfigureAwait(false)) continue;
                tried = true;
                using (await _hosts.AcquireAsync(tracker.Url, schedule.Family, cancellationToken).ConfigureAwait(false))
                    response = await SendAsync(tracker, entry, schedule.Family, AnnounceSchedule.EventFor(tracker), cancellationToken).ConfigureAwait(false);
            }
            catch (TrackerException e)
            {
                tried = true;
                schedule.TrackerFailed(tracker, e.Message);
                if (e.TimedOut) counters.Increment(AnnounceCounter.TimedOut);
                counters.Increment(IsUdp(tracker.Url) ? AnnounceCounter.UdpFailed : AnnounceCounter.HttpFailed);
                TrackerLog.TrackerFailed(_logger, TrackerUrl.Redact(tracker.Url), family, hex, TrackerUrl.RedactIn(e.Message, tracker.Url));
                continue;
            }
            counters.Increment(IsUdp(tracker.Url) ? AnnounceCounter.UdpOk : AnnounceCounter.HttpOk);
            if (response.FailureReason is { } reason)
            {
                counters.Increment(AnnounceCounter.Refused);
                schedule.TrackerFailed(tracker, "failure reason: " + reason);
                TrackerLog.AnnounceRefused(_logger, TrackerUrl.Redact(tracker.Url), family, hex, reason);
                continue;
            }
            if (response.WarningMessage is { } warning) TrackerLog.AnnounceWarning(_logger, TrackerUrl.Redact(tracker.Url), hex, warning);
            var delay = schedule.Succeeded(tracker, response, _time.GetUtcNow());
            TrackerLog.Announced(_logger, hex, TrackerUrl.Redact(tracker.Url), family, response.Peers.Count, (int)delay.TotalSeconds);
            return;
        }
        if (!tried)
        {
            var wait = schedule.NoTrackerInFamily(_time.GetUtcNow());
            TrackerLog.NoTrackerInFamily(_logger, hex, family, (int)wait.TotalSeconds);
            return;
        }
        var backoff = schedule.AllFailed(_time.GetUtcNow());
        TrackerLog.AnnounceFailed(_logger, hex, family, (int)backoff.TotalSeconds);
    }

    /// <summary>Whether the tracker's host has an address in <paramref name="family"/>; a failed lookup throws.</summary>
    private async ValueTask<bool> HasAddressAsync(string url, AddressFamily family, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) throw new TrackerException("bad tracker URL");
        return (await _resolver.ResolveAsync(uri.Host, family, cancellationToken).ConfigureAwait(false)).Length > 0;
    }

    private async Task<bool> SendStoppedAsync(Entry entry, AnnounceSchedule schedule, CancellationToken cancellationToken)
    {
        var tracker = schedule.Current;
        if (tracker is null) return true;
        try
        {
            AnnounceResponse response;
            using (await _hosts.AcquireAsync(tracker.Url, schedule.Family, cancellationToken).ConfigureAwait(false))
                response = await SendAsync(tracker, entry, schedule.Family, AnnounceEvent.Stopped, cancellationToken).ConfigureAwait(false);
            return response.FailureReason is null;
        }
        catch (TrackerException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private Task<AnnounceResponse> SendAsync(TrackerEndpointState tracker, Entry entry, AddressFamily family, AnnounceEvent announceEvent,
        CancellationToken cancellationToken)
    {
        long uploaded;
        try { uploaded = entry.Uploaded(); } catch (InvalidOperationException) { uploaded = 0; }
        var request = new AnnounceRequest
        {
            InfoHash = entry.InfoHash,
            PeerId = _options.PeerId,
            Port = _options.Port,
            Uploaded = uploaded,
            Downloaded = 0,
            Left = 0,
            Event = announceEvent,
            Key = _key,
            NumWant = _options.NumWant,
            TrackerId = tracker.TrackerId,
            AlsoAt = _options.AnnouncedAddresses,
        };
        return IsUdp(tracker.Url)
            ? _udp.AnnounceAsync(tracker.Url, family, request, cancellationToken)
            : _http.AnnounceAsync(tracker.Url, family, request, cancellationToken);
    }

    private static bool IsUdp(string url) => url.StartsWith("udp://", StringComparison.OrdinalIgnoreCase);

    /// <summary>One torrent: a schedule per family, and the tracker's counts from the last scrape (any family).</summary>
    private sealed class Entry(AnnounceSchedule[] schedules, Func<long> uploaded)
    {
        private readonly Lock _gate = new();

        public AnnounceSchedule[] Schedules { get; } = schedules;
        public InfoHash InfoHash => Schedules[0].InfoHash;
        public Func<long> Uploaded { get; } = uploaded;
        public volatile bool Removed;
        public ScrapeCounts? Scraped { get; private set; }

        /// <summary>Keeps the totals over all torrents (exported as metrics) in step with this torrent's last scrape.</summary>
        public void SetScrape(ScrapeCounts counts, TrackerCounters counters)
        {
            lock (_gate)
            {
                var old = Scraped ?? default;
                counters.Add(TrackerCounter.ScrapedSeeders, counts.Complete - old.Complete);
                counters.Add(TrackerCounter.ScrapedLeechers, counts.Incomplete - old.Incomplete);
                counters.Add(TrackerCounter.ScrapedDownloaded, counts.Downloaded - old.Downloaded);
                Scraped = counts;
            }
        }

        public void ForgetScrape(TrackerCounters counters)
        {
            lock (_gate)
            {
                if (Scraped is not { } old) return;
                counters.Add(TrackerCounter.ScrapedSeeders, -old.Complete);
                counters.Add(TrackerCounter.ScrapedLeechers, -old.Incomplete);
                counters.Add(TrackerCounter.ScrapedDownloaded, -old.Downloaded);
                Scraped = null;
            }
        }
    }
}
