using System.Net;
using Appliance.Configuration;
using Appliance.Networking.Udp;
using Appliance.Networking.Utp;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>
/// uTP (BEP 29) on the peer-wire listen port, incoming only: clients such as libtorrent try it before TCP. Shares the
/// DHT node's UDP port when that is the listen port (datagrams are told apart by their first byte), and the IPv6 DHT
/// node's too when there is one (an IPv6 listen address: that socket takes the port's IPv6 datagrams); otherwise binds
/// the listen port itself (<c>[::]</c> dual-stack). Established connections become ordinary peer sessions. Prints
/// <c>utp listening on &lt;addr&gt;</c> per socket.
/// </summary>
public sealed class UtpComponent : IApplianceComponent
{
    private readonly SeedingComponent _seeding;
    private readonly DhtComponent? _dht;
    private readonly TextWriter _output;
    private readonly ILogger _logger;
    private readonly ServeOptions _options;
    private DatagramEndpoint? _ownEndpoint;
    private UtpListener? _listener;
    private UtpListener? _listener6;

    private UtpComponent(ServeOptions options, SeedingComponent seeding, DhtComponent? dht, TextWriter output, ILogger logger)
    {
        _options = options;
        _seeding = seeding;
        _dht = dht;
        _output = output;
        _logger = logger;
    }

    public string Name => "utp";

    public UtpCounters Counters { get; } = new();

    public static UtpComponent? Create(ServeOptions options, SeedingComponent seeding, DhtComponent? dht, ILoggerFactory loggers, TextWriter output) =>
        options.Utp ? new UtpComponent(options, seeding, dht, output, loggers.CreateLogger("Appliance.Utp")) : null;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var tcp = _seeding.Server.LocalEndPoint ?? _options.GetListenEndPoint();
        var node = _dht?.Node;
        DatagramEndpoint endpoint;
        // The DHT node's socket (IPv4) owns the port when it is the listen port; binding it again would fail.
        if (node is not null && node.LocalEndPoint.Port == tcp.Port)
        {
            endpoint = node.Endpoint;
        }
        else
        {
            _ownEndpoint = new DatagramEndpoint(new IPEndPoint(tcp.Address, tcp.Port), _logger);
            endpoint = _ownEndpoint;
        }
        _listener = new UtpListener(endpoint, _seeding.Server.UtpAcceptor, Counters, maxConnections: _options.MaxConnections);
        _listener.Start();
        if (_ownEndpoint is not null) _ownEndpoint.Start(_listener, "utp-receive");
        else node!.Passthrough = _listener;
        // IPv6 peers reach the IPv6 node's socket (IPv6 only, on the same port), not the one above: uTP listens there too.
        var node6 = _dht?.Node6;
        if (_ownEndpoint is null && node6 is not null && node6.LocalEndPoint.Port == tcp.Port)
        {
            _listener6 = new UtpListener(node6.Endpoint, _seeding.Server.UtpAcceptor, Counters, maxConnections: _options.MaxConnections);
            _listener6.Start();
            node6.Passthrough = _listener6;
        }
        lock (_output)
        {
            _output.WriteLine($"utp listening on {endpoint.LocalEndPoint}");
            if (_listener6 is not null) _output.WriteLine($"utp listening on {node6!.LocalEndPoint}");
            _output.Flush();
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // The seeder drained its sessions, uTP ones included, in the host's drain phase, before this stop.
        if (_dht?.Node is { } node) node.Passthrough = null;
        if (_dht?.Node6 is { } node6) node6.Passthrough = null;
        _listener?.Dispose();
        _listener6?.Dispose();
        _ownEndpoint?.Dispose();
        return Task.CompletedTask;
    }
}
