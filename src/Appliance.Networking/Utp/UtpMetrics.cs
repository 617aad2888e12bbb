using Appliance.Metrics.Export;

namespace Appliance.Networking.Utp;

/// <summary>The uTP part of the metric catalogue (docs/metrics.md); the rest of the peers are on TCP (SeedingMetrics).</summary>
public static class UtpMetrics
{
    public const string UtpConnections = "appliance_utp_connections";
    public const string UtpConnectionsAccepted = "appliance_utp_connections_accepted_total";
    public const string UtpConnectionsRefused = "appliance_utp_connections_refused_total";
    public const string UtpPackets = "appliance_utp_packets_total";
    public const string UtpSentBytes = "appliance_utp_sent_bytes_total";
    public const string UtpRetransmits = "appliance_utp_retransmits_total";
    public const string UtpTimeouts = "appliance_utp_timeouts_total";
    public const string UtpResets = "appliance_utp_resets_total";
    public const string UtpDroppedPackets = "appliance_utp_dropped_packets_total";
    public const string UtpRtt = "appliance_utp_rtt_seconds";

    public static void Register(MetricsExporter e, UtpCounters c)
    {
        e.AddGauge(UtpConnections, "uTP connections open (half-open included); the rest of the peers are on TCP", c, UtpCounter.Connections);
        e.AddCounter(UtpConnectionsAccepted, "uTP connections that became peer sessions", c, UtpCounter.ConnectionsAccepted);
        // Refusals and retransmissions are counted in total and for one cause; the other cause is the difference.
        e.AddCounter(UtpConnectionsRefused, "uTP SYNs or connections refused with a reset, by reason", ["reason"],
        [
            new(["limit"], () => c.Read(UtpCounter.ConnectionsRefused) - c.Read(UtpCounter.HalfOpenRefused)),
            new(["half_open"], () => c.Read(UtpCounter.HalfOpenRefused)),
        ]);
        e.AddCounter(UtpPackets, "uTP packets by direction", "direction", c, ("in", UtpCounter.PacketsReceived), ("out", UtpCounter.PacketsSent));
        e.AddCounter(UtpSentBytes, "uTP payload bytes sent, retransmissions included", c, UtpCounter.PayloadBytesSent);
        e.AddCounter(UtpRetransmits, "uTP packets sent again, by cause", ["cause"],
        [
            new(["timeout"], () => c.Read(UtpCounter.Retransmits) - c.Read(UtpCounter.FastRetransmits)),
            new(["fast"], () => c.Read(UtpCounter.FastRetransmits)),
        ]);
        e.AddCounter(UtpTimeouts, "uTP retransmission timeouts", c, UtpCounter.Timeouts);
        e.AddCounter(UtpResets, "uTP resets by direction", "direction", c, ("sent", UtpCounter.ResetsSent), ("received", UtpCounter.ResetsReceived));
        e.AddCounter(UtpDroppedPackets, "uTP packets ignored: malformed, unknown connection, or acknowledging data never sent", c, UtpCounter.Dropped);
        e.AddHistogram(UtpRtt, "uTP round-trip times", c.Rtt);
    }
}
