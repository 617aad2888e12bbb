using System.Globalization;
using System.Net;
using Appliance.Configuration;
using Appliance.Metrics;
using Appliance.Metrics.Counters;
using Appliance.Metrics.Export;
using Appliance.Metrics.Runtime;
using Appliance.Networking.Http;
using Appliance.Seeding.Torrents;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// The operator's endpoint on --metrics-listen: GET /metrics (Prometheus), /healthz (the process answers),
/// /readyz (every component started and not stopping) and the admin API mapped onto the same routes.
/// Started first so start-up can be watched; its <see cref="Readiness"/> marker is added to the host last.
/// </summary>
public sealed class MetricsComponent : IApplianceComponent
{
    private static readonly HttpRouteOptions Reserved = new() { Reserved = true };

    private readonly IPEndPoint _endPoint;
    private readonly ILogger _logger;
    private HttpServer? _server;
    private volatile bool _ready;
    private (TorrentRegistry Registry, ContentWatcher? Watcher)? _library;

    public MetricsComponent(IPEndPoint endPoint, ILogger logger, MetricsExporter? exporter = null)
    {
        _endPoint = endPoint;
        _logger = logger;
        Exporter = exporter ?? new MetricsExporter();
        Routes = new HttpRouteTable()
            .MapGet("/metrics", ServeMetricsAsync, Reserved)
            .MapGet("/healthz", ServeHealth, Reserved)
            .MapGet("/readyz", ServeReadiness, Reserved);
        Readiness = new ReadinessMarker(this);
    }

    public string Name => "metrics";

    public MetricsExporter Exporter { get; }

    /// <summary>Given to the storage opener: torrents verifying now and their progress.</summary>
    public VerificationProgress Verification { get; } = new();

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
        VerificationMetrics.Register(component.Exporter, component.Verification);
        component.Exporter.AddGauge(MetricNames.BuildInfo, "Always 1; the version label names the running build", ["version"], [new LabelledSeries([Program.Version], () => 1)]);
        return component;
    }

    /// <summary>The torrents /readyz counts and waits for (refused for want of descriptors or memory).</summary>
    public void WatchLibrary(TorrentRegistry registry, ContentWatcher? watcher) => _library = (registry, watcher);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // No route reads a body unless it says so (the admin API's POST does); one address cannot take every slot, and
        // a few slots are kept for health and metrics so a scrape or a probe is answered while the rest are taken.
        var server = new HttpServer("metrics", _endPoint, Routes, new HttpServerOptions
        {
            MaxConnections = 64,
            MaxConnectionsPerAddress = 16,
            ReservedConnections = 8,
            MaxRequestBodyBytes = 0,
        }, _logger);
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

    /// <summary>
    /// 200 once every component started, unless torrents are refused for want of descriptors or memory (retried until they
    /// load): a box that could not load its library is not ready. The body counts torrents seeded, loading and refused.
    /// </summary>
    private ValueTask ServeReadiness(HttpRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        int shortOfResources = _library?.Watcher?.TransientRefusals ?? 0;
        if (!_ready)
        {
            response.StatusCode = 503;
            response.Write("starting or stopping\n");
        }
        else if (shortOfResources > 0)
        {
            response.StatusCode = 503;
            response.Write(string.Create(CultureInfo.InvariantCulture,
                $"not ready: {shortOfResources} torrent(s) refused for want of file descriptors or memory (retrying; see the log)\n"));
        }
        else
        {
            response.Write("ready\n");
        }
        if (_library is { } library)
        {
            response.Write(string.Create(CultureInfo.InvariantCulture,
                $"torrents {library.Registry.Count}\nloading {library.Registry.LoadingCount}\nrefused {library.Watcher?.Refused().Count ?? 0}\n"));
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

        // The first to drain (it started last): load balancers move away from this box while the rest shuts down.
        public Task DrainAsync(CancellationToken cancellationToken) => StopAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken)
        {
            owner._ready = false;
            return Task.CompletedTask;
        }
    }
}
