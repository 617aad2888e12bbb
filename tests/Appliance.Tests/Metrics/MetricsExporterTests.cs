using System.Diagnostics;
using System.Globalization;
using Appliance.Metrics;
using Appliance.Metrics.Counters;
using Appliance.Metrics.Export;
using Appliance.Metrics.Runtime;
using Appliance.TestKit;

namespace Appliance.Tests.Metrics;

public class MetricsExporterTests
{
    private enum Reason { Alpha, Beta, Gamma }

    [Fact]
    public async Task Counter_reflects_the_source_at_each_scrape()
    {
        var exporter = new MetricsExporter();
        long bytes = 10;
        exporter.AddCounter("t_bytes_total", "test", () => Volatile.Read(ref bytes));
        Assert.Equal(10, Sample(await exporter.ExportTextAsync(), "t_bytes_total"));
        bytes = 12_345_678_901;
        Assert.Equal(12_345_678_901, Sample(await exporter.ExportTextAsync(), "t_bytes_total"));
    }

    [Fact]
    public async Task Counter_set_exports_each_labelled_series_from_the_counter_it_names()
    {
        var exporter = new MetricsExporter();
        var counters = new CounterSet<Reason>();
        counters.Increment(Reason.Beta);
        counters.Add(Reason.Gamma, 5);
        exporter.AddCounter("t_rejected_total", "test", "reason", counters, ("alpha", Reason.Alpha), ("gamma", Reason.Gamma), ("beta", Reason.Beta));
        exporter.AddCounter("t_all_total", "test", "reason", counters, r => r.ToString().ToLowerInvariant());
        exporter.AddGauge("t_beta", "test", counters, Reason.Beta);
        string text = await exporter.ExportTextAsync();
        Assert.Equal(0, Sample(text, "t_rejected_total{reason=\"alpha\"}"));
        Assert.Equal(1, Sample(text, "t_rejected_total{reason=\"beta\"}"));
        Assert.Equal(5, Sample(text, "t_rejected_total{reason=\"gamma\"}"));
        Assert.Equal(5, Sample(text, "t_all_total{reason=\"gamma\"}"));
        Assert.Equal(1, Sample(text, "t_beta"));
        Assert.Equal(6, counters.Total());
    }

    [Fact]
    public void Labelled_series_refuse_label_values_that_do_not_match_the_label_names()
    {
        var exporter = new MetricsExporter();
        Assert.Throws<ArgumentException>(() => exporter.AddCounter("t_x_total", "test", ["reason", "family"], [new LabelledSeries(["alpha"], () => 0)]));
    }

    private enum Gapped { First = 1, Second = 2 }

