using Appliance.Configuration;
using Appliance.Networking.Http.Files;
using Appliance.Seeding.WebSeed;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// The BEP 19 web seed on --web-seed-listen: the seeded torrents' files over HTTP (<see cref="WebSeedFiles"/> says which,
/// <see cref="HttpFileServer"/> serves them). Off unless configured. Prints <c>web seed listening on &lt;addr&gt; &lt;url&gt;</c>
/// once bound; the URL is what <c>appliance create --web-seed</c> puts in a torrent's url-list.
/// </summary>
public sealed class WebSeedComponent : IApplianceComponent
{
    private readonly ServeOptions _options;
    private readonly SeedingComponent _seeding;
    private readonly ILoggerFactory _loggers;
    private readonly TextWriter _output;
    private WebSeedFiles? _files;
    private HttpFileServer? _server;

    private WebSeedComponent(ServeOptions options, SeedingComponent seeding, ILoggerFactory loggers, TextWriter output)
    {
        _options = options;
        _seeding = seeding;
        _loggers = loggers;
        _output = output;
    }

    public string Name => "web seed";

    public HttpFileCounters Counters { get; } = new();

    /// <summary>The base URL of the web seed (set once started).</summary>
    public string? Url { get; private set; }

    public static WebSeedComponent? Create(ServeOptions options, SeedingComponent seeding, ILoggerFactory loggers, TextWriter output) =>
        options.GetWebSeedEndPoint() is null ? null : new WebSeedComponent(options, seeding, loggers, output);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _files = new WebSeedFiles(_seeding.Registry);
        var serverOptions = new HttpFileServerOptions
        {
            MaxConnections = _options.WebSeedMaxConnections,
            MaxConnectionsPerAddress = _options.WebSeedMaxConnectionsPerIp,
            IdleTimeout = TimeSpan.FromSeconds(_options.WebSeedIdleTimeoutSeconds),
            SendTimeout = TimeSpan.FromSeconds(_options.WebSeedSendTimeoutSeconds),
        };
        _server = new HttpFileServer("web seed", _options.GetWebSeedEndPoint()!, _files, serverOptions, Counters, _loggers.CreateLogger("Appliance.WebSeed"));
        var bound = _server.Start();
        Url = AdvertisedUrl.For(bound, _options.AnnounceHost, "/");
        lock (_output)
        {
            _output.WriteLine($"web seed listening on {bound} {Url}");
            _output.Flush();
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null) await _server.StopAsync(cancellationToken).ConfigureAwait(false);
        _files?.Dispose();
    }
}
