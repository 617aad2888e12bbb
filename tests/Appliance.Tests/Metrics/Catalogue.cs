using System.Text.RegularExpressions;
using Appliance.Dht;
using Appliance.Metrics;
using Appliance.Networking.Http.Files;
using Appliance.Networking.Utp;
using Appliance.Trackers;
using Appliance.Seeding;
using Appliance.Seeding.Torrents;

namespace Appliance.Tests.Metrics;

/// <summary>The metric names of <see cref="MetricNames"/> and of docs/metrics.md, for cross-checks.</summary>
internal static partial class Catalogue
{
    public static IReadOnlyList<string> Names { get; } =
    [
        SeedingMetrics.UploadedBytes, SeedingMetrics.BlocksServed, SeedingMetrics.RequestsRejected, SeedingMetrics.PeersConnected,
        SeedingMetrics.Handshakes, SeedingMetrics.EncryptedHandshakes, SeedingMetrics.ConnectionsRefused, SeedingMetrics.SendQueueRequests, SeedingMetrics.BlockServeSeconds,
        SeedingMetrics.BlockServeDuration, SeedingMetrics.DiskErrors, SeedingMetrics.SendBatches, SeedingMetrics.SendsStalled,
        SeedingMetrics.MetadataPiecesServed, SeedingMetrics.PeersByInfoHash, SeedingMetrics.HashRequests, SeedingMetrics.HashesSent,
        SeedingMetrics.HashBytesSent, SeedingMetrics.HashRejects, SeedingMetrics.ReadAheads, SeedingMetrics.ReadAheadBytes,
        SeedingMetrics.ReadAheadWait, SeedingMetrics.SendMajorFaults,
        SeedingMetrics.ConnectionsAccepted, SeedingMetrics.Disconnects, SeedingMetrics.Torrents, MetricNames.VerificationProgress,
        MetricNames.TorrentsVerifying, TrackerMetrics.TrackerAnnounces, TrackerMetrics.TrackerAnnouncedTorrents,
        TrackerMetrics.TrackerScrapes, TrackerMetrics.TrackerScrapedPeers, TrackerMetrics.TrackerScrapedDownloads,
        TrackerMetrics.EmbeddedTrackerRequests, TrackerMetrics.EmbeddedTrackerSwarms, TrackerMetrics.EmbeddedTrackerPeers,
        DhtMetrics.DhtNodes, DhtMetrics.DhtQueriesReceived, DhtMetrics.DhtQueriesSent, DhtMetrics.DhtRepliesSent,
        DhtMetrics.DhtRepliesReceived, DhtMetrics.DhtDroppedPackets, DhtMetrics.DhtPeersStored, DhtMetrics.RateLimitedPackets,
        UtpMetrics.UtpConnections, UtpMetrics.UtpConnectionsAccepted, UtpMetrics.UtpConnectionsRefused, UtpMetrics.UtpPackets,
        UtpMetrics.UtpSentBytes, UtpMetrics.UtpRetransmits, UtpMetrics.UtpTimeouts, UtpMetrics.UtpResets,
        UtpMetrics.UtpDroppedPackets, UtpMetrics.UtpRtt,
        HttpFileMetrics.WebSeedSentBytes, HttpFileMetrics.WebSeedRequests, HttpFileMetrics.WebSeedConnections, HttpFileMetrics.WebSeedConnectionsAccepted,
        HttpFileMetrics.WebSeedConnectionsRefused, HttpFileMetrics.WebSeedTimeouts, HttpFileMetrics.WebSeedSendsStalled, HttpFileMetrics.WebSeedFileErrors,
        FilePoolMetrics.Capacity, FilePoolMetrics.Open, FilePoolMetrics.Lookups, FilePoolMetrics.Evictions, FilePoolMetrics.OpenFailures,
        FilePoolMetrics.ReleasedBytes, ResumeWriterMetrics.Pending,
        SeedingMetrics.TorrentUploadedBytes, SeedingMetrics.TorrentPeersConnected, MetricNames.ProcessAllocatedBytes,
        MetricNames.ProcessGcCollections, MetricNames.ProcessGcHeapBytes, MetricNames.ProcessGcPauseSeconds,
        MetricNames.ProcessCpuSeconds, MetricNames.ProcessResidentMemoryBytes, MetricNames.ProcessAnonymousMemoryBytes,
        MetricNames.ProcessMappedFileResidentBytes, MetricNames.ProcessThreads,
        MetricNames.ProcessThreadPoolThreads, MetricNames.ProcessOpenFds, MetricNames.ProcessStartTime, MetricNames.BuildInfo,
    ];

    /// <summary>Names in the first column of the tables of docs/metrics.md.</summary>
    public static HashSet<string> Documented()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(RepositoryRoot.Combine("docs", "metrics.md")))
        {
            var match = TableName().Match(line);
            if (match.Success) names.Add(match.Groups[1].Value);
        }
        return names;
    }

    /// <summary>Whether a series name in a query (maybe with _bucket/_sum/_count) belongs to a catalogued metric.</summary>
    public static bool Knows(string series, IReadOnlySet<string> documented)
    {
        if (documented.Contains(series)) return true;
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (series.EndsWith(suffix, StringComparison.Ordinal) && documented.Contains(series[..^suffix.Length])) return true;
        }
        return false;
    }

    [GeneratedRegex(@"^\|\s*`(appliance_[a-z0-9_]+)`\s*\|")]
    private static partial Regex TableName();
}
