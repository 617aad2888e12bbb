using System.Net;
using Appliance.Configuration;
using Appliance.Metrics;
using Appliance.Metrics.Export;
using Appliance.Metrics.Runtime;
using Appliance.Networking.Http;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// The operator's endpoint on --metrics-listen: GET /metrics (Prometheus), /healthz (the process answers),
/// /readyz (every component started and not stopping) and the admin API mapped onto the same routes.
/// Started first so start-up can be watched; its <see cref="Readiness"/> marker is added to the host last.
/// </summary>
public sealed class MetricsComponent : IApplianceComponent
{
    // .torrent files travel in admin API request bodies; a 100 GiB torrent with 256 KiB pieces has an 8 MB piece list.
    private const int MaxRequestBodyBytes = 16 * 1024 * 1024;

    private readonly IPEndPoint _endPoint;
    private readonly ILogger _logger;
    private HttpServer? _server;
    private volatile bool _ready;

    public MetricsComponent(IPEndPoint endPoint, ILogger logger, MetricsExporter? exporter = null)
    {
        _endPoint = endPoint;
        _logger = logger;
        Exporter = exporter ?? new MetricsExporter();
        Routes = new HttpRouteTable()
            .MapGet("/metrics", ServeMetricsAsync)
            .MapGet("/healthz", ServeHealth)
            .MapGet("/readyz", ServeReadiness);
        Readiness = new ReadinessMarker(this);
    }

    public string Name => "metrics";

    public MetricsExporter Exporter { get; }

    /// <summary>Routes served beside /metrics (the admin API adds its own before start).</summary>
    public HttpRouteTable Routes { get; }

    /// <summary>Add to the host after every other component: started means all started; stopped first on shutdown.</summary>
    public IApplianceComponent Readiness { get; }

    public bool IsReady => _ready;

    public IPEndPoint LocalEndPoint => _server?.LocalEndPoint ?? throw new InvalidOperationException("metrics endpoint not started");

    /// <summary>The component for <paramref name="options"/>, or null when MetricsListen is empty (turned off).</summary>
    public static MetricsComponent? Create(ServeOptions options, ILoggerFactory loggers)
    {
        var endPoint = options.GetMetricsEndPoint();
        if (endPoint is null) return null;
        var component = new MetricsComponent(endPoint, loggers.CreateLogger<MetricsComponent>());
        ProcessMetrics.Register(component.Exporter);
        component.Exporter.AddGauge(MetricNames.BuildInfo, "Always 1; the version label names the running build", "version", [Program.Version], _ => 1);
        return component;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var server = new HttpServer("metrics", _endPoint, Routes, new HttpServerOptions { MaxConnections = 64, MaxRequestBodyBytes = MaxRequestBodyBytes }, _logger);
        server.Start();
        _server = server;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _ready = false;
        if (_server is { } server)
        {
            _server = null;
            await server.StopAsync(cancellationToken).ConfigureAwait(false);
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask ServeMetricsAsync(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        response.ContentType = MetricsExporter.ContentType;
        await Exporter.WriteAsync(response.BodyStream, cancellationToken).ConfigureAwait(false);
    }

    private static ValueTask ServeHealth(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        response.Write("ok\n");
        return ValueTask.CompletedTask;
    }

    private ValueTask ServeReadiness(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        if (_ready)
        {
            response.Write("ready\n");
        }
        else
        {
            response.StatusCode = 503;
            response.Write("starting or stopping\n");
        }
        return ValueTask.CompletedTask;
    }

    private sealed class ReadinessMarker(MetricsComponent owner) : IApplianceComponent
    {
        public string Name => "readiness";

        public Task StartAsync(CancellationToken cancellationToken)
        {
            owner._ready = true;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            owner._ready = false; // first to stop: load balancers drain this box while the rest shuts down
            return Task.CompletedTask;
        }
    }
}
