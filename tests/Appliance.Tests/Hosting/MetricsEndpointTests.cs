using System.Net;
using Appliance.Hosting;
using Appliance.Metrics;
using Appliance.Seeding;
using Appliance.Seeding.Torrents;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Tests.Hosting;

public class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_endpoint_serves_the_exposition_with_the_prometheus_content_type()
    {
        var component = new MetricsComponent(new IPEndPoint(IPAddress.Loopback, 0), NullLogger.Instance);
        long uploaded = 4242;
        component.Exporter.AddCounter(SeedingMetrics.UploadedBytes, "test", () => uploaded);
        await component.StartAsync(CancellationToken.None);
        try
        {
            using var client = Client(component);
            using var response = await client.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("0.0.4", response.Content.Headers.ContentType?.Parameters.Single(p => p.Name == "version").Value);
            string text = await response.Content.ReadAsStringAsync();
            Assert.Contains("# TYPE appliance_uploaded_bytes_total counter", text, StringComparison.Ordinal);
            Assert.Contains("appliance_uploaded_bytes_total 4242", text, StringComparison.Ordinal);
        }
        finally
        {
            await component.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Readyz_is_503_until_every_component_started_and_again_once_stopping()
    {
        var component = new MetricsComponent(new IPEndPoint(IPAddress.Loopback, 0), NullLogger.Instance);
        await component.StartAsync(CancellationToken.None);
        try
        {
            using var client = Client(component);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/readyz")).StatusCode);
            await component.Readiness.StartAsync(CancellationToken.None);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
            await component.Readiness.StopAsync(CancellationToken.None);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/readyz")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        }
        finally
        {
            await component.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Readyz_is_503_while_a_torrent_is_refused_for_want_of_descriptors_and_200_once_its_retry_loads_it()
    {
        using var temp = new TempDirectory("readyz-transient");
        string content = temp.CreateSubdirectory("content");
        string torrents = temp.CreateSubdirectory("torrents");
        TestTorrents.Write(SampleContent.WriteFile(Path.Combine(content, "c.bin"), 30_000, seed: 6), Path.Combine(torrents, "c.torrent"));
        var registry = new TorrentRegistry();
        var clock = new ManualTime(DateTimeOffset.UnixEpoch);
        var opener = new CountingStorageOpener(Path.Combine(temp.Path, "state"), failFirstOpen: true);
        using var watcher = new ContentWatcher(registry, new TorrentFolderLoader(registry, opener, torrents, content, NullLogger.Instance),
            NullLogger.Instance, clock: clock);
        var component = new MetricsComponent(new IPEndPoint(IPAddress.Loopback, 0), NullLogger.Instance);
        component.WatchLibrary(registry, watcher);
        await component.StartAsync(CancellationToken.None);
        try
        {
            using var client = Client(component);
            await component.Readiness.StartAsync(CancellationToken.None);
            await watcher.ScanAsync(CancellationToken.None);
            using (var refused = await client.GetAsync("/readyz"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                string body = await refused.Content.ReadAsStringAsync();
                Assert.Contains("1 torrent(s) refused for want of file descriptors", body, StringComparison.Ordinal);
                Assert.Contains("refused 1\n", body, StringComparison.Ordinal);
            }

            clock.Advance(TimeSpan.FromSeconds(6));
            await watcher.ScanAsync(CancellationToken.None);
            using var ready = await client.GetAsync("/readyz");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("ready\ntorrents 1\nloading 0\nrefused 0\n", await ready.Content.ReadAsStringAsync());
        }
        finally
        {
            await component.StopAsync(CancellationToken.None);
            foreach (var torrent in registry.Snapshot()) torrent.Store.Dispose();
        }
    }

    [Fact]
    public async Task Unknown_paths_get_404_and_writes_to_metrics_get_405()
    {
        var component = new MetricsComponent(new IPEndPoint(IPAddress.Loopback, 0), NullLogger.Instance);
        await component.StartAsync(CancellationToken.None);
        try
        {
            using var client = Client(component);
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/secrets")).StatusCode);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, (await client.PostAsync("/metrics", new ByteArrayContent([1]))).StatusCode);
        }
        finally
        {
            await component.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Healthz_answers_while_idle_clients_hold_every_ordinary_connection()
    {
        var component = new MetricsComponent(new IPEndPoint(IPAddress.Loopback, 0), NullLogger.Instance);
        await component.StartAsync(CancellationToken.None);
        var idle = new List<System.Net.Sockets.Socket>();
        try
        {
            // 64 from one address (only 16 are kept), then the other 48 ordinary slots from three more.
            for (int i = 0; i < 64; i++) idle.Add(await ConnectFromAsync(component, "127.0.0.1"));
            for (int i = 0; i < 48; i++) idle.Add(await ConnectFromAsync(component, $"127.0.3.{1 + i / 16}"));
            using var health = await ConnectFromAsync(component, "127.0.4.1");
            await health.SendAsync("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray());
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var answer = new MemoryStream();
            var buffer = new byte[1024];
            int n;
            while ((n = await health.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, cts.Token)) > 0) answer.Write(buffer, 0, n);
            Assert.StartsWith("HTTP/1.1 200", System.Text.Encoding.ASCII.GetString(answer.ToArray()), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var socket in idle) socket.Dispose();
            await component.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<System.Net.Sockets.Socket> ConnectFromAsync(MetricsComponent component, string from)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await socket.ConnectAsync(component.LocalEndPoint);
        return socket;
    }

    [Fact]
    public void Metrics_endpoint_is_off_when_metrics_listen_is_empty()
    {
        var options = new Appliance.Configuration.ServeOptions { MetricsListen = "" };
        Assert.Null(MetricsComponent.Create(options, NullLoggerFactory.Instance));
    }

    internal static HttpClient Client(MetricsComponent component) =>
        new() { BaseAddress = new Uri($"http://{component.LocalEndPoint}"), Timeout = TimeSpan.FromSeconds(10) };
}
