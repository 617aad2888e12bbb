namespace Appliance.Metrics;

/// <summary>
/// The metrics this assembly registers itself (process, build, verification); each domain's registrar names its own
/// (SeedingMetrics, TrackerMetrics, DhtMetrics, UtpMetrics, HttpFileMetrics). docs/metrics.md describes each. Prometheus
/// conventions: appliance_ prefix, base units (bytes, seconds), counters end in _total.
/// </summary>
public static class MetricNames
{
    // Torrents
    public const string VerificationProgress = "appliance_verification_progress_ratio";
    public const string TorrentsVerifying = "appliance_torrents_verifying";

    // Trackers

    // DHT

    // Process
    public const string ProcessAllocatedBytes = "appliance_process_allocated_bytes_total";
    public const string ProcessGcCollections = "appliance_process_gc_collections_total";
    public const string ProcessGcHeapBytes = "appliance_process_gc_heap_bytes";
    public const string ProcessGcPauseSeconds = "appliance_process_gc_pause_seconds_total";
    public const string ProcessCpuSeconds = "appliance_process_cpu_seconds_total";
    public const string ProcessResidentMemoryBytes = "appliance_process_resident_memory_bytes";
    public const string ProcessAnonymousMemoryBytes = "appliance_process_anonymous_memory_bytes";
    public const string ProcessMappedFileResidentBytes = "appliance_process_mapped_file_resident_bytes";
    public const string ProcessThreads = "appliance_process_threads";
    public const string ProcessThreadPoolThreads = "appliance_process_threadpool_threads";
    public const string ProcessOpenFds = "appliance_process_open_fds";
    public const string ProcessStartTime = "appliance_process_start_time_seconds";

    public const string BuildInfo = "appliance_build_info";
}
