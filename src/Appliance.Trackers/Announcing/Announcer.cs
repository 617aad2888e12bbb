using System.Collections.Concurrent;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Trackers.Announcing;

/// <summary>
/// Announces every added torrent to its trackers and scrapes those trackers. Policy lives in <see cref="AnnounceSchedule"/>
/// (per torrent) and <see cref="ScrapeSchedule"/> (per tracker); this class keeps torrents in due order and runs due
/// announces over the shared HTTP and UDP clients, with at most <see cref="AnnouncerOptions.MaxConcurrentPerTracker"/>
/// requests in flight per tracker host and <see cref="AnnouncerOptions.MaxConcurrentAnnounces"/> over all.
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
    private readonly PriorityQueue<Entry, DateTimeOffset> _due = new();
    private readonly ScrapeSchedule _scrapes;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly Random _random = new();
    private readonly uint _key = (uint)Random.Shared.Next();
    private Task _loop = Task.CompletedTask;
    private Task _scrapeLoop = Task.CompletedTask;
    private int _stopped;

    public Announcer(AnnouncerOptions options, TrackerCounters counters, ILogger? logger = null, TimeProvider? time = null)
    {
        if (options.PeerId.Length != AnnounceRequest.PeerIdLength) throw new ArgumentException("peer id must be 20 bytes", nameof(options));
        _options = options;
        _counters = counters;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _http = new HttpTrackerClient(options);
        _udp = new UdpTrackerClient(options, _time);
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
        AnnounceSchedule schedule;
        lock (_random) schedule = new AnnounceSchedule(infoHash, usable, _options, new Random(_random.Next()));
        if (!schedule.HasTrackers) return;
        var spread = TimeSpan.FromSeconds(Math.Min(_options.MaxInitialSpread.TotalSeconds, (double)_torrents.Count / Math.Max(1, _options.InitialAnnouncesPerSecond)));
        schedule.ScheduleFirst(_time.GetUtcNow(), spread);
        var entry = new Entry(schedule, uploaded);
        if (_torrents.TryAdd(infoHash, entry))
        {
            Interlocked.Increment(ref _counters.AnnouncedTorrents);
            lock (_due) _due.Enqueue(entry, schedule.NextAnnounce);
            _wake.Release();
        }
    }

    /// <summary>Stops announcing a torrent and tells its tracker (event=stopped) in the background.</summary>
    public void Remove(InfoHash infoHash)
    {
        if (!_torrents.TryRemove(infoHash, out var entry)) return;
        entry.Removed = true; // left in the due queue, skipped when it comes up
        Interlocked.Decrement(ref _counters.AnnouncedTorrents);
        entry.ForgetScrape(_counters);
        if (entry.Schedule.Current is not null && Volatile.Read(ref _stopped) == 0)
            _ = SendStoppedAsync(entry, _stopping.Token);
    }

    public AnnounceSchedule? GetSchedule(InfoHash infoHash) => _torrents.TryGetValue(infoHash, out var entry) ? entry.Schedule : null;

    /// <summary>The tracker's counts for a torrent from the last scrape, if any.</summary>
    public ScrapeCounts? GetScrape(InfoHash infoHash) => _torrents.TryGetValue(infoHash, out var entry) ? entry.Scraped : null;

    /// <summary>Stops scheduling and sends event=stopped to each torrent's current tracker within the stop timeout.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        try { await _loop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        try { await _scrapeLoop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.StopTimeout);
        var announced = _torrents.Values.Where(e => e.Schedule.Current is not null).ToList();
        var sends = announced.Select(e => SendStoppedAsync(e, deadline.Token)).ToArray();
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

    /// <summary>Announces one torrent now (tests and the admin API), outside the schedule's timing.</summary>
    public Task AnnounceNowAsync(InfoHash infoHash, CancellationToken cancellationToken) =>
        _torrents.TryGetValue(infoHash, out var entry) ? AnnounceAsync(entry, cancellationToken) : Task.CompletedTask;

    /// <summary>Scrapes every tracker now (tests), outside the scrape schedule's timing.</summary>
    public async Task ScrapeNowAsync(CancellationToken cancellationToken)
    {
        var urls = _torrents.Values.Select(e => e.Schedule.Current?.Url).OfType<string>().Distinct().ToList();
        await Task.WhenAll(urls.Select(u => ScrapeTrackerAsync(u, cancellationToken))).ConfigureAwait(false);
    }

    private static bool IsSupported(string url) =>
        url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith("udp://", StringComparison.OrdinalIgnoreCase);

    // Takes torrents in due order; one waiting for a slot holds up the rest, which is the pacing.
    private async Task RunAsync(CancellationToken stopping)
    {
        await Task.Yield();
        while (!stopping.IsCancellationRequested)
        {
            Entry? next = null;
            var wait = TimeSpan.FromSeconds(1);
            lock (_due)
            {
                var now = _time.GetUtcNow();
                while (_due.TryPeek(out var entry, out var due))
                {
                    if (entry.Removed)
                    {
                        _due.Dequeue();
                        continue;
                    }
                    if (entry.Schedule.NextAnnounce > due)
                    {
                        _due.DequeueEnqueue(entry, entry.Schedule.NextAnnounce); // moved later by AnnounceNowAsync
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
            _ = RunOneAsync(next, stopping);
        }
    }

    private async Task RunOneAsync(Entry entry, CancellationToken stopping)
    {
        try
        {
            await AnnounceAsync(entry, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            _slots.Release();
            if (!entry.Removed)
            {
                lock (_due) _due.Enqueue(entry, entry.Schedule.NextAnnounce);
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
                foreach (var url in _torrents.Values.Select(e => e.Schedule.Current?.Url).OfType<string>().Distinct())
                    _scrapes.Track(url, _time.GetUtcNow());
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

    /// <summary>Scrapes the torrents whose current tracker is <paramref name="url"/>, in batches; true if every batch answered.</summary>
    private async Task<bool> ScrapeTrackerAsync(string url, CancellationToken cancellationToken)
    {
        var entries = _torrents.Values.Where(e => e.Schedule.Current?.Url == url).ToList();
        bool udp = IsUdp(url);
        int batch = udp ? UdpTrackerPacket.MaxScrapeHashes : _options.HttpScrapeBatch;
        bool allOk = true;
        for (int i = 0; i < entries.Count; i += batch)
        {
            var part = entries.Skip(i).Take(batch).ToList();
            var hashes = part.Select(e => e.Schedule.InfoHash).ToList();
            try
            {
                Dictionary<InfoHash, ScrapeCounts> counts;
                using (await _hosts.AcquireAsync(url, cancellationToken).ConfigureAwait(false))
                {
                    counts = udp
                        ? await _udp.ScrapeAsync(url, hashes, cancellationToken).ConfigureAwait(false)
                        : await _http.ScrapeAsync(url, hashes, cancellationToken).ConfigureAwait(false);
                }
                Interlocked.Increment(ref _counters.ScrapesOk);
                foreach (var entry in part)
                {
                    if (counts.TryGetValue(entry.Schedule.InfoHash, out var c) && !entry.Removed) entry.SetScrape(c, _counters);
                }
            }
            catch (TrackerException e)
            {
                allOk = false;
                Interlocked.Increment(ref _counters.ScrapesFailed);
                TrackerLog.ScrapeFailed(_logger, url, e.Message);
                // A tracker without scrape support (BEP 48 is optional) fails every batch the same way.
                if (i == 0) break;
            }
        }
        return allOk;
    }

    /// <summary>BEP 12: try trackers tier by tier until one answers.</summary>
    private async Task AnnounceAsync(Entry entry, CancellationToken cancellationToken)
    {
        var schedule = entry.Schedule;
        string hex = schedule.InfoHash.ToHex();
        foreach (var tracker in schedule.Order().ToList())
        {
            AnnounceResponse response;
            try
            {
                using (await _hosts.AcquireAsync(tracker.Url, cancellationToken).ConfigureAwait(false))
                    response = await SendAsync(tracker, entry, AnnounceSchedule.EventFor(tracker), cancellationToken).ConfigureAwait(false);
            }
            catch (TrackerException e)
            {
                schedule.TrackerFailed(tracker, e.Message);
                if (e.TimedOut) Interlocked.Increment(ref _counters.AnnouncesTimedOut);
                Interlocked.Increment(ref IsUdp(tracker.Url) ? ref _counters.UdpAnnouncesFailed : ref _counters.HttpAnnouncesFailed);
                TrackerLog.TrackerFailed(_logger, TrackerUrl.Redact(tracker.Url), hex, TrackerUrl.RedactIn(e.Message, tracker.Url));
                continue;
            }
            Interlocked.Increment(ref IsUdp(tracker.Url) ? ref _counters.UdpAnnouncesOk : ref _counters.HttpAnnouncesOk);
            if (response.FailureReason is { } reason)
            {
                Interlocked.Increment(ref _counters.AnnouncesRefused);
                schedule.TrackerFailed(tracker, "failure reason: " + reason);
                TrackerLog.AnnounceRefused(_logger, TrackerUrl.Redact(tracker.Url), hex, reason);
                continue;
            }
            if (response.WarningMessage is { } warning) TrackerLog.AnnounceWarning(_logger, TrackerUrl.Redact(tracker.Url), hex, warning);
            var delay = schedule.Succeeded(tracker, response, _time.GetUtcNow());
            TrackerLog.Announced(_logger, hex, TrackerUrl.Redact(tracker.Url), response.Peers.Count, (int)delay.TotalSeconds);
            return;
        }
        var backoff = schedule.AllFailed(_time.GetUtcNow());
        TrackerLog.AnnounceFailed(_logger, hex, (int)backoff.TotalSeconds);
    }

    private async Task<bool> SendStoppedAsync(Entry entry, CancellationToken cancellationToken)
    {
        var tracker = entry.Schedule.Current;
        if (tracker is null) return true;
        try
        {
            AnnounceResponse response;
            using (await _hosts.AcquireAsync(tracker.Url, cancellationToken).ConfigureAwait(false))
                response = await SendAsync(tracker, entry, AnnounceEvent.Stopped, cancellationToken).ConfigureAwait(false);
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

    private Task<AnnounceResponse> SendAsync(TrackerEndpointState tracker, Entry entry, AnnounceEvent announceEvent, CancellationToken cancellationToken)
    {
        long uploaded;
        try { uploaded = entry.Uploaded(); } catch (InvalidOperationException) { uploaded = 0; }
        var request = new AnnounceRequest
        {
            InfoHash = entry.Schedule.InfoHash,
            PeerId = _options.PeerId,
            Port = _options.Port,
            Uploaded = uploaded,
            Downloaded = 0,
            Left = 0,
            Event = announceEvent,
            Key = _key,
            NumWant = _options.NumWant,
            TrackerId = tracker.TrackerId,
        };
        return IsUdp(tracker.Url)
            ? _udp.AnnounceAsync(tracker.Url, request, cancellationToken)
            : _http.AnnounceAsync(tracker.Url, request, cancellationToken);
    }

    private static bool IsUdp(string url) => url.StartsWith("udp://", StringComparison.OrdinalIgnoreCase);

    private sealed class Entry(AnnounceSchedule schedule, Func<long> uploaded)
    {
        private readonly Lock _gate = new();

        public AnnounceSchedule Schedule { get; } = schedule;
        public Func<long> Uploaded { get; } = uploaded;
        public volatile bool Removed;
        public ScrapeCounts? Scraped { get; private set; }

        /// <summary>Keeps the totals over all torrents (exported as metrics) in step with this torrent's last scrape.</summary>
        public void SetScrape(ScrapeCounts counts, TrackerCounters counters)
        {
            lock (_gate)
            {
                var old = Scraped ?? default;
                Interlocked.Add(ref counters.ScrapedSeeders, counts.Complete - old.Complete);
                Interlocked.Add(ref counters.ScrapedLeechers, counts.Incomplete - old.Incomplete);
                Interlocked.Add(ref counters.ScrapedDownloaded, counts.Downloaded - old.Downloaded);
                Scraped = counts;
            }
        }

        public void ForgetScrape(TrackerCounters counters)
        {
            lock (_gate)
            {
                if (Scraped is not { } old) return;
                Interlocked.Add(ref counters.ScrapedSeeders, -old.Complete);
                Interlocked.Add(ref counters.ScrapedLeechers, -old.Incomplete);
                Interlocked.Add(ref counters.ScrapedDownloaded, -old.Downloaded);
                Scraped = null;
            }
        }
    }
}
