using System.Text.RegularExpressions;
using Appliance.Metrics;

namespace Appliance.Tests.Metrics;

/// <summary>The metric names of <see cref="MetricNames"/> and of docs/metrics.md, for cross-checks.</summary>
internal static partial class Catalogue
{
    public static IReadOnlyList<string> Names { get; } =
    [
        MetricNames.UploadedBytes, MetricNames.BlocksServed, MetricNames.RequestsRejected, MetricNames.PeersConnected,
        MetricNames.Handshakes, MetricNames.EncryptedHandshakes, MetricNames.ConnectionsRefused, MetricNames.SendQueueRequests, MetricNames.BlockServeSeconds,
        MetricNames.BlockServeDuration, MetricNames.DiskErrors, MetricNames.SendBatches, MetricNames.SendsStalled,
        MetricNames.MetadataPiecesServed, MetricNames.PeersByInfoHash, MetricNames.HashRequests, MetricNames.HashesSent,
        MetricNames.HashBytesSent, MetricNames.HashRejects,
        MetricNames.ConnectionsAccepted, MetricNames.Disconnects, MetricNames.Torrents, MetricNames.VerificationProgress,
        MetricNames.TorrentsVerifying, MetricNames.TrackerAnnounces, MetricNames.TrackerAnnouncedTorrents,
        MetricNames.TrackerScrapes, MetricNames.TrackerScrapedPeers, MetricNames.TrackerScrapedDownloads,
        MetricNames.EmbeddedTrackerRequests, MetricNames.EmbeddedTrackerSwarms, MetricNames.EmbeddedTrackerPeers,
        MetricNames.DhtNodes, MetricNames.DhtQueriesReceived, MetricNames.DhtQueriesSent, MetricNames.DhtRepliesSent,
        MetricNames.DhtRepliesReceived, MetricNames.DhtDroppedPackets, MetricNames.DhtPeersStored, MetricNames.RateLimitedPackets,
        MetricNames.UtpConnections, MetricNames.UtpConnectionsAccepted, MetricNames.UtpConnectionsRefused, MetricNames.UtpPackets,
        MetricNames.UtpSentBytes, MetricNames.UtpRetransmits, MetricNames.UtpTimeouts, MetricNames.UtpResets,
        MetricNames.UtpDroppedPackets, MetricNames.UtpRtt,
        MetricNames.WebSeedSentBytes, MetricNames.WebSeedRequests, MetricNames.WebSeedConnections, MetricNames.WebSeedConnectionsAccepted,
        MetricNames.WebSeedConnectionsRefused, MetricNames.WebSeedTimeouts, MetricNames.WebSeedSendsStalled, MetricNames.WebSeedFileErrors,
        MetricNames.FilePoolCapacity, MetricNames.FilePoolOpen, MetricNames.FilePoolLookups, MetricNames.FilePoolEvictions, MetricNames.FilePoolOpenFailures,
        MetricNames.TorrentUploadedBytes, MetricNames.TorrentPeersConnected, MetricNames.ProcessAllocatedBytes,
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
