using Appliance.Metrics.Export;
using Appliance.Storage.Resume;

namespace Appliance.Seeding.Torrents;

/// <summary>The resume writer's part of the metric catalogue (docs/metrics.md), read at scrape time like <see cref="FilePoolMetrics"/>.</summary>
public static class ResumeWriterMetrics
{
    public const string Pending = "appliance_resume_writes_pending";

    public static void Register(MetricsExporter e, ResumeWriter writer) =>
        e.AddGauge(Pending, "Verified torrents whose resume file is not written yet (they serve meanwhile; a crash now re-verifies them)",
            () => writer.PendingCount);
}
