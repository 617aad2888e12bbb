using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;

// Tracker load generator, UDP (BEP 15, the default) or HTTP: W workers send announces back to back (one outstanding
// each) for a fixed duration; reports responses/s, latency percentiles, its own CPU seconds and, given the tracker's pid,
// the tracker's, so throughput can be compared per core. UDP workers each have a socket and a connection id; HTTP
// workers each keep one HTTP/1.1 connection alive and reconnect when the tracker closes it (HttpLoad.cs).
//
//   appliance-trackerload --target 127.0.0.1:6969 --seconds 10 --workers 64 --torrents 1000 [--pid N]
//       [--scheme udp|http]        HTTP: GET /announce and /scrape (compact=1) on kept-alive connections; the report adds
//                                  connections, reconnects (the tracker closed a connection) and requests per connection
//       [--sources N]              workers send from N loopback addresses (127.0.0.1, 127.0.0.2, ...), so per-address
//                                  limits of the tracker (ours: --tracker-rate-limit, 4 ports per address) apply honestly
//       [--mix C:A:S]              weights of connect, announce and scrape requests (default 0:100:0, announces only;
//                                  a mix like aquatic's load test: 1:90:9); HTTP has no connect request and ignores C
//       [--numwant MIN:MAX]        numwant drawn per announce (default 50:50; realistic: 30:50)
//       [--ports random|stable]    a new random port per announce (default), or one port per worker as a real client has
//   appliance-trackerload --write-hashes FILE --torrents 1000     (hex info-hashes, for an opentracker whitelist)
//   appliance-trackerload --target 127.0.0.1:6969 --fill 1000000 --per-swarm 10 --sources 1000 --workers 64
//                                  stores FILL distinct peers, PER-SWARM in each of FILL/PER-SWARM swarms (the first
//                                  swarms of --torrents), each announced once (event=started, numwant 0) from its own
//                                  source address and port 6881, so no per-address limit refuses it; then exits. For
//                                  the tracker's memory per peer: measure its resident memory before and after.

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
var load = new LoadShape(
    Int(settings, "sources", 1),
    Ints(settings, "mix", [0, 100, 0]),
    Ints(settings, "numwant", [50, 50]),
    settings.GetValueOrDefault("ports", "random") == "stable");
if (load.Mix.Length != 3 || load.Mix.Any(w => w < 0) || load.Mix[1] + load.Mix[2] == 0 || load.NumWant.Length != 2 || load.NumWant[0] > load.NumWant[1]
    || load.Sources is < 1 or > 65_000 || (load.Sources > 1 && !IPAddress.IsLoopback(target.Address)))
{
    Console.Error.WriteLine("bad --mix C:A:S (announce or scrape weight > 0), --numwant MIN:MAX or --sources N (1..65000, loopback targets only)");
    return 2;
}
string label = settings.GetValueOrDefault("label", target.ToString());
string scheme = settings.GetValueOrDefault("scheme", "udp");
if (scheme is not ("udp" or "http"))
{
    Console.Error.WriteLine("--scheme udp|http");
    return 2;
}

if (settings.ContainsKey("fill"))
{
    int fill = Int(settings, "fill", 0), perSwarm = Int(settings, "per-swarm", 10);
    if (scheme != "udp" || perSwarm < 1 || fill % perSwarm != 0 || fill / perSwarm > torrents || load.Sources < perSwarm)
    {
        Console.Error.WriteLine("--fill (UDP only) N needs N a multiple of --per-swarm, N/per-swarm <= --torrents, and --sources >= --per-swarm");
        return 2;
    }
    var filling = Stopwatch.StartNew();
    var filled = await Task.WhenAll(Enumerable.Range(0, workers).Select(w => FillAsync(w, workers, target, hashes, fill / perSwarm, perSwarm, load.Sources)));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"label={label} fill={fill} swarms={fill / perSwarm} stored_ok={filled.Sum(f => f.Ok)} timeouts={filled.Sum(f => f.Timeouts)} errors={filled.Sum(f => f.Errors)} seconds={filling.Elapsed.TotalSeconds:0.00}"));
    return filled.Sum(f => f.Ok) == fill ? 0 : 1;
}

