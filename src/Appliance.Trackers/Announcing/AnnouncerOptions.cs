using System.Net;
using System.Net.Sockets;

namespace Appliance.Trackers.Announcing;

public sealed class AnnouncerOptions
{
    /// <summary>Our 20-byte peer id.</summary>
    public required ReadOnlyMemory<byte> PeerId { get; init; }

    /// <summary>The peer-wire listen port told to trackers.</summary>
    public required int Port { get; init; }

    public int NumWant { get; init; } = 0;

    /// <summary>
    /// The address families the peer port listens on. Each announces on its own (its own schedule, back-off and events),
    /// to the tracker hosts that have an address of that family: a dual-stack listener announces over IPv4 and IPv6.
    /// </summary>
    public IReadOnlyList<AddressFamily> Families { get; init; } = [AddressFamily.InterNetwork, AddressFamily.InterNetworkV6];

    /// <summary>
    /// BEP 7: specific addresses the peer port listens on, sent to HTTP trackers as <c>ipv4=</c> / <c>ipv6=</c> so a
    /// tracker reached over one family also learns the other. Only worth setting with global addresses.
    /// </summary>
    public IReadOnlyList<IPAddress> AnnouncedAddresses { get; init; } = [];

    /// <summary>Host name lookup (tests inject one); null: the system resolver.</summary>
    public Func<string, CancellationToken, Task<IPAddress[]>>? Resolve { get; init; }

    /// <summary>How long a tracker host's addresses are reused before they are looked up again.</summary>
    public TimeSpan DnsLifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Requests in flight at once over all tracker hosts (sockets in use).</summary>
    public int MaxConcurrentAnnounces { get; init; } = 512;

    /// <summary>Announces started at once, in flight or waiting for their tracker host's slot; past it, due torrents
    /// wait in the queue. Large, so torrents waiting for a slow tracker do not hold up the others.</summary>
    public int MaxStartedAnnounces { get; init; } = 16_384;

    /// <summary>Requests in flight at once to one tracker host over one address family: HTTP connections (kept alive,
    /// reused) or UDP requests.</summary>
    public int MaxConcurrentPerTracker { get; init; } = 32;

    /// <summary>Used when a tracker gives no usable interval.</summary>
    public TimeSpan DefaultInterval { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Floor for any re-announce, whatever a tracker says.</summary>
    public TimeSpan MinimumInterval { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMinutes(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A torrent's first announce waits at most this long for those added before it (zero: no pacing).</summary>
    public TimeSpan MaxInitialSpread { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>First announces per second, in the order torrents are added: 10,000 torrents added at once start over
    /// 2 s, and torrents added as a library loads leave as they come; the per-tracker cap paces them from there.</summary>
    public int InitialAnnouncesPerSecond { get; init; } = 5000;

    /// <summary>Scrapes (BEP 48): the first this long after a tracker answers, then at this interval, both with jitter.</summary>
    public TimeSpan FirstScrapeDelay { get; init; } = TimeSpan.FromMinutes(1);
    public TimeSpan ScrapeInterval { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Info-hashes per HTTP scrape request (UDP carries at most 74 per packet).</summary>
    public int HttpScrapeBatch { get; init; } = 50;

    public TimeSpan HttpTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public int MaxHttpResponseBytes { get; init; } = 1024 * 1024;
    public int MaxHttpRedirects { get; init; } = 5;

    /// <summary>BEP 15 retransmission: wait Base·2^n for attempt n, for <see cref="UdpAttempts"/> attempts.</summary>
    public TimeSpan UdpBaseTimeout { get; init; } = TimeSpan.FromSeconds(15);
    public int UdpAttempts { get; init; } = 4;

    /// <summary>Time allowed for all event=stopped announces at shutdown.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
