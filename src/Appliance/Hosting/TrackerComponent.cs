using System.Net;
using Appliance.Configuration;
using Appliance.Seeding.Torrents;
using Appliance.Trackers;
using Appliance.Trackers.Embedded;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// The embedded tracker on --tracker-listen (HTTP and UDP, same port). Tracks the registry's torrents (or any with
/// --open-tracker) and lists this appliance as a seeder of each, so a client that knows only this tracker finds us.
/// Prints <c>tracker listening on &lt;addr&gt; &lt;announce-url&gt;</c> once bound.
/// </summary>
public sealed class TrackerComponent : IApplianceComponent
{
    private readonly SeedingComponent _seeding;
    private readonly TextWriter _output;
    private readonly string? _announceHost;
    private readonly int _udpWorkers;

    private TrackerComponent(EmbeddedTracker tracker, SeedingComponent seeding, TextWriter output, string? announceHost, int udpWorkers)
    {
        _udpWorkers = udpWorkers;
        Tracker = tracker;
        _seeding = seeding;
        _output = output;
        _announceHost = announceHost;
    }

    public string Name => "tracker";

    public EmbeddedTracker Tracker { get; }

    /// <summary>The HTTP announce URL clients should use (set once started).</summary>
    public string? AnnounceUrl { get; private set; }

    public static TrackerComponent? Create(ServeOptions options, SeedingComponent seeding, TrackerCounters counters, ILoggerFactory loggers, TextWriter output)
    {
        if (!options.Tracker) return null;
        var tracker = new EmbeddedTracker(options.GetTrackerEndPoint(), SwarmStoreOptions.Defaults(options.OpenTracker, options.TrackerRateLimit), counters,
            loggers.CreateLogger("Appliance.Trackers.Embedded"));
        return new TrackerComponent(tracker, seeding, output, options.AnnounceHost, options.TrackerUdpWorkers);
    }

    /// <summary>The announce URL for a tracker bound to <paramref name="bound"/> (wildcards become the announce host or 127.0.0.1).</summary>
    public static string AnnounceUrlFor(IPEndPoint bound, string? announceHost) => AdvertisedUrl.For(bound, announceHost, "/announce");

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Tracker.Start(_udpWorkers);
        _seeding.Registry.Added += OnAdded;
        _seeding.Registry.Removed += OnRemoved;
        foreach (var torrent in _seeding.Registry.Snapshot()) OnAdded(torrent);
        AnnounceUrl = AnnounceUrlFor(Tracker.HttpEndPoint, _announceHost);
        lock (_output)
        {
            _output.WriteLine($"tracker listening on {Tracker.HttpEndPoint} {AnnounceUrl}");
            _output.Flush();
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _seeding.Registry.Added -= OnAdded;
        _seeding.Registry.Removed -= OnRemoved;
        await Tracker.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    private void OnAdded(SeededTorrent torrent)
    {
        foreach (var hash in torrent.Metainfo.SwarmHashes)
        {
            Tracker.Allow(hash);
            foreach (var self in _seeding.AdvertisedEndPoints) Tracker.RegisterSelf(hash, self);
        }
    }

    private void OnRemoved(SeededTorrent torrent)
    {
        foreach (var hash in torrent.Metainfo.SwarmHashes) Tracker.Disallow(hash);
    }
}
