using System.Net;
using Microsoft.Extensions.Logging;

namespace Appliance.Trackers;

internal static partial class TrackerLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "embedded tracker listening on {EndPoint} (HTTP /announce /scrape and UDP), open={Open}")]
    public static partial void EmbeddedListening(ILogger logger, EndPoint endPoint, bool open);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Debug, Message = "announced {InfoHash} to {Tracker}: {Peers} peers, next in {Interval}s")]
    public static partial void Announced(ILogger logger, string infoHash, string tracker, int peers, int interval);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "tracker {Tracker} failed for {InfoHash}: {Reason}")]
    public static partial void TrackerFailed(ILogger logger, string tracker, string infoHash, string reason);

    [LoggerMessage(EventId = 4016, Level = LogLevel.Warning, Message = "no tracker answered for {InfoHash}; backing off {Delay}s")]
    public static partial void AnnounceFailed(ILogger logger, string infoHash, int delay);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "tracker {Tracker} refused {InfoHash}: {Reason}")]
    public static partial void AnnounceRefused(ILogger logger, string tracker, string infoHash, string reason);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Information, Message = "tracker {Tracker} warns for {InfoHash}: {Warning}")]
    public static partial void AnnounceWarning(ILogger logger, string tracker, string infoHash, string warning);

    [LoggerMessage(EventId = 4014, Level = LogLevel.Warning, Message = "tracker {Tracker}: unsupported URL, skipped")]
    public static partial void UnsupportedTracker(ILogger logger, string tracker);

    [LoggerMessage(EventId = 4015, Level = LogLevel.Information, Message = "sent event=stopped for {Count} torrents ({Failed} failed)")]
    public static partial void StoppedSent(ILogger logger, int count, int failed);

    [LoggerMessage(EventId = 4017, Level = LogLevel.Debug, Message = "scrape of {Tracker} failed: {Reason}")]
    public static partial void ScrapeFailed(ILogger logger, string tracker, string reason);
}
