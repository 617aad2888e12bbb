using Appliance.Metrics.Export;

namespace Appliance.Metrics.Counters;

/// <summary>The verification part of the metric catalogue (docs/metrics.md): torrents being hashed now and how far they are.</summary>
public static class VerificationMetrics
{
    public static void Register(MetricsExporter e, VerificationProgress progress)
    {
        e.AddGauge(MetricNames.VerificationProgress, "Bytes verified over bytes to verify, torrents verifying now (1 when none)", progress.Ratio);
        e.AddGauge(MetricNames.TorrentsVerifying, "Torrents being verified now", () => progress.Active);
    }
}
