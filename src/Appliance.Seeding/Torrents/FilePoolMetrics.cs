using Appliance.Metrics.Export;
using Appliance.Storage.Pool;

namespace Appliance.Seeding.Torrents;

/// <summary>
/// The file pool's part of the metric catalogue (docs/metrics.md). The pool lives in Appliance.Storage, which has no
/// metrics dependency, so it keeps its four counts itself and this registrar reads them at scrape time.
/// </summary>
public static class FilePoolMetrics
{
    public const string Capacity = "appliance_file_pool_capacity";
    public const string Open = "appliance_file_pool_open_files";
    public const string Lookups = "appliance_file_pool_lookups_total";
    public const string Evictions = "appliance_file_pool_evictions_total";
    public const string OpenFailures = "appliance_file_pool_open_failures_total";
    public const string ReleasedBytes = "appliance_file_pool_released_bytes_total";

    public static void Register(MetricsExporter e, FilePool pool)
    {
        e.AddGauge(Capacity, "Torrent files the pool keeps open at most (--file-pool)", () => pool.Capacity);
        e.AddGauge(Open, "Torrent files open (and mapped) now", () => pool.OpenCount);
        e.AddCounter(Lookups, "File lookups by reads and sends: hit (already open) or miss (opened)", ["result"],
            [new LabelledSeries(["hit"], () => pool.Hits), new LabelledSeries(["miss"], () => pool.Misses)]);
        e.AddCounter(Evictions, "Idle files closed to make room for another", () => pool.Evictions);
        e.AddCounter(OpenFailures, "Files that could not be opened when a read needed them (deleted, permissions); that read fails", () => pool.OpenFailures);
        e.AddCounter(ReleasedBytes, "Bytes of mapped content no send touched for an interval, released from resident memory (--page-release-interval); the page cache keeps them", () => pool.ReleasedBytes);
    }
}
