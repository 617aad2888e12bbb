namespace Appliance.Trackers;

/// <summary>
/// Counters of the announcer and the embedded tracker, read by the metrics exporter. Plain fields updated with
/// Interlocked; reading is racy by design (a scrape may see a count one behind).
/// </summary>
public sealed class TrackerCounters
{
    // Announcer, by transport and result.
    public long HttpAnnouncesOk;
    public long HttpAnnouncesFailed;
    public long UdpAnnouncesOk;
    public long UdpAnnouncesFailed;

    /// <summary>Announces the tracker answered with a failure reason (counted in *Ok for transport, here for outcome).</summary>
    public long AnnouncesRefused;
    public long AnnouncesTimedOut;

    // Embedded tracker, by protocol and result.
    public long EmbeddedHttpAnnounces;
    public long EmbeddedHttpScrapes;
    public long EmbeddedHttpRejected;
    public long EmbeddedUdpConnects;
    public long EmbeddedUdpAnnounces;
    public long EmbeddedUdpScrapes;
    public long EmbeddedUdpRejected;

    /// <summary>Swarms and peers currently tracked by the embedded tracker (set by its sweeper).</summary>
    public long EmbeddedSwarms;
    public long EmbeddedPeers;

    // Scheduled scrapes (BEP 48): requests by outcome, and the trackers' counts summed over our torrents.
    public long ScrapesOk;
    public long ScrapesFailed;
    public long ScrapedSeeders;
    public long ScrapedLeechers;
    public long ScrapedDownloaded;

    /// <summary>Torrents the announcer currently schedules.</summary>
    public long AnnouncedTorrents;
}