    [Fact]
    public void Counter_sets_refuse_enums_not_numbered_from_zero()
    {
        var thrown = Assert.ThrowsAny<Exception>(() => new CounterSet<Gapped>());
        Assert.Contains("0..N-1", (thrown.InnerException ?? thrown).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Histogram_keeps_bucket_counts_count_and_exact_sum_across_scrapes()
    {
        var exporter = new MetricsExporter();
        var histogram = new LatencyHistogram([0.001, 0.01, 0.1]);
        exporter.AddHistogram("t_latency_seconds", "test", histogram);
        double[] first = [0.0002, 0.0005, 0.004, 0.05, 0.3];
        double[] second = [0.0009, 0.009, 2.0, 7.5];
        foreach (var s in first) histogram.RecordTicks(Ticks(s));
        string text = await exporter.ExportTextAsync();
        Assert.Equal(2, Sample(text, "t_latency_seconds_bucket{le=\"0.001\"}"));
        Assert.Equal(3, Sample(text, "t_latency_seconds_bucket{le=\"0.01\"}"));
        Assert.Equal(4, Sample(text, "t_latency_seconds_bucket{le=\"0.1\"}"));
        Assert.Equal(5, Sample(text, "t_latency_seconds_bucket{le=\"+Inf\"}"));
        Assert.Equal(first.Sum(), Sample(text, "t_latency_seconds_sum"), 6);

        foreach (var s in second) histogram.RecordTicks(Ticks(s));
        text = await exporter.ExportTextAsync();
        Assert.Equal(3, Sample(text, "t_latency_seconds_bucket{le=\"0.001\"}"));
        Assert.Equal(5, Sample(text, "t_latency_seconds_bucket{le=\"0.01\"}"));
        Assert.Equal(6, Sample(text, "t_latency_seconds_bucket{le=\"0.1\"}"));
        Assert.Equal(9, Sample(text, "t_latency_seconds_count"));
        Assert.Equal(first.Sum() + second.Sum(), Sample(text, "t_latency_seconds_sum"), 6);
    }

    [Fact]
    public void Recording_a_batch_of_durations_counts_exactly_what_recording_each_would()
    {
        var one = new LatencyHistogram([0.001, 0.01, 0.1]);
        var batch = new LatencyHistogram([0.001, 0.01, 0.1]);
        long[] ticks = [-5, 0, Ticks(0.0002), Ticks(0.0005), Ticks(0.004), Ticks(0.05), Ticks(0.05), Ticks(0.3), Ticks(9)];
        foreach (long t in ticks) one.RecordTicks(t);
        batch.RecordTicks(ticks.AsSpan(0, 4));
        batch.RecordTicks(ReadOnlySpan<long>.Empty);
        batch.RecordTicks(ticks.AsSpan(4));
        Span<long> expected = stackalloc long[one.BucketCount];
        Span<long> actual = stackalloc long[batch.BucketCount];
        double expectedSum = one.Read(expected);
        Assert.Equal(expectedSum, batch.Read(actual));
        Assert.Equal(expected.ToArray(), actual.ToArray());
        Assert.Equal([4L, 1, 2, 2], actual.ToArray());
    }

    [Fact]
    public void Histogram_refuses_bounds_that_do_not_increase()
    {
        Assert.Throws<ArgumentException>(() => new LatencyHistogram([0.1, 0.1]));
        Assert.Throws<ArgumentException>(() => new LatencyHistogram([]));
    }

    [Fact]
    public void Recording_on_the_hot_path_allocates_nothing()
    {
        var histogram = new LatencyHistogram();
        var counters = new CounterSet<Reason>();
        histogram.RecordTicks(1);
        counters.Increment(Reason.Alpha);
        long allocated = ThreadAllocations.Quietest(() =>
        {
            for (int i = 0; i < 100_000; i++)
            {
                histogram.RecordTicks(i * 997L);
                counters.Increment((Reason)(i % 3));
            }
        });
        Assert.Equal(0, allocated);
        Span<long> buckets = stackalloc long[histogram.BucketCount];
        histogram.Read(buckets);
        long total = 0;
        foreach (var b in buckets) total += b;
        Assert.True(total >= 100_001 && (total - 1) % 100_000 == 0, $"{total} recorded");
    }

    [Fact]
    public async Task Process_metrics_are_exported_with_live_values()
    {
        var exporter = new MetricsExporter();
        ProcessMetrics.Register(exporter);
        string text = await exporter.ExportTextAsync();
        Assert.True(Sample(text, MetricNames.ProcessAllocatedBytes) > 0);
        Assert.True(Sample(text, MetricNames.ProcessResidentMemoryBytes) > 1_000_000);
        Assert.True(Sample(text, MetricNames.ProcessThreads) >= 1);
        Assert.True(Sample(text, MetricNames.ProcessOpenFds) >= 3);
        Assert.True(Sample(text, MetricNames.ProcessCpuSeconds) > 0);
        Assert.True(Sample(text, MetricNames.ProcessStartTime) > 1_600_000_000);
        Assert.Contains(MetricNames.ProcessGcCollections + "{generation=\"2\"}", text, StringComparison.Ordinal);
        Assert.True(Sample(text, MetricNames.ProcessAnonymousMemoryBytes) > 1_000_000);
        Assert.True(Sample(text, MetricNames.ProcessMappedFileResidentBytes) > 1_000_000);
    }

    [Fact]
    public async Task Reading_a_mapped_file_shows_in_mapped_file_memory_not_in_anonymous_memory()
    {
        using var temp = new TempDirectory();
        string path = Path.Combine(temp.Path, "content.bin");
        const int size = 128 << 20;
        using (var file = File.Create(path))
        {
            var chunk = new byte[1 << 20];
            Random.Shared.NextBytes(chunk);
            for (int i = 0; i < size / chunk.Length; i++) file.Write(chunk);
        }
        var exporter = new MetricsExporter();
        ProcessMetrics.Register(exporter);
        string before = await exporter.ExportTextAsync();

        using var mapped = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read);
        using var view = mapped.CreateViewAccessor(0, size, System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read);
        long sum = 0;
        for (long offset = 0; offset < size; offset += Environment.SystemPageSize) sum += view.ReadByte(offset);
        string after = await exporter.ExportTextAsync();

        double mappedGrowth = Sample(after, MetricNames.ProcessMappedFileResidentBytes) - Sample(before, MetricNames.ProcessMappedFileResidentBytes);
        double anonymousGrowth = Sample(after, MetricNames.ProcessAnonymousMemoryBytes) - Sample(before, MetricNames.ProcessAnonymousMemoryBytes);
        Assert.True(mappedGrowth >= 100 << 20, $"mapped file memory grew {mappedGrowth} bytes after touching {size} mapped bytes (sum {sum})");
        Assert.True(anonymousGrowth < 64 << 20, $"anonymous memory grew {anonymousGrowth} bytes from reading a mapped file");
    }

    [Fact]
    public void Catalogue_names_follow_prometheus_conventions()
    {
        foreach (var name in Catalogue.Names)
        {
            Assert.Matches("^appliance_[a-z0-9_]+$", name);
            Assert.DoesNotContain("__", name, StringComparison.Ordinal);
            Assert.False(name.EndsWith("_count", StringComparison.Ordinal) || name.EndsWith("_sum", StringComparison.Ordinal) || name.EndsWith("_bucket", StringComparison.Ordinal), name);
        }
        Assert.Equal(Catalogue.Names.Count, Catalogue.Names.Distinct().Count());
    }

    [Fact]
    public void Every_catalogue_name_is_documented_and_every_documented_name_is_in_the_catalogue()
    {
        var documented = Catalogue.Documented();
        Assert.Empty(Catalogue.Names.Except(documented));
        Assert.Empty(documented.Except(Catalogue.Names));
    }

    private static long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    /// <summary>The value of one sample line (series name with labels exactly as exported).</summary>
    internal static double Sample(string exposition, string series)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
                return double.Parse(line.AsSpan(series.Length + 1), NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        throw new Xunit.Sdk.XunitException($"series {series} not in the exposition:\n{exposition}");
    }
}
