using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Appliance.Protocol.Metainfo;

namespace Appliance.LoadGen;

public static class Program
{
    private const int VerifyFailedExit = 4;

    public static async Task<int> Main(string[] args)
    {
        LoadOptions options;
        TorrentMetainfo torrent;
        try
        {
            if (args.Length == 0 || args.Contains("--help") || args.Contains("-h"))
            {
                Console.WriteLine(LoadOptions.Usage);
                return args.Length == 0 ? 1 : 0;
            }
            options = LoadOptions.Parse(args);
            torrent = TorrentMetainfo.Load(options.TorrentPath);
            LoadPeer.HandshakeHash(torrent, options.Join); // refuses a torrent the join or the verification cannot use
        }
        catch (Exception e) when (e is ArgumentException or MetainfoException)
        {
            Console.Error.WriteLine($"loadgen: {e.Message}");
            return 1;
        }

        if (options.MakeDigests is not null) return MakeDigests(options, torrent);
        using var probe = new SeederProbe(options.SeederPid, options.MetricsUrl, options.AllocatedMetric);
        if (options.IdleConnections > 0) return await RunIdleAsync(options, torrent, probe).ConfigureAwait(false);
        if (options.Handshakes)
        {
            Emit(options, await HandshakeLoad.RunAsync(options, torrent, probe).ConfigureAwait(false));
            return 0;
        }
        return options.Complete
            ? await RunCompleteAsync(options, torrent, probe).ConfigureAwait(false)
            : await RunLoadAsync(options, torrent, probe).ConfigureAwait(false);
    }

    /// <summary>
    /// How the run checks pieces: SHA-1 alone; a verified copy, filled as pieces verify or read from the content up front
    /// (reference); or the block digests made before the run (digests).
    /// </summary>
    private static bool TryPrepareVerification(LoadOptions o, TorrentMetainfo torrent, out VerifyMode verify, out VerifiedCopy? copy, out BlockDigests? digests)
    {
        verify = o.Verify;
        copy = null;
        digests = null;
        if (verify == VerifyMode.Digests)
        {
            digests = BlockDigests.Load(o.ReferenceDigests!, torrent, out var refused);
            if (digests is null) Console.Error.WriteLine($"loadgen: --reference-digests: {refused}");
            else if (!Crc32C.IsHardwareAccelerated) Console.Error.WriteLine("loadgen: no crc32 instruction here: the portable CRC-32C may cost more CPU than --verify sha1");
            return digests is not null;
        }
        if (verify == VerifyMode.Reference && torrent.TotalLength > VerifiedCopy.MaxBytes)
        {
            if (o.ReferenceFile is not null)
            {
                Console.Error.WriteLine($"loadgen: --reference-file holds at most {VerifiedCopy.MaxBytes} bytes (--reference-digests has no limit)");
                return false;
            }
            Console.Error.WriteLine($"loadgen: torrent larger than {VerifiedCopy.MaxBytes} bytes: hashing every piece (--verify sha1)");
            verify = VerifyMode.Sha1;
        }
        if (verify != VerifyMode.Reference) return true;
        if (o.ReferenceFile is null)
        {
            copy = new VerifiedCopy(torrent.TotalLength, torrent.PieceLength, torrent.PieceCount);
            return true;
        }
        copy = VerifiedCopy.FromContent(o.ReferenceFile, torrent, out var error);
        if (copy is null) Console.Error.WriteLine($"loadgen: --reference-file: {error}");
        return copy is not null;
    }

