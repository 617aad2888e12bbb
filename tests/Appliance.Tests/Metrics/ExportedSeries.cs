namespace Appliance.Tests.Metrics;

/// <summary>
/// A Prometheus exposition reduced to what dashboards and alert rules depend on: each family's type and each series'
/// name and labels, sorted, without values. Label values that name a torrent or the build are replaced by <c>*</c>.
/// </summary>
internal static class ExportedSeries
{
    private static readonly string[] VaryingLabels = ["infohash", "name", "version"];

    public static List<string> Of(string exposition)
    {
        var series = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal)) series.Add(line);
            else if (line.Length > 0 && line[0] != '#') series.Add(Mask(line[..line.LastIndexOf(' ')]));
        }
        return [.. series];
    }

    private static string Mask(string series)
    {
        foreach (var label in VaryingLabels)
        {
            int start = series.IndexOf(label + "=\"", StringComparison.Ordinal);
            if (start < 0 || (start > 0 && series[start - 1] != '{' && series[start - 1] != ',')) continue;
            int valueStart = start + label.Length + 2;
            int valueEnd = series.IndexOf('"', valueStart);
            series = string.Concat(series.AsSpan(0, valueStart), "*", series.AsSpan(valueEnd));
        }
        return series;
    }
}
