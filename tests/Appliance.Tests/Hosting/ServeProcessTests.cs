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
    public async Task Healthz_is_answered_when_the_process_is_out_of_file_descriptors()
    {
        string content = _temp.CreateSubdirectory("content");
        var metainfo = TestTorrents.Write(SampleContent.WriteFile(Path.Combine(content, "fd.bin"), 40_000, seed: 8), Path.Combine(content, "fd.torrent"));
        var handshake = new byte[Protocol.PeerWire.Handshake.Length];
        new Protocol.PeerWire.Handshake(default, metainfo.InfoHash, new Protocol.PeerWire.PeerId("-XX0001-abcdefghijkl"u8)).WriteTo(handshake);
        int metricsPort = Ports.FreeTcp();
        int peerPort = Ports.FreeTcpAndUdp();
        // Tests run the JIT-hosted build. Its tiered compiler starts a worker thread on demand; thread creation needs a
        // descriptor, and when it has none the runtime dies with "Out of memory." (seen once in CI, reproduced by
        // holding the process out of descriptors for a minute). The shipped Native AOT binary has no JIT and survives
        // the same minute, so the JIT is kept out of the picture here rather than the test being weakened.
        using var serve = ApplianceBinary.Start(["serve", "--content", content, "--listen", $"127.0.0.1:{peerPort}", "--no-tracker", "--no-dht",
            "--metrics-listen", $"127.0.0.1:{metricsPort}"], new Dictionary<string, string> { ["DOTNET_TieredCompilation"] = "0" });
        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}"), Timeout = TimeSpan.FromSeconds(5) })
        {
            await WaitReadyAsync(client, serve, TimeSpan.FromSeconds(60));
            // Ready does not wait for the library: a torrent still loading when the descriptors run out could not open its
            // file, and its held peers would be dropped, so the process would never fill up (seen in CI on a slow machine).
            await WaitForBodyAsync(client, "/readyz", "torrents 1\nloading 0\n", serve, TimeSpan.FromSeconds(60));
        }
        // One handshaken peer first, so whatever the JIT-hosted build loads lazily on that path is loaded while it can be.
        using (var warmUp = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp))
        {
            await warmUp.ConnectAsync(new IPEndPoint(IPAddress.Loopback, peerPort));
            await warmUp.SendAsync(handshake);
            var reply = new byte[Protocol.PeerWire.Handshake.Length];
            using var within = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await warmUp.ReceiveAsync(reply, System.Net.Sockets.SocketFlags.None, within.Token);
        }

        // Lower the running process's descriptor limit just above what it holds, then let peers take the rest.
        string fds = $"/proc/{serve.Id}/fd";
        int limit = await OpenDescriptorsAsync(serve, fds) + 8;
        using (var prlimit = await ExternalProcess.RunAsync("prlimit", ["--pid", serve.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), $"--nofile={limit}:{limit}"], TimeSpan.FromSeconds(30)))
            Assert.True(prlimit.ExitCode == 0, prlimit.AllOutput);
        var peers = new List<System.Net.Sockets.Socket>();
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            for (int i = 0; i < 32; i++)
            {
                var peer = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                peers.Add(peer);
                await peer.ConnectAsync(new IPEndPoint(IPAddress.Loopback, peerPort), deadline.Token);
                await peer.SendAsync(handshake, deadline.Token); // a handshaken peer stays; a silent one would be closed and free its descriptor
            }
            int open;
            while ((open = await OpenDescriptorsAsync(serve, fds)) < limit)
            {
                if (deadline.IsCancellationRequested)
                    Assert.Fail($"serve holds {open} descriptors, never the {limit} allowed\n{string.Join('\n', DescribeDescriptors(fds))}\n{serve.AllOutput}");
                await Task.Delay(50, CancellationToken.None);
            }

            using var answerWithin = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, metricsPort), deadline.Token);
            await probe.SendAsync("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray(), deadline.Token);
            var answer = new MemoryStream();
            var buffer = new byte[1024];
            int n;
            while ((n = await probe.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, answerWithin.Token)) > 0) answer.Write(buffer, 0, n);
            Assert.StartsWith("HTTP/1.1 200", System.Text.Encoding.ASCII.GetString(answer.ToArray()), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var peer in peers) peer.Dispose();
        }
        serve.Terminate();
        await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task<int> OpenDescriptorsAsync(ExternalProcess serve, string fds)
    {
        try
        {
            // Every entry: GetFiles would leave out a descriptor open on a directory and so never see the limit reached.
            if (!serve.HasExited) return Directory.GetFileSystemEntries(fds).Length;
        }
        catch (DirectoryNotFoundException)
        {
        }
        await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
        throw new InvalidOperationException($"serve exited with {serve.ExitCode} while out of descriptors\n{serve.AllOutput}");
    }

    private static IEnumerable<string> DescribeDescriptors(string fds)
    {
        foreach (var entry in Directory.GetFileSystemEntries(fds))
        {
            string? target = null;
            try { target = new FileInfo(entry).LinkTarget; }
            catch (IOException) { }
            yield return $"{Path.GetFileName(entry)} -> {target}";
        }
    }

    private static async Task WaitForBodyAsync(HttpClient client, string path, string expected, ExternalProcess serve, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string body = "";
        while (DateTime.UtcNow < deadline)
        {
            if (serve.HasExited) throw new InvalidOperationException($"serve exited with {serve.ExitCode}\n{serve.AllOutput}");
            using (var response = await client.GetAsync(path)) body = await response.Content.ReadAsStringAsync();
            if (body.Contains(expected, StringComparison.Ordinal)) return;
            await Task.Delay(100);
        }
        Assert.Fail($"{path} never said '{expected}'; last: {body}\n{serve.AllOutput}");
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