    // --make-digests: one pass over the content, before any seeder runs, so the run itself never reads it.
    private static int MakeDigests(LoadOptions o, TorrentMetainfo torrent)
    {
        var watch = Stopwatch.StartNew();
        BlockDigests? digests;
        try
        {
            digests = BlockDigests.FromContent(o.ReferenceFile!, torrent, out var error);
            if (digests is null)
            {
                Console.Error.WriteLine($"loadgen: --make-digests: {error}");
                return 1;
            }
            digests.Save(o.MakeDigests!, torrent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"loadgen: --make-digests: {e.Message}");
            return 1;
        }
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"loadgen: {digests.BlockCount} block digests of {torrent.TotalLength} bytes (every piece's SHA-1 checked) written to {o.MakeDigests} in {watch.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    private static async Task<int> RunLoadAsync(LoadOptions o, TorrentMetainfo torrent, SeederProbe probe)
    {
        if (torrent.TotalLength < 2L * o.Pipeline * LoadOptions.BlockLength + 2L * torrent.PieceLength)
        {
            Console.Error.WriteLine($"loadgen: torrent of {torrent.TotalLength} bytes is too small for a pipeline of {o.Pipeline} blocks");
            return 1;
        }
        if (!TryPrepareVerification(o, torrent, out var verify, out var copy, out var digests)) return 1;
        var run = new LoadRun();
        var peers = new LoadPeer[o.Peers];
        for (var i = 0; i < peers.Length; i++)
            peers[i] = new LoadPeer(torrent, run, o.Pipeline, o.ReceiveBufferBytes, (int)((long)i * torrent.PieceCount / o.Peers), copy, o.Rc4, o.Join, digests);

        using var stop = new CancellationTokenSource();
        var connectWatch = Stopwatch.StartNew();
        var connected = await ConnectAllAsync(o, peers, stop.Token).ConfigureAwait(false);
        var loops = peers.Where(p => p.Connected).Select(p => Task.Run(() => p.RunAsync(interested: true, stop.Token))).ToArray();

        var readyBy = Stopwatch.StartNew();
        while (run.Unchoked < connected && readyBy.Elapsed < TimeSpan.FromSeconds(o.ConnectTimeoutSeconds) && peers.Count(p => p.Failure is not null) + run.Unchoked < connected)
            await Task.Delay(20).ConfigureAwait(false);
        var setupSeconds = connectWatch.Elapsed.TotalSeconds;

        await Task.Delay(TimeSpan.FromSeconds(o.WarmupSeconds)).ConfigureAwait(false);

        var alloc0 = await probe.AllocatedBytesAsync().ConfigureAwait(false);
        var cpu0 = probe.CpuSeconds();
        var self0 = Process.GetCurrentProcess().TotalProcessorTime;
        var machine0 = SeederProbe.MachineBusySeconds();
        var disk0 = probe.DiskReadBytes();
        var bytes0 = peers.Sum(p => Volatile.Read(ref p.PayloadBytes));
        var window = Stopwatch.StartNew();
        run.Measuring = true;

        await Task.Delay(TimeSpan.FromSeconds(o.DurationSeconds)).ConfigureAwait(false);

        run.Measuring = false;
        var bytes1 = peers.Sum(p => Volatile.Read(ref p.PayloadBytes));
        var seconds = window.Elapsed.TotalSeconds;
        var cpu1 = probe.CpuSeconds();
        var self1 = Process.GetCurrentProcess().TotalProcessorTime;
        var machine1 = SeederProbe.MachineBusySeconds();
        var disk1 = probe.DiskReadBytes();
        var rss = probe.RssBytes();
        var alloc1 = await probe.AllocatedBytesAsync().ConfigureAwait(false);

        await stop.CancelAsync().ConfigureAwait(false);
        foreach (var p in peers) p.Close();
        await Task.WhenAny(Task.WhenAll(loops), Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);

        var latency = new LatencyHistogram();
        foreach (var p in peers) latency.Add(p.Latency);
        var bytes = bytes1 - bytes0;
        double? seederCpu = cpu0 is { } c0 && cpu1 is { } c1 ? c1 - c0 : null;
        double? allocated = alloc0 is { } a0 && alloc1 is { } a1 ? a1.Value - a0.Value : null;
        var failures = peers.Where(p => p.Failure is not null).GroupBy(p => p.Failure!).ToDictionary(g => g.Key, g => g.Count());

        var result = new Dictionary<string, object?>
        {
            ["mode"] = "load",
            ["label"] = o.Label,
            ["transport"] = Transport(o),
            ["torrent_format"] = Format(torrent),
            ["join"] = o.Join == JoinKind.V2 ? "v2" : "v1",
            ["peers"] = o.Peers,
            ["pipeline"] = o.Pipeline,
            ["duration_s"] = seconds,
            ["warmup_s"] = o.WarmupSeconds,
            ["setup_s"] = setupSeconds,
            ["connections_established"] = connected,
            ["connections_handshaken"] = run.Handshaken,
            ["connections_unchoked"] = run.Unchoked,
            ["connections_failed_during_run"] = failures.Values.Sum(),
            ["failure_reasons"] = string.Join("; ", failures.Select(kv => $"{kv.Key} x{kv.Value}")),
            ["bytes"] = bytes,
            ["throughput_Bps"] = bytes / seconds,
            ["blocks_measured"] = latency.Count,
            ["latency_p50_us"] = latency.Percentile(50),
            ["latency_p99_us"] = latency.Percentile(99),
            ["latency_p999_us"] = latency.Percentile(99.9),
            ["pieces_verified"] = peers.Sum(p => p.PiecesVerified),
            ["verify_failures"] = peers.Sum(p => p.VerifyFailures),
            ["verify_mode"] = VerifyName(verify),
            ["pieces_hashed"] = peers.Sum(p => p.PiecesHashed),
            ["unexpected_blocks"] = peers.Sum(p => p.UnexpectedBlocks),
            ["seeder_cpu_s"] = seederCpu,
            ["bytes_per_seeder_cpu_s"] = seederCpu is > 0 ? bytes / seederCpu : null,
            ["seeder_rss_bytes"] = rss,
            // Over the measured window, as "bytes" is: below 1 per byte served means pages read before the window were sent.
            ["seeder_disk_read_window_bytes"] = disk0 is { } d0 && disk1 is { } d1 ? d1 - d0 : null,
            ["seeder_allocated_bytes"] = allocated,
            ["seeder_allocated_metric"] = alloc1?.Name,
            ["loadgen_cpu_s"] = (self1 - self0).TotalSeconds,
            ["machine_busy_cpu_s"] = machine0 is { } m0 && machine1 is { } m1 ? m1 - m0 : null,
            ["machine_cores"] = Environment.ProcessorCount,
        };
        Emit(o, result);
        foreach (var p in peers) p.Dispose();
        // Numbers from a seeder that served wrong bytes are worth nothing: the run fails (the JSON still says how).
        return peers.Sum(p => p.VerifyFailures) > 0 ? VerifyFailedExit : 0;
    }

    // Every peer downloads the whole torrent once, as a swarm of leechers does: the seeder's choker (upload slots,
    // refills, rotation) decides who is served when, so this measures the configuration users run, not only raw speed.
    private static async Task<int> RunCompleteAsync(LoadOptions o, TorrentMetainfo torrent, SeederProbe probe)
    {
        if (!TryPrepareVerification(o, torrent, out var verify, out var copy, out var digests)) return 1;
        var run = new LoadRun();
        var peers = new LoadPeer[o.Peers];
        for (var i = 0; i < peers.Length; i++)
        {
            peers[i] = new LoadPeer(torrent, run, o.Pipeline, o.ReceiveBufferBytes, (int)((long)i * torrent.PieceCount / o.Peers), copy, o.Rc4, o.Join, digests);
            peers[i].DownloadOnce();
        }

        using var stop = new CancellationTokenSource();
        var connected = await ConnectAllAsync(o, peers, stop.Token).ConfigureAwait(false);
        var cpu0 = probe.CpuSeconds();
        var self0 = Process.GetCurrentProcess().TotalProcessorTime;
        var machine0 = SeederProbe.MachineBusySeconds();
        var started = Stopwatch.GetTimestamp();
        var loops = peers.Where(p => p.Connected).Select(p => Task.Run(() => p.RunAsync(interested: true, stop.Token))).ToArray();
        await Task.WhenAny(Task.WhenAll(loops), Task.Delay(TimeSpan.FromSeconds(o.DurationSeconds))).ConfigureAwait(false);
        var wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cpu1 = probe.CpuSeconds();
        var self1 = Process.GetCurrentProcess().TotalProcessorTime;
        var machine1 = SeederProbe.MachineBusySeconds();
        var rss = probe.RssBytes();

        await stop.CancelAsync().ConfigureAwait(false);
        foreach (var p in peers) p.Close();
        await Task.WhenAny(Task.WhenAll(loops), Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);

        var done = peers.Where(p => p.IsComplete).Select(p => Stopwatch.GetElapsedTime(started, p.CompletedAt).TotalSeconds).Order().ToArray();
        double? median = done.Length > 0 ? done[done.Length / 2] : null;
        double? slowest = done.Length > 0 ? done[^1] : null;
        var bytes = peers.Sum(p => p.PayloadBytes);
        double? seederCpu = cpu0 is { } c0 && cpu1 is { } c1 ? c1 - c0 : null;
        var failures = peers.Where(p => p.Failure is not null).GroupBy(p => p.Failure!).ToDictionary(g => g.Key, g => g.Count());
        var result = new Dictionary<string, object?>
        {
            ["mode"] = "complete",
            ["label"] = o.Label,
            ["transport"] = Transport(o),
            ["torrent_format"] = Format(torrent),
            ["join"] = o.Join == JoinKind.V2 ? "v2" : "v1",
            ["peers"] = o.Peers,
            ["pipeline"] = o.Pipeline,
            ["torrent_bytes"] = torrent.TotalLength,
            ["connections_established"] = connected,
            ["peers_completed"] = done.Length,
            ["failure_reasons"] = string.Join("; ", failures.Select(kv => $"{kv.Key} x{kv.Value}")),
            ["wall_s"] = wall,
            ["bytes"] = bytes,
            ["throughput_Bps"] = bytes / wall,
            ["completion_median_s"] = median,
            ["completion_slowest_s"] = slowest,
            ["slowest_over_median"] = median is > 0 ? slowest / median : null,
            ["pieces_verified"] = peers.Sum(p => p.PiecesVerified),
            ["verify_failures"] = peers.Sum(p => p.VerifyFailures),
            ["verify_mode"] = VerifyName(verify),
            ["unexpected_blocks"] = peers.Sum(p => p.UnexpectedBlocks),
            ["seeder_cpu_s"] = seederCpu,
            ["bytes_per_seeder_cpu_s"] = seederCpu is > 0 ? bytes / seederCpu : null,
            ["seeder_rss_bytes"] = rss,
            ["loadgen_cpu_s"] = (self1 - self0).TotalSeconds,
            ["machine_busy_cpu_s"] = machine0 is { } m0 && machine1 is { } m1 ? m1 - m0 : null,
            ["machine_cores"] = Environment.ProcessorCount,
        };
        Emit(o, result);
        foreach (var p in peers) p.Dispose();
        return peers.Sum(p => p.VerifyFailures) > 0 ? VerifyFailedExit : done.Length == o.Peers ? 0 : 3;
    }

    private static async Task<int> RunIdleAsync(LoadOptions o, TorrentMetainfo torrent, SeederProbe probe)
    {
        const int IdleReceiveBuffer = 16 * 1024;
        var run = new LoadRun();
        var peers = new LoadPeer[o.IdleConnections];
        for (var i = 0; i < peers.Length; i++) peers[i] = new LoadPeer(torrent, run, 1, IdleReceiveBuffer, 0, join: o.Join);

        var rssBefore = probe.RssBytes();
        var anonBefore = probe.RssAnonBytes();
        using var stop = new CancellationTokenSource();
        var watch = Stopwatch.StartNew();
        var connected = await ConnectAllAsync(o, peers, stop.Token).ConfigureAwait(false);
        var loops = peers.Where(p => p.Connected).Select(p => Task.Run(() => p.RunAsync(interested: false, stop.Token))).ToArray();
        while (run.Handshaken + peers.Count(p => p.Failure is not null) < connected && watch.Elapsed < TimeSpan.FromSeconds(o.ConnectTimeoutSeconds))
            await Task.Delay(50).ConfigureAwait(false);
        var setupSeconds = watch.Elapsed.TotalSeconds;

        // Let the seeder finish per-connection work (bitfield, unchoke, timers) before sampling.
        await Task.Delay(TimeSpan.FromSeconds(Math.Max(o.WarmupSeconds, 1))).ConfigureAwait(false);
        var rssAfter = probe.RssBytes();
        var anonAfter = probe.RssAnonBytes();
        await Task.Delay(TimeSpan.FromSeconds(o.DurationSeconds)).ConfigureAwait(false);
        var rssEnd = probe.RssBytes();
        var open = peers.Count(p => p.Connected && p.Failure is null);

        await stop.CancelAsync().ConfigureAwait(false);
        foreach (var p in peers) p.Close();
        await Task.WhenAny(Task.WhenAll(loops), Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
        var failures = peers.Where(p => p.Failure is not null).GroupBy(p => p.Failure!).ToDictionary(g => g.Key, g => g.Count());

        var result = new Dictionary<string, object?>
        {
            ["mode"] = "idle",
            ["label"] = o.Label,
            ["torrent_format"] = Format(torrent),
            ["join"] = o.Join == JoinKind.V2 ? "v2" : "v1",
            ["connections_requested"] = o.IdleConnections,
            ["connections_established"] = connected,
            ["connections_handshaken"] = run.Handshaken,
            ["connections_open_at_end"] = open,
            ["failure_reasons"] = string.Join("; ", failures.Select(kv => $"{kv.Key} x{kv.Value}")),
            ["setup_s"] = setupSeconds,
            ["hold_s"] = o.DurationSeconds,
            ["seeder_rss_before_bytes"] = rssBefore,
            ["seeder_rss_after_bytes"] = rssAfter,
            ["seeder_rss_end_bytes"] = rssEnd,
            ["seeder_rss_delta_bytes"] = rssBefore is { } b && rssAfter is { } a ? a - b : null,
            ["seeder_rss_anon_before_bytes"] = anonBefore,
            ["seeder_rss_anon_after_bytes"] = anonAfter,
            ["seeder_rss_anon_delta_bytes"] = anonBefore is { } ab && anonAfter is { } aa ? aa - ab : null,
        };
        Emit(o, result);
        foreach (var p in peers) p.Dispose();
        return 0;
    }

    // Connects every peer with bounded concurrency; a refused or timed-out connect is retried twice.
    private static async Task<int> ConnectAllAsync(LoadOptions o, LoadPeer[] peers, CancellationToken ct)
    {
        using var gate = new SemaphoreSlim(o.ConnectConcurrency);
        var connected = 0;
        var tasks = new Task[peers.Length];
        for (var i = 0; i < peers.Length; i++)
        {
            var index = i;
            tasks[i] = Task.Run(async () =>
            {
                await gate.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    for (var attempt = 0; attempt < 3; attempt++)
                    {
                        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                        timeout.CancelAfter(TimeSpan.FromSeconds(5));
                        try
                        {
                            await peers[index].ConnectAsync(o.Target, o.SourceAddress(index), o.SocketReceiveBufferBytes, timeout.Token, o.Transport).ConfigureAwait(false);
                            Interlocked.Increment(ref connected);
                            return;
                        }
                        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException && !ct.IsCancellationRequested)
                        {
                            await Task.Delay(200 * (attempt + 1), ct).ConfigureAwait(false);
                        }
                    }
                }
                finally
                {
                    gate.Release();
                }
            }, ct);
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);
        return connected;
    }

