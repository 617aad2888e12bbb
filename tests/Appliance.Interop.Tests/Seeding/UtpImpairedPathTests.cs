using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Seeding;

/// <summary>
/// python3-libtorrent (uTP only) downloads through a UDP relay that loses 2% of the datagrams each way, delays them
/// 20 ms, reorders 5% and duplicates 1%: retransmission, selective ACK, reordering and LEDBAT under a long, lossy path.
/// The relay is in the test (user space) because this kernel has no netem qdisc; it stays on loopback.
/// </summary>
[Trait("Category", "Interop")]
[Trait("Category", "Slow")]
public sealed class UtpImpairedPathTests
{
    [Fact]
    public async Task Download_completes_and_verifies_over_a_lossy_reordering_delayed_path()
    {
        using var temp = new TempDirectory("utp-impaired");
        string content = temp.CreateSubdirectory("content");
        string source = SampleContent.WriteMultiFile(content, "sample", scale: 3);
        TestTorrents.Write(source, Path.Combine(content, "sample.torrent"), pieceLength: 32 * 1024);
        int port = Ports.FreeTcp();
        int metricsPort = Ports.FreeTcp();

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{port}", "--no-dht", "--no-tracker",
            "--metrics-listen", $"127.0.0.1:{metricsPort}", "--state", temp.CreateSubdirectory("state"),
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("utp listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        using var relay = new ImpairedRelay(new IPEndPoint(IPAddress.Loopback, port), seed: 7);
        string download = temp.CreateSubdirectory("download");
        using var leecher = await Libtorrent.LeechAsync(temp.Path, Path.Combine(content, "sample.torrent"), download, Libtorrent.UtpOnly(relay.Port, TimeSpan.FromSeconds(240)));

        using var http = new HttpClient();
        string metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
        Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput + "\n" + metrics);
        Assert.True(SampleContent.SameTree(source, Path.Combine(download, "sample"), out string difference), difference);
        Assert.True(relay.Dropped > 0 && relay.Reordered > 0, $"the relay dropped {relay.Dropped} and reordered {relay.Reordered}");
        double retransmits = metrics.Split('\n').Where(l => l.StartsWith("appliance_utp_retransmits_total{", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        Assert.True(retransmits > 0, metrics); // our lost packets were sent again

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>A UDP relay between one client and a server, impairing both directions.</summary>
    private sealed class ImpairedRelay : IDisposable
    {
        private const double Loss = 0.02;
        private const double Reorder = 0.05;
        private const double Duplicate = 0.01;
        private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(20);

        private readonly Socket _front = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly Socket _back = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly IPEndPoint _server;
        private readonly Random _random;
        private readonly PriorityQueue<(Socket Socket, byte[] Datagram, EndPoint To), long> _due = new();
        private readonly Lock _gate = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Thread> _threads = [];
        private EndPoint? _client;

        public ImpairedRelay(IPEndPoint server, int seed)
        {
            _server = server;
            _random = new Random(seed);
            _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _back.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _front.ReceiveTimeout = _back.ReceiveTimeout = 200;
            Port = ((IPEndPoint)_front.LocalEndPoint!).Port;
            Start(() => Pump(_front, fromClient: true));
            Start(() => Pump(_back, fromClient: false));
            Start(Deliver);
        }

        public int Port { get; }
        public long Dropped { get; private set; }
        public long Reordered { get; private set; }

        private void Start(ThreadStart loop)
        {
            var thread = new Thread(loop) { IsBackground = true };
            _threads.Add(thread);
            thread.Start();
        }

        private void Pump(Socket socket, bool fromClient)
        {
            var buffer = new byte[65536];
            while (!_stop.IsCancellationRequested)
            {
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                int length;
                try
                {
                    length = socket.ReceiveFrom(buffer, ref from);
                }
                catch (SocketException)
                {
                    continue;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                if (fromClient) _client = from;
                var to = fromClient ? _server : _client;
                if (to is null) continue;
                var outgoing = fromClient ? _back : _front;
                lock (_gate)
                {
                    if (_random.NextDouble() < Loss)
                    {
                        Dropped++;
                        continue;
                    }
                    long due = Environment.TickCount64 + (long)Delay.TotalMilliseconds;
                    // Reordered datagrams wait longer, so those behind them overtake.
                    if (_random.NextDouble() < Reorder)
                    {
                        due += _random.Next(5, 30);
                        Reordered++;
                    }
                    var copy = buffer.AsSpan(0, length).ToArray();
                    _due.Enqueue((outgoing, copy, to), due);
                    if (_random.NextDouble() < Duplicate) _due.Enqueue((outgoing, copy, to), due + 1);
                }
            }
        }

        private void Deliver()
        {
            while (!_stop.IsCancellationRequested)
            {
                while (true)
                {
                    (Socket Socket, byte[] Datagram, EndPoint To) next;
                    lock (_gate)
                    {
                        if (!_due.TryPeek(out next, out long due) || due > Environment.TickCount64) break;
                        _due.Dequeue();
                    }
                    try
                    {
                        next.Socket.SendTo(next.Datagram, next.To);
                    }
                    catch (SocketException)
                    {
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                }
                Thread.Sleep(1);
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            foreach (var thread in _threads) thread.Join(TimeSpan.FromSeconds(2));
            _front.Dispose();
            _back.Dispose();
            _stop.Dispose();
        }
    }
}