var escapedHashes = hashes.Select(HttpLoad.Escape).ToArray();
double cpuBefore = pid > 0 ? CpuSeconds(pid) : 0;
double ownCpuBefore = CpuSeconds(Environment.ProcessId);
var stopwatch = Stopwatch.StartNew();
using var stop = new CancellationTokenSource(duration);
var results = await Task.WhenAll(Enumerable.Range(0, workers).Select(w => scheme == "http"
    ? HttpLoad.RunWorkerAsync(w, target, escapedHashes, load, stop.Token)
    : RunWorkerAsync(w, target, hashes, load, stop.Token)));
double elapsed = stopwatch.Elapsed.TotalSeconds;
double cpu = pid > 0 ? CpuSeconds(pid) - cpuBefore : double.NaN;
double ownCpu = CpuSeconds(Environment.ProcessId) - ownCpuBefore;

var latencies = results.SelectMany(r => r.LatenciesMicros).Order().ToArray();
long ok = latencies.Length, timeouts = results.Sum(r => r.Timeouts), errors = results.Sum(r => r.Errors);
double P(double q) => latencies.Length == 0 ? double.NaN : latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))] / 1000.0;
string httpPart = scheme == "http"
    ? string.Create(CultureInfo.InvariantCulture,
        $" connections={results.Sum(r => r.Connections)} reconnects={results.Sum(r => r.Reconnects)} requests_per_connection={ok / (double)Math.Max(1, results.Sum(r => r.Connections)):0.0}")
    : "";
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"label={label} scheme={scheme} announces={results.Sum(r => r.Announces)} scrapes={results.Sum(r => r.Scrapes)} connects={results.Sum(r => r.Connects)} responses={ok} seconds={elapsed:0.00} rate={ok / elapsed:0} p50_ms={P(0.5):0.000} p99_ms={P(0.99):0.000} timeouts={timeouts} errors={errors} tracker_cpu_s={cpu:0.00} responses_per_cpu_s={ok / cpu:0} announces_per_cpu_s={results.Sum(r => r.Announces) / cpu:0} client_cpu_s={ownCpu:0.00}{httpPart}"));
return 0;

