using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;

// UDP tracker load generator (BEP 15): W workers, each with its own socket and connection id, send announces
// back to back (one outstanding each) for a fixed duration; reports announces/s, latency percentiles and, given the
// tracker's pid, its CPU seconds so throughput can be compared per core.
//
//   appliance-trackerload --target 127.0.0.1:6969 --seconds 10 --workers 64 --torrents 1000 [--pid N]
//   appliance-trackerload --write-hashes FILE --torrents 1000     (hex info-hashes, for an opentracker whitelist)

var settings = ParseArguments(args);
int torrents = Int(settings, "torrents", 1000);
var hashes = Enumerable.Range(0, torrents).Select(i => InfoHash.Compute(System.Text.Encoding.ASCII.GetBytes($"trackerload-{i}"))).ToArray();
if (settings.TryGetValue("write-hashes", out var hashFile))
{
    await File.WriteAllLinesAsync(hashFile, hashes.Select(h => h.ToHex()));
    return 0;
}
if (!settings.TryGetValue("target", out var targetText) || !IPEndPoint.TryParse(targetText, out var target))
{
    Console.Error.WriteLine("usage: --target HOST:PORT [--seconds 10] [--workers 64] [--torrents 1000] [--pid N] [--label NAME]");
    return 2;
}
var duration = TimeSpan.FromSeconds(Int(settings, "seconds", 10));
int workers = Int(settings, "workers", 64);
int pid = Int(settings, "pid", 0);
string label = settings.GetValueOrDefault("label", target.ToString());

double cpuBefore = pid > 0 ? CpuSeconds(pid) : 0;
var stopwatch = Stopwatch.StartNew();
using var stop = new CancellationTokenSource(duration);
var results = await Task.WhenAll(Enumerable.Range(0, workers).Select(w => RunWorkerAsync(w, target, hashes, stop.Token)));
double elapsed = stopwatch.Elapsed.TotalSeconds;
double cpu = pid > 0 ? CpuSeconds(pid) - cpuBefore : double.NaN;

var latencies = results.SelectMany(r => r.LatenciesMicros).Order().ToArray();
long ok = latencies.Length, timeouts = results.Sum(r => r.Timeouts), errors = results.Sum(r => r.Errors);
double P(double q) => latencies.Length == 0 ? double.NaN : latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))] / 1000.0;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"label={label} announces={ok} seconds={elapsed:0.00} rate={ok / elapsed:0} p50_ms={P(0.5):0.000} p99_ms={P(0.99):0.000} timeouts={timeouts} errors={errors} tracker_cpu_s={cpu:0.00} announces_per_cpu_s={ok / cpu:0}"));
return 0;

static async Task<WorkerResult> RunWorkerAsync(int worker, IPEndPoint target, InfoHash[] hashes, CancellationToken stop)
{
    var result = new WorkerResult();
    using var socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
    socket.Connect(target);
    var send = new byte[UdpTrackerPacket.AnnounceRequestLength];
    var receive = new byte[2048];
    var random = new Random(worker);
    var peerId = new byte[20];
    long connectionId = 0;
    long connectedAt = 0;
    int tid = random.Next();
    while (!stop.IsCancellationRequested)
    {
        if (connectionId == 0 || Stopwatch.GetElapsedTime(connectedAt) > TimeSpan.FromSeconds(50))
        {
            int n = UdpTrackerPacket.WriteConnectRequest(send, ++tid);
            var reply = await ExchangeAsync(socket, send.AsMemory(0, n), receive, tid, stop);
            if (reply <= 0 || !UdpTrackerPacket.TryReadResponseHeader(receive.AsSpan(0, reply), out var action, out _) || action != UdpTrackerAction.Connect)
            {
                if (reply == 0) result.Timeouts++; else if (reply > 0) result.Errors++;
                continue;
            }
            UdpTrackerPacket.TryReadConnectResponse(receive.AsSpan(0, reply), out connectionId);
            connectedAt = Stopwatch.GetTimestamp();
        }
        random.NextBytes(peerId);
        var request = new AnnounceRequest
        {
            InfoHash = hashes[random.Next(hashes.Length)],
            PeerId = peerId,
            Port = random.Next(1024, 65535),
            Left = random.Next(4) == 0 ? 0 : 1000,
            NumWant = 50,
        };
        int length = UdpTrackerPacket.WriteAnnounceRequest(send, connectionId, ++tid, request);
        long started = Stopwatch.GetTimestamp();
        int got = await ExchangeAsync(socket, send.AsMemory(0, length), receive, tid, stop);
        if (got == 0) { result.Timeouts++; continue; }
        if (got < 0) break;
        if (!UdpTrackerPacket.TryReadResponseHeader(receive.AsSpan(0, got), out var kind, out _) || kind != UdpTrackerAction.Announce)
        {
            result.Errors++;
            connectionId = 0;
            continue;
        }
        result.LatenciesMicros.Add((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
    }
    return result;
}

// Returns the reply length, 0 on a 1 s timeout, -1 when stopping.
static async Task<int> ExchangeAsync(Socket socket, ReadOnlyMemory<byte> packet, byte[] receive, int tid, CancellationToken stop)
{
    if (stop.IsCancellationRequested) return -1;
    try
    {
        await socket.SendAsync(packet, SocketFlags.None, stop);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        while (true)
        {
            int n = await socket.ReceiveAsync(receive, SocketFlags.None, timeout.Token);
            if (n >= 8 && UdpTrackerPacket.TryReadResponseHeader(receive.AsSpan(0, n), out _, out int got) && got == tid) return n;
        }
    }
    catch (OperationCanceledException)
    {
        return stop.IsCancellationRequested ? -1 : 0;
    }
    catch (SocketException)
    {
        return 0;
    }
}

static double CpuSeconds(int pid)
{
    // /proc/PID/stat fields 14 and 15: utime and stime in clock ticks (100 per second on Linux).
    string stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

static Dictionary<string, string> ParseArguments(string[] args)
{
    var settings = new Dictionary<string, string>(StringComparer.Ordinal);
    for (int i = 0; i + 1 < args.Length; i += 2) settings[args[i].TrimStart('-')] = args[i + 1];
    return settings;
}

static int Int(Dictionary<string, string> settings, string name, int fallback) =>
    settings.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

sealed class WorkerResult
{
    public List<long> LatenciesMicros { get; } = new(100_000);
    public long Timeouts;
    public long Errors;
}