    private static string VerifyName(VerifyMode verify) => verify switch
    {
        VerifyMode.Reference => "reference",
        VerifyMode.Digests => "digests",
        _ => "sha1",
    };

    private static string Transport(LoadOptions o) => o.Transport == TransportKind.Utp ? "utp" : "tcp";

    private static string Format(TorrentMetainfo torrent) => torrent.Format switch
    {
        TorrentFormat.Hybrid => "hybrid",
        TorrentFormat.V2 => "v2",
        _ => "v1",
    };

    private static void Emit(LoadOptions o, Dictionary<string, object?> result)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            foreach (var (key, value) in result)
            {
                switch (value)
                {
                    case null: json.WriteNull(key); break;
                    case string s: json.WriteString(key, s); break;
                    case int i: json.WriteNumber(key, i); break;
                    case long l: json.WriteNumber(key, l); break;
                    case double d: json.WriteNumber(key, Math.Round(d, 6)); break;
                    default: json.WriteString(key, Convert.ToString(value, CultureInfo.InvariantCulture)); break;
                }
            }
            json.WriteEndObject();
        }
        var text = System.Text.Encoding.UTF8.GetString(stream.ToArray());
        if (o.JsonPath is not null) File.WriteAllText(o.JsonPath, text + "\n");

        Console.WriteLine(text);
        if (result["mode"] is "complete")
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{o.Label}: {result["transport"]} N={o.Peers} complete {result["peers_completed"]}/{o.Peers} in {(double)result["wall_s"]!:F2} s, {(double)result["throughput_Bps"]! / 1e6:F0} MB/s, " +
                $"median/slowest {result["completion_median_s"]}/{result["completion_slowest_s"]} s, seeder cpu {result["seeder_cpu_s"]} s"));
        }
        if (result["mode"] is "handshakes")
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{o.Label}: {result["encryption"]} handshakes, {o.Peers} workers: {(double)result["handshakes_per_s"]!:F0}/s, failed {result["failed"]} ({result["failure_reasons"]}), " +
                $"seeder cpu {result["seeder_cpu_s"]} s, {result["handshakes_per_seeder_cpu_s"]} per seeder cpu-s"));
        }
        if (result["mode"] is "load")
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{o.Label}: {result["transport"]} N={o.Peers} Q={o.Pipeline} {(double)result["throughput_Bps"]! / 1e9:F3} GB/s, p50/p99/p999 {result["latency_p50_us"]}/{result["latency_p99_us"]}/{result["latency_p999_us"]} us, " +
                $"connections {result["connections_unchoked"]}/{o.Peers}, verify failures {result["verify_failures"]}, seeder cpu {result["seeder_cpu_s"]} s"));
        }
    }
}
