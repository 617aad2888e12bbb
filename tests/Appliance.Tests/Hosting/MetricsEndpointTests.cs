using System.Net;
using Appliance.Hosting;
using Appliance.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Tests.Hosting;

public class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_endpoint_serves_the_exposition_with_the_prometheus_content_type()
    {
        var component = new MetricsComponent(new IPEndPoint(IPAddress.Loopback, 0), NullLogger.Instance);
        long uploaded = 4242;
        component.Exporter.AddCounter(MetricNames.UploadedBytes, "test", () => uploaded);
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
    public void Metrics_endpoint_is_off_when_metrics_listen_is_empty()
    {
        var options = new Appliance.Configuration.ServeOptions { MetricsListen = "" };
        Assert.Null(MetricsComponent.Create(options, NullLoggerFactory.Instance));
    }

    internal static HttpClient Client(MetricsComponent component) =>
        new() { BaseAddress = new Uri($"http://{component.LocalEndPoint}"), Timeout = TimeSpan.FromSeconds(10) };
}
