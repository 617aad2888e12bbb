using System.Globalization;
using System.Net;
using System.Text.Json;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Prometheus;

/// <summary>
/// Debian's Prometheus server scrapes <c>appliance serve</c> every second while python3-libtorrent downloads a
/// torrent from it; Prometheus's query API must then show the target up and the uploaded bytes risen by the
/// torrent's size.
/// </summary>
[Trait("Category", "Interop")]
public sealed class PrometheusScrapeTests
{
    private const string PrometheusBinary = "/usr/bin/prometheus";
    private const int ContentSize = 3 * 1024 * 1024 + 12_345;

    [Fact]
    public async Task Prometheus_scrapes_the_appliance_and_sees_the_download_in_uploaded_bytes()
    {
        using var temp = new TempDirectory("ops-prometheus");
        string content = temp.CreateSubdirectory("content");
        string data = SampleContent.WriteFile(Path.Combine(content, "payload.bin"), ContentSize, seed: 3);
        string torrent = Path.Combine(content, "payload.torrent");
        TestTorrents.Write(data, torrent, pieceLength: 64 * 1024);
        int peerPort = Ports.FreeTcp();
        int metricsPort = Ports.FreeTcp();
        int prometheusPort = Ports.FreeTcp();

        using var appliance = ApplianceBinary.Start([
            "serve", "--content", content, "--listen", $"127.0.0.1:{peerPort}", "--no-dht", "--no-tracker",
            "--metrics-listen", $"127.0.0.1:{metricsPort}", "--upload-slots", "unlimited",
        ]);
        await appliance.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), TimeSpan.FromSeconds(60));

        string config = Path.Combine(temp.Path, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: appliance
                scrape_interval: 1s
                scrape_timeout: 1s
                static_configs:
                  - targets: ['127.0.0.1:{metricsPort}']
            """);
        using var prometheus = ExternalProcess.Start(PrometheusBinary, [
            "--config.file=" + config,
            "--storage.tsdb.path=" + temp.CreateSubdirectory("tsdb"),
            "--web.listen-address=127.0.0.1:" + prometheusPort.ToString(CultureInfo.InvariantCulture),
            "--log.level=warn",
        ]);
        using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{prometheusPort}"), Timeout = TimeSpan.FromSeconds(5) };

        double up = await WaitForValueAsync(api, prometheus, "up{job=\"appliance\"}", v => v == 1, TimeSpan.FromSeconds(60));
        Assert.Equal(1, up);
        double before = await WaitForValueAsync(api, prometheus, "appliance_uploaded_bytes_total", _ => true, TimeSpan.FromSeconds(30));

        string download = temp.CreateSubdirectory("download");
        // A leecher that connects only to the appliance (no DHT, no LSD, no uTP) and exits once it has everything.
        using (var leecher = await Libtorrent.LeechAsync(temp.Path, torrent, download, new Libtorrent.LeecherOptions { PeerPort = peerPort }))
        {
            Assert.True(leecher.ExitCode == 0, leecher.AllOutput + "\n--- appliance ---\n" + appliance.AllOutput);
        }
        Assert.True(File.ReadAllBytes(data).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(download, "payload.bin"))), "downloaded bytes differ");

        double after = await WaitForValueAsync(api, prometheus, "appliance_uploaded_bytes_total", v => v - before >= ContentSize, TimeSpan.FromSeconds(30));
        Assert.Equal(ContentSize, after - before);
        Assert.Equal(1, await WaitForValueAsync(api, prometheus, "up{job=\"appliance\"}", _ => true, TimeSpan.FromSeconds(10)));

        appliance.Terminate();
        await appliance.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(appliance.ExitCode == 0, appliance.AllOutput);
        prometheus.Terminate();
        await prometheus.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Polls an instant query until its single sample satisfies <paramref name="accept"/>; returns that value.</summary>
    private static async Task<double> WaitForValueAsync(HttpClient api, ExternalProcess prometheus, string query, Func<double, bool> accept, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        string last = "(no answer)";
        while (!deadline.IsCancellationRequested)
        {
            if (prometheus.HasExited) throw new InvalidOperationException($"prometheus exited with {prometheus.ExitCode}\n{prometheus.AllOutput}");
            try
            {
                using var response = await api.GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(query), deadline.Token);
                last = await response.Content.ReadAsStringAsync(deadline.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    using var json = JsonDocument.Parse(last);
                    var result = json.RootElement.GetProperty("data").GetProperty("result");
                    if (result.GetArrayLength() == 1)
                    {
                        double value = double.Parse(result[0].GetProperty("value")[1].GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture);
                        if (accept(value)) return value;
                    }
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                break;
            }
            try
            {
                await Task.Delay(250, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        throw new TimeoutException($"query {query} did not reach the expected value within {timeout}; last answer: {last}\n{prometheus.AllOutput}");
    }
}
