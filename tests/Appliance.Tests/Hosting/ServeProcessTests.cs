using System.Net;
using Appliance.Metrics;
using Appliance.TestKit;

namespace Appliance.Tests.Hosting;

/// <summary>The real <c>appliance serve</c> process: metrics endpoint, readiness, and a graceful SIGTERM.</summary>
public sealed class ServeProcessTests : IDisposable
{
    private readonly TempDirectory _temp = new("ops-serve");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Serve_exposes_metrics_and_readiness_on_metrics_listen()
    {
        string content = _temp.CreateSubdirectory("content");
        int metricsPort = Ports.FreeTcp();
        using var serve = ApplianceBinary.Start(ServeArguments(content, metricsPort));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}"), Timeout = TimeSpan.FromSeconds(5) };
        await WaitReadyAsync(client, serve, TimeSpan.FromSeconds(60));

        string text = await client.GetStringAsync("/metrics");
        foreach (var name in new[] { MetricNames.ProcessAllocatedBytes, MetricNames.ProcessResidentMemoryBytes, MetricNames.ProcessThreads, MetricNames.BuildInfo })
        {
            Assert.Contains("\n" + name, text, StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        serve.Terminate();
        await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(serve.ExitCode == 0, serve.AllOutput);
    }

    [Fact]
    public async Task Dht_metrics_count_the_ipv4_and_ipv6_nodes_apart()
    {
        string content = _temp.CreateSubdirectory("content");
        int metricsPort = Ports.FreeTcp();
        int peerPort = Ports.FreeTcpAndUdp();
        using var serve = ApplianceBinary.Start(["serve", "--content", content, "--listen", $"[::1]:{peerPort}", "--no-tracker",
            "--dht-bootstrap", "none", "--metrics-listen", $"127.0.0.1:{metricsPort}"]);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}"), Timeout = TimeSpan.FromSeconds(5) };
        await WaitReadyAsync(client, serve, TimeSpan.FromSeconds(60));
        string line = await serve.WaitForLineAsync(l => l.StartsWith("dht6 listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        var node6 = IPEndPoint.Parse(line.Split(' ')[3]);

        // Two pings to the IPv6 node, each answered.
        using var udp = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetworkV6, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        udp.ReceiveTimeout = 10_000;
        var packet = new byte[256];
        var reply = new byte[1500];
        for (int i = 0; i < 2; i++)
        {
            int length = Appliance.Protocol.Krpc.KrpcWriter.WritePing(packet, [(byte)'p', (byte)i], new byte[20], "TS01"u8);
            await udp.SendToAsync(packet.AsMemory(0, length), System.Net.Sockets.SocketFlags.None, node6);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await udp.ReceiveFromAsync(reply, System.Net.Sockets.SocketFlags.None, new IPEndPoint(IPAddress.IPv6Any, 0), wait.Token);
        }

        string text = await client.GetStringAsync("/metrics");
        Assert.Contains("appliance_dht_queries_received_total{type=\"ping\",family=\"ipv6\"} 2", text, StringComparison.Ordinal);
        Assert.Contains("appliance_dht_queries_received_total{type=\"ping\",family=\"ipv4\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("appliance_dht_replies_sent_total{result=\"response\",family=\"ipv6\"} 2", text, StringComparison.Ordinal);
        Assert.Contains("appliance_dht_nodes{family=\"ipv6\"}", text, StringComparison.Ordinal);
        serve.Terminate();
        await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Dual_stack_listener_announces_over_each_family_and_counts_them_apart()
    {
        // One tier reachable over IPv4 only, one over IPv6 only: with the peer port on [::] each family announces to its own.
        string content = _temp.CreateSubdirectory("content");
        string data = Path.Combine(content, "dual.bin");
        await File.WriteAllBytesAsync(data, new byte[64 * 1024]);
        int trackerPort = Ports.FreeTcpAndUdp();
        TestTorrents.Write(data, Path.Combine(content, "dual.torrent"),
            trackers: [$"http://127.0.0.1:{trackerPort}/announce", $"udp://[::1]:{trackerPort}"]);
        int metricsPort = Ports.FreeTcp();
        using var serve = ApplianceBinary.Start(["serve", "--content", content, "--listen", $"[::]:{Ports.FreeTcpAndUdp()}",
            "--tracker-listen", $"[::]:{trackerPort}", "--no-dht", "--metrics-listen", $"127.0.0.1:{metricsPort}"]);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}"), Timeout = TimeSpan.FromSeconds(5) };
        await WaitReadyAsync(client, serve, TimeSpan.FromSeconds(60));

        string[] expected =
        [
            "appliance_tracker_announces_total{result=\"success\",family=\"ipv4\"} 1",
            "appliance_tracker_announces_total{result=\"success\",family=\"ipv6\"} 1",
            "appliance_tracker_announces_total{result=\"error\",family=\"ipv6\"} 0",
        ];
        string text = "";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline && !expected.All(e => text.Contains(e, StringComparison.Ordinal)))
        {
            await Task.Delay(200);
            text = await client.GetStringAsync("/metrics");
        }
        foreach (var line in expected) Assert.Contains(line, text, StringComparison.Ordinal);
        serve.Terminate();
        await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Sigterm_stops_serve_gracefully_with_exit_code_0()
    {
        string content = _temp.CreateSubdirectory("content");
        int metricsPort = Ports.FreeTcp();
        using var serve = ApplianceBinary.Start(ServeArguments(content, metricsPort));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}"), Timeout = TimeSpan.FromSeconds(5) };
        await WaitReadyAsync(client, serve, TimeSpan.FromSeconds(60));

        serve.Terminate();
        await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(serve.ExitCode == 0, serve.AllOutput);
        Assert.Contains("Stopping", serve.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_config_fails_fast_naming_the_key()
    {
        string content = _temp.CreateSubdirectory("content");
        using var serve = await ApplianceBinary.RunAsync(["serve", "--content", content, "--metrics-listen", "nowhere"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, serve.ExitCode);
        Assert.Contains("MetricsListen", serve.StandardError, StringComparison.Ordinal);
    }

    internal static string[] ServeArguments(string content, int metricsPort, params string[] extra) =>
    [
        "serve", "--content", content,
        "--listen", $"127.0.0.1:{Ports.FreeTcpAndUdp()}",
        "--tracker-listen", $"127.0.0.1:{Ports.FreeTcpAndUdp()}",
        "--dht-bootstrap", "none",
        "--metrics-listen", $"127.0.0.1:{metricsPort}",
        .. extra,
    ];

    internal static async Task WaitReadyAsync(HttpClient client, ExternalProcess serve, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            if (serve.HasExited) throw new InvalidOperationException($"serve exited with {serve.ExitCode}\n{serve.AllOutput}");
            try
            {
                using var response = await client.GetAsync("/readyz", deadline.Token);
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"serve not ready within {timeout}\n{serve.AllOutput}");
            }
            try
            {
                await Task.Delay(100, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"serve not ready within {timeout}\n{serve.AllOutput}");
            }
        }
    }
}
