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
