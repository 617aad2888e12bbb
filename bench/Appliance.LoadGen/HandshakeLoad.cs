using System.Diagnostics;
using System.Net.Sockets;
using Appliance.Protocol.Metainfo;

namespace Appliance.LoadGen;

/// <summary>
/// Handshake rate (<c>--handshakes</c>): each of <c>--peers</c> workers connects, handshakes (MSE/PE with RC4 first when
/// <c>--rc4</c>), waits for the seeder's handshake, closes, and starts again, from a fresh source address every
/// <c>--per-ip</c> connections (a seeder's per-address limits are for floods from one host, not for a swarm). Reports
/// completed handshakes per second and per seeder CPU-second: what a node can absorb.
/// </summary>
internal static class HandshakeLoad
{
    public static async Task<Dictionary<string, object?>> RunAsync(LoadOptions o, TorrentMetainfo torrent, SeederProbe probe)
    {
        var run = new LoadRun();
        var state = new Counts();
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, o.Peers).Select(_ => Task.Run(() => WorkAsync(o, torrent, run, state, stop.Token))).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(o.WarmupSeconds)).ConfigureAwait(false);
        var cpu0 = probe.CpuSeconds();
        var self0 = Process.GetCurrentProcess().TotalProcessorTime;
        var machine0 = SeederProbe.MachineBusySeconds();
        long done0 = Volatile.Read(ref state.Completed), failed0 = Volatile.Read(ref state.Failed);
        var window = Stopwatch.StartNew();

        await Task.Delay(TimeSpan.FromSeconds(o.DurationSeconds)).ConfigureAwait(false);

        long done = Volatile.Read(ref state.Completed) - done0, failed = Volatile.Read(ref state.Failed) - failed0;
        var seconds = window.Elapsed.TotalSeconds;
        var cpu1 = probe.CpuSeconds();
        var self1 = Process.GetCurrentProcess().TotalProcessorTime;
        var machine1 = SeederProbe.MachineBusySeconds();
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(workers), Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);

        double? seederCpu = cpu0 is { } c0 && cpu1 is { } c1 ? c1 - c0 : null;
        string reasons;
        lock (state.Reasons) reasons = string.Join("; ", state.Reasons.Select(kv => $"{kv.Key} x{kv.Value}"));
        return new Dictionary<string, object?>
        {
            ["mode"] = "handshakes",
            ["label"] = o.Label,
            ["workers"] = o.Peers,
            ["encryption"] = o.Rc4 ? "rc4" : "plaintext",
            ["duration_s"] = seconds,
            ["warmup_s"] = o.WarmupSeconds,
            ["handshakes"] = done,
            ["handshakes_per_s"] = done / seconds,
            ["failed"] = failed,
            ["failure_reasons"] = reasons,
            ["seeder_cpu_s"] = seederCpu,
            ["handshakes_per_seeder_cpu_s"] = seederCpu is > 0 ? done / seederCpu : null,
            ["seeder_rss_bytes"] = probe.RssBytes(),
            ["loadgen_cpu_s"] = (self1 - self0).TotalSeconds,
            ["machine_busy_cpu_s"] = machine0 is { } m0 && machine1 is { } m1 ? m1 - m0 : null,
            ["machine_cores"] = Environment.ProcessorCount,
        };
    }

    private static async Task WorkAsync(LoadOptions o, TorrentMetainfo torrent, LoadRun run, Counts state, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            int connection = Interlocked.Increment(ref state.Started);
            var peer = new LoadPeer(torrent, run, pipeline: 1, receiveBufferBytes: 64 * 1024, startPiece: 0, copy: null, rc4: o.Rc4, join: o.Join);
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(TimeSpan.FromSeconds(o.ConnectTimeoutSeconds));
                await peer.ConnectAsync(o.Target, o.SourceAddress(connection), 0, attempt.Token).ConfigureAwait(false);
                await peer.HandshakeOnlyAsync(attempt.Token).ConfigureAwait(false);
                Interlocked.Increment(ref state.Completed);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or InvalidDataException or IOException)
            {
                Interlocked.Increment(ref state.Failed);
                string reason = e is SocketException se ? $"socket error {se.SocketErrorCode}" : e is OperationCanceledException ? "timed out" : e.Message;
                lock (state.Reasons) state.Reasons[reason] = state.Reasons.GetValueOrDefault(reason) + 1;
            }
            finally
            {
                peer.Close();
                peer.Dispose();
            }
        }
    }

    private sealed class Counts
    {
        public int Started;
        public long Completed;
        public long Failed;
        public readonly Dictionary<string, int> Reasons = [];
    }
}
