using System.Globalization;
using System.Runtime.InteropServices;

namespace Appliance.LoadGen;

/// <summary>What we can observe of the seeder from outside: CPU time and RSS from /proc, an allocated-bytes counter from /metrics.</summary>
public sealed partial class SeederProbe(int pid, string? metricsUrl) : IDisposable
{
    private const int ScClkTck = 2;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);

    private static readonly double TicksPerSecond = ReadTicksPerSecond();

    private static double ReadTicksPerSecond()
    {
        try
        {
            var ticks = SysConf(ScClkTck);
            return ticks > 0 ? ticks : 100;
        }
        catch (DllNotFoundException)
        {
            return 100;
        }
    }

    // utime + stime of every thread of the process, in seconds; null when there is no such process.
    public double? CpuSeconds()
    {
        if (pid <= 0) return null;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
            var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
            var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (utime + stime) / TicksPerSecond;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public long? RssBytes()
    {
        if (pid <= 0) return null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    // The first counter whose name says "allocated ... bytes", summed over its label sets. Null when the
    // seeder exposes none (then the report says n/a).
    public async Task<(string Name, double Value)?> AllocatedBytesAsync()
    {
        if (string.IsNullOrEmpty(metricsUrl)) return null;
        string text;
        try
        {
            text = await _http.GetStringAsync(metricsUrl).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException)
        {
            return null;
        }
        string? chosen = null;
        double sum = 0;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var nameEnd = line.IndexOfAny(['{', ' ']);
            if (nameEnd <= 0) continue;
            var name = line[..nameEnd];
            if (chosen is null)
            {
                if (!name.Contains("alloc", StringComparison.Ordinal) || !name.Contains("bytes", StringComparison.Ordinal)) continue;
                chosen = name;
            }
            else if (name != chosen)
            {
                continue;
            }
            var valueText = line[(line.LastIndexOf(' ') + 1)..];
            if (double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) sum += v;
        }
        return chosen is null ? null : (chosen, sum);
    }

    public void Dispose() => _http.Dispose();
}
