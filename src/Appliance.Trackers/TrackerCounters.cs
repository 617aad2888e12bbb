using System.Net.Sockets;

namespace Appliance.Trackers;

/// <summary>The announcer's outcomes over one address family, by transport and result.</summary>
public sealed class AnnounceCounters
{
    public long HttpOk;
    public long HttpFailed;
    public long UdpOk;
    public long UdpFailed;

    /// <summary>Announces the tracker answered with a failure reason (counted in *Ok for transport, here for outcome).</summary>
    public long Refused;
    public long TimedOut;
}

/// <summary>
/// Counters of the announcer and the embedded tracker, read by the metrics exporter. Plain fields updated with
/// Interlocked; reading is racy by design (a scrape may see a count one behind).
/// </summary>
public sealed class TrackerCounters
{
    // Announcer, by address family (each family announces on its own), transport and result.
    public AnnounceCounters Ipv4Announces { get; } = new();
    public AnnounceCounters Ipv6Announces { get; } = new();

    public AnnounceCounters Announces(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? Ipv6Announces : Ipv4Announces;

    // Totals over both families.
    public long HttpAnnouncesOk => Volatile.Read(ref Ipv4Announces.HttpOk) + Volatile.Read(ref Ipv6Announces.HttpOk);
    public long HttpAnnouncesFailed => Volatile.Read(ref Ipv4Announces.HttpFailed) + Volatile.Read(ref Ipv6Announces.HttpFailed);
    public long UdpAnnouncesOk => Volatile.Read(ref Ipv4Announces.UdpOk) + Volatile.Read(ref Ipv6Announces.UdpOk);
    public long UdpAnnouncesFailed => Volatile.Read(ref Ipv4Announces.UdpFailed) + Volatile.Read(ref Ipv6Announces.UdpFailed);
    public long AnnouncesRefused => Volatile.Read(ref Ipv4Announces.Refused) + Volatile.Read(ref Ipv6Announces.Refused);
    public long AnnouncesTimedOut => Volatile.Read(ref Ipv4Announces.TimedOut) + Volatile.Read(ref Ipv6Announces.TimedOut);

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
