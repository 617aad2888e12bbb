using Appliance.Metrics.Counters;
using Prometheus;

namespace Appliance.Metrics.Export;

/// <summary>
/// The Prometheus exposition of the appliance. Components keep their counters as plain fields; the exporter
/// holds read callbacks and copies the values into prometheus-net collectors only when scraped, so the hot
/// path never touches prometheus-net. Uses its own registry (none of prometheus-net's default collectors).
/// </summary>
public sealed class MetricsExporter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly IMetricFactory _factory;
    private readonly List<Action> _updates = [];
    private readonly Lock _gate = new();

    public MetricsExporter()
    {
        _factory = Prometheus.Metrics.WithCustomRegistry(_registry);
        _registry.AddBeforeCollectCallback(Update);
    }

    /// <summary>A counter read from a monotonically increasing source.</summary>
    public void AddCounter(string name, string help, Func<long> read)
    {
        var counter = _factory.CreateCounter(name, help);
        OnCollect(() => counter.IncTo(read()));
    }

    public void AddCounter(string name, string help, Func<double> read)
    {
        var counter = _factory.CreateCounter(name, help);
        OnCollect(() => counter.IncTo(read()));
    }

    /// <summary>A counter family with one label whose values are fixed (reasons, results, types).</summary>
    public void AddCounter(string name, string help, string labelName, IReadOnlyList<string> labelValues, Func<int, long> read)
    {
        var counter = _factory.CreateCounter(name, help, [labelName]);
        var children = labelValues.Select(v => counter.WithLabels(v)).ToArray();
        OnCollect(() =>
        {
            for (int i = 0; i < children.Length; i++) children[i].IncTo(read(i));
        });
    }

    /// <summary>A counter family with several labels; <paramref name="series"/> holds each series' label values in label order.</summary>
    public void AddCounter(string name, string help, string[] labelNames, IReadOnlyList<string[]> series, Func<int, long> read)
    {
        var counter = _factory.CreateCounter(name, help, labelNames);
        var children = series.Select(values => counter.WithLabels(values)).ToArray();
        OnCollect(() =>
        {
            for (int i = 0; i < children.Length; i++) children[i].IncTo(read(i));
        });
    }

    /// <summary>A counter family over a <see cref="ReasonCounters{TReason}"/>, labelled by the given names (in enum order).</summary>
    public void AddCounter<TReason>(string name, string help, string labelName, ReasonCounters<TReason> source, IReadOnlyList<string> labelValues)
        where TReason : unmanaged, Enum
    {
        if (labelValues.Count != source.Count) throw new ArgumentException($"{name}: {labelValues.Count} label values for {source.Count} counters", nameof(labelValues));
        AddCounter(name, help, labelName, labelValues, source.ReadAt);
    }

    public void AddGauge(string name, string help, Func<double> read)
    {
        var gauge = _factory.CreateGauge(name, help);
        OnCollect(() => gauge.Set(read()));
    }

    public void AddGauge(string name, string help, string labelName, IReadOnlyList<string> labelValues, Func<int, double> read)
    {
        var gauge = _factory.CreateGauge(name, help, [labelName]);
        var children = labelValues.Select(v => gauge.WithLabels(v)).ToArray();
        OnCollect(() =>
        {
            for (int i = 0; i < children.Length; i++) children[i].Set(read(i));
        });
    }

    /// <summary>A histogram mirrored from a <see cref="LatencyHistogram"/> (same buckets, same count and sum).</summary>
    public void AddHistogram(string name, string help, LatencyHistogram source)
    {
        var histogram = _factory.CreateHistogram(name, help, new HistogramConfiguration { Buckets = [.. source.BoundsSeconds] });
        var mirror = new HistogramMirror(source);
        OnCollect(() => mirror.CopyInto(histogram));
    }

    /// <summary>Labelled families whose label set changes (torrents by name); the caller updates them in <see cref="OnCollect"/>.</summary>
    public Gauge CreateGauge(string name, string help, params string[] labelNames) => _factory.CreateGauge(name, help, labelNames);

    public Counter CreateCounter(string name, string help, params string[] labelNames) => _factory.CreateCounter(name, help, labelNames);

    /// <summary>Runs before every scrape, in registration order.</summary>
    public void OnCollect(Action update)
    {
        lock (_gate) _updates.Add(update);
    }

    public Task WriteAsync(Stream destination, CancellationToken cancellationToken) =>
        _registry.CollectAndExportAsTextAsync(destination, cancellationToken);

    /// <summary>The exposition as text (tests and the admin API).</summary>
    public async Task<string> ExportTextAsync(CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        await WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private void Update()
    {
        // Scrapes may overlap; the copies (counter IncTo, histogram deltas) must not.
        lock (_gate)
        {
            foreach (var update in _updates) update();
        }
    }
}
