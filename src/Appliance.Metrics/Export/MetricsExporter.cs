using Appliance.Metrics.Counters;
using Prometheus;

namespace Appliance.Metrics.Export;

/// <summary>One series of a labelled family: its label values, in the family's label order, and where its value is read.</summary>
public readonly record struct LabelledSeries(string[] Labels, Func<double> Read);

/// <summary>
/// The Prometheus exposition of the appliance. Components keep their counters in a <see cref="CounterSet{TCounter}"/>
/// and each domain's registrar describes its metrics here (name, help, labels, the counter each series reads); the exporter
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

    /// <summary>One value of a <see cref="CounterSet{TCounter}"/> as an unlabelled counter.</summary>
    public void AddCounter<TCounter>(string name, string help, CounterSet<TCounter> source, TCounter counter) where TCounter : unmanaged, Enum =>
        AddCounter(name, help, () => source.Read(counter));

    /// <summary>One value of a <see cref="CounterSet{TCounter}"/> as an unlabelled gauge.</summary>
    public void AddGauge<TCounter>(string name, string help, CounterSet<TCounter> source, TCounter counter) where TCounter : unmanaged, Enum =>
        AddGauge(name, help, () => source.Read(counter));

    /// <summary>A counter family with one label, each label value naming the counter it reads.</summary>
    public void AddCounter<TCounter>(string name, string help, string labelName, CounterSet<TCounter> source, params ReadOnlySpan<(string Label, TCounter Counter)> series)
        where TCounter : unmanaged, Enum => AddCounter(name, help, [labelName], Labelled(source, series));

    /// <summary>A gauge family with one label, each label value naming the counter it reads.</summary>
    public void AddGauge<TCounter>(string name, string help, string labelName, CounterSet<TCounter> source, params ReadOnlySpan<(string Label, TCounter Counter)> series)
        where TCounter : unmanaged, Enum => AddGauge(name, help, [labelName], Labelled(source, series));

    /// <summary>A counter family with one series per value of the set's enum (reasons, results), labelled by <paramref name="label"/>.</summary>
    public void AddCounter<TCounter>(string name, string help, string labelName, CounterSet<TCounter> source, Func<TCounter, string> label)
        where TCounter : unmanaged, Enum =>
        AddCounter(name, help, [labelName], [.. Enum.GetValues<TCounter>().Select(c => new LabelledSeries([label(c)], () => source.Read(c)))]);

    /// <summary>A counter family; each series carries its label values (in <paramref name="labelNames"/> order) and its source.</summary>
    public void AddCounter(string name, string help, string[] labelNames, IReadOnlyList<LabelledSeries> series)
    {
        var counter = _factory.CreateCounter(name, help, labelNames);
        var children = series.Select(s => (Child: counter.WithLabels(Checked(name, labelNames, s)), s.Read)).ToArray();
        OnCollect(() =>
        {
            foreach (var (child, read) in children) child.IncTo(read());
        });
    }

    /// <summary>A gauge family; each series carries its label values (in <paramref name="labelNames"/> order) and its source.</summary>
    public void AddGauge(string name, string help, string[] labelNames, IReadOnlyList<LabelledSeries> series)
    {
        var gauge = _factory.CreateGauge(name, help, labelNames);
        var children = series.Select(s => (Child: gauge.WithLabels(Checked(name, labelNames, s)), s.Read)).ToArray();
        OnCollect(() =>
        {
            foreach (var (child, read) in children) child.Set(read());
        });
    }

    private static LabelledSeries[] Labelled<TCounter>(CounterSet<TCounter> source, ReadOnlySpan<(string Label, TCounter Counter)> series)
        where TCounter : unmanaged, Enum
    {
        var result = new LabelledSeries[series.Length];
        for (int i = 0; i < series.Length; i++)
        {
            var counter = series[i].Counter;
            result[i] = new LabelledSeries([series[i].Label], () => source.Read(counter));
        }
        return result;
    }

    private static string[] Checked(string name, string[] labelNames, LabelledSeries series) =>
        series.Labels.Length == labelNames.Length ? series.Labels
            : throw new ArgumentException($"{name}: {series.Labels.Length} label values for {labelNames.Length} labels", nameof(series));

    public void AddGauge(string name, string help, Func<double> read)
    {
        var gauge = _factory.CreateGauge(name, help);
        OnCollect(() => gauge.Set(read()));
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
