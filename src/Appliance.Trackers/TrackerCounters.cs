using System.Net.Sockets;
using Appliance.Metrics.Counters;

namespace Appliance.Trackers;

/// <summary>The announcer's outcomes over one address family, by transport and result; one slot each in <see cref="AnnounceCounters"/>.</summary>
public enum AnnounceCounter
{
    HttpOk,
    HttpFailed,
    UdpOk,
    UdpFailed,

    /// <summary>Announces the tracker answered with a failure reason (counted in *Ok for transport, here for outcome).</summary>
    Refused,

    /// <summary>Announces that got no answer in time (counted in *Failed too).</summary>
    TimedOut,
}

/// <summary>The announcer's outcomes over one address family.</summary>
public sealed class AnnounceCounters : CounterSet<AnnounceCounter>;

/// <summary>What the announcer and the embedded tracker count, one slot each in <see cref="TrackerCounters"/>.</summary>
public enum TrackerCounter
{
    // Embedded tracker, by protocol and result.
    EmbeddedHttpAnnounces,
    EmbeddedHttpScrapes,
    EmbeddedHttpRejected,
    EmbeddedUdpConnects,
    EmbeddedUdpAnnounces,
    EmbeddedUdpScrapes,
    EmbeddedUdpRejected,

    /// <summary>Level: swarms currently tracked by the embedded tracker (set by its sweeper).</summary>
    EmbeddedSwarms,

    /// <summary>Level: peers currently tracked by the embedded tracker (set by its sweeper).</summary>
    EmbeddedPeers,

    // Scheduled scrapes (BEP 48): requests by outcome, and the trackers' counts summed over our torrents (levels).
    ScrapesOk,
    ScrapesFailed,
    ScrapedSeeders,
    ScrapedLeechers,
    ScrapedDownloaded,

    /// <summary>Level: torrents the announcer currently schedules.</summary>
    AnnouncedTorrents,
}

/// <summary>
/// Counters of the announcer and the embedded tracker; <see cref="TrackerMetrics"/> exports them. Announces are counted
/// per address family (each family announces on its own) in sets of their own.
/// </summary>
public sealed class TrackerCounters : CounterSet<TrackerCounter>
{
    public AnnounceCounters Ipv4Announces { get; } = new();
    public AnnounceCounters Ipv6Announces { get; } = new();

    public AnnounceCounters Announces(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? Ipv6Announces : Ipv4Announces;

    /// <summary>One announce outcome summed over both address families.</summary>
    public long ReadAnnounces(AnnounceCounter counter) => Ipv4Announces.Read(counter) + Ipv6Announces.Read(counter);
}
