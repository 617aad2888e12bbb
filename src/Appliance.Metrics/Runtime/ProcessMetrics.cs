using System.Globalization;
using Appliance.Metrics.Export;

namespace Appliance.Metrics.Runtime;

/// <summary>
/// Process and GC metrics read at scrape time from the runtime and /proc (no prometheus-net default collectors:
/// those rely on EventListener/Process and are not what we want in the Native AOT binary).
/// </summary>
public static class ProcessMetrics
{

    public static void Register(MetricsExporter exporter, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(exporter);
        double startTime = (clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        try
        {
            startTime = System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime().Subtract(DateTime.UnixEpoch).TotalSeconds;
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception)
        {
        }

        exporter.AddCounter(MetricNames.ProcessAllocatedBytes, "Managed bytes allocated since start (all threads); flat while serving means an allocation-free hot path",
            () => GC.GetTotalAllocatedBytes(precise: false));
        exporter.AddCounter(MetricNames.ProcessGcCollections, "Garbage collections by generation", ["generation"],
            [.. Enumerable.Range(0, 3).Select(g => new LabelledSeries([g.ToString(CultureInfo.InvariantCulture)], () => GC.CollectionCount(g)))]);
        exporter.AddGauge(MetricNames.ProcessGcHeapBytes, "Managed heap size after the last collection", () => GC.GetGCMemoryInfo().HeapSizeBytes);
        exporter.AddCounter(MetricNames.ProcessGcPauseSeconds, "Time the runtime paused threads for garbage collection",
            () => GC.GetTotalPauseDuration().TotalSeconds);
        exporter.AddCounter(MetricNames.ProcessCpuSeconds, "User and system CPU time of the process", () => Environment.CpuUsage.TotalTime.TotalSeconds);
        exporter.AddGauge(MetricNames.ProcessResidentMemoryBytes,
            "Resident set size, including pages of mapped content files that the kernel can drop at will; alert on the anonymous figure instead",
            ReadResidentBytes);
        exporter.AddGauge(MetricNames.ProcessAnonymousMemoryBytes,
            "Resident memory the process itself owns (managed heap, native buffers, stacks): RssAnon of /proc/self/status",
            () => ReadStatusNumber("RssAnon:") * 1024);
        exporter.AddGauge(MetricNames.ProcessMappedFileResidentBytes,
            "Resident pages of mapped files (served content and the binary): page cache the kernel reclaims under pressure, RssFile of /proc/self/status",
            () => ReadStatusNumber("RssFile:") * 1024);
        exporter.AddGauge(MetricNames.ProcessThreads, "Operating-system threads of the process", ReadThreadCount);
        exporter.AddGauge(MetricNames.ProcessThreadPoolThreads, "Thread-pool worker threads", () => ThreadPool.ThreadCount);
        exporter.AddGauge(MetricNames.ProcessOpenFds, "Open file descriptors", ReadOpenFds);
        exporter.AddGauge(MetricNames.ProcessStartTime, "Start time of the process since the Unix epoch", () => startTime);
    }

    internal static double ReadResidentBytes()
    {
        // /proc/self/statm: size resident shared text lib data dt (pages)
        string? statm = ReadProc("/proc/self/statm");
        if (statm is null) return Environment.WorkingSet;
        var fields = statm.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 1 && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out long pages)
            ? (double)pages * Environment.SystemPageSize
            : Environment.WorkingSet;
    }

    internal static double ReadThreadCount() => ReadStatusNumber("Threads:");

    /// <summary>The number on a "Name:   N" or "Name:   N kB" line of /proc/self/status; NaN where the kernel does not report it.</summary>
    private static double ReadStatusNumber(string field)
    {
        string? status = ReadProc("/proc/self/status");
        if (status is null) return double.NaN;
        foreach (var line in status.Split('\n'))
        {
            if (!line.StartsWith(field, StringComparison.Ordinal)) continue;
            var value = line.AsSpan(field.Length).Trim();
            if (value.EndsWith(" kB", StringComparison.Ordinal)) value = value[..^3];
            return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long number) ? number : double.NaN;
        }
        return double.NaN;
    }

    internal static double ReadOpenFds()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return double.NaN;
        }
    }

    private static string? ReadProc(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
