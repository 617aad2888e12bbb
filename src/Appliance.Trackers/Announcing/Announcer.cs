using System.Collections.Concurrent;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Trackers.Announcing;

/// <summary>
/// Announces every added torrent to its trackers. Policy lives in <see cref="AnnounceSchedule"/>; this class only runs
/// due announces, at most <see cref="AnnouncerOptions.MaxConcurrentAnnounces"/> at a time, over the shared HTTP and UDP clients.
/// </summary>
public sealed class Announcer : IAsyncDisposable
{
    private readonly AnnouncerOptions _options;
    private readonly TrackerCounters _counters;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly HttpTrackerClient _http;
    private readonly UdpTrackerClient _udp;
    private readonly ConcurrentDictionary<InfoHash, Entry> _torrents = new();
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly Random _random = new();
    private readonly uint _key = (uint)Random.Shared.Next();
    private Task _loop = Task.CompletedTask;
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
        _slots = new SemaphoreSlim(Math.Max(1, options.MaxConcurrentAnnounces));
    }

    public UdpTrackerClient Udp => _udp;

    public int Count => _torrents.Count;

    public void Start() => _loop = RunAsync(_stopping.Token);

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
        if (_torrents.TryAdd(infoHash, new Entry(schedule, uploaded)))
        {
            Interlocked.Increment(ref _counters.AnnouncedTorrents);
            _wake.Release();
        }
    }

    /// <summary>Stops announcing a torrent and tells its tracker (event=stopped) in the background.</summary>
    public void Remove(InfoHash infoHash)
    {
        if (!_torrents.TryRemove(infoHash, out var entry)) return;
        Interlocked.Decrement(ref _counters.AnnouncedTorrents);
        if (entry.Schedule.Current is not null && Volatile.Read(ref _stopped) == 0)
            _ = SendStoppedAsync(entry, _stopping.Token);
    }

    public AnnounceSchedule? GetSchedule(InfoHash infoHash) => _torrents.TryGetValue(infoHash, out var entry) ? entry.Schedule : null;

    /// <summary>Stops scheduling and sends event=stopped to each torrent's current tracker within the stop timeout.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        try { await _loop.ConfigureAwait(false); } catch (OperationCanceledException) { }
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

    private static bool IsSupported(string url) =>
        url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith("udp://", StringComparison.OrdinalIgnoreCase);

    private async Task RunAsync(CancellationToken stopping)
    {
        await Task.Yield();
        while (!stopping.IsCancellationRequested)
        {
            var now = _time.GetUtcNow();
            var next = now + TimeSpan.FromSeconds(1);
            foreach (var entry in _torrents.Values)
            {
                if (entry.InFlight) continue;
                if (entry.Schedule.NextAnnounce > now)
                {
                    if (entry.Schedule.NextAnnounce < next) next = entry.Schedule.NextAnnounce;
                    continue;
                }
                await _slots.WaitAsync(stopping).ConfigureAwait(false);
                entry.InFlight = true;
                _ = RunOneAsync(entry, stopping);
            }
            var wait = next - _time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await _wake.WaitAsync(wait, stopping).ConfigureAwait(false);
            }
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
            entry.InFlight = false;
            _slots.Release();
            _wake.Release();
        }
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
            var response = await SendAsync(tracker, entry, AnnounceEvent.Stopped, cancellationToken).ConfigureAwait(false);
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
        public AnnounceSchedule Schedule { get; } = schedule;
        public Func<long> Uploaded { get; } = uploaded;
        public volatile bool InFlight;
    }
}
