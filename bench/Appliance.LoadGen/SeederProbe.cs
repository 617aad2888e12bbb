using System.Globalization;
using System.Runtime.InteropServices;

namespace Appliance.LoadGen;

/// <summary>What we can observe of the seeder from outside: CPU time and RSS from /proc, an allocated-bytes counter from /metrics.</summary>
public sealed partial class SeederProbe(int pid, string? metricsUrl, string allocatedMetric) : IDisposable
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

    // Busy CPU-seconds of the whole machine (all cores, /proc/stat): shows how much other processes took.
    public static double? MachineBusySeconds()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long busy = 0;
            // user nice system idle iowait irq softirq steal: everything but idle and iowait.
            for (var i = 1; i < Math.Min(fields.Length, 9); i++)
            {
                if (i is 4 or 5) continue;
                busy += long.Parse(fields[i], CultureInfo.InvariantCulture);
            }
            return busy / TicksPerSecond;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public long? RssBytes() => StatusBytes("VmRSS:");

    // Bytes the process caused to be read from storage (read_bytes in /proc/PID/io): disk reads, not page-cache hits.
    public long? DiskReadBytes()
    {
        if (pid <= 0) return null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/io"))
            {
                if (line.StartsWith("read_bytes:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan("read_bytes:".Length).Trim(), CultureInfo.InvariantCulture);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    // Resident anonymous memory: RSS without the page-cache pages of memory-mapped content files.
    public long? RssAnonBytes() => StatusBytes("RssAnon:");

    private long? StatusBytes(string field)
    {
        if (pid <= 0) return null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith(field, StringComparison.Ordinal)) continue;
                var kb = line[field.Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    // The allocated-bytes counter, summed over its label sets. Null when the seeder does not expose it
    // (then the report says n/a).
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
        var found = false;
        double sum = 0;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var nameEnd = line.IndexOfAny(['{', ' ']);
            if (nameEnd <= 0 || !line.AsSpan(0, nameEnd).SequenceEqual(allocatedMetric)) continue;
            var valueText = line[(line.LastIndexOf(' ') + 1)..];
            if (!double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) continue;
            sum += v;
            found = true;
        }
        return found ? (allocatedMetric, sum) : null;
    }

    public void Dispose() => _http.Dispose();
}
