using System.Net;

namespace Appliance.Protocol.TrackerWire;

/// <summary>A tracker's answer to an announce (HTTP or UDP), already validated.</summary>
public sealed record AnnounceResponse
{
    /// <summary>Set when the tracker refused the announce; the other fields are then meaningless.</summary>
    public string? FailureReason { get; init; }
    public string? WarningMessage { get; init; }
    public int Interval { get; init; }
    public int? MinInterval { get; init; }
    public string? TrackerId { get; init; }
    public int? Complete { get; init; }
    public int? Incomplete { get; init; }
    public IReadOnlyList<IPEndPoint> Peers { get; init; } = [];
}

/// <summary>Per-torrent counts from a scrape (BEP 48 / BEP 15).</summary>
public readonly record struct ScrapeCounts(int Complete, int Downloaded, int Incomplete);
