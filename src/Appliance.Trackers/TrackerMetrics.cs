using Appliance.Metrics.Export;

namespace Appliance.Trackers;

/// <summary>The trackers' part of the metric catalogue (docs/metrics.md): the announcer, its scrapes and the embedded tracker.</summary>
public static class TrackerMetrics
{
    public const string TrackerAnnounces = "appliance_tracker_announces_total";
    public const string TrackerAnnouncedTorrents = "appliance_tracker_announced_torrents";
    public const string TrackerScrapes = "appliance_tracker_scrapes_total";
    public const string TrackerScrapedPeers = "appliance_tracker_scraped_peers";
    public const string TrackerScrapedDownloads = "appliance_tracker_scraped_downloads";
    public const string EmbeddedTrackerRequests = "appliance_embedded_tracker_requests_total";
    public const string EmbeddedTrackerSwarms = "appliance_embedded_tracker_swarms";
    public const string EmbeddedTrackerPeers = "appliance_embedded_tracker_peers";

    public static void Register(MetricsExporter e, TrackerCounters c)
    {
        // The announcer counts transport outcomes (ok/failed) and, among them, refusals and timeouts: success is ok but
        // not refused, error is failed but not timed out.
        (string Family, AnnounceCounters Counters)[] families = [("ipv4", c.Ipv4Announces), ("ipv6", c.Ipv6Announces)];
        var announces = new List<LabelledSeries>();
        foreach (var (family, a) in families)
        {
            announces.Add(new(["success", family], () =>
                Math.Max(0, a.Read(AnnounceCounter.HttpOk) + a.Read(AnnounceCounter.UdpOk) - a.Read(AnnounceCounter.Refused))));
            announces.Add(new(["refused", family], () => a.Read(AnnounceCounter.Refused)));
            announces.Add(new(["timeout", family], () => a.Read(AnnounceCounter.TimedOut)));
            announces.Add(new(["error", family], () =>
                Math.Max(0, a.Read(AnnounceCounter.HttpFailed) + a.Read(AnnounceCounter.UdpFailed) - a.Read(AnnounceCounter.TimedOut))));
        }
        e.AddCounter(TrackerAnnounces, "Announces to trackers by outcome and address family", ["result", "family"], announces);
        e.AddGauge(TrackerAnnouncedTorrents, "Torrents the announcer schedules", c, TrackerCounter.AnnouncedTorrents);
        e.AddCounter(TrackerScrapes, "Scrape requests to the torrents' trackers by outcome", "result", c,
            ("success", TrackerCounter.ScrapesOk),
            ("error", TrackerCounter.ScrapesFailed));
        e.AddGauge(TrackerScrapedPeers, "Seeders and leechers the trackers report, summed over our torrents (last scrape)", "role", c,
            ("seeders", TrackerCounter.ScrapedSeeders),
            ("leechers", TrackerCounter.ScrapedLeechers));
        e.AddGauge(TrackerScrapedDownloads, "Completed downloads the trackers report, summed over our torrents (last scrape)",
            c, TrackerCounter.ScrapedDownloaded);
        e.AddCounter(EmbeddedTrackerRequests, "Requests to the embedded tracker by protocol and type", ["protocol", "type"],
        [
            Series(c, TrackerCounter.EmbeddedHttpAnnounces, "http", "announce"),
            Series(c, TrackerCounter.EmbeddedHttpScrapes, "http", "scrape"),
            Series(c, TrackerCounter.EmbeddedHttpRejected, "http", "rejected"),
            Series(c, TrackerCounter.EmbeddedUdpConnects, "udp", "connect"),
            Series(c, TrackerCounter.EmbeddedUdpAnnounces, "udp", "announce"),
            Series(c, TrackerCounter.EmbeddedUdpScrapes, "udp", "scrape"),
            Series(c, TrackerCounter.EmbeddedUdpRejected, "udp", "rejected"),
        ]);
        e.AddGauge(EmbeddedTrackerSwarms, "Swarms the embedded tracker tracks", c, TrackerCounter.EmbeddedSwarms);
        e.AddGauge(EmbeddedTrackerPeers, "Peers the embedded tracker tracks", c, TrackerCounter.EmbeddedPeers);
    }

    private static LabelledSeries Series(TrackerCounters c, TrackerCounter counter, params string[] labels) => new(labels, () => c.Read(counter));
}
