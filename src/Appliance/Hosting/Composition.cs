using Appliance.Configuration;
using Appliance.Dht;
using Appliance.Networking.Http.Files;
using Appliance.Networking.Utp;
using Appliance.Seeding;
using Appliance.Seeding.Torrents;
using Appliance.Trackers;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>The composition root of <c>appliance serve</c>: builds every component from the options, in start order.</summary>
public static class Composition
{
    public static ApplianceHost Compose(ServeOptions options, ILoggerFactory loggers, TextWriter output)
    {
        var host = new ApplianceHost(options, loggers.CreateLogger<ApplianceHost>());
        var metrics = MetricsComponent.Create(options, loggers);
        if (metrics is not null) host.Add(metrics);
        var seeding = SeedingComponent.Create(options, loggers, output, metrics?.Verification);
        host.Add(seeding);
        var trackerCounters = new Appliance.Trackers.TrackerCounters();
        if (TrackerComponent.Create(options, seeding, trackerCounters, loggers, output) is { } tracker)
        {
            host.Add(tracker);
            seeding.DefaultTrackers = [TrackerComponent.AnnounceUrlFor(options.GetTrackerEndPoint(), options.AnnounceHost)];
        }
        host.Add(new AnnouncerComponent(options, seeding, trackerCounters, loggers));
        var dht = DhtComponent.Create(options, seeding, loggers, output);
        if (dht is not null) host.Add(dht);
        var utp = UtpComponent.Create(options, seeding, dht, loggers, output);
        if (utp is not null) host.Add(utp);
        var webSeed = WebSeedComponent.Create(options, seeding, loggers, output);
        if (webSeed is not null) host.Add(webSeed);
        host.Add(new LibraryComponent(seeding));
        var watcher = new ContentWatcher(seeding.Registry, seeding.Loader, loggers.CreateLogger<ContentWatcher>(), seeding.PrintSeeding);
        host.Add(new ContentWatcherComponent(watcher));
        if (metrics is not null)
        {
            metrics.WatchLibrary(seeding.Registry, watcher);
            SeedingMetrics.Register(metrics.Exporter, seeding.Counters);
            SeedingMetrics.Register(metrics.Exporter, seeding.Server.EncryptionCounters);
            SeedingMetrics.Register(metrics.Exporter, seeding.Registry, watcher, options.PerTorrentMetrics);
            FilePoolMetrics.Register(metrics.Exporter, seeding.FilePool);
            ResumeWriterMetrics.Register(metrics.Exporter, seeding.ResumeWriter);
            TrackerMetrics.Register(metrics.Exporter, trackerCounters);
            if (dht is not null) DhtMetrics.Register(metrics.Exporter, dht.Counters, dht.Counters6);
            if (utp is not null) UtpMetrics.Register(metrics.Exporter, utp.Counters);
            if (webSeed is not null) HttpFileMetrics.Register(metrics.Exporter, webSeed.Counters);
            new AdminApi(seeding.Registry, watcher, loggers.CreateLogger<AdminApi>(), options.ReadAdminToken(), options.GetMetricsEndPoint()?.Address)
                .Map(metrics.Routes);
        }
        if (metrics is not null) host.Add(metrics.Readiness); // keep last: /readyz turns 200 once everything above started
        return host;
    }
}