static async Task<WorkerResult> RunWorkerAsync(int worker, IPEndPoint target, InfoHash[] hashes, LoadShape load, CancellationToken stop)
{
    var result = new WorkerResult();
    using var socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
    if (load.Sources > 1)
    {
        int n = 1 + worker % load.Sources;
        socket.Bind(new IPEndPoint(new IPAddress([127, 0, (byte)(n >> 8), (byte)n]), 0));
    }
    socket.Connect(target);
    int stablePort = 1024 + worker % 60_000;
    var send = new byte[Math.Max(UdpTrackerPacket.AnnounceRequestLength, UdpTrackerPacket.ScrapeRequestHeaderLength + 10 * InfoHash.Length)];
    var receive = new byte[2048];
    var random = new Random(worker);
    var peerId = new byte[20];
    long connectionId = 0;
    long connectedAt = 0;
    int tid = random.Next();
    while (!stop.IsCancellationRequested)
    {
        int pick = random.Next(load.Mix.Sum());
        bool reconnect = pick < load.Mix[0];
        if (connectionId == 0 || reconnect || Stopwatch.GetElapsedTime(connectedAt) > TimeSpan.FromSeconds(50))
        {
            int n = UdpTrackerPacket.WriteConnectRequest(send, ++tid);
            long connectStarted = Stopwatch.GetTimestamp();
            var reply = await ExchangeAsync(socket, send.AsMemory(0, n), receive, tid, stop);
            if (reply <= 0 || !UdpTrackerPacket.TryReadResponseHeader(receive.AsSpan(0, reply), out var action, out _) || action != UdpTrackerAction.Connect)
            {
                if (reply == 0) result.Timeouts++; else if (reply > 0) result.Errors++;
                continue;
            }
            UdpTrackerPacket.TryReadConnectResponse(receive.AsSpan(0, reply), out connectionId);
            connectedAt = Stopwatch.GetTimestamp();
            result.Connects++;
            if (reconnect)
            {
                result.LatenciesMicros.Add((long)Stopwatch.GetElapsedTime(connectStarted).TotalMicroseconds);
                continue;
            }
        }
        bool scrape = pick >= load.Mix[0] + load.Mix[1];
        int length;
        if (scrape)
        {
            var asked = new InfoHash[random.Next(1, 11)];
            for (int i = 0; i < asked.Length; i++) asked[i] = hashes[random.Next(hashes.Length)];
            length = UdpTrackerPacket.WriteScrapeRequest(send, connectionId, ++tid, asked);
        }
        else
        {
            random.NextBytes(peerId);
            var request = new AnnounceRequest
            {
                InfoHash = hashes[random.Next(hashes.Length)],
                PeerId = peerId,
                Port = load.StablePorts ? stablePort : random.Next(1024, 65535),
                Left = random.Next(4) == 0 ? 0 : 1000,
                NumWant = random.Next(load.NumWant[0], load.NumWant[1] + 1),
            };
            length = UdpTrackerPacket.WriteAnnounceRequest(send, connectionId, ++tid, request);
        }
        long started = Stopwatch.GetTimestamp();
        int got = await ExchangeAsync(socket, send.AsMemory(0, length), receive, tid, stop);
        if (got == 0) { result.Timeouts++; continue; }
        if (got < 0) break;
        if (!UdpTrackerPacket.TryReadResponseHeader(receive.AsSpan(0, got), out var kind, out _)
            || kind != (scrape ? UdpTrackerAction.Scrape : UdpTrackerAction.Announce))
        {
            result.Errors++;
            connectionId = 0;
            continue;
        }
        result.LatenciesMicros.Add((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
        if (scrape) result.Scrapes++; else result.Announces++;
    }
    return result;
}

// Worker w announces each swarm w, w + workers, ... once from each of its per-swarm sockets (one source address each).
static async Task<(long Ok, long Timeouts, long Errors)> FillAsync(int worker, int workers, IPEndPoint target, InfoHash[] hashes, int swarms,
    int perSwarm, int sources)
{
    long ok = 0, timeouts = 0, errors = 0;
    var sockets = new Socket[perSwarm];
    var connectionIds = new long[perSwarm];
    var send = new byte[UdpTrackerPacket.AnnounceRequestLength];
    var receive = new byte[2048];
    var peerId = new byte[20];
    var random = new Random(worker);
    int tid = random.Next();
    try
    {
        for (int j = 0; j < perSwarm; j++)
        {
            int n = 1 + (worker * perSwarm + j) % sources;
            sockets[j] = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            sockets[j].Bind(new IPEndPoint(new IPAddress([127, 0, (byte)(n >> 8), (byte)n]), 0));
            sockets[j].Connect(target);
        }
        for (int swarm = worker; swarm < swarms; swarm += workers)
        {
            for (int j = 0; j < perSwarm; j++)
            {
                for (int attempt = 0; attempt < 5; attempt++)
                {
                    if (connectionIds[j] == 0)
                    {
                        int c = UdpTrackerPacket.WriteConnectRequest(send, ++tid);
                        int got = await ExchangeAsync(sockets[j], send.AsMemory(0, c), receive, tid, CancellationToken.None);
                        if (got <= 0 || !UdpTrackerPacket.TryReadConnectResponse(receive.AsSpan(0, got), out connectionIds[j])) { timeouts++; continue; }
                    }
                    random.NextBytes(peerId);
                    var request = new AnnounceRequest
                    {
                        InfoHash = hashes[swarm], PeerId = peerId, Port = 6881, Left = 1000, NumWant = 0, Event = AnnounceEvent.Started,
                    };
                    int length = UdpTrackerPacket.WriteAnnounceRequest(send, connectionIds[j], ++tid, request);
                    int reply = await ExchangeAsync(sockets[j], send.AsMemory(0, length), receive, tid, CancellationToken.None);
                    if (reply == 0) { timeouts++; continue; }
                    if (UdpTrackerPacket.TryReadResponseHeader(receive.AsSpan(0, reply), out var kind, out _) && kind == UdpTrackerAction.Announce)
                    {
                        ok++;
                        break;
                    }
                    errors++;
                    connectionIds[j] = 0; // an expired or refused connection id: connect again
                }
            }
        }
    }
    finally
    {
        foreach (var socket in sockets) socket?.Dispose();
    }
    return (ok, timeouts, errors);
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

static int[] Ints(Dictionary<string, string> settings, string name, int[] fallback) =>
    settings.TryGetValue(name, out var text) ? text.Split(':').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray() : fallback;

sealed record LoadShape(int Sources, int[] Mix, int[] NumWant, bool StablePorts);

sealed class WorkerResult
{
    public List<long> LatenciesMicros { get; } = new(100_000);
    public long Timeouts;
    public long Errors;
    public long Announces;
    public long Scrapes;
    public long Connects;

    /// <summary>HTTP: connections opened, and how many of them the tracker closed under a kept connection (or asked to).</summary>
    public long Connections;
    public long Reconnects;
}
